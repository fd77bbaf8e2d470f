//! Candles for every symbol: a bounded pool of workers, warm requests on top of the
//! candle cache, and a fatal error that stops them all.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use super::cache::CandleCache;
use super::{Candle, Endpoint, FetchError, KLINES_LIMIT, Source, WARM_KLINES_LIMIT, candles, wire};
use crate::error::FailClosed;

/// Workers start this many ms apart, so their connections open a few at a time: a burst
/// of simultaneous connects overflows a small accept backlog (the replay server's is 5)
/// and the dropped ones cost a 1 s SYN retransmit. 125 workers start within 125 ms.
const STAGGER_MS: u64 = 1;

/// A candle worker's stack.
const WORKER_STACK: usize = 256 * 1024;

/// One symbol's candles, or why there are none.
pub type CandleResult = Result<Vec<Candle>, FetchError>;

/// What candles a refresh asks for.
#[derive(Debug)]
pub struct CandleRequest<'a> {
    /// Each symbol with its `onboardDate` (a re-listing invalidates its cache).
    pub symbols: &'a [(&'a str, i64)],
    /// Where a cold request starts ([`candles::request_start`]).
    pub start_time: i64,
    pub server_time: i64,
    pub cache: Option<&'a CandleCache>,
}

/// The candles of every symbol, in request order, and how the cache served.
#[derive(Debug)]
pub struct CandleFetch {
    pub results: Vec<CandleResult>,
    /// Symbols served by a warm (weight 1) request on top of their cached candles.
    pub cache_hits: usize,
}

/// Fetches the 15m candles of each symbol with a bounded pool of `concurrency` workers.
///
/// Returns one result per symbol, in the same order. A fatal error (418, deadline) stops
/// every worker and fails the run; other errors are per symbol. `on_done` is called after
/// each symbol, for progress.
pub fn fetch_candles(
    source: &dyn Source,
    request: &CandleRequest<'_>,
    concurrency: usize,
    on_done: &(dyn Fn() + Sync),
) -> Result<CandleFetch, FailClosed> {
    let symbols = request.symbols;
    let next = AtomicUsize::new(0);
    let hits = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    let fatal: Mutex<Option<FetchError>> = Mutex::new(None);
    let results: Mutex<Vec<Option<CandleResult>>> =
        Mutex::new(symbols.iter().map(|_| None).collect());
    let worker = || {
        while !stop.load(Ordering::Relaxed) {
            let index = next.fetch_add(1, Ordering::Relaxed);
            let Some(&(symbol, onboard)) = symbols.get(index) else {
                break;
            };
            let (result, hit) = fetch_symbol(source, symbol, onboard, request);
            if hit {
                hits.fetch_add(1, Ordering::Relaxed);
            }
            if let Err(error) = &result
                && error.is_fatal()
            {
                stop.store(true, Ordering::Relaxed);
                fatal
                    .lock()
                    .expect("fatal lock")
                    .get_or_insert(error.clone());
            }
            results.lock().expect("results lock")[index] = Some(result);
            on_done();
        }
    };
    run_workers(concurrency.clamp(1, symbols.len().max(1)), &worker);
    if let Some(error) = fatal.into_inner().expect("fatal lock") {
        return Err(error.into_fail_closed("candles", source.deadline_s()));
    }
    Ok(CandleFetch {
        results: results
            .into_inner()
            .expect("results lock")
            .into_iter()
            .map(|r| r.expect("every symbol was fetched"))
            .collect(),
        cache_hits: hits.into_inner(),
    })
}

/// `workers` threads running `worker`, each started [`STAGGER_MS`] after the one before.
fn run_workers(workers: usize, worker: &(dyn Fn() + Sync)) {
    std::thread::scope(|scope| {
        for k in 0..workers {
            // a worker needs little stack: a hundred of them should not reserve 200 MB
            std::thread::Builder::new()
                .stack_size(WORKER_STACK)
                .spawn_scoped(scope, move || {
                    std::thread::sleep(std::time::Duration::from_millis(STAGGER_MS * k as u64));
                    worker();
                })
                .expect("a candle worker starts");
        }
    });
}

