//! Per-symbol performance records and how closed trades fold into them.
//!
//! Stored as string fields: `win_rate`, `total_pnl`, `avg_pnl_pct`, `max_drawdown`,
//! `total_trades`, `sharpe_ratio`, `updated_at`, and the running sums that let a trade be
//! folded in without the trades before it (`wins`, `sum_pnl_pct`, `sum_sq_pnl_pct`,
//! `equity`, `peak_equity`).
//!
//! - `max_drawdown`: the largest fall from a peak of the equity curve
//!   `Π(1 + pnl_pct/100)` (starting at 1), as a fraction of that peak.
//! - `sharpe_ratio`: mean over standard deviation of `pnl_pct` per trade (not annualised;
//!   0 with fewer than two trades or no dispersion).

use std::collections::BTreeMap;

use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Performance {
    pub win_rate: f64,
    pub total_pnl: f64,
    pub avg_pnl_pct: f64,
    pub max_drawdown: f64,
    pub total_trades: u64,
    pub sharpe_ratio: f64,
    pub updated_at: i64,
    pub wins: u64,
    pub sum_pnl_pct: f64,
    pub sum_sq_pnl_pct: f64,
    pub equity: f64,
    pub peak_equity: f64,
}

impl Default for Performance {
    fn default() -> Self {
        Self {
            win_rate: 0.0,
            total_pnl: 0.0,
            avg_pnl_pct: 0.0,
            max_drawdown: 0.0,
            total_trades: 0,
            sharpe_ratio: 0.0,
            updated_at: 0,
            wins: 0,
            sum_pnl_pct: 0.0,
            sum_sq_pnl_pct: 0.0,
            equity: 1.0,
            peak_equity: 1.0,
        }
    }
}

/// One closed trade from the trade stream.
#[derive(Debug, Clone, PartialEq)]
pub struct Trade {
    pub symbol: String,
    pub pnl: f64,
    pub pnl_pct: f64,
    pub closed_at: i64,
}

impl Trade {
    /// A trade from stream fields; the error says what is wrong with the entry.
    pub fn parse(fields: &BTreeMap<String, String>) -> Result<Self, String> {
        let get = |name: &str| {
            fields
                .get(name)
                .map(String::as_str)
                .ok_or_else(|| format!("no {name}"))
        };
        let number = |name: &str| -> Result<f64, String> {
            let text = get(name)?;
            text.trim()
                .parse::<f64>()
                .ok()
                .filter(|v| v.is_finite())
                .ok_or_else(|| format!("{name} {text:?} is not a finite number"))
        };
        let symbol = get("symbol")?.trim();
        if symbol.is_empty() || symbol.chars().any(char::is_control) {
            return Err(format!("symbol {symbol:?} is not a symbol"));
        }
        let pnl_pct = number("pnl_pct")?;
        if pnl_pct <= -100.0 {
            return Err(format!("pnl_pct {pnl_pct} loses more than everything"));
        }
        let closed_at = get("closed_at")?;
        Ok(Self {
            symbol: symbol.to_owned(),
            pnl: number("pnl")?,
            pnl_pct,
            closed_at: closed_at
                .trim()
                .parse()
                .map_err(|_| format!("closed_at {closed_at:?} is not a whole number"))?,
        })
    }
}

impl Performance {
    /// Folds one trade in.
    pub fn fold(&mut self, trade: &Trade, now: i64) {
        self.total_trades += 1;
        if trade.pnl > 0.0 {
            self.wins += 1;
        }
        self.total_pnl += trade.pnl;
        self.sum_pnl_pct += trade.pnl_pct;
        self.sum_sq_pnl_pct += trade.pnl_pct * trade.pnl_pct;
        self.equity *= 1.0 + trade.pnl_pct / 100.0;
        self.peak_equity = self.peak_equity.max(self.equity);
        if self.peak_equity > 0.0 {
            self.max_drawdown = self
                .max_drawdown
                .max((self.peak_equity - self.equity) / self.peak_equity);
        }
        self.derive(now);
    }

    /// Recomputes the ratios from the running sums.
    fn derive(&mut self, now: i64) {
        let n = self.total_trades as f64;
        self.win_rate = if n > 0.0 { self.wins as f64 / n } else { 0.0 };
        self.avg_pnl_pct = if n > 0.0 { self.sum_pnl_pct / n } else { 0.0 };
        self.sharpe_ratio = if n >= 2.0 {
            let variance =
                (self.sum_sq_pnl_pct - self.sum_pnl_pct * self.sum_pnl_pct / n) / (n - 1.0);
            if variance > 1e-18 {
                self.avg_pnl_pct / variance.sqrt()
            } else {
                0.0
            }
        } else {
            0.0
        };
        self.updated_at = now;
    }

