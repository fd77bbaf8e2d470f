//! Leverage by volatility: the calmer the symbol, the more leverage.

/// Steps of `(atr_pct_15m above, leverage)`, thresholds strictly decreasing, and the
/// leverage of anything calmer than the last step.
#[derive(Debug, Clone, PartialEq)]
pub struct LeverageTable {
    pub steps: Vec<(f64, u32)>,
    pub calm: u32,
}

impl Default for LeverageTable {
    /// `> 3.0 → 6; > 2.0 → 8; > 1.5 → 10; > 1.0 → 12; else 15`.
    fn default() -> Self {
        Self {
            steps: vec![(3.0, 6), (2.0, 8), (1.5, 10), (1.0, 12)],
            calm: 15,
        }
    }
}

impl LeverageTable {
    /// The leverage of the first step whose threshold `atr_pct_15m` exceeds.
    pub fn leverage(&self, atr_pct_15m: f64) -> u32 {
        self.steps
            .iter()
            .find(|(above, _)| atr_pct_15m > *above)
            .map_or(self.calm, |&(_, leverage)| leverage)
    }

    /// The lowest and highest leverage the table can give.
    pub fn range(&self) -> (u32, u32) {
        let all = self.steps.iter().map(|&(_, l)| l).chain([self.calm]);
        (
            all.clone().min().unwrap_or(self.calm),
            all.max().unwrap_or(self.calm),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_are_strict() {
        let table = LeverageTable::default();
        let cases = [
            (3.01, 6),
            (3.0, 8),
            (2.0, 10),
            (1.5, 12),
            (1.0, 15),
            (0.2, 15),
        ];
        for (atr, expected) in cases {
            assert_eq!(table.leverage(atr), expected, "atr {atr}");
        }
        assert_eq!(table.range(), (6, 15));
    }
}
