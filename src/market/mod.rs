//! Market data: where it comes from ([`Source`]: the exchange or a recorded snapshot),
//! what a refresh reads of it ([`Endpoint`]), and how it is gathered in parallel.
//!
//! - `wire`: Binance's JSON shapes, parsed strictly.
//! - `client`: the HTTP source, behind the `limiter`'s request-weight gate.
//! - `snapshot`: a folder of recorded responses, and the recorder that writes one.
//! - `candles`: closed-candle windows (15m, and 1h built from aligned 15m candles).

pub mod cache;
pub mod candles;
pub mod client;
pub mod limiter;
pub mod memory;
pub mod snapshot;
pub mod wire;

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use cache::CandleCache;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use crate::error::FailClosed;
pub use candles::{Candle, Windows};
pub use wire::{Book, SymbolInfo};

/// One kline request per symbol covers both windows: 96 hours of 15m candles from an
/// hour boundary (384) plus the hour in progress (≤ 4), under Binance's 500 limit, so it
/// costs weight 2.
pub const KLINES_LIMIT: u32 = 499;
/// A warm request (the candle cache knows the rest) stays under 100 rows: weight 1.
pub const WARM_KLINES_LIMIT: u32 = 99;

/// The responses a refresh reads, in the order it reads them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint<'a> {
    Time,
    ExchangeInfo,
    Ticker24h,
    BookTicker,
    /// Up to `limit` 15m candles of one symbol from `start_time` (ms) on.
    Klines {
        symbol: &'a str,
        start_time: i64,
        limit: u32,
    },
}

impl Endpoint<'_> {
    /// Binance's request weight for this call (USDⓈ-M REST documentation).
    pub fn weight(&self) -> u32 {
        match self {
            Endpoint::Time | Endpoint::ExchangeInfo => 1,
            Endpoint::Ticker24h => 40,
            Endpoint::BookTicker => 5,
            Endpoint::Klines { limit, .. } => klines_weight(*limit),
        }
    }

    /// Path and query, relative to the base URL.
    pub fn path_and_query(&self) -> String {
        match self {
            Endpoint::Time => "/fapi/v1/time".into(),
            Endpoint::ExchangeInfo => "/fapi/v1/exchangeInfo".into(),
            Endpoint::Ticker24h => "/fapi/v1/ticker/24hr".into(),
            Endpoint::BookTicker => "/fapi/v1/ticker/bookTicker".into(),
            Endpoint::Klines {
                symbol,
                start_time,
                limit,
            } => format!(
                "/fapi/v1/klines?symbol={}&interval=15m&startTime={start_time}&limit={limit}",
                percent_encode(symbol)
            ),
        }
    }

    /// The largest body accepted; more is treated as a malformed response.
    pub fn body_limit(&self) -> u64 {
        match self {
            Endpoint::Time => 4 << 10,
            // the real one is under 1 MiB (2 MiB on the testnet, with 626 symbols)
            Endpoint::ExchangeInfo => 8 << 20,
            Endpoint::Ticker24h | Endpoint::BookTicker => 4 << 20,
            Endpoint::Klines { .. } => 1 << 20,
        }
    }

    /// The symbol this request is about, for error messages.
    pub fn symbol(&self) -> Option<&str> {
        match self {
            Endpoint::Klines { symbol, .. } => Some(symbol),
            _ => None,
        }
    }
}

/// Binance's weight of a klines request by its `limit`.
pub fn klines_weight(limit: u32) -> u32 {
    match limit {
        0..100 => 1,
        100..500 => 2,
        500..=1000 => 5,
        _ => 10,
    }
}

/// Percent-encodes a symbol for a query string (symbols may be non-ASCII): everything
/// but the unreserved characters of RFC 3986.
fn percent_encode(text: &str) -> String {
    const RESERVED: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'_')
        .remove(b'.')
        .remove(b'~');
    percent_encoding::utf8_percent_encode(text, RESERVED).to_string()
}

/// Why one request gave no usable body.
#[derive(Debug, Clone, thiserror::Error)]
pub enum FetchError {
    /// 418: the IP is banned. Fatal for the whole run.
    #[error("{url}: 418 banned")]
    Banned {
        url: String,
        retry_after_s: Option<u64>,
    },
    /// The run's deadline passed, or a wait (said here) would pass it. Fatal for the run.
    #[error("the run's deadline passed{}", if .0.is_empty() { String::new() } else { format!(": {}", .0) })]
    Deadline(String),
    #[error("{url}: HTTP {status} after {attempts} attempt(s): {body}")]
    Status {
        url: String,
        status: u16,
        attempts: u32,
        body: String,
    },
    #[error("{url}: {detail} after {attempts} attempt(s)")]
    Transport {
        url: String,
        detail: String,
        attempts: u32,
    },
    #[error("{url}: malformed response{}: {detail}", symbol.as_deref().map(|s| format!(" for {s}")).unwrap_or_default())]
    Malformed {
        url: String,
        symbol: Option<String>,
        detail: String,
    },
    #[error("{0}")]
    Snapshot(String),
}

impl FetchError {
    /// Errors after which no further request may be sent.
    pub fn is_fatal(&self) -> bool {
        matches!(self, FetchError::Banned { .. } | FetchError::Deadline(_))
    }

    /// The run-level failure this error becomes when it hits a required endpoint.
    pub fn into_fail_closed(self, what: &str, deadline_s: u64) -> FailClosed {
        match self {
            FetchError::Banned { url, retry_after_s } => FailClosed::Banned { url, retry_after_s },
            FetchError::Deadline(waiting) => FailClosed::Deadline {
                seconds: deadline_s,
                waiting,
            },
            other => FailClosed::Fetch {
                what: what.to_owned(),
                detail: other.to_string(),
            },
        }
    }
}

