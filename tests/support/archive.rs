//! Binance's public archive, made by the tests from a fixed seed: 15m kline zips (monthly
//! and daily) and monthly funding zips of USDⓈ-M perpetuals, each with its `.CHECKSUM`,
//! in the tree users download, and the same candles written directly as a history folder.
//! Synthetic: no number here is a real price.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use super::market::Rng;

pub const M15: i64 = 15 * 60_000;
pub const DAY: i64 = 86_400_000;
/// 2024-01-01, 2024-02-01, 2024-03-01 00:00 UTC.
pub const JAN: i64 = 1_704_067_200_000;
pub const FEB: i64 = 1_706_745_600_000;
pub const MAR: i64 = 1_709_251_200_000;

/// One 15m candle, its numbers as the archive prints them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Kline {
    pub time: i64,
    /// open, high, low, close, volume, quote volume
    pub text: [String; 6],
}

/// How a file is written: with a header row or not, times in ms or µs.
#[derive(Debug, Clone, Copy, Default)]
pub struct Style {
    pub header: bool,
    pub micros: bool,
}

/// `[from, to)` of one symbol's candles, a random walk from `seed`.
pub fn candles(seed: u64, from: i64, to: i64) -> Vec<Kline> {
    let mut rng = Rng::new(seed);
    let mut close = 5.0 + 95.0 * rng.unit();
    let mut out = Vec::new();
    let mut t = from;
    while t < to {
        let open = close;
        close = (open * (1.0 + 0.008 * rng.signed())).max(0.01);
        let (open4, close4) = (round(open), round(close));
        let high = round(open.max(close) * (1.0 + 0.002 * rng.unit())).max(open4.max(close4));
        let low = round(open.min(close) * (1.0 - 0.002 * rng.unit())).min(open4.min(close4));
        let volume = (3e6 / close * (1.0 + rng.unit()) * 1000.0).round() / 1000.0;
        let quote = (volume * (high + low + close4) / 3.0 * 1.0001 * 1e4).round() / 1e4;
        out.push(Kline {
            time: t,
            text: [open4, high, low, close4, volume, quote].map(|x| x.to_string()),
        });
        t += M15;
    }
    out
}

fn round(x: f64) -> f64 {
    (x * 1e4).round() / 1e4
}

/// The 12-column CSV of `rows`.
pub fn kline_csv(rows: &[Kline], style: Style) -> String {
    let mut csv = String::new();
    if style.header {
        csv.push_str("open_time,open,high,low,close,volume,close_time,quote_volume,count,taker_buy_volume,taker_buy_quote_volume,ignore\n");
    }
    let unit = if style.micros { 1000 } else { 1 };
    for k in rows {
        let [prices @ .., volume, quote] = &k.text;
        let _ = writeln!(
            csv,
            "{},{},{volume},{},{quote},1234,{volume},{quote},0",
            k.time * unit,
            prices.join(","),
            (k.time + M15) * unit - 1
        );
    }
    csv
}

/// The funding CSV of `(calc time, rate)` rows.
pub fn funding_csv(rows: &[(i64, &str)], style: Style) -> String {
    let mut csv = String::new();
    if style.header {
        csv.push_str("calc_time,funding_interval_hours,last_funding_rate\n");
    }
    let unit = if style.micros { 1000 } else { 1 };
    for (t, rate) in rows {
        let _ = writeln!(csv, "{},8,{rate}", t * unit);
    }
    csv
}

/// The archive's path of a monthly (`2024-01`) or daily (`2024-03-01`) 15m kline file.
pub fn klines_path(symbol: &str, period: &str) -> String {
    let part = if period.len() == 7 {
        "monthly"
    } else {
        "daily"
    };
    format!("data/futures/um/{part}/klines/{symbol}/15m/{symbol}-15m-{period}.zip")
}

pub fn funding_path(symbol: &str, month: &str) -> String {
    format!("data/futures/um/monthly/fundingRate/{symbol}/{symbol}-fundingRate-{month}.zip")
}

/// Writes `csv` zipped (deflate) at `root/relative`, with its `.CHECKSUM` beside it.
pub fn put(root: &Path, relative: &str, csv: &str) -> PathBuf {
    let path = root.join(relative);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let name = path.file_name().unwrap().to_str().unwrap().to_owned();
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    zip.start_file(name.replace(".zip", ".csv"), options)
        .unwrap();
    zip.write_all(csv.as_bytes()).unwrap();
    let bytes = zip.finish().unwrap().into_inner();
    std::fs::write(&path, &bytes).unwrap();
    let sum = format!("{}  {name}\n", super::sha256_hex(&bytes));
    std::fs::write(path.with_file_name(format!("{name}.CHECKSUM")), sum).unwrap();
    path
}

/// `rows` as a history folder's candle file, as `history fetch` writes one.
pub fn history_csv(rows: &[Kline]) -> String {
    let mut csv = String::from("time,open,high,low,close,volume,quote_volume\n");
    for k in rows {
        let _ = writeln!(csv, "{},{}", super::utc(k.time), k.text.join(","));
    }
    csv
}

/// Every 8 hours of `[from, to)`, a rate from `seed`.
pub fn funding(seed: u64, from: i64, to: i64) -> Vec<(i64, String)> {
    let mut rng = Rng::new(seed);
    (from..to)
        .step_by(8 * 3_600_000)
        .map(|t| (t, format!("{:.6}", 0.0001 + 0.0003 * rng.signed())))
        .collect()
}

/// `rows` in `[from, to)`.
pub fn within<T: Clone>(rows: &[T], time: impl Fn(&T) -> i64, from: i64, to: i64) -> Vec<T> {
    rows.iter()
        .filter(|r| (from..to).contains(&time(r)))
        .cloned()
        .collect()
}
