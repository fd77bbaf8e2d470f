//! Walk-forward folds: consecutive, rolling. Fold `i` trains on `train` steps, skips one
//! step (the embargo: the last training decision's outcome would reach into it), then
//! tests on the next `test` steps; the next fold starts `test` steps later, so the test
//! parts lie back to back.

use serde::Serialize;

/// How the steps are cut into folds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Folding {
    /// `n` folds, each training on as many steps as it tests.
    Count(usize),
    /// Training and test parts of so many steps.
    Windows { train: usize, test: usize },
}

/// One fold's steps (`[from, to)` of the schedule), the trial chosen on its training
/// part and every trial's score there.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Fold {
    pub train: (usize, usize),
    pub test: (usize, usize),
    pub chosen: usize,
    pub train_scores: Vec<f64>,
}

/// The steps of one fold, before any trial ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bounds {
    pub train: (usize, usize),
    pub test: (usize, usize),
}

/// Steps between a training part and its test part.
pub const EMBARGO: usize = 1;

impl Folding {
    /// The folds of `steps` steps; an error says why there are none.
    pub fn bounds(self, steps: usize) -> Result<Vec<Bounds>, String> {
        let (train, test, count) = match self {
            Self::Count(n) => {
                let n = n.max(1);
                let part = steps.saturating_sub(EMBARGO) / (n + 1);
                (part, part, Some(n))
            }
            Self::Windows { train, test } => (train, test, None),
        };
        if train < 2 || test < 2 {
            return Err(format!(
                "{steps} steps are too few for folds of {train} training and {test} test steps"
            ));
        }
        let mut folds = Vec::new();
        let mut start = 0;
        while start + train + EMBARGO + test <= steps && count.is_none_or(|n| folds.len() < n) {
            let test_from = start + train + EMBARGO;
            folds.push(Bounds {
                train: (start, start + train),
                test: (test_from, test_from + test),
            });
            start += test;
        }
        if folds.is_empty() {
            return Err(format!(
                "{steps} steps hold no fold of {train} training, {EMBARGO} embargo and {test} test steps"
            ));
        }
        Ok(folds)
    }
}

impl Fold {
    /// The fold with the best trial by `scores` (the first of equals: trial 0, the
    /// configured weights, wins a tie).
    pub fn chosen_from(bounds: Bounds, scores: Vec<f64>) -> Self {
        let chosen = (0..scores.len())
            .max_by(|&a, &b| scores[a].total_cmp(&scores[b]).then(b.cmp(&a)))
            .unwrap_or(0);
        Self {
            train: bounds.train,
            test: bounds.test,
            chosen,
            train_scores: scores,
        }
    }
}
