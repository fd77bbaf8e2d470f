//! `universe show`: the current policy, as the trading services see it.

use std::collections::BTreeMap;
use std::io::Write as _;

use anyhow::Context as _;
use serde_json::json;

use crate::exit::ExitCode;
use crate::output::printable;
use crate::policy::{Policy, SymbolScore, field};
use crate::settings::Settings;

/// How `show` prints the policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Table,
    Json,
    /// The `POLICY_AUDIT:` line operators grep.
    AuditLine,
}

impl Format {
    /// `--json` wins over `--audit-line`; neither: the table.
    pub fn of(json: bool, audit_line: bool) -> Self {
        match (json, audit_line) {
            (true, _) => Self::Json,
            (_, true) => Self::AuditLine,
            _ => Self::Table,
        }
    }
}

pub fn run(settings: &Settings, format: Format) -> anyhow::Result<ExitCode> {
    let mut store = settings.open_store()?;
    let policy = store
        .load_policy()?
        .with_context(|| format!("no policy has been published to {}", store.describe()))?;
    let failure = store.last_failure()?;
    let failing = crate::store::Failure::describe(
        failure.as_ref(),
        optional_epoch(&policy, field::CREATED_AT)?,
    );
    match format {
        Format::Json => {
            let mut json = to_json(&policy)?;
            json["last_failure"] = serde_json::json!(failure);
            json["failing"] = serde_json::json!(failing);
            super::print_json(&json)?;
        }
        Format::Table => {
            print_table(&policy, &store.describe())?;
            writeln!(crate::output::stdout(), "{failing}")?;
        }
        Format::AuditLine => writeln!(crate::output::stdout(), "{}", audit_line(&policy)?)?,
    }
    Ok(ExitCode::Success)
}

/// `POLICY_AUDIT: version=… hash=… universe_count=… valid_until=…`, in the form the
/// Python deployment's `policy_refresh.sh` logged it (whole seconds, the full hash).
fn audit_line(policy: &Policy) -> anyhow::Result<String> {
    Ok(format!(
        "POLICY_AUDIT: version={} hash={} universe_count={} valid_until={}",
        printable(policy.require(field::POLICY_VERSION)?),
        printable(policy.require(field::POLICY_HASH)?),
        policy.symbols()?.len(),
        policy.epoch(field::VALID_UNTIL)?
    ))
}

/// `scores`, or none when the policy has no such field (the Python generator wrote none).
fn scores(policy: &Policy) -> anyhow::Result<BTreeMap<String, SymbolScore>> {
    if policy.get(field::SCORES).is_none() {
        return Ok(BTreeMap::new());
    }
    policy.scores()
}

/// A time field that may be absent (the Python generator wrote no `created_at_epoch`).
fn optional_epoch(policy: &Policy, name: &str) -> anyhow::Result<Option<i64>> {
    policy.get(name).map(|_| policy.epoch(name)).transpose()
}

fn to_json(policy: &Policy) -> anyhow::Result<serde_json::Value> {
    let scores = scores(policy)?;
    let leverage = policy.leverage()?;
    let valid_until = policy.epoch(field::VALID_UNTIL)?;
    let symbols: Vec<serde_json::Value> = policy
        .symbols()?
        .iter()
        .enumerate()
        .map(|(i, symbol)| {
            let mut entry = serde_json::to_value(scores.get(symbol)).expect("serialisable");
            if !entry.is_object() {
                entry = json!({});
            }
            entry["rank"] = json!(i + 1);
            entry["symbol"] = json!(symbol);
            entry["leverage"] = json!(leverage.get(symbol));
            entry
        })
        .collect();
    Ok(json!({
        "universe_hash": policy.get(field::UNIVERSE_HASH),
        "policy_hash": policy.get(field::POLICY_HASH),
        "run_id": policy.get(field::RUN_ID),
        "generator": policy.get(field::GENERATOR),
        "policy_version": policy.get(field::POLICY_VERSION),
        "regime": policy.get(field::REGIME),
        "rollback_of": policy.get(field::ROLLBACK_OF),
        "request_stats": policy
            .get(field::REQUEST_STATS)
            .and_then(|s| serde_json::from_str::<serde_json::Value>(s).ok()),
        "created_at_epoch": optional_epoch(policy, field::CREATED_AT)?,
        "harvest_params": json_field(policy, field::HARVEST_PARAMS),
        "kill_params": json_field(policy, field::KILL_PARAMS),
        "valid_until_epoch": valid_until,
        "valid": valid_until > crate::clock::now_epoch(),
        "symbols": symbols,
    }))
}

