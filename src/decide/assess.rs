//! The market assessed: from what was read to a ranking, every exclusion with its reason.
//! No I/O and no clock: the same view always gives the same assessment.
//!
//! cheap checks → windows and features of the candidates' candles → regime → score and
//! rank.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write as _;

use super::Config;
use crate::error::FailClosed;
use crate::market::view::CandleSlice;
use crate::market::{FetchError, MarketView, Overview, Usage};
use crate::select::score::{self, Ready};
use crate::select::{self, Excluded, Regime, Rules, Scored, Weights};

/// What a refresh found.
#[derive(Debug)]
pub struct Refresh {
    /// Everything read before candles; `server_time` is the exchange's time of the data.
    pub overview: Overview,
    /// Every scored symbol, in rank order.
    pub scored: Vec<Scored>,
    /// Every other exchangeInfo symbol, with its reason.
    pub excluded: Vec<Excluded>,
    /// The regime, from the median `atr_pct_15m` of the scored symbols.
    pub regime: Regime,
    pub median_atr: f64,
    /// The weights the score used: the configured ones times the regime's multipliers.
    pub weights: Weights,
    /// Symbols whose candles were requested.
    pub candles_needed: usize,
    /// Of those, how many the candle cache served with a warm (weight 1) request.
    pub cache_hits: usize,
    pub usage: Usage,
    /// Time spent deciding from the market view (windows, features, score), in µs.
    pub features_us: u128,
}

/// More than this share of failed candle fetches fails the run: 1/50 = 2%.
const MAX_FAILED_SHARE_DENOMINATOR: usize = 50;

/// The symbols a model is required for, when `rotation.require_model` makes it a check.
pub fn required_models(
    config: &Config,
    found: &BTreeMap<String, String>,
) -> Option<BTreeSet<String>> {
    config
        .rotation
        .require_model
        .then(|| found.values().cloned().collect())
}

/// What the cheap checks screen by.
pub fn rules<'a>(config: &'a Config, models: Option<&'a BTreeSet<String>>) -> Rules<'a> {
    Rules {
        filters: &config.filters,
        lists: &config.lists,
        models,
        spread: config.spread,
    }
}

/// The symbols whose candles the decision reads: those that pass the cheap checks.
pub fn candidates(
    overview: &Overview,
    config: &Config,
    models: &BTreeMap<String, String>,
) -> Vec<String> {
    let required = required_models(config, models);
    let (candidates, _) = select::screen(overview, &rules(config, required.as_ref()));
    candidates
        .into_iter()
        .map(|c| c.symbol.to_string())
        .collect()
}

/// The ranking from `view`.
pub fn assess(
    view: MarketView<'_>,
    models: &BTreeMap<String, String>,
    config: &Config,
) -> Result<Refresh, FailClosed> {
    let MarketView {
        overview,
        candles,
        cache_hits,
        usage,
    } = view;
    let required = required_models(config, models);
    let (candidates, mut excluded) = select::screen(&overview, &rules(config, required.as_ref()));
    check_candle_failures(&candles)?;
    let candles_needed = candles.len();
    let with_returns = config.max_correlation.is_some();
    let ready = judge_all(
        candidates,
        &candles,
        overview.server_time,
        with_returns,
        &mut excluded,
    );
    if ready.len() < config.min_symbols {
        return Err(FailClosed::TooFewScored {
            scored: ready.len(),
            min: config.min_symbols,
        });
    }
    let median_atr = score::median_atr(&ready).unwrap_or(f64::NAN);
    let (regime, weights) = regime_weights(median_atr, config);
    let scored = select::score(ready, &weights, &config.leverage);
    Ok(Refresh {
        overview,
        scored,
        excluded,
        regime,
        median_atr,
        weights,
        candles_needed,
        cache_hits,
        usage,
        features_us: 0,
    })
}

/// Each candidate judged on its candles: ready to score, or excluded (into `excluded`).
fn judge_all(
    candidates: Vec<select::Candidate>,
    candles: &[(&str, CandleSlice<'_>)],
    server_time: i64,
    with_returns: bool,
    excluded: &mut Vec<Excluded>,
) -> Vec<Ready> {
    let by_symbol: HashMap<&str, CandleSlice<'_>> = candles.iter().copied().collect();
    let mut ready = Vec::with_capacity(candidates.len());
    for c in candidates {
        let verdict = if let Some(&slice) = by_symbol.get(c.symbol.as_str()) {
            select::candle_stage::judge(c, slice, server_time, with_returns)
        } else {
            let why = FetchError::Snapshot(format!("no candles were read for {}", c.symbol));
            select::candle_stage::judge(c, Err(&why), server_time, with_returns)
        };
        match verdict {
            Ok(r) => ready.push(r),
            Err(out) => excluded.push(out),
        }
    }
    ready
}

/// The regime of the scored symbols' median ATR, and the weights it scales.
fn regime_weights(median_atr: f64, config: &Config) -> (Regime, Weights) {
    let regimes = &config.regimes;
    let regime = Regime::of(median_atr, regimes.high_vol_above, regimes.low_vol_below);
    let weights = match regime {
        Regime::HighVol => config.weights.scaled(&regimes.high_vol),
        Regime::LowVol => config.weights.scaled(&regimes.low_vol),
        Regime::Normal => config.weights,
    };
    (regime, weights)
}

/// Fails closed when more than 2% of the candle fetches failed.
fn check_candle_failures(candles: &[(&str, CandleSlice<'_>)]) -> Result<(), FailClosed> {
    let failures: Vec<String> = candles
        .iter()
        .filter_map(|(symbol, result)| result.err().map(|e| format!("{symbol}: {e}")))
        .collect();
    if failures.len() * MAX_FAILED_SHARE_DENOMINATOR > candles.len() {
        let mut examples = failures
            .iter()
            .take(3)
            .cloned()
            .collect::<Vec<_>>()
            .join("; ");
        if failures.len() > 3 {
            let _ = write!(examples, "; and {} more", failures.len() - 3);
        }
        return Err(FailClosed::CandleFailures {
            failed: failures.len(),
            needed: candles.len(),
            examples,
        });
    }
    Ok(())
}
