//! The backtest: the exact decision `generate` would have published at each step of a
//! history, point in time, then what it would have earned against honest baselines.
//!
//! Each step runs [`crate::decide::decide`] on the market as it was at `t`
//! ([`archive::Archive::view_at`]: only candles opened by `t`), with churn control's state
//! (the incumbents and when each joined) carried from step to step as the store would
//! carry it. A step that fails closed publishes nothing: the previous universe stands
//! until its validity (`policy.valid_for_s`) runs out, then nothing is traded.
//!
//! Outcomes read only candles after `t` ([`outcome`]); [`report`] draws them.

pub mod archive;
pub mod outcome;
pub mod random;
pub mod report;
pub mod summary;

use std::collections::{BTreeMap, HashMap};

use rayon::prelude::*;

use serde::Serialize;

use crate::decide::{self, Config, Memory, PlanError};
use crate::select::Symbol;
use crate::settings::Settings;
use archive::Archive;

/// One decision.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Step {
    /// The moment, ms since the epoch (the exchange's clock).
    pub time: i64,
    /// The universe in force after this step, in rank order (empty once an old one
    /// expired).
    pub universe: Vec<String>,
    pub universe_hash: String,
    /// Published leverage, by universe position.
    pub leverage: Vec<u32>,
    /// The sign of each member's `trend_1h` at `t` (+1 up, −1 down): the follow direction.
    pub direction: Vec<i8>,
    /// The universe's symbols by their index in the history ([`Archive::series`]).
    #[serde(skip)]
    pub members: Vec<usize>,
    /// Every scored symbol at `t`, in rank order: the eligible.
    #[serde(skip)]
    pub eligible: Vec<Eligible>,
    /// Symbols that entered in place of incumbents this step.
    pub replacements: usize,
    pub regime: String,
    /// Why nothing was published this step.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failed: Option<String>,
}

/// A symbol scored at a step: 16 bytes, as a year of 500 symbols holds millions.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Eligible {
    /// Its index in the history ([`Archive::series`]).
    pub symbol: u32,
    /// The sign of its `trend_1h` (+1 up, −1 down).
    pub direction: i8,
    /// The 24h quote volume the decision read.
    pub quote_volume: f64,
}

impl Eligible {
    pub fn index(self) -> usize {
        self.symbol as usize
    }
}

/// Moments assessed in parallel at a time, before their decisions run in order.
const CHUNK: usize = 64;

/// The decisions at each of `times`, in order, with churn control's state carried.
///
/// Assessing the market at a moment (exclusions, windows, features, score) does not
/// depend on earlier decisions, so a chunk of moments is assessed on every core; churn
/// control and rotation then run in order, each on the history the previous left.
pub fn decisions(archive: &Archive, settings: &Settings, times: &[i64]) -> Vec<Step> {
    let config = decision(settings);
    let no_models = BTreeMap::new();
    let mut memory = Memory::default();
    let mut published: Option<(i64, Step)> = None;
    let mut steps = Vec::with_capacity(times.len());
    for chunk in times.chunks(CHUNK) {
        let assessed: Vec<_> = chunk
            .par_iter()
            .map(|&t| decide::assess(archive.view_at(t), &no_models, &config))
            .collect();
        for (&t, refresh) in chunk.iter().zip(assessed) {
            let plan = refresh.map_err(PlanError::from).and_then(|refresh| {
                decide::choose_from(refresh, &no_models, &memory, &config, t.div_euclid(1000))
            });
            let step = match plan {
                Ok(plan) => {
                    let step = step_of(archive, &plan, t);
                    carry(&mut memory, &step.universe, t);
                    published = Some((t, step.clone()));
                    step
                }
                Err(why) => stand(published.as_ref(), settings, t, why.to_string()),
            };
            steps.push(step);
        }
    }
    steps
}