/// A JSON field as a value, or its text when it is not JSON.
fn json_field(policy: &Policy, name: &str) -> Option<serde_json::Value> {
    let text = policy.get(name)?;
    Some(serde_json::from_str(text).unwrap_or_else(|_| json!(text)))
}

fn print_table(policy: &Policy, store: &str) -> anyhow::Result<()> {
    let scores = scores(policy)?;
    let leverage = policy.leverage()?;
    let created = optional_epoch(policy, field::CREATED_AT)?
        .map_or_else(|| "at an unrecorded time".to_owned(), crate::clock::epoch);
    let valid_until = policy.epoch(field::VALID_UNTIL)?;
    let left = valid_until - crate::clock::now_epoch();
    let validity = if left > 0 {
        format!("valid for another {}", crate::clock::span(left))
    } else {
        format!("EXPIRED {} ago", crate::clock::span(left))
    };
    let mut out = crate::output::stdout();
    writeln!(
        out,
        "universe {} from {store}\nmade {}, valid until {} ({validity})\ngenerator {} {}, run {}",
        policy.get(field::UNIVERSE_HASH).unwrap_or("?"),
        created,
        crate::clock::epoch(valid_until),
        policy.get(field::GENERATOR).unwrap_or("?"),
        policy.get(field::POLICY_VERSION).unwrap_or("?"),
        policy.get(field::RUN_ID).unwrap_or("?"),
    )?;
    if let Some(regime) = policy.get(field::REGIME).filter(|r| !r.is_empty()) {
        writeln!(out, "regime {regime}")?;
    }
    if let Some(run) = policy.get(field::ROLLBACK_OF) {
        writeln!(out, "a manual rollback to the universe of run {run}")?;
    }
    print_rows(&mut out, policy, &scores, &leverage)
}

/// One row per symbol in rank order: its figures and leverage as published.
fn print_rows(
    out: &mut impl std::io::Write,
    policy: &Policy,
    scores: &BTreeMap<String, SymbolScore>,
    leverage: &BTreeMap<String, serde_json::Number>,
) -> anyhow::Result<()> {
    writeln!(
        out,
        "{:>4}  {:<16} {:>6} {:>8} {:>8} {:>8} {:>8} {:>4}",
        "rank", "symbol", "score", "atr%15m", "trend1h", "mom15m", "mom1h", "lev"
    )?;
    for (i, symbol) in policy.symbols()?.iter().enumerate() {
        let lev = leverage.get(symbol).map_or_else(
            || "?".into(),
            |l| l.as_f64().map_or_else(|| l.to_string(), |l| format!("{l}")),
        );
        match scores.get(symbol) {
            Some(s) => writeln!(
                out,
                "{:>4}  {:<16} {:>6.2} {:>8.3} {:>8.3} {:>8.3} {:>8.3} {lev:>4}",
                i + 1,
                printable(symbol),
                s.score,
                s.atr_pct_15m,
                s.trend_1h,
                s.mom_15m,
                s.mom_1h,
            )?,
            None => writeln!(
                out,
                "{:>4}  {:<16} (no scores) {lev:>4}",
                i + 1,
                printable(symbol)
            )?,
        }
    }
    Ok(())
}
