//! The candle cache: closed 15m candles per symbol, kept between refreshes so a warm
//! refresh asks the exchange only for what closed since (one `limit` < 100 request,
//! weight 1, instead of weight 2).
//!
//! One file per symbol, `SYMBOL.candles`:
//!
//! ```text
//! universe-candles 1 <onboardDate> <rows> <sha256 of the rows, hex>
//! <openTime>,<open>,<high>,<low>,<close>      one closed 15m candle a line, oldest first
//! ```
//!
//! The cache never makes a feature wrong. A file that fails its checksum, is truncated,
//! or belongs to an earlier listing (another `onboardDate`) is ignored. When the newest
//! cached candle does not come back unchanged at the start of the exchange's answer, or
//! the answer has a gap, the symbol is fetched cold. Files are replaced by rename, never
//! written in place.

use std::fmt::Write as _;
use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use super::Candle;
use super::candles::M15;

const MAGIC: &str = "universe-candles 1";

#[derive(Debug, Clone)]
pub struct CandleCache {
    dir: PathBuf,
    read_only: bool,
}

impl CandleCache {
    /// A cache in `dir`, created if needed; temp files that runs stopped mid-write left
    /// behind are swept away.
    pub fn open(dir: &Path) -> Result<Self, String> {
        fs::create_dir_all(dir).map_err(|e| format!("cache folder {}: {e}", dir.display()))?;
        sweep_stale_temps(dir);
        Ok(Self {
            dir: dir.to_owned(),
            read_only: false,
        })
    }

    /// A cache that is read but never written (`--dry-run`, `explain`, `rotation`).
    pub fn read_only(dir: &Path) -> Self {
        Self {
            dir: dir.to_owned(),
            read_only: true,
        }
    }

    fn path(&self, symbol: &str) -> Option<PathBuf> {
        let safe = !symbol.is_empty()
            && !symbol.starts_with('.')
            && !symbol
                .chars()
                .any(|c| c == '/' || c == '\\' || c.is_control());
        safe.then(|| self.dir.join(format!("{symbol}.candles")))
    }

    /// The cached candles of `symbol`, if a sound file of this listing exists.
    pub fn load(&self, symbol: &str, onboard_date: i64) -> Option<Vec<Candle>> {
        let text = fs::read_to_string(self.path(symbol)?).ok()?;
        let (header, body) = text.split_once('\n')?;
        let mut fields = header.strip_prefix(MAGIC)?.split_whitespace();
        let onboard: i64 = fields.next()?.parse().ok()?;
        let rows: usize = fields.next()?.parse().ok()?;
        let checksum = fields.next()?;
        if onboard != onboard_date || crate::digest::sha256_hex(body.as_bytes()) != checksum {
            return None;
        }
        let candles: Vec<Candle> = body.lines().map(parse_row).collect::<Option<_>>()?;
        let contiguous = candles
            .windows(2)
            .all(|w| w[1].open_time == w[0].open_time + M15);
        (candles.len() == rows && !candles.is_empty() && contiguous).then_some(candles)
    }

    /// Replaces the cached candles of `symbol` (closed candles, oldest first).
    pub fn store(
        &self,
        symbol: &str,
        onboard_date: i64,
        candles: &[Candle],
    ) -> std::io::Result<()> {
        let Some(path) = self.path(symbol).filter(|_| !self.read_only) else {
            return Ok(());
        };
        let mut body = String::with_capacity(candles.len() * 48);
        for c in candles {
            let _ = writeln!(
                body,
                "{},{},{},{},{}",
                c.open_time, c.open, c.high, c.low, c.close
            );
        }
        let header = format!(
            "{MAGIC} {onboard_date} {} {}\n",
            candles.len(),
            crate::digest::sha256_hex(body.as_bytes())
        );
        replace(&path, &[header.as_bytes(), body.as_bytes()])
    }

