//! Unit tests of `churn`.

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
    incumbents: Vec<Symbol>,
    held: BTreeSet<Symbol>,
    joined: HashMap<Symbol, i64>,
    lists: Lists,
    churn: Churn,
    excluded: Vec<Excluded>,
    barred: BTreeSet<Symbol>,
    max_correlation: Option<f64>,
}

impl Case {
    fn new(incumbents: &[&str]) -> Self {
        Self {
            incumbents: incumbents.iter().map(|&s| s.into()).collect(),
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
            .map(|&i| ranked[i].candidate.symbol.to_string())
            .chain(choice.carried.iter().map(ToString::to_string))
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
            .to_string()
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
            .to_string()
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
            .to_string()
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
    assert!(
        choice
            .decision("O1")
            .unwrap()
            .reason
            .to_string()
            .contains("min_hold")
    );
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
            .to_string()
            .contains("held position")
    );
}

#[test]
fn a_held_position_leaves_only_when_positively_ineligible() {
    let r = ranked(&[("A", 90.0), ("B", 80.0)]);
    let mut case = Case::new(&["A", "X", "Y"]);
    case.held.extend([Symbol::from("X"), Symbol::from("Y")]);
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
            .to_string()
            .contains("previous figures and leverage although fetch_failed")
    );
    assert!(
        choice
            .decision("X")
            .unwrap()
            .reason
            .to_string()
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
    assert!(
        choice
            .decision("C")
            .unwrap()
            .reason
            .to_string()
            .contains("only top 2")
    );
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
    let why = &choice.decision("C").unwrap().reason;
    assert_eq!(*why, Why::OutsideTop { rank: 3, top: 2 });
    assert_eq!(why.to_string(), "rank 3 outside the top 2");
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

mod properties;
