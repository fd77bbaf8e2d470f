//! Binance USDⓈ-M REST bodies, parsed strictly: a body or row of the wrong shape is an
//! error that says what was wrong, never a silently skipped record.
//!
//! Prices and volumes arrive as decimal strings. They are parsed as given, so a `"NaN"`
//! reaches the selection as NaN and is excluded there with a reason.

use std::collections::HashMap;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, IgnoredAny, SeqAccess, Visitor};

use super::Candle;

/// One record of exchangeInfo's `symbols`, the fields the selection reads.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SymbolInfo {
    pub symbol: String,
    pub contract_type: String,
    pub status: String,
    pub quote_asset: String,
    pub margin_asset: String,
    /// ms since the epoch; 4133404800000 (2100-12-25) when no delivery is scheduled.
    pub delivery_date: i64,
    /// ms since the epoch.
    pub onboard_date: i64,
    /// What is known of its first candle: never read from exchangeInfo (see
    /// [`super::listing`]).
    #[serde(skip)]
    pub first_candle: super::listing::FirstCandle,
}

impl SymbolInfo {
    /// A stand-in for a symbol whose records conflict: it is excluded for that before any
    /// of these fields is read.
    pub fn unknown(symbol: &str) -> Self {
        Self {
            symbol: symbol.to_owned(),
            contract_type: String::new(),
            status: String::new(),
            quote_asset: String::new(),
            margin_asset: String::new(),
            delivery_date: 0,
            onboard_date: 0,
            first_candle: super::listing::FirstCandle::default(),
        }
    }
}

/// Best bid and ask.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Book {
    pub bid: f64,
    pub ask: f64,
}

/// The parts of exchangeInfo a refresh uses.
#[derive(Debug)]
pub struct ExchangeInfo {
    /// One record per symbol, in the order of first appearance.
    pub symbols: Vec<SymbolInfo>,
    pub weight_limit: Option<u32>,
    /// Symbols listed more than once with different records, and how they differ.
    pub conflicts: Vec<(String, String)>,
}

/// An all-symbol answer as one value per symbol. A symbol listed twice with the same
/// value is listed once; listed with different values it is a conflict, kept out of
/// `values` (never "the last one wins") and said in `conflicts`.
#[derive(Debug, Default)]
pub struct PerSymbol<T> {
    pub values: HashMap<String, T>,
    pub conflicts: Vec<(String, String)>,
}

impl<T> PerSymbol<T> {
    fn collect(
        items: impl IntoIterator<Item = (String, T)>,
        same: impl Fn(&T, &T) -> bool,
        show: impl Fn(&T) -> String,
        what: &str,
    ) -> Self {
        let mut values: HashMap<String, T> = HashMap::new();
        let mut conflicting: HashMap<String, Vec<String>> = HashMap::new();
        for (symbol, value) in items {
            if let Some(seen) = conflicting.get_mut(&symbol) {
                seen.push(show(&value));
                continue;
            }
            match values.get(&symbol) {
                Some(first) if same(first, &value) => {}
                Some(first) => {
                    let shown = vec![show(first), show(&value)];
                    values.remove(&symbol);
                    conflicting.insert(symbol, shown);
                }
                None => {
                    values.insert(symbol, value);
                }
            }
        }
        let mut conflicts: Vec<(String, String)> = conflicting
            .into_iter()
            .map(|(symbol, shown)| {
                let detail = format!(
                    "{what} lists it {} times, differently: {}",
                    shown.len(),
                    shown.join(" vs ")
                );
                (symbol, detail)
            })
            .collect();
        conflicts.sort();
        Self { values, conflicts }
    }
}

/// A decimal that Binance sends as a string (a JSON number is accepted too).
#[derive(Debug, Clone, Copy)]
struct Decimal(f64);

impl<'de> Deserialize<'de> for Decimal {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct DecimalVisitor;
        impl Visitor<'_> for DecimalVisitor {
            type Value = Decimal;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a decimal number as a string")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Decimal, E> {
                v.trim()
                    .parse()
                    .map(Decimal)
                    .map_err(|_| E::custom(format!("{v:?} is not a number")))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Decimal, E> {
                Ok(Decimal(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Decimal, E> {
                Ok(Decimal(v as f64))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Decimal, E> {
                Ok(Decimal(v as f64))
            }
        }
        deserializer.deserialize_any(DecimalVisitor)
    }
}

/// `{"serverTime": ms}`.
pub fn parse_time(body: &[u8]) -> Result<i64, String> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Time {
        server_time: i64,
    }
    let time: Time = from_object(body)?;
    if time.server_time <= 0 {
        return Err(format!("serverTime {} is not a time", time.server_time));
    }
    Ok(time.server_time)
}

/// exchangeInfo: its symbols and its `REQUEST_WEIGHT` limit per minute.
pub fn parse_exchange_info(body: &[u8]) -> Result<ExchangeInfo, String> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct RateLimit {
        #[serde(rename = "rateLimitType")]
        kind: String,
        interval: String,
        interval_num: u32,
        limit: u32,
    }
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Info {
        #[serde(default)]
        rate_limits: Vec<RateLimit>,
        symbols: Vec<SymbolInfo>,
    }
    let info: Info = from_object(body)?;
    let weight_limit = info
        .rate_limits
        .iter()
        .find(|r| r.kind == "REQUEST_WEIGHT" && r.interval == "MINUTE" && r.interval_num == 1)
        .map(|r| r.limit);
    let order: Vec<String> = info.symbols.iter().map(|s| s.symbol.clone()).collect();
    let unique = PerSymbol::collect(
        info.symbols.into_iter().map(|s| (s.symbol.clone(), s)),
        PartialEq::eq,
        |s| {
            format!(
                "({} {} {}/{} delivery {} onboard {})",
                s.status,
                s.contract_type,
                s.quote_asset,
                s.margin_asset,
                s.delivery_date,
                s.onboard_date
            )
        },
        "exchangeInfo",
    );
    let mut values = unique.values;
    let symbols = order.iter().filter_map(|s| values.remove(s)).collect();
    Ok(ExchangeInfo {
        symbols,
        weight_limit,
        conflicts: unique.conflicts,
    })
}

