//! `universe perf record | ingest | show`: the per-symbol performance records rotation
//! judges symbols by.

use std::io::Write as _;

use anyhow::{Context as _, bail};
use serde_json::json;

use crate::cli::{PerfCommand, PerfIngestArgs, PerfRecordArgs};
use crate::error::UsageError;
use crate::exit::ExitCode;
use crate::output::printable;
use crate::rotation::perf::Performance;
use crate::settings::Settings;

pub fn run(settings: &Settings, command: &PerfCommand) -> anyhow::Result<ExitCode> {
    match command {
        PerfCommand::Record(args) => record(settings, args),
        PerfCommand::Ingest(args) => ingest(settings, args),
        PerfCommand::Show(args) => show(settings.open_store()?.as_mut(), &args.symbols, args.json),
    }
}

/// Sets one symbol's record by hand, after checking the figures.
fn record(settings: &Settings, args: &PerfRecordArgs) -> anyhow::Result<ExitCode> {
    let mut store = settings.open_store()?;
    let fraction = |name: &str, v: f64| {
        if (0.0..=1.0).contains(&v) {
            Ok(())
        } else {
            Err(UsageError(format!(
                "--{name} {v}: expected a fraction from 0 to 1"
            )))
        }
    };
    fraction("win-rate", args.win_rate)?;
    fraction("max-drawdown", args.max_drawdown)?;
    if !args.total_pnl.is_finite() {
        return Err(UsageError(format!(
            "--total-pnl {}: expected a finite number",
            args.total_pnl
        ))
        .into());
    }
    let record = Performance::recorded(
        args.win_rate,
        args.total_pnl,
        args.max_drawdown,
        args.trades,
        crate::clock::now_epoch(),
    );
    let written = store.set_performance(&args.symbol, &record)?;
    if written.shared {
        crate::warn!(
            "universe: warning: {} is also written by another service (the performance tracker); its win_rate and total_trades were left as they are, and only universe's own fields (total_pnl, max_drawdown and the running sums) were set",
            printable(&args.symbol)
        );
    }
    writeln!(
        crate::output::stdout(),
        "recorded {} in {}",
        printable(&args.symbol),
        store.describe()
    )?;
    Ok(ExitCode::Success)
}

/// Folds the trade stream into the records and reports what was claimed and left.
fn ingest(settings: &Settings, args: &PerfIngestArgs) -> anyhow::Result<ExitCode> {
    if args.batch == 0 {
        return Err(UsageError("--batch 0: expected 1 or more".into()).into());
    }
    // only Redis has the trade stream: opened as what it is, no downcast
    let crate::store::Location::Redis(url) = &settings.store else {
        bail!(
            "perf ingest reads a Redis stream; {} is not Redis",
            settings.store
        );
    };
    let mut redis =
        crate::store::RedisStore::connect(url, settings.keys.clone(), settings.tls_ca.as_deref())?;
    let report = redis
        .ingest_trades(
            &args.consumer,
            args.batch,
            args.claim_idle,
            crate::clock::now_epoch(),
        )
        .context("ingesting closed trades")?;
    warn_about(&report, args);
    if args.json {
        super::print_json(&json!(report))?;
    } else {
        writeln!(
            crate::output::stdout(),
            "ingested {} trades into {} symbols' records; {} malformed entries left pending",
            report.ingested,
            report.symbols.len(),
            report.malformed.len()
        )?;
    }
    Ok(ExitCode::Success)
}

/// What a run claimed from another consumer and what it left pending, on stderr.
fn warn_about(report: &crate::store::IngestReport, args: &PerfIngestArgs) {
    if report.claimed > 0 {
        let from: Vec<String> = report
            .claimed_from
            .iter()
            .map(|c| printable(c).into_owned())
            .collect();
        crate::warn!(
            "universe: claimed {} trade entries that {} read and left pending for over {} (a run stopped half-way); folding them now",
            report.claimed,
            from.join(", "),
            humantime::format_duration(args.claim_idle)
        );
    }
    for (id, why) in &report.malformed {
        crate::warn!(
            "universe: malformed trade entry {id} left pending: {}",
            printable(why)
        );
    }
}

fn show(
    store: &mut dyn crate::store::Store,
    wanted: &[String],
    as_json: bool,
) -> anyhow::Result<ExitCode> {
    let symbols = if wanted.is_empty() {
        store.performance_symbols()?
    } else {
        wanted.to_vec()
    };
    let read = store.performance(&symbols)?;
    read.warn_unreadable();
    let records = read.records;
    if as_json {
        super::print_json(&json!(records))?;
        return Ok(ExitCode::Success);
    }
    let mut out = crate::output::stdout();
    writeln!(
        out,
        "{:<16} {:>7} {:>12} {:>9} {:>7} {:>7} {:>7}  updated",
        "symbol", "trades", "total_pnl", "avg_pnl%", "win", "max_dd", "sharpe"
    )?;
    for (symbol, p) in &records {
        writeln!(
            out,
            "{:<16} {:>7} {:>12.2} {:>9.3} {:>7.3} {:>7} {:>7.3}  {}{}",
            printable(symbol),
            p.total_trades,
            p.pnl(),
            p.avg_pnl_pct,
            p.win_rate,
            p.max_drawdown
                .map_or_else(|| "—".to_owned(), |d| format!("{d:.3}")),
            p.sharpe_ratio,
            crate::clock::epoch(p.updated_at),
            if p.shared {
                "  (shared with another writer)"
            } else {
                ""
            }
        )?;
    }
    for (symbol, why) in &read.unreadable {
        writeln!(
            out,
            "{:<16} unreadable: {}",
            printable(symbol),
            printable(why)
        )?;
    }
    let found = |s: &String| records.contains_key(s) || read.unreadable.contains_key(s);
    for missing in symbols.iter().filter(|s| !found(s)) {
        writeln!(out, "{:<16} no record", printable(missing))?;
    }
    Ok(ExitCode::Success)
}
