//! One module per subcommand; each `run` reads like the table of contents of its job.
//! What several of them share (opening the source, reading what the store remembers) is here.

pub mod backtest;
pub mod config;
pub mod diff_hash;
pub mod explain;
pub mod generate;
mod grep_lines;
pub mod history;
pub mod keygen;
pub mod perf;
pub mod proof;
mod report;
pub mod rollback;
pub mod rotation;
pub mod show;
pub mod snapshot;
pub mod tune;

use std::io::Write;
use std::path::Path;
use std::time::Instant;

use anyhow::Context as _;

use crate::decide::Memory;
use crate::error::UsageError;
use crate::market::Source;
use crate::market::cache::CandleCache;
use crate::market::client::Client;
use crate::market::snapshot::SnapshotSource;
use crate::select::Symbol;
use crate::settings::Settings;
use crate::store::Store;

/// Writes `value` as pretty JSON and a newline on stdout, C1 controls escaped too.
fn print_json(value: &serde_json::Value) -> anyhow::Result<()> {
    let mut out = crate::output::stdout_json();
    serde_json::to_writer_pretty(&mut out, value)?;
    writeln!(out)?;
    Ok(())
}

/// Where market data comes from: `--source`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceChoice {
    Live,
    Snapshot(std::path::PathBuf),
}

impl SourceChoice {
    /// `binance` (or nothing) or a snapshot folder.
    pub fn parse(source: Option<&str>) -> Result<Self, UsageError> {
        match source {
            None | Some("binance") => Ok(SourceChoice::Live),
            Some(dir) if Path::new(dir).join("time.json").is_file() => {
                Ok(SourceChoice::Snapshot(dir.into()))
            }
            Some(dir) => Err(UsageError(format!(
                "--source (UNIVERSE_SOURCE) {dir}: not `binance` and not a snapshot folder (no time.json in it)"
            ))),
        }
    }

    fn open(&self, settings: &Settings, started: Instant) -> anyhow::Result<Box<dyn Source>> {
        Ok(match self {
            SourceChoice::Live => Box::new(Client::new(&settings.client, started)),
            SourceChoice::Snapshot(dir) => {
                Box::new(SnapshotSource::open(dir).map_err(anyhow::Error::msg)?)
            }
        })
    }

    /// The candle cache, for live refreshes when it is enabled. A cache that cannot be
    /// opened costs weight, not correctness: the run goes on without it.
    fn cache(&self, settings: &Settings, writable: bool) -> Option<CandleCache> {
        let dir = settings
            .cache_dir
            .as_ref()
            .filter(|_| *self == SourceChoice::Live)?;
        if !writable {
            return Some(CandleCache::read_only(dir));
        }
        CandleCache::open(dir)
            .map_err(|e| crate::warn!("universe: warning: {e}; fetching every symbol in full"))
            .ok()
    }

    /// For the audit entry.
    fn describe(&self, settings: &Settings) -> String {
        match self {
            SourceChoice::Live => settings.client.base_url.clone(),
            SourceChoice::Snapshot(dir) => format!("snapshot:{}", dir.display()),
        }
    }
}

/// The store and what it remembers. With `must_open` a store that cannot be read is an
/// error; without, a warning, and the run goes on as a first run. `publishing` checks
/// that the store could take the publish, before any exchange weight is spent.
fn read_memory(
    settings: &Settings,
    held: Option<&[String]>,
    must_open: bool,
    publishing: bool,
) -> anyhow::Result<(Option<Box<dyn Store>>, Memory)> {
    let held = held.map(held_symbols).transpose()?;
    let held = held.as_deref();
    let attempt = || -> Result<_, crate::error::StoreError> {
        let mut store = settings.open_store()?;
        if publishing {
            store.preflight()?;
        }
        let memory = crate::store::memory::read(
            store.as_mut(),
            held,
            settings.churn.min_hold,
            crate::clock::now_epoch(),
        )?;
        Ok((store, memory))
    };
    match attempt() {
        Ok((store, memory)) => Ok((Some(store), memory)),
        Err(error) if !must_open => {
            crate::warn!("universe: warning: {error}; going on without the previous universe");
            Ok((None, Memory::without_store(held)))
        }
        Err(error) => Err(error).context("reading the store before the refresh"),
    }
}

/// `--held`: symbol names, or a usage error naming the one that is not.
fn held_symbols(names: &[String]) -> Result<Vec<Symbol>, UsageError> {
    names
        .iter()
        .map(|name| {
            Symbol::new(name).ok_or_else(|| {
                UsageError(format!(
                    "--held {:?}: not a symbol name (1 to 32 bytes, no spaces, control characters, / \\ or ..)",
                    crate::output::printable(name)
                ))
            })
        })
        .collect()
}

/// The plan `generate` would publish now, made without writing anything (the store and
/// the candle cache are only read): for `explain` and `rotation`.
fn plan_without_publishing(
    settings: &Settings,
    selection: &crate::cli::SelectionArgs,
    must_open_store: bool,
) -> anyhow::Result<crate::decide::Plan> {
    let started = Instant::now();
    let source = SourceChoice::parse(selection.source.as_deref())?;
    let (_store, memory) =
        read_memory(settings, selection.held.as_deref(), must_open_store, false)?;
    crate::pipeline::make(
        source.open(settings, started)?.as_ref(),
        settings,
        &memory,
        source.cache(settings, false).as_ref(),
        crate::clock::now_epoch(),
        &crate::progress::Progress::for_stderr(),
    )
    .map_err(|e| e.into_error(false))
}

/// `2023-07-10`, `2023-07-10 12:00`, `2023-07-10T12:00:00Z`: UTC.
fn time_flag(flag: &str, text: &str) -> Result<i64, UsageError> {
    let trimmed = text.trim().trim_end_matches('Z').replace('T', " ");
    let full = match trimmed.len() {
        10 => format!("{trimmed} 00:00:00"),
        16 => format!("{trimmed}:00"),
        _ => trimmed,
    };
    crate::clock::parse_utc(&full).ok_or_else(|| {
        UsageError(format!(
            "{flag} {text:?}: expected a UTC time such as 2023-07-10 or \"2023-07-10 12:00\""
        ))
    })
}

/// Publishes `policy` with its audit entry and update event, if the store still holds
/// the policy `memory` read.
fn publish(
    store: &mut dyn Store,
    policy: &crate::policy::Policy,
    audit: std::collections::BTreeMap<String, String>,
    memory: &Memory,
) -> anyhow::Result<()> {
    let publication = crate::store::Publication {
        audit,
        event: crate::audit::update_event(policy),
        policy: policy.clone(),
    };
    let expected = memory
        .previous
        .as_ref()
        .and_then(|p| p.get(crate::policy::field::POLICY_HASH));
    store
        .publish(&publication, expected)
        .context("publishing the policy; nothing was written")
}
