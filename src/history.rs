//! `universe history fetch`: closed 15m candles of every USDT perpetual in exchangeInfo,
//! from the klines endpoint (`startTime`, `limit` 1500, weight 10), into a history folder
//! in the snapshot layout `universe backtest` reads (`exchangeInfo.json`, `meta.json`,
//! `klines/{SYMBOL}_15m.csv`, with the exchange's `quote_volume` column, which a backtest
//! then uses instead of deriving it).
//!
//! Resumable: each symbol's file is its own progress. A rerun reads where each file ends
//! (a line torn by a stop is cut off) and asks only for what follows. Every request passes
//! the client's weight gate, so a fetch stays within `--weight-budget`.
//!
//! A symbol is fetched page after page until its last closed candle: a short page is not
//! the end (the exchange may cut one short), only a page with nothing new is. Rows are
//! written only if `backtest` would read them: each a candle by [`Candle::broken_rule`]'s
//! rules, times strictly increasing; a row that breaks them stops the fetch, naming the
//! symbol and the time. Gaps the exchange really has (maintenance) are kept as gaps and
//! reported.

use std::io::Write as _;
use std::path::Path;

use crate::market::candles::M15;
use crate::market::{Candle, Endpoint, Source, wire};
use crate::progress::Progress;

pub mod import;

/// Rows per klines request: Binance's maximum, weight 10.
pub const LIMIT: u32 = 1500;

/// What a fetch did.
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Fetched {
    pub symbols: usize,
    pub requests: usize,
    pub candles: usize,
    /// Symbols whose files are complete so far.
    pub done: usize,
    /// Holes in the exchange's own series, kept as holes.
    pub gaps: Vec<Gap>,
    /// Symbols whose fetch stopped at a row `backtest` would refuse: the symbol, the
    /// time and what is wrong. Their files keep what came before.
    pub refused: Vec<String>,
}

/// Candles the exchange does not have between two it has.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Gap {
    pub symbol: String,
    /// The open time of the first missing candle and of the next one there is (ms).
    pub from_ms: i64,
    pub to_ms: i64,
    pub missing: i64,
}

/// Why a fetch stopped.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// The exchange did not answer, or not with klines.
    #[error("{0}")]
    Market(String),
    /// A row that breaks the candle rules: that symbol stops there, the others go on.
    #[error("{0}")]
    Refused(String),
    /// The history folder could not be written (a full disk, say).
    #[error("{0}")]
    Write(String),
    /// `--symbols` named symbols the exchange does not list as USDT perpetuals.
    #[error("not USDT perpetuals the exchange lists: {}", .0.join(", "))]
    Unknown(Vec<String>),
}

/// Fetches `[from, to)` (ms) of `symbols` (none: every USDT perpetual) into `out`.
pub fn fetch(
    source: &dyn Source,
    out: &Path,
    from: i64,
    to: Option<i64>,
    symbols: &[String],
    progress: &Progress,
    status: &std::sync::Mutex<Fetched>,
) -> Result<Fetched, FetchError> {
    let market = |e: String| FetchError::Market(e);
    let body = source
        .fetch(&Endpoint::Time)
        .map_err(|e| market(e.to_string()))?;
    let server_time = wire::parse_time(&body).map_err(market)?;
    let to = to.unwrap_or(server_time).min(server_time).div_euclid(M15) * M15;
    let info = source
        .fetch(&Endpoint::ExchangeInfo)
        .map_err(|e| market(e.to_string()))?;
    let listed = wire::parse_exchange_info(&info).map_err(market)?;
    let wanted: Vec<String> = listed
        .symbols
        .iter()
        .filter(|s| s.contract_type == "PERPETUAL" && s.quote_asset == "USDT")
        .filter(|s| symbols.is_empty() || symbols.contains(&s.symbol))
        .filter(|s| crate::select::eligibility::is_symbol_name(&s.symbol))
        .map(|s| s.symbol.clone())
        .collect();
    let unknown: Vec<String> = symbols
        .iter()
        .filter(|s| !wanted.contains(s))
        .map(|s| crate::output::printable(s).into_owned())
        .collect();
    if !unknown.is_empty() {
        return Err(FetchError::Unknown(unknown));
    }
    let write = |e: String| FetchError::Write(e);
    std::fs::create_dir_all(out.join("klines"))
        .map_err(|e| write(format!("{}: {e}", out.display())))?;
    write_file(&out.join("exchangeInfo.json"), &info).map_err(write)?;
    write_file(
        &out.join("meta.json"),
        format!("{{\"server_time_ms\":{to}}}\n").as_bytes(),
    )
    .map_err(write)?;
    status.lock().expect("status").symbols = wanted.len();
    progress.start(wanted.len() as u64);
    for symbol in &wanted {
        let file = out.join("klines").join(format!("{symbol}_15m.csv"));
        match fetch_symbol(source, symbol, &file, (from, to), status) {
            Err(FetchError::Refused(why)) => status.lock().expect("status").refused.push(why),
            other => other?,
        }
        status.lock().expect("status").done += 1;
        progress.advance(source.usage().weight);
    }
    progress.finish();
    Ok(status.lock().expect("status").clone())
}

