//! `universe diff-hash`: each change of `universe_hash` in the audit trail, with the
//! symbols added and removed, then a summary. Exits 6 (stuck) when the universe has not
//! changed for longer than `--stuck-after` (a generator that stopped publishing is stuck
//! too).

use std::collections::BTreeSet;
use std::io::Write as _;

use anyhow::Context as _;
use serde::Serialize;
use serde_json::json;

use crate::audit;
use crate::cli::DiffHashArgs;
use crate::error::UsageError;
use crate::exit::ExitCode;
use crate::output::printable;
use crate::policy::field;
use crate::settings::Settings;
use crate::store::AuditRecord;

/// One publish, as diff-hash reads it.
#[derive(Debug)]
struct Entry {
    at: i64,
    universe_hash: String,
    symbols: Vec<String>,
    previous_hash: String,
    added: Vec<String>,
    removed: Vec<String>,
}

#[derive(Debug, Serialize)]
struct Change {
    at_epoch: i64,
    from: String,
    to: String,
    added: Vec<String>,
    removed: Vec<String>,
}

/// `--since` and `--stuck-after`, parsed.
#[derive(Debug)]
struct Spans {
    since: std::time::Duration,
    stuck_after: std::time::Duration,
    json: bool,
}

fn duration(name: &str, text: &str) -> Result<std::time::Duration, UsageError> {
    humantime::parse_duration(text)
        .map_err(|e| UsageError(format!("{name} {text:?}: {e} (expected e.g. 90m, 6h, 7d)")))
}

pub fn run(settings: &Settings, args: &DiffHashArgs) -> anyhow::Result<ExitCode> {
    let spans = Spans {
        since: duration("--since (UNIVERSE_DIFF_SINCE)", &args.since)?,
        stuck_after: duration("--stuck-after (UNIVERSE_STUCK_AFTER)", &args.stuck_after)?,
        json: args.json,
    };
    let mut store = settings.open_store()?;
    let trail = store.audit_trail()?;
    // an entry another program wrote that cannot be read is skipped, named
    let entries: Vec<Entry> = trail
        .iter()
        .filter_map(|record| {
            entry(record)
                .map_err(|e| crate::warn!("universe: warning: skipping {e:#}"))
                .ok()
        })
        .collect();
    if entries.is_empty() {
        anyhow::bail!(
            "the audit trail of {} is empty: nothing has been published",
            store.describe()
        );
    }
    let failure = store.last_failure()?;
    let published = store
        .load_policy()?
        .and_then(|p| p.epoch(crate::policy::field::CREATED_AT).ok());
    let failing = crate::store::Failure::describe(failure.as_ref(), published);
    let all_changes = changes(&entries);
    let (recent, summary) = summarise(&entries, &all_changes, &spans, crate::clock::now_epoch());
    if spans.json {
        super::print_json(&json!({
            "store": store.describe(),
            "since_s": spans.since.as_secs(),
            "changes": recent,
            "summary": summary,
            "last_failure": failure,
            "failing": failing,
        }))?;
    } else {
        print_text(&store.describe(), &spans, &recent, &summary)?;
        writeln!(crate::output::stdout(), "{failing}")?;
    }
    if summary.stuck {
        crate::warn!(
            "universe: STUCK: universe {} has not changed for {}, longer than --stuck-after {}",
            summary.current_hash,
            crate::clock::span(summary.unchanged_for_s),
            crate::clock::span(spans.stuck_after.as_secs() as i64)
        );
        return Ok(ExitCode::Stuck);
    }
    Ok(ExitCode::Success)
}

/// What the trail says over the span asked for.
#[derive(Debug, serde::Serialize)]
struct Summary {
    entries: usize,
    distinct_hashes: usize,
    changes: usize,
    current_hash: String,
    last_change_epoch: i64,
    unchanged_for_s: i64,
    stuck_after_s: u64,
    stuck: bool,
}

