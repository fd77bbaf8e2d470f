//! Which symbols may be traded, in the order a refresh decides it:
//!
//! 1. [`eligibility`]: the cheap checks on exchangeInfo, the deny/allow [`lists`], the 24h
//!    ticker and the book; each excluded symbol gets the first [`Reason`] that applies;
//! 2. [`candle_stage`]: candles and features, which add their own reasons;
//! 3. [`score`]: the regime, percentile ranks, the weighted score and the rank order;
//! 4. [`churn`]: the universe from the ranking, the previous universe, pins and held
//!    positions, and the optional correlation limit;
//! 5. [`leverage`]: leverage by volatility.

pub mod candle_stage;
pub mod churn;
pub mod eligibility;
pub mod leverage;
pub mod lists;
pub mod score;
mod symbol;

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;

pub use eligibility::{Filters, Rules, Spread, screen};
pub use leverage::LeverageTable;
pub use lists::{Lists, Pattern};
pub use score::{FeatureValues, Regime, Regimes, Scored, Weights, apply_hybrid, score};
pub use symbol::Symbol;

/// Why a symbol is not scored, in the order the checks run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// A name that cannot be a symbol: empty, longer than 32 bytes, with control
    /// characters, white space, `/`, `\\` or `..`, or starting with `.`.
    BadSymbol,
    /// Listed more than once, differently, in exchangeInfo or an all-symbol ticker.
    ConflictingRecords,
    /// Not a PERPETUAL contract quoted and margined in USDT.
    NotUsdtPerpetual,
    /// `status` is not TRADING.
    NotTrading,
    /// A delivery date before 2100 is set.
    Delisting,
    /// Listed fewer than `min_age_days` ago.
    TooNew,
    /// Matches a `lists.deny` pattern.
    Denied,
    /// `lists.allow` is set and matches no pattern.
    NotAllowed,
    /// `rotation.require_model` is set and the symbol has no model file.
    NoModel,
    /// No 24h ticker, or one whose quote volume is not a finite number.
    NoTicker,
    /// 24h quote volume below `min_quote_volume`.
    Illiquid,
    /// No book ticker, or bid ≤ 0, or ask ≤ bid (NaN included).
    BadBook,
    /// Spread above `max_spread_bps`.
    WideSpread,
    /// Candles could not be fetched after retries, or the body was malformed.
    FetchFailed,
    /// Fewer than 96 closed candles in a window, or a series that stopped.
    InsufficientHistory,
    /// A candle price that is not finite or not positive, or features that are not finite.
    BadData,
}

impl Reason {
    /// Whether the reason says the symbol may not be traded (delisted, not trading,
    /// denied…), rather than that its data could not be read or judged this time. Only
    /// such a reason takes an open position out of the universe.
    pub fn removes_a_position(self) -> bool {
        matches!(
            self,
            Reason::BadSymbol
                | Reason::NotUsdtPerpetual
                | Reason::NotTrading
                | Reason::Delisting
                | Reason::TooNew
                | Reason::Denied
                | Reason::NotAllowed
                | Reason::NoModel
        )
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Reason::BadSymbol => "bad_symbol",
            Reason::ConflictingRecords => "conflicting_records",
            Reason::NotUsdtPerpetual => "not_usdt_perpetual",
            Reason::NotTrading => "not_trading",
            Reason::Delisting => "delisting",
            Reason::TooNew => "too_new",
            Reason::Denied => "denied",
            Reason::NotAllowed => "not_allowed",
            Reason::NoModel => "no_model",
            Reason::NoTicker => "no_ticker",
            Reason::Illiquid => "illiquid",
            Reason::BadBook => "bad_book",
            Reason::WideSpread => "wide_spread",
            Reason::FetchFailed => "fetch_failed",
            Reason::InsufficientHistory => "insufficient_history",
            Reason::BadData => "bad_data",
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A symbol that passed the cheap checks, with the market facts they read.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Candidate {
    pub symbol: Symbol,
    pub quote_volume: f64,
    pub spread_bps: f64,
    pub age_days: f64,
}

/// A symbol that did not make it, and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Excluded {
    pub symbol: String,
    pub reason: Reason,
    /// What was seen, for an operator: a value against its threshold, an error.
    pub detail: String,
}

/// Exclusion counts by reason, in check order.
pub fn count_by_reason(excluded: &[Excluded]) -> BTreeMap<Reason, usize> {
    let mut counts = BTreeMap::new();
    for e in excluded {
        *counts.entry(e.reason).or_insert(0) += 1;
    }
    counts
}
