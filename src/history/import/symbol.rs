//! One symbol's import: what its history file holds, each of its archive files taken or
//! passed over, and the history files written again only if something was added.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use super::manifest::{Entry, Manifest};
use super::merge::{Conflict, Coverage, Merged, gaps};
use super::tree::{ArchiveFile, Kind};
use super::zipped::{self, Refusal, Rows};
use super::{ImportError, Imported, Options};
use crate::history::Gap;

/// What one symbol's import did.
#[derive(Debug, Default)]
pub struct Outcome {
    symbol: String,
    /// Files merged, as the manifest will list them.
    entries: Vec<(String, Entry)>,
    candles: usize,
    funding_rates: usize,
    unchanged: usize,
    millis: usize,
    micros: usize,
    unverified: Vec<String>,
    refused: Vec<Refusal>,
    conflicts: Vec<Conflict>,
    changed: Vec<String>,
    replaced: Vec<String>,
    /// The first and last candle of the history's file, if it has any.
    span: Option<(i64, i64)>,
    gaps: Vec<Gap>,
}

impl Outcome {
    /// Adds this symbol's outcome to the run's.
    pub fn add_to(
        self,
        imported: &mut Imported,
        manifest: &mut Manifest,
        spans: &mut BTreeMap<String, (i64, i64)>,
    ) {
        imported.files += self.entries.len();
        manifest.files.extend(self.entries);
        imported.candles += self.candles;
        imported.funding_rates += self.funding_rates;
        imported.unchanged += self.unchanged;
        imported.millisecond_files += self.millis;
        imported.microsecond_files += self.micros;
        imported.unverified.extend(self.unverified);
        imported.refused.extend(self.refused);
        imported.conflicts.extend(self.conflicts);
        imported.changed.extend(self.changed);
        imported.replaced.extend(self.replaced);
        imported.gaps.extend(self.gaps);
        if let Some(span) = self.span {
            spans.insert(self.symbol, span);
        }
    }
}

/// Imports `files` (one symbol's, in the tree's order) into `out`.
pub fn import(
    symbol: &str,
    files: &[&ArchiveFile],
    manifest: &Manifest,
    out: &Path,
    options: &Options,
) -> Result<Outcome, ImportError> {
    let (klines_path, funding_path) = paths(out, symbol);
    let covered = |kind| coverage(manifest, symbol, kind);
    let mut klines = Merged::new(read_klines(&klines_path)?, covered(Kind::Klines));
    let mut funding = Merged::new(read_funding(&funding_path)?, covered(Kind::Funding));
    let mut outcome = Outcome {
        symbol: symbol.to_owned(),
        ..Outcome::default()
    };
    let (mut klines_changed, mut funding_changed) = (false, false);
    let (from, to) = (
        options.from.unwrap_or(i64::MIN),
        options.to.unwrap_or(i64::MAX),
    );
    for file in files {
        let take = Take {
            file,
            wanted: (file.period.0.max(from), file.period.1.min(to)),
            entry: manifest.files.get(&file.name),
            replace_changed: options.replace_changed,
            outcome: &mut outcome,
        };
        match file.kind {
            Kind::Klines => {
                let (changed, added) = take.into(&mut klines, |r| match r {
                    Rows::Klines(rows) => rows,
                    Rows::Funding(_) => Vec::new(),
                });
                klines_changed |= changed;
                outcome.candles += added;
            }
            Kind::Funding => {
                let (changed, added) = take.into(&mut funding, |r| match r {
                    Rows::Funding(rows) => rows,
                    Rows::Klines(_) => Vec::new(),
                });
                funding_changed |= changed;
                outcome.funding_rates += added;
            }
        }
    }
    let io = |e: std::io::Error| ImportError::Io(format!("{}: {e}", out.display()));
    if klines_changed {
        write_klines(&klines_path, &klines).map_err(io)?;
    }
    if funding_changed {
        write_funding(&funding_path, &funding).map_err(io)?;
    }
    outcome.describe(&klines);
    Ok(outcome)
}

/// What the manifest says `symbol`'s files of `kind` covered.
fn coverage(manifest: &Manifest, symbol: &str, kind: Kind) -> Vec<Coverage> {
    manifest
        .of(symbol, kind)
        .map(|(name, e)| Coverage {
            from: e.from_ms,
            to: e.to_ms,
            file: name.clone(),
        })
        .collect()
}

impl Outcome {
    /// The span and gaps of the symbol's candles.
    fn describe(&mut self, klines: &Merged<[f64; 6]>) {
        let times = || klines.rows.keys().copied();
        self.span = times().next().zip(times().next_back());
        self.gaps = gaps(times())
            .into_iter()
            .map(|(from_ms, to_ms, missing)| Gap {
                symbol: self.symbol.clone(),
                from_ms,
                to_ms,
                missing,
            })
            .collect();
    }
}

/// One archive file to take (read, judge, merge) or pass over.
struct Take<'a> {
    file: &'a ArchiveFile,
    /// The part of its period asked for.
    wanted: (i64, i64),
    /// What the manifest says of it, if it was merged before.
    entry: Option<&'a Entry>,
    replace_changed: bool,
    outcome: &'a mut Outcome,
}

