//! `universe history fetch`: a history folder for backtests, from the exchange, within
//! the weight budget, resumable. Run where stderr is not a terminal (cron, CI, a log), it
//! prints a progress line every 30 s.

use std::io::{IsTerminal as _, Write as _};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::cli::{HistoryFetchArgs, HistoryImportArgs};
use crate::error::{FailClosed, UsageError};
use crate::exit::ExitCode;
use crate::history::import::{self, ImportError, Imported};
use crate::history::{FetchError, Fetched, Gap};
use crate::market::Source;
use crate::market::client::Client;
use crate::output;
use crate::progress::Progress;
use crate::settings::Settings;

/// How often a progress line is printed where stderr is not a terminal.
const HEARTBEAT: Duration = Duration::from_secs(30);

pub fn fetch(settings: &Settings, args: &HistoryFetchArgs) -> anyhow::Result<ExitCode> {
    let from = super::time_flag("--from", &args.from)?;
    let to = args
        .to
        .as_deref()
        .map(|t| super::time_flag("--to", t))
        .transpose()?;
    let mut client = settings.client.clone();
    client.deadline = args.deadline;
    let source = Client::new(&client, Instant::now());
    let status = Mutex::new(Fetched::default());
    let finished = AtomicBool::new(false);
    let result = std::thread::scope(|scope| {
        if !std::io::stderr().is_terminal() {
            scope.spawn(|| heartbeat(&source, &status, &finished));
        }
        let result = crate::history::fetch(
            &source,
            &args.out,
            from,
            to,
            &args.symbols,
            &Progress::for_stderr(),
            &status,
        );
        finished.store(true, Ordering::Relaxed);
        result
    });
    let mut done = settle(result, args)?;
    done.requests = source.usage().requests as usize;
    report(&done, args)?;
    if done.refused.is_empty() {
        return Ok(ExitCode::Success);
    }
    Err(FailClosed::Fetch {
        what: format!(
            "{} of {} symbols' history into {}",
            done.refused.len(),
            done.symbols,
            args.out.display()
        ),
        detail: done.refused.join("; "),
    }
    .into())
}

/// A fetch's outcome as the exit code's category: an unknown symbol is a usage error, the
/// exchange's fault fails closed, a local failure (a full disk) says nothing about the
/// market.
fn settle(result: Result<Fetched, FetchError>, args: &HistoryFetchArgs) -> anyhow::Result<Fetched> {
    match result {
        Ok(done) => Ok(done),
        Err(e @ FetchError::Unknown(_)) => Err(UsageError(format!("--symbols: {e}")).into()),
        Err(FetchError::Market(detail) | FetchError::Refused(detail)) => Err(FailClosed::Fetch {
            what: format!("history into {}", args.out.display()),
            detail,
        }
        .into()),
        Err(FetchError::Write(detail)) => {
            anyhow::bail!("writing the history into {}: {detail}", args.out.display())
        }
    }
}

fn report(done: &Fetched, args: &HistoryFetchArgs) -> anyhow::Result<()> {
    warn_gaps(&done.gaps);
    if args.json {
        super::print_json(&serde_json::json!(done))?;
    } else {
        writeln!(
            output::stdout(),
            "fetched {} candles of {} symbols into {} ({} requests, {} gaps); a rerun resumes",
            done.candles,
            done.symbols,
            args.out.display(),
            done.requests,
            done.gaps.len()
        )?;
    }
    Ok(())
}

/// Every [`HEARTBEAT`] until `finished`: symbols done, candles, weight used and what a
/// request waits for, on one line.
fn heartbeat(source: &dyn Source, status: &Mutex<Fetched>, finished: &AtomicBool) {
    let mut last = Instant::now();
    while !finished.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(200));
        if last.elapsed() < HEARTBEAT {
            continue;
        }
        last = Instant::now();
        let (done, symbols, candles) = {
            let s = status.lock().expect("status");
            (s.done, s.symbols, s.candles)
        };
        let waiting = source
            .waiting_for()
            .map_or_else(|| "fetching".to_owned(), |w| format!("waiting for {w}"));
        crate::warn!(
            "universe: history: {done} of {symbols} symbols, {candles} candles, weight {} used; {waiting}",
            source.usage().weight
        );
    }
}

