//! The imported history's `exchangeInfo.json`: one record for every imported symbol,
//! delisted ones included, as it was while the symbol traded.
//!
//! - A symbol `--exchange-info` lists keeps that record. If the file says it no longer
//!   trades (status SETTLING, a delivery date set at its delisting), the record is
//!   restated as it was before: TRADING, no delivery date, and marked `derived` saying so.
//! - A symbol no file lists gets a record made from what the archive shows, marked
//!   `derived`: a USDT perpetual by its name, listed at its first candle (its onboardDate),
//!   gone after its last one. A backtest drops it there because its candles stop.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};

use crate::market::listing::RECORD_FIELD;

/// The delivery date of a perpetual: 2100-12-25.
const NO_DELIVERY_MS: i64 = 4_133_404_800_000;

/// An exchangeInfo body as read: its symbols' records by name, and its rate limits.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Known {
    pub records: BTreeMap<String, Value>,
    pub rate_limits: Option<Value>,
}

impl Known {
    /// An exchangeInfo body (`GET /fapi/v1/exchangeInfo`, or an earlier import's).
    pub fn parse(body: &[u8]) -> Result<Self, String> {
        crate::market::wire::parse_exchange_info(body)?;
        let value: Value = serde_json::from_slice(body).map_err(|e| e.to_string())?;
        let records = value["symbols"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|r| Some((r["symbol"].as_str()?.to_owned(), r.clone())))
            .collect();
        Ok(Self {
            records,
            rate_limits: value.get("rateLimits").cloned(),
        })
    }
}

/// The body of the history's `exchangeInfo.json` for `spans` (each symbol's first and
/// last candle, ms), from `given` (`--exchange-info`) where it knows a symbol, else from
/// `before` (the folder's own, unless it was derived from the archive), else derived.
/// Also the symbols whose records were derived or restated.
///
/// A record says `firstCandle` (ours, not Binance's) where the history's first candle is
/// the symbol's listing: the symbols `listed`, and every record derived from the archive.
/// A backtest's age filter then counts from the later of it and `onboardDate`.
pub fn exchange_info(
    spans: &BTreeMap<String, (i64, i64)>,
    listed: &BTreeSet<String>,
    given: &Known,
    before: &Known,
) -> (Value, Vec<String>) {
    let mut derived = Vec::new();
    let mut symbols = Vec::new();
    for (symbol, &(first, last)) in spans {
        let earlier = before.records.get(symbol).filter(|r| {
            r["derived"]
                .as_str()
                .is_none_or(|d| !d.starts_with(FROM_ARCHIVE))
        });
        let (mut record, derived_here) = match given.records.get(symbol).or(earlier) {
            Some(known) => (as_while_trading(known), false),
            None => (from_archive(symbol, first, last), true),
        };
        if let Some(fields) = record.as_object_mut() {
            fields.remove(RECORD_FIELD);
            if derived_here || listed.contains(symbol) {
                fields.insert(RECORD_FIELD.into(), json!(first));
            }
        }
        if record.get("derived").is_some() {
            derived.push(symbol.clone());
        }
        symbols.push(record);
    }
    let rate_limits = given
        .rate_limits
        .clone()
        .or_else(|| before.rate_limits.clone())
        .unwrap_or_else(|| json!([]));
    let body = json!({ "timezone": "UTC", "rateLimits": rate_limits, "symbols": symbols });
    (body, derived)
}

const FROM_ARCHIVE: &str = "from the archive";

/// A record made from what the archive shows.
fn from_archive(symbol: &str, first: i64, last: i64) -> Value {
    let base = symbol.strip_suffix("USDT").unwrap_or(symbol);
    let when = |ms: i64| crate::clock::epoch(ms.div_euclid(1000));
    json!({
        "symbol": symbol,
        "pair": symbol,
        "contractType": "PERPETUAL",
        "status": "TRADING",
        "baseAsset": base,
        "quoteAsset": "USDT",
        "marginAsset": "USDT",
        "deliveryDate": NO_DELIVERY_MS,
        "onboardDate": first,
        "derived": format!(
            "{FROM_ARCHIVE}: a USDT perpetual by its name, listed at its first candle ({}), gone after its last ({})",
            when(first),
            when(last)
        ),
    })
}