/// The decision at `t` alone, exactly as `generate` makes it from the same market.
#[cfg(test)]
pub fn decide_at(
    archive: &Archive,
    settings: &Settings,
    memory: &Memory,
    t: i64,
) -> Result<Step, String> {
    let view = archive.view_at(t);
    let config = decision(settings);
    let plan = decide::decide(view, &BTreeMap::new(), memory, &config, t.div_euclid(1000))
        .map_err(|e| e.to_string())?;
    Ok(step_of(archive, &plan, t))
}

fn step_of(archive: &Archive, plan: &decide::Plan, t: i64) -> Step {
    let universe = plan.universe();
    let names: Vec<String> = universe
        .iter()
        .map(|s| s.candidate.symbol.to_string())
        .collect();
    let index = |symbol: &str| {
        archive
            .index_of(symbol)
            .expect("a backtest decides only on the history's symbols")
    };
    let direction = |trend: f64| if trend < 0.0 { -1 } else { 1 };
    Step {
        time: t,
        universe_hash: crate::policy::universe_hash(&names),
        leverage: universe.iter().map(|s| s.leverage).collect(),
        direction: universe
            .iter()
            .map(|s| direction(s.features.trend_1h))
            .collect(),
        members: names.iter().map(|s| index(s)).collect(),
        eligible: plan
            .refresh
            .scored
            .iter()
            .map(|s| Eligible {
                symbol: u32::try_from(index(&s.candidate.symbol)).expect("under 2^32 symbols"),
                direction: direction(s.features.trend_1h),
                quote_volume: s.candidate.quote_volume,
            })
            .collect(),
        replacements: plan.choice.replacements,
        regime: plan.refresh.regime.as_str().to_owned(),
        universe: names,
        failed: None,
    }
}

/// What the store remembers after a publish of `universe` at `t`: the incumbents, and
/// when each joined (a member that stays keeps its time).
/// The decision a backtest runs: `generate`'s, without the spread filter (a history has
/// no order book, so the spread would be made up).
fn decision(settings: &Settings) -> Config {
    settings.decision().ignoring_spread()
}

fn carry(memory: &mut Memory, universe: &[String], t: i64) {
    let universe: Vec<Symbol> = universe
        .iter()
        .map(|s| Symbol::new(s).expect("a chosen symbol"))
        .collect();
    let joined: HashMap<Symbol, i64> = universe
        .iter()
        .map(|s| {
            let since = memory.joined_at.get(s).copied();
            (*s, since.unwrap_or(t.div_euclid(1000)))
        })
        .collect();
    memory.incumbents = universe;
    memory.joined_at = joined;
}

/// A step that failed closed: the last published universe while it is valid, else none.
fn stand(published: Option<&(i64, Step)>, settings: &Settings, t: i64, why: String) -> Step {
    let valid_ms = i64::try_from(settings.valid_for_s).unwrap_or(i64::MAX / 1000) * 1000;
    let standing = published
        .filter(|(at, _)| t < at + valid_ms)
        .map(|(_, s)| s);
    let empty: Vec<String> = Vec::new();
    Step {
        time: t,
        universe: standing.map_or_else(Vec::new, |s| s.universe.clone()),
        universe_hash: standing.map_or_else(
            || crate::policy::universe_hash(&empty),
            |s| s.universe_hash.clone(),
        ),
        leverage: standing.map_or_else(Vec::new, |s| s.leverage.clone()),
        members: standing.map_or_else(Vec::new, |s| s.members.clone()),
        direction: standing.map_or_else(Vec::new, |s| s.direction.clone()),
        eligible: Vec::new(),
        replacements: 0,
        regime: String::new(),
        failed: Some(why),
    }
}

/// The step times from `from` to `to` (both included when on the grid), `step` apart.
pub fn grid(from: i64, to: i64, step: i64) -> Vec<i64> {
    let mut times = Vec::new();
    let mut t = from;
    while t <= to {
        times.push(t);
        t += step;
    }
    times
}

#[cfg(test)]
mod tests;