    /// A record set by hand (`perf record`): the figures given, running sums made to match.
    pub fn recorded(
        win_rate: f64,
        total_pnl: f64,
        max_drawdown: f64,
        trades: u64,
        now: i64,
    ) -> Self {
        let mut record = Self {
            total_pnl,
            max_drawdown,
            total_trades: trades,
            wins: (win_rate * trades as f64).round() as u64,
            equity: 1.0 - max_drawdown,
            ..Self::default()
        };
        record.derive(now);
        // the given win rate, not the one rounded through `wins`
        record.win_rate = win_rate;
        record
    }

    pub fn to_fields(&self) -> Vec<(&'static str, String)> {
        vec![
            ("win_rate", self.win_rate.to_string()),
            ("total_pnl", self.total_pnl.to_string()),
            ("avg_pnl_pct", self.avg_pnl_pct.to_string()),
            ("max_drawdown", self.max_drawdown.to_string()),
            ("total_trades", self.total_trades.to_string()),
            ("sharpe_ratio", self.sharpe_ratio.to_string()),
            ("updated_at", self.updated_at.to_string()),
            ("wins", self.wins.to_string()),
            ("sum_pnl_pct", self.sum_pnl_pct.to_string()),
            ("sum_sq_pnl_pct", self.sum_sq_pnl_pct.to_string()),
            ("equity", self.equity.to_string()),
            ("peak_equity", self.peak_equity.to_string()),
        ]
    }

    /// A record from stored fields. Missing running sums (a record written by another
    /// tool) are rebuilt from the figures as well as they can be.
    pub fn from_fields(fields: &BTreeMap<String, String>) -> Result<Self, String> {
        let number = |name: &str| -> Result<Option<f64>, String> {
            fields
                .get(name)
                .map(|t| {
                    t.trim()
                        .parse::<f64>()
                        .map_err(|_| format!("{name} {t:?} is not a number"))
                })
                .transpose()
        };
        let trades = number("total_trades")?.unwrap_or(0.0).max(0.0) as u64;
        let win_rate = number("win_rate")?.unwrap_or(0.0);
        let max_drawdown = number("max_drawdown")?.unwrap_or(0.0);
        let mut record = Self::recorded(
            win_rate,
            number("total_pnl")?.unwrap_or(0.0),
            max_drawdown,
            trades,
            number("updated_at")?.unwrap_or(0.0) as i64,
        );
        let or = |v: Option<f64>, default: f64| v.unwrap_or(default);
        record.wins = or(number("wins")?, record.wins as f64) as u64;
        record.sum_pnl_pct = or(
            number("sum_pnl_pct")?,
            or(number("avg_pnl_pct")?, 0.0) * trades as f64,
        );
        record.sum_sq_pnl_pct = or(number("sum_sq_pnl_pct")?, 0.0);
        record.equity = or(number("equity")?, record.equity);
        record.peak_equity = or(number("peak_equity")?, 1.0);
        record.avg_pnl_pct = or(number("avg_pnl_pct")?, record.avg_pnl_pct);
        record.sharpe_ratio = or(number("sharpe_ratio")?, 0.0);
        Ok(record)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trade(pnl_pct: f64) -> Trade {
        Trade {
            symbol: "X".into(),
            pnl: pnl_pct * 10.0,
            pnl_pct,
            closed_at: 1,
        }
    }

    #[test]
    fn folding_trades_gives_the_figures() {
        let mut p = Performance::default();
        for pct in [10.0, -20.0, 5.0, 5.0] {
            p.fold(&trade(pct), 99);
        }
        assert_eq!(p.total_trades, 4);
        assert_eq!(p.win_rate, 0.75);
        assert_eq!(p.total_pnl, 0.0);
        assert_eq!(p.avg_pnl_pct, 0.0);
        // equity 1.1 (peak) → 0.88: drawdown 0.2
        assert!((p.max_drawdown - 0.2).abs() < 1e-12);
        assert_eq!(p.sharpe_ratio, 0.0, "a mean of 0 has a Sharpe of 0");
        assert_eq!(p.updated_at, 99);
        let back = Performance::from_fields(
            &p.to_fields()
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v))
                .collect(),
        )
        .unwrap();
        assert_eq!(back, p);
    }

    #[test]
    fn sharpe_is_mean_over_sample_deviation() {
        let mut p = Performance::default();
        for pct in [1.0, 3.0] {
            p.fold(&trade(pct), 0);
        }
        // mean 2, sample sd √2
        assert!((p.sharpe_ratio - 2.0 / 2f64.sqrt()).abs() < 1e-12);
    }

    #[test]
    fn malformed_trades_say_what_is_wrong() {
        let fields = |pairs: &[(&str, &str)]| {
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect()
        };
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
    }
}