    /// Where the folder's file `name` is ([`super::listing::Listings`]).
    pub fn file(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// Replaces the folder's file `name` with `body`; nothing when read-only.
    pub fn replace_text(&self, name: &str, body: &str) -> std::io::Result<()> {
        if self.read_only {
            return Ok(());
        }
        replace(&self.dir.join(name), &[body.as_bytes()])
    }
}

/// Writes `parts` beside `path` (`NAME.PID.tmp`), then renames it into place.
fn replace(path: &Path, parts: &[&[u8]]) -> std::io::Result<()> {
    let mut name = path.file_name().unwrap_or_default().to_owned();
    name.push(format!(".{}.tmp", std::process::id()));
    let temp = path.with_file_name(name);
    let (mut file, flight) = InFlight::create(&temp)?;
    let written = parts.iter().try_for_each(|part| file.write_all(part));
    drop(file);
    flight.finish(written.and_then(|()| fs::rename(&temp, path)))
}

/// Temp files being written now, removed if the run is stopped by a signal meanwhile.
/// A temp file is created and registered, and renamed and unregistered, under this lock,
/// and the signal handler removes the registered ones holding it until the process dies:
/// so no temp file exists that the handler does not know of.
static IN_FLIGHT: std::sync::Mutex<Vec<PathBuf>> = std::sync::Mutex::new(Vec::new());

/// A temp file's place in [`IN_FLIGHT`] while it is written.
struct InFlight(PathBuf);

impl InFlight {
    /// Creates the temp file and registers it, at once for the signal handler.
    fn create(path: &Path) -> std::io::Result<(fs::File, Self)> {
        let mut in_flight = lock_in_flight();
        let file = fs::File::create(path)?;
        in_flight.push(path.to_owned());
        Ok((file, Self(path.to_owned())))
    }

    /// Unregisters the temp file with the write's outcome: renamed away, or removed.
    fn finish(self, written: std::io::Result<()>) -> std::io::Result<()> {
        let mut in_flight = lock_in_flight();
        if written.is_err() {
            let _ = fs::remove_file(&self.0);
        }
        in_flight.retain(|p| p != &self.0);
        written
    }
}

fn lock_in_flight() -> std::sync::MutexGuard<'static, Vec<PathBuf>> {
    IN_FLIGHT
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Removes the temp files being written now, for a run stopped by SIGINT or SIGTERM,
/// then runs `die` still holding the lock, so no writer creates or renames one meanwhile.
pub fn remove_in_flight_temps_then(die: impl FnOnce()) {
    let mut in_flight = lock_in_flight();
    for path in in_flight.drain(..) {
        let _ = fs::remove_file(path);
    }
    die();
}

/// Removes `*.candles.PID.tmp` and `listings.PID.tmp` files of processes that are gone (or, where that cannot
/// be known, older than an hour): what a run killed mid-write left.
fn sweep_stale_temps(dir: &Path) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    let own = std::process::id();
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_suffix(".tmp"))
            .and_then(|n| n.rsplit_once('.'))
            .filter(|(file, _)| file.ends_with(".candles") || *file == super::listing::FILE)
            .and_then(|(_, pid)| pid.parse::<u32>().ok())
        else {
            continue;
        };
        if pid == own {
            continue;
        }
        let proc_dir = Path::new("/proc");
        let gone = if proc_dir.is_dir() {
            !proc_dir.join(pid.to_string()).exists()
        } else {
            entry
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.elapsed().ok())
                .is_some_and(|age| age > std::time::Duration::from_secs(3600))
        };
        if gone {
            let _ = fs::remove_file(entry.path());
        }
    }
}

fn parse_row(line: &str) -> Option<Candle> {
    let mut parts = line.split(',');
    let mut next = || parts.next();
    let open_time = next()?.parse().ok()?;
    let mut price = || -> Option<f64> { next()?.parse().ok().filter(|p: &f64| p.is_finite()) };
    Some(Candle {
        open_time,
        open: price()?,
        high: price()?,
        low: price()?,
        close: price()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn candles(n: usize) -> Vec<Candle> {
        (0..n)
            .map(|i| Candle {
                open_time: 1_761_000_300_000 + i as i64 * M15,
                open: 1.0 + i as f64 / 3.0,
                high: 2.5,
                low: 0.000_012_34,
                close: 1.1,
            })
            .collect()
    }

    #[test]
    fn what_is_stored_loads_back_exactly() {
        let dir = tempfile::tempdir().unwrap();
        let cache = CandleCache::open(dir.path()).unwrap();
        cache.store("币安人生USDT", 7, &candles(300)).unwrap();
        assert_eq!(cache.load("币安人生USDT", 7), Some(candles(300)));
        assert_eq!(cache.load("币安人生USDT", 8), None, "another listing");
        assert_eq!(cache.load("OTHERUSDT", 7), None);
    }

    #[test]
    fn damaged_files_are_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let cache = CandleCache::open(dir.path()).unwrap();
        cache.store("X", 1, &candles(10)).unwrap();
        let path = dir.path().join("X.candles");
        let text = fs::read_to_string(&path).unwrap();
        fs::write(&path, &text[..text.len() - 20]).unwrap();
        assert_eq!(cache.load("X", 1), None, "truncated");
        fs::write(&path, text.replacen("2.5", "2.6", 1)).unwrap();
        assert_eq!(cache.load("X", 1), None, "changed");
        fs::write(&path, text).unwrap();
        assert!(cache.load("X", 1).is_some());
    }
}