/// One symbol's candles from where its file ends (or `from`) to `to`: page after page
/// until a page brings nothing new.
fn fetch_symbol(
    source: &dyn Source,
    symbol: &str,
    file: &Path,
    (from, to): (i64, i64),
    status: &std::sync::Mutex<Fetched>,
) -> Result<(), FetchError> {
    let write = |e: String| FetchError::Write(format!("{}: {e}", file.display()));
    let last = resume_at(file).map_err(FetchError::Write)?;
    let mut cursor = last.map_or(from, |last| last + M15);
    let mut csv = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(file)
        .map_err(|e| write(e.to_string()))?;
    if csv.metadata().map_err(|e| write(e.to_string()))?.len() == 0 {
        csv.write_all(b"time,open,high,low,close,volume,quote_volume\n")
            .map_err(|e| write(e.to_string()))?;
    }
    // a file begun without the column (an earlier version) goes on without it
    let with_quote = has_quote_column(file).map_err(write)?;
    let mut previous = last;
    while cursor + M15 <= to {
        let endpoint = Endpoint::Klines {
            symbol,
            start_time: cursor,
            limit: LIMIT,
        };
        let body = source
            .fetch(&endpoint)
            .map_err(|e| FetchError::Market(e.to_string()))?;
        let rows =
            rows(&body).map_err(|e| FetchError::Market(format!("klines of {symbol}: {e}")))?;
        let closed: Vec<&Row> = rows
            .iter()
            .filter(|r| r.0 >= cursor && r.0 + M15 <= to)
            .collect();
        let Some(last) = closed.last() else { break };
        let (text, gaps) = page_text(symbol, &closed, &mut previous, with_quote)?;
        // one write per page: a stop leaves at most one torn line, cut off on resume
        csv.write_all(text.as_bytes())
            .map_err(|e| write(e.to_string()))?;
        cursor = last.0 + M15;
        let mut status = status.lock().expect("status");
        status.candles += closed.len();
        status.gaps.extend(gaps);
    }
    Ok(())
}

/// A page's rows as CSV lines, each checked against the one before, and the gaps
/// between them.
fn page_text(
    symbol: &str,
    rows: &[&Row],
    previous: &mut Option<i64>,
    with_quote: bool,
) -> Result<(String, Vec<Gap>), FetchError> {
    let mut text = String::new();
    let mut gaps = Vec::new();
    for row in rows {
        check_row(symbol, row, *previous)?;
        if let Some(before) = previous.filter(|&p| row.0 > p + M15) {
            gaps.push(Gap {
                symbol: symbol.to_owned(),
                from_ms: before + M15,
                to_ms: row.0,
                missing: (row.0 - before) / M15 - 1,
            });
        }
        *previous = Some(row.0);
        text.push_str(&row.csv(with_quote));
    }
    Ok((text, gaps))
}

