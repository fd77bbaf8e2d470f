//! Per-symbol performance records, how closed trades fold into them, and who owns which
//! field of a record.
//!
//! A record is a hash of string fields. Two writers may share one key: `universe` and the
//! trading system's performance tracker, which writes `win_rate`, `avg_pnl_pct`,
//! `sharpe_ratio`, `total_trades`, `winning_trades`, `losing_trades`, `total_pnl_usdt` and
//! `last_updated`. The rule that keeps both intact:
//!
//! - `universe` **owns** [`OWN`]: `total_pnl`, `max_drawdown`, `updated_at` and the running
//!   sums that let a trade be folded in without the trades before it (`folded_trades`,
//!   `wins`, `sum_pnl_pct`, `sum_sq_pnl_pct`, `equity`, `peak_equity`).
//! - The **shared figures** [`SHARED`] (`win_rate`, `avg_pnl_pct`, `sharpe_ratio`,
//!   `total_trades`) are written by `universe` only in a record of its own. A record that
//!   holds any field `universe` does not write (the tracker's `last_updated`, say) is
//!   *shared*: there `universe` writes its own fields only and reads the shared figures as
//!   the other writer left them.
//! - `universe` never deletes a field, and never writes one outside those two lists.
//!
//! Figures, from the running sums over `n` folded trades:
//! - a win is a trade with `pnl_pct > 0`; `win_rate = wins/n`; `avg_pnl_pct = Σpnl_pct/n`;
//! - `max_drawdown`: the largest fall from a peak of the equity curve `Π(1 + pnl_pct/100)`
//!   (starting at 1), as a fraction of that peak; absent from a record nobody folded
//!   trades into (rotation then judges on the win rate alone, and says so);
//! - `sharpe_ratio`: mean over sample standard deviation of `pnl_pct` per trade (not
//!   annualised; 0 with fewer than two trades or no dispersion).

mod trade;

use std::collections::BTreeMap;

use serde::Serialize;

pub use trade::Trade;

/// The fields `universe` owns in a record.
pub const OWN: [&str; 9] = [
    "total_pnl",
    "max_drawdown",
    "updated_at",
    "folded_trades",
    "wins",
    "sum_pnl_pct",
    "sum_sq_pnl_pct",
    "equity",
    "peak_equity",
];

/// The figures `universe` and the performance tracker both write, under the same names.
pub const SHARED: [&str; 4] = ["win_rate", "avg_pnl_pct", "sharpe_ratio", "total_trades"];

