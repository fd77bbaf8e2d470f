//! The two overfitting statistics `tune` reports, and what they are made of.
//!
//! **Deflated Sharpe Ratio** (Bailey & López de Prado, 2014): the probability that a
//! Sharpe ratio `SR` (per step, from `T` returns with skewness `γ₃` and kurtosis `γ₄`)
//! exceeds what the best of `N` trials would show by luck:
//!
//! ```text
//! SR₀ = √V · ((1 − γ) Φ⁻¹(1 − 1/N) + γ Φ⁻¹(1 − 1/(N e)))      γ = 0.5772… (Euler–Mascheroni)
//! DSR = Φ( (SR − SR₀) √(T − 1) / √(1 − γ₃ SR + (γ₄ − 1)/4 · SR²) )
//! ```
//!
//! with `V` the variance of the trials' Sharpe ratios when none has skill: `1/(T − 1)`,
//! the variance of a Sharpe estimate from `T` steps whose true Sharpe is 0. (The paper
//! estimates `V` by the trials' spread of Sharpe ratios; when some trials share a real
//! signal, that spread measures the signal and would deflate any edge away, so `tune`
//! reports that variant beside the verdict's.)
//!
//! **Probability of Backtest Overfitting** by combinatorially symmetric cross-validation
//! (Bailey, Borwein, López de Prado & Zhu, 2017): split the `T` steps of all `N` trials'
//! performance into `S` blocks; for each of the `C(S, S/2)` ways to take half the blocks
//! as in-sample, find the trial best in-sample, its relative rank `ω` among all trials
//! out of sample (`rank/(N + 1)`), and the logit `λ = ln(ω/(1 − ω))`. PBO is the share of
//! halvings with `λ ≤ 0`: the in-sample best ranks at or below the median out of sample.

/// Euler–Mascheroni.
const EULER_GAMMA: f64 = 0.577_215_664_901_532_9;

/// Mean, per-step Sharpe ratio (mean / standard deviation, n − 1), skewness and
/// kurtosis (not excess: 3 for a normal) of `returns`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Moments {
    pub n: usize,
    pub mean: f64,
    pub sharpe: f64,
    pub skew: f64,
    pub kurtosis: f64,
}

impl Moments {
    pub fn of(returns: &[f64]) -> Self {
        let n = returns.len();
        let nf = n as f64;
        let mean = returns.iter().sum::<f64>() / nf;
        let central = |p: i32| returns.iter().map(|r| (r - mean).powi(p)).sum::<f64>() / nf;
        let (m2, m3, m4) = (central(2), central(3), central(4));
        let sd = (m2 * nf / (nf - 1.0)).sqrt();
        let sharpe = if sd > 0.0 { mean / sd } else { 0.0 };
        let (skew, kurtosis) = if m2 > 0.0 {
            (m3 / m2.powf(1.5), m4 / (m2 * m2))
        } else {
            (0.0, 3.0)
        };
        Self {
            n,
            mean,
            sharpe,
            skew,
            kurtosis,
        }
    }
}

/// The Sharpe ratio the best of `trials` would show by luck, given the variance of the
/// trials' Sharpe ratios.
pub fn expected_max_sharpe(variance: f64, trials: usize) -> f64 {
    let n = trials.max(2) as f64;
    variance.max(0.0).sqrt()
        * ((1.0 - EULER_GAMMA) * normal_quantile(1.0 - 1.0 / n)
            + EULER_GAMMA * normal_quantile(1.0 - 1.0 / (n * std::f64::consts::E)))
}

/// The deflated Sharpe ratio of `returns` (see the module's formula).
pub fn deflated_sharpe(returns: &Moments, sr0: f64) -> f64 {
    let sr = returns.sharpe;
    let denominator = 1.0 - returns.skew * sr + (returns.kurtosis - 1.0) / 4.0 * sr * sr;
    if returns.n < 2 || denominator <= 0.0 {
        return 0.0;
    }
    normal_cdf((sr - sr0) * ((returns.n - 1) as f64).sqrt() / denominator.sqrt())
}

