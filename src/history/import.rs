//! `universe history import`: a history folder from Binance's public archive, delisted
//! symbols included, with the exchange's real quote volume.
//!
//! archive tree ([`tree`]) → each symbol's files read and judged ([`zipped`]) and merged
//! ([`merge`]) on every core → the folder's files, `exchangeInfo.json` ([`records`]),
//! `meta.json` and the [`manifest`].
//!
//! A bad file (checksum, torn zip, a row that breaks the candle rules, a repeated or
//! out-of-order time, two files that disagree) is named by file and line and not merged;
//! the rest is imported and the run then fails with the summary. A rerun adds what is new
//! and changes nothing else; a file Binance has since replaced is reported, and merged
//! again only with `--replace-changed`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use rayon::prelude::*;

use super::Gap;
use crate::market::candles::M15;

mod manifest;
mod merge;
mod records;
mod symbol;
mod tree;
mod zipped;

pub use merge::Conflict;
pub use records::Known;
pub use zipped::Refusal;

/// What to import.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Only these symbols (none: all).
    pub symbols: Vec<String>,
    /// `[from, to)` in ms, whole days.
    pub from: Option<i64>,
    pub to: Option<i64>,
    /// `--exchange-info`'s records.
    pub exchange_info: Known,
    pub replace_changed: bool,
}

/// What an import did, and what it did not.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct Imported {
    /// Symbols in the history folder now.
    pub symbols: usize,
    /// Archive files merged by this run.
    pub files: usize,
    /// Candles and funding rates this run added.
    pub candles: usize,
    pub funding_rates: usize,
    /// Files the manifest lists with the same checksum: already in.
    pub unchanged: usize,
    /// Files read whose times were milliseconds, and microseconds.
    pub millisecond_files: usize,
    pub microsecond_files: usize,
    /// Files merged with no `.CHECKSUM` beside them (the zip's own CRC still checked).
    pub unverified: Vec<String>,
    /// Symbols whose exchangeInfo record was derived or restated (see `exchangeInfo.json`).
    pub derived_records: Vec<String>,
    /// Delivery contracts, and folders that are not USDT perpetuals: not imported.
    pub delivery_contracts: Vec<String>,
    pub not_usdt_perpetuals: Vec<String>,
    /// Files whose names do not say what they hold: not read.
    pub unexpected: Vec<String>,
    /// Holes in the candles, kept as holes.
    pub gaps: Vec<Gap>,
    /// Files not merged, and why.
    pub refused: Vec<Refusal>,
    pub conflicts: Vec<Conflict>,
    /// Files Binance replaced since they were imported (another checksum), not merged
    /// again; and those merged again (`--replace-changed`).
    pub changed: Vec<String>,
    pub replaced: Vec<String>,
}

impl Imported {
    /// Files that were not imported as they are: the run fails when there is one.
    pub fn faults(&self) -> usize {
        self.refused.len() + self.conflicts.len() + self.changed.len()
    }
}

/// Why an import could not run at all.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// A bad argument: nothing was written.
    #[error("{0}")]
    Usage(String),
    /// The archive or the history folder could not be read or written.
    #[error("{0}")]
    Io(String),
}

/// Imports the archive at `archive` into the history folder `out`.
pub fn import(archive: &Path, out: &Path, options: &Options) -> Result<Imported, ImportError> {
    let usage = ImportError::Usage;
    let um = tree::um_root(archive).ok_or_else(|| {
        usage(format!(
            "{} holds no data/futures/um/monthly or daily folder of Binance's archive",
            archive.display()
        ))
    })?;
    let tree = tree::walk(&um).map_err(|e| ImportError::Io(format!("{}: {e}", um.display())))?;
    let files = wanted(&tree.files, options)?;
    let manifest = existing(out)?;
    let mut by_symbol: BTreeMap<&str, Vec<&tree::ArchiveFile>> = BTreeMap::new();
    for file in files {
        by_symbol.entry(&file.symbol).or_default().push(file);
    }
    for entry in manifest.files.values() {
        by_symbol.entry(&entry.symbol).or_default();
    }
    let done: Vec<symbol::Outcome> = by_symbol
        .into_par_iter()
        .map(|(symbol, files)| symbol::import(symbol, &files, &manifest, out, options))
        .collect::<Result<_, _>>()?;
    let mut imported = Imported {
        delivery_contracts: tree.delivery.into_iter().collect(),
        not_usdt_perpetuals: tree.not_usdt.into_iter().collect(),
        unexpected: tree.unexpected,
        ..Imported::default()
    };
    let mut manifest = manifest;
    let mut spans = BTreeMap::new();
    for outcome in done {
        outcome.add_to(&mut imported, &mut manifest, &mut spans);
    }
    let listed = listings(&tree.files, &manifest, &spans);
    finish(out, &spans, &listed, &manifest, options, &mut imported)?;
    Ok(imported)
}

