//! One refresh, from the market to a ranking: [`gather`] reads (I/O, the clock for the
//! freshness check), [`assess`] decides (pure). It reads only through a [`Source`], so
//! it runs the same live, from a snapshot, and inside tests.
//!
//! overview (time, exchangeInfo, tickers, books) → cheap checks → candles for the
//! survivors (bounded worker pool) → windows and features → regime → score and
//! rank.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write as _;
use std::time::Instant;

use crate::error::FailClosed;
use crate::market::cache::CandleCache;
use crate::market::candles;
use crate::market::{self, Candle, FetchError, Overview, Source, Usage};
use crate::progress::Progress;
use crate::select::score::{self, Ready};
use crate::select::{self, Excluded, Regime, Rules, Scored, Weights};
use crate::settings::Settings;

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

/// What a refresh read from the market: everything [`assess`] decides from.
#[derive(Debug)]
pub struct MarketView {
    pub overview: Overview,
    /// The candles of each symbol that passed the cheap checks, in request order: as
    /// fetched (or served by the candle cache), or why they could not be.
    pub candles: Vec<(String, Result<Vec<Candle>, FetchError>)>,
    pub cache_hits: usize,
    pub usage: Usage,
    /// The model folder's files that name a symbol (file → symbol); empty without one.
    pub models_found: BTreeMap<String, String>,
}

/// The symbols a model is required for, when `rotation.require_model` makes it a check.
pub fn required_models(
    settings: &Settings,
    found: &BTreeMap<String, String>,
) -> Option<BTreeSet<String>> {
    settings
        .rotation
        .require_model
        .then(|| found.values().cloned().collect())
}

/// What the cheap checks screen by.
pub fn rules<'a>(settings: &'a Settings, models: Option<&'a BTreeSet<String>>) -> Rules<'a> {
    Rules {
        filters: &settings.filters,
        lists: &settings.lists,
        models,
    }
}

/// A refresh: [`gather`], then [`assess`].
pub fn run(
    source: &dyn Source,
    settings: &Settings,
    cache: Option<&CandleCache>,
    progress: &Progress,
) -> Result<Refresh, FailClosed> {
    let view = gather(
        source,
        settings,
        BTreeMap::new(),
        cache,
        progress,
        crate::output::now_epoch(),
    )?;
    let started = Instant::now();
    let mut refresh = assess(view, settings)?;
    refresh.features_us = started.elapsed().as_micros();
    Ok(refresh)
}

/// The I/O half: the overview, the freshness check against the local clock (`now`,
/// seconds) for a live source, then the candles of the symbols that pass the cheap checks.
pub fn gather(
    source: &dyn Source,
    settings: &Settings,
    models_found: BTreeMap<String, String>,
    cache: Option<&CandleCache>,
    progress: &Progress,
    now: i64,
) -> Result<MarketView, FailClosed> {
    let overview = market::fetch_overview(source)?;
    if !source.is_replay()
        && let Some(max) = settings.max_data_age
    {
        check_fresh(overview.server_time, now, max)?;
    }
    // the cheap checks decide which candles are worth their weight; `assess` runs them
    // again on the same data, so the two cannot disagree
    let required = required_models(settings, &models_found);
    let (candidates, _) = select::screen(&overview, &rules(settings, required.as_ref()));
    let onboard: HashMap<&str, i64> = overview
        .symbols
        .iter()
        .map(|s| (s.symbol.as_str(), s.onboard_date))
        .collect();
    let requested: Vec<(&str, i64)> = candidates
        .iter()
        .map(|c| {
            (
                c.symbol.as_str(),
                onboard.get(c.symbol.as_str()).copied().unwrap_or(0),
            )
        })
        .collect();
    progress.start(requested.len() as u64);
    let request = market::CandleRequest {
        symbols: &requested,
        start_time: candles::request_start(overview.server_time),
        server_time: overview.server_time,
        cache,
    };
    let market::CandleFetch {
        results: fetched,
        cache_hits,
    } = market::fetch_candles(source, &request, settings.client.concurrency, &|| {
        progress.advance(source.usage().weight);
    })?;
    progress.finish();
    let candles = candidates
        .into_iter()
        .map(|c| c.symbol)
        .zip(fetched)
        .collect();
    Ok(MarketView {
        overview,
        candles,
        cache_hits,
        usage: source.usage(),
        models_found,
    })
}

