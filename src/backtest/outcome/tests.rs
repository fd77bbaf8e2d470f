//! The accounting worked out by hand: turnover from drifted weights, the exit, funding.

use super::*;

/// Moves of symbols 0 and 1 over two steps, no funding.
fn moves(forward: [[f64; 2]; 2]) -> Moves {
    Moves {
        steps: 2,
        forward: forward.iter().map(|f| f.to_vec()).collect(),
        funding: vec![Vec::new(), Vec::new()],
    }
}

#[test]
fn a_rebalance_pays_for_what_drift_moved_and_the_end_pays_for_selling() {
    let fee = 0.001;
    let costs = Costs { fee, funding: true };
    // A +10% then flat, B −10% then flat; both held half and half at both steps
    let m = moves([[0.10, 0.0], [-0.10, 0.0]]);
    let half = vec![(0, 0.5), (1, 0.5)];
    let r = returns(&m, [half.clone(), half.clone(), half], costs);
    // step 0: buying in trades 1; the moves cancel
    let r0 = 0.5 * 0.10 + 0.5 * -0.10 - fee;
    assert!((r[0] - r0).abs() < 1e-15);
    // step 1: the weights drifted to 0.55/0.999 and 0.45/0.999; back to half and half
    let (a, b) = (0.55 / (1.0 + r0), 0.45 / (1.0 + r0));
    let r1 = -fee * ((a - 0.5).abs() + (b - 0.5).abs());
    // the end sells the weights as they drifted over a flat step
    let exit = (0.5 + 0.5) / (1.0 + r1);
    let last = (1.0 + r1) * (1.0 - fee * exit) - 1.0;
    assert!((r[1] - last).abs() < 1e-15, "{} {last}", r[1]);
}

#[test]
fn funding_is_paid_by_a_long_and_received_by_a_short() {
    let m = Moves {
        steps: 1,
        forward: vec![vec![0.0], vec![0.0]],
        funding: vec![vec![(0, 0.001)], vec![(0, 0.001)]],
    };
    let costs = Costs {
        fee: 0.0,
        funding: true,
    };
    let r = returns(&m, [vec![(0, 0.5), (1, -0.5)]], costs);
    assert!(r[0].abs() < 1e-18, "the long pays what the short receives");
    let r = returns(&m, [vec![(0, 1.0)]], costs);
    assert!((r[0] + 0.001).abs() < 1e-15);
}
