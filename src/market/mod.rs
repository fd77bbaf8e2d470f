//! Market data: where it comes from ([`Source`]: the exchange or a recorded snapshot),
//! what a refresh reads of it ([`Endpoint`]), and how it is gathered in parallel.
//!
//! - `wire`: Binance's JSON shapes, parsed strictly.
//! - `client`: the HTTP source, behind the `limiter`'s request-weight gate.
//! - `snapshot`: a folder of recorded responses, and the recorder that writes one.
//! - `candles`: closed-candle windows (15m, and 1h built from aligned 15m candles).
//! - `gather`: one refresh's reading (overview, freshness, candles), and `view`: what
//!   the decision reads of it, borrowed.

pub mod cache;
pub mod candles;
pub mod client;
pub mod limiter;
pub mod listing;
pub mod memory;
pub mod snapshot;
pub mod wire;

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

    /// What a request is waiting for right now (the next minute's weight, a 429's
    /// `Retry-After`), for progress lines.
    fn waiting_for(&self) -> Option<String> {
        None
    }

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

mod fetch;
pub mod gather;
mod overview;
pub mod view;

pub use fetch::{CandleFetch, CandleRequest, CandleResult, fetch_candles};
pub use overview::{Overview, fetch_overview};
pub use view::MarketView;

#[cfg(test)]
mod tests;
