//! The whole pipeline on the committed example snapshot, in memory.

use super::*;
use crate::decide::Memory;
use crate::market::memory::MemorySource;
use crate::select::churn::Action;
use crate::select::{Reason, count_by_reason};
use crate::settings::Overrides;

/// The committed example snapshot, in memory: 23 symbols, one per exclusion reason.
fn market() -> MemorySource {
    MemorySource::from_snapshot(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/snapshot"),
    )
    .unwrap()
}

fn decide_on(memory: &Memory) -> Plan {
    let settings = Settings::resolve(None, Overrides::default()).unwrap();
    make(
        &market(),
        &settings,
        memory,
        None,
        1_795_000_000,
        &Progress::hidden(),
    )
    .unwrap()
}

fn names(plan: &Plan) -> Vec<String> {
    plan.universe()
        .iter()
        .map(|s| s.candidate.symbol.to_string())
        .collect()
}

#[test]
fn a_full_decision_on_an_in_memory_market() {
    let first = decide_on(&Memory::default());
    let universe = names(&first);
    assert_eq!(
        universe,
        [
            "S08USDT", "S01USDT", "S07USDT", "S06USDT", "S00USDT", "S10USDT", "S04USDT", "S09USDT",
            "S03USDT", "S11USDT"
        ]
    );
    assert_eq!(crate::policy::universe_hash(&universe), "5fda91f8f226d142");
    assert_eq!(first.refresh.scored.len(), 12);
    assert_eq!(first.refresh.regime.as_str(), "normal");
    let counts = count_by_reason(&first.refresh.excluded);
    assert_eq!(counts[&Reason::NotUsdtPerpetual], 2);
    for reason in [
        Reason::NotTrading,
        Reason::Delisting,
        Reason::TooNew,
        Reason::NoTicker,
        Reason::Illiquid,
        Reason::BadBook,
        Reason::WideSpread,
        Reason::InsufficientHistory,
        Reason::BadData,
    ] {
        assert_eq!(counts[&reason], 1, "{reason}");
    }
    let leverage: Vec<u32> = first.universe().iter().map(|s| s.leverage).collect();
    assert_eq!(leverage, [15, 15, 12, 15, 15, 15, 12, 15, 15, 12]);
    assert!(
        first
            .choice
            .decisions
            .iter()
            .all(|d| d.action == Action::Added)
    );
    assert_eq!(first.refresh.usage.requests, 0, "nothing was sent");
}

#[test]
fn the_same_market_again_with_the_first_universe_as_incumbents_is_unchanged() {
    let universe = names(&decide_on(&Memory::default()));
    let memory = Memory {
        incumbents: universe.iter().map(|s| s.as_str().into()).collect(),
        ..Memory::default()
    };
    let second = decide_on(&memory);
    assert_eq!(names(&second), universe);
    assert_eq!(second.choice.replacements, 0);
    assert!(
        second
            .choice
            .decisions
            .iter()
            .all(|d| d.action == Action::Kept)
    );
}

#[test]
fn an_open_position_whose_candles_are_missing_this_time_is_carried_not_dropped() {
    let mut memory = Memory {
        incumbents: vec!["S08USDT".into(), "ZEROUSDT".into()],
        ..Memory::default()
    };
    memory.held.insert("ZEROUSDT".into());
    let third = decide_on(&memory);
    assert!(names(&third).contains(&"ZEROUSDT".to_owned()));
    assert_eq!(third.choice.carried, ["ZEROUSDT"]);
}
