//! `universe history fetch`: a history folder for backtests, from the exchange, within
//! the weight budget, resumable.

use std::io::Write as _;
use std::time::{Duration, Instant};

use crate::cli::HistoryFetchArgs;
use crate::exit::ExitCode;
use crate::market::client::Client;
use crate::output;
use crate::progress::Progress;
use crate::settings::Settings;

/// A fetch of months takes longer than a refresh's deadline; a day is the bound.
const DEADLINE: Duration = Duration::from_secs(24 * 3600);

pub fn fetch(settings: &Settings, args: &HistoryFetchArgs) -> anyhow::Result<ExitCode> {
    let from = super::backtest::time_flag("--from", &args.from)?;
    let to = args
        .to
        .as_deref()
        .map(|t| super::backtest::time_flag("--to", t))
        .transpose()?;
    let mut client = settings.client.clone();
    client.deadline = client.deadline.max(DEADLINE);
    let source = Client::new(&client, Instant::now());
    let done = crate::history::fetch(
        &source,
        &args.out,
        from,
        to,
        &args.symbols,
        &Progress::for_stderr(),
    )
    .map_err(|e| crate::error::FailClosed::Fetch {
        what: format!("history into {}", args.out.display()),
        detail: e,
    })?;
    if args.json {
        super::print_json(&serde_json::json!(done))?;
    } else {
        writeln!(
            output::stdout(),
            "fetched {} candles of {} symbols into {} ({} requests); a rerun resumes",
            done.candles,
            done.symbols,
            args.out.display(),
            done.requests
        )?;
    }
    Ok(ExitCode::Success)
}
