//! The command line: one documented struct per subcommand. Every option can also be set
//! by the environment variable shown in `--help`, and most by the config file; the
//! command line wins over the environment, which wins over the file.
//!
//! Nothing here is checked beyond its type: [`crate::settings`] resolves and validates
//! it, with the file and the defaults, into the settings the commands run on. Options
//! therefore carry no clap default (a default would hide the file's value); the defaults
//! are in the help text and in `settings`.
//!
//! The doc comments below are `--help` text, shown verbatim: no Markdown in them.
#![allow(clippy::doc_markdown)]

use std::path::PathBuf;

use clap::{ArgMatches, Args, Parser, Subcommand};

use crate::settings::Overrides;

#[derive(Debug, Parser)]
#[command(
    name = "universe",
    version,
    about = "Decides which Binance USDⓈ-M perpetuals may be traded now, and publishes that policy",
    long_about = "Decides which Binance USDⓈ-M perpetual futures a trading system may trade right now, \
and publishes that decision (the policy) to Redis or to a folder.\n\n\
It fails closed: when market data is not trustworthy it publishes nothing, leaves the \
previous policy untouched, says why on stderr and exits non-zero.\n\n\
Settings come from the command line, then UNIVERSE_* variables, then the --config file, \
then defaults; `universe config` shows each value and where it came from.\n\n\
Exit codes: 0 success, 1 other failure, 2 usage or config error, 3 fail-closed (market \
data not trustworthy), 4 store unreachable or write failed, 5 proof failed, 6 universe stuck."
)]
pub struct Cli {
    /// TOML config file; examples/universe.toml lists every key with its default.
    #[arg(long, global = true, env = "UNIVERSE_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Fetch the market, select the universe and publish the policy with an audit entry.
    Generate(GenerateArgs),
    /// Explain, for each symbol, every check, feature, score component and decision.
    Explain(ExplainArgs),
    /// Record every response a `generate` run reads into a folder, for offline replay.
    Snapshot(SnapshotArgs),
    /// Print the current policy: rank, symbol, score, features, leverage and validity.
    Show(ShowArgs),
    /// Check the current policy: numbered PASS/FAIL lines; exit 0 only if all pass.
    Proof(ProofArgs),
    /// How the universe changed: each change of universe_hash in the audit trail.
    DiffHash(DiffHashArgs),
    /// Republish an audited universe with a fresh validity (generator manual_rollback).
    Rollback(RollbackArgs),
    /// Print the effective configuration and where each value came from.
    Config(ConfigArgs),
    /// Per-symbol performance records: set one, fold in closed trades, show them.
    Perf(PerfArgs),
    /// The current rotation recommendations (evict, expand, new models), publishing nothing.
    Rotation(RotationArgs),
}

#[derive(Debug, Args)]
pub struct PerfArgs {
    #[command(subcommand)]
    pub command: PerfCommand,
}

#[derive(Debug, Subcommand)]
pub enum PerfCommand {
    /// Set one symbol's record by hand (it replaces what is there).
    Record(PerfRecordArgs),
    /// Fold closed trades from the trade stream into the records, each exactly once.
    Ingest(PerfIngestArgs),
    /// Print the records of the given symbols, or of every symbol that has one.
    Show(PerfShowArgs),
}

#[derive(Debug, Args)]
pub struct PerfRecordArgs {
    /// The symbol, e.g. BTCUSDT.
    pub symbol: String,
    /// Share of winning trades, 0 to 1.
    #[arg(long, value_name = "FRACTION")]
    pub win_rate: f64,
    /// Sum of the trades' PnL.
    #[arg(long, value_name = "PNL", allow_negative_numbers = true)]
    pub total_pnl: f64,
    /// Largest peak-to-trough fall of cumulative PnL, as a fraction, 0 to 1.
    #[arg(long, value_name = "FRACTION")]
    pub max_drawdown: f64,
    /// Number of closed trades.
    #[arg(long, value_name = "N")]
    pub trades: u64,
    #[command(flatten)]
    pub store: StoreArgs,
}

