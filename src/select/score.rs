//! The score: percentile ranks of five components, weighted, with weights that follow
//! the market's regime.
//!
//! `score = 100 · Σ wₖ·pctₖ / Σ wₖ` over
//! `|trend_1h|`, `|mom_15m|`, `|mom_1h|`, `−|ln(atr_pct_15m / m)|` (closeness to the
//! median volatility `m`) and the 24h quote volume. With the default weights
//! (1.0, 0.8, 0.6, 0.4, 0.5) in the `normal` regime this is the formula of the README.

use serde::Serialize;

use super::{Candidate, LeverageTable};
use crate::features::Features;

/// Weights (or, for a regime, multipliers of the weights) of the five components.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Weights {
    pub trend_1h: f64,
    pub mom_15m: f64,
    pub mom_1h: f64,
    pub vol_fit: f64,
    pub liquidity: f64,
}

impl Weights {
    pub const DEFAULT: Self = Self {
        trend_1h: 1.0,
        mom_15m: 0.8,
        mom_1h: 0.6,
        vol_fit: 0.4,
        liquidity: 0.5,
    };
    /// No components: a carried symbol's, which was not scored this time.
    pub const ZERO: Self = Self {
        trend_1h: 0.0,
        mom_15m: 0.0,
        mom_1h: 0.0,
        vol_fit: 0.0,
        liquidity: 0.0,
    };
    pub const ONES: Self = Self {
        trend_1h: 1.0,
        mom_15m: 1.0,
        mom_1h: 1.0,
        vol_fit: 1.0,
        liquidity: 1.0,
    };

    /// The components' names, in the order of [`Self::named`].
    pub const NAMES: [&'static str; 5] = ["trend_1h", "mom_15m", "mom_1h", "vol_fit", "liquidity"];

    /// Each component with its name.
    pub fn named(&self) -> impl Iterator<Item = (&'static str, f64)> {
        Self::NAMES.into_iter().zip(self.as_array())
    }

    fn as_array(&self) -> [f64; 5] {
        [
            self.trend_1h,
            self.mom_15m,
            self.mom_1h,
            self.vol_fit,
            self.liquidity,
        ]
    }

    pub fn sum(&self) -> f64 {
        self.as_array().iter().sum()
    }

    /// Each weight multiplied by the matching multiplier.
    #[must_use]
    pub fn scaled(&self, by: &Weights) -> Weights {
        Weights {
            trend_1h: self.trend_1h * by.trend_1h,
            mom_15m: self.mom_15m * by.mom_15m,
            mom_1h: self.mom_1h * by.mom_1h,
            vol_fit: self.vol_fit * by.vol_fit,
            liquidity: self.liquidity * by.liquidity,
        }
    }
}

/// The market's mood, by the median `atr_pct_15m` of the scored symbols.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Regime {
    HighVol,
    Normal,
    LowVol,
}

impl Regime {
    /// `high_vol` above `high_above`, `low_vol` below `low_below`, else `normal`.
    pub fn of(median_atr: f64, high_above: f64, low_below: f64) -> Self {
        if median_atr > high_above {
            Regime::HighVol
        } else if median_atr < low_below {
            Regime::LowVol
        } else {
            Regime::Normal
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Regime::HighVol => "high_vol",
            Regime::Normal => "normal",
            Regime::LowVol => "low_vol",
        }
    }
}

/// [`Features`] as serialised.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct FeatureValues {
    pub atr_pct_15m: f64,
    pub trend_1h: f64,
    pub mom_15m: f64,
    pub mom_1h: f64,
}

impl From<Features> for FeatureValues {
    fn from(f: Features) -> Self {
        Self {
            atr_pct_15m: f.atr_pct_15m,
            trend_1h: f.trend_1h,
            mom_15m: f.mom_15m,
            mom_1h: f.mom_1h,
        }
    }
}

/// A candidate with its features, percentile components, score and leverage.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Scored {
    #[serde(flatten)]
    pub candidate: Candidate,
    #[serde(flatten)]
    pub features: FeatureValues,
    /// The five percentiles the score weighs, each in [0, 1].
    pub components: Weights,
    pub score: f64,
    /// The performance factor the score was multiplied by (`score.hybrid`), if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hybrid_factor: Option<f64>,
    pub leverage: u32,
    /// 1h log returns over the window, for the correlation limit.
    #[serde(skip)]
    pub returns_1h: Vec<f64>,
}

/// A candidate ready to be scored.
#[derive(Debug, Clone)]
pub struct Ready {
    pub candidate: Candidate,
    pub features: Features,
    pub returns_1h: Vec<f64>,
}

/// Regimes by the median `atr_pct_15m` of the scored symbols, and their weight multipliers.
#[derive(Debug, Clone, PartialEq)]
pub struct Regimes {
    pub high_vol_above: f64,
    pub low_vol_below: f64,
    pub high_vol: Weights,
    pub low_vol: Weights,
}

/// The median `atr_pct_15m` of the candidates.
pub fn median_atr(ready: &[Ready]) -> Option<f64> {
    median(
        &ready
            .iter()
            .map(|r| r.features.atr_pct_15m)
            .collect::<Vec<_>>(),
    )
}