/// Whether another writer uses the record: it holds a field `universe` never writes.
pub fn is_shared(fields: &BTreeMap<String, String>) -> bool {
    fields
        .keys()
        .any(|k| !OWN.contains(&k.as_str()) && !SHARED.contains(&k.as_str()))
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Performance {
    pub win_rate: f64,
    pub total_pnl: f64,
    pub avg_pnl_pct: f64,
    /// `None` in a record no trade was folded into by `universe` (the tracker's own).
    pub max_drawdown: Option<f64>,
    pub total_trades: u64,
    pub sharpe_ratio: f64,
    pub updated_at: i64,
    /// Trades in the running sums below.
    pub folded_trades: u64,
    pub wins: u64,
    pub sum_pnl_pct: f64,
    pub sum_sq_pnl_pct: f64,
    pub equity: f64,
    pub peak_equity: f64,
    /// Another writer keeps the shared figures of this record.
    pub shared: bool,
    /// The other writer's `total_pnl_usdt`, where it keeps one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tracker_pnl_usdt: Option<f64>,
}

impl Default for Performance {
    fn default() -> Self {
        Self {
            win_rate: 0.0,
            total_pnl: 0.0,
            avg_pnl_pct: 0.0,
            max_drawdown: None,
            total_trades: 0,
            sharpe_ratio: 0.0,
            updated_at: 0,
            folded_trades: 0,
            wins: 0,
            sum_pnl_pct: 0.0,
            sum_sq_pnl_pct: 0.0,
            equity: 1.0,
            peak_equity: 1.0,
            shared: false,
            tracker_pnl_usdt: None,
        }
    }
}

impl Performance {
    /// Folds one trade in; when a running sum or a figure would not stay finite (a huge
    /// but finite `pnl_pct` whose square overflows, say) the record is left as it was
    /// and the error names the figure: such a trade is malformed.
    pub fn fold(&mut self, trade: &Trade, now: i64) -> Result<(), String> {
        let mut next = self.clone();
        next.folded_trades += 1;
        if trade.pnl_pct > 0.0 {
            next.wins += 1;
        }
        next.total_pnl += trade.pnl;
        next.sum_pnl_pct += trade.pnl_pct;
        next.sum_sq_pnl_pct += trade.pnl_pct * trade.pnl_pct;
        next.equity *= 1.0 + trade.pnl_pct / 100.0;
        next.peak_equity = next.peak_equity.max(next.equity);
        let drawdown = if next.peak_equity > 0.0 {
            (next.peak_equity - next.equity) / next.peak_equity
        } else {
            0.0
        };
        next.max_drawdown = Some(next.max_drawdown.unwrap_or(0.0).max(drawdown));
        next.derive(now);
        if let Some((name, value)) = next.figures().find(|(_, v)| !v.is_finite()) {
            return Err(format!(
                "folding it would make {name} {value:?}: the record would no longer be a number"
            ));
        }
        *self = next;
        Ok(())
    }

    /// Every number of the record that is written back, by field name.
    fn figures(&self) -> impl Iterator<Item = (&'static str, f64)> {
        [
            ("total_pnl", self.total_pnl),
            ("sum_pnl_pct", self.sum_pnl_pct),
            ("sum_sq_pnl_pct", self.sum_sq_pnl_pct),
            ("equity", self.equity),
            ("peak_equity", self.peak_equity),
            ("max_drawdown", self.max_drawdown.unwrap_or(0.0)),
            ("win_rate", self.win_rate),
            ("avg_pnl_pct", self.avg_pnl_pct),
            ("sharpe_ratio", self.sharpe_ratio),
        ]
        .into_iter()
    }

    /// Recomputes the shared figures from the running sums, in a record of its own.
    fn derive(&mut self, now: i64) {
        self.updated_at = now;
        if self.shared {
            return;
        }
        let n = self.folded_trades as f64;
        self.total_trades = self.folded_trades;
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
            max_drawdown: Some(max_drawdown),
            folded_trades: trades,
            wins: (win_rate * trades as f64).round() as u64,
            equity: 1.0 - max_drawdown,
            ..Self::default()
        };
        record.derive(now);
        // the given win rate, not the one rounded through `wins`
        record.win_rate = win_rate;
        record
    }

    /// This record as it will be written over `current` (the fields the key holds now):
    /// shared when `current` is.
    #[must_use]
    pub fn over(mut self, current: &BTreeMap<String, String>) -> Self {
        self.shared = self.shared || is_shared(current);
        self
    }

    /// The fields `universe` writes: its own, and the shared figures unless another
    /// writer keeps them.
    pub fn to_fields(&self) -> Vec<(&'static str, String)> {
        let mut fields = vec![
            ("total_pnl", self.total_pnl.to_string()),
            ("updated_at", self.updated_at.to_string()),
            ("folded_trades", self.folded_trades.to_string()),
            ("wins", self.wins.to_string()),
            ("sum_pnl_pct", self.sum_pnl_pct.to_string()),
            ("sum_sq_pnl_pct", self.sum_sq_pnl_pct.to_string()),
            ("equity", self.equity.to_string()),
            ("peak_equity", self.peak_equity.to_string()),
        ];
        if let Some(drawdown) = self.max_drawdown {
            fields.push(("max_drawdown", drawdown.to_string()));
        }
        if !self.shared {
            fields.extend([
                ("win_rate", self.win_rate.to_string()),
                ("avg_pnl_pct", self.avg_pnl_pct.to_string()),
                ("total_trades", self.total_trades.to_string()),
                ("sharpe_ratio", self.sharpe_ratio.to_string()),
            ]);
        }
        fields
    }

    /// A record from stored fields: the shared figures as stored, whoever wrote them, and
    /// `universe`'s running sums where it has any. A record of its own that has figures but
    /// no sums (written by hand) gets sums rebuilt from the figures; a shared record
    /// without them starts its sums empty.
    pub fn from_fields(fields: &BTreeMap<String, String>) -> Result<Self, String> {
        let number = |name: &str| -> Result<Option<f64>, String> {
            fields
                .get(name)
                .map(|t| {
                    t.trim()
                        .parse::<f64>()
                        .ok()
                        .filter(|v| v.is_finite())
                        .ok_or_else(|| format!("{name} {t:?} is not a finite number"))
                })
                .transpose()
        };
        let shared = is_shared(fields);
        let trades = number("total_trades")?.unwrap_or(0.0).max(0.0) as u64;
        let win_rate = number("win_rate")?.unwrap_or(0.0);
        let updated_at = match number("updated_at")? {
            Some(at) => at as i64,
            None => last_updated(fields)?.unwrap_or(0),
        };
        let has_sums = fields.contains_key("folded_trades") || fields.contains_key("wins");
        let mut record = if has_sums || shared {
            let or = |v: Option<f64>, default: f64| v.unwrap_or(default);
            // before `folded_trades` existed, a record of its own counted in total_trades
            let folded = or(
                number("folded_trades")?,
                if shared { 0.0 } else { trades as f64 },
            );
            Self {
                total_pnl: or(number("total_pnl")?, 0.0),
                max_drawdown: number("max_drawdown")?,
                folded_trades: folded as u64,
                wins: or(number("wins")?, 0.0) as u64,
                sum_pnl_pct: or(number("sum_pnl_pct")?, 0.0),
                sum_sq_pnl_pct: or(number("sum_sq_pnl_pct")?, 0.0),
                equity: or(number("equity")?, 1.0),
                peak_equity: or(number("peak_equity")?, 1.0),
                ..Self::default()
            }
        } else {
            let mut rebuilt = Self::recorded(
                win_rate,
                number("total_pnl")?.unwrap_or(0.0),
                number("max_drawdown")?.unwrap_or(0.0),
                trades,
                updated_at,
            );
            rebuilt.max_drawdown = number("max_drawdown")?;
            rebuilt.sum_pnl_pct = number("avg_pnl_pct")?.unwrap_or(0.0) * trades as f64;
            rebuilt
        };
        record.shared = shared;
        record.updated_at = updated_at;
        record.total_trades = trades;
        record.win_rate = win_rate;
        record.avg_pnl_pct = number("avg_pnl_pct")?.unwrap_or(0.0);
        record.sharpe_ratio = number("sharpe_ratio")?.unwrap_or(0.0);
        record.tracker_pnl_usdt = number("total_pnl_usdt")?;
        Ok(record)
    }

    /// The P&L to show and judge by: `universe`'s own sum once it folded trades, else the
    /// other writer's.
    pub fn pnl(&self) -> f64 {
        match self.tracker_pnl_usdt {
            Some(theirs) if self.folded_trades == 0 => theirs,
            _ => self.total_pnl,
        }
    }

    /// The old generator's "hybrid" factor, 0.5 to 1.5, from the shared figures:
    /// `clamp(0.5·(0.5 + 0.9·win_rate) + 0.3·(1 + avg_pnl_pct/10) + 0.2·(1 + sharpe_ratio/5),
    /// 0.5, 1.5)`; `None` below `min_trades` trades (the score is then left as it is).
    pub fn hybrid_factor(&self, min_trades: u64) -> Option<f64> {
        if self.total_trades < min_trades {
            return None;
        }
        let factor = 0.5 * (0.5 + 0.9 * self.win_rate)
            + 0.3 * (1.0 + self.avg_pnl_pct / 10.0)
            + 0.2 * (1.0 + self.sharpe_ratio / 5.0);
        factor.is_finite().then(|| factor.clamp(0.5, 1.5))
    }
}

