//! Binance's public archive as users download it, USDⓈ-M part: which files hold what.
//!
//! ```text
//! data/futures/um/monthly/klines/{SYMBOL}/15m/{SYMBOL}-15m-{YYYY-MM}.zip
//! data/futures/um/daily/klines/{SYMBOL}/15m/{SYMBOL}-15m-{YYYY-MM-DD}.zip
//! data/futures/um/monthly/fundingRate/{SYMBOL}/{SYMBOL}-fundingRate-{YYYY-MM}.zip
//! ```
//!
//! each with a `{file}.zip.CHECKSUM` beside it. Other intervals and data types are not
//! read. A file is named by its path below `futures/um/`, which is how the manifest knows
//! it again wherever the archive is moved.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use crate::market::candles::M15;

/// What a file holds.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Klines,
    Funding,
}

/// One archive file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchiveFile {
    /// Its path below `futures/um/`, `/`-separated: its name in reports and the manifest.
    pub name: String,
    pub path: PathBuf,
    pub symbol: String,
    pub kind: Kind,
    /// Whether it is a monthly file (else a daily one).
    pub monthly: bool,
    /// The time it covers, `[from, to)` in ms.
    pub period: (i64, i64),
}

/// The archive's files of USDT perpetuals, and what was passed over.
#[derive(Debug, Default)]
pub struct Tree {
    /// By symbol, then kind, monthly before daily, then time.
    pub files: Vec<ArchiveFile>,
    /// Delivery contracts (`BTCUSDT_240628`): not perpetuals.
    pub delivery: BTreeSet<String>,
    /// Symbols not quoted in USDT (`BTCUSDC`), and folder names that cannot be symbols.
    pub not_usdt: BTreeSet<String>,
    /// Files in a 15m or fundingRate folder whose name does not say what they hold.
    pub unexpected: Vec<String>,
}

/// `dir` itself when it is the `futures/um` folder, else `dir/data/futures/um` or
/// `dir/futures/um`: wherever the user points, the same tree.
pub fn um_root(dir: &Path) -> Option<PathBuf> {
    let holds_parts = |d: &Path| d.join("monthly").is_dir() || d.join("daily").is_dir();
    [
        dir.to_owned(),
        dir.join("data/futures/um"),
        dir.join("futures/um"),
    ]
    .into_iter()
    .find(|d| holds_parts(d))
}

/// Every file of the tree below `um` (a missing folder holds nothing).
pub fn walk(um: &Path) -> std::io::Result<Tree> {
    let mut tree = Tree::default();
    let parts = [
        ("monthly/klines", Kind::Klines, true),
        ("daily/klines", Kind::Klines, false),
        ("monthly/fundingRate", Kind::Funding, true),
    ];
    for (part, kind, monthly) in parts {
        for (symbol, folder) in folders(&um.join(part))? {
            if symbol.contains('_') {
                tree.delivery.insert(symbol);
                continue;
            }
            if !(symbol.ends_with("USDT")
                && crate::select::eligibility::is_symbol_name(&symbol)
                && symbol.bytes().all(|b| b.is_ascii_alphanumeric()))
            {
                tree.not_usdt.insert(symbol);
                continue;
            }
            let folder = match kind {
                Kind::Klines => folder.join("15m"),
                Kind::Funding => folder,
            };
            for (file, path) in folders_or_files(&folder)? {
                if file.ends_with(".CHECKSUM") || path.is_dir() {
                    continue;
                }
                let name = format!("{part}/{symbol}/{}{file}", tail(kind));
                match period_of(&file, &symbol, kind, monthly) {
                    Some(period) => tree.files.push(ArchiveFile {
                        name,
                        path,
                        symbol: symbol.clone(),
                        kind,
                        monthly,
                        period,
                    }),
                    None => tree.unexpected.push(name),
                }
            }
        }
    }
    tree.files.sort_by(|a, b| {
        (&a.symbol, a.kind, !a.monthly, a.period).cmp(&(&b.symbol, b.kind, !b.monthly, b.period))
    });
    Ok(tree)
}

fn tail(kind: Kind) -> &'static str {
    match kind {
        Kind::Klines => "15m/",
        Kind::Funding => "",
    }
}

