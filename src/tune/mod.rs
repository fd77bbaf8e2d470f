//! `universe tune`: score weights chosen walk-forward, judged out of sample only, with
//! the two statistics that say whether the choice is luck.
//!
//! steps assessed once ([`trial::moments`]) → trials drawn ([`space`]) → in each fold,
//! every trial run on the training part and the best by the objective chosen there, then
//! run on the test part after a one-step embargo ([`folds`]) → the out-of-sample path
//! against the default weights and random universes → every trial over the whole
//! history for the deflated Sharpe ratio and PBO ([`stats`]) → a verdict.

use rayon::prelude::*;

use crate::backtest::archive::Archive;
use crate::backtest::outcome::{Costs, Moves};
use crate::backtest::random::{self, Band};
use crate::decide::Config;
use crate::select::Weights;

pub mod folds;
pub mod report;
pub mod space;
pub mod stats;
mod trial;

pub use folds::{Fold, Folding};
pub use space::Space;
pub use trial::Earned;

/// What a trial is judged by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Objective {
    /// Mean step return over its standard deviation.
    Sharpe,
    /// Total return, compounded.
    Return,
    /// The members' mean |return| to the next step.
    Opportunity,
}

impl Objective {
    pub fn name(self) -> &'static str {
        match self {
            Self::Sharpe => "sharpe",
            Self::Return => "return",
            Self::Opportunity => "opportunity",
        }
    }

    /// `earned`'s value by this objective.
    pub fn of(self, returns: &[f64], opportunity: &[f64]) -> f64 {
        match self {
            Self::Sharpe => stats::Moments::of(returns).sharpe,
            Self::Return => returns.iter().fold(1.0, |v, r| v * (1.0 + r)) - 1.0,
            Self::Opportunity => opportunity.iter().sum::<f64>() / opportunity.len().max(1) as f64,
        }
    }

    /// The series this objective reads (for PBO's blocks).
    fn series(self, earned: &Earned) -> &[f64] {
        match self {
            Self::Sharpe | Self::Return => &earned.returns,
            Self::Opportunity => &earned.opportunity,
        }
    }
}

/// How to tune.
#[derive(Debug, Clone)]
pub struct Options {
    pub trials: usize,
    pub seed: u64,
    pub objective: Objective,
    pub folding: Folding,
    /// PBO's blocks (even).
    pub blocks: usize,
    pub space: Space,
    pub costs: Costs,
    pub draws: usize,
    /// How long a published universe stands while refreshes fail.
    pub valid_for_s: u64,
}

/// Out of sample: the test parts, back to back.
#[derive(Debug, Clone)]
pub struct OutOfSample {
    /// Steps `[from, to)` of the schedule.
    pub from: usize,
    pub to: usize,
    pub chosen: Earned,
    pub default: Earned,
    pub band: Band,
}

/// What tuning found.
#[derive(Debug, Clone)]
pub struct Tuned {
    pub times: Vec<i64>,
    /// Trial 0 is the configured weights.
    pub trials: Vec<Weights>,
    pub folds: Vec<Fold>,
    /// Each trial's objective over the whole history.
    pub whole: Vec<f64>,
    /// The configured weights' total return over the whole history: `backtest`'s.
    pub default_total: f64,
    pub oos: OutOfSample,
    /// The out-of-sample excess over the default weights, per step.
    pub excess: stats::Moments,
    /// What the best of the trials would show by luck (no skill: a Sharpe estimate's
    /// variance is 1/(T − 1)).
    pub expected_max_sharpe: f64,
    pub deflated_sharpe: f64,
    /// The variance of the trials' Sharpe ratios (of their excess over the configured
    /// weights, whole history), and the deflated Sharpe ratio it would give.
    pub trials_sharpe_variance: f64,
    pub deflated_by_spread: f64,
    pub pbo: f64,
    pub logits: Vec<f64>,
}

impl Tuned {
    /// The verdict: an edge only with a deflated Sharpe ratio of at least 0.95 and PBO
    /// below 0.5.
    pub fn edge(&self) -> bool {
        self.deflated_sharpe >= 0.95 && self.pbo < 0.5
    }
}

/// Why tuning could not run.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct TuneError(pub String);

