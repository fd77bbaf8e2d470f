//! Churn control's invariants, over generated markets.

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
                |(scores, incumbents, gone, held, young, top, margin, max_replacements)| World {
                    scores,
                    incumbents,
                    gone,
                    held,
                    young,
                    top,
                    margin,
                    max_replacements,
                },
            )
    })
}

fn name(i: usize) -> Symbol {
    Symbol::from(format!("S{i:02}").as_str())
}

fn gone_name(g: impl std::fmt::Display) -> Symbol {
    Symbol::from(format!("GONE{g}").as_str())
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
        let mut incumbents: Vec<Symbol> = Vec::new();
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
            case.incumbents.push(gone_name(g));
        }
        for &(g, delisted) in &gone {
            case.excluded.push(Excluded {
                symbol: gone_name(g).to_string(),
                reason: if delisted {
                    Reason::Delisting
                } else {
                    Reason::FetchFailed
                },
                detail: String::new(),
            });
            case.held.insert(gone_name(g));
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
            let ineligible = case.excluded.iter().any(|e| *held == e.symbol && e.reason.removes_a_position());
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
        let mut all: Vec<&Symbol> = choice.members.iter().map(|&i| &ranked[i].candidate.symbol).chain(&choice.carried).collect();
        all.sort();
        all.dedup();
        prop_assert_eq!(all.len(), choice.size(), "no symbol twice");
    }

    #[test]
    fn refreshing_an_unchanged_market_settles_and_never_flips(w in world(), enabled in any::<bool>()) {
        let ranked = w.ranked();
        let mut case = w.case(enabled);
        let names = |c: &Choice| {
            let mut u: Vec<Symbol> = c.members.iter().map(|&i| ranked[i].candidate.symbol).chain(c.carried.iter().copied()).collect();
            u.sort();
            u
        };
        let mut seen: Vec<Vec<Symbol>> = Vec::new();
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
                case.joined.insert(*symbol, 10_000);
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
        let universe: Vec<Symbol> = first.members.iter().map(|&i| ranked[i].candidate.symbol).chain(first.carried.iter().copied()).collect();
        for symbol in universe.iter().filter(|s| !case.incumbents.contains(s)) {
            case.joined.insert(*symbol, 10_000);
        }
        case.incumbents = universe.clone();
        let second = case.choose(&ranked, w.top);
        let again: Vec<Symbol> = second.members.iter().map(|&i| ranked[i].candidate.symbol).chain(second.carried.iter().copied()).collect();
        let (mut a, mut b) = (universe, again);
        a.sort();
        b.sort();
        prop_assert_eq!(a, b);
    }
}