/// The sub-folders of `dir`, by name (none when it does not exist).
fn folders(dir: &Path) -> std::io::Result<Vec<(String, PathBuf)>> {
    Ok(folders_or_files(dir)?
        .into_iter()
        .filter(|(_, p)| p.is_dir())
        .collect())
}

fn folders_or_files(dir: &Path) -> std::io::Result<Vec<(String, PathBuf)>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut found = Vec::new();
    for entry in entries {
        let entry = entry?;
        found.push((
            entry.file_name().to_string_lossy().into_owned(),
            entry.path(),
        ));
    }
    found.sort();
    Ok(found)
}

/// The period a file's name says it covers: `{SYMBOL}-15m-2024-01.zip` (a month),
/// `{SYMBOL}-15m-2024-01-31.zip` (a day), `{SYMBOL}-fundingRate-2024-01.zip`.
fn period_of(file: &str, symbol: &str, kind: Kind, monthly: bool) -> Option<(i64, i64)> {
    let middle = match kind {
        Kind::Klines => "-15m-",
        Kind::Funding => "-fundingRate-",
    };
    let date = file
        .strip_prefix(symbol)?
        .strip_prefix(middle)?
        .strip_suffix(".zip")?;
    let numbers: Vec<u32> = date
        .split('-')
        .map(|n| {
            n.parse()
                .ok()
                .filter(|_| n.bytes().all(|b| b.is_ascii_digit()))
        })
        .collect::<Option<_>>()?;
    match (monthly, numbers.as_slice()) {
        (true, &[year, month]) => {
            let (next_year, next_month) = if month == 12 {
                (year + 1, 1)
            } else {
                (year, month + 1)
            };
            Some((day_ms(year, month, 1)?, day_ms(next_year, next_month, 1)?))
        }
        (false, &[year, month, day]) => {
            let from = day_ms(year, month, day)?;
            Some((from, from + 96 * M15))
        }
        _ => None,
    }
}

/// Midnight UTC of a date, in ms; `None` for a date that does not exist.
fn day_ms(year: u32, month: u32, day: u32) -> Option<i64> {
    let text = format!("{year:04}-{month:02}-{day:02}");
    let ms = crate::clock::parse_utc(&format!("{text} 00:00:00"))?;
    // humantime accepts 2024-02-30 as March 1st: a name that is not a date is no file of ours
    let back = humantime::format_rfc3339_seconds(
        std::time::UNIX_EPOCH + std::time::Duration::from_millis(u64::try_from(ms).ok()?),
    )
    .to_string();
    back.starts_with(&text).then_some(ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_say_the_period() {
        let jan = period_of("BTCUSDT-15m-2024-01.zip", "BTCUSDT", Kind::Klines, true).unwrap();
        assert_eq!(jan, (1_704_067_200_000, 1_706_745_600_000));
        let dec = period_of("BTCUSDT-15m-2023-12.zip", "BTCUSDT", Kind::Klines, true).unwrap();
        assert_eq!(dec.1, jan.0);
        let day = period_of("BTCUSDT-15m-2024-02-29.zip", "BTCUSDT", Kind::Klines, false);
        assert_eq!(day, Some((1_709_164_800_000, 1_709_251_200_000)));
        let funding = period_of(
            "XUSDT-fundingRate-2024-01.zip",
            "XUSDT",
            Kind::Funding,
            true,
        );
        assert_eq!(funding, Some(jan));
        for bad in [
            "BTCUSDT-15m-2023-02-30.zip",
            "BTCUSDT-15m-2024-13.zip",
            "BTCUSDT-1h-2024-01.zip",
            "ETHUSDT-15m-2024-01.zip",
            "BTCUSDT-15m-2024-01.zip.part",
            "BTCUSDT-15m-2024-+1.zip",
        ] {
            let monthly = bad.matches('-').count() == 3;
            assert_eq!(
                period_of(bad, "BTCUSDT", Kind::Klines, monthly),
                None,
                "{bad}"
            );
        }
        assert_eq!(
            period_of("BTCUSDT-15m-2024-01-01.zip", "BTCUSDT", Kind::Klines, true),
            None
        );
    }
}
