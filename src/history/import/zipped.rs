//! One archive file read and judged: its checksum against the `.CHECKSUM` beside it, the
//! zip opened (the zip crate checks each entry's CRC), its one CSV parsed row by row. Any
//! fault refuses the whole file, named by file and line: a file is merged whole or not
//! at all.
//!
//! Kline rows have 12 columns (open time, open, high, low, close, volume, close time, quote
//! volume, trades, taker buy volume, taker buy quote volume, ignore), funding rows 3
//! (`calc_time,funding_interval_hours,last_funding_rate`). Newer files start with a header
//! row, older ones do not: a first row that does not start with a number is a header.
//! Times are ms; a time above 10^14 is µs (Binance's spot files since 2025), and a file
//! says which it used.

use std::io::Read as _;

use super::tree::{ArchiveFile, Kind};
use crate::market::Candle;
use crate::market::candles::M15;

/// A time above this is in microseconds: 10^14 ms is the year 5138.
const MICROS_ABOVE: i64 = 100_000_000_000_000;

/// One 15m candle as the archive has it: open time (ms), then open, high, low, close,
/// volume and quote volume.
pub type Kline = (i64, [f64; 6]);

/// What a file held.
#[derive(Debug, Clone, PartialEq)]
pub enum Rows {
    Klines(Vec<Kline>),
    /// (calc time ms, rate)
    Funding(Vec<(i64, f64)>),
}

/// A file read whole.
#[derive(Debug, Clone, PartialEq)]
pub struct Opened {
    pub rows: Rows,
    /// The zip's SHA-256, lower-case hex.
    pub sha256: String,
    /// Whether a `.CHECKSUM` stood beside it (and agreed).
    pub verified: bool,
    pub micros: bool,
}

/// Why a file was not merged: the line when one row is at fault (1-based, in its CSV).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Refusal {
    pub file: String,
    pub line: Option<usize>,
    pub problem: String,
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{line}: {}", self.file, self.problem),
            None => write!(f, "{}: {}", self.file, self.problem),
        }
    }
}

/// The SHA-256 the `.CHECKSUM` beside `file` records (`<hex>  <file name>`, as
/// `sha256sum -c` reads it), `None` when there is none.
pub fn recorded_checksum(file: &ArchiveFile) -> Result<Option<String>, Refusal> {
    let refuse = |problem: String| Refusal {
        file: file.name.clone(),
        line: None,
        problem,
    };
    let mut path = file.path.clone().into_os_string();
    path.push(".CHECKSUM");
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(refuse(format!("its .CHECKSUM cannot be read: {e}"))),
    };
    let own_name = file.name.rsplit('/').next().unwrap_or_default();
    let mut fields = text.split_whitespace();
    match (
        fields.next(),
        fields.next().map(|n| n.trim_start_matches('*')),
    ) {
        (Some(hex), Some(name))
            if name == own_name
                && hex.len() == 64
                && hex.bytes().all(|b| b.is_ascii_hexdigit()) =>
        {
            Ok(Some(hex.to_ascii_lowercase()))
        }
        _ => Err(refuse(format!(
            "its .CHECKSUM is not `<sha256>  {own_name}`"
        ))),
    }
}

/// `file` read, checked against its checksum and parsed.
pub fn open(file: &ArchiveFile) -> Result<Opened, Refusal> {
    let refuse = |problem: String| Refusal {
        file: file.name.clone(),
        line: None,
        problem,
    };
    let recorded = recorded_checksum(file)?;
    let bytes = std::fs::read(&file.path).map_err(|e| refuse(format!("cannot be read: {e}")))?;
    let sha256 = crate::digest::sha256_hex(&bytes);
    if let Some(recorded) = recorded.as_ref().filter(|r| **r != sha256) {
        return Err(refuse(format!(
            "its SHA-256 is {sha256}, its .CHECKSUM says {recorded}: a torn or altered download"
        )));
    }
    let csv = unzip(&bytes).map_err(refuse)?;
    let text =
        std::str::from_utf8(&csv).map_err(|e| refuse(format!("its CSV is not text: {e}")))?;
    let (rows, micros) = parse(text, file).map_err(|(line, problem)| Refusal {
        file: file.name.clone(),
        line: Some(line),
        problem,
    })?;
    Ok(Opened {
        rows,
        sha256,
        verified: recorded.is_some(),
        micros,
    })
}

/// The most a file's CSV may unpack to: a month of 15m klines is about 300 kB, so this
/// only stops a zip bomb (an entry that claims, or inflates to, gigabytes).
const MAX_CSV_BYTES: u64 = 64 << 20;

