//! A history folder in the snapshot layout (`exchangeInfo.json`, `meta.json`,
//! `klines/{SYMBOL}_15m.csv`, optional `funding/{SYMBOL}.csv`), and the market as it was
//! at any moment `t`: only candles opened by `t`, and the 24h ticker and book derived from
//! the 96 15m candles closed by `t`, exactly as `replay_binance.py --at t` serves them.
//!
//! What a history cannot tell is derived or left out, and the report says so: the quote
//! volume is Σ volume × (high + low + close)/3 (the files have no quote volume column);
//! the book is the replay tool's (a spread of 50/√(24h quote volume in millions) bps
//! around the last close), which is why a backtest skips the spread filter.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use crate::market::candles::{self, M15, WINDOW};
use crate::market::wire::{self, Book, SymbolInfo};
use crate::market::{Candle, KLINES_LIMIT, MarketView, Overview};
use rayon::prelude::*;

/// One symbol's 15m candles, oldest first, with their base-asset volumes.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Series {
    pub candles: Vec<Candle>,
    pub volumes: Vec<f64>,
}

impl Series {
    /// The number of candles closed by `t` (open + 15m ≤ t).
    pub fn closed_by(&self, t: i64) -> usize {
        self.candles.partition_point(|c| c.open_time + M15 <= t)
    }

    /// The close of the candle that closed last by `t`, if it closed in the last 15m
    /// slot (a series that stopped has no price now).
    pub fn price_at(&self, t: i64) -> Option<f64> {
        let n = self.closed_by(t);
        let last = self.candles.get(n.checked_sub(1)?)?;
        (last.open_time == t.div_euclid(M15) * M15 - M15).then_some(last.close)
    }

    /// The close of the last candle closed by `t`, however old.
    pub fn last_price(&self, t: i64) -> Option<f64> {
        let n = self.closed_by(t);
        Some(self.candles.get(n.checked_sub(1)?)?.close)
    }
}

/// What is wrong with a history folder: the file, the line when one row is at fault, and
/// what.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{}: {problem}", path.display(), line.map_or_else(String::new, |l| format!(":{l}")))]
pub struct ArchiveError {
    pub path: PathBuf,
    /// 1-based.
    pub line: Option<usize>,
    pub problem: String,
}

impl ArchiveError {
    fn file(path: &Path, problem: impl std::fmt::Display) -> Self {
        Self {
            path: path.to_owned(),
            line: None,
            problem: problem.to_string(),
        }
    }

    fn at(path: &Path, line: usize, problem: &dyn std::fmt::Display) -> Self {
        Self {
            path: path.to_owned(),
            line: Some(line),
            problem: problem.to_string(),
        }
    }
}

/// A history folder, read into memory.
#[derive(Debug, Clone)]
pub struct Archive {
    pub dir: PathBuf,
    /// `meta.json`'s `server_time_ms`: the moment the recording ends.
    pub end: i64,
    pub symbols: std::sync::Arc<[SymbolInfo]>,
    pub weight_limit: Option<u32>,
    /// Each symbol's candles, in name order: a symbol's place here is its index in a
    /// backtest's outcomes ([`Archive::index_of`]).
    pub series: Vec<(String, Series)>,
    /// Funding rates by symbol: (time ms, rate), oldest first.
    pub funding: BTreeMap<String, Vec<(i64, f64)>>,
}

