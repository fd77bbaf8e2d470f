//! `universe`: decides which Binance USDⓈ-M perpetual futures may be traded now and
//! publishes that decision as a policy.
//!
//! Where things happen, in the order of a refresh:
//! - [`settings`]: every knob, from flags, environment, config file and defaults;
//! - [`market`]: reading the exchange (or a snapshot), within its rate limits;
//! - [`select`]: why a symbol is excluded, how the rest are scored, ranked and chosen;
//! - [`features`]: the indicators (TA-Lib conventions);
//! - [`decide`]: the decision, pure and in one place (screen, assess, choose, carry);
//! - [`pipeline`]: a live refresh, the market read then decided;
//! - [`policy`]: the published fields and their hashes;
//! - [`store`]: Redis and the file store;
//! - [`audit`]: the audit entry and update event of a publish;
//! - [`cmd`]: one module per subcommand.

pub(crate) mod audit;
pub(crate) mod backtest;
pub mod cli;
pub(crate) mod clock;
mod cmd;
pub(crate) mod decide;
pub(crate) mod digest;
pub(crate) mod error;
pub mod exit;
pub mod features;
pub(crate) mod history;
pub mod market;
pub(crate) mod metrics;
pub mod output;
pub(crate) mod pipeline;
pub mod policy;
pub(crate) mod progress;
pub(crate) mod rotation;
pub mod select;
pub mod settings;
pub(crate) mod store;
pub(crate) mod tune;

use cli::{Cli, Command};
pub use exit::ExitCode;
use settings::Settings;

/// On SIGINT or SIGTERM: remove the candle-cache temp files being written, then die of
/// the signal as if no handler were installed (the exit status says which signal).
fn clean_up_on_signal() {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let Ok(mut signals) = signal_hook::iterator::Signals::new([SIGINT, SIGTERM]) else {
        return; // without the handler a stopped run leaves temp files for the next sweep
    };
    std::thread::spawn(move || {
        if let Some(signal) = signals.forever().next() {
            market::cache::remove_in_flight_temps_then(|| {
                let _ = signal_hook::low_level::emulate_default_handler(signal);
            });
        }
    });
}

/// Runs one parsed command line. Errors carry their exit code ([`exit::classify`]).
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    clean_up_on_signal();
    let file = cli.config.as_deref();
    match cli.command {
        Command::Generate(args) => {
            let settings = Settings::resolve(file, args.overrides())?;
            cmd::generate::run(&settings, &cmd::generate::Options::from(&args))
        }
        Command::Explain(args) => cmd::explain::run(
            &Settings::resolve(file, args.selection.knobs.overrides())?,
            &args,
        ),
        Command::Snapshot(args) => {
            cmd::snapshot::run(&Settings::resolve(file, args.knobs.overrides())?, &args.out)
        }
        Command::Show(args) => cmd::show::run(
            &Settings::resolve(file, args.store.overrides())?,
            cmd::show::Format::of(args.json, args.audit_line),
        ),
        Command::Proof(args) => {
            cmd::proof::run(&Settings::resolve(file, args.knobs.overrides())?, args.json)
        }
        Command::DiffHash(args) => {
            cmd::diff_hash::run(&Settings::resolve(file, args.store.overrides())?, &args)
        }
        Command::Rollback(args) => cmd::rollback::run(
            &Settings::resolve(file, args.store.overrides().and(args.validity.overrides()))?,
            &args,
        ),
        Command::Perf(args) => {
            cmd::perf::run(&Settings::resolve(file, args.overrides())?, &args.command)
        }
        Command::Rotation(args) => {
            let settings = Settings::resolve(file, args.selection.knobs.overrides())?;
            cmd::rotation::run(&settings, &args)
        }
        Command::Backtest(args) => {
            let settings = Settings::resolve(file, args.knobs.overrides())?;
            cmd::backtest::run(&settings, &args)
        }
        Command::Keygen(args) => cmd::keygen::run(&args),
        Command::Tune(args) => {
            cmd::tune::run(&Settings::resolve(file, args.knobs.overrides())?, &args)
        }
        Command::History(args) => match &args.command {
            crate::cli::HistoryCommand::Fetch(args) => {
                let settings = Settings::resolve(file, args.knobs.overrides())?;
                cmd::history::fetch(&settings, args)
            }
            crate::cli::HistoryCommand::Import(args) => cmd::history::import(args),
        },
        Command::Config(args) => {
            let settings = Settings::resolve(file, args.generate.overrides())?;
            cmd::config::run(&settings, file, args.generate.json)
        }
    }
}