/// One symbol: warm from the cache when it can be trusted, else cold. The bool says
/// whether the cache served.
fn fetch_symbol(
    source: &dyn Source,
    symbol: &str,
    onboard: i64,
    request: &CandleRequest<'_>,
) -> (CandleResult, bool) {
    if let Some(cache) = request.cache
        && let Some(cached) = cache.load(symbol, onboard)
    {
        match warm(source, symbol, &cached, request) {
            Warm::Served(candles) => {
                store_closed(cache, symbol, onboard, &candles, request.server_time);
                return (Ok(candles), true);
            }
            Warm::Failed(error) => return (Err(error), false),
            Warm::Cold => {}
        }
    }
    let endpoint = Endpoint::Klines {
        symbol,
        start_time: request.start_time,
        limit: KLINES_LIMIT,
    };
    let result = fetch_klines(source, &endpoint);
    if let (Some(cache), Ok(candles)) = (request.cache, &result) {
        store_closed(cache, symbol, onboard, candles, request.server_time);
    }
    (result, false)
}

enum Warm {
    Served(Vec<Candle>),
    /// The warm request itself failed (no cold retry: the exchange is failing).
    Failed(FetchError),
    /// The cache cannot be continued: fetch cold.
    Cold,
}

/// Asks only for the candles from the newest cached one on. The answer must start with
/// that candle unchanged and run on without a gap up to the last closed candle.
fn warm(source: &dyn Source, symbol: &str, cached: &[Candle], request: &CandleRequest<'_>) -> Warm {
    let (Some(first), Some(last)) = (cached.first(), cached.last()) else {
        return Warm::Cold;
    };
    let last_closed = request.server_time.div_euclid(candles::M15) * candles::M15 - candles::M15;
    let missing = (last_closed - last.open_time) / candles::M15;
    // the cache must cover the window's start, and the news fit in one small request
    if first.open_time > request.start_time
        || missing < 0
        || missing + 2 > i64::from(WARM_KLINES_LIMIT)
    {
        return Warm::Cold;
    }
    let endpoint = Endpoint::Klines {
        symbol,
        start_time: last.open_time,
        limit: WARM_KLINES_LIMIT,
    };
    let fresh = match fetch_klines(source, &endpoint) {
        Ok(fresh) => fresh,
        Err(error) => return Warm::Failed(error),
    };
    let continues = fresh.first() == Some(last);
    let contiguous = fresh
        .windows(2)
        .all(|w| w[1].open_time == w[0].open_time + candles::M15);
    let complete = fresh.last().is_some_and(|c| c.open_time >= last_closed);
    if !(continues && contiguous && complete) {
        return Warm::Cold;
    }
    let keep_from = cached.partition_point(|c| c.open_time < request.start_time);
    let mut merged = cached[keep_from..].to_vec();
    merged.extend_from_slice(&fresh[1..]);
    Warm::Served(merged)
}

fn fetch_klines(source: &dyn Source, endpoint: &Endpoint<'_>) -> CandleResult {
    source.fetch(endpoint).and_then(|body| {
        wire::parse_klines(&body).map_err(|detail| FetchError::Malformed {
            url: source.locate(endpoint),
            symbol: endpoint.symbol().map(str::to_owned),
            detail,
        })
    })
}

/// Caches the closed candles, if they form a series without gaps (a series with one
/// could never be continued). A failed write only costs the next run a cold fetch.
fn store_closed(cache: &CandleCache, symbol: &str, onboard: i64, all: &[Candle], server_time: i64) {
    let closed: Vec<Candle> = all
        .iter()
        .copied()
        .filter(|c| c.open_time + candles::M15 <= server_time)
        .collect();
    let contiguous = closed
        .windows(2)
        .all(|w| w[1].open_time == w[0].open_time + candles::M15);
    let finite = closed.iter().all(|c| {
        [c.open, c.high, c.low, c.close]
            .iter()
            .all(|p| p.is_finite())
    });
    if contiguous && finite && !closed.is_empty() {
        let _ = cache.store(symbol, onboard, &closed);
    }
}
