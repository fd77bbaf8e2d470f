//! Unit tests of `perf`.

use super::*;

fn trade(pnl_pct: f64) -> Trade {
    Trade {
        symbol: "X".into(),
        pnl: pnl_pct * 10.0,
        pnl_pct,
        closed_at: 1,
    }
}

fn fields(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn stored(record: &Performance) -> BTreeMap<String, String> {
    record
        .to_fields()
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect()
}

#[test]
fn folding_trades_gives_the_figures() {
    let mut p = Performance::default();
    for pct in [10.0, -20.0, 5.0, 5.0] {
        p.fold(&trade(pct), 99).unwrap();
    }
    assert_eq!(p.total_trades, 4);
    assert_eq!(p.win_rate, 0.75);
    assert_eq!(p.total_pnl, 0.0);
    assert_eq!(p.avg_pnl_pct, 0.0);
    // equity 1.1 (peak) → 0.88: drawdown 0.2
    assert!((p.max_drawdown.unwrap() - 0.2).abs() < 1e-12);
    assert_eq!(p.sharpe_ratio, 0.0, "a mean of 0 has a Sharpe of 0");
    assert_eq!(p.updated_at, 99);
    let back = Performance::from_fields(&stored(&p)).unwrap();
    assert_eq!(back, p);
}

#[test]
fn sharpe_is_mean_over_sample_deviation() {
    let mut p = Performance::default();
    for pct in [1.0, 3.0] {
        p.fold(&trade(pct), 0).unwrap();
    }
    // mean 2, sample sd √2
    assert!((p.sharpe_ratio - 2.0 / 2f64.sqrt()).abs() < 1e-12);
}

fn tracker_record() -> BTreeMap<String, String> {
    fields(&[
        ("win_rate", "0.35"),
        ("avg_pnl_pct", "-0.4"),
        ("sharpe_ratio", "-0.3"),
        ("total_trades", "20"),
        ("winning_trades", "7"),
        ("losing_trades", "13"),
        ("total_pnl_usdt", "-81.5"),
        ("last_updated", "1761220000"),
    ])
}

#[test]
fn a_tracker_record_is_read_as_it_is_and_its_figures_are_never_written() {
    let mut p = Performance::from_fields(&tracker_record()).unwrap();
    assert!(p.shared);
    assert_eq!((p.win_rate, p.total_trades), (0.35, 20));
    assert_eq!(p.max_drawdown, None, "the tracker keeps no drawdown");
    assert_eq!((p.pnl(), p.total_pnl), (-81.5, 0.0));
    assert_eq!(p.updated_at, 1_761_220_000);
    p.fold(&trade(-10.0), 5).unwrap();
    // the tracker's figures stand; ours are folded from our own trades only
    assert_eq!((p.win_rate, p.total_trades), (0.35, 20));
    assert_eq!((p.folded_trades, p.pnl()), (1, -100.0));
    assert!((p.max_drawdown.unwrap() - 0.1).abs() < 1e-12);
    let written: Vec<&str> = p.to_fields().iter().map(|(k, _)| *k).collect();
    assert!(written.iter().all(|k| OWN.contains(k)), "{written:?}");
    // read back over the tracker's fields, nothing of either is lost
    let mut merged = tracker_record();
    merged.extend(stored(&p));
    assert_eq!(Performance::from_fields(&merged).unwrap(), p);
}

#[test]
fn a_record_of_its_own_becomes_shared_when_another_writer_adds_a_field() {
    let mut p = Performance::default();
    p.fold(&trade(3.0), 1).unwrap();
    assert!(!p.shared);
    assert!(p.to_fields().iter().any(|(k, _)| *k == "win_rate"));
    let mut current = stored(&p);
    current.insert("last_updated".into(), "2".into());
    let p = p.over(&current);
    assert!(p.shared);
    assert!(p.to_fields().iter().all(|(k, _)| OWN.contains(k)));
}

#[test]
fn a_hand_written_record_without_sums_is_rebuilt() {
    let p = Performance::from_fields(&fields(&[
        ("win_rate", "0.5"),
        ("total_trades", "10"),
        ("avg_pnl_pct", "1.5"),
    ]))
    .unwrap();
    assert!(!p.shared);
    assert_eq!((p.folded_trades, p.wins), (10, 5));
    assert_eq!(p.sum_pnl_pct, 15.0);
    assert_eq!(p.max_drawdown, None);
    assert!(Performance::from_fields(&fields(&[("win_rate", "NaN")])).is_err());
}

#[test]
fn the_hybrid_factor_needs_enough_trades_and_stays_in_bounds() {
    let mut p = Performance::from_fields(&tracker_record()).unwrap();
    // 0.5·(0.5 + 0.315) + 0.3·(1 − 0.04) + 0.2·(1 − 0.06) = 0.4075 + 0.288 + 0.188
    assert!((p.hybrid_factor(5).unwrap() - 0.8835).abs() < 1e-12);
    assert_eq!(p.hybrid_factor(21), None);
    p.win_rate = 1.0;
    p.avg_pnl_pct = 50.0;
    assert_eq!(p.hybrid_factor(5), Some(1.5));
    p.win_rate = 0.0;
    p.avg_pnl_pct = -50.0;
    assert_eq!(p.hybrid_factor(5), Some(0.5));
}

#[test]
fn a_fold_that_would_overflow_is_refused_and_leaves_the_record_as_it_was() {
    // within every range on its own, but the equity curve leaves the numbers
    let mut p = Performance {
        equity: 1e306,
        peak_equity: 1e306,
        ..Performance::default()
    };
    let before = p.clone();
    let why = p.fold(&trade(1e5), 7).unwrap_err();
    assert!(why.contains("equity inf"), "{why}");
    assert_eq!(p, before);
    // fold_trades refuses it by id and writes no record for a symbol it refused
    let mut records = BTreeMap::from([("X".to_owned(), before.clone())]);
    let trades = [
        ("1-0".to_owned(), trade(1e5)),
        ("2-0".to_owned(), trade(1.0)),
    ];
    let refused = fold_trades(&mut records, &BTreeMap::new(), &trades, 7);
    assert_eq!(refused.len(), 1);
    assert_eq!(refused[0].0, "1-0");
    assert_eq!(records["X"].folded_trades, 1, "the second trade was folded");
    let mut fresh = BTreeMap::new();
    let unreadable = BTreeMap::from([("X".to_owned(), "k: win_rate".to_owned())]);
    let refused = fold_trades(&mut fresh, &unreadable, &trades[1..], 7);
    assert!(refused[0].1.contains("k: win_rate"), "{refused:?}");
    assert!(fresh.is_empty());
}

#[test]
fn the_trackers_iso_last_updated_is_read_and_a_garbled_one_is_named() {
    let record = Performance::from_fields(&fields(&[
        ("win_rate", "0.5"),
        ("total_trades", "3"),
        ("last_updated", "2026-12-01T07:00:00"),
    ]))
    .unwrap();
    assert_eq!(record.updated_at, 1_796_108_400);
    let why = Performance::from_fields(&fields(&[("last_updated", "soon")])).unwrap_err();
    assert!(why.contains("last_updated \"soon\""), "{why}");
}