fn warn_gaps(gaps: &[Gap]) {
    for gap in gaps {
        crate::warn!(
            "universe: {}: the exchange has no candles from {} to {} ({} missing); kept as a gap",
            output::printable(&gap.symbol),
            crate::clock::epoch(gap.from_ms.div_euclid(1000)),
            crate::clock::epoch(gap.to_ms.div_euclid(1000)),
            gap.missing
        );
    }
}

pub fn import(args: &HistoryImportArgs) -> anyhow::Result<ExitCode> {
    let day = |flag: &str, text: &Option<String>| -> anyhow::Result<Option<i64>> {
        let Some(text) = text else { return Ok(None) };
        let ms = super::time_flag(flag, text)?;
        if ms.rem_euclid(86_400_000) != 0 {
            return Err(UsageError(format!(
                "{flag} {text:?}: a day (2024-01-01), as the archive's files are whole days"
            ))
            .into());
        }
        Ok(Some(ms))
    };
    let exchange_info = match &args.exchange_info {
        None => import::Known::default(),
        Some(path) => std::fs::read(path)
            .map_err(|e| e.to_string())
            .and_then(|body| import::Known::parse(&body))
            .map_err(|e| UsageError(format!("--exchange-info {}: {e}", path.display())))?,
    };
    let options = import::Options {
        symbols: args.symbols.clone(),
        from: day("--from", &args.from)?,
        to: day("--to", &args.to)?,
        exchange_info,
        replace_changed: args.replace_changed,
    };
    let done = match import::import(&args.archive, &args.out, &options) {
        Ok(done) => done,
        Err(ImportError::Usage(e)) => return Err(UsageError(e).into()),
        Err(ImportError::Io(e)) => anyhow::bail!("importing into {}: {e}", args.out.display()),
    };
    report_import(&done, args)?;
    if done.faults() == 0 {
        return Ok(ExitCode::Success);
    }
    let detail = done
        .refused
        .iter()
        .map(ToString::to_string)
        .chain(done.conflicts.iter().map(ToString::to_string))
        .chain(
            done.changed
                .iter()
                .map(|f| format!("{f}: replaced by Binance since it was imported")),
        )
        .collect::<Vec<_>>()
        .join("; ");
    Err(FailClosed::Import {
        faults: done.faults(),
        out: args.out.display().to_string(),
        detail,
    }
    .into())
}

fn report_import(done: &Imported, args: &HistoryImportArgs) -> anyhow::Result<()> {
    warn_import(done);
    if args.json {
        return super::print_json(&serde_json::json!(done));
    }
    writeln!(
        output::stdout(),
        "imported {} files ({} candles, {} funding rates) into {} ({} symbols, {} files already in, {} gaps; times in ms in {} files, in µs in {})",
        done.files,
        done.candles,
        done.funding_rates,
        args.out.display(),
        done.symbols,
        done.unchanged,
        done.gaps.len(),
        done.millisecond_files,
        done.microsecond_files
    )?;
    Ok(())
}

/// On stderr: every file not merged and why, what was passed over, the gaps.
fn warn_import(done: &Imported) {
    for refusal in &done.refused {
        crate::warn!(
            "universe: {}; not merged",
            output::printable(&refusal.to_string())
        );
    }
    for conflict in &done.conflicts {
        crate::warn!("universe: {}", output::printable(&conflict.to_string()));
    }
    for file in &done.changed {
        crate::warn!(
            "universe: {file}: Binance replaced it since it was imported (another checksum); the history keeps the first copy, --replace-changed merges the new one"
        );
    }
    let some = |names: &[String]| -> String {
        let shown: Vec<String> = names
            .iter()
            .take(8)
            .map(|n| output::printable(n).into_owned())
            .collect();
        let more = names.len().saturating_sub(shown.len());
        format!(
            "{}{}",
            shown.join(", "),
            if more > 0 {
                format!(" and {more} more")
            } else {
                String::new()
            }
        )
    };
    for (names, what) in [
        (
            &done.unverified,
            "files had no .CHECKSUM beside them: merged on their zip's own CRC only",
        ),
        (&done.delivery_contracts, "delivery contracts were skipped"),
        (
            &done.not_usdt_perpetuals,
            "folders are not USDT perpetuals and were skipped",
        ),
        (
            &done.unexpected,
            "files have names that do not say what they hold and were not read",
        ),
        (
            &done.derived_records,
            "symbols have records derived from the archive (exchangeInfo.json says how)",
        ),
    ] {
        if !names.is_empty() {
            crate::warn!("universe: {} {what}: {}", names.len(), some(names));
        }
    }
    warn_gaps(&done.gaps);
}