/// Where responses come from. Implementations return the raw body, so that what is
/// recorded in a snapshot is exactly what a live run parsed.
pub trait Source: Sync {
    fn fetch(&self, endpoint: &Endpoint<'_>) -> Result<Vec<u8>, FetchError>;

    /// How many seconds the whole run may take (for the fail-closed message).
    fn deadline_s(&self) -> u64 {
        0
    }

    /// Request accounting so far; zero for sources that send no requests.
    fn usage(&self) -> Usage {
        Usage::default()
    }

    /// Where `endpoint`'s body comes from, for messages: a URL, or a snapshot's file.
    fn locate(&self, endpoint: &Endpoint<'_>) -> String {
        endpoint.path_and_query()
    }

    /// The `REQUEST_WEIGHT` limit per minute exchangeInfo states for this IP.
    fn observe_weight_limit(&self, _limit: u32) {}

    /// Whether this replays recorded data (whose age is no sign of a fault).
    fn is_replay(&self) -> bool {
        false
    }
}

/// What a run cost the exchange.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Usage {
    pub requests: u64,
    pub weight: u64,
    pub retries: u64,
    pub rate_limited: u64,
}

/// Everything a refresh reads before candles: exchangeInfo, 24h tickers, best bid/ask.
#[derive(Debug)]
pub struct Overview {
    /// Server time in ms since the epoch; all ages and windows are measured from it.
    pub server_time: i64,
    pub symbols: Vec<SymbolInfo>,
    /// exchangeInfo's `REQUEST_WEIGHT` per minute, when it states one.
    pub weight_limit: Option<u32>,
    /// 24h quote volume by symbol.
    pub quote_volumes: HashMap<String, f64>,
    pub books: HashMap<String, Book>,
    /// Symbols an answer listed more than once, differently: what differs.
    pub conflicts: BTreeMap<String, String>,
}

/// Fetches the overview in two round trips: first the light requests (server time and
/// exchangeInfo, weight 2), whose answers tell the gate the IP's used weight and the
/// limit the exchange states; then the heavy all-symbol tickers (weight 45), planned
/// within them. Any of the four missing fails the run closed.
pub fn fetch_overview(source: &dyn Source) -> Result<Overview, FailClosed> {
    let fetch = |endpoint: Endpoint<'static>, what: &str| {
        let body = source
            .fetch(&endpoint)
            .map_err(|e| e.into_fail_closed(what, source.deadline_s()))?;
        Ok::<_, FailClosed>((body, source.locate(&endpoint)))
    };
    let malformed = |what: &str, at: &str, detail: String| FailClosed::Fetch {
        what: format!("{what} ({at})"),
        detail,
    };
    let (time, info) = std::thread::scope(|scope| {
        let time = scope.spawn(|| fetch(Endpoint::Time, "server time (/fapi/v1/time)"));
        let info = fetch(Endpoint::ExchangeInfo, "exchangeInfo");
        (join(time), info)
    });
    let ((time, time_at), (info, info_at)) = (time?, info?);
    let server_time = wire::parse_time(&time).map_err(|e| malformed("server time", &time_at, e))?;
    let exchange =
        wire::parse_exchange_info(&info).map_err(|e| malformed("exchangeInfo", &info_at, e))?;
    drop(info);
    if let Some(limit) = exchange.weight_limit {
        source.observe_weight_limit(limit);
    }
    let (tickers, books) = std::thread::scope(|scope| {
        let tickers = scope.spawn(|| fetch(Endpoint::Ticker24h, "24h tickers"));
        let books = fetch(Endpoint::BookTicker, "book tickers");
        (join(tickers), books)
    });
    let ((tickers, tickers_at), (books, books_at)) = (tickers?, books?);
    let tickers =
        wire::parse_tickers(&tickers).map_err(|e| malformed("24h tickers", &tickers_at, e))?;
    let books = wire::parse_books(&books).map_err(|e| malformed("book tickers", &books_at, e))?;
    let mut conflicts: BTreeMap<String, String> = BTreeMap::new();
    for (symbol, detail) in exchange
        .conflicts
        .into_iter()
        .chain(tickers.conflicts)
        .chain(books.conflicts)
    {
        conflicts
            .entry(symbol)
            .and_modify(|d| {
                d.push_str("; ");
                d.push_str(&detail);
            })
            .or_insert(detail);
    }
    let mut symbols = exchange.symbols;
    // a symbol whose exchangeInfo records conflict still gets its verdict
    for symbol in conflicts.keys() {
        if !symbols.iter().any(|s| &s.symbol == symbol) {
            symbols.push(SymbolInfo::unknown(symbol));
        }
    }
    Ok(Overview {
        server_time,
        symbols,
        weight_limit: exchange.weight_limit,
        quote_volumes: tickers.values,
        books: books.values,
        conflicts,
    })
}

fn join<T>(handle: std::thread::ScopedJoinHandle<'_, T>) -> T {
    handle
        .join()
        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
}

/// Workers start this many ms apart, so their connections open a few at a time: a burst
/// of simultaneous connects overflows a small accept backlog (the replay server's is 5)
/// and the dropped ones cost a 1 s SYN retransmit. 16 workers start within 60 ms.
const STAGGER_MS: u64 = 4;

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
    std::thread::scope(|scope| {
        for k in 0..concurrency.clamp(1, symbols.len().max(1)) {
            scope.spawn(move || {
                std::thread::sleep(std::time::Duration::from_millis(STAGGER_MS * k as u64));
                worker();
            });
        }
    });
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

#[cfg(test)]
mod tests;
