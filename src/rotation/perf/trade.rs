//! One closed trade from the trade stream, in either of the two forms it arrives in.
//!
//! - **The deployed `trade.closed` event** (what the trading system's executors write):
//!   `symbol`, `side` (`LONG`/`SHORT`), `entry_price`, `exit_price`, `pnl_percent` and
//!   `timestamp` are required; `timestamp` is ISO-8601 UTC with or without `Z`, an offset
//!   or fractional seconds (`2026-03-15T07:27:09.123456`), or epoch seconds (a number
//!   above 10¹¹ is taken as milliseconds). `pnl_usd` and `R_net` are optional (a missing
//!   `pnl_usd` counts as 0); other fields (`event_type`, `source`, `model_id`, …) are
//!   ignored.
//! - **The compact form**: `symbol`, `pnl`, `pnl_pct`, `closed_at` (epoch seconds), all
//!   required.
//!
//! An entry with `pnl_percent` or `timestamp` is read as the deployed event.
//!
//! Out of range, and so malformed: `pnl_pct` at or below −100 (more than everything
//! lost) or above [`MAX_PNL_PCT`], `|pnl|` above [`MAX_ABS_PNL`], prices not positive or
//! above [`MAX_PRICE`]. Such values can only be a writer's mistake, and folded into the
//! running sums they would overflow them.

use std::collections::BTreeMap;
use std::time::UNIX_EPOCH;

/// The largest gain a trade may report, in percent: a thousandfold.
pub const MAX_PNL_PCT: f64 = 1e5;
/// The largest profit or loss a trade may report, in the quote currency.
pub const MAX_ABS_PNL: f64 = 1e12;
/// The largest entry or exit price a trade may report.
pub const MAX_PRICE: f64 = 1e12;

#[derive(Debug, Clone, PartialEq)]
pub struct Trade {
    pub symbol: String,
    /// Profit in the quote currency (0 when the event does not say).
    pub pnl: f64,
    pub pnl_pct: f64,
    /// Seconds since the epoch.
    pub closed_at: i64,
}

impl Trade {
    /// A trade from stream fields; the error says what is wrong with the entry.
    pub fn parse(fields: &BTreeMap<String, String>) -> Result<Self, String> {
        let entry = Entry(fields);
        let symbol = entry.get("symbol")?.trim();
        if symbol.is_empty() || symbol.chars().any(char::is_control) {
            return Err(format!("symbol {symbol:?} is not a symbol"));
        }
        let deployed = fields.contains_key("pnl_percent") || fields.contains_key("timestamp");
        let trade = if deployed {
            entry.deployed(symbol)?
        } else {
            Trade {
                symbol: symbol.to_owned(),
                pnl: entry.number("pnl")?,
                pnl_pct: entry.number("pnl_pct")?,
                closed_at: {
                    let text = entry.get("closed_at")?;
                    text.trim()
                        .parse()
                        .map_err(|_| format!("closed_at {text:?} is not a whole number"))?
                },
            }
        };
        if trade.pnl_pct <= -100.0 {
            return Err(format!(
                "pnl_pct {} loses more than everything",
                trade.pnl_pct
            ));
        }
        if trade.pnl_pct > MAX_PNL_PCT {
            return Err(format!(
                "pnl_pct {:?} is above {MAX_PNL_PCT}: out of range",
                trade.pnl_pct
            ));
        }
        if trade.pnl.abs() > MAX_ABS_PNL {
            return Err(format!(
                "pnl {:?} is beyond ±{MAX_ABS_PNL:?}: out of range",
                trade.pnl
            ));
        }
        Ok(trade)
    }
}

struct Entry<'a>(&'a BTreeMap<String, String>);

impl Entry<'_> {
    fn get(&self, name: &str) -> Result<&str, String> {
        self.0
            .get(name)
            .map(String::as_str)
            .ok_or_else(|| format!("no {name}"))
    }

    fn number(&self, name: &str) -> Result<f64, String> {
        let text = self.get(name)?;
        text.trim()
            .parse::<f64>()
            .ok()
            .filter(|v| v.is_finite())
            .ok_or_else(|| format!("{name} {text:?} is not a finite number"))
    }

    fn optional_number(&self, name: &str) -> Result<Option<f64>, String> {
        match self.0.get(name) {
            Some(_) => self.number(name).map(Some),
            None => Ok(None),
        }
    }

    fn deployed(&self, symbol: &str) -> Result<Trade, String> {
        let side = self.get("side")?.trim();
        if !["LONG", "SHORT"]
            .iter()
            .any(|s| s.eq_ignore_ascii_case(side))
        {
            return Err(format!("side {side:?} is not LONG or SHORT"));
        }
        for price in ["entry_price", "exit_price"] {
            let value = self.number(price)?;
            if value <= 0.0 || value > MAX_PRICE {
                return Err(format!("{price} {value:?} is not a price"));
            }
        }
        self.optional_number("R_net")?;
        let timestamp = self.get("timestamp")?;
        Ok(Trade {
            symbol: symbol.to_owned(),
            pnl: self.optional_number("pnl_usd")?.unwrap_or(0.0),
            pnl_pct: self.number("pnl_percent")?,
            closed_at: parse_timestamp(timestamp).ok_or_else(|| {
                format!("timestamp {timestamp:?} is neither ISO-8601 nor epoch seconds")
            })?,
        })
    }
}