#[derive(Debug, Args)]
pub struct PerfIngestArgs {
    /// Consumer name within the group; a restarted run with the same name finishes what
    /// a killed one left pending.
    #[arg(long, default_value = "universe", value_name = "NAME")]
    pub consumer: String,
    /// Trades per transaction (record updates and their XACK together).
    #[arg(long, default_value_t = 100, value_name = "N")]
    pub batch: usize,
    /// Claim the entries another consumer read and left pending this long (a run killed
    /// under another name), before reading new ones. A duration: 90s, 10m, 1h.
    #[arg(long, default_value = "10m", value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub claim_idle: std::time::Duration,
    #[command(flatten)]
    pub store: StoreArgs,
    /// Print what was ingested as JSON.
    #[arg(long, env = "UNIVERSE_JSON")]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct PerfShowArgs {
    /// Symbols to show; none: every symbol with a record.
    #[arg(value_name = "SYMBOL")]
    pub symbols: Vec<String>,
    #[command(flatten)]
    pub store: StoreArgs,
    /// Print the records as JSON.
    #[arg(long, env = "UNIVERSE_JSON")]
    pub json: bool,
}

impl PerfArgs {
    pub fn overrides(&self, m: &ArgMatches) -> Overrides {
        let mut o = Overrides::default();
        let store = match &self.command {
            PerfCommand::Record(a) => &a.store,
            PerfCommand::Ingest(a) => &a.store,
            PerfCommand::Show(a) => &a.store,
        };
        store.overrides(m, &mut o);
        o
    }
}

#[derive(Debug, Args)]
pub struct RotationArgs {
    #[command(flatten)]
    pub selection: SelectionArgs,
    /// Print the recommendations as JSON.
    #[arg(long, env = "UNIVERSE_JSON")]
    pub json: bool,
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

impl StoreArgs {
    fn overrides(&self, m: &ArgMatches, o: &mut Overrides) {
        o.take(
            m,
            "store",
            "store.url",
            "UNIVERSE_STORE",
            self.store.clone(),
        );
    }
}

/// How the market is read and screened.
#[derive(Debug, Args)]
pub struct MarketArgs {
    /// Binance USDⓈ-M REST base URL [default: https://fapi.binance.com].
    #[arg(long, env = "UNIVERSE_BINANCE_URL", value_name = "URL")]
    pub base_url: Option<String>,

    /// Exclude symbols whose 24h quote volume (USDT) is below this [default: 20000000].
    #[arg(long, env = "UNIVERSE_MIN_QUOTE_VOLUME", value_name = "USDT")]
    pub min_quote_volume: Option<f64>,

    /// Exclude symbols whose bid/ask spread is wider than this, in basis points of the
    /// mid [default: 15].
    #[arg(long, env = "UNIVERSE_MAX_SPREAD_BPS", value_name = "BPS")]
    pub max_spread_bps: Option<f64>,

    /// Exclude symbols listed fewer days ago than this, by the exchange's clock
    /// [default: 30].
    #[arg(long, env = "UNIVERSE_MIN_AGE_DAYS", value_name = "DAYS")]
    pub min_age_days: Option<f64>,

    /// Candle requests in flight at once, 1–64 [default: 16].
    #[arg(long, env = "UNIVERSE_CONCURRENCY", value_name = "N")]
    pub concurrency: Option<usize>,

    /// Request weight the IP may reach per minute, counting what the exchange reports as
    /// used by others; past it the run waits for the next minute [default: 1200].
    #[arg(long, env = "UNIVERSE_WEIGHT_BUDGET", value_name = "WEIGHT")]
    pub weight_budget: Option<u32>,

    /// Seconds the whole run may take; past it, it fails closed [default: 120].
    #[arg(long, env = "UNIVERSE_DEADLINE", value_name = "SECONDS")]
    pub deadline: Option<u64>,

    /// Seconds one HTTP request may take before it counts as failed and is retried
    /// [default: 10].
    #[arg(long, env = "UNIVERSE_REQUEST_TIMEOUT", value_name = "SECONDS")]
    pub request_timeout: Option<u64>,

