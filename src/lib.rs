//! `universe`: decides which Binance USDⓈ-M perpetual futures may be traded now and
//! publishes that decision as a policy.
//!
//! Where things happen, in the order of a refresh:
//! - [`market`]: reading the exchange (or a snapshot), within its rate limits;
//! - [`select`]: why a symbol is excluded, how the rest are scored and ranked;
//! - [`features`]: the indicators (TA-Lib conventions);
//! - [`refresh`]: the pipeline that ties those together;
//! - [`policy`]: the published fields and their hashes;
//! - [`store`]: Redis and the file store;
//! - [`cmd`]: one module per subcommand.

pub mod cli;
pub mod cmd;
pub mod config;
pub mod error;
pub mod exit;
pub mod features;
pub mod market;
pub mod output;
pub mod policy;
pub mod progress;
pub mod refresh;
pub mod select;
pub mod store;

use cli::{Cli, Command};
use config::{DiffHashConfig, GenerateConfig, MarketConfig, ProofConfig};
pub use exit::ExitCode;

/// Runs one parsed command line. Errors carry their exit code (see [`exit::classify`]).
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Generate(args) => cmd::generate::run(&GenerateConfig::from_args(&args)?),
        Command::Snapshot(args) => {
            cmd::snapshot::run(&MarketConfig::from_args(&args.market)?, &args.out)
        }
        Command::Show(args) => cmd::show::run(&config::store_location(&args.store)?, args.json),
        Command::Proof(args) => cmd::proof::run(&ProofConfig::from_args(&args)?),
        Command::DiffHash(args) => cmd::diff_hash::run(&DiffHashConfig::from_args(&args)?),
    }
}