/// All-symbol 24h tickers: quote volume by symbol.
pub fn parse_tickers(body: &[u8]) -> Result<PerSymbol<f64>, String> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Ticker {
        symbol: String,
        quote_volume: Decimal,
    }
    let tickers: Vec<Ticker> = from_array(body)?;
    Ok(PerSymbol::collect(
        tickers.into_iter().map(|t| (t.symbol, t.quote_volume.0)),
        |a, b| a.to_bits() == b.to_bits(),
        |v| format!("quote volume {v}"),
        "the 24h ticker",
    ))
}

/// All-symbol book tickers: best bid and ask by symbol.
pub fn parse_books(body: &[u8]) -> Result<PerSymbol<Book>, String> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct BookTicker {
        symbol: String,
        bid_price: Decimal,
        ask_price: Decimal,
    }
    let books: Vec<BookTicker> = from_array(body)?;
    Ok(PerSymbol::collect(
        books.into_iter().map(|b| {
            let book = Book {
                bid: b.bid_price.0,
                ask: b.ask_price.0,
            };
            (b.symbol, book)
        }),
        |a, b| a.bid.to_bits() == b.bid.to_bits() && a.ask.to_bits() == b.ask.to_bits(),
        |b| format!("bid {} ask {}", b.bid, b.ask),
        "the book ticker",
    ))
}

/// Klines rows `[openTime, open, high, low, close, volume, closeTime, …]`, oldest first.
///
/// Open times must be strictly increasing multiples of 15 minutes.
pub fn parse_klines(body: &[u8]) -> Result<Vec<Candle>, String> {
    let rows: Vec<KlineRow> = from_array(body)?;
    let candles: Vec<Candle> = rows.into_iter().map(|row| row.0).collect();
    for (i, pair) in candles.windows(2).enumerate() {
        if pair[1].open_time <= pair[0].open_time {
            return Err(format!("row {}: open times not increasing", i + 1));
        }
    }
    if let Some((i, c)) = candles
        .iter()
        .enumerate()
        .find(|(_, c)| c.open_time % super::candles::M15 != 0)
    {
        return Err(format!(
            "row {i}: open time {} is not on a 15m boundary",
            c.open_time
        ));
    }
    Ok(candles)
}

/// One kline row; fields after the close are skipped without being built.
struct KlineRow(Candle);

impl<'de> Deserialize<'de> for KlineRow {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct RowVisitor;
        impl<'de> Visitor<'de> for RowVisitor {
            type Value = KlineRow;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a kline row [openTime, open, high, low, close, …]")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<KlineRow, A::Error> {
                let short = || de::Error::custom("kline row has fewer than 5 fields");
                let open_time: i64 = seq.next_element()?.ok_or_else(short)?;
                let mut price = || -> Result<f64, A::Error> {
                    Ok(seq.next_element::<Decimal>()?.ok_or_else(short)?.0)
                };
                let (open, high, low, close) = (price()?, price()?, price()?, price()?);
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(KlineRow(Candle {
                    open_time,
                    open,
                    high,
                    low,
                    close,
                }))
            }
        }
        deserializer.deserialize_seq(RowVisitor)
    }
}

/// A body whose top level must be a JSON object (serde would also take an array for a
/// struct: `[1761220350000]` is not a `/time` answer).
fn from_object<'a, T: Deserialize<'a>>(body: &'a [u8]) -> Result<T, String> {
    expect_top(body, b'{', "an object")?;
    from_slice(body)
}

/// A body whose top level must be a JSON array.
fn from_array<'a, T: Deserialize<'a>>(body: &'a [u8]) -> Result<T, String> {
    expect_top(body, b'[', "an array")?;
    from_slice(body)
}

fn expect_top(body: &[u8], open: u8, what: &str) -> Result<(), String> {
    match body.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(&first) if first == open => Ok(()),
        _ => Err(format!(
            "expected {what} at the top level (body starts {:?})",
            String::from_utf8_lossy(&body[..body.len().min(80)])
        )),
    }
}

fn from_slice<'a, T: Deserialize<'a>>(body: &'a [u8]) -> Result<T, String> {
    serde_json::from_slice(body).map_err(|e| {
        let excerpt = String::from_utf8_lossy(&body[..body.len().min(80)]).into_owned();
        format!("{e} (body starts {excerpt:?})")
    })
}

#[cfg(test)]
mod tests;