/// Scores every candidate against the others and returns them in rank order.
///
/// A volatility fit that is not finite (an ATR or a median of zero) counts as the worst
/// fit, −∞.
pub fn score(ready: Vec<Ready>, weights: &Weights, leverage: &LeverageTable) -> Vec<Scored> {
    let column = |f: &dyn Fn(&Ready) -> f64| percentiles(&ready.iter().map(f).collect::<Vec<_>>());
    let m = median_atr(&ready).unwrap_or(f64::NAN);
    let trend = column(&|r| r.features.trend_1h.abs());
    let mom_15m = column(&|r| r.features.mom_15m.abs());
    let mom_1h = column(&|r| r.features.mom_1h.abs());
    let vol_fit = column(&|r| {
        let fit = -(r.features.atr_pct_15m / m).ln().abs();
        if fit.is_finite() {
            fit
        } else {
            f64::NEG_INFINITY
        }
    });
    let liquidity = column(&|r| r.candidate.quote_volume);
    let total = weights.sum();
    let mut scored: Vec<Scored> = ready
        .into_iter()
        .enumerate()
        .map(|(i, r)| {
            let components = Weights {
                trend_1h: trend[i],
                mom_15m: mom_15m[i],
                mom_1h: mom_1h[i],
                vol_fit: vol_fit[i],
                liquidity: liquidity[i],
            };
            // summed in the formula's order, so the default weights give its exact value
            let weighted = weights.trend_1h * components.trend_1h
                + weights.mom_15m * components.mom_15m
                + weights.mom_1h * components.mom_1h
                + weights.vol_fit * components.vol_fit
                + weights.liquidity * components.liquidity;
            Scored {
                candidate: r.candidate,
                leverage: leverage.leverage(r.features.atr_pct_15m),
                features: r.features.into(),
                components,
                score: 100.0 * weighted / total,
                hybrid_factor: None,
                returns_1h: r.returns_1h,
            }
        })
        .collect();
    scored.sort_by(rank_order);
    scored
}

#[cfg(test)]
impl Scored {
    /// A scored symbol with neutral features, for tests of what comes after scoring.
    pub fn sample(symbol: &str, score: f64, quote_volume: f64) -> Self {
        Self {
            candidate: Candidate {
                symbol: symbol.into(),
                quote_volume,
                spread_bps: 1.0,
                age_days: 100.0,
            },
            features: FeatureValues {
                atr_pct_15m: 1.0,
                trend_1h: 0.0,
                mom_15m: 0.0,
                mom_1h: 0.0,
            },
            components: Weights::ONES,
            score,
            hybrid_factor: None,
            leverage: 15,
            returns_1h: Vec::new(),
        }
    }
}

/// The old generator's "hybrid" score: each score multiplied by its symbol's performance
/// factor (`factor_of`, 0.5 to 1.5: `Performance::hybrid_factor`; a symbol without one
/// keeps its score), then ranked again.
pub fn apply_hybrid(scored: &mut [Scored], factor_of: impl Fn(&str) -> Option<f64>) {
    for s in scored.iter_mut() {
        if let Some(factor) = factor_of(&s.candidate.symbol) {
            s.score *= factor;
            s.hybrid_factor = Some(factor);
        }
    }
    scored.sort_by(rank_order);
}

/// Score descending, then 24h quote volume descending, then symbol ascending (bytes).
pub fn rank_order(a: &Scored, b: &Scored) -> std::cmp::Ordering {
    b.score
        .total_cmp(&a.score)
        .then_with(|| {
            b.candidate
                .quote_volume
                .total_cmp(&a.candidate.quote_volume)
        })
        .then_with(|| {
            a.candidate
                .symbol
                .as_bytes()
                .cmp(b.candidate.symbol.as_bytes())
        })
}

/// Percentile rank of each value: `(r − 1)/(K − 1)` with `r` its 1-based ascending rank,
/// ties sharing their mean rank; 1 for every value when there is only one.
pub fn percentiles(values: &[f64]) -> Vec<f64> {
    let k = values.len();
    if k == 1 {
        return vec![1.0];
    }
    let mut order: Vec<usize> = (0..k).collect();
    order.sort_by(|&a, &b| values[a].total_cmp(&values[b]));
    let mut pct = vec![0.0; k];
    let mut start = 0;
    while start < k {
        let mut end = start + 1;
        while end < k && values[order[end]] == values[order[start]] {
            end += 1;
        }
        // positions start..end hold ranks start+1..=end; their mean is (start+1+end)/2
        let mean_rank = (start + 1 + end) as f64 / 2.0;
        for &i in &order[start..end] {
            pct[i] = (mean_rank - 1.0) / (k - 1) as f64;
        }
        start = end;
    }
    pct
}

/// The median: the middle value, or the mean of the two middle values.
pub fn median(values: &[f64]) -> Option<f64> {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(sorted[n / 2]),
        _ => Some(f64::midpoint(sorted[n / 2 - 1], sorted[n / 2])),
    }
}

/// Pearson correlation of two equally long series; `None` when either is constant.
pub fn correlation(a: &[f64], b: &[f64]) -> Option<f64> {
    let n = a.len().min(b.len());
    if n < 2 {
        return None;
    }
    let (a, b) = (&a[a.len() - n..], &b[b.len() - n..]);
    let mean = |x: &[f64]| x.iter().sum::<f64>() / n as f64;
    let (ma, mb) = (mean(a), mean(b));
    let (mut cov, mut va, mut vb) = (0.0, 0.0, 0.0);
    for (x, y) in a.iter().zip(b) {
        cov += (x - ma) * (y - mb);
        va += (x - ma) * (x - ma);
        vb += (y - mb) * (y - mb);
    }
    (va > 0.0 && vb > 0.0).then(|| cov / (va * vb).sqrt())
}

#[cfg(test)]
mod tests;