/// Seconds since the epoch from ISO-8601 (UTC unless an offset says otherwise) or from
/// epoch seconds (milliseconds above 10¹¹).
pub(super) fn parse_timestamp(text: &str) -> Option<i64> {
    let text = text.trim();
    if let Ok(number) = text.parse::<f64>() {
        if !number.is_finite() || number < 0.0 {
            return None;
        }
        let seconds = if number > 1e11 {
            number / 1000.0
        } else {
            number
        };
        return Some(seconds.floor() as i64);
    }
    let (local, offset_s) = split_offset(text)?;
    let time = humantime::parse_rfc3339_weak(local).ok()?;
    let seconds = time.duration_since(UNIX_EPOCH).ok()?.as_secs() as i64;
    Some(seconds - offset_s)
}

/// `text` without its zone designator, and the zone's offset east of UTC in seconds.
fn split_offset(text: &str) -> Option<(&str, i64)> {
    if let Some(local) = text.strip_suffix('Z').or_else(|| text.strip_suffix('z')) {
        return Some((local, 0));
    }
    // an offset ±HH:MM or ±HHMM after the time (the date's own '-' come earlier)
    let time_start = text.find(['T', 't', ' '])?;
    let Some(sign_at) = text[time_start..].rfind(['+', '-']).map(|i| i + time_start) else {
        return Some((text, 0));
    };
    let (local, zone) = text.split_at(sign_at);
    let digits: String = zone[1..].chars().filter(|c| *c != ':').collect();
    if digits.len() != 4 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let hours: i64 = digits[..2].parse().ok()?;
    let minutes: i64 = digits[2..].parse().ok()?;
    let sign = if zone.starts_with('-') { -1 } else { 1 };
    Some((local, sign * (hours * 3600 + minutes * 60)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn deployed(timestamp: &str) -> BTreeMap<String, String> {
        fields(&[
            ("event_type", "trade.closed"),
            ("timestamp", timestamp),
            ("symbol", "BTCUSDT"),
            ("side", "SHORT"),
            ("entry_price", "64000.5"),
            ("exit_price", "63000.0"),
            ("pnl_percent", "1.56"),
            ("confidence", "0.7"),
            ("R_net", "0.8"),
            ("pnl_usd", "12.34"),
            ("source", "intent_executor_harvest"),
        ])
    }

    #[test]
    fn the_deployed_event_is_read() {
        let t = Trade::parse(&deployed("2026-03-15T07:27:09.123456")).unwrap();
        assert_eq!(
            t,
            Trade {
                symbol: "BTCUSDT".into(),
                pnl: 12.34,
                pnl_pct: 1.56,
                closed_at: 1_773_559_629,
            }
        );
        let mut no_usd = deployed("2026-03-15T07:27:09Z");
        no_usd.remove("pnl_usd");
        no_usd.remove("R_net");
        let t = Trade::parse(&no_usd).unwrap();
        assert_eq!((t.pnl, t.closed_at), (0.0, 1_773_559_629));
    }

    #[test]
    fn timestamps_in_every_form_the_services_write() {
        let expected = Some(1_773_559_629);
        for text in [
            "2026-03-15T07:27:09",
            "2026-03-15T07:27:09Z",
            "2026-03-15T07:27:09.5Z",
            "2026-03-15 07:27:09",
            "2026-03-15T08:27:09+01:00",
            "2026-03-15T02:27:09-0500",
            "1773559629",
            "1773559629.25",
            "1773559629250",
        ] {
            assert_eq!(parse_timestamp(text), expected, "{text}");
        }
        for bad in ["", "yesterday", "2026-03-15T07:27:09+1", "NaN", "-5"] {
            assert_eq!(parse_timestamp(bad), None, "{bad}");
        }
    }

    #[test]
    fn malformed_trades_say_what_is_wrong() {
        let ok = fields(&[
            ("symbol", "BTCUSDT"),
            ("pnl", "12.5"),
            ("pnl_pct", "1.2"),
            ("closed_at", "1761220350"),
        ]);
        assert_eq!(Trade::parse(&ok).unwrap().pnl, 12.5);
        let no_pnl = fields(&[
            ("symbol", "BTCUSDT"),
            ("pnl_pct", "1.2"),
            ("closed_at", "1"),
        ]);
        assert_eq!(Trade::parse(&no_pnl).unwrap_err(), "no pnl");
        let nan = fields(&[
            ("symbol", "BTCUSDT"),
            ("pnl", "NaN"),
            ("pnl_pct", "1"),
            ("closed_at", "1"),
        ]);
        assert!(
            Trade::parse(&nan)
                .unwrap_err()
                .contains("not a finite number")
        );
        let mut wrong = deployed("2026-03-15T07:27:09");
        wrong.insert("side".into(), "SIDEWAYS".into());
        assert!(Trade::parse(&wrong).unwrap_err().contains("side"));
        let mut wrong = deployed("2026-03-15T07:27:09");
        wrong.remove("pnl_percent");
        assert_eq!(Trade::parse(&wrong).unwrap_err(), "no pnl_percent");
        let mut wrong = deployed("half past seven");
        wrong.insert("symbol".into(), "ETHUSDT".into());
        assert!(Trade::parse(&wrong).unwrap_err().contains("timestamp"));
        let mut wrong = deployed("2026-03-15T07:27:09");
        wrong.insert("exit_price".into(), "0".into());
        assert!(Trade::parse(&wrong).unwrap_err().contains("exit_price"));
    }
}
