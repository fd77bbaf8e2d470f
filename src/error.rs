//! The typed errors that decide an exit code (see [`crate::exit`]).

use std::fmt;

/// A bad flag, environment variable or value. The message names the one at fault.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// Why a refresh refused to publish: the market data is not trustworthy.
#[derive(Debug, thiserror::Error)]
pub enum FailClosed {
    #[error("could not fetch {what}: {detail}")]
    Fetch { what: String, detail: String },
    #[error(
        "{faults} archive files were not imported into {out} as they are (the rest was): {detail}"
    )]
    Import {
        faults: usize,
        out: String,
        detail: String,
    },
    #[error(
        "the exchange answered 418 (IP banned{}) at {url}; every request stopped",
        retry_after_s.map(|s| format!(" for {s}s")).unwrap_or_default()
    )]
    Banned {
        url: String,
        retry_after_s: Option<u64>,
    },
    #[error(
        "the run's deadline of {seconds}s passed before the data was complete{}",
        if waiting.is_empty() { String::new() } else { format!(": {waiting}") }
    )]
    Deadline { seconds: u64, waiting: String },
    #[error("candle fetches failed for {failed} of {needed} symbols (more than 2%): {examples}")]
    CandleFailures {
        failed: usize,
        needed: usize,
        examples: String,
    },
    #[error("only {scored} symbols could be scored, fewer than --min-symbols {min}")]
    TooFewScored { scored: usize, min: usize },
    #[error(
        "only {chosen} of the {scored} scored symbols were chosen, fewer than --min-symbols {min}"
    )]
    TooFewChosen {
        chosen: usize,
        scored: usize,
        min: usize,
    },
    #[error(
        "the exchange's data is {age} old (its clock says {server}, the local clock {local}), more than --max-data-age {max_s}s: a frozen mirror or a stuck proxy?"
    )]
    Stale {
        age: String,
        server: String,
        local: String,
        max_s: u64,
    },
}

/// The store could not be reached, read or written. `store` is the redacted location.
#[derive(Debug)]
pub struct StoreError {
    pub store: String,
    pub fault: StoreFault,
    pub message: String,
}

/// What kind of store failure, for callers that branch on it (all exit 4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreFault {
    /// The store could not be reached: refused, timed out, the connection dropped.
    Unreachable,
    /// The policy changed while this run computed: another generator published.
    Conflict,
    /// A key holds something another program wrote, of a type the store will not
    /// overwrite; nothing was written.
    Foreign,
    /// Anything else: a command refused, a file that could not be read or written.
    Failed,
}

impl StoreError {
    /// A failure of kind [`StoreFault::Failed`].
    pub fn new(store: impl Into<String>, message: impl fmt::Display) -> Self {
        Self::of(StoreFault::Failed, store, message)
    }

    pub fn of(fault: StoreFault, store: impl Into<String>, message: impl fmt::Display) -> Self {
        Self {
            store: store.into(),
            fault,
            message: message.to_string(),
        }
    }
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "store {}: {}", self.store, self.message)
    }
}

impl std::error::Error for StoreError {}
