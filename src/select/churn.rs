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
use super::{Excluded, Lists, Reason, Scored};
use crate::output;

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
    pub incumbents: &'a [String],
    /// When each incumbent joined the universe (epoch seconds), from the audit trail.
    pub joined_at: &'a HashMap<String, i64>,
    pub now: i64,
    pub held: &'a BTreeSet<String>,
    pub lists: &'a Lists,
    pub top: usize,
    pub churn: &'a Churn,
    pub max_correlation: Option<f64>,
    /// Symbols that may not enter this refresh (rotation evicts them in execution mode).
    pub not_challengers: &'a BTreeSet<String>,
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

/// One replacement: `entrant` took the place of `replaced`, which it outscored by at
/// least the margin.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Pair {
    pub entrant: String,
    pub replaced: String,
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
    pub carried: Vec<String>,
    /// One decision per symbol kept, added or removed.
    pub decisions: Vec<Decision>,
    pub skipped: Vec<Skipped>,
    /// Incumbents that left for rank reasons (pairs and trims).
    pub replacements: usize,
    /// The pairs churn control made.
    pub pairs: Vec<Pair>,
    /// Held symbols that left the universe (positively ineligible).
    pub positions_left: Vec<String>,
}

impl Choice {
    pub fn decision(&self, symbol: &str) -> Option<&Decision> {
        self.decisions.iter().find(|d| d.symbol == symbol)
    }

    /// How many symbols the universe holds.
    pub fn size(&self) -> usize {
        self.members.len() + self.carried.len()
    }

