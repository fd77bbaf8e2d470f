//! What the decision reads of the settings, built once per command
//! ([`crate::settings::Settings::decision`]): the filters and lists, the score, churn
//! control, rotation and the bounds. Nothing about the exchange, the store or the output.

use crate::rotation;
use crate::select::churn::Churn;
use crate::select::{Filters, LeverageTable, Lists, Regimes, Spread, Weights};

/// Everything [`super::decide`] decides by.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub filters: Filters,
    /// Whether the spread filter judges the book: a history has none, so a backtest
    /// ignores it.
    pub spread: Spread,
    pub lists: Lists,
    pub top: usize,
    /// Fewer scored, or chosen, fails the refresh closed.
    pub min_symbols: usize,
    pub weights: Weights,
    pub regimes: Regimes,
    /// `score.hybrid`: scale scores by the performance factor of symbols with at least
    /// this many trades; `None`: off.
    pub hybrid_min_trades: Option<u64>,
    pub leverage: LeverageTable,
    pub churn: Churn,
    /// The correlation limit between members' 1h returns; `None`: off.
    pub max_correlation: Option<f64>,
    pub rotation: rotation::Config,
}

impl Config {
    /// The same decision without the spread filter.
    #[must_use]
    pub fn ignoring_spread(self) -> Self {
        Self {
            spread: Spread::Ignored,
            ..self
        }
    }
}