/// The symbols whose first candle in the folder is their listing: the archive's first
/// 15m file of the symbol was merged from its start, and its first candle is after that
/// start. A first candle right at a file's start may be where the archive (or the user's
/// download of it) begins, not where the symbol began: BTCUSDT's files start in 2020-01,
/// months after its listing.
fn listings(
    files: &[tree::ArchiveFile],
    manifest: &manifest::Manifest,
    spans: &BTreeMap<String, (i64, i64)>,
) -> BTreeSet<String> {
    let mut starts: BTreeMap<&str, i64> = BTreeMap::new();
    for file in files.iter().filter(|f| f.kind == tree::Kind::Klines) {
        let start = starts.entry(&file.symbol).or_insert(file.period.0);
        *start = (*start).min(file.period.0);
    }
    spans
        .iter()
        .filter(|&(symbol, &(first, _))| {
            starts.get(symbol.as_str()).is_some_and(|&start| {
                first > start
                    && manifest
                        .of(symbol, tree::Kind::Klines)
                        .any(|(_, entry)| entry.from_ms <= start)
            })
        })
        .map(|(symbol, _)| symbol.clone())
        .collect()
}

/// The manifest of `out` (empty for a new folder); a folder with candles but no manifest
/// was not made by an import and is refused.
fn existing(out: &Path) -> Result<manifest::Manifest, ImportError> {
    if let Some(manifest) = manifest::Manifest::read(out).map_err(ImportError::Io)? {
        return Ok(manifest);
    }
    let has_candles =
        std::fs::read_dir(out.join("klines")).is_ok_and(|mut entries| entries.next().is_some());
    if has_candles {
        return Err(ImportError::Usage(format!(
            "--out {} holds a history without {}, not made by an import: import into a new folder",
            out.display(),
            manifest::FILE
        )));
    }
    // a new folder is marked an import's at once: a first run stopped half-way is
    // rerun over what it wrote, which its files then must agree with
    let manifest = manifest::Manifest::default();
    std::fs::create_dir_all(out)
        .map_err(|e| e.to_string())
        .and_then(|()| super::write_file(&out.join(manifest::FILE), &manifest.bytes()))
        .map_err(|e| ImportError::Io(format!("{}: {e}", out.display())))?;
    Ok(manifest)
}

/// The files `--symbols`, `--from` and `--to` ask for; an asked-for symbol the archive
/// does not have is a usage error.
fn wanted<'a>(
    files: &'a [tree::ArchiveFile],
    options: &Options,
) -> Result<Vec<&'a tree::ArchiveFile>, ImportError> {
    let missing: Vec<String> = options
        .symbols
        .iter()
        .filter(|s| !files.iter().any(|f| &f.symbol == *s))
        .map(|s| crate::output::printable(s).into_owned())
        .collect();
    if !missing.is_empty() {
        return Err(ImportError::Usage(format!(
            "--symbols: the archive has no 15m klines or funding of {}",
            missing.join(", ")
        )));
    }
    let (from, to) = (
        options.from.unwrap_or(i64::MIN),
        options.to.unwrap_or(i64::MAX),
    );
    Ok(files
        .iter()
        .filter(|f| options.symbols.is_empty() || options.symbols.contains(&f.symbol))
        .filter(|f| f.period.0 < to && from < f.period.1)
        .collect())
}

/// The folder's `exchangeInfo.json`, `meta.json` and, last, the manifest: a run stopped
/// before it is rerun whole, and what it merged agrees with itself.
fn finish(
    out: &Path,
    spans: &BTreeMap<String, (i64, i64)>,
    listed: &BTreeSet<String>,
    manifest: &manifest::Manifest,
    options: &Options,
    imported: &mut Imported,
) -> Result<(), ImportError> {
    let io = |e: String| ImportError::Io(e);
    let info_path = out.join("exchangeInfo.json");
    let before = match std::fs::read(&info_path) {
        Ok(body) => Known::parse(&body).map_err(|e| io(format!("{}: {e}", info_path.display())))?,
        Err(_) => Known::default(),
    };
    let (info, derived) = records::exchange_info(spans, listed, &options.exchange_info, &before);
    imported.derived_records = derived;
    imported.symbols = spans.len();
    let end = spans
        .values()
        .map(|&(_, last)| last + M15)
        .max()
        .unwrap_or(0);
    let mut body = serde_json::to_vec_pretty(&info).expect("exchangeInfo serialises");
    body.push(b'\n');
    std::fs::create_dir_all(out).map_err(|e| io(format!("{}: {e}", out.display())))?;
    super::write_file(&info_path, &body).map_err(io)?;
    let meta = format!("{{\"server_time_ms\":{end}}}\n");
    super::write_file(&out.join("meta.json"), meta.as_bytes()).map_err(io)?;
    super::write_file(&out.join(manifest::FILE), &manifest.bytes()).map_err(io)
}

#[cfg(test)]
mod tests;
