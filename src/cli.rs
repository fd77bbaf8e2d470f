//! The command line: one documented struct per subcommand. Every option can also be set
//! by the environment variable shown in `--help`, and most by the config file; the
//! command line wins over the environment, which wins over the file.
//! Nothing here is checked beyond its type: [`crate::settings`] resolves and validates
//! it, with the file and the defaults, into the settings the commands run on. Settings
//! therefore carry no clap default (it would hide the file's value; the defaults are in
//! `settings`); only flags that are no setting do (`history fetch --deadline`).
//!
//! The doc comments below are `--help` text, shown verbatim: no Markdown in them.
#![allow(clippy::doc_markdown)]

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::settings::Overrides;
use crate::settings::knobs::on;

mod history;
mod knobs;
mod tune;
pub use history::{HistoryArgs, HistoryCommand, HistoryFetchArgs, HistoryImportArgs};
pub use knobs::Knobs;
pub use tune::TuneArgs;

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
    /// Replay the exact decision over a history, point in time, and what it would have
    /// earned against buy-and-hold, equal weight and random universes.
    Backtest(BacktestArgs),
    /// Build a history for backtests: from the exchange (fetch) or from Binance's public
    /// archive (import).
    History(HistoryArgs),
    /// Choose the score weights walk-forward on a history, judged out of sample only,
    /// and say whether there is evidence they beat the configured ones.
    Tune(TuneArgs),
    /// Write a new Ed25519 key pair for signing policies: the key file (mode 600) and its
    /// public half, the entry policy.trusted_keys takes.
    Keygen(KeygenArgs),
}

#[derive(Debug, Args)]
#[command(
    after_help = "Example:\n  universe keygen --out /etc/universe/signing.key\n\nThen set policy.signing_key_file to that file where policies are published, and\nadd the printed entry to policy.trusted_keys where they are checked (proof, consumers)."
)]
pub struct KeygenArgs {
    /// The key file to create (never overwritten); its public half goes to FILE.pub.
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
}

#[derive(Debug, Args)]
pub struct BacktestArgs {
    /// A history folder in the snapshot layout: exchangeInfo.json, meta.json,
    /// klines/SYMBOL_15m.csv, and funding/SYMBOL.csv if funding is to be paid.
    #[arg(long, value_name = "DIR")]
    pub history: PathBuf,

    /// First decision, UTC: 2023-07-10 or "2023-07-10 12:00" [default: the first moment
    /// 96 hours of candles exist].
    #[arg(long, value_name = "TIME")]
    pub from: Option<String>,

    /// Last decision, UTC [default: the end of the recording].
    #[arg(long, value_name = "TIME")]
    pub to: Option<String>,

    /// Time between decisions: 15m, 30m, 1h, … (whole minutes).
    #[arg(long, default_value = "15m", value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub step: std::time::Duration,

    /// Taker fee per side, in basis points of the traded value.
    #[arg(long, default_value_t = 5.0, value_name = "BPS")]
    pub fee_bps: f64,

    /// Random universes drawn for the null hypothesis band.
    #[arg(long, default_value_t = 100, value_name = "N")]
    pub draws: usize,

    /// The flat leverage the published leverage's liquidation proxy is compared with.
    #[arg(long, default_value_t = 10, value_name = "X")]
    pub flat_leverage: u32,

    #[command(flatten)]
    pub knobs: Knobs<{ on::SIZE }>,

    /// Print every step and the figures as JSON.
    #[arg(long, env = "UNIVERSE_JSON")]
    pub json: bool,

    /// Write a self-contained HTML report with SVG charts to this file.
    #[arg(long, value_name = "FILE.html")]
    pub report: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct PerfArgs {
    #[command(subcommand)]
    pub command: PerfCommand,
}

#[derive(Debug, Subcommand)]
pub enum PerfCommand {
    /// Set one symbol's record by hand (universe's fields; the tracker's stay as written).
    Record(PerfRecordArgs),
    /// Fold closed trades from the trade stream into the records, each exactly once.
    Ingest(PerfIngestArgs),
    /// Print the records of the given symbols, or of every symbol that has one.
    Show(PerfShowArgs),
}

impl PerfArgs {
    pub fn overrides(&self) -> Overrides {
        match &self.command {
            PerfCommand::Record(a) => a.store.overrides(),
            PerfCommand::Ingest(a) => a.store.overrides(),
            PerfCommand::Show(a) => a.store.overrides(),
        }
    }
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

#[derive(Debug, Args)]
pub struct RotationArgs {
    #[command(flatten)]
    pub selection: SelectionArgs,
    /// Print the recommendations as JSON.
    #[arg(long, env = "UNIVERSE_JSON")]
    pub json: bool,
}

/// Where the policy lives: the store knob alone.
pub type StoreArgs = Knobs<{ on::STORE }>;

/// What the selection is asked for (shared by `generate`, `explain`, `rotation`).
#[derive(Debug, Args)]
pub struct SelectionArgs {
    #[command(flatten)]
    pub knobs: Knobs<{ on::SELECTION }>,

    /// "binance" (live, from --base-url) or a snapshot folder made by `universe snapshot`
    /// [default: binance].
    #[arg(long, env = "UNIVERSE_SOURCE", value_name = "binance|DIR")]
    pub source: Option<String>,

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

#[derive(Debug, Args)]
pub struct GenerateArgs {
    #[command(flatten)]
    pub selection: SelectionArgs,

    #[command(flatten)]
    pub validity: Knobs<{ on::VALIDITY }>,

    /// Compute and print the result, write nothing (the store is only read).
    #[arg(long, env = "UNIVERSE_DRY_RUN")]
    pub dry_run: bool,

    /// After each refresh, write Prometheus metrics here (node_exporter's textfile
    /// collector folder), atomically: last success, last attempt and its outcome, size…
    #[arg(long, env = "UNIVERSE_METRICS_FILE", value_name = "PATH")]
    pub metrics_file: Option<PathBuf>,

    /// Print JSON on stdout: every exchangeInfo symbol with its features, score and
    /// decision, or the reason it was excluded.
    #[arg(long, env = "UNIVERSE_JSON")]
    pub json: bool,
}

impl GenerateArgs {
    pub fn overrides(&self) -> Overrides {
        self.selection
            .knobs
            .overrides()
            .and(self.validity.overrides())
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
    pub knobs: Knobs<{ on::MARKET }>,

    /// New or empty folder to record into.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
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

#[derive(Debug, Args)]
pub struct ProofArgs {
    #[command(flatten)]
    pub knobs: Knobs<{ on::STORE | on::SIZE }>,

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

    #[command(flatten)]
    pub validity: Knobs<{ on::VALIDITY | on::SIZE }>,
}

#[derive(Debug, Args)]
pub struct ConfigArgs {
    /// The same flags as `generate`, to see their effect.
    #[command(flatten)]
    pub generate: GenerateArgs,
}
