//! The null hypothesis: a universe drawn at random from the eligible symbols, with the
//! strategy's own churn. It starts from `n` random eligible symbols; at each step it drops
//! the members no longer eligible, swaps as many random members for random eligible
//! outsiders as the strategy replaced that step, and fills up to `n` at random; it holds
//! them in the follow direction like the strategy. If the selection has skill, the
//! strategy's curve stands above this band.

use serde::Serialize;

use super::{Eligible, Step};
use rayon::prelude::*;

use super::outcome::{self, Costs, Holdings, Moves};

/// The random band: mean and 5th/95th percentiles of the value across draws, per step.
#[derive(Debug, Clone, Serialize)]
pub struct Band {
    pub draws: usize,
    pub mean: Vec<f64>,
    pub p05: Vec<f64>,
    pub p95: Vec<f64>,
    /// Each draw's total return.
    #[serde(skip)]
    pub totals: Vec<f64>,
}

/// `SplitMix64`: a small, seeded, portable generator (the draws repeat across machines).
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n` > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
}

/// The holdings of one random draw at each step. A step that failed closed changes
/// nothing, like the strategy's standing universe, until that universe expires.
#[cfg(test)]
pub fn draw(steps: &[Step], n: usize, rng: &mut Rng) -> Vec<Holdings> {
    draw_on(steps, &Directions::of(steps), n, rng)
}

/// Each step's eligible symbols by index: 0 when not eligible, else the follow direction.
/// Shared by every draw.
#[derive(Debug)]
pub struct Directions(Vec<Vec<i8>>);

impl Directions {
    pub fn of(steps: &[Step]) -> Self {
        let symbols = steps
            .iter()
            .flat_map(|s| s.eligible.iter().map(|e| e.index() + 1))
            .max()
            .unwrap_or(0);
        Self(
            steps
                .iter()
                .map(|step| {
                    let mut direction = vec![0; symbols];
                    for e in &step.eligible {
                        direction[e.index()] = e.direction;
                    }
                    direction
                })
                .collect(),
        )
    }
}

fn draw_on(steps: &[Step], directions: &Directions, n: usize, rng: &mut Rng) -> Vec<Holdings> {
    let mut members: Vec<usize> = Vec::new();
    let mut held = Holdings::new();
    steps
        .iter()
        .zip(&directions.0)
        .map(|(step, direction)| {
            if step.failed.is_some() {
                if step.universe.is_empty() {
                    members.clear();
                    held.clear();
                }
                return held.clone();
            }
            members.retain(|&m| direction.get(m).is_some_and(|d| *d != 0));
            for _ in 0..step.replacements.min(members.len()) {
                let out = rng.below(members.len());
                members.swap_remove(out);
                add_one(&mut members, &step.eligible, rng);
            }
            while members.len() < n && add_one(&mut members, &step.eligible, rng) {}
            held = outcome::equal(members.iter().map(|&m| (m, direction[m])));
            held.clone()
        })
        .collect()
}

/// Adds a random eligible symbol that is not a member; false when there is none.
fn add_one(members: &mut Vec<usize>, eligible: &[Eligible], rng: &mut Rng) -> bool {
    let outside: Vec<usize> = eligible
        .iter()
        .map(|e| e.index())
        .filter(|s| !members.contains(s))
        .collect();
    if outside.is_empty() {
        return false;
    }
    members.push(outside[rng.below(outside.len())]);
    true
}

/// `draws` seeded random universes of size `n`, their values at each step.
pub fn band(moves: &Moves, steps: &[Step], n: usize, draws: usize, costs: Costs) -> Band {
    let directions = Directions::of(steps);
    let curves: Vec<Vec<f64>> = (0..draws)
        .into_par_iter()
        .map(|seed| {
            let held = draw_on(steps, &directions, n, &mut Rng::new(seed as u64));
            outcome::curve("random", outcome::returns(moves, &held, costs)).values
        })
        .collect();
    let at = |k: usize| -> Vec<f64> {
        let mut column: Vec<f64> = curves.iter().map(|c| c[k]).collect();
        column.sort_by(f64::total_cmp);
        column
    };
    let len = curves.first().map_or(0, Vec::len);
    let quantile =
        |column: &[f64], q: f64| column[((column.len() - 1) as f64 * q).round() as usize];
    let columns: Vec<Vec<f64>> = (0..len).map(at).collect();
    Band {
        draws,
        mean: columns
            .iter()
            .map(|c| c.iter().sum::<f64>() / c.len() as f64)
            .collect(),
        p05: columns.iter().map(|c| quantile(c, 0.05)).collect(),
        p95: columns.iter().map(|c| quantile(c, 0.95)).collect(),
        totals: curves
            .iter()
            .map(|c| c.last().copied().unwrap_or(1.0) - 1.0)
            .collect(),
    }
}
