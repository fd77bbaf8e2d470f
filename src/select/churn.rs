//! The universe from the ranking: plain Top-N on a first run, and churn control after it.
//!
//! The previous policy's symbols are the incumbents. Churn control only resists rank
//! noise; an exclusion removes an incumbent at once, except an open position whose data
//! could not be read this time.
//!
//! 1. A pinned symbol is in while it is scored (counted in `top`).
//! 2. A held symbol (open position) stays while it is not positively ineligible
//!    ([`Reason::removes_a_position`]): scored, or unscored because its data could not
//!    be read or judged this time (it is then *carried* with its previous figures and
//!    leverage). This holds with churn control off too.
//! 3. Every other scored incumbent stays, unless a pair replaces it (5).
//! 4. When more stay than `top` allows (`top` was lowered), the worst that are neither
//!    pinned nor held leave; when fewer, the best challengers take the free places, in
//!    rank order (no margin: those are not replacements).
//! 5. **Pairs.** The challengers (scored symbols outside the universe) best first are
//!    paired with the *replaceable* incumbents (scored, not pinned, not held, in the
//!    universe for at least `min_hold`) worst first. A pair is made while the challenger's
//!    score is at least the incumbent's plus `margin`, and at most `max_replacements`
//!    pairs per refresh: the challenger enters and that incumbent leaves. The first pair
//!    that does not clear the margin ends the pairing.
//! 6. With `max_correlation`, a challenger whose 1h returns correlate more than that with
//!    a symbol already chosen is skipped. A symbol in `not_challengers` (one rotation
//!    evicts in execution mode) never enters.
//!
//! With churn control off, the universe is the plain Top-N of the symbols that are not
//! held, plus the held ones.

use std::collections::{BTreeSet, HashMap};

use serde::Serialize;

use super::score::correlation;
use super::{Excluded, Lists, Reason, Scored, Symbol};

/// Churn control's settings: how the previous universe resists rank noise.
#[derive(Debug, Clone, PartialEq)]
pub struct Churn {
    pub enabled: bool,
    /// A challenger replaces an incumbent only by outscoring it by this many points.
    pub margin: f64,
    /// Pairs (replacements) per refresh.
    pub max_replacements: usize,
    /// An incumbent younger than this in the universe is never replaced.
    pub min_hold: std::time::Duration,
}

/// What the choice knows besides the ranking.
#[derive(Debug)]
pub struct Context<'a> {
    pub excluded: &'a [Excluded],
    /// The previous universe, in its rank order.
    pub incumbents: &'a [Symbol],
    /// When each incumbent joined the universe (epoch seconds), from the audit trail.
    pub joined_at: &'a HashMap<Symbol, i64>,
    pub now: i64,
    pub held: &'a BTreeSet<Symbol>,
    pub lists: &'a Lists,
    pub top: usize,
    pub churn: &'a Churn,
    pub max_correlation: Option<f64>,
    /// Symbols that may not enter this refresh (rotation evicts them in execution mode).
    pub not_challengers: &'a BTreeSet<Symbol>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Kept,
    Added,
    Removed,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Kept => "kept",
            Action::Added => "added",
            Action::Removed => "removed",
        }
    }
}

/// What happened to one symbol, and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Decision {
    pub symbol: Symbol,
    pub action: Action,
    pub reason: Why,
}

/// A challenger left out for its correlation with a chosen symbol.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Skipped {
    pub symbol: Symbol,
    pub correlated_with: Symbol,
    pub correlation: f64,
}