    /// Fail closed when the exchange's clock (the time of its data) is more than this
    /// many seconds behind the local clock: a frozen mirror or a stuck proxy. 0 turns the
    /// check off; a snapshot replay (--source DIR) is never checked [default: 300].
    #[arg(long, env = "UNIVERSE_MAX_DATA_AGE", value_name = "SECONDS")]
    pub max_data_age: Option<u64>,
}

impl MarketArgs {
    fn overrides(&self, m: &ArgMatches, o: &mut Overrides) {
        o.take(
            m,
            "base_url",
            "exchange.base_url",
            "UNIVERSE_BINANCE_URL",
            self.base_url.clone(),
        );
        o.take(
            m,
            "min_quote_volume",
            "filters.min_quote_volume",
            "UNIVERSE_MIN_QUOTE_VOLUME",
            self.min_quote_volume,
        );
        o.take(
            m,
            "max_spread_bps",
            "filters.max_spread_bps",
            "UNIVERSE_MAX_SPREAD_BPS",
            self.max_spread_bps,
        );
        o.take(
            m,
            "min_age_days",
            "filters.min_age_days",
            "UNIVERSE_MIN_AGE_DAYS",
            self.min_age_days,
        );
        o.take(
            m,
            "concurrency",
            "exchange.concurrency",
            "UNIVERSE_CONCURRENCY",
            self.concurrency.map(to_i64),
        );
        o.take(
            m,
            "weight_budget",
            "exchange.weight_budget",
            "UNIVERSE_WEIGHT_BUDGET",
            self.weight_budget.map(i64::from),
        );
        o.take(
            m,
            "deadline",
            "exchange.deadline_s",
            "UNIVERSE_DEADLINE",
            self.deadline.map(to_i64),
        );
        o.take(
            m,
            "request_timeout",
            "exchange.request_timeout_s",
            "UNIVERSE_REQUEST_TIMEOUT",
            self.request_timeout.map(to_i64),
        );
        o.take(
            m,
            "max_data_age",
            "exchange.max_data_age_s",
            "UNIVERSE_MAX_DATA_AGE",
            self.max_data_age.map(to_i64),
        );
    }
}

/// What the selection is asked for (shared by `generate` and `explain`).
#[derive(Debug, Args)]
pub struct SelectionArgs {
    #[command(flatten)]
    pub market: MarketArgs,

    /// "binance" (live, from --base-url) or a snapshot folder made by `universe snapshot`
    /// [default: binance].
    #[arg(long, env = "UNIVERSE_SOURCE", value_name = "binance|DIR")]
    pub source: Option<String>,

    #[command(flatten)]
    pub store: StoreArgs,

    /// Universe size: the best N scored symbols [default: 10].
    #[arg(long, env = "UNIVERSE_TOP", value_name = "N")]
    pub top: Option<usize>,

    /// Fail closed when fewer symbols than this can be scored [default: 3].
    #[arg(long, env = "UNIVERSE_MIN_SYMBOLS", value_name = "N")]
    pub min_symbols: Option<usize>,

    /// Fetch every symbol's candles in full, neither reading nor writing the candle cache.
    #[arg(long, env = "UNIVERSE_NO_CACHE")]
    pub no_cache: bool,

    /// Symbols with open positions, comma-separated; replaces the store's held set
    /// (the Redis set store.held_set, quantum:positions:open by default).
    #[arg(
        long,
        env = "UNIVERSE_HELD",
        value_name = "SYMBOLS",
        value_delimiter = ','
    )]
    pub held: Option<Vec<String>>,
}

impl SelectionArgs {
    pub fn overrides(&self, m: &ArgMatches) -> Overrides {
        let mut o = Overrides::default();
        self.market.overrides(m, &mut o);
        self.store.overrides(m, &mut o);
        size_overrides(m, &mut o, self.top, self.min_symbols);
        o.take(
            m,
            "no_cache",
            "cache.enabled",
            "UNIVERSE_NO_CACHE",
            self.no_cache.then_some(false),
        );
        o
    }
}

#[derive(Debug, Args)]
pub struct GenerateArgs {
    #[command(flatten)]
    pub selection: SelectionArgs,

    /// Seconds the published policy stays valid, from when it is made (local clock)
    /// [default: 3600].
    #[arg(long, env = "UNIVERSE_VALID_FOR", value_name = "SECONDS")]
    pub valid_for: Option<u64>,

    /// Compute and print the result, write nothing (the store is only read).
    #[arg(long, env = "UNIVERSE_DRY_RUN")]
    pub dry_run: bool,

    /// Print JSON on stdout: every exchangeInfo symbol with its features, score and
    /// decision, or the reason it was excluded.
    #[arg(long, env = "UNIVERSE_JSON")]
    pub json: bool,
}

