//! The universe from the ranking: plain Top-N on a first run, and churn control after it.
//!
//! The previous policy's symbols are the incumbents. Churn control only resists rank
//! noise; every exclusion reason still removes an incumbent at once.
//!
//! - A pinned symbol is in while it is scored (counted in `top`).
//! - A held symbol (open position) is never removed while it is scored.
//! - Another incumbent stays while its rank ≤ `top + buffer`, unless the best challenger
//!   outside the universe beats its score by at least `margin` points.
//! - An incumbent that fails that rule but joined less than `min_hold` ago stays.
//! - At most `max_replacements` incumbents leave for rank reasons per refresh, the worst
//!   scores first; the best challengers take the free places, in rank order.
//! - With `max_correlation`, a challenger whose 1h returns correlate more than that with
//!   a symbol already chosen is skipped.

use std::collections::{BTreeSet, HashMap};

use serde::Serialize;

use super::score::correlation;
use super::{Excluded, Lists, Scored};
use crate::output;
use crate::settings::Churn;

/// What the choice knows besides the ranking.
#[derive(Debug)]
pub struct Context<'a> {
    pub excluded: &'a [Excluded],
    /// The previous universe, in its rank order.
    pub incumbents: &'a [String],
    /// When each incumbent joined the universe (epoch seconds), from the audit trail.
    pub joined_at: &'a HashMap<String, i64>,
    pub now: i64,
    pub held: &'a BTreeSet<String>,
    pub lists: &'a Lists,
    pub top: usize,
    pub churn: &'a Churn,
    pub max_correlation: Option<f64>,
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
    pub symbol: String,
    pub action: Action,
    pub reason: String,
}

/// A challenger left out for its correlation with a chosen symbol.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Skipped {
    pub symbol: String,
    pub correlated_with: String,
    pub correlation: f64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Choice {
    /// Indices into the ranking, in rank order.
    #[serde(skip)]
    pub members: Vec<usize>,
    /// One decision per symbol kept, added or removed.
    pub decisions: Vec<Decision>,
    pub skipped: Vec<Skipped>,
    /// Incumbents that left for rank reasons.
    pub replacements: usize,
}

impl Choice {
    pub fn decision(&self, symbol: &str) -> Option<&Decision> {
        self.decisions.iter().find(|d| d.symbol == symbol)
    }
}

pub fn choose(ranked: &[Scored], ctx: &Context<'_>) -> Choice {
    let rank_of: HashMap<&str, usize> = ranked
        .iter()
        .enumerate()
        .map(|(i, s)| (s.candidate.symbol.as_str(), i))
        .collect();
    let mut choice = Choice::default();
    let decide = |choice: &mut Choice, symbol: &str, action, reason: String| {
        choice.decisions.push(Decision {
            symbol: symbol.to_owned(),
            action,
            reason,
        });
    };

    // pins first: in while scored
    for pin in &ctx.lists.pin {
        if let Some(&i) = rank_of.get(pin.as_str()) {
            choice.members.push(i);
            let action = if ctx.incumbents.contains(pin) {
                Action::Kept
            } else {
                Action::Added
            };
            decide(&mut choice, pin, action, format!("pinned (rank {})", i + 1));
        } else if ctx.incumbents.contains(pin) {
            decide(
                &mut choice,
                pin,
                Action::Removed,
                format!("pinned but {}", exclusion(ctx.excluded, pin)),
            );
        }
    }

    if ctx.churn.enabled {
        keep_incumbents(ranked, &rank_of, ctx, &mut choice);
    } else {
        for incumbent in ctx.incumbents.iter().filter(|s| !ctx.lists.is_pinned(s)) {
            if !rank_of.contains_key(incumbent.as_str()) {
                let reason = exclusion(ctx.excluded, incumbent);
                decide(&mut choice, incumbent, Action::Removed, reason);
            }
        }
    }
    trim(ranked, ctx, &mut choice);
    fill(ranked, ctx, &mut choice);

    // churn off: incumbents the plain Top-N left out
    if !ctx.churn.enabled {
        for incumbent in ctx.incumbents {
            let chosen = choice
                .members
                .iter()
                .any(|&i| &ranked[i].candidate.symbol == incumbent);
            if choice.decision(incumbent).is_none() && !chosen {
                let rank = rank_of[incumbent.as_str()] + 1;
                decide(
                    &mut choice,
                    incumbent,
                    Action::Removed,
                    format!("rank {rank} outside the top {}", ctx.top),
                );
            }
        }
    }
    choice.members.sort_unstable();
    choice
}