/// A row is written only if `backtest` would read it: a candle by the rules, after the
/// last one written.
fn check_row(symbol: &str, row: &Row, previous: Option<i64>) -> Result<(), FetchError> {
    let refuse = |why: String| {
        FetchError::Refused(format!(
            "klines of {symbol}: the candle at {} {why}; nothing of it was written",
            crate::clock::epoch(row.0.div_euclid(1000))
        ))
    };
    let number = |i: usize| row.1[i].parse::<f64>().unwrap_or(f64::NAN);
    let candle = Candle {
        open_time: row.0,
        open: number(0),
        high: number(1),
        low: number(2),
        close: number(3),
    };
    if let Some(why) = candle.broken_rule(number(4)) {
        return Err(refuse(format!("breaks the candle rules: {why}")));
    }
    if previous.is_some_and(|p| row.0 <= p) {
        return Err(refuse("repeats or comes before the one before it".into()));
    }
    Ok(())
}

/// A kline row as the exchange wrote it: open time, then open, high, low, close, volume
/// and quote volume.
#[derive(Debug, Clone, PartialEq)]
struct Row(i64, [String; 6]);

impl Row {
    /// The row as a history line, with the quote volume or without.
    fn csv(&self, with_quote: bool) -> String {
        let fields = if with_quote {
            &self.1[..]
        } else {
            &self.1[..5]
        };
        format!("{},{}\n", line_time(self.0), fields.join(","))
    }
}

/// Whether `file`'s header has the `quote_volume` column.
fn has_quote_column(file: &Path) -> Result<bool, String> {
    let mut header = String::new();
    let mut reader = std::io::BufReader::new(std::fs::File::open(file).map_err(|e| e.to_string())?);
    std::io::BufRead::read_line(&mut reader, &mut header).map_err(|e| e.to_string())?;
    Ok(header.trim_end().ends_with(",quote_volume"))
}

/// Klines rows, strictly: each an array whose first six fields are the open time and
/// five finite, non-negative numbers given as strings, and whose eighth is the quote
/// volume, one more.
fn rows(body: &[u8]) -> Result<Vec<Row>, String> {
    let rows: Vec<Vec<serde_json::Value>> =
        serde_json::from_slice(body).map_err(|e| e.to_string())?;
    rows.iter()
        .map(|row| {
            let open = row
                .first()
                .and_then(serde_json::Value::as_i64)
                .ok_or("a row without an open time")?;
            let number = |i: usize| -> Result<String, String> {
                let text = row
                    .get(i)
                    .and_then(serde_json::Value::as_str)
                    .ok_or("a row with a missing price")?;
                match text.parse::<f64>() {
                    Ok(v) if v.is_finite() && v >= 0.0 => Ok(text.to_owned()),
                    _ => Err(format!("{text:?} is not a price")),
                }
            };
            Ok(Row(
                open,
                [
                    number(1)?,
                    number(2)?,
                    number(3)?,
                    number(4)?,
                    number(5)?,
                    number(7)?,
                ],
            ))
        })
        .collect()
}

/// The open time of the last complete row of `file`, cutting off a torn last line.
fn resume_at(file: &Path) -> Result<Option<i64>, String> {
    let Ok(text) = std::fs::read_to_string(file) else {
        return Ok(None);
    };
    let complete = text.rfind('\n').map_or(0, |i| i + 1);
    if complete < text.len() {
        let f = std::fs::OpenOptions::new()
            .write(true)
            .open(file)
            .map_err(|e| e.to_string())?;
        f.set_len(complete as u64)
            .map_err(|e| format!("{}: {e}", file.display()))?;
    }
    let last = text[..complete]
        .lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .last();
    Ok(last.and_then(|l| crate::clock::parse_utc(l.split(',').next()?)))
}

/// A time as a history file writes it: `2024-01-31 23:45:00`, with milliseconds only
/// when there are some (a funding time a few ms past the hour).
fn line_time(ms: i64) -> String {
    let at = std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms.max(0) as u64);
    let text = if ms.rem_euclid(1000) == 0 {
        humantime::format_rfc3339_seconds(at).to_string()
    } else {
        humantime::format_rfc3339_millis(at).to_string()
    };
    text.trim_end_matches('Z').replacen('T', " ", 1)
}

/// Writes `bytes` to a file beside `path`, then renames it into place: a reader never
/// sees half a file.
fn write_file(path: &Path, bytes: &[u8]) -> Result<(), String> {
    let temp = path.with_extension("partial");
    std::fs::write(&temp, bytes)
        .and_then(|()| std::fs::rename(&temp, path))
        .map_err(|e| format!("{}: {e}", path.display()))
}
