//! What the trials share, and what each does alone.
//!
//! **Shared, computed once per step** (the same decision code as `generate`, point in
//! time): the screening, the windows and features of every candidate, the five
//! percentile components, the regime, each symbol's forward return and funding.
//! **Per trial**: the score from its weights (Σ wₖ·pctₖ / Σ wₖ, scaled by the regime's
//! multipliers), the ranking, churn control along the steps (its own memory), the
//! holdings and their outcomes.

use std::collections::HashMap;

use rayon::prelude::*;

use crate::backtest::archive::Archive;
use crate::backtest::outcome::{self, Costs, Moves};
use crate::backtest::{Ranking, Run, Step};
use crate::decide::{self, Config};
use crate::select::{Regime, Scored, Symbol, Weights};

/// One step's market, assessed once: the ranking by the configured weights, or why it
/// failed closed.
#[derive(Debug)]
pub struct Moment {
    pub time: i64,
    pub assessed: Result<(Vec<Scored>, Regime), String>,
}

/// Every step assessed, on every core. Exclusions are not kept: with no held symbols (a
/// history has no positions) they only put a removal into words.
pub fn moments(archive: &Archive, config: &Config, times: &[i64]) -> Vec<Moment> {
    let no_models = std::collections::BTreeMap::new();
    times
        .par_iter()
        .map(|&t| Moment {
            time: t,
            assessed: decide::assess(archive.view_at(t), &no_models, config)
                .map(|r| (r.scored, r.regime))
                .map_err(|e| e.to_string()),
        })
        .collect()
}

/// Where each symbol is in the history (its outcomes' index).
pub fn places(archive: &Archive) -> HashMap<Symbol, usize> {
    archive
        .series
        .iter()
        .enumerate()
        .filter_map(|(i, (name, _))| Some((Symbol::new(name)?, i)))
        .collect()
}

/// The decisions of `moments` by the weights `weight_at(k)` gives step `k`, churn
/// control's memory carried from the first.
pub fn replay(
    moments: &[Moment],
    weight_at: impl Fn(usize) -> Weights,
    config: &Config,
    valid_for_s: u64,
    places: &HashMap<Symbol, usize>,
) -> Vec<Step> {
    let mut run = Run::new(config, valid_for_s);
    let mut ranked: Vec<Scored> = Vec::new();
    let place = |s: Symbol| places[&s];
    moments
        .iter()
        .enumerate()
        .map(|(k, m)| match &m.assessed {
            Ok((scored, regime)) => {
                ranked.clone_from(scored);
                rescore(&mut ranked, &regime_weights(&weight_at(k), *regime, config));
                let ranking = Ranking {
                    scored: &ranked,
                    excluded: &[],
                    regime: *regime,
                };
                run.step(m.time, Ok(ranking), place)
            }
            Err(why) => run.step(m.time, Err(why.clone()), place),
        })
        .collect()
}

/// `weights` scaled by `regime`'s multipliers, as `generate` scales the configured ones.
fn regime_weights(weights: &Weights, regime: Regime, config: &Config) -> Weights {
    match regime {
        Regime::HighVol => weights.scaled(&config.regimes.high_vol),
        Regime::LowVol => weights.scaled(&config.regimes.low_vol),
        Regime::Normal => *weights,
    }
}

/// The scores of `scored` by `weights`, from the components, summed in the formula's
/// order (so the configured weights give exactly `generate`'s scores), then ranked.
fn rescore(scored: &mut [Scored], weights: &Weights) {
    let total = weights.sum();
    for s in scored.iter_mut() {
        let c = &s.components;
        let weighted = weights.trend_1h * c.trend_1h
            + weights.mom_15m * c.mom_15m
            + weights.mom_1h * c.mom_1h
            + weights.vol_fit * c.vol_fit
            + weights.liquidity * c.liquidity;
        s.score = 100.0 * weighted / total;
    }
    scored.sort_by(crate::select::score::rank_order);
}

/// What a run of steps earned: the follow portfolio's net return of each step, and its
/// opportunity (the members' mean |return| to the next step, 0 with no members).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Earned {
    pub returns: Vec<f64>,
    pub opportunity: Vec<f64>,
    /// Replacements per refresh.
    pub replacements: f64,
}

/// What `steps` earned on `moves` (made for the same times).
pub fn earned(steps: &[Step], moves: &Moves, costs: Costs) -> Earned {
    let returns = outcome::returns(moves, outcome::universe_holdings(steps, true), costs);
    let opportunity = steps
        .iter()
        .take(moves.steps())
        .enumerate()
        .map(|(k, s)| {
            let sizes: Vec<f64> = s
                .members
                .iter()
                .filter_map(|&m| moves.forward(m, k))
                .map(f64::abs)
                .collect();
            if sizes.is_empty() {
                0.0
            } else {
                sizes.iter().sum::<f64>() / sizes.len() as f64
            }
        })
        .collect();
    let refreshes = steps.len().saturating_sub(1).max(1) as f64;
    Earned {
        returns,
        opportunity,
        replacements: steps.iter().skip(1).map(|s| s.replacements).sum::<usize>() as f64
            / refreshes,
    }
}