/// The performance tracker's `last_updated`, which it writes as ISO-8601 or as epoch
/// seconds (see [`trade::parse_timestamp`]).
fn last_updated(fields: &BTreeMap<String, String>) -> Result<Option<i64>, String> {
    fields
        .get("last_updated")
        .map(|text| {
            trade::parse_timestamp(text).ok_or_else(|| {
                format!("last_updated {text:?} is neither ISO-8601 nor epoch seconds")
            })
        })
        .transpose()
}

/// Folds `trades` (stream id, trade) into the records of their symbols (a new record for
/// a symbol without one), in order. A trade is refused, and its record left as it was,
/// when its symbol's record could not be read (`unreadable`: symbol → why) or when
/// folding it would leave a figure that is not a finite number; the refused come back as
/// (id, why), the rest were folded.
pub fn fold_trades(
    records: &mut BTreeMap<String, Performance>,
    unreadable: &BTreeMap<String, String>,
    trades: &[(String, Trade)],
    now: i64,
) -> Vec<(String, String)> {
    let mut refused = Vec::new();
    for (id, trade) in trades {
        if let Some(why) = unreadable.get(&trade.symbol) {
            refused.push((
                id.clone(),
                format!(
                    "its symbol's record cannot be read ({why}); left pending until it is mended"
                ),
            ));
            continue;
        }
        let mut record = records.get(&trade.symbol).cloned().unwrap_or_default();
        match record.fold(trade, now) {
            Ok(()) => {
                records.insert(trade.symbol.clone(), record);
            }
            Err(why) => refused.push((id.clone(), why)),
        }
    }
    refused
}

#[cfg(test)]
mod tests;
