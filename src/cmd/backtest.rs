//! `universe backtest --history DIR`: the decision `generate` would have published at
//! every step of a history, then what it would have earned, printed as a table, as JSON
//! (`--json`) or as an HTML report (`--report`).

use std::io::Write as _;
use std::time::Instant;

use anyhow::Context as _;
use serde_json::json;

use crate::backtest::archive::Archive;
use crate::backtest::summary::{Measure, Summary};
use crate::backtest::{self, Step};
use crate::cli::BacktestArgs;
use crate::error::UsageError;
use crate::exit::ExitCode;
use crate::output::{self, printable};
use crate::settings::Settings;

pub fn run(settings: &Settings, args: &BacktestArgs) -> anyhow::Result<ExitCode> {
    let archive = Archive::read(&args.history)
        .map_err(|e| UsageError(format!("--history {}: {e}", args.history.display())))?;
    let times = schedule(
        &archive,
        args.from.as_deref(),
        args.to.as_deref(),
        args.step,
    )?;
    let started = Instant::now();
    let steps = backtest::decisions(&archive, settings, &times);
    let decided = started.elapsed();
    let measuring = Instant::now();
    let measure = Measure {
        fee: args.fee_bps / 10_000.0,
        top: settings.top,
        draws: args.draws,
        flat_leverage: args.flat_leverage,
        step_ms: step_ms(args.step)?,
    };
    let summary = crate::backtest::summary::summarise(&archive, &steps, &measure);
    let measured = measuring.elapsed();
    if let Some(path) = &args.report {
        let page = crate::backtest::report::page(&archive, &steps, &summary, &measure);
        std::fs::write(path, page).with_context(|| format!("writing {}", path.display()))?;
    }
    // the candles are no longer needed: what the output says of the history is kept, the
    // rest freed before the output is built (a year of 500 symbols holds 700 MB of them)
    let history = About::of(&archive);
    drop(archive);
    if args.json {
        write_json(&history, &steps, &summary, &measure, settings)?;
    } else {
        print_table(&history, &steps, &summary, &measure)?;
        writeln!(
            output::stdout(),
            "time: {} decisions in {:.2} s, outcomes in {:.2} s",
            steps.len(),
            decided.as_secs_f64(),
            measured.as_secs_f64()
        )?;
    }
    Ok(ExitCode::Success)
}

pub(super) fn step_ms(step: std::time::Duration) -> Result<i64, UsageError> {
    let ms = i64::try_from(step.as_millis()).unwrap_or(i64::MAX);
    if ms < 60_000 || ms % 60_000 != 0 {
        return Err(UsageError(format!(
            "--step {}: expected whole minutes, at least 1m",
            humantime::format_duration(step)
        )));
    }
    Ok(ms)
}

/// The decision times: `--from` to `--to`, `--step` apart, within the recording.
pub(super) fn schedule(
    archive: &Archive,
    from: Option<&str>,
    to: Option<&str>,
    step: std::time::Duration,
) -> Result<Vec<i64>, UsageError> {
    let first = archive
        .first_decision()
        .ok_or_else(|| UsageError(format!("--history {}: no candles", archive.dir.display())))?;
    let from = match from {
        Some(text) => super::time_flag("--from", text)?,
        None => first,
    };
    let to = match to {
        Some(text) => super::time_flag("--to", text)?,
        None => archive.end,
    };
    if from > to || to > archive.end {
        return Err(UsageError(format!(
            "--from {} --to {}: expected from ≤ to ≤ the end of the recording ({})",
            crate::clock::epoch(from / 1000),
            crate::clock::epoch(to / 1000),
            crate::clock::epoch(archive.end / 1000)
        )));
    }
    Ok(backtest::grid(from, to, step_ms(step)?))
}

/// What the output says of the history.
#[derive(Debug)]
struct About {
    dir: String,
    /// The history's symbols by index.
    names: Vec<String>,
    symbols: usize,
    limits: String,
    warnings: Vec<String>,
}

impl About {
    fn of(archive: &Archive) -> Self {
        Self {
            dir: archive.dir.display().to_string(),
            names: archive
                .series
                .iter()
                .map(|(name, _)| name.clone())
                .collect(),
            symbols: archive.series.len(),
            limits: archive.limits(),
            warnings: archive.warnings.clone(),
        }
    }
}

fn print_table(history: &About, steps: &[Step], s: &Summary, m: &Measure) -> anyhow::Result<()> {
    let mut out = output::stdout();
    let (first, last) = (
        steps.first().map_or(0, |x| x.time),
        steps.last().map_or(0, |x| x.time),
    );
    writeln!(
        out,
        "backtest {} → {}, every {}: {} decisions ({} failed closed), top {}",
        crate::clock::epoch(first / 1000),
        crate::clock::epoch(last / 1000),
        crate::clock::span(m.step_ms / 1000),
        s.selection.decisions,
        s.selection.failed,
        m.top
    )?;
    writeln!(
        out,
        "history {} ({} symbols); {}",
        printable(&history.dir),
        history.symbols,
        history.limits
    )?;
    writeln!(
        out,
        "{:<30} {:>9} {:>7} {:>8} {:>6}",
        "portfolio", "total", "sharpe", "max dd", "pos"
    )?;
    for (name, x) in &s.metrics {
        writeln!(
            out,
            "{name:<30} {:>+8.2}% {:>7} {:>7.2}% {:>5.1}%",
            100.0 * x.total_return,
            x.sharpe
                .map_or_else(|| "—".to_owned(), |s| format!("{s:.2}")),
            100.0 * x.max_drawdown,
            100.0 * x.positive_steps
        )?;
    }
    for note in crate::backtest::summary::notes(s, m) {
        writeln!(out, "{note}")?;
    }
    print_selection(&mut out, s, m)
}