/// PBO of `performance` (`performance[trial][step]`) over `blocks` blocks of steps,
/// where `score` judges a trial on the steps it is given; and every halving's logit.
pub fn pbo(
    performance: &[Vec<f64>],
    blocks: usize,
    score: impl Fn(&[f64]) -> f64,
) -> (f64, Vec<f64>) {
    let trials = performance.len();
    let steps = performance.first().map_or(0, Vec::len);
    if trials < 2 || blocks < 2 || steps < blocks {
        return (f64::NAN, Vec::new());
    }
    let bounds: Vec<(usize, usize)> = (0..blocks)
        .map(|b| (b * steps / blocks, (b + 1) * steps / blocks))
        .collect();
    let mut logits = Vec::new();
    for in_sample in halvings(blocks) {
        let take = |trial: &[f64], inside: bool| -> Vec<f64> {
            bounds
                .iter()
                .enumerate()
                .filter(|(b, _)| in_sample.contains(b) == inside)
                .flat_map(|(_, &(lo, hi))| trial[lo..hi].iter().copied())
                .collect()
        };
        let is: Vec<f64> = performance.iter().map(|p| score(&take(p, true))).collect();
        let oos: Vec<f64> = performance.iter().map(|p| score(&take(p, false))).collect();
        let best = (0..trials)
            .max_by(|&a, &b| is[a].total_cmp(&is[b]).then(b.cmp(&a)))
            .expect("trials");
        // its rank out of sample, 1 = worst, ties counted as half below
        let below = oos.iter().filter(|&&x| x < oos[best]).count() as f64;
        let ties = oos.iter().filter(|&&x| x == oos[best]).count() as f64;
        let rank = below + f64::midpoint(ties, 1.0);
        let omega = rank / (trials as f64 + 1.0);
        logits.push((omega / (1.0 - omega)).ln());
    }
    let overfit = logits.iter().filter(|&&l| l <= 0.0).count() as f64 / logits.len() as f64;
    (overfit, logits)
}

/// Every choice of `blocks / 2` of `blocks` (as sorted block numbers).
fn halvings(blocks: usize) -> Vec<Vec<usize>> {
    let half = blocks / 2;
    let mut out = Vec::new();
    let mut pick: Vec<usize> = (0..half).collect();
    loop {
        out.push(pick.clone());
        let Some(i) = (0..half).rev().find(|&i| pick[i] < blocks - half + i) else {
            return out;
        };
        pick[i] += 1;
        for j in i + 1..half {
            pick[j] = pick[j - 1] + 1;
        }
    }
}

/// The standard normal distribution function, from `erfc` (Numerical Recipes'
/// Chebyshev fit, relative error under 1.2·10⁻⁷).
pub fn normal_cdf(x: f64) -> f64 {
    0.5 * erfc(-x / std::f64::consts::SQRT_2)
}

fn erfc(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let poly = -z * z - 1.265_512_23
        + t * (1.000_023_68
            + t * (0.374_091_96
                + t * (0.096_784_18
                    + t * (-0.186_288_06
                        + t * (0.278_868_07
                            + t * (-1.135_203_98
                                + t * (1.488_515_87 + t * (-0.822_152_23 + t * 0.170_872_77))))))));
    let r = t * poly.exp();
    if x >= 0.0 { r } else { 2.0 - r }
}

/// The standard normal quantile (Acklam's rational approximation, relative error under
/// 1.2·10⁻⁹), for `p` in (0, 1).
pub fn normal_quantile(p: f64) -> f64 {
    const A: [f64; 6] = [
        -3.969_683_028_665_376e1,
        2.209_460_984_245_205e2,
        -2.759_285_104_469_687e2,
        1.383_577_518_672_69e2,
        -3.066_479_806_614_716e1,
        2.506_628_277_459_239,
    ];
    const B: [f64; 5] = [
        -5.447_609_879_822_406e1,
        1.615_858_368_580_409e2,
        -1.556_989_798_598_866e2,
        6.680_131_188_771_972e1,
        -1.328_068_155_288_572e1,
    ];
    const C: [f64; 6] = [
        -7.784_894_002_430_293e-3,
        -3.223_964_580_411_365e-1,
        -2.400_758_277_161_838,
        -2.549_732_539_343_734,
        4.374_664_141_464_968,
        2.938_163_982_698_783,
    ];
    const D: [f64; 4] = [
        7.784_695_709_041_462e-3,
        3.224_671_290_700_398e-1,
        2.445_134_137_142_996,
        3.754_408_661_907_416,
    ];
    let tail = |q: f64| {
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    };
    if p < 0.024_25 {
        tail((-2.0 * p.ln()).sqrt())
    } else if p > 1.0 - 0.024_25 {
        -tail((-2.0 * (1.0 - p).ln()).sqrt())
    } else {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    }
}
