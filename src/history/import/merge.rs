//! One symbol's rows as they are merged, file after file, and what each merged file
//! covers.
//!
//! A file's rows are merged whole or not at all. Where a file covers a time another file
//! (merged in this run or an earlier one) already covers, the two must agree exactly: the
//! same candles, the same values. A daily file inside a month whose monthly file was
//! merged so adds nothing, and one that disagrees is reported with the file it disagrees
//! with and left out; a daily file of a month with no monthly file fills it.

use std::collections::BTreeMap;

/// The time a merged file covers, `[from, to)` in ms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Coverage {
    pub from: i64,
    pub to: i64,
    pub file: String,
}

/// Two files that disagree about a time both cover; `file` was not merged.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Conflict {
    pub file: String,
    pub with: String,
    /// The first time they disagree about (ms).
    pub at_ms: i64,
    pub problem: String,
}

impl std::fmt::Display for Conflict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} and {} disagree at {}: {}; {} was not merged",
            self.file,
            self.with,
            crate::clock::epoch(self.at_ms.div_euclid(1000)),
            self.problem,
            self.file
        )
    }
}

/// Rows by time, and the files they came from.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Merged<T> {
    pub rows: BTreeMap<i64, T>,
    pub covered: Vec<Coverage>,
}

impl<T: Copy + PartialEq + std::fmt::Debug> Merged<T> {
    /// What was there before this run: the history's rows and what the manifest says
    /// each file covered.
    pub fn new(rows: impl IntoIterator<Item = (i64, T)>, covered: Vec<Coverage>) -> Self {
        Self {
            rows: rows.into_iter().collect(),
            covered,
        }
    }

    /// Forgets what `file` brought (it is to be replaced by Binance's newer copy).
    pub fn forget(&mut self, file: &str) {
        let (gone, kept): (Vec<Coverage>, Vec<Coverage>) =
            self.covered.drain(..).partition(|c| c.file == file);
        self.covered = kept;
        for c in gone {
            let times: Vec<i64> = self.rows.range(c.from..c.to).map(|(t, _)| *t).collect();
            for t in times {
                self.rows.remove(&t);
            }
        }
    }

    /// Merges `rows` (sorted by time) of `file`, which covers `[from, to)`: checked
    /// against everything already covered first, so a conflict leaves nothing behind.
    /// Returns the number of rows added.
    pub fn merge(
        &mut self,
        file: &str,
        (from, to): (i64, i64),
        rows: &[(i64, T)],
    ) -> Result<usize, Conflict> {
        let rows = &rows[rows.partition_point(|r| r.0 < from)..rows.partition_point(|r| r.0 < to)];
        for c in self.covered.iter().filter(|c| c.from < to && from < c.to) {
            let (lo, hi) = (c.from.max(from), c.to.min(to));
            let mine =
                &rows[rows.partition_point(|r| r.0 < lo)..rows.partition_point(|r| r.0 < hi)];
            let theirs = self.rows.range(lo..hi).map(|(t, v)| (*t, *v));
            if let Some((at_ms, problem)) = first_difference(mine.iter().copied(), theirs) {
                return Err(Conflict {
                    file: file.to_owned(),
                    with: c.file.clone(),
                    at_ms,
                    problem,
                });
            }
        }
        // rows of the history that no merged file covers (none in a history only
        // imports wrote) must agree too
        for &(t, v) in rows {
            if let Some(had) = self.rows.get(&t).filter(|had| **had != v) {
                return Err(Conflict {
                    file: file.to_owned(),
                    with: "the history folder".to_owned(),
                    at_ms: t,
                    problem: format!("{v:?} against {had:?}"),
                });
            }
        }
        let before = self.rows.len();
        self.rows.extend(rows.iter().copied());
        self.covered.push(Coverage {
            from,
            to,
            file: file.to_owned(),
        });
        Ok(self.rows.len() - before)
    }
}

