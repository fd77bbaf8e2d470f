//! The command line: one documented struct per subcommand. Every option can also be set
//! by the environment variable shown in `--help`; the command line wins.
//!
//! Nothing here is checked beyond its type: [`crate::config`] validates it into the
//! plain settings the commands run on.
//!
//! The doc comments below are `--help` text, shown verbatim: no Markdown in them.
#![allow(clippy::doc_markdown)]

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "universe",
    version,
    about = "Decides which Binance USDⓈ-M perpetuals may be traded now, and publishes that policy",
    long_about = "Decides which Binance USDⓈ-M perpetual futures a trading system may trade right now, \
and publishes that decision (the policy) to Redis or to a folder.\n\n\
It fails closed: when market data is not trustworthy it publishes nothing, leaves the \
previous policy untouched, says why on stderr and exits non-zero.\n\n\
Exit codes: 0 success, 1 other failure, 2 usage or config error, 3 fail-closed (market \
data not trustworthy), 4 store unreachable or write failed, 5 proof failed, 6 universe stuck."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Fetch the market, select the universe and publish the policy with an audit entry.
    Generate(GenerateArgs),
    /// Record every response a `generate` run reads into a folder, for offline replay.
    Snapshot(SnapshotArgs),
    /// Print the current policy: rank, symbol, score, features, leverage and validity.
    Show(ShowArgs),
    /// Check the current policy: numbered PASS/FAIL lines; exit 0 only if all pass.
    Proof(ProofArgs),
    /// How the universe changed: each change of universe_hash in the audit trail.
    DiffHash(DiffHashArgs),
}

/// Where the policy lives.
#[derive(Debug, Args)]
pub struct StoreArgs {
    /// redis://[user:password@]host[:port][/db], rediss://… (TLS), or file:DIR.
    /// Default: the file store in $XDG_STATE_HOME/universe, else ~/.local/state/universe.
    /// A password is never printed.
    #[arg(
        long,
        env = "UNIVERSE_STORE",
        hide_env_values = true,
        value_name = "URL"
    )]
    pub store: Option<String>,
}

/// How the market is read and screened (shared by `generate` and `snapshot`).
#[derive(Debug, Args)]
pub struct MarketArgs {
    /// Binance USDⓈ-M REST base URL.
    #[arg(
        long,
        env = "UNIVERSE_BINANCE_URL",
        default_value = "https://fapi.binance.com",
        value_name = "URL"
    )]
    pub base_url: String,

    /// Exclude symbols whose 24h quote volume (USDT) is below this.
    #[arg(
        long,
        env = "UNIVERSE_MIN_QUOTE_VOLUME",
        default_value_t = 20_000_000.0,
        value_name = "USDT"
    )]
    pub min_quote_volume: f64,

    /// Exclude symbols whose bid/ask spread is wider than this, in basis points of the mid.
    #[arg(
        long,
        env = "UNIVERSE_MAX_SPREAD_BPS",
        default_value_t = 15.0,
        value_name = "BPS"
    )]
    pub max_spread_bps: f64,

    /// Exclude symbols listed fewer days ago than this (by the exchange's clock).
    #[arg(
        long,
        env = "UNIVERSE_MIN_AGE_DAYS",
        default_value_t = 30.0,
        value_name = "DAYS"
    )]
    pub min_age_days: f64,

    /// Candle requests in flight at once (1–64).
    #[arg(
        long,
        env = "UNIVERSE_CONCURRENCY",
        default_value_t = 16,
        value_name = "N"
    )]
    pub concurrency: usize,

    /// Request weight this run may use per minute, including what the exchange reports
    /// as already used by this IP; past it the run waits for the next minute.
    #[arg(
        long,
        env = "UNIVERSE_WEIGHT_BUDGET",
        default_value_t = 1200,
        value_name = "WEIGHT"
    )]
    pub weight_budget: u32,

    /// Seconds the whole run may take; past it, it fails closed.
    #[arg(
        long,
        env = "UNIVERSE_DEADLINE",
        default_value_t = 120,
        value_name = "SECONDS"
    )]
    pub deadline: u64,

    /// Seconds one HTTP request may take before it counts as failed (and is retried).
    #[arg(
        long,
        env = "UNIVERSE_REQUEST_TIMEOUT",
        default_value_t = 10,
        value_name = "SECONDS"
    )]
    pub request_timeout: u64,
}

#[derive(Debug, Args)]
pub struct GenerateArgs {
    #[command(flatten)]
    pub market: MarketArgs,

    /// "binance" (live, from --base-url) or a snapshot folder made by `universe snapshot`.
    #[arg(
        long,
        env = "UNIVERSE_SOURCE",
        default_value = "binance",
        value_name = "binance|DIR"
    )]
    pub source: String,

    #[command(flatten)]
    pub store: StoreArgs,

    /// Universe size: the best N scored symbols.
    #[arg(long, env = "UNIVERSE_TOP", default_value_t = 10, value_name = "N")]
    pub top: usize,

    /// Fail closed when fewer symbols than this can be scored.
    #[arg(
        long,
        env = "UNIVERSE_MIN_SYMBOLS",
        default_value_t = 3,
        value_name = "N"
    )]
    pub min_symbols: usize,

    /// Seconds the published policy stays valid, from when it is made (local clock).
    #[arg(
        long,
        env = "UNIVERSE_VALID_FOR",
        default_value_t = 3600,
        value_name = "SECONDS"
    )]
    pub valid_for: u64,

    /// Compute and print the result, write nothing (the store is not touched).
    #[arg(long, env = "UNIVERSE_DRY_RUN")]
    pub dry_run: bool,

    /// Print JSON on stdout: every exchangeInfo symbol with its features and score, or
    /// the reason it was excluded.
    #[arg(long, env = "UNIVERSE_JSON")]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct SnapshotArgs {
    #[command(flatten)]
    pub market: MarketArgs,

    /// New or empty folder to record into.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    #[command(flatten)]
    pub store: StoreArgs,

    /// Print the policy as JSON.
    #[arg(long, env = "UNIVERSE_JSON")]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ProofArgs {
    #[command(flatten)]
    pub store: StoreArgs,

    /// The universe must hold at least this many symbols.
    #[arg(
        long,
        env = "UNIVERSE_MIN_SYMBOLS",
        default_value_t = 3,
        value_name = "N"
    )]
    pub min_symbols: usize,

    /// The universe may hold at most this many symbols.
    #[arg(long, env = "UNIVERSE_TOP", default_value_t = 10, value_name = "N")]
    pub top: usize,

    /// Print the checks as JSON.
    #[arg(long, env = "UNIVERSE_JSON")]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct DiffHashArgs {
    #[command(flatten)]
    pub store: StoreArgs,

    /// List changes made within this long ago (e.g. 90m, 24h, 7d).
    #[arg(
        long,
        env = "UNIVERSE_DIFF_SINCE",
        default_value = "24h",
        value_name = "DURATION"
    )]
    pub since: String,

    /// Exit 6 when the universe has not changed for longer than this.
    #[arg(
        long,
        env = "UNIVERSE_STUCK_AFTER",
        default_value = "6h",
        value_name = "DURATION"
    )]
    pub stuck_after: String,

    /// Print the changes and the summary as JSON.
    #[arg(long, env = "UNIVERSE_JSON")]
    pub json: bool,
}