impl GenerateArgs {
    pub fn overrides(&self, m: &ArgMatches) -> Overrides {
        let mut o = self.selection.overrides(m);
        o.take(
            m,
            "valid_for",
            "policy.valid_for_s",
            "UNIVERSE_VALID_FOR",
            self.valid_for.map(to_i64),
        );
        o
    }
}

#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// The symbols to explain.
    #[arg(required = true, value_name = "SYMBOL")]
    pub symbols: Vec<String>,

    #[command(flatten)]
    pub selection: SelectionArgs,

    /// Print the explanations as JSON.
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

impl SnapshotArgs {
    pub fn overrides(&self, m: &ArgMatches) -> Overrides {
        let mut o = Overrides::default();
        self.market.overrides(m, &mut o);
        o
    }
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    #[command(flatten)]
    pub store: StoreArgs,

    /// Print the policy as JSON.
    #[arg(long, env = "UNIVERSE_JSON", conflicts_with = "audit_line")]
    pub json: bool,

    /// Print only the line the Python deployment's policy_refresh.sh logged, which
    /// operators grep: `POLICY_AUDIT: version=… hash=… universe_count=… valid_until=…`.
    #[arg(long)]
    pub audit_line: bool,
}

impl ShowArgs {
    pub fn overrides(&self, m: &ArgMatches) -> Overrides {
        let mut o = Overrides::default();
        self.store.overrides(m, &mut o);
        o
    }
}

#[derive(Debug, Args)]
pub struct ProofArgs {
    #[command(flatten)]
    pub store: StoreArgs,

    /// The universe must hold at least this many symbols [default: 3].
    #[arg(long, env = "UNIVERSE_MIN_SYMBOLS", value_name = "N")]
    pub min_symbols: Option<usize>,

    /// The universe may hold at most this many symbols [default: 10].
    #[arg(long, env = "UNIVERSE_TOP", value_name = "N")]
    pub top: Option<usize>,

    /// Print the checks as JSON.
    #[arg(long, env = "UNIVERSE_JSON")]
    pub json: bool,
}

impl ProofArgs {
    pub fn overrides(&self, m: &ArgMatches) -> Overrides {
        let mut o = Overrides::default();
        self.store.overrides(m, &mut o);
        size_overrides(m, &mut o, self.top, self.min_symbols);
        o
    }
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

impl DiffHashArgs {
    pub fn overrides(&self, m: &ArgMatches) -> Overrides {
        let mut o = Overrides::default();
        self.store.overrides(m, &mut o);
        o
    }
}

#[derive(Debug, Args)]
#[group(required = true, multiple = false, id = "target")]
pub struct RollbackArgs {
    /// The universe_hash to republish (the newest audit entry with it).
    #[arg(long, value_name = "UNIVERSE_HASH", group = "target")]
    pub to: Option<String>,

    /// Go back this many universe changes (1: the universe before the current one).
    #[arg(long, value_name = "N", group = "target")]
    pub steps: Option<usize>,

    #[command(flatten)]
    pub store: StoreArgs,

    /// Seconds the republished policy stays valid [default: 3600].
    #[arg(long, env = "UNIVERSE_VALID_FOR", value_name = "SECONDS")]
    pub valid_for: Option<u64>,
}

impl RollbackArgs {
    pub fn overrides(&self, m: &ArgMatches) -> Overrides {
        let mut o = Overrides::default();
        self.store.overrides(m, &mut o);
        o.take(
            m,
            "valid_for",
            "policy.valid_for_s",
            "UNIVERSE_VALID_FOR",
            self.valid_for.map(to_i64),
        );
        o
    }
}

#[derive(Debug, Args)]
pub struct ConfigArgs {
    /// The same flags as `generate`, to see their effect.
    #[command(flatten)]
    pub generate: GenerateArgs,
}

/// `--top` and `--min-symbols`, which several subcommands take.
fn size_overrides(
    m: &ArgMatches,
    o: &mut Overrides,
    top: Option<usize>,
    min_symbols: Option<usize>,
) {
    o.take(m, "top", "selection.top", "UNIVERSE_TOP", top.map(to_i64));
    o.take(
        m,
        "min_symbols",
        "selection.min_symbols",
        "UNIVERSE_MIN_SYMBOLS",
        min_symbols.map(to_i64),
    );
}

/// TOML integers are i64; counts from the command line always fit.
fn to_i64<T: TryInto<i64>>(value: T) -> i64 {
    value.try_into().unwrap_or(i64::MAX)
}