/// Where two sorted sequences of rows first differ: a time one has and the other lacks,
/// or other values.
fn first_difference<T: PartialEq + std::fmt::Debug>(
    mut mine: impl Iterator<Item = (i64, T)>,
    mut theirs: impl Iterator<Item = (i64, T)>,
) -> Option<(i64, String)> {
    loop {
        match (mine.next(), theirs.next()) {
            (None, None) => return None,
            (Some((t, _)), None) => return Some((t, "only the first has this row".into())),
            (None, Some((t, _))) => return Some((t, "only the second has this row".into())),
            (Some((a, _)), Some((b, _))) if a != b => {
                let (t, who) = if a < b { (a, "first") } else { (b, "second") };
                return Some((t, format!("only the {who} has this row")));
            }
            (Some((t, x)), Some((_, y))) if x != y => {
                return Some((t, format!("{x:?} against {y:?}")));
            }
            _ => {}
        }
    }
}

/// Holes in a series of 15m open times: (first missing, next present, how many).
pub fn gaps(times: impl IntoIterator<Item = i64>) -> Vec<(i64, i64, i64)> {
    let m15 = crate::market::candles::M15;
    let mut gaps = Vec::new();
    let mut previous: Option<i64> = None;
    for t in times {
        if let Some(p) = previous.filter(|&p| t > p + m15) {
            gaps.push((p + m15, t, (t - p) / m15 - 1));
        }
        previous = Some(t);
    }
    gaps
}

#[cfg(test)]
mod tests {
    use super::*;

    const M: i64 = 900_000;

    fn rows(times: &[i64], value: f64) -> Vec<(i64, f64)> {
        times.iter().map(|&t| (t * M, value)).collect()
    }

    #[test]
    fn a_file_that_agrees_adds_only_what_is_new() {
        let mut merged = Merged::default();
        assert_eq!(
            merged.merge("month", (0, 10 * M), &rows(&[0, 1, 2, 3], 1.0)),
            Ok(4)
        );
        // a daily file over the same time, the same rows: nothing new
        assert_eq!(
            merged.merge("day", (0, 4 * M), &rows(&[0, 1, 2, 3], 1.0)),
            Ok(0)
        );
        // a daily file of time no file covers fills it
        assert_eq!(
            merged.merge("day 2", (10 * M, 14 * M), &rows(&[10, 11], 1.0)),
            Ok(2)
        );
        assert_eq!(merged.rows.len(), 6);
    }

    #[test]
    fn a_file_that_disagrees_is_named_with_the_other_and_leaves_nothing() {
        let mut merged = Merged::default();
        merged
            .merge("month", (0, 10 * M), &rows(&[0, 1, 2, 3], 1.0))
            .unwrap();
        let before = merged.clone();
        let other = merged
            .merge("day", (0, 5 * M), &rows(&[0, 1, 2, 3], 2.0))
            .unwrap_err();
        assert_eq!((other.with.as_str(), other.at_ms), ("month", 0));
        assert_eq!(other.problem, "2.0 against 1.0");
        // the daily file has a candle the monthly one lacks: a disagreement too
        let extra = merged
            .merge("day", (0, 5 * M), &rows(&[0, 1, 2, 3, 4], 1.0))
            .unwrap_err();
        assert_eq!(
            (extra.at_ms, extra.problem.as_str()),
            (4 * M, "only the first has this row")
        );
        let fewer = merged
            .merge("day", (0, 5 * M), &rows(&[0, 2, 3], 1.0))
            .unwrap_err();
        assert_eq!(fewer.at_ms, M);
        assert_eq!(merged, before);
    }

    #[test]
    fn forgetting_a_file_drops_its_rows_and_its_cover() {
        let mut merged = Merged::default();
        merged
            .merge("jan", (0, 4 * M), &rows(&[0, 1, 2, 3], 1.0))
            .unwrap();
        merged
            .merge("feb", (4 * M, 8 * M), &rows(&[4, 5], 1.0))
            .unwrap();
        merged.forget("jan");
        assert_eq!(
            merged.rows.keys().copied().collect::<Vec<_>>(),
            [4 * M, 5 * M]
        );
        assert_eq!(merged.merge("jan", (0, 4 * M), &rows(&[0, 1], 3.0)), Ok(2));
    }

    #[test]
    fn gaps_are_the_missing_runs() {
        assert_eq!(
            gaps([0, M, 4 * M, 5 * M, 7 * M]),
            [(2 * M, 4 * M, 2), (6 * M, 7 * M, 1)]
        );
        assert!(gaps([0, M]).is_empty());
    }
}
