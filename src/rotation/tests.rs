//! Unit tests of `rotation`.

use super::*;
use crate::select::churn::{Action, Why};
use proptest::prelude::*;

fn settings(mode: Mode, max_symbols: usize) -> Config {
    Config {
        mode,
        min_trades_for_eviction: 10,
        eviction_win_rate: 0.4,
        eviction_drawdown: 0.12,
        max_symbols,
        model_dir: None,
        model_glob: Pattern::new("*.pt").unwrap(),
        require_model: false,
    }
}

fn name(i: usize) -> Symbol {
    Symbol::from(format!("S{i:02}").as_str())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Over random universes, results and models: execution keeps the universe within
    /// [min_symbols, max_symbols] (it starts within), never evicts a held symbol, and
    /// advisory says exactly what execution does.
    #[test]
    fn execution_stays_within_the_bounds_and_advisory_says_what_it_would_do(
        n in 6usize..30,
        top in 3usize..8,
        extra in 0usize..4,
        min in 1usize..4,
        losers in proptest::collection::vec(0usize..30, 0..8),
        models in proptest::collection::vec(0usize..30, 0..10),
        held in proptest::collection::vec(0usize..30, 0..3),
    ) {
        let ranked: Vec<Scored> = (0..n).map(|i| Scored::sample(&name(i), 100.0 - i as f64, 1.0)).collect();
        let top = top.min(n);
        let min = min.min(top);
        let performance: BTreeMap<String, Performance> = losers
            .iter()
            .filter(|&&i| i < n)
            .map(|&i| (name(i).to_string(), Performance::recorded(0.1, -5.0, 0.05, 30, 0)))
            .collect();
        let scan = models::Scan {
            models: models.iter().filter(|&&i| i < n).map(|&i| (format!("{}.pt", name(i)), name(i).to_string())).collect(),
            unknown: Vec::new(),
        };
        let held: BTreeSet<Symbol> = held.iter().filter(|&&i| i < top).map(|&i| name(i)).collect();
        let lists = Lists::default();
        let plans: Vec<(Choice, Report)> = [Mode::Execution, Mode::Advisory].into_iter().map(|mode| {
            let s = settings(mode, top + extra);
            let mut choice = Choice { members: (0..top).collect(), ..Choice::default() };
            for i in 0..top {
                choice.decisions.push(Decision { symbol: name(i), action: Action::Kept, reason: Why::Rank { rank: i + 1 } });
            }
            let inputs = Inputs {
                config: &s,
                performance: &performance,
                unreadable: &BTreeMap::new(),
                models: &scan,
                seen_models: None,
                held: &held,
                lists: &lists,
                min_symbols: min,
            };
            let report = rotate(&ranked, &mut choice, &inputs);
            (choice, report)
        }).collect();
        let (executed, done) = &plans[0];
        let (advised, advice) = &plans[1];
        prop_assert!(executed.size() >= min && executed.size() <= top + extra, "size {}", executed.size());
        prop_assert_eq!(advised.size(), top, "advisory changes nothing");
        for e in &done.evict {
            prop_assert!(!(e.applied && held.contains(&e.symbol)));
        }
        for (x, a) in done.evict.iter().zip(&advice.evict) {
            prop_assert_eq!(x.applied, a.not_applied.as_deref() == Some("advisory mode (execution would apply it)"));
        }
        for (x, a) in done.expand.iter().zip(&advice.expand) {
            prop_assert_eq!(x.applied, a.not_applied.as_deref() == Some("advisory mode (execution would apply it)"));
        }
    }
}
