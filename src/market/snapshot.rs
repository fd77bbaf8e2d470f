//! Snapshots: a folder holding exactly the response bodies a refresh read, so that the
//! same refresh can be replayed offline and give the same universe, hashes and scores.
//!
//! ```text
//! DIR/snapshot.json          what this is (format, server time, where it came from)
//! DIR/time.json              GET /fapi/v1/time
//! DIR/exchangeInfo.json      GET /fapi/v1/exchangeInfo
//! DIR/ticker_24hr.json       GET /fapi/v1/ticker/24hr
//! DIR/bookTicker.json        GET /fapi/v1/ticker/bookTicker
//! DIR/klines/SYMBOL.json     GET /fapi/v1/klines (15m, from startTime, limit 499)
//! ```

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};

#[cfg(test)]
use super::KLINES_LIMIT;
use super::{Endpoint, FetchError, Source, Usage};

/// The file under a snapshot folder that holds `endpoint`'s body.
pub fn file_for(dir: &Path, endpoint: &Endpoint<'_>) -> Result<PathBuf, FetchError> {
    Ok(match endpoint {
        Endpoint::Time => dir.join("time.json"),
        Endpoint::ExchangeInfo => dir.join("exchangeInfo.json"),
        Endpoint::Ticker24h => dir.join("ticker_24hr.json"),
        Endpoint::BookTicker => dir.join("bookTicker.json"),
        Endpoint::Klines { symbol, .. } => {
            if !is_safe_file_name(symbol) {
                return Err(FetchError::Snapshot(format!(
                    "symbol {symbol:?} cannot name a file in a snapshot"
                )));
            }
            dir.join("klines").join(format!("{symbol}.json"))
        }
    })
}

/// A symbol names a file only if it cannot leave the folder or hide.
fn is_safe_file_name(symbol: &str) -> bool {
    !symbol.is_empty()
        && !symbol.starts_with('.')
        && !symbol
            .chars()
            .any(|c| c == '/' || c == '\\' || c.is_control())
}

/// Replays a recorded snapshot folder.
#[derive(Debug)]
pub struct SnapshotSource {
    dir: PathBuf,
}

impl SnapshotSource {
    /// Opens `dir`, which must hold at least `time.json`.
    pub fn open(dir: &Path) -> Result<Self, String> {
        if !dir.join("time.json").is_file() {
            return Err(format!(
                "{} is not a snapshot folder (no time.json); make one with `universe snapshot --out DIR`",
                dir.display()
            ));
        }
        Ok(Self {
            dir: dir.to_owned(),
        })
    }
}

impl Source for SnapshotSource {
    fn fetch(&self, endpoint: &Endpoint<'_>) -> Result<Vec<u8>, FetchError> {
        let path = file_for(&self.dir, endpoint)?;
        fs::read(&path).map_err(|e| {
            let hint = if endpoint.symbol().is_some() {
                " (recorded with stricter filters?)"
            } else {
                ""
            };
            FetchError::Snapshot(format!("snapshot file {}: {e}{hint}", path.display()))
        })
    }

    fn is_replay(&self) -> bool {
        true
    }

    fn locate(&self, endpoint: &Endpoint<'_>) -> String {
        file_for(&self.dir, endpoint).map_or_else(
            |_| endpoint.path_and_query(),
            |path| format!("snapshot file {}", path.display()),
        )
    }
}

/// Passes requests to `inner` and writes every body it returns into a snapshot folder.
///
/// The recording goes into a hidden folder beside `--out` and is renamed into place when
/// it is complete, so a failed run leaves nothing behind (the folder is removed when the
/// recorder is dropped unfinished) and can simply be run again.
#[derive(Debug)]
pub struct Recorder<S> {
    inner: S,
    /// Where the recording is written until it is complete.
    dir: PathBuf,
    out: PathBuf,
    finished: bool,
}

impl<S: Source> Recorder<S> {
    /// Records for `out`, which must be empty or not exist yet.
    pub fn create(inner: S, out: &Path) -> Result<Self, String> {
        if out.exists()
            && fs::read_dir(out)
                .map_err(|e| format!("{}: {e}", out.display()))?
                .next()
                .is_some()
        {
            return Err(format!(
                "--out {} is not empty; a snapshot needs a new or empty folder",
                out.display()
            ));
        }
        let name = out
            .file_name()
            .ok_or_else(|| format!("--out {}: not a folder name", out.display()))?;
        let dir = out.with_file_name(format!(
            ".{}.partial-{}",
            name.to_string_lossy(),
            std::process::id()
        ));
        fs::create_dir_all(dir.join("klines"))
            .map_err(|e| format!("creating {}: {e}", dir.display()))?;
        Ok(Self {
            inner,
            dir,
            out: out.to_owned(),
            finished: false,
        })
    }

    /// Writes `snapshot.json`, which describes the recording, and moves the complete
    /// recording to `--out`.
    pub fn finish(&mut self, description: &serde_json::Value) -> Result<(), String> {
        let path = self.dir.join("snapshot.json");
        let mut text = serde_json::to_string_pretty(description).expect("JSON value");
        text.push('\n');
        fs::write(&path, text).map_err(|e| format!("writing {}: {e}", path.display()))?;
        // an empty --out is replaced by the rename
        fs::rename(&self.dir, &self.out)
            .map_err(|e| format!("moving the snapshot to {}: {e}", self.out.display()))?;
        self.finished = true;
        Ok(())
    }
}

impl<S> Drop for Recorder<S> {
    fn drop(&mut self) {
        if !self.finished {
            let _ = fs::remove_dir_all(&self.dir);
        }
    }
}

impl<S: Source> Source for Recorder<S> {
    fn fetch(&self, endpoint: &Endpoint<'_>) -> Result<Vec<u8>, FetchError> {
        let body = self.inner.fetch(endpoint)?;
        let path = file_for(&self.dir, endpoint)?;
        let write = || -> std::io::Result<()> {
            let mut file = fs::File::create(&path)?;
            file.write_all(&body)?;
            file.sync_data()
        };
        write().map_err(|e| FetchError::Snapshot(format!("writing {}: {e}", path.display())))?;
        Ok(body)
    }

    fn deadline_s(&self) -> u64 {
        self.inner.deadline_s()
    }

    fn usage(&self) -> Usage {
        self.inner.usage()
    }

    fn locate(&self, endpoint: &Endpoint<'_>) -> String {
        self.inner.locate(endpoint)
    }

    fn observe_weight_limit(&self, limit: u32) {
        self.inner.observe_weight_limit(limit);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symbols_that_could_escape_the_folder_are_refused() {
        let dir = Path::new("/snap");
        for bad in ["../x", "a/b", ".hidden", "", "a\u{1b}[2J"] {
            let endpoint = Endpoint::Klines {
                symbol: bad,
                start_time: 0,
                limit: KLINES_LIMIT,
            };
            assert!(file_for(dir, &endpoint).is_err(), "{bad:?}");
        }
        let endpoint = Endpoint::Klines {
            symbol: "币安人生USDT",
            start_time: 0,
            limit: KLINES_LIMIT,
        };
        assert_eq!(
            file_for(dir, &endpoint).unwrap(),
            Path::new("/snap/klines/币安人生USDT.json")
        );
    }
}
