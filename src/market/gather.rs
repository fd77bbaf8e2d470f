//! One refresh's reading of the market: the overview, the freshness check against the
//! local clock, then the candles of the symbols the caller picks from the overview (the
//! decision's cheap checks, so no weight is spent on a symbol they exclude).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use super::cache::CandleCache;
use super::listing::{FirstCandle, ListingFrom, Listings, Unknown};
use super::view::MarketView;
use super::{CandleResult, Overview, Source, SymbolInfo, Usage};
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
    /// Where the age filter takes listings from.
    pub listing_from: ListingFrom,
}

/// The overview, then the candles of the symbols `pick` chooses from it, and the first
/// candles of those whose listing is not yet known ([`super::listing`]): asked in the same
/// round, then `pick`'s checks run again in the decision with them.
pub fn gather(
    source: &dyn Source,
    pick: &dyn Fn(&Overview) -> Vec<String>,
    reading: &Reading<'_>,
    progress: &Progress,
) -> Result<(Overview, Fetched), FailClosed> {
    let mut overview = super::fetch_overview(source)?;
    if !source.is_replay()
        && let Some(max) = reading.max_data_age
    {
        check_fresh(overview.server_time, reading.now, max)?;
    }
    let mut listings = learning(source, reading).map(|cache| (Listings::read(cache), cache));
    overview.symbols = with_known(&overview.symbols, listings.as_ref().map(|(known, _)| known));
    let picked = pick(&overview);
    let (requested, ask) = requests(&overview.symbols, &picked);
    progress.start((requested.len() + ask.len()) as u64);
    let request = super::CandleRequest {
        symbols: &requested,
        first_candles: &ask,
        start_time: super::candles::request_start(overview.server_time),
        server_time: overview.server_time,
        cache: reading.cache,
    };
    let super::CandleFetch {
        mut results,
        cache_hits,
        first_candles,
    } = super::fetch_candles(source, &request, in_flight(source, reading), &|| {
        progress.advance(source.usage().weight);
    })?;
    progress.finish();
    let learned = Learned {
        asked: &ask,
        answers: first_candles,
    };
    if let Ok((known, cache)) = &mut listings {
        let mut symbols = overview.symbols.to_vec();
        let added = learned.apply(&mut symbols, known, &requested, &mut results);
        known.keep(cache, added);
        overview.symbols = symbols.into();
    }
    let fetched = Fetched {
        candles: picked.into_iter().zip(results).collect(),
        cache_hits,
        usage: source.usage(),
    };
    Ok((overview, fetched))
}

/// The picked symbols' candle requests, and the first candles to ask of them: each with
/// its `onboardDate`.
type Requests<'a> = (Vec<(&'a str, i64)>, Vec<(&'a str, i64)>);

fn requests<'a>(symbols: &'a [SymbolInfo], picked: &'a [String]) -> Requests<'a> {
    let info: HashMap<&str, &SymbolInfo> = symbols.iter().map(|s| (s.symbol.as_str(), s)).collect();
    let requested: Vec<(&str, i64)> = picked
        .iter()
        .map(|symbol| {
            let onboard = info.get(symbol.as_str()).map_or(0, |i| i.onboard_date);
            (symbol.as_str(), onboard)
        })
        .collect();
    let not_asked = FirstCandle::Unknown(Unknown::NotAsked);
    let ask = requested
        .iter()
        .copied()
        .filter(|(symbol, _)| {
            info.get(symbol)
                .is_some_and(|i| i.first_candle == not_asked)
        })
        .collect();
    (requested, ask)
}

/// `symbols` with what is known of their first candles: kept in `known`, or why none is.
fn with_known(symbols: &[SymbolInfo], known: Result<&Listings, &Unknown>) -> Arc<[SymbolInfo]> {
    let mut symbols = symbols.to_vec();
    for info in &mut symbols {
        info.first_candle = match known {
            Err(why) => FirstCandle::Unknown(*why),
            Ok(known) => known
                .get(&info.symbol, info.onboard_date)
                .map_or(FirstCandle::Unknown(Unknown::NotAsked), FirstCandle::At),
        };
    }
    symbols.into()
}

/// The cache first candles are kept in, when this run learns them; else why not.
fn learning<'a>(source: &dyn Source, reading: &Reading<'a>) -> Result<&'a CandleCache, Unknown> {
    if source.is_replay() {
        return Err(Unknown::Recording);
    }
    if let ListingFrom::OnboardDate(why) = reading.listing_from {
        return Err(why);
    }
    reading.cache.ok_or(Unknown::NoCache)
}

/// The first candles asked, and the answers, in the same order.
struct Learned<'a> {
    asked: &'a [(&'a str, i64)],
    answers: Vec<super::fetch::FirstCandleResult>,
}

impl Learned<'_> {
    /// Puts the answers into `symbols` and `known`, and returns how many were added. A
    /// symbol whose first candle could not be read has no usable market data: its
    /// candles' result becomes that error, so it is excluded as any symbol whose candles
    /// failed.
    fn apply(
        self,
        symbols: &mut [SymbolInfo],
        known: &mut Listings,
        requested: &[(&str, i64)],
        results: &mut [super::CandleResult],
    ) -> usize {
        let mut added = 0;
        for (&(symbol, onboard), answer) in self.asked.iter().zip(self.answers) {
            let first = match answer {
                Ok(Some(first)) => {
                    known.learn(symbol, onboard, first);
                    added += 1;
                    FirstCandle::At(first)
                }
                Ok(None) => FirstCandle::Unknown(Unknown::NoCandle),
                Err(error) => {
                    if let Some(k) = requested.iter().position(|(s, _)| *s == symbol)
                        && results[k].is_ok()
                    {
                        results[k] = Err(error);
                    }
                    FirstCandle::Unknown(Unknown::Failed)
                }
            };
            if let Some(info) = symbols.iter_mut().find(|i| i.symbol == symbol) {
                info.first_candle = first;
            }
        }
        added
    }
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