/// One replacement: `entrant` took the place of `replaced`, which it outscored by at
/// least the margin.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Pair {
    pub entrant: Symbol,
    pub replaced: Symbol,
    pub entrant_score: f64,
    pub replaced_score: f64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Choice {
    /// Indices into the ranking, in rank order.
    #[serde(skip)]
    pub members: Vec<usize>,
    /// Held incumbents in the universe although not scored this time (their data could
    /// not be read or judged): published with their previous figures and leverage.
    pub carried: Vec<Symbol>,
    /// One decision per symbol kept, added or removed.
    pub decisions: Vec<Decision>,
    pub skipped: Vec<Skipped>,
    /// Incumbents that left for rank reasons (pairs and trims).
    pub replacements: usize,
    /// The pairs churn control made.
    pub pairs: Vec<Pair>,
    /// Held symbols that left the universe (positively ineligible).
    pub positions_left: Vec<Symbol>,
}

impl Choice {
    pub fn decision(&self, symbol: &str) -> Option<&Decision> {
        self.decisions.iter().find(|d| d.symbol == symbol)
    }

    /// How many symbols the universe holds.
    pub fn size(&self) -> usize {
        self.members.len() + self.carried.len()
    }

    fn decide(&mut self, symbol: Symbol, action: Action, reason: Why) {
        self.decisions.retain(|d| d.symbol != symbol);
        self.decisions.push(Decision {
            symbol,
            action,
            reason,
        });
    }
}

pub fn choose(ranked: &[Scored], ctx: &Context<'_>) -> Choice {
    let rank_of: HashMap<&str, usize> = ranked
        .iter()
        .enumerate()
        .map(|(i, s)| (s.candidate.symbol.as_str(), i))
        .collect();
    let mut choice = Choice::default();
    pins(&rank_of, ctx, &mut choice);
    incumbents(&rank_of, ctx, &mut choice);
    trim(ranked, ctx, &mut choice);
    if ctx.churn.enabled {
        fill(ranked, ctx, &mut choice, false);
        pair(ranked, ctx, &mut choice);
    } else {
        fill(ranked, ctx, &mut choice, true);
        for &incumbent in ctx.incumbents {
            if choice.decision(incumbent.as_str()).is_none() {
                let rank = rank_of[incumbent.as_str()] + 1;
                choice.replacements += 1;
                let why = Why::OutsideTop { rank, top: ctx.top };
                choice.decide(incumbent, Action::Removed, why);
            }
        }
    }
    choice.members.sort_unstable();
    choice
}

/// Pins are in while scored.
fn pins(rank_of: &HashMap<&str, usize>, ctx: &Context<'_>, choice: &mut Choice) {
    // a pin that is not a symbol name is neither scored nor an incumbent
    for pin in ctx.lists.pin.iter().filter_map(|p| Symbol::new(p)) {
        if let Some(&i) = rank_of.get(pin.as_str()) {
            choice.members.push(i);
            let action = if ctx.incumbents.contains(&pin) {
                Action::Kept
            } else {
                Action::Added
            };
            choice.decide(pin, action, Why::Pinned { rank: i + 1 });
        } else if ctx.incumbents.contains(&pin) {
            let why = Why::PinnedButOut(exclusion(ctx.excluded, pin.as_str()));
            choice.decide(pin, Action::Removed, why);
        }
    }
}

/// Every incumbent that is not pinned: held ones stay unless positively ineligible;
/// with churn control, scored ones stay for now (pairs may replace them); unscored ones
/// leave with their reason.
fn incumbents(rank_of: &HashMap<&str, usize>, ctx: &Context<'_>, choice: &mut Choice) {
    for &incumbent in ctx
        .incumbents
        .iter()
        .filter(|s| !ctx.lists.is_pinned(s.as_str()))
    {
        let held = ctx.held.contains(&incumbent);
        match rank_of.get(incumbent.as_str()) {
            Some(&i) if held => {
                choice.members.push(i);
                choice.decide(incumbent, Action::Kept, Why::Held { rank: i + 1 });
            }
            Some(&i) if ctx.churn.enabled => {
                choice.members.push(i);
                choice.decide(incumbent, Action::Kept, Why::Rank { rank: i + 1 });
            }
            Some(_) => {} // churn off: the plain Top-N decides
            None => {
                let out = exclusion(ctx.excluded, incumbent.as_str());
                let removes = out.reason().is_none_or(Reason::removes_a_position);
                if held && !removes {
                    choice.carried.push(incumbent);
                    choice.decide(incumbent, Action::Kept, Why::Carried(out));
                } else {
                    if held {
                        choice.positions_left.push(incumbent);
                    }
                    let why = Why::Out {
                        exclusion: out,
                        position_left: held,
                    };
                    choice.decide(incumbent, Action::Removed, why);
                }
            }
        }
    }
}