/// Tunes the score weights on `archive` at `times`. The history is freed once every step
/// is assessed and every move read: the trials need nothing else of it.
pub fn tune(
    archive: Archive,
    config: &Config,
    times: &[i64],
    options: &Options,
) -> Result<Tuned, TuneError> {
    let folds = options.folding.bounds(times.len()).map_err(TuneError)?;
    let trials = options
        .space
        .sample(config.weights, options.trials, options.seed)
        .map_err(TuneError)?;
    let moments = trial::moments(&archive, config, times);
    let places = trial::places(&archive);
    let moves = Moves::new(&archive, times);
    drop(archive);
    let run = |range: std::ops::Range<usize>, weight_at: &dyn Fn(usize) -> Weights| {
        trial::replay(
            &moments[range],
            weight_at,
            config,
            options.valid_for_s,
            &places,
        )
    };
    let folds: Vec<Fold> = folds
        .into_iter()
        .map(|bounds| {
            let train = moves.slice(bounds.train.0, bounds.train.1);
            let scores: Vec<f64> = trials
                .par_iter()
                .map(|w| {
                    let steps = run(bounds.train.0..bounds.train.1, &|_| *w);
                    let e = trial::earned(&steps, &train, options.costs);
                    options.objective.of(&e.returns, &e.opportunity)
                })
                .collect();
            Fold::chosen_from(bounds, scores)
        })
        .collect();
    let whole: Vec<Earned> = trials
        .par_iter()
        .map(|w| trial::earned(&run(0..times.len(), &|_| *w), &moves, options.costs))
        .collect();
    let oos = out_of_sample(&folds, &trials, &moves, options, &run);
    Ok(judge(times, trials, folds, &whole, oos, options))
}

/// Decisions over a range of steps by the weights each step is given.
type Replay<'a> =
    dyn Fn(std::ops::Range<usize>, &dyn Fn(usize) -> Weights) -> Vec<crate::backtest::Step> + 'a;

/// The test parts, back to back: the chosen weights of each fold from its test part on
/// (the configured ones before the first), the configured weights all along, and random
/// universes with the chosen path's churn; churn control's memory carried throughout, as
/// the store would carry it.
fn out_of_sample(
    folds: &[Fold],
    trials: &[Weights],
    moves: &Moves,
    options: &Options,
    run: &Replay<'_>,
) -> OutOfSample {
    let (from, to) = (folds[0].test.0, folds[folds.len() - 1].test.1);
    let weight_at = |k: usize| {
        folds
            .iter()
            .rev()
            .find(|f| f.test.0 <= k)
            .map_or(trials[0], |f| trials[f.chosen])
    };
    let chosen = run(0..to, &weight_at);
    let default = run(0..to, &|_| trials[0]);
    let moves = moves.slice(from, to);
    let top = chosen[from..]
        .iter()
        .map(|s| s.members.len())
        .max()
        .unwrap_or(0);
    OutOfSample {
        from,
        to,
        band: random::band(&moves, &chosen[from..], top, options.draws, options.costs),
        chosen: trial::earned(&chosen[from..], &moves, options.costs),
        default: trial::earned(&default[from..], &moves, options.costs),
    }
}

/// The statistics over every trial, and the out-of-sample excess they deflate.
fn judge(
    times: &[i64],
    trials: Vec<Weights>,
    folds: Vec<Fold>,
    whole: &[Earned],
    oos: OutOfSample,
    options: &Options,
) -> Tuned {
    let excess_of =
        |a: &[f64], b: &[f64]| -> Vec<f64> { a.iter().zip(b).map(|(x, y)| x - y).collect() };
    let sharpes: Vec<f64> = whole
        .iter()
        .map(|e| stats::Moments::of(&excess_of(&e.returns, &whole[0].returns)).sharpe)
        .collect();
    let mean = sharpes.iter().sum::<f64>() / sharpes.len() as f64;
    let variance = sharpes.iter().map(|s| (s - mean).powi(2)).sum::<f64>()
        / (sharpes.len() as f64 - 1.0).max(1.0);
    let excess = stats::Moments::of(&excess_of(&oos.chosen.returns, &oos.default.returns));
    // what the best of the trials would show by luck: under no skill a Sharpe estimate
    // from T steps varies by 1/(T − 1); the trials' own spread is reported beside it, as
    // with a real signal some trials share, that spread measures the signal, not luck
    let luck = 1.0 / (excess.n.saturating_sub(1).max(1) as f64);
    let expected_max_sharpe = stats::expected_max_sharpe(luck, trials.len());
    let spread_max_sharpe = stats::expected_max_sharpe(variance, trials.len());
    let objective = options.objective;
    let performance: Vec<Vec<f64>> = whole.iter().map(|e| objective.series(e).to_vec()).collect();
    let (pbo, logits) = stats::pbo(&performance, options.blocks, |part| match objective {
        Objective::Opportunity => objective.of(&[], part),
        _ => objective.of(part, &[]),
    });
    Tuned {
        times: times.to_vec(),
        whole: whole
            .iter()
            .map(|e| objective.of(&e.returns, &e.opportunity))
            .collect(),
        default_total: whole[0].returns.iter().fold(1.0, |v, r| v * (1.0 + r)) - 1.0,
        trials,
        folds,
        oos,
        deflated_sharpe: stats::deflated_sharpe(&excess, expected_max_sharpe),
        deflated_by_spread: stats::deflated_sharpe(&excess, spread_max_sharpe),
        trials_sharpe_variance: variance,
        excess,
        expected_max_sharpe,
        pbo,
        logits,
    }
}

#[cfg(test)]
mod tests;