impl Take<'_> {
    /// Takes the file into `merged`: whether `merged` changed, and the rows it added.
    fn into<T: Copy + PartialEq + std::fmt::Debug>(
        mut self,
        merged: &mut Merged<T>,
        rows_of: impl Fn(Rows) -> Vec<(i64, T)>,
    ) -> (bool, usize) {
        if self.known_by_checksum() {
            return (false, 0);
        }
        let opened = match zipped::open(self.file) {
            Ok(opened) => opened,
            Err(refusal) => {
                self.outcome.refused.push(refusal);
                return (false, 0);
            }
        };
        let name = &self.file.name;
        let Some(forgot) = self.against_manifest(&opened.sha256, merged) else {
            return (false, 0);
        };
        if opened.micros {
            self.outcome.micros += 1;
        } else {
            self.outcome.millis += 1;
        }
        let verified = opened.verified;
        let sha256 = opened.sha256.clone();
        let rows = rows_of(opened.rows);
        match merged.merge(name, self.wanted, &rows) {
            Ok(added) => {
                if !verified {
                    self.outcome.unverified.push(name.clone());
                }
                let (from, to) = self.wanted;
                let entry = Entry {
                    symbol: self.file.symbol.clone(),
                    kind: self.file.kind,
                    sha256,
                    rows: rows.iter().filter(|r| (from..to).contains(&r.0)).count(),
                    from_ms: from,
                    to_ms: to,
                };
                self.outcome.entries.push((name.clone(), entry));
                (true, added)
            }
            Err(conflict) => {
                self.outcome.conflicts.push(conflict);
                (forgot, 0)
            }
        }
    }

    /// The file as the manifest knows it: `None` when it is to be passed over (already
    /// in, or replaced by Binance and not to be merged again), else whether what it
    /// brought before was forgotten to be replaced. A file merged before over less time
    /// is read again over both.
    fn against_manifest<T: Copy + PartialEq + std::fmt::Debug>(
        &mut self,
        sha256: &str,
        merged: &mut Merged<T>,
    ) -> Option<bool> {
        let Some(e) = self.entry else {
            return Some(false);
        };
        let name = &self.file.name;
        if sha256 != e.sha256 {
            if !self.replace_changed {
                self.outcome.changed.push(name.clone());
                return None;
            }
            merged.forget(name);
            self.outcome.replaced.push(name.clone());
            return Some(true);
        }
        if self.covers(e) {
            self.outcome.unchanged += 1;
            return None;
        }
        self.wanted = (self.wanted.0.min(e.from_ms), self.wanted.1.max(e.to_ms));
        Some(false)
    }

    /// Whether the manifest lists the file as merged, over what is asked, with the
    /// checksum its `.CHECKSUM` still says: then its zip is not read again.
    fn known_by_checksum(&mut self) -> bool {
        let Some(e) = self.entry else { return false };
        match zipped::recorded_checksum(self.file) {
            Ok(Some(sum)) if sum == e.sha256 && self.covers(e) => {
                self.outcome.unchanged += 1;
                true
            }
            Err(refusal) => {
                self.outcome.refused.push(refusal);
                true
            }
            _ => false,
        }
    }

    fn covers(&self, e: &Entry) -> bool {
        e.from_ms <= self.wanted.0 && self.wanted.1 <= e.to_ms
    }
}

fn paths(out: &Path, symbol: &str) -> (PathBuf, PathBuf) {
    (
        out.join("klines").join(format!("{symbol}_15m.csv")),
        out.join("funding").join(format!("{symbol}.csv")),
    )
}

/// The candles of a history file an import wrote (none when there is no file).
fn read_klines(path: &Path) -> Result<Vec<(i64, [f64; 6])>, ImportError> {
    if !path.exists() {
        return Ok(Vec::new());
    }
    let series =
        crate::backtest::archive::read_candles(path).map_err(|e| ImportError::Io(e.to_string()))?;
    if series.quote_volumes.len() != series.candles.len() {
        return Err(ImportError::Usage(format!(
            "{} has no quote_volume column: it was not written by an import; import into a new folder",
            path.display()
        )));
    }
    Ok(series
        .candles
        .iter()
        .zip(&series.volumes)
        .zip(&series.quote_volumes)
        .map(|((c, &v), &q)| (c.open_time, [c.open, c.high, c.low, c.close, v, q]))
        .collect())
}

fn read_funding(path: &Path) -> Result<Vec<(i64, f64)>, ImportError> {
    if !path.exists() {
        return Ok(Vec::new());
    }
    crate::backtest::archive::read_funding(path).map_err(|e| ImportError::Io(e.to_string()))
}

/// The candles as a history file, `time,open,high,low,close,volume,quote_volume`; each
/// number in the shortest form that reads back as the same value.
fn write_klines(path: &Path, merged: &Merged<[f64; 6]>) -> std::io::Result<()> {
    let mut text = String::with_capacity(merged.rows.len() * 80 + 64);
    text.push_str("time,open,high,low,close,volume,quote_volume\n");
    for (&t, values) in &merged.rows {
        text.push_str(&crate::history::line_time(t));
        for v in values {
            let _ = write!(text, ",{v}");
        }
        text.push('\n');
    }
    write(path, &text)
}

fn write_funding(path: &Path, merged: &Merged<f64>) -> std::io::Result<()> {
    let mut text = String::from("time,rate\n");
    for (&t, rate) in &merged.rows {
        let _ = writeln!(text, "{},{rate}", crate::history::line_time(t));
    }
    write(path, &text)
}

fn write(path: &Path, text: &str) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    crate::history::write_file(path, text.as_bytes()).map_err(std::io::Error::other)
}