/// The one CSV inside a zip.
fn unzip(bytes: &[u8]) -> Result<Vec<u8>, String> {
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes))
        .map_err(|e| format!("is not a zip that opens: {e}"))?;
    if zip.len() != 1 {
        return Err(format!("holds {} files, not one CSV", zip.len()));
    }
    let mut entry = zip
        .by_index(0)
        .map_err(|e| format!("is not a zip that opens: {e}"))?;
    let too_big = || format!("its CSV unpacks to more than {} MB", MAX_CSV_BYTES >> 20);
    if entry.size() > MAX_CSV_BYTES {
        return Err(too_big());
    }
    let mut csv = Vec::with_capacity(usize::try_from(entry.size()).unwrap_or(0));
    (&mut entry)
        .take(MAX_CSV_BYTES + 1)
        .read_to_end(&mut csv)
        .map_err(|e| format!("its CSV does not unpack: {e}"))?;
    if csv.len() as u64 > MAX_CSV_BYTES {
        return Err(too_big());
    }
    Ok(csv)
}

/// The rows of a file's CSV, each checked, or the line at fault and why.
fn parse(text: &str, file: &ArchiveFile) -> Result<(Rows, bool), (usize, String)> {
    let mut lines = text
        .lines()
        .enumerate()
        .map(|(n, l)| (n + 1, l.trim_end_matches('\r')))
        .filter(|(_, l)| !l.is_empty())
        .peekable();
    let (header, columns) = match file.kind {
        Kind::Klines => ("open_time", 12),
        Kind::Funding => ("calc_time", 3),
    };
    if let Some(&(n, first)) = lines.peek() {
        let name = first.split(',').next().unwrap_or_default().trim();
        if name.parse::<i64>().is_err() {
            if !name.eq_ignore_ascii_case(header) {
                return Err((n, format!("a header that does not start with {header}")));
            }
            lines.next();
        }
    }
    let mut micros = None;
    let mut kept = Kept::new(file.kind);
    let mut previous = None;
    for (n, line) in lines {
        let fields: Vec<&str> = line.split(',').map(str::trim).collect();
        if fields.len() != columns {
            return Err((n, format!("{} columns, not {columns}", fields.len())));
        }
        let time = time(fields[0], &mut micros).map_err(|e| (n, e))?;
        if !(file.period.0..file.period.1).contains(&time) {
            return Err((n, format!("{} is outside the file's period", at(time))));
        }
        if previous.is_some_and(|p| time <= p) {
            return Err((
                n,
                format!("{} repeats or comes before the row before it", at(time)),
            ));
        }
        previous = Some(time);
        kept.push(time, &fields, &mut micros).map_err(|e| (n, e))?;
    }
    Ok((kept.rows, micros == Some(true)))
}

/// Rows as they are checked.
struct Kept {
    rows: Rows,
}

impl Kept {
    fn new(kind: Kind) -> Self {
        let rows = match kind {
            Kind::Klines => Rows::Klines(Vec::with_capacity(31 * 96)),
            Kind::Funding => Rows::Funding(Vec::with_capacity(31 * 3)),
        };
        Self { rows }
    }

    fn push(
        &mut self,
        time: i64,
        fields: &[&str],
        micros: &mut Option<bool>,
    ) -> Result<(), String> {
        let number = |i: usize, name: &str| {
            fields[i]
                .parse::<f64>()
                .map_err(|_| format!("{name} {:?} is not a number", fields[i]))
        };
        match &mut self.rows {
            Rows::Klines(rows) => {
                let close_time = self::time(fields[6], micros)?;
                if close_time != time + M15 - 1 {
                    return Err(format!(
                        "close time {} is not 15 minutes after the open {}",
                        fields[6], fields[0]
                    ));
                }
                let names = ["open", "high", "low", "close", "volume"];
                let mut values = [0.0; 6];
                for (i, name) in names.iter().enumerate() {
                    values[i] = number(i + 1, name)?;
                }
                values[5] = number(7, "quote volume")?;
                let [open, high, low, close, volume, quote] = values;
                let candle = Candle {
                    open_time: time,
                    open,
                    high,
                    low,
                    close,
                };
                if let Some(why) = candle.broken_rule(volume) {
                    return Err(format!("breaks the candle rules: {why}"));
                }
                if !(quote.is_finite() && quote >= 0.0) {
                    return Err(format!(
                        "quote volume {quote:?} is not finite and non-negative"
                    ));
                }
                rows.push((time, values));
            }
            Rows::Funding(rows) => {
                let rate = number(2, "last_funding_rate")?;
                if !rate.is_finite() {
                    return Err(format!("funding rate {rate:?} is not finite"));
                }
                rows.push((time, rate));
            }
        }
        Ok(())
    }
}

/// A time field in ms, read as µs when above 10^14; every time of a file in one unit.
fn time(field: &str, micros: &mut Option<bool>) -> Result<i64, String> {
    let raw: i64 = field
        .parse()
        .map_err(|_| format!("time {field:?} is not a whole number"))?;
    let is_micros = raw > MICROS_ABOVE;
    if *micros.get_or_insert(is_micros) != is_micros {
        return Err(format!(
            "time {field} is in other units than the file's first"
        ));
    }
    Ok(if is_micros { raw.div_euclid(1000) } else { raw })
}

fn at(ms: i64) -> String {
    crate::clock::epoch(ms.div_euclid(1000))
}
