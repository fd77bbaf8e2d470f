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

use crate::decide::{self, Config, Memory};
use crate::select::{Excluded, Regime, Scored, Symbol};
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
    let mut run = Run::new(&config, settings.valid_for_s);
    let index = |symbol: Symbol| {
        archive
            .index_of(&symbol)
            .expect("a backtest decides only on the history's symbols")
    };
    let mut steps = Vec::with_capacity(times.len());
    for chunk in times.chunks(CHUNK) {
        let assessed: Vec<_> = chunk
            .par_iter()
            .map(|&t| decide::assess(archive.view_at(t), &no_models, &config))
            .collect();
        for (&t, refresh) in chunk.iter().zip(assessed) {
            let ranking = refresh
                .as_ref()
                .map_err(ToString::to_string)
                .map(|r| Ranking {
                    scored: &r.scored,
                    excluded: &r.excluded,
                    regime: r.regime,
                });
            steps.push(run.step(t, ranking, index));
        }
    }
    steps
}

/// The market at a step as churn control sees it: the ranking, what was excluded, the
/// regime.
#[derive(Debug, Clone, Copy)]
pub struct Ranking<'a> {
    pub scored: &'a [Scored],
    pub excluded: &'a [Excluded],
    pub regime: Regime,
}

/// A run of decisions: churn control's state from step to step, as the store would
/// carry it, and the universe that stands while a step fails closed.
#[derive(Debug)]
pub struct Run<'a> {
    config: &'a Config,
    valid_ms: i64,
    memory: Memory,
    published: Option<(i64, Step)>,
}

impl<'a> Run<'a> {
    pub fn new(config: &'a Config, valid_for_s: u64) -> Self {
        Self {
            config,
            valid_ms: i64::try_from(valid_for_s).unwrap_or(i64::MAX / 1000) * 1000,
            memory: Memory::default(),
            published: None,
        }
    }

    /// The decision at `t` from `ranking`, or the standing universe when the market
    /// could not be assessed (`Err`: why). `index` places a symbol in the history.
    pub fn step(
        &mut self,
        t: i64,
        ranking: Result<Ranking<'_>, String>,
        index: impl Fn(Symbol) -> usize,
    ) -> Step {
        let scan = crate::rotation::models::Scan::default();
        let chosen = ranking.and_then(|r| {
            let now = t.div_euclid(1000);
            decide::choose_ranked(r.scored, r.excluded, &scan, &self.memory, self.config, now)
                .map(|chosen| (r, chosen))
                .map_err(|e| e.to_string())
        });
        match chosen {
            Ok((ranking, chosen)) => {
                let step = step_of(&ranking, &chosen, t, index);
                carry(&mut self.memory, &step.universe, t);
                self.published = Some((t, step.clone()));
                step
            }
            Err(why) => self.stand(t, why),
        }
    }

    /// A step that failed closed: the last published universe while it is valid, else
    /// none.
    fn stand(&self, t: i64, why: String) -> Step {
        let standing = self
            .published
            .as_ref()
            .filter(|(at, _)| t < at + self.valid_ms)
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
    let ranking = Ranking {
        scored: &plan.refresh.scored,
        excluded: &plan.refresh.excluded,
        regime: plan.refresh.regime,
    };
    let chosen = decide::Chosen {
        choice: plan.choice,
        carried: plan.carried,
        rotation: plan.rotation,
    };
    Ok(step_of(&ranking, &chosen, t, |s| {
        archive.index_of(&s).expect("a history symbol")
    }))
}

fn step_of(
    ranking: &Ranking<'_>,
    chosen: &decide::Chosen,
    t: i64,
    index: impl Fn(Symbol) -> usize,
) -> Step {
    let universe: Vec<&Scored> = chosen
        .choice
        .members
        .iter()
        .map(|&i| &ranking.scored[i])
        .chain(&chosen.carried)
        .collect();
    let names: Vec<String> = universe
        .iter()
        .map(|s| s.candidate.symbol.to_string())
        .collect();
    let direction = |trend: f64| if trend < 0.0 { -1 } else { 1 };
    Step {
        time: t,
        universe_hash: crate::policy::universe_hash(&names),
        leverage: universe.iter().map(|s| s.leverage).collect(),
        direction: universe
            .iter()
            .map(|s| direction(s.features.trend_1h))
            .collect(),
        members: universe.iter().map(|s| index(s.candidate.symbol)).collect(),
        eligible: ranking
            .scored
            .iter()
            .map(|s| Eligible {
                symbol: u32::try_from(index(s.candidate.symbol)).expect("under 2^32 symbols"),
                direction: direction(s.features.trend_1h),
                quote_volume: s.candidate.quote_volume,
            })
            .collect(),
        replacements: chosen.choice.replacements,
        regime: ranking.regime.as_str().to_owned(),
        universe: names,
        failed: None,
    }
}

/// The decision a backtest runs: `generate`'s, without the spread filter (a history has
/// no order book, so the spread would be made up).
pub fn decision(settings: &Settings) -> Config {
    settings.decision().ignoring_spread()
}

/// What the store remembers after a publish of `universe` at `t`: the incumbents, and
/// when each joined (a member that stays keeps its time).
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
