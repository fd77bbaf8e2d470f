//! The trials: points on the simplex of the five score weights (the score divides by
//! their sum, so their scale is not a free parameter), drawn at random from a fixed seed
//! within the ranges a `--space` file may narrow. Trial 0 is the configured weights.
//!
//! Random search suffices here: five dimensions, a smooth objective, and a trial count
//! the statistics must know. Every trial drawn is counted in the deflated Sharpe ratio
//! and PBO; a search that adapts would make that count a fiction.

use crate::backtest::random::Rng;
use crate::select::Weights;

/// Each weight's share of the sum, `[low, high]`, in the order of [`Weights::NAMES`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Space(pub [(f64, f64); 5]);

impl Default for Space {
    fn default() -> Self {
        Self([(0.0, 1.0); 5])
    }
}

/// Draws before giving up on a space too narrow to hold a point.
const TRIES: usize = 100_000;

impl Space {
    /// A `--space` file: `[weights]` with `name = [low, high]` shares for any of the five.
    pub fn parse(text: &str) -> Result<Self, String> {
        let table: toml::Table = text.parse().map_err(|e| format!("{e}"))?;
        let mut space = Self::default();
        for (key, value) in &table {
            if key != "weights" {
                return Err(format!("unknown section [{key}]: only [weights]"));
            }
            let weights = value.as_table().ok_or("[weights] is not a table")?;
            for (name, range) in weights {
                let i = Weights::NAMES
                    .iter()
                    .position(|n| n == name)
                    .ok_or_else(|| {
                        format!("weights.{name}: not one of {}", Weights::NAMES.join(", "))
                    })?;
                let pair = range
                    .as_array()
                    .filter(|a| a.len() == 2)
                    .and_then(|a| Some((number(&a[0])?, number(&a[1])?)))
                    .filter(|&(lo, hi)| (0.0..=1.0).contains(&lo) && lo <= hi && hi <= 1.0)
                    .ok_or_else(|| {
                        format!("weights.{name}: expected [low, high] with 0 ≤ low ≤ high ≤ 1")
                    })?;
                space.0[i] = pair;
            }
        }
        Ok(space)
    }

    /// `trials` weights: `configured` first, then points of the space drawn from `seed`.
    pub fn sample(
        &self,
        configured: Weights,
        trials: usize,
        seed: u64,
    ) -> Result<Vec<Weights>, String> {
        let mut rng = Rng::new(seed);
        let mut out = vec![configured];
        while out.len() < trials.max(1) {
            let point = (0..TRIES)
                .map(|_| simplex_point(&mut rng))
                .find(|p| p.iter().zip(&self.0).all(|(w, (lo, hi))| (lo..=hi).contains(&w)))
                .ok_or_else(|| format!("the space holds no point of the simplex in {TRIES} draws: its ranges are too narrow"))?;
            out.push(weights(point));
        }
        Ok(out)
    }
}

fn number(v: &toml::Value) -> Option<f64> {
    v.as_float().or_else(|| v.as_integer().map(|i| i as f64))
}

/// A point drawn uniformly from the simplex: normalised exponentials (Dirichlet(1, …, 1)).
fn simplex_point(rng: &mut Rng) -> [f64; 5] {
    let mut e = [0.0; 5];
    for x in &mut e {
        let u = ((rng.next_u64() >> 11) as f64 + 0.5) / (1u64 << 53) as f64;
        *x = -u.ln();
    }
    let sum: f64 = e.iter().sum();
    e.map(|x| x / sum)
}

pub fn weights(w: [f64; 5]) -> Weights {
    Weights {
        trend_1h: w[0],
        mom_15m: w[1],
        mom_1h: w[2],
        vol_fit: w[3],
        liquidity: w[4],
    }
}

/// `w`'s shares of its sum.
pub fn shares(w: &Weights) -> [f64; 5] {
    let sum = w.sum();
    let mut out = [0.0; 5];
    for (o, (_, x)) in out.iter_mut().zip(w.named()) {
        *o = x / sum;
    }
    out
}
