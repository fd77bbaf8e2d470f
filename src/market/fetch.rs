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

/// The open time of one symbol's first candle (`None`: it has none yet), or why it could
/// not be read.
pub type FirstCandleResult = Result<Option<i64>, FetchError>;

/// What candles a refresh asks for.
#[derive(Debug)]
pub struct CandleRequest<'a> {
    /// Each symbol with its `onboardDate` (a re-listing invalidates its cache).
    pub symbols: &'a [(&'a str, i64)],
    /// Symbols whose first candle is asked too ([`super::listing`]), with their
    /// `onboardDate`: the first candle from it on.
    pub first_candles: &'a [(&'a str, i64)],
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
    /// The open time of each asked symbol's first candle (`None`: it has none yet), in
    /// the order of [`CandleRequest::first_candles`].
    pub first_candles: Vec<FirstCandleResult>,
}

/// One job of the pool: a symbol's candles, or its first candle.
enum Job {
    Candles(usize),
    FirstCandle(usize),
}

/// Fetches the 15m candles of each symbol, and the first candles asked for, with a
/// bounded pool of `concurrency` workers.
///
/// Returns one result per symbol, in the same order. A fatal error (418, deadline) stops
/// every worker and fails the run; other errors are per symbol. `on_done` is called after
/// each request, for progress.
pub fn fetch_candles(
    source: &dyn Source,
    request: &CandleRequest<'_>,
    concurrency: usize,
    on_done: &(dyn Fn() + Sync),
) -> Result<CandleFetch, FailClosed> {
    let (symbols, asked) = (request.symbols, request.first_candles);
    let pool = Pool::new(symbols.len(), asked.len());
    let worker = || {
        while !pool.stop.load(Ordering::Relaxed) {
            match pool.next_job() {
                None => break,
                Some(Job::Candles(index)) => {
                    let (symbol, onboard) = symbols[index];
                    let (result, hit) = fetch_symbol(source, symbol, onboard, request);
                    if hit {
                        pool.hits.fetch_add(1, Ordering::Relaxed);
                    }
                    pool.stop_if_fatal(&result);
                    pool.results.lock().expect("results lock")[index] = Some(result);
                }
                Some(Job::FirstCandle(index)) => {
                    let (symbol, onboard) = asked[index];
                    let result = first_candle(source, symbol, onboard, request.server_time);
                    pool.stop_if_fatal(&result);
                    pool.firsts.lock().expect("firsts lock")[index] = Some(result);
                }
            }
            on_done();
        }
    };
    let jobs = symbols.len() + asked.len();
    run_workers(concurrency.clamp(1, jobs.max(1)), &worker);
    pool.finish()
        .map_err(|error| error.into_fail_closed("candles", source.deadline_s()))
}

/// What the workers share: the next job, the answers, and a fatal error that stops them.
struct Pool {
    symbols: usize,
    asked: usize,
    next: AtomicUsize,
    hits: AtomicUsize,
    stop: AtomicBool,
    fatal: Mutex<Option<FetchError>>,
    results: Mutex<Vec<Option<CandleResult>>>,
    firsts: Mutex<Vec<Option<FirstCandleResult>>>,
}

impl Pool {
    fn new(symbols: usize, asked: usize) -> Self {
        Self {
            symbols,
            asked,
            next: AtomicUsize::new(0),
            hits: AtomicUsize::new(0),
            stop: AtomicBool::new(false),
            fatal: Mutex::new(None),
            results: Mutex::new((0..symbols).map(|_| None).collect()),
            firsts: Mutex::new((0..asked).map(|_| None).collect()),
        }
    }

    /// The next job: the candles of every symbol, then the first candles.
    fn next_job(&self) -> Option<Job> {
        let index = self.next.fetch_add(1, Ordering::Relaxed);
        match index.checked_sub(self.symbols) {
            None => Some(Job::Candles(index)),
            Some(k) => (k < self.asked).then_some(Job::FirstCandle(k)),
        }
    }

    fn stop_if_fatal<T>(&self, result: &Result<T, FetchError>) {
        if let Err(error) = result
            && error.is_fatal()
        {
            self.stop.store(true, Ordering::Relaxed);
            self.fatal
                .lock()
                .expect("fatal lock")
                .get_or_insert(error.clone());
        }
    }

    fn finish(self) -> Result<CandleFetch, FetchError> {
        if let Some(error) = self.fatal.into_inner().expect("fatal lock") {
            return Err(error);
        }
        Ok(CandleFetch {
            results: self
                .results
                .into_inner()
                .expect("results lock")
                .into_iter()
                .map(|r| r.expect("every symbol was fetched"))
                .collect(),
            cache_hits: self.hits.into_inner(),
            first_candles: self
                .firsts
                .into_inner()
                .expect("firsts lock")
                .into_iter()
                .map(|r| r.expect("every first candle was asked"))
                .collect(),
        })
    }
}

/// The open time of `symbol`'s first candle from `onboard` on (one row, weight 1), if it
/// has one; a first candle after the exchange's own clock is malformed.
fn first_candle(
    source: &dyn Source,
    symbol: &str,
    onboard: i64,
    server_time: i64,
) -> FirstCandleResult {
    let endpoint = Endpoint::Klines {
        symbol,
        start_time: onboard.max(0),
        limit: 1,
    };
    let first = fetch_klines(source, &endpoint)?
        .first()
        .map(|c| c.open_time);
    match first {
        Some(at) if at > server_time => Err(FetchError::Malformed {
            url: source.locate(&endpoint),
            symbol: Some(symbol.to_owned()),
            detail: format!("its first candle opens at {at}, after the server time {server_time}"),
        }),
        first => Ok(first),
    }
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
