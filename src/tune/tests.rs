//! The statistics against values worked out by hand, the folds, the search space.

use super::folds::{Bounds, EMBARGO, Folding};
use super::space::{self, Space};
use super::stats::{self, Moments};
use crate::select::Weights;

#[test]
fn the_deflated_sharpe_ratio_matches_a_hand_computation() {
    // N = 50 trials whose Sharpe ratios vary by 0.1 (V = 0.01):
    // Φ⁻¹(1 − 1/50) = 2.0537489, Φ⁻¹(1 − 1/(50e)) = 2.4393140,
    // SR₀ = 0.1 · (0.4227843 · 2.0537489 + 0.5772157 · 2.4393140) = 0.2276303
    let sr0 = stats::expected_max_sharpe(0.01, 50);
    assert!((sr0 - 0.227_630_3).abs() < 1e-6, "{sr0}");
    // SR = 0.2 over T = 100 steps, skew −0.5, kurtosis 4:
    // z = (0.2 − 0.2276303) · √99 / √(1 + 0.5 · 0.2 + 3/4 · 0.04) = −0.2586212, Φ(z) = 0.3979638
    let returns = Moments {
        n: 100,
        mean: 0.0,
        sharpe: 0.2,
        skew: -0.5,
        kurtosis: 4.0,
    };
    let dsr = stats::deflated_sharpe(&returns, sr0);
    assert!((dsr - 0.397_963_8).abs() < 1e-6, "{dsr}");
    // a Sharpe ratio far above what luck gives is almost surely not luck
    let strong = Moments {
        sharpe: 0.6,
        ..returns
    };
    assert!(stats::deflated_sharpe(&strong, sr0) > 0.99);
}

#[test]
fn pbo_matches_a_hand_count_of_the_halvings() {
    // four blocks of one step; A earns 2 in each, B 3, 1, 3, 0. Of the six halvings the
    // in-sample best ranks above the median out of sample in two ({0,1} and {1,2}: A
    // then beats B), at it in two ({0,3}, {2,3}: a tie) and below in two ({0,2}, {1,3})
    let a = vec![2.0, 2.0, 2.0, 2.0];
    let b = vec![3.0, 1.0, 3.0, 0.0];
    let (pbo, logits) = stats::pbo(&[a, b], 4, |part| part.iter().sum());
    let ln2 = 2f64.ln();
    let expected = [ln2, -ln2, 0.0, ln2, -ln2, 0.0];
    assert_eq!(logits.len(), 6);
    for (l, e) in logits.iter().zip(expected) {
        assert!((l - e).abs() < 1e-12, "{logits:?}");
    }
    assert!((pbo - 4.0 / 6.0).abs() < 1e-12);
    // 16 blocks give C(16, 8) halvings
    let noise: Vec<Vec<f64>> = (0..3)
        .map(|i| (0..64).map(|k| f64::from((k * 7 + i * 3) % 5)).collect())
        .collect();
    assert_eq!(stats::pbo(&noise, 16, |p| p.iter().sum()).1.len(), 12_870);
}

#[test]
fn normal_functions_agree_with_each_other_and_known_values() {
    assert!((stats::normal_cdf(1.959_964) - 0.975).abs() < 1e-6);
    assert!((stats::normal_quantile(0.975) - 1.959_964).abs() < 1e-6);
    for p in [0.001, 0.02, 0.3, 0.5, 0.9, 0.999] {
        assert!(
            (stats::normal_cdf(stats::normal_quantile(p)) - p).abs() < 1e-6,
            "{p}"
        );
    }
    let m = Moments::of(&[1.0, 2.0, 3.0, 4.0]);
    assert!((m.sharpe - 2.5 / (5.0f64 / 3.0).sqrt()).abs() < 1e-12);
    assert!(m.skew.abs() < 1e-12 && (m.kurtosis - 1.64).abs() < 1e-12);
}

#[test]
fn folds_roll_with_an_embargo_and_tests_back_to_back() {
    let folds = Folding::Windows { train: 10, test: 5 }.bounds(40).unwrap();
    assert_eq!(
        folds[0],
        Bounds {
            train: (0, 10),
            test: (11, 16)
        }
    );
    assert_eq!(
        folds[1],
        Bounds {
            train: (5, 15),
            test: (16, 21)
        }
    );
    assert_eq!(folds.len(), 5);
    for pair in folds.windows(2) {
        assert_eq!(pair[0].test.1, pair[1].test.0);
        assert_eq!(pair[1].train.1 + EMBARGO, pair[1].test.0);
    }
    let counted = Folding::Count(4).bounds(101).unwrap();
    assert_eq!(counted.len(), 4);
    assert!(
        counted
            .iter()
            .all(|f| f.test.1 <= 101 && f.train.1 - f.train.0 == 20)
    );
    assert!(Folding::Count(4).bounds(6).is_err());
}

#[test]
fn trials_are_the_configured_weights_then_points_of_the_space() {
    let narrow = Space::parse("[weights]\nliquidity = [0.5, 1.0]\ntrend_1h = [0, 0.2]\n").unwrap();
    let trials = narrow.sample(Weights::DEFAULT, 50, 7).unwrap();
    assert_eq!(trials[0], Weights::DEFAULT);
    for w in &trials[1..] {
        let s = space::shares(w);
        assert!((s.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        assert!(s[4] >= 0.5 && s[0] <= 0.2, "{s:?}");
    }
    assert_eq!(
        trials,
        narrow.sample(Weights::DEFAULT, 50, 7).unwrap(),
        "a seed repeats"
    );
    assert_ne!(trials, narrow.sample(Weights::DEFAULT, 50, 8).unwrap());
    for bad in [
        "[weights]\nsize = [0, 1]",
        "[weights]\nmom_1h = [0.8, 0.2]",
        "[other]\n",
    ] {
        assert!(Space::parse(bad).is_err(), "{bad}");
    }
    let empty = Space::parse("[weights]\ntrend_1h = [0.9, 1]\nliquidity = [0.9, 1]\n").unwrap();
    assert!(empty.sample(Weights::DEFAULT, 3, 1).is_err());
}