impl Archive {
    pub fn read(dir: &Path) -> Result<Self, ArchiveError> {
        let at = |name: &str| dir.join(name);
        let (meta_file, info_file) = (at("meta.json"), at("exchangeInfo.json"));
        let in_meta = |e: &dyn std::fmt::Display| ArchiveError::file(&meta_file, e);
        let in_info = |e: &dyn std::fmt::Display| ArchiveError::file(&info_file, e);
        let meta: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&meta_file).map_err(|e| in_meta(&e))?)
                .map_err(|e| in_meta(&e))?;
        let end = meta["server_time_ms"]
            .as_i64()
            .ok_or_else(|| in_meta(&"no server_time_ms"))?;
        let info = std::fs::read(&info_file).map_err(|e| in_info(&e))?;
        let exchange = wire::parse_exchange_info(&info).map_err(|e| in_info(&e))?;
        // the files are independent: read on every core, kept in name order
        let read: Vec<(String, PathBuf, Series)> = files(&at("klines"), "_15m.csv")?
            .into_par_iter()
            .map(|(symbol, path)| Ok((symbol, path.clone(), read_candles(&path)?)))
            .collect::<Result<_, ArchiveError>>()?;
        let mut series = Vec::with_capacity(read.len());
        for (symbol, path, candles) in read {
            if candles.candles.is_empty() {
                // reported, not dropped silently
                crate::warn!(
                    "universe: warning: {} holds no candles; {} is left out",
                    path.display(),
                    crate::output::printable(&symbol)
                );
                continue;
            }
            series.push((symbol, candles));
        }
        let mut funding = BTreeMap::new();
        if at("funding").is_dir() {
            for (symbol, path) in files(&at("funding"), ".csv")? {
                funding.insert(symbol, read_funding(&path)?);
            }
        }
        Ok(Self {
            dir: dir.to_owned(),
            end,
            symbols: exchange.symbols.into(),
            weight_limit: exchange.weight_limit,
            series,
            funding,
        })
    }

    /// The place of `symbol` in [`Archive::series`].
    pub fn index_of(&self, symbol: &str) -> Option<usize> {
        self.series
            .binary_search_by(|(name, _)| name.as_str().cmp(symbol))
            .ok()
    }

    /// The candles of `symbol`.
    #[cfg(test)]
    pub fn series_of(&self, symbol: &str) -> Option<&Series> {
        Some(&self.series[self.index_of(symbol)?].1)
    }

    /// The first moment every window of some symbol could be full: 96 hours after its
    /// first candle's hour.
    pub fn first_decision(&self) -> Option<i64> {
        let first = self
            .series
            .iter()
            .filter_map(|(_, s)| s.candles.first())
            .map(|c| c.open_time)
            .min()?;
        Some((first.div_euclid(candles::H1) + 1 + WINDOW as i64) * candles::H1)
    }

    /// The overview at `t`: exchangeInfo as recorded, the ticker and book of each symbol
    /// with a candle closed by `t`.
    pub fn overview_at(&self, t: i64) -> Overview {
        let mut quote_volumes = HashMap::new();
        let mut books = HashMap::new();
        for (symbol, s) in &self.series {
            let end = s.closed_by(t);
            if end == 0 {
                continue;
            }
            let from = end.saturating_sub(WINDOW);
            let mut qv = 0.0;
            for (c, v) in s.candles[from..end].iter().zip(&s.volumes[from..end]) {
                qv += v * (c.high + c.low + c.close) / 3.0;
            }
            // decisions read the quote volume (liquidity, the volume filter) as served; the
            // book only gives the spread, which a backtest does not filter on
            let qv = as_served(qv);
            let last = s.candles[end - 1].close;
            let qv_m = (qv / 1e6).max(1e-6);
            let half = last * (50.0 / qv_m.sqrt()).min(500.0) / 2e4;
            quote_volumes.insert(symbol.clone(), qv);
            books.insert(
                symbol.clone(),
                Book {
                    bid: last - half,
                    ask: last + half,
                },
            );
        }
        Overview {
            server_time: t,
            symbols: self.symbols.clone(),
            weight_limit: self.weight_limit,
            quote_volumes,
            books,
            conflicts: BTreeMap::new(),
        }
    }

    /// What `generate` reads at `t`: the overview, then the candles a klines request
    /// from [`candles::request_start`] returns. `generate` asks only for the symbols that
    /// pass the cheap checks; here every listed symbol's are at hand (a check less per
    /// step), and the decision reads only those of the symbols that pass.
    pub fn view_at(&self, t: i64) -> MarketView<'_> {
        let overview = self.overview_at(t);
        let start = candles::request_start(t);
        let candles = self
            .series
            .iter()
            .filter(|(symbol, _)| overview.quote_volumes.contains_key(symbol))
            .map(|(symbol, s)| {
                let lo = s.candles.partition_point(|k| k.open_time < start);
                let hi = s.candles.partition_point(|k| k.open_time <= t);
                let served = &s.candles[lo..hi.min(lo + KLINES_LIMIT as usize)];
                (symbol.as_str(), Ok(served))
            })
            .collect();
        MarketView {
            overview,
            candles,
            cache_hits: 0,
            usage: crate::market::Usage::default(),
        }
    }

    /// What the history cannot tell, and how the backtest treats it.
    pub fn limits(&self) -> String {
        format!(
            "spread filter skipped (no order book in a history); 24h quote volume from candles; {}; no open positions, models or performance records",
            if self.funding.is_empty() {
                "no funding rates (none in the history)"
            } else {
                "funding paid from funding/"
            }
        )
    }
}

