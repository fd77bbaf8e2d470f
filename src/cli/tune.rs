//! `universe tune`: the clap definition.

use std::path::PathBuf;

use clap::Args;

use super::Knobs;
use crate::settings::knobs::on;

#[derive(Debug, Args)]
#[command(after_help = "\\
Each fold runs every trial on its training part, chooses the best by --objective there, skips
one step (the embargo) and runs the choice on its test part; the test parts lie back to back
and are the only figures reported. Churn control's memory carries across them as the store
would. The verdict says \"evidence of an edge over the configured weights\" only when the
deflated Sharpe ratio of the out-of-sample excess return is at least 0.95 and the probability
of backtest overfitting (PBO) is below 0.5; otherwise \"no evidence: keep the configured
weights\". tune never changes a published policy.

Example:
  universe tune --history ../shared/data/binance-um-2023-07-history --trials 100 --folds 4")]
pub struct TuneArgs {
    /// A history folder, as for backtest.
    #[arg(long, value_name = "DIR")]
    pub history: PathBuf,

    /// First step, UTC [default: the first moment 96 hours of candles exist].
    #[arg(long, value_name = "TIME")]
    pub from: Option<String>,

    /// Last step, UTC [default: the end of the recording].
    #[arg(long, value_name = "TIME")]
    pub to: Option<String>,

    /// Time between decisions (whole minutes).
    #[arg(long, default_value = "30m", value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub step: std::time::Duration,

    /// Walk-forward folds, each training on as many steps as it tests.
    #[arg(long, value_name = "N", default_value_t = 4, conflicts_with_all = ["train", "test"])]
    pub folds: usize,

    /// Training part of each fold (60d), with --test instead of --folds.
    #[arg(long, value_name = "DURATION", requires = "test", value_parser = humantime::parse_duration)]
    pub train: Option<std::time::Duration>,

    /// Test part of each fold (30d), with --train.
    #[arg(long, value_name = "DURATION", requires = "train", value_parser = humantime::parse_duration)]
    pub test: Option<std::time::Duration>,

    /// Weight sets tried, the configured ones among them.
    #[arg(long, default_value_t = 200, value_name = "N", value_parser = clap::value_parser!(u32).range(2..=100_000))]
    pub trials: u32,

    /// Seed of the random search (the same seed gives the same output, byte for byte).
    #[arg(long, default_value_t = 0, value_name = "S")]
    pub seed: u64,

    /// What a trial is chosen by on a training part.
    #[arg(long, value_enum, default_value = "sharpe")]
    pub objective: crate::tune::Objective,

    /// A TOML file narrowing the search: [weights] name = [low, high], shares of the sum.
    #[arg(long, value_name = "FILE")]
    pub space: Option<PathBuf>,

    /// PBO's blocks of steps (even).
    #[arg(long, default_value_t = 16, value_name = "S", value_parser = clap::value_parser!(u32).range(2..=24))]
    pub blocks: u32,

    /// Taker fee per side, in basis points of the traded value.
    #[arg(long, default_value_t = 5.0, value_name = "BPS")]
    pub fee_bps: f64,

    /// Random universes drawn for the out-of-sample band.
    #[arg(long, default_value_t = 100, value_name = "N")]
    pub draws: usize,

    #[command(flatten)]
    pub knobs: Knobs<{ on::SIZE }>,

    /// Print every trial and fold as JSON.
    #[arg(long, env = "UNIVERSE_JSON")]
    pub json: bool,

    /// Write a self-contained HTML report with SVG charts to this file.
    #[arg(long, value_name = "FILE.html")]
    pub report: Option<PathBuf>,
}