/// `known` as it was while the symbol traded.
fn as_while_trading(known: &Value) -> Value {
    let mut record = known.clone();
    let status = known["status"].as_str().unwrap_or_default();
    let delivery = known["deliveryDate"].as_i64().unwrap_or(NO_DELIVERY_MS);
    if status == "TRADING" && delivery >= NO_DELIVERY_MS {
        return record;
    }
    if record.get("derived").is_none() {
        record["derived"] = json!(format!(
            "from --exchange-info, restated as it was while it traded: the file says status {status}, deliveryDate {delivery}"
        ));
    }
    record["status"] = json!("TRADING");
    record["contractType"] = json!("PERPETUAL");
    record["deliveryDate"] = json!(NO_DELIVERY_MS);
    record
}

#[cfg(test)]
mod tests {
    use super::*;

    fn known(records: &[Value]) -> Known {
        let body = json!({ "rateLimits": [], "symbols": records }).to_string();
        Known::parse(body.as_bytes()).unwrap()
    }

    #[test]
    fn records_come_from_the_file_restated_or_from_the_archive() {
        let trading = json!({"symbol": "AUSDT", "contractType": "PERPETUAL", "status": "TRADING",
            "quoteAsset": "USDT", "marginAsset": "USDT", "deliveryDate": NO_DELIVERY_MS, "onboardDate": 5});
        let mut settled = trading.clone();
        settled["symbol"] = json!("BUSDT");
        settled["status"] = json!("SETTLING");
        settled["deliveryDate"] = json!(1_700_000_000_000_i64);
        let given = known(&[trading.clone(), settled]);
        let spans: BTreeMap<String, (i64, i64)> = [
            ("AUSDT", (0, 9)),
            ("BUSDT", (0, 9)),
            ("CUSDT", (900_000, 1_800_000)),
        ]
        .into_iter()
        .map(|(s, span)| (s.to_owned(), span))
        .collect();
        let (body, derived) = exchange_info(&spans, &BTreeSet::new(), &given, &Known::default());
        assert_eq!(derived, ["BUSDT", "CUSDT"]);
        let records = body["symbols"].as_array().unwrap();
        assert_eq!(records[0], trading);
        assert_eq!(
            (
                records[1]["status"].as_str(),
                records[1]["deliveryDate"].as_i64()
            ),
            (Some("TRADING"), Some(NO_DELIVERY_MS))
        );
        assert_eq!(records[2]["onboardDate"], 900_000);
        // what the backtest reads: every record a trading USDT perpetual
        let parsed = crate::market::wire::parse_exchange_info(body.to_string().as_bytes()).unwrap();
        assert!(
            parsed
                .symbols
                .iter()
                .all(|s| s.status == "TRADING" && s.contract_type == "PERPETUAL")
        );
        // a rerun re-derives what came from the archive (its last candle moved) and keeps the rest
        let before = Known::parse(body.to_string().as_bytes()).unwrap();
        let mut later = spans.clone();
        later.insert("CUSDT".into(), (900_000, 2_700_000));
        let (again, _) = exchange_info(&later, &BTreeSet::new(), &Known::default(), &before);
        assert_eq!(again["symbols"][1], body["symbols"][1]);
        assert_ne!(again["symbols"][2], body["symbols"][2]);
        // the first candle is a listing where the import says so, and always where the
        // record was derived from the archive; a field the given file carried is not kept
        let mut stale = trading.clone();
        stale["firstCandle"] = json!(7);
        let listed: BTreeSet<String> = ["BUSDT".to_owned()].into();
        let (marked, _) = exchange_info(&spans, &listed, &known(&[stale]), &Known::default());
        let first = |i: usize| marked["symbols"][i].get(RECORD_FIELD).cloned();
        assert_eq!(
            [first(0), first(1), first(2)],
            [None, Some(json!(0)), Some(json!(900_000))]
        );
    }
}
