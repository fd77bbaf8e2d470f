//! `universe history fetch`: a history folder for backtests, from the exchange, within
//! the weight budget, resumable. Run where stderr is not a terminal (cron, CI, a log), it
//! prints a progress line every 30 s.

use std::io::{IsTerminal as _, Write as _};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::cli::HistoryFetchArgs;
use crate::error::{FailClosed, UsageError};
use crate::exit::ExitCode;
use crate::history::{FetchError, Fetched};
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
    for gap in &done.gaps {
        crate::warn!(
            "universe: {}: the exchange has no candles from {} to {} ({} missing); kept as a gap",
            output::printable(&gap.symbol),
            crate::clock::epoch(gap.from_ms.div_euclid(1000)),
            crate::clock::epoch(gap.to_ms.div_euclid(1000)),
            gap.missing
        );
    }
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
