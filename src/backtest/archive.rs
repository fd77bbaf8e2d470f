//! A history folder in the snapshot layout (`exchangeInfo.json`, `meta.json`,
//! `klines/{SYMBOL}_15m.csv`, optional `funding/{SYMBOL}.csv`), and the market as it was
//! at any moment `t`: only candles opened by `t`, and the 24h ticker and book derived from
//! the 96 15m candles closed by `t`, exactly as `replay_binance.py --at t` serves them.
//!
//! What a history cannot tell is derived or left out, and the report says so: the quote
//! volume is the files' `quote_volume` column, or Σ volume × (high + low + close)/3 where
//! a file has none;
//! the book is the replay tool's (a spread of 50/√(24h quote volume in millions) bps
//! around the last close), which is why a backtest skips the spread filter.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use crate::market::candles::{self, M15, WINDOW};
use crate::market::listing::{FirstCandle, RECORD_FIELD};
use crate::market::wire::{self, Book, SymbolInfo};
use crate::market::{Candle, KLINES_LIMIT, MarketView, Overview};
use rayon::prelude::*;

/// One symbol's 15m candles, oldest first, with their base-asset volumes.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Series {
    pub candles: Vec<Candle>,
    pub volumes: Vec<f64>,
    /// The exchange's quote volume of each candle, when the file has the column; empty
    /// otherwise (then it is derived: volume × (high + low + close)/3).
    pub quote_volumes: Vec<f64>,
}

impl Series {
    /// The quote volume of the candles `range`: the exchange's where the file has it,
    /// else Σ volume × (high + low + close)/3.
    pub fn quote_volume(&self, range: std::ops::Range<usize>) -> f64 {
        if !self.quote_volumes.is_empty() {
            return self.quote_volumes[range].iter().sum();
        }
        let mut qv = 0.0;
        for (c, v) in self.candles[range.clone()].iter().zip(&self.volumes[range]) {
            qv += v * (c.high + c.low + c.close) / 3.0;
        }
        qv
    }

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

/// `symbols` with the `firstCandle` their records in `body` say, where a record says its
/// first candle is the symbol's listing (an import's records, see
/// [`crate::history::import`]); the others are a recording's, judged by `onboardDate`.
fn with_first_candles(
    mut symbols: Vec<SymbolInfo>,
    body: &[u8],
) -> Result<Vec<SymbolInfo>, String> {
    let value: serde_json::Value = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    let mut firsts = HashMap::new();
    for record in value["symbols"].as_array().into_iter().flatten() {
        let (Some(symbol), Some(first)) = (record["symbol"].as_str(), record.get(RECORD_FIELD))
        else {
            continue;
        };
        let first = first.as_i64().ok_or_else(|| {
            format!(
                "{}: {RECORD_FIELD} {first} is not a time in ms",
                crate::output::printable(symbol)
            )
        })?;
        firsts.insert(symbol, first);
    }
    for info in &mut symbols {
        if let Some(&first) = firsts.get(info.symbol.as_str()) {
            info.first_candle = FirstCandle::At(first);
        }
    }
    Ok(symbols)
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
    /// What reading it warned of (a file with no candles), for `--json`.
    pub warnings: Vec<String>,
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
        let symbols = with_first_candles(exchange.symbols, &info).map_err(|e| in_info(&e))?;
        // the files are independent: read on every core, kept in name order
        let read: Vec<(String, PathBuf, Series)> = files(&at("klines"), "_15m.csv")?
            .into_par_iter()
            .map(|(symbol, path)| Ok((symbol, path.clone(), read_candles(&path)?)))
            .collect::<Result<_, ArchiveError>>()?;
        let mut warnings = Vec::new();
        let mut series = Vec::with_capacity(read.len());
        for (symbol, path, candles) in read {
            if candles.candles.is_empty() {
                // reported, not dropped silently
                let warning = format!(
                    "{} holds no candles; {} is left out",
                    path.display(),
                    crate::output::printable(&symbol)
                );
                crate::warn!("universe: warning: {warning}");
                warnings.push(warning);
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
            symbols: symbols.into(),
            weight_limit: exchange.weight_limit,
            series,
            funding,
            warnings,
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
            let qv = s.quote_volume(from..end);
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
        let derived = self
            .series
            .iter()
            .filter(|(_, s)| s.quote_volumes.is_empty())
            .count();
        let quote = match derived {
            0 => "24h quote volume from the files' quote_volume column".to_owned(),
            n if n == self.series.len() => "24h quote volume from candles".to_owned(),
            n => format!(
                "24h quote volume from the files' quote_volume column (from candles for the {n} without one)"
            ),
        };
        format!(
            "spread filter skipped (no order book in a history); {quote}; {}; no open positions, models or performance records",
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

mod files;
use files::files;
pub(crate) use files::{read_candles, read_funding};