/// A number as the replay tool serves it: printed with 8 decimals, then parsed.
fn as_served(x: f64) -> f64 {
    format!("{x:.8}").parse().unwrap_or(x)
}

/// `(symbol, path)` of the files in `dir` ending with `suffix`.
fn files(dir: &Path, suffix: &str) -> Result<Vec<(String, PathBuf)>, ArchiveError> {
    let entries = std::fs::read_dir(dir).map_err(|e| ArchiveError::file(dir, e))?;
    let mut found = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if let Some(symbol) = name.strip_suffix(suffix) {
            found.push((symbol.to_owned(), entry.path()));
        }
    }
    found.sort();
    Ok(found)
}

/// `time,open,high,low,close,volume` rows, oldest first, strictly increasing in time,
/// each a candle by [`Candle::broken_rule`]'s rules. A file that breaks them is refused
/// with its line and what is wrong: a backtest never computes on a NaN, an absurd price or
/// a candle whose high is below its low.
fn read_candles(path: &Path) -> Result<Series, ArchiveError> {
    let text = std::fs::read_to_string(path).map_err(|e| ArchiveError::file(path, e))?;
    // a year of 15m candles is 35,040 rows: sized once, not doubled into twice that
    let rows = text.lines().count().saturating_sub(1);
    let mut series = Series {
        candles: Vec::with_capacity(rows),
        volumes: Vec::with_capacity(rows),
    };
    for (n, line) in text
        .lines()
        .enumerate()
        .skip(1)
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let at = |problem: &dyn std::fmt::Display| ArchiveError::at(path, n + 1, problem);
        let bad = || at(&"expected time,open,high,low,close,volume");
        let mut fields = line.split(',');
        let open_time = crate::clock::parse_utc(fields.next().ok_or_else(bad)?).ok_or_else(bad)?;
        let mut number = || -> Result<f64, ArchiveError> {
            fields
                .next()
                .and_then(|f| f.trim().parse().ok())
                .ok_or_else(bad)
        };
        let candle = Candle {
            open_time,
            open: number()?,
            high: number()?,
            low: number()?,
            close: number()?,
        };
        let volume = number()?;
        if let Some(why) = candle.broken_rule(volume) {
            return Err(at(&why));
        }
        if series
            .candles
            .last()
            .is_some_and(|c| c.open_time >= open_time)
        {
            return Err(at(
                &"times must increase (a repeated or out-of-order candle)",
            ));
        }
        series.candles.push(candle);
        series.volumes.push(volume);
    }
    Ok(series)
}

/// `time,rate` rows.
fn read_funding(path: &Path) -> Result<Vec<(i64, f64)>, ArchiveError> {
    let text = std::fs::read_to_string(path).map_err(|e| ArchiveError::file(path, e))?;
    text.lines()
        .enumerate()
        .skip(1)
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(n, line)| {
            let (time, rate) = line.split_once(',').unwrap_or((line, ""));
            match (crate::clock::parse_utc(time), rate.trim().parse::<f64>()) {
                (Some(t), Ok(r)) if r.is_finite() => Ok((t, r)),
                _ => Err(ArchiveError::at(path, n + 1, &"expected time,rate")),
            }
        })
        .collect()
}