/// The changes within `--since` of `now`, and the summary; `entries` is not empty.
fn summarise<'a>(
    entries: &[Entry],
    all_changes: &'a [Change],
    spans: &Spans,
    now: i64,
) -> (Vec<&'a Change>, Summary) {
    // the current universe has stood since its change, or since the first entry we have
    let last_change = all_changes.last().map_or(entries[0].at, |c| c.at_epoch);
    let unchanged_for = now - last_change;
    let cutoff = now - spans.since.as_secs() as i64;
    let recent: Vec<&Change> = all_changes
        .iter()
        .filter(|c| c.at_epoch >= cutoff)
        .collect();
    let distinct: BTreeSet<&str> = entries
        .iter()
        .filter(|e| e.at >= cutoff)
        .map(|e| e.universe_hash.as_str())
        .collect();
    let summary = Summary {
        entries: entries.iter().filter(|e| e.at >= cutoff).count(),
        distinct_hashes: distinct.len(),
        changes: recent.len(),
        current_hash: entries[entries.len() - 1].universe_hash.clone(),
        last_change_epoch: last_change,
        unchanged_for_s: unchanged_for,
        stuck_after_s: spans.stuck_after.as_secs(),
        stuck: unchanged_for > spans.stuck_after.as_secs() as i64,
    };
    (recent, summary)
}

fn print_text(
    store: &str,
    spans: &Spans,
    recent: &[&Change],
    summary: &Summary,
) -> anyhow::Result<()> {
    let mut out = crate::output::stdout();
    writeln!(
        out,
        "universe changes in {store} over the last {}",
        crate::clock::span(spans.since.as_secs() as i64)
    )?;
    for change in recent {
        writeln!(
            out,
            "{}  {} -> {}  +[{}] -[{}]",
            crate::clock::epoch(change.at_epoch),
            if change.from.is_empty() {
                "(none)"
            } else {
                &change.from
            },
            change.to,
            list(&change.added),
            list(&change.removed)
        )?;
    }
    writeln!(
        out,
        "{} changes, {} distinct hashes; current {} unchanged for {} (since {})",
        summary.changes,
        summary.distinct_hashes,
        summary.current_hash,
        crate::clock::span(summary.unchanged_for_s),
        crate::clock::epoch(summary.last_change_epoch)
    )?;
    Ok(())
}

fn list(symbols: &[String]) -> String {
    symbols
        .iter()
        .map(|s| printable(s).into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

fn entry(record: &AuditRecord) -> anyhow::Result<Entry> {
    let get = |name: &str| {
        record
            .fields
            .get(name)
            .with_context(|| format!("audit entry {} has no {name}", record.id))
    };
    let json_list = |name: &str| -> anyhow::Result<Vec<String>> {
        match record.fields.get(name) {
            Some(text) => serde_json::from_str(text)
                .with_context(|| format!("audit entry {}: {name} is not a JSON list", record.id)),
            None => Ok(Vec::new()),
        }
    };
    Ok(Entry {
        at: get(field::CREATED_AT)?.parse().with_context(|| {
            format!(
                "audit entry {}: created_at_epoch is not a number",
                record.id
            )
        })?,
        universe_hash: get(field::UNIVERSE_HASH)?.clone(),
        symbols: json_list(field::UNIVERSE_SYMBOLS)?,
        previous_hash: record
            .fields
            .get(audit::name::PREVIOUS_UNIVERSE_HASH)
            .cloned()
            .unwrap_or_default(),
        added: json_list(audit::name::SYMBOLS_ADDED)?,
        removed: json_list(audit::name::SYMBOLS_REMOVED)?,
    })
}

/// Every entry whose universe differs from the one before it.
fn changes(entries: &[Entry]) -> Vec<Change> {
    let mut changes = Vec::new();
    let mut previous: Option<&Entry> = None;
    for entry in entries {
        let change = match previous {
            None if entry.previous_hash != entry.universe_hash => Some(Change {
                at_epoch: entry.at,
                from: entry.previous_hash.clone(),
                to: entry.universe_hash.clone(),
                added: entry.added.clone(),
                removed: entry.removed.clone(),
            }),
            Some(before) if before.universe_hash != entry.universe_hash => Some(Change {
                at_epoch: entry.at,
                from: before.universe_hash.clone(),
                to: entry.universe_hash.clone(),
                added: difference(&entry.symbols, &before.symbols),
                removed: difference(&before.symbols, &entry.symbols),
            }),
            _ => None,
        };
        changes.extend(change);
        previous = Some(entry);
    }
    changes
}

fn difference(a: &[String], b: &[String]) -> Vec<String> {
    a.iter().filter(|s| !b.contains(s)).cloned().collect()
}
