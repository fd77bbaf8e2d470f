//! The files of a history folder: `klines/{SYMBOL}_15m.csv`, whose rows are candles by
//! the rules every stored history keeps, with an optional `quote_volume` column, and
//! `funding/{SYMBOL}.csv`.

use std::path::{Path, PathBuf};

use super::{ArchiveError, Series};
use crate::market::Candle;

/// The header of a candle file, without and with the exchange's quote volume.
const HEADER: &str = "time,open,high,low,close,volume";
const HEADER_WITH_QUOTE: &str = "time,open,high,low,close,volume,quote_volume";

/// `(symbol, path)` of the files in `dir` ending with `suffix`.
pub(super) fn files(dir: &Path, suffix: &str) -> Result<Vec<(String, PathBuf)>, ArchiveError> {
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

/// `time,open,high,low,close,volume[,quote_volume]` rows, oldest first, strictly
/// increasing in time, each a candle by [`Candle::broken_rule`]'s rules. A file that breaks
/// them is refused with its line and what is wrong: a backtest never computes on a NaN, an
/// absurd price or a candle whose high is below its low.
pub(crate) fn read_candles(path: &Path) -> Result<Series, ArchiveError> {
    let text = std::fs::read_to_string(path).map_err(|e| ArchiveError::file(path, e))?;
    let with_quote = has_quote_volume(path, text.lines().next())?;
    // a year of 15m candles is 35,040 rows: sized once, not doubled into twice that
    let rows = text.lines().count().saturating_sub(1);
    let mut series = Series {
        candles: Vec::with_capacity(rows),
        volumes: Vec::with_capacity(rows),
        quote_volumes: Vec::with_capacity(if with_quote { rows } else { 0 }),
    };
    for (n, line) in text
        .lines()
        .enumerate()
        .skip(1)
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let at = |problem: &dyn std::fmt::Display| ArchiveError::at(path, n + 1, problem);
        let (candle, volume, quote) = row(line, with_quote).map_err(|why| at(&why))?;
        if series
            .candles
            .last()
            .is_some_and(|c| c.open_time >= candle.open_time)
        {
            return Err(at(
                &"times must increase (a repeated or out-of-order candle)",
            ));
        }
        series.candles.push(candle);
        series.volumes.push(volume);
        series.quote_volumes.extend(quote);
    }
    Ok(series)
}

/// One row: the candle, its volume and, `with_quote`, its quote volume; or what is wrong.
fn row(line: &str, with_quote: bool) -> Result<(Candle, f64, Option<f64>), String> {
    let header = if with_quote {
        HEADER_WITH_QUOTE
    } else {
        HEADER
    };
    let bad = || format!("expected {header}");
    let mut fields = line.split(',');
    let open_time = crate::clock::parse_utc(fields.next().ok_or_else(bad)?).ok_or_else(bad)?;
    let mut number = || -> Result<f64, String> {
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
        return Err(why);
    }
    let quote = if with_quote { Some(number()?) } else { None };
    if let Some(q) = quote.filter(|q| !(q.is_finite() && *q >= 0.0)) {
        return Err(format!("quote_volume {q:?} is not finite and non-negative"));
    }
    Ok((candle, volume, quote))
}

/// Whether a candle file's header has the `quote_volume` column (spaces and case aside);
/// a file with any other header is refused, as its columns cannot be known.
fn has_quote_volume(path: &Path, header: Option<&str>) -> Result<bool, ArchiveError> {
    let Some(header) = header.filter(|h| !h.trim().is_empty()) else {
        return Ok(false); // an empty file: no candles, said by the caller
    };
    let columns: Vec<String> = header
        .split(',')
        .map(|c| c.trim().to_ascii_lowercase())
        .collect();
    let is = |expected: &str| columns.iter().map(String::as_str).eq(expected.split(','));
    if is(HEADER) {
        Ok(false)
    } else if is(HEADER_WITH_QUOTE) {
        Ok(true)
    } else {
        Err(ArchiveError::at(
            path,
            1,
            &format!("expected the header {HEADER} or {HEADER_WITH_QUOTE}"),
        ))
    }
}

/// `time,rate` rows.
pub(crate) fn read_funding(path: &Path) -> Result<Vec<(i64, f64)>, ArchiveError> {
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