/// Applies churn control to every incumbent that is not pinned.
fn keep_incumbents(
    ranked: &[Scored],
    rank_of: &HashMap<&str, usize>,
    ctx: &Context<'_>,
    choice: &mut Choice,
) {
    let is_incumbent = |s: &str| ctx.incumbents.iter().any(|i| i == s);
    // the best scored symbol outside the universe
    let best_challenger = ranked
        .iter()
        .find(|s| !is_incumbent(&s.candidate.symbol) && !ctx.lists.is_pinned(&s.candidate.symbol));
    let mut leaving: Vec<(usize, String)> = Vec::new();
    for incumbent in ctx.incumbents.iter().filter(|s| !ctx.lists.is_pinned(s)) {
        let Some(&i) = rank_of.get(incumbent.as_str()) else {
            let reason = exclusion(ctx.excluded, incumbent);
            choice.decisions.push(Decision {
                symbol: incumbent.clone(),
                action: Action::Removed,
                reason,
            });
            continue;
        };
        let rank = i + 1;
        let mine = &ranked[i];
        let keep = |choice: &mut Choice, reason: String| {
            choice.members.push(i);
            choice.decisions.push(Decision {
                symbol: incumbent.clone(),
                action: Action::Kept,
                reason,
            });
        };
        if ctx.held.contains(incumbent) {
            keep(choice, format!("held position (rank {rank})"));
            continue;
        }
        let beaten = best_challenger.filter(|c| c.score >= mine.score + ctx.churn.margin);
        let within = rank <= ctx.top + ctx.churn.buffer;
        if within && beaten.is_none() {
            keep(
                choice,
                format!(
                    "rank {rank} within top {} + buffer {}",
                    ctx.top, ctx.churn.buffer
                ),
            );
            continue;
        }
        let why = match beaten {
            Some(c) => format!(
                "{} outscores it by {:.2} ≥ margin {}",
                c.candidate.symbol,
                c.score - mine.score,
                ctx.churn.margin
            ),
            None => format!(
                "rank {rank} beyond top {} + buffer {}",
                ctx.top, ctx.churn.buffer
            ),
        };
        let held_for = ctx.joined_at.get(incumbent).map(|t| ctx.now - t);
        match held_for {
            Some(age) if age < ctx.churn.min_hold.as_secs() as i64 => keep(
                choice,
                format!(
                    "{why}, but in the universe for {} < min_hold {}",
                    output::span(age),
                    output::span(ctx.churn.min_hold.as_secs() as i64)
                ),
            ),
            _ => leaving.push((i, why)),
        }
    }
    // the worst scores leave first, up to the cap; the rest wait for a later refresh
    leaving.sort_by_key(|(i, _)| std::cmp::Reverse(*i));
    for (n, (i, why)) in leaving.into_iter().enumerate() {
        let symbol = ranked[i].candidate.symbol.clone();
        if n < ctx.churn.max_replacements {
            choice.replacements += 1;
            choice.decisions.push(Decision {
                symbol,
                action: Action::Removed,
                reason: why,
            });
        } else {
            choice.members.push(i);
            let reason = format!(
                "{why}, but max_replacements {} reached",
                ctx.churn.max_replacements
            );
            choice.decisions.push(Decision {
                symbol,
                action: Action::Kept,
                reason,
            });
        }
    }
}

/// When more incumbents stay than `top` allows (top was lowered, pins were added), the
/// worst that are neither pinned nor held leave.
fn trim(ranked: &[Scored], ctx: &Context<'_>, choice: &mut Choice) {
    let mut removable: Vec<usize> = choice
        .members
        .iter()
        .copied()
        .filter(|&i| {
            let symbol = &ranked[i].candidate.symbol;
            !ctx.lists.is_pinned(symbol) && !ctx.held.contains(symbol)
        })
        .collect();
    removable.sort_unstable();
    while choice.members.len() > ctx.top {
        let Some(worst) = removable.pop() else { break };
        choice.members.retain(|&m| m != worst);
        let symbol = &ranked[worst].candidate.symbol;
        if let Some(d) = choice.decisions.iter_mut().find(|d| &d.symbol == symbol) {
            d.action = Action::Removed;
            d.reason = format!(
                "rank {} and the universe holds only top {}",
                worst + 1,
                ctx.top
            );
        }
    }
}