fn print_selection(out: &mut impl std::io::Write, s: &Summary, m: &Measure) -> anyhow::Result<()> {
    let band = &s.band;
    let last = |v: &[f64]| 100.0 * (v.last().copied().unwrap_or(1.0) - 1.0);
    writeln!(
        out,
        "random top {} ({} draws, follow): mean {:+.2}%, 5–95% [{:+.2}%, {:+.2}%]; the follow portfolio beats {:.0}% of them",
        m.top,
        band.draws,
        last(&band.mean),
        last(&band.p05),
        last(&band.p95),
        100.0 * s.random_percentile
    )?;
    let x = &s.selection;
    writeln!(
        out,
        "selection: {:.2} replacements per refresh ({:.2} entries), mean stay {:.1} h, hit rate {:.1}%",
        x.replacements_per_refresh,
        x.entries_per_refresh,
        x.mean_stay_hours,
        100.0 * x.hit_rate
    )?;
    writeln!(
        out,
        "opportunity to the next step: |return| {:.3}% selected vs {:.3}% eligible; range {:.3}% vs {:.3}%",
        100.0 * x.selected_abs_return,
        100.0 * x.eligible_abs_return,
        100.0 * x.selected_range,
        100.0 * x.eligible_range
    )?;
    writeln!(
        out,
        "leverage: {} proxy liquidations in {} symbol-steps at the published leverage, {} at a flat {}x",
        x.liquidations_published, x.symbol_steps, x.liquidations_flat, m.flat_leverage
    )?;
    Ok(())
}

/// Everything the figures are made of, so that anyone can check them: each step's
/// decision, each portfolio's value and what it traded and paid, buy and hold's
/// constituents, the random draws' seeds and totals, the settings in effect, the warnings.
/// Written as it is made, a step at a time: a year of steps is never held as one value.
fn write_json(
    history: &About,
    steps: &[Step],
    s: &Summary,
    m: &Measure,
    settings: &Settings,
) -> anyhow::Result<()> {
    let mut head = json!({
        "history": history.dir,
        "step_ms": m.step_ms,
        "fee": m.fee,
        "top": m.top,
        "limits": history.limits,
        "metrics": s.metrics.iter().map(|(n, x)| json!({"portfolio": n, "metrics": x})).collect::<Vec<_>>(),
        "selection": s.selection,
        "buy_and_hold": {"constituents": s.buy_and_hold, "chosen_by": "24h quote volume at the first step, among every symbol with a price then"},
        "missing_funding": {"count": s.missing_funding.len(),
                            "settlements": s.missing_funding.iter().map(|(symbol, at)| json!({"symbol": symbol, "time": at})).collect::<Vec<_>>()},
        "random": {"draws": s.band.draws, "percentile_of_follow": s.random_percentile,
                   "final_mean": s.band.mean.last(), "final_p05": s.band.p05.last(), "final_p95": s.band.p95.last(),
                   "seeds": format!("0 to {} (SplitMix64), one per draw", s.band.draws.saturating_sub(1)),
                   "totals": s.band.totals},
        "settings": settings.entries,
        "eligible_columns": ["symbol", "direction", "quote_volume_24h"],
        "warnings": history.warnings,
    });
    let fields = head.as_object_mut().expect("an object");
    let mut document: Vec<(String, Field<'_>)> = std::mem::take(fields)
        .into_iter()
        .map(|(key, value)| (key, Field::Value(value)))
        .collect();
    document.push((
        "steps".to_owned(),
        Field::Steps(Rows {
            steps,
            s,
            names: &history.names,
        }),
    ));
    document.sort_by(|a, b| a.0.cmp(&b.0));
    let mut out = output::stdout_json();
    // compact: a year's steps list every eligible symbol of every step, and indenting
    // each of those would triple the output
    serde_json::to_writer(&mut out, &Document(document))?;
    writeln!(out)?;
    Ok(())
}

/// The JSON document: its fields in name order, the steps written one by one.
struct Document<'a>(Vec<(String, Field<'a>)>);

enum Field<'a> {
    Value(serde_json::Value),
    Steps(Rows<'a>),
}

struct Rows<'a> {
    steps: &'a [Step],
    s: &'a Summary,
    names: &'a [String],
}

impl serde::Serialize for Document<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap as _;
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (key, field) in &self.0 {
            match field {
                Field::Value(value) => map.serialize_entry(key, value)?,
                Field::Steps(rows) => map.serialize_entry(key, rows)?,
            }
        }
        map.end()
    }
}

impl serde::Serialize for Rows<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(
            self.steps
                .iter()
                .enumerate()
                .map(|(k, step)| row(self.s, self.names, k, step)),
        )
    }
}

/// One step: its decision, the eligible symbols (`[symbol, direction, 24h quote
/// volume]` in rank order), each portfolio's value, what each rebalanced one traded.
fn row(s: &Summary, names: &[String], k: usize, step: &Step) -> serde_json::Value {
    let mut row = serde_json::to_value(step).expect("serialisable");
    row["eligible"] = step
        .eligible
        .iter()
        .map(|e| json!([names[e.index()], e.direction, e.quote_volume]))
        .collect();
    let values: serde_json::Map<String, serde_json::Value> = s
        .curves
        .iter()
        .map(|c| (c.name.clone(), json!(c.values.get(k))))
        .chain([("random mean".to_owned(), json!(s.band.mean.get(k)))])
        .collect();
    row["values"] = json!(values);
    let accounts: serde_json::Map<String, serde_json::Value> = s
        .accounts
        .iter()
        .filter_map(|(name, list)| Some((name.clone(), json!(list.get(k)?))))
        .collect();
    if !accounts.is_empty() {
        row["accounts"] = json!(accounts);
    }
    row
}
