//! Unit tests of `score`.

use super::*;
use std::collections::HashMap;

#[test]
fn ties_share_their_mean_rank() {
    // ranks: 1.0 → 1, the two 2.0 → 2.5, 3.0 → 4
    assert_eq!(percentiles(&[2.0, 1.0, 3.0, 2.0]), vec![0.5, 0.0, 1.0, 0.5]);
    assert_eq!(percentiles(&[7.0, 7.0, 7.0]), vec![0.5, 0.5, 0.5]);
    assert_eq!(percentiles(&[42.0]), vec![1.0]);
    assert_eq!(percentiles(&[]), Vec::<f64>::new());
}

#[test]
fn median_of_an_even_count_is_the_mean_of_the_middle_two() {
    assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), Some(2.5));
    assert_eq!(median(&[5.0, 1.0, 3.0]), Some(3.0));
    assert_eq!(median(&[]), None);
}

fn scored(symbol: &str, score: f64, quote_volume: f64) -> Scored {
    Scored::sample(symbol, score, quote_volume)
}

#[test]
fn order_is_score_then_volume_then_symbol_bytes() {
    let mut list = [
        scored("BBB", 50.0, 10.0),
        scored("AAA", 50.0, 10.0),
        scored("CCC", 50.0, 20.0),
        scored("ZZZ", 60.0, 1.0),
        scored("aaa", 50.0, 10.0),
    ];
    list.sort_by(rank_order);
    let symbols: Vec<&str> = list.iter().map(|s| s.candidate.symbol.as_str()).collect();
    assert_eq!(symbols, ["ZZZ", "CCC", "AAA", "BBB", "aaa"]);
}

fn ready(
    symbol: &str,
    quote_volume: f64,
    atr: f64,
    trend: f64,
    mom_15m: f64,
    mom_1h: f64,
) -> Ready {
    Ready {
        candidate: Candidate {
            symbol: symbol.into(),
            quote_volume,
            spread_bps: 1.0,
            age_days: 90.0,
        },
        features: Features {
            atr_pct_15m: atr,
            trend_1h: trend,
            mom_15m,
            mom_1h,
        },
        returns_1h: Vec::new(),
    }
}

fn sample() -> Vec<Ready> {
    // three candidates; m = 2.0 (median atr)
    vec![
        ready("A", 100.0, 2.0, -3.0, 1.0, 0.5),
        ready("B", 300.0, 1.0, 1.0, -2.0, 0.1),
        ready("C", 200.0, 4.0, 2.0, 0.5, -0.9),
    ]
}

#[test]
fn score_follows_the_formula() {
    let scored = score(sample(), &Weights::DEFAULT, &LeverageTable::default());
    let by_symbol: HashMap<&str, f64> = scored
        .iter()
        .map(|s| (s.candidate.symbol.as_str(), s.score))
        .collect();
    // pct: |trend| A=1 B=0 C=.5; |mom15| A=.5 B=1 C=0; |mom1h| A=.5 B=0 C=1;
    // fit −|ln(atr/2)|: A=0 → 1, B and C both −ln 2 → tie at .25; volume A=0 B=1 C=.5
    let expect = |t: f64, m15: f64, m1: f64, fit: f64, v: f64| {
        100.0 * (t + 0.8 * m15 + 0.6 * m1 + 0.4 * fit + 0.5 * v) / 3.3
    };
    assert_eq!(by_symbol["A"], expect(1.0, 0.5, 0.5, 1.0, 0.0));
    assert_eq!(by_symbol["B"], expect(0.0, 1.0, 0.0, 0.25, 1.0));
    assert_eq!(by_symbol["C"], expect(0.5, 0.0, 1.0, 0.25, 0.5));
    assert_eq!(scored[0].candidate.symbol, "A");
    assert_eq!(scored[0].leverage, 10);
    assert_eq!(scored[0].components.vol_fit, 1.0);
}

#[test]
fn weights_move_the_ranking() {
    // only trend counts: B has the smallest |trend|, A the largest
    let trend_only = Weights {
        trend_1h: 1.0,
        mom_15m: 0.0,
        mom_1h: 0.0,
        vol_fit: 0.0,
        liquidity: 0.0,
    };
    let scored = score(sample(), &trend_only, &LeverageTable::default());
    let order: Vec<&str> = scored.iter().map(|s| s.candidate.symbol.as_str()).collect();
    assert_eq!(order, ["A", "C", "B"]);
    assert_eq!(scored[0].score, 100.0);
}

#[test]
fn a_single_candidate_scores_full_marks() {
    let scored = score(
        vec![ready("A", 1.0, 0.5, 0.1, 0.1, 0.1)],
        &Weights::DEFAULT,
        &LeverageTable::default(),
    );
    assert!((scored[0].score - 100.0).abs() < 1e-12);
}

#[test]
fn regimes_by_median_volatility() {
    assert_eq!(Regime::of(3.0, 2.5, 0.6), Regime::HighVol);
    assert_eq!(Regime::of(2.5, 2.5, 0.6), Regime::Normal);
    assert_eq!(Regime::of(0.59, 2.5, 0.6), Regime::LowVol);
}

#[test]
fn correlation_of_related_series() {
    let a = [0.01, -0.02, 0.03, 0.0, 0.01];
    let b: Vec<f64> = a.iter().map(|x| 2.0 * x + 0.001).collect();
    let c: Vec<f64> = a.iter().map(|x| -x).collect();
    assert!((correlation(&a, &b).unwrap() - 1.0).abs() < 1e-12);
    assert!((correlation(&a, &c).unwrap() + 1.0).abs() < 1e-12);
    assert_eq!(correlation(&a, &[0.0; 5]), None);
}