/// The pure half: from what was read to a ranking, every exclusion with its reason. No
/// I/O and no clock: the same view always gives the same refresh.
pub fn assess(view: MarketView, settings: &Settings) -> Result<Refresh, FailClosed> {
    let MarketView {
        overview,
        candles: fetched,
        cache_hits,
        usage,
        models_found,
    } = view;
    let required = required_models(settings, &models_found);
    let (candidates, mut excluded) = select::screen(&overview, &rules(settings, required.as_ref()));
    let symbols: Vec<&str> = fetched.iter().map(|(s, _)| s.as_str()).collect();
    let results: Vec<&Result<Vec<Candle>, FetchError>> = fetched.iter().map(|(_, r)| r).collect();
    check_candle_failures(&symbols, &results)?;
    let candles_needed = fetched.len();
    let ready = judge_all(candidates, fetched, overview.server_time, &mut excluded);
    if ready.len() < settings.min_symbols {
        return Err(FailClosed::TooFewScored {
            scored: ready.len(),
            min: settings.min_symbols,
        });
    }
    let median_atr = score::median_atr(&ready).unwrap_or(f64::NAN);
    let (regime, weights) = regime_weights(median_atr, settings);
    let scored = select::score(ready, &weights, &settings.leverage);
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
    fetched: Vec<(String, Result<Vec<Candle>, FetchError>)>,
    server_time: i64,
    excluded: &mut Vec<Excluded>,
) -> Vec<Ready> {
    let mut by_symbol: HashMap<String, Result<Vec<Candle>, FetchError>> =
        fetched.into_iter().collect();
    let judged: Vec<Result<Ready, Excluded>> = candidates
        .into_iter()
        .map(|c| {
            let candles = by_symbol.remove(&c.symbol).unwrap_or_else(|| {
                Err(FetchError::Snapshot(format!(
                    "no candles were read for {}",
                    c.symbol
                )))
            });
            select::candle_stage::judge(c, candles, server_time)
        })
        .collect();
    let mut ready = Vec::with_capacity(judged.len());
    for verdict in judged {
        match verdict {
            Ok(r) => ready.push(r),
            Err(out) => excluded.push(out),
        }
    }
    ready
}

/// The regime of the scored symbols' median ATR, and the weights it scales.
fn regime_weights(median_atr: f64, settings: &Settings) -> (Regime, select::Weights) {
    let regimes = &settings.regimes;
    let regime = Regime::of(median_atr, regimes.high_vol_above, regimes.low_vol_below);
    let weights = match regime {
        Regime::HighVol => settings.weights.scaled(&regimes.high_vol),
        Regime::LowVol => settings.weights.scaled(&regimes.low_vol),
        Regime::Normal => settings.weights,
    };
    (regime, weights)
}

/// Fails closed when the exchange's clock, the time of its data, lags the local clock by
/// more than `max`: a frozen mirror serves yesterday's market with today's headers.
fn check_fresh(
    server_time_ms: i64,
    local_s: i64,
    max: std::time::Duration,
) -> Result<(), FailClosed> {
    let server_s = server_time_ms.div_euclid(1000);
    let age = local_s - server_s;
    if age > max.as_secs() as i64 {
        return Err(FailClosed::Stale {
            age: crate::output::span(age),
            server: crate::output::epoch(server_s),
            local: crate::output::epoch(local_s),
            max_s: max.as_secs(),
        });
    }
    Ok(())
}

/// Fails closed when more than 2% of the candle fetches failed.
fn check_candle_failures(
    symbols: &[&str],
    fetched: &[&Result<Vec<Candle>, FetchError>],
) -> Result<(), FailClosed> {
    let failures: Vec<String> = symbols
        .iter()
        .zip(fetched)
        .filter_map(|(symbol, result)| result.as_ref().err().map(|e| format!("{symbol}: {e}")))
        .collect();
    if failures.len() * MAX_FAILED_SHARE_DENOMINATOR > symbols.len() {
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
            needed: symbols.len(),
            examples,
        });
    }
    Ok(())
}
