//! One refresh's reading of the market: the overview, the freshness check against the
//! local clock, then the candles of the symbols the caller picks from the overview (the
//! decision's cheap checks, so no weight is spent on a symbol they exclude).

use std::time::Duration;

use super::cache::CandleCache;
use super::view::MarketView;
use super::{CandleResult, Overview, Source, Usage};
use crate::error::FailClosed;
use crate::progress::Progress;

/// The candles read for a refresh, and what reading them cost.
#[derive(Debug)]
pub struct Fetched {
    /// Each picked symbol's candles as fetched (or served by the candle cache), or why
    /// they could not be, in request order.
    pub candles: Vec<(String, CandleResult)>,
    /// Of those, how many the candle cache served with a warm (weight 1) request.
    pub cache_hits: usize,
    pub usage: Usage,
}

impl Fetched {
    /// The market as the decision reads it: `overview`, with these candles borrowed.
    pub fn view(&self, overview: Overview) -> MarketView<'_> {
        MarketView {
            overview,
            candles: self
                .candles
                .iter()
                .map(|(symbol, result)| (symbol.as_str(), result.as_deref()))
                .collect(),
            cache_hits: self.cache_hits,
            usage: self.usage,
        }
    }
}

/// How a refresh reads.
#[derive(Debug, Clone, Copy)]
pub struct Reading<'a> {
    /// Candle requests in flight at most; fewer when the weight budget has less room.
    pub concurrency: usize,
    /// The request weight the run may reach per minute.
    pub weight_budget: u32,
    pub cache: Option<&'a CandleCache>,
    /// How far the exchange's clock may lag `now` (local, epoch seconds) before the
    /// refresh fails closed; `None`: not checked. A replayed source is never checked.
    pub max_data_age: Option<Duration>,
    pub now: i64,
}

/// The overview, then the candles of the symbols `pick` chooses from it.
pub fn gather(
    source: &dyn Source,
    pick: &dyn Fn(&Overview) -> Vec<String>,
    reading: &Reading<'_>,
    progress: &Progress,
) -> Result<(Overview, Fetched), FailClosed> {
    let overview = super::fetch_overview(source)?;
    if !source.is_replay()
        && let Some(max) = reading.max_data_age
    {
        check_fresh(overview.server_time, reading.now, max)?;
    }
    let picked = pick(&overview);
    let onboard: std::collections::HashMap<&str, i64> = overview
        .symbols
        .iter()
        .map(|s| (s.symbol.as_str(), s.onboard_date))
        .collect();
    let requested: Vec<(&str, i64)> = picked
        .iter()
        .map(|symbol| {
            (
                symbol.as_str(),
                onboard.get(symbol.as_str()).copied().unwrap_or(0),
            )
        })
        .collect();
    progress.start(requested.len() as u64);
    let request = super::CandleRequest {
        symbols: &requested,
        start_time: super::candles::request_start(overview.server_time),
        server_time: overview.server_time,
        cache: reading.cache,
    };
    let super::CandleFetch {
        results,
        cache_hits,
    } = super::fetch_candles(source, &request, in_flight(source, reading), &|| {
        progress.advance(source.usage().weight);
    })?;
    progress.finish();
    let fetched = Fetched {
        candles: picked.into_iter().zip(results).collect(),
        cache_hits,
        usage: source.usage(),
    };
    Ok((overview, fetched))
}

/// Candle requests in flight: as many as the weight budget has room for (each a cold
/// klines request's weight), at most `reading.concurrency`. A refresh of 125 symbols
/// then fetches them in one round trip instead of eight; the weight gate still holds
/// every request to the budget.
fn in_flight(source: &dyn Source, reading: &Reading<'_>) -> usize {
    let used = u32::try_from(source.usage().weight).unwrap_or(u32::MAX);
    let room = reading.weight_budget.saturating_sub(used);
    let each = super::klines_weight(super::KLINES_LIMIT);
    ((room / each) as usize).clamp(1, reading.concurrency.max(1))
}

/// Fails closed when the exchange's clock, the time of its data, lags the local clock by
/// more than `max`: a frozen mirror serves yesterday's market with today's headers.
fn check_fresh(server_time_ms: i64, local_s: i64, max: Duration) -> Result<(), FailClosed> {
    let server_s = server_time_ms.div_euclid(1000);
    let age = local_s - server_s;
    if age > max.as_secs() as i64 {
        return Err(FailClosed::Stale {
            age: crate::clock::span(age),
            server: crate::clock::epoch(server_s),
            local: crate::clock::epoch(local_s),
            max_s: max.as_secs(),
        });
    }
    Ok(())
}