/// When more stay than `top` allows, the worst that are neither pinned nor held leave.
fn trim(ranked: &[Scored], ctx: &Context<'_>, choice: &mut Choice) {
    let mut removable: Vec<usize> = choice
        .members
        .iter()
        .copied()
        .filter(|&i| {
            let symbol = ranked[i].candidate.symbol;
            !ctx.lists.is_pinned(symbol.as_str()) && !ctx.held.contains(&symbol)
        })
        .collect();
    removable.sort_unstable();
    while choice.size() > ctx.top {
        let Some(worst) = removable.pop() else { break };
        choice.members.retain(|&m| m != worst);
        choice.replacements += 1;
        let why = Why::Trimmed {
            rank: worst + 1,
            top: ctx.top,
        };
        choice.decide(ranked[worst].candidate.symbol, Action::Removed, why);
    }
}

/// Whether `i` may enter: not in, not removed, not barred.
fn is_challenger(ranked: &[Scored], ctx: &Context<'_>, choice: &Choice, i: usize) -> bool {
    let symbol = ranked[i].candidate.symbol;
    !choice.members.contains(&i)
        && !ctx.not_challengers.contains(&symbol)
        && !choice
            .decision(symbol.as_str())
            .is_some_and(|d| d.action == Action::Removed)
        && !choice.skipped.iter().any(|s| s.symbol == symbol)
}

/// With `max_correlation`: the chosen symbol (other than `replacing`) that `i` correlates
/// with above the limit, recorded as skipped.
fn too_correlated(
    ranked: &[Scored],
    ctx: &Context<'_>,
    choice: &mut Choice,
    i: usize,
    replacing: Option<usize>,
) -> bool {
    let Some(limit) = ctx.max_correlation else {
        return false;
    };
    let found = choice
        .members
        .iter()
        .filter(|&&m| Some(m) != replacing)
        .find_map(|&m| {
            let r = correlation(&ranked[i].returns_1h, &ranked[m].returns_1h)?;
            (r > limit).then_some((m, r))
        });
    if let Some((m, r)) = found {
        choice.skipped.push(Skipped {
            symbol: ranked[i].candidate.symbol,
            correlated_with: ranked[m].candidate.symbol,
            correlation: r,
        });
    }
    found.is_some()
}

/// The free places go to the best challengers, in rank order (`plain`: churn control is
/// off).
fn fill(ranked: &[Scored], ctx: &Context<'_>, choice: &mut Choice, plain: bool) {
    for i in 0..ranked.len() {
        if choice.size() >= ctx.top {
            break;
        }
        if !is_challenger(ranked, ctx, choice, i) || too_correlated(ranked, ctx, choice, i, None) {
            continue;
        }
        choice.members.push(i);
        let symbol = ranked[i].candidate.symbol;
        let action = if ctx.incumbents.contains(&symbol) {
            Action::Kept
        } else {
            Action::Added
        };
        choice.decide(symbol, action, Why::Filled { rank: i + 1, plain });
    }
}

/// Why an incumbent that is not scored is out: its exclusion, if it has one.
fn exclusion(excluded: &[Excluded], symbol: &str) -> Exclusion {
    excluded
        .iter()
        .find(|e| e.symbol == symbol)
        .map_or(Exclusion::NoLongerListed, |e| Exclusion::Excluded {
            reason: e.reason,
            detail: e.detail.clone(),
        })
}

mod pairs;
mod why;
use pairs::pair;
pub use why::{Exclusion, Why};

#[cfg(test)]
mod tests;