/// Fills the free places with the best challengers, in rank order.
fn fill(ranked: &[Scored], ctx: &Context<'_>, choice: &mut Choice) {
    for (i, candidate) in ranked.iter().enumerate() {
        if choice.members.len() >= ctx.top {
            break;
        }
        let symbol = &candidate.candidate.symbol;
        if choice.members.contains(&i)
            || choice
                .decision(symbol)
                .is_some_and(|d| d.action == Action::Removed)
        {
            continue;
        }
        if let Some(limit) = ctx.max_correlation {
            let too_close = choice.members.iter().find_map(|&m| {
                let r = correlation(&candidate.returns_1h, &ranked[m].returns_1h)?;
                (r > limit).then_some((m, r))
            });
            if let Some((m, r)) = too_close {
                choice.skipped.push(Skipped {
                    symbol: symbol.clone(),
                    correlated_with: ranked[m].candidate.symbol.clone(),
                    correlation: r,
                });
                continue;
            }
        }
        choice.members.push(i);
        let action = if ctx.incumbents.contains(symbol) {
            Action::Kept
        } else {
            Action::Added
        };
        choice.decisions.push(Decision {
            symbol: symbol.clone(),
            action,
            reason: format!("rank {}", i + 1),
        });
    }
}

/// Why an incumbent that is not scored is out: its exclusion reason.
fn exclusion(excluded: &[Excluded], symbol: &str) -> String {
    excluded.iter().find(|e| e.symbol == symbol).map_or_else(
        || "no longer listed".into(),
        |e| format!("{}: {}", e.reason, e.detail),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::select::Reason;
    use std::time::Duration;

    fn ranked(scores: &[(&str, f64)]) -> Vec<Scored> {
        scores
            .iter()
            .map(|&(symbol, score)| Scored::sample(symbol, score, 1.0))
            .collect()
    }

    const CHURN: Churn = Churn {
        enabled: true,
        buffer: 1,
        margin: 5.0,
        max_replacements: 3,
        min_hold: Duration::from_secs(0),
    };

    struct Case {
        incumbents: Vec<String>,
        held: BTreeSet<String>,
        joined: HashMap<String, i64>,
        lists: Lists,
        churn: Churn,
        excluded: Vec<Excluded>,
    }

    impl Case {
        fn new(incumbents: &[&str]) -> Self {
            Self {
                incumbents: incumbents.iter().map(|s| (*s).to_owned()).collect(),
                held: BTreeSet::new(),
                joined: HashMap::new(),
                lists: Lists::default(),
                churn: CHURN,
                excluded: Vec::new(),
            }
        }

        fn run(&self, ranked: &[Scored], top: usize) -> (Vec<String>, Choice) {
            let ctx = Context {
                excluded: &self.excluded,
                incumbents: &self.incumbents,
                joined_at: &self.joined,
                now: 10_000,
                held: &self.held,
                lists: &self.lists,
                top,
                churn: &self.churn,
                max_correlation: None,
            };
            let choice = choose(ranked, &ctx);
            let names = choice
                .members
                .iter()
                .map(|&i| ranked[i].candidate.symbol.clone())
                .collect();
            (names, choice)
        }
    }

    #[test]
    fn a_first_run_is_plain_top_n() {
        let r = ranked(&[("A", 90.0), ("B", 80.0), ("C", 70.0)]);
        let (names, choice) = Case::new(&[]).run(&r, 2);
        assert_eq!(names, ["A", "B"]);
        assert!(choice.decisions.iter().all(|d| d.action == Action::Added));
    }

    #[test]
    fn an_incumbent_within_the_buffer_stays() {
        // top 2, buffer 1: C at rank 3 stays; the challenger B is not 5 points better
        let r = ranked(&[("A", 90.0), ("B", 72.0), ("C", 70.0)]);
        let (names, _) = Case::new(&["A", "C"]).run(&r, 2);
        assert_eq!(names, ["A", "C"]);
        // at rank 4 it is beyond the buffer and leaves
        let r = ranked(&[("A", 90.0), ("B", 72.0), ("D", 71.0), ("C", 70.0)]);
        let (names, choice) = Case::new(&["A", "C"]).run(&r, 2);
        assert_eq!(names, ["A", "B"]);
        assert!(
            choice
                .decision("C")
                .unwrap()
                .reason
                .contains("beyond top 2 + buffer 1")
        );
    }

    #[test]
    fn a_challenger_that_beats_by_the_margin_replaces() {
        let r = ranked(&[("A", 90.0), ("B", 76.0), ("C", 70.0)]);
        let (names, choice) = Case::new(&["A", "C"]).run(&r, 2);
        assert_eq!(names, ["A", "B"]);
        assert!(
            choice
                .decision("C")
                .unwrap()
                .reason
                .contains("B outscores it by 6.00")
        );
        assert_eq!(choice.replacements, 1);
    }

    #[test]
    fn at_most_max_replacements_and_the_worst_go_first() {
        let r = ranked(&[
            ("N1", 99.0),
            ("N2", 98.0),
            ("N3", 97.0),
            ("O1", 50.0),
            ("O2", 40.0),
            ("O3", 30.0),
        ]);
        let mut case = Case::new(&["O1", "O2", "O3"]);
        case.churn.max_replacements = 2;
        let (names, choice) = case.run(&r, 3);
        assert_eq!(names, ["N1", "N2", "O1"]);
        assert!(
            choice
                .decision("O1")
                .unwrap()
                .reason
                .contains("max_replacements 2 reached")
        );
        assert_eq!(choice.replacements, 2);
    }

    #[test]
    fn young_incumbents_and_held_positions_stay() {
        let r = ranked(&[("N1", 99.0), ("N2", 98.0), ("O1", 50.0), ("O2", 40.0)]);
        let mut case = Case::new(&["O1", "O2"]);
        case.churn.min_hold = Duration::from_secs(3600);
        case.joined.insert("O1".into(), 10_000 - 600);
        case.joined.insert("O2".into(), 10_000 - 7200);
        case.held.insert("O2".into());
        let (names, choice) = case.run(&r, 2);
        assert_eq!(names, ["O1", "O2"]);
        assert!(choice.decision("O1").unwrap().reason.contains("min_hold"));
        assert!(
            choice
                .decision("O2")
                .unwrap()
                .reason
                .contains("held position")
        );
    }

    #[test]
    fn an_ineligible_incumbent_leaves_at_once_even_if_held() {
        let r = ranked(&[("A", 90.0), ("B", 80.0)]);
        let mut case = Case::new(&["A", "X"]);
        case.held.insert("X".into());
        case.churn.min_hold = Duration::from_secs(99_999);
        case.churn.max_replacements = 0;
        case.excluded.push(Excluded {
            symbol: "X".into(),
            reason: Reason::Delisting,
            detail: "deliveryDate 1".into(),
        });
        let (names, choice) = case.run(&r, 2);
        assert_eq!(names, ["A", "B"]);
        assert!(
            choice
                .decision("X")
                .unwrap()
                .reason
                .starts_with("delisting")
        );
        assert_eq!(
            choice.replacements, 0,
            "eligibility exits are not rank replacements"
        );
    }

    #[test]
    fn a_lower_top_trims_the_worst_incumbents() {
        let r = ranked(&[("A", 90.0), ("B", 80.0), ("C", 70.0), ("D", 60.0)]);
        let mut case = Case::new(&["A", "B", "C", "D"]);
        case.churn.buffer = 10;
        case.held.insert("D".into());
        let (names, choice) = case.run(&r, 2);
        assert_eq!(names, ["A", "D"], "the held D stays, B and C go");
        assert!(choice.decision("C").unwrap().reason.contains("only top 2"));
        assert_eq!(choice.replacements, 0);
    }

    #[test]
    fn pins_count_in_top() {
        let r = ranked(&[("A", 90.0), ("B", 80.0), ("P", 10.0)]);
        let mut case = Case::new(&[]);
        case.lists.pin = vec!["P".into()];
        let (names, _) = case.run(&r, 2);
        assert_eq!(names, ["A", "P"]);
    }

    #[test]
    fn churn_off_is_plain_top_n_with_reasons() {
        let r = ranked(&[("A", 90.0), ("B", 80.0), ("C", 79.0)]);
        let mut case = Case::new(&["C"]);
        case.churn.enabled = false;
        let (names, choice) = case.run(&r, 2);
        assert_eq!(names, ["A", "B"]);
        assert_eq!(
            choice.decision("C").unwrap().reason,
            "rank 3 outside the top 2"
        );
    }

    #[test]
    fn correlated_challengers_are_skipped() {
        let mut r = ranked(&[("A", 90.0), ("A2", 80.0), ("B", 70.0)]);
        r[0].returns_1h = vec![0.01, -0.02, 0.03, 0.0];
        r[1].returns_1h = vec![0.011, -0.021, 0.031, 0.001];
        r[2].returns_1h = vec![-0.01, 0.0, 0.01, 0.02];
        let case = Case::new(&[]);
        let ctx = Context {
            excluded: &case.excluded,
            incumbents: &case.incumbents,
            joined_at: &case.joined,
            now: 0,
            held: &case.held,
            lists: &case.lists,
            top: 2,
            churn: &case.churn,
            max_correlation: Some(0.8),
        };
        let choice = choose(&r, &ctx);
        assert_eq!(choice.members, [0, 2]);
        assert_eq!(choice.skipped[0].symbol, "A2");
        assert_eq!(choice.skipped[0].correlated_with, "A");
    }
}