    fn decide(&mut self, symbol: &str, action: Action, reason: String) {
        self.decisions.retain(|d| d.symbol != symbol);
        self.decisions.push(Decision {
            symbol: symbol.to_owned(),
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
        fill(ranked, ctx, &mut choice, "a free place");
        pair(ranked, ctx, &mut choice);
    } else {
        fill(ranked, ctx, &mut choice, "plain Top-N");
        for incumbent in ctx.incumbents {
            if choice.decision(incumbent).is_none() {
                let rank = rank_of[incumbent.as_str()] + 1;
                choice.replacements += 1;
                choice.decide(
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

/// Pins are in while scored.
fn pins(rank_of: &HashMap<&str, usize>, ctx: &Context<'_>, choice: &mut Choice) {
    for pin in &ctx.lists.pin {
        if let Some(&i) = rank_of.get(pin.as_str()) {
            choice.members.push(i);
            let action = if ctx.incumbents.contains(pin) {
                Action::Kept
            } else {
                Action::Added
            };
            choice.decide(pin, action, format!("pinned (rank {})", i + 1));
        } else if ctx.incumbents.contains(pin) {
            let reason = format!("pinned but {}", exclusion(ctx.excluded, pin).1);
            choice.decide(pin, Action::Removed, reason);
        }
    }
}

/// Every incumbent that is not pinned: held ones stay unless positively ineligible;
/// with churn control, scored ones stay for now (pairs may replace them); unscored ones
/// leave with their reason.
fn incumbents(rank_of: &HashMap<&str, usize>, ctx: &Context<'_>, choice: &mut Choice) {
    for incumbent in ctx.incumbents.iter().filter(|s| !ctx.lists.is_pinned(s)) {
        let held = ctx.held.contains(incumbent);
        match rank_of.get(incumbent.as_str()) {
            Some(&i) if held => {
                choice.members.push(i);
                choice.decide(
                    incumbent,
                    Action::Kept,
                    format!("held position (rank {})", i + 1),
                );
            }
            Some(&i) if ctx.churn.enabled => {
                choice.members.push(i);
                choice.decide(incumbent, Action::Kept, format!("rank {}", i + 1));
            }
            Some(_) => {} // churn off: the plain Top-N decides
            None => {
                let (reason, why) = exclusion(ctx.excluded, incumbent);
                let removes = reason.is_none_or(Reason::removes_a_position);
                if held && !removes {
                    choice.carried.push(incumbent.clone());
                    choice.decide(
                        incumbent,
                        Action::Kept,
                        format!("held position, kept with its previous figures and leverage although {why}"),
                    );
                } else {
                    if held {
                        choice.positions_left.push(incumbent.clone());
                    }
                    let reason = if held {
                        format!("{why} (an open position left the universe)")
                    } else {
                        why
                    };
                    choice.decide(incumbent, Action::Removed, reason);
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
            let symbol = &ranked[i].candidate.symbol;
            !ctx.lists.is_pinned(symbol) && !ctx.held.contains(symbol)
        })
        .collect();
    removable.sort_unstable();
    while choice.size() > ctx.top {
        let Some(worst) = removable.pop() else { break };
        choice.members.retain(|&m| m != worst);
        choice.replacements += 1;
        let reason = format!(
            "rank {} and the universe holds only top {}",
            worst + 1,
            ctx.top
        );
        choice.decide(&ranked[worst].candidate.symbol, Action::Removed, reason);
    }
}

/// Whether `i` may enter: not in, not removed, not barred.
fn is_challenger(ranked: &[Scored], ctx: &Context<'_>, choice: &Choice, i: usize) -> bool {
    let symbol = &ranked[i].candidate.symbol;
    !choice.members.contains(&i)
        && !ctx.not_challengers.contains(symbol)
        && !choice
            .decision(symbol)
            .is_some_and(|d| d.action == Action::Removed)
        && !choice.skipped.iter().any(|s| &s.symbol == symbol)
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
            symbol: ranked[i].candidate.symbol.clone(),
            correlated_with: ranked[m].candidate.symbol.clone(),
            correlation: r,
        });
    }
    found.is_some()
}

/// The free places go to the best challengers, in rank order.
fn fill(ranked: &[Scored], ctx: &Context<'_>, choice: &mut Choice, why: &str) {
    for i in 0..ranked.len() {
        if choice.size() >= ctx.top {
            break;
        }
        if !is_challenger(ranked, ctx, choice, i) || too_correlated(ranked, ctx, choice, i, None) {
            continue;
        }
        choice.members.push(i);
        let symbol = &ranked[i].candidate.symbol;
        let action = if ctx.incumbents.contains(symbol) {
            Action::Kept
        } else {
            Action::Added
        };
        choice.decide(symbol, action, format!("rank {} ({why})", i + 1));
    }
}

/// Best challenger against worst replaceable incumbent, while the margin is cleared and
/// `max_replacements` allows.
fn pair(ranked: &[Scored], ctx: &Context<'_>, choice: &mut Choice) {
    let margin = ctx.churn.margin;
    let min_hold = ctx.churn.min_hold.as_secs() as i64;
    let mut replaceable: Vec<usize> = Vec::new();
    for &i in &choice.members {
        let symbol = &ranked[i].candidate.symbol;
        let incumbent = ctx.incumbents.contains(symbol);
        if !incumbent || ctx.lists.is_pinned(symbol) || ctx.held.contains(symbol) {
            continue;
        }
        match ctx.joined_at.get(symbol) {
            Some(&joined) if ctx.now - joined < min_hold => {
                // said with fixed times, so that two runs a second apart agree
                let reason = format!(
                    "rank {}; joined {}, within min_hold {} (until {})",
                    i + 1,
                    output::epoch(joined),
                    output::span(min_hold),
                    output::epoch(joined + min_hold)
                );
                choice
                    .decisions
                    .iter_mut()
                    .filter(|d| &d.symbol == symbol)
                    .for_each(|d| d.reason.clone_from(&reason));
            }
            _ => replaceable.push(i),
        }
    }
    replaceable.sort_unstable_by(|a, b| b.cmp(a)); // worst first
    let mut challenger = 0;
    for incumbent in replaceable {
        let mine = &ranked[incumbent];
        // the best challenger left that is not too close to the universe without `incumbent`
        let next = loop {
            let Some(i) =
                (challenger..ranked.len()).find(|&i| is_challenger(ranked, ctx, choice, i))
            else {
                break None;
            };
            challenger = i + 1;
            if !too_correlated(ranked, ctx, choice, i, Some(incumbent)) {
                break Some(i);
            }
        };
        let symbol = mine.candidate.symbol.clone();
        let Some(c) = next.filter(|&c| ranked[c].score >= mine.score + margin) else {
            let reason = format!(
                "rank {}; no challenger outscores it by margin {margin}",
                incumbent + 1
            );
            choice.decide(&symbol, Action::Kept, reason);
            break;
        };
        let theirs = &ranked[c];
        let lead = theirs.score - mine.score;
        if choice.pairs.len() >= ctx.churn.max_replacements {
            let reason = format!(
                "rank {}; {} outscores it by {lead:.2} ≥ margin {margin}, but max_replacements {} was reached",
                incumbent + 1,
                theirs.candidate.symbol,
                ctx.churn.max_replacements
            );
            choice.decide(&symbol, Action::Kept, reason);
            break;
        }
        choice.members.retain(|&m| m != incumbent);
        choice.members.push(c);
        choice.replacements += 1;
        choice.decide(
            &symbol,
            Action::Removed,
            format!(
                "replaced by {}, which outscores it by {lead:.2} ≥ margin {margin}",
                theirs.candidate.symbol
            ),
        );
        choice.decide(
            &theirs.candidate.symbol,
            Action::Added,
            format!(
                "rank {}; replaces {} (outscores it by {lead:.2} ≥ margin {margin})",
                c + 1,
                symbol
            ),
        );
        choice.pairs.push(Pair {
            entrant: theirs.candidate.symbol.clone(),
            replaced: symbol,
            entrant_score: theirs.score,
            replaced_score: mine.score,
        });
    }
}

/// Why an incumbent that is not scored is out: its exclusion reason, if it has one.
fn exclusion(excluded: &[Excluded], symbol: &str) -> (Option<Reason>, String) {
    excluded.iter().find(|e| e.symbol == symbol).map_or_else(
        || (None, "no longer listed".into()),
        |e| (Some(e.reason), format!("{}: {}", e.reason, e.detail)),
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
        barred: BTreeSet<String>,
        max_correlation: Option<f64>,
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
                barred: BTreeSet::new(),
                max_correlation: None,
            }
        }

        fn choose(&self, ranked: &[Scored], top: usize) -> Choice {
            let ctx = Context {
                excluded: &self.excluded,
                incumbents: &self.incumbents,
                joined_at: &self.joined,
                now: 10_000,
                held: &self.held,
                lists: &self.lists,
                top,
                churn: &self.churn,
                max_correlation: self.max_correlation,
                not_challengers: &self.barred,
            };
            choose(ranked, &ctx)
        }

        fn run(&self, ranked: &[Scored], top: usize) -> (Vec<String>, Choice) {
            let choice = self.choose(ranked, top);
            let names = choice
                .members
                .iter()
                .map(|&i| ranked[i].candidate.symbol.clone())
                .chain(choice.carried.iter().cloned())
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
    fn one_strong_newcomer_replaces_one_incumbent_not_three() {
        // the case: top 3, incumbents at ranks 2, 3, 5, a newcomer at rank 1
        let r = ranked(&[
            ("NEW", 95.0),
            ("I2", 80.0),
            ("I3", 79.0),
            ("X4", 78.0),
            ("I5", 70.0),
            ("X6", 69.0),
        ]);
        let (names, choice) = Case::new(&["I2", "I3", "I5"]).run(&r, 3);
        assert_eq!(names, ["NEW", "I2", "I3"]);
        assert_eq!(choice.replacements, 1);
        assert_eq!(
            choice.pairs,
            [Pair {
                entrant: "NEW".into(),
                replaced: "I5".into(),
                entrant_score: 95.0,
                replaced_score: 70.0
            }]
        );
        assert!(
            choice
                .decision("I5")
                .unwrap()
                .reason
                .contains("replaced by NEW, which outscores it by 25.00")
        );
        assert!(
            choice.decision("X4").is_none(),
            "rank 4 never beat anyone by the margin"
        );
    }

    #[test]
    fn a_challenger_that_does_not_clear_the_margin_ends_the_pairing() {
        let r = ranked(&[("A", 90.0), ("B", 74.0), ("C", 70.0)]);
        let (names, choice) = Case::new(&["A", "C"]).run(&r, 2);
        assert_eq!(names, ["A", "C"]);
        assert!(
            choice
                .decision("C")
                .unwrap()
                .reason
                .contains("no challenger outscores it by margin 5")
        );
        let r = ranked(&[("A", 90.0), ("B", 76.0), ("C", 70.0)]);
        let (names, choice) = Case::new(&["A", "C"]).run(&r, 2);
        assert_eq!(names, ["A", "B"]);
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
        assert_eq!(
            choice.pairs[0].replaced, "O3",
            "the worst first, against the best"
        );
        assert_eq!(choice.pairs[0].entrant, "N1");
        assert!(
            choice
                .decision("O1")
                .unwrap()
                .reason
                .contains("max_replacements 2 was reached")
        );
        assert_eq!(choice.replacements, 2);
    }

    #[test]
    fn young_incumbents_and_held_positions_are_not_replaceable() {
        let r = ranked(&[("N1", 99.0), ("N2", 98.0), ("O1", 50.0), ("O2", 40.0)]);
        let mut case = Case::new(&["O1", "O2"]);
        case.churn.min_hold = Duration::from_secs(3600);
        case.joined.insert("O1".into(), 10_000 - 600);
        case.joined.insert("O2".into(), 10_000 - 7200);
        case.held.insert("O2".into());
        let (names, choice) = case.run(&r, 2);
        assert_eq!(names, ["O1", "O2"]);
        assert!(choice.decision("O1").unwrap().reason.contains("min_hold"));
        // reasons are the same a second later: explain and generate agree
        let ctx = |now| Context {
            excluded: &case.excluded,
            incumbents: &case.incumbents,
            joined_at: &case.joined,
            now,
            held: &case.held,
            lists: &case.lists,
            top: 2,
            churn: &case.churn,
            max_correlation: None,
            not_challengers: &case.barred,
        };
        assert_eq!(choose(&r, &ctx(9_405)), choose(&r, &ctx(9_406)));
        assert!(
            choice
                .decision("O2")
                .unwrap()
                .reason
                .contains("held position")
        );
    }

    #[test]
    fn a_held_position_leaves_only_when_positively_ineligible() {
        let r = ranked(&[("A", 90.0), ("B", 80.0)]);
        let mut case = Case::new(&["A", "X", "Y"]);
        case.held.extend(["X".to_owned(), "Y".to_owned()]);
        case.excluded.push(Excluded {
            symbol: "X".into(),
            reason: Reason::Delisting,
            detail: "deliveryDate 1".into(),
        });
        case.excluded.push(Excluded {
            symbol: "Y".into(),
            reason: Reason::FetchFailed,
            detail: "HTTP 500".into(),
        });
        let (names, choice) = case.run(&r, 3);
        assert_eq!(
            names,
            ["A", "B", "Y"],
            "Y's data could not be read: it stays, carried"
        );
        assert_eq!(choice.carried, ["Y"]);
        assert!(
            choice
                .decision("Y")
                .unwrap()
                .reason
                .contains("previous figures and leverage although fetch_failed")
        );
        assert!(
            choice
                .decision("X")
                .unwrap()
                .reason
                .starts_with("delisting")
        );
        assert_eq!(choice.positions_left, ["X"]);
        assert_eq!(
            choice.replacements, 0,
            "eligibility exits are not rank replacements"
        );
        // with churn control off too
        case.churn.enabled = false;
        let (names, _) = case.run(&r, 3);
        assert_eq!(names, ["A", "B", "Y"]);
    }

    #[test]
    fn a_lower_top_trims_the_worst_incumbents() {
        let r = ranked(&[("A", 90.0), ("B", 80.0), ("C", 70.0), ("D", 60.0)]);
        let mut case = Case::new(&["A", "B", "C", "D"]);
        case.held.insert("D".into());
        let (names, choice) = case.run(&r, 2);
        assert_eq!(names, ["A", "D"], "the held D stays, B and C go");
        assert!(choice.decision("C").unwrap().reason.contains("only top 2"));
        assert_eq!(choice.replacements, 2);
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
    fn a_barred_symbol_never_enters() {
        let r = ranked(&[("EVICTED", 99.0), ("A", 90.0), ("B", 80.0), ("C", 60.0)]);
        let mut case = Case::new(&["A", "C"]);
        case.barred.insert("EVICTED".into());
        let (names, _) = case.run(&r, 2);
        assert_eq!(names, ["A", "B"], "B, not the barred EVICTED, replaces C");
    }

    #[test]
    fn correlated_challengers_are_skipped() {
        let mut r = ranked(&[("A", 90.0), ("A2", 80.0), ("B", 70.0)]);
        r[0].returns_1h = vec![0.01, -0.02, 0.03, 0.0];
        r[1].returns_1h = vec![0.011, -0.021, 0.031, 0.001];
        r[2].returns_1h = vec![-0.01, 0.0, 0.01, 0.02];
        let mut case = Case::new(&[]);
        case.max_correlation = Some(0.8);
        let choice = case.choose(&r, 2);
        assert_eq!(choice.members, [0, 2]);
        assert_eq!(choice.skipped[0].symbol, "A2");
        assert_eq!(choice.skipped[0].correlated_with, "A");
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        /// A random market: `n` scored symbols with random scores (in rank order), a
        /// previous universe drawn from them and from symbols that left, some of those
        /// held, some joined recently.
        #[derive(Debug, Clone)]
        struct World {
            scores: Vec<f64>,
            incumbents: Vec<usize>,
            gone: Vec<(usize, bool)>,
            held: Vec<usize>,
            young: Vec<usize>,
            top: usize,
            margin: f64,
            max_replacements: usize,
        }

        fn world() -> impl Strategy<Value = World> {
            (3usize..30).prop_flat_map(|n| {
                (
                    proptest::collection::vec(0.0f64..100.0, n),
                    proptest::collection::vec(0..n, 0..12),
                    proptest::collection::vec((0usize..4, any::<bool>()), 0..3),
                    proptest::collection::vec(0..n, 0..3),
                    proptest::collection::vec(0..n, 0..3),
                    1usize..12,
                    0.0f64..20.0,
                    0usize..5,
                )
                    .prop_map(
                        |(scores, incumbents, gone, held, young, top, margin, max_replacements)| {
                            World {
                                scores,
                                incumbents,
                                gone,
                                held,
                                young,
                                top,
                                margin,
                                max_replacements,
                            }
                        },
                    )
            })
        }

        fn name(i: usize) -> String {
            format!("S{i:02}")
        }

        impl World {
            fn ranked(&self) -> Vec<Scored> {
                let mut scores = self.scores.clone();
                scores.sort_by(|a, b| b.total_cmp(a));
                scores
                    .iter()
                    .enumerate()
                    .map(|(i, &s)| Scored::sample(&name(i), s, 1.0))
                    .collect()
            }

            fn case(&self, enabled: bool) -> Case {
                let mut incumbents: Vec<String> = Vec::new();
                for &i in &self.incumbents {
                    if !incumbents.contains(&name(i)) && incumbents.len() < self.top {
                        incumbents.push(name(i));
                    }
                }
                let mut case = Case::new(&[]);
                case.incumbents = incumbents;
                let mut gone = self.gone.clone();
                gone.sort_by_key(|(g, _)| *g);
                gone.dedup_by_key(|(g, _)| *g);
                for &(g, _) in &gone {
                    case.incumbents.push(format!("GONE{g}"));
                }
                for &(g, delisted) in &gone {
                    case.excluded.push(Excluded {
                        symbol: format!("GONE{g}"),
                        reason: if delisted {
                            Reason::Delisting
                        } else {
                            Reason::FetchFailed
                        },
                        detail: String::new(),
                    });
                    case.held.insert(format!("GONE{g}"));
                }
                case.held.extend(self.held.iter().map(|&i| name(i)));
                case.churn = Churn {
                    enabled,
                    margin: self.margin,
                    max_replacements: self.max_replacements,
                    min_hold: Duration::from_secs(3600),
                };
                for &i in &self.young {
                    case.joined.insert(name(i), 10_000 - 60);
                }
                case
            }
        }

        /// Incumbents that are scored, not held, and left: rank-driven exits.
        fn rank_exits(case: &Case, choice: &Choice, ranked: &[Scored]) -> usize {
            case.incumbents
                .iter()
                .filter(|s| ranked.iter().any(|r| &r.candidate.symbol == *s))
                .filter(|s| {
                    choice
                        .decision(s)
                        .is_some_and(|d| d.action == Action::Removed)
                })
                .count()
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(512))]

            #[test]
            fn churn_control_never_replaces_more_than_a_plain_top_n(w in world()) {
                let ranked = w.ranked();
                let on = w.case(true);
                let off = w.case(false);
                let with = on.choose(&ranked, w.top);
                let without = off.choose(&ranked, w.top);
                prop_assert!(rank_exits(&on, &with, &ranked) <= rank_exits(&off, &without, &ranked));
                prop_assert!(with.replacements <= without.replacements);
            }

            #[test]
            fn every_entrant_beat_the_incumbent_it_replaced_by_the_margin(w in world()) {
                let ranked = w.ranked();
                let case = w.case(true);
                let choice = case.choose(&ranked, w.top);
                prop_assert!(choice.pairs.len() <= w.max_replacements);
                for pair in &choice.pairs {
                    prop_assert!(pair.entrant_score >= pair.replaced_score + w.margin, "{pair:?}");
                    prop_assert!(!case.held.contains(&pair.replaced));
                    prop_assert!(!case.joined.contains_key(&pair.replaced), "a young incumbent was replaced");
                }
                // nobody entered in place of an incumbent without a pair
                let added = choice.decisions.iter().filter(|d| d.action == Action::Added).count();
                let free = w.top.saturating_sub(case.incumbents.len());
                prop_assert!(added <= choice.pairs.len() + free + choice.decisions.iter().filter(|d| d.action == Action::Removed).count());
            }

            #[test]
            fn no_held_symbol_leaves_unless_positively_ineligible(w in world(), enabled in any::<bool>()) {
                let ranked = w.ranked();
                let case = w.case(enabled);
                let choice = case.choose(&ranked, w.top);
                for held in case.held.iter().filter(|h| case.incumbents.contains(h)) {
                    let left = choice.decision(held).is_some_and(|d| d.action == Action::Removed);
                    let ineligible = case.excluded.iter().any(|e| &e.symbol == held && e.reason.removes_a_position());
                    prop_assert_eq!(left, ineligible, "{}", held);
                }
            }

            #[test]
            fn the_size_stays_within_top_unless_held_positions_exceed_it(w in world(), enabled in any::<bool>()) {
                let ranked = w.ranked();
                let case = w.case(enabled);
                let choice = case.choose(&ranked, w.top);
                let held_in = choice.members.iter().filter(|&&i| case.held.contains(&ranked[i].candidate.symbol)).count()
                    + choice.carried.len();
                prop_assert!(choice.size() <= w.top.max(held_in));
                prop_assert!(choice.size() >= w.top.min(ranked.len()));
                let mut all: Vec<&String> = choice.members.iter().map(|&i| &ranked[i].candidate.symbol).chain(&choice.carried).collect();
                all.sort();
                all.dedup();
                prop_assert_eq!(all.len(), choice.size(), "no symbol twice");
            }

            #[test]
            fn refreshing_an_unchanged_market_settles_and_never_flips(w in world(), enabled in any::<bool>()) {
                let ranked = w.ranked();
                let mut case = w.case(enabled);
                let names = |c: &Choice| {
                    let mut u: Vec<String> = c.members.iter().map(|&i| ranked[i].candidate.symbol.clone()).chain(c.carried.iter().cloned()).collect();
                    u.sort();
                    u
                };
                let mut seen: Vec<Vec<String>> = Vec::new();
                for step in 0..40 {
                    let choice = case.choose(&ranked, w.top);
                    let universe = names(&choice);
                    if seen.last() == Some(&universe) {
                        // a fixed point: no replacement was made
                        prop_assert_eq!(choice.replacements, 0);
                        return Ok(());
                    }
                    prop_assert!(!seen.contains(&universe), "step {}: the universe flipped back to {:?}", step, universe);
                    // a refresh changes nothing more than max_replacements allows, unless
                    // the first one also drops the incumbents a plain Top-N would
                    if step > 0 {
                        prop_assert!(choice.pairs.len() <= w.max_replacements);
                    }
                    // the next refresh at once: who joined now is young
                    for symbol in universe.iter().filter(|s| !case.incumbents.contains(s)) {
                        case.joined.insert(symbol.clone(), 10_000);
                    }
                    case.incumbents = universe.clone();
                    seen.push(universe);
                }
                prop_assert!(false, "no fixed point after 40 refreshes");
            }

            #[test]
            fn a_refresh_that_was_not_capped_is_already_settled(w in world(), enabled in any::<bool>()) {
                let ranked = w.ranked();
                let mut case = w.case(enabled);
                let first = case.choose(&ranked, w.top);
                prop_assume!(first.pairs.len() < w.max_replacements || !enabled);
                let universe: Vec<String> = first.members.iter().map(|&i| ranked[i].candidate.symbol.clone()).chain(first.carried.iter().cloned()).collect();
                for symbol in universe.iter().filter(|s| !case.incumbents.contains(s)) {
                    case.joined.insert(symbol.clone(), 10_000);
                }
                case.incumbents = universe.clone();
                let second = case.choose(&ranked, w.top);
                let again: Vec<String> = second.members.iter().map(|&i| ranked[i].candidate.symbol.clone()).chain(second.carried.iter().cloned()).collect();
                let (mut a, mut b) = (universe, again);
                a.sort();
                b.sort();
                prop_assert_eq!(a, b);
            }
        }
    }
}
