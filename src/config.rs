//! Validated settings: what the commands run on. Every error names the flag (and its
//! environment variable) at fault, and is a usage error (exit 2).

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::cli::{DiffHashArgs, GenerateArgs, MarketArgs, ProofArgs, StoreArgs};
use crate::error::UsageError;
use crate::market::client::ClientSettings;
use crate::select::Filters;
use crate::store::Location;

/// Where market data comes from.
#[derive(Debug, Clone)]
pub enum SourceConfig {
    Live(ClientSettings),
    Snapshot(PathBuf),
}

/// How a refresh reads and screens the market.
#[derive(Debug, Clone)]
pub struct MarketConfig {
    pub client: ClientSettings,
    pub filters: Filters,
}

#[derive(Debug, Clone)]
pub struct GenerateConfig {
    pub source: SourceConfig,
    pub filters: Filters,
    pub concurrency: usize,
    pub top: usize,
    pub min_symbols: usize,
    pub valid_for_s: u64,
    pub store: Location,
    pub dry_run: bool,
    pub json: bool,
}

#[derive(Debug, Clone)]
pub struct ProofConfig {
    pub store: Location,
    pub min_symbols: usize,
    pub top: usize,
    pub json: bool,
}

#[derive(Debug, Clone)]
pub struct DiffHashConfig {
    pub store: Location,
    pub since: Duration,
    pub stuck_after: Duration,
    pub json: bool,
}

fn usage(message: impl Into<String>) -> UsageError {
    UsageError(message.into())
}

impl MarketConfig {
    pub fn from_args(args: &MarketArgs) -> Result<Self, UsageError> {
        let base_url = args.base_url.trim_end_matches('/').to_owned();
        if !(base_url.starts_with("http://") || base_url.starts_with("https://")) {
            return Err(usage(format!(
                "--base-url (UNIVERSE_BINANCE_URL) {base_url:?}: expected http://… or https://…"
            )));
        }
        non_negative(
            "--min-quote-volume (UNIVERSE_MIN_QUOTE_VOLUME)",
            args.min_quote_volume,
        )?;
        non_negative(
            "--max-spread-bps (UNIVERSE_MAX_SPREAD_BPS)",
            args.max_spread_bps,
        )?;
        non_negative("--min-age-days (UNIVERSE_MIN_AGE_DAYS)", args.min_age_days)?;
        within(
            "--concurrency (UNIVERSE_CONCURRENCY)",
            args.concurrency as u64,
            1,
            64,
        )?;
        // the largest single request (24h tickers) weighs 40
        within(
            "--weight-budget (UNIVERSE_WEIGHT_BUDGET)",
            u64::from(args.weight_budget),
            50,
            6000,
        )?;
        within("--deadline (UNIVERSE_DEADLINE)", args.deadline, 1, 3600)?;
        within(
            "--request-timeout (UNIVERSE_REQUEST_TIMEOUT)",
            args.request_timeout,
            1,
            3600,
        )?;
        Ok(Self {
            client: ClientSettings {
                base_url,
                concurrency: args.concurrency,
                weight_budget: args.weight_budget,
                deadline: Duration::from_secs(args.deadline),
                request_timeout: Duration::from_secs(args.request_timeout),
            },
            filters: Filters {
                min_quote_volume: args.min_quote_volume,
                max_spread_bps: args.max_spread_bps,
                min_age_days: args.min_age_days,
            },
        })
    }
}

impl GenerateConfig {
    pub fn from_args(args: &GenerateArgs) -> Result<Self, UsageError> {
        let market = MarketConfig::from_args(&args.market)?;
        within("--top (UNIVERSE_TOP)", args.top as u64, 1, 1000)?;
        within(
            "--min-symbols (UNIVERSE_MIN_SYMBOLS)",
            args.min_symbols as u64,
            1,
            args.top as u64,
        )
        .map_err(|e| usage(format!("{e} (it cannot exceed --top {})", args.top)))?;
        within(
            "--valid-for (UNIVERSE_VALID_FOR)",
            args.valid_for,
            60,
            7 * 86_400,
        )?;
        let source = match args.source.as_str() {
            "binance" => SourceConfig::Live(market.client.clone()),
            dir => {
                let dir = Path::new(dir);
                if !dir.join("time.json").is_file() {
                    return Err(usage(format!(
                        "--source (UNIVERSE_SOURCE) {}: not `binance` and not a snapshot folder (no time.json in it)",
                        dir.display()
                    )));
                }
                SourceConfig::Snapshot(dir.to_owned())
            }
        };
        Ok(Self {
            source,
            filters: market.filters,
            concurrency: market.client.concurrency,
            top: args.top,
            min_symbols: args.min_symbols,
            valid_for_s: args.valid_for,
            store: store_location(&args.store)?,
            dry_run: args.dry_run,
            json: args.json,
        })
    }
}

impl ProofConfig {
    pub fn from_args(args: &ProofArgs) -> Result<Self, UsageError> {
        within("--top (UNIVERSE_TOP)", args.top as u64, 1, 1000)?;
        within(
            "--min-symbols (UNIVERSE_MIN_SYMBOLS)",
            args.min_symbols as u64,
            1,
            args.top as u64,
        )?;
        Ok(Self {
            store: store_location(&args.store)?,
            min_symbols: args.min_symbols,
            top: args.top,
            json: args.json,
        })
    }
}

impl DiffHashConfig {
    pub fn from_args(args: &DiffHashArgs) -> Result<Self, UsageError> {
        Ok(Self {
            store: store_location(&args.store)?,
            since: duration("--since (UNIVERSE_DIFF_SINCE)", &args.since)?,
            stuck_after: duration("--stuck-after (UNIVERSE_STUCK_AFTER)", &args.stuck_after)?,
            json: args.json,
        })
    }
}

/// `--store`, else the file store in the XDG state folder.
pub fn store_location(args: &StoreArgs) -> Result<Location, UsageError> {
    if let Some(text) = &args.store {
        return Location::parse(text);
    }
    default_state_dir()
        .map(|dir| Location::File(dir.join("universe")))
        .ok_or_else(|| {
            usage("no --store (UNIVERSE_STORE) given and neither XDG_STATE_HOME nor HOME is set")
        })
}

fn default_state_dir() -> Option<PathBuf> {
    let from_env = |name: &str| {
        std::env::var_os(name)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    from_env("XDG_STATE_HOME")
        .filter(|p| p.is_absolute())
        .or_else(|| from_env("HOME").map(|home| home.join(".local/state")))
}

fn non_negative(name: &str, value: f64) -> Result<(), UsageError> {
    if value.is_finite() && value >= 0.0 {
        Ok(())
    } else {
        Err(usage(format!(
            "{name} {value}: expected a finite number ≥ 0"
        )))
    }
}

fn within(name: &str, value: u64, min: u64, max: u64) -> Result<(), UsageError> {
    if (min..=max).contains(&value) {
        Ok(())
    } else {
        Err(usage(format!("{name} {value}: expected {min} to {max}")))
    }
}

fn duration(name: &str, text: &str) -> Result<Duration, UsageError> {
    humantime::parse_duration(text)
        .map_err(|e| usage(format!("{name} {text:?}: {e} (expected e.g. 90m, 6h, 7d)")))
}
