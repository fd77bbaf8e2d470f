//! The embedded file store: `policy.json` (the policy's fields, replaced atomically by a
//! fsynced temp file and a rename) and `audit.jsonl` (one entry a line, appended and
//! fsynced). A lock file serialises publishers.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufRead as _, BufReader, Seek as _, SeekFrom, Write as _};
use std::path::{Path, PathBuf};

use super::{AuditLog, AuditRecord, ModelBaseline, PolicyStore, Publication, TradingRecords};
use crate::error::StoreError;
use crate::policy::{Policy, field};
use crate::rotation::perf::Performance;

pub const POLICY_FILE: &str = "policy.json";
pub const PERFORMANCE_FILE: &str = "performance.json";
pub const MODELS_FILE: &str = "models_seen.json";
pub const AUDIT_FILE: &str = "audit.jsonl";
const LOCK_FILE: &str = ".lock";

#[derive(Debug)]
pub struct FileStore {
    dir: PathBuf,
}

impl FileStore {
    pub fn new(dir: PathBuf) -> Self {
        Self { dir }
    }

    fn error(&self, message: impl std::fmt::Display) -> StoreError {
        StoreError::new(self.describe(), message)
    }

    fn read_policy(&self) -> Result<Option<Policy>, StoreError> {
        let path = self.dir.join(POLICY_FILE);
        let text = match fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(self.error(format!("reading {}: {e}", path.display()))),
        };
        let fields: BTreeMap<String, String> = serde_json::from_str(&text)
            .map_err(|e| self.error(format!("{} is not a policy: {e}", path.display())))?;
        Ok(Some(Policy::from_fields(fields)))
    }

    fn publish_locked(&self, publication: &Publication) -> Result<(), StoreError> {
        let audit_path = self.dir.join(AUDIT_FILE);
        let mut audit = OpenOptions::new()
            .create(true)
            .read(true)
            .append(true)
            .open(&audit_path)
            .map_err(|e| self.error(format!("opening {}: {e}", audit_path.display())))?;
        let audit_len = self.repair_torn_tail(&mut audit, &audit_path)?;
        let mut line = serde_json::to_vec(&publication.audit).expect("strings serialise");
        line.push(b'\n');
        // a failed append (a full disk) is taken back to the last whole line
        if let Err(e) = audit.write_all(&line).and_then(|()| audit.sync_data()) {
            let restored = audit.set_len(audit_len).and_then(|()| audit.sync_data());
            return Err(self.error(match restored {
                Ok(()) => format!("appending to {}: {e}", audit_path.display()),
                Err(r) => format!(
                    "appending to {}: {e}; cutting it back to {audit_len} bytes failed too ({r}): its last line is torn and will be repaired by the next publish",
                    audit_path.display()
                ),
            }));
        }
        // the rename is the commit; if it fails, the audit line is taken back
        if let Err(e) = self.replace_policy(&publication.policy) {
            let _ = audit.set_len(audit_len).and_then(|()| audit.sync_data());
            return Err(e);
        }
        Ok(())
    }

    /// The audit file's length once a torn last line (a write a crash or a full disk cut
    /// off, with no line feed) is cut away, saying so on stderr.
    fn repair_torn_tail(&self, audit: &mut File, path: &Path) -> Result<u64, StoreError> {
        let io_error = |e: io::Error| self.error(format!("{}: {e}", path.display()));
        let len = audit.seek(SeekFrom::End(0)).map_err(io_error)?;
        let whole = whole_lines_len(audit, len).map_err(io_error)?;
        if whole < len {
            audit
                .set_len(whole)
                .and_then(|()| audit.sync_data())
                .map_err(io_error)?;
            crate::warn!(
                "universe: warning: {} ended in a torn line of {} bytes (a write was cut off); removed it",
                path.display(),
                len - whole
            );
        }
        Ok(whole)
    }

    fn replace_policy(&self, policy: &Policy) -> Result<(), StoreError> {
        self.replace_json(POLICY_FILE, policy.fields())
    }

    /// Runs `f` holding the store's lock, the folder created.
    fn locked<T>(
        &mut self,
        f: impl FnOnce(&mut Self) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        fs::create_dir_all(&self.dir)
            .map_err(|e| self.error(format!("creating the folder: {e}")))?;
        let lock =
            lock(&self.dir.join(LOCK_FILE)).map_err(|e| self.error(format!("locking: {e}")))?;
        let result = f(self);
        drop(lock);
        result
    }

    fn read_performance(&self) -> Result<BTreeMap<String, BTreeMap<String, String>>, StoreError> {
        Ok(self.read_json(PERFORMANCE_FILE)?.unwrap_or_default())
    }

    /// A JSON file of the store, `None` when it does not exist.
    fn read_json<T: serde::de::DeserializeOwned>(
        &self,
        name: &str,
    ) -> Result<Option<T>, StoreError> {
        let path = self.dir.join(name);
        match fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| self.error(format!("{} is not valid: {e}", path.display()))),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(self.error(format!("reading {}: {e}", path.display()))),
        }
    }

    /// Replaces a JSON file: temp file, fsync, rename, fsync of the folder.
    fn replace_json<T: serde::Serialize + ?Sized>(
        &self,
        name: &str,
        value: &T,
    ) -> Result<(), StoreError> {
        let path = self.dir.join(name);
        let temp = self.dir.join(format!(".{name}.{}.tmp", std::process::id()));
        let mut bytes = serde_json::to_vec_pretty(value).expect("strings serialise");
        bytes.push(b'\n');
        let write = || -> io::Result<()> {
            let mut file = File::create(&temp)?;
            file.write_all(&bytes)?;
            file.sync_all()?;
            fs::rename(&temp, &path)?;
            File::open(&self.dir)?.sync_all()
        };
        write().map_err(|e| {
            let _ = fs::remove_file(&temp);
            self.error(format!("writing {}: {e}", path.display()))
        })
    }
}

impl PolicyStore for FileStore {
    fn describe(&self) -> String {
        format!("file:{}", self.dir.display())
    }

    fn load_policy(&mut self) -> Result<Option<Policy>, StoreError> {
        self.read_policy()
    }

    /// The folder can be created, a file written in it, and the audit file appended to.
    fn preflight(&mut self) -> Result<(), StoreError> {
        self.locked(|store| {
            let probe = store.dir.join(format!(".probe.{}.tmp", std::process::id()));
            let written = File::create(&probe).and_then(|mut f| f.write_all(b"probe"));
            let _ = fs::remove_file(&probe);
            written.map_err(|e| {
                store.error(format!("cannot write in {}: {e}", store.dir.display()))
            })?;
            let audit = store.dir.join(AUDIT_FILE);
            if audit.exists() {
                OpenOptions::new().append(true).open(&audit).map_err(|e| {
                    store.error(format!("cannot append to {}: {e}", audit.display()))
                })?;
            }
            Ok(())
        })
    }

    fn publish(
        &mut self,
        publication: &Publication,
        expected_previous: Option<&str>,
    ) -> Result<(), StoreError> {
        fs::create_dir_all(&self.dir)
            .map_err(|e| self.error(format!("creating the folder: {e}")))?;
        let lock =
            lock(&self.dir.join(LOCK_FILE)).map_err(|e| self.error(format!("locking: {e}")))?;
        let current = self.read_policy()?;
        let current_hash = current.as_ref().and_then(|p| p.get(field::POLICY_HASH));
        if current_hash != expected_previous {
            return Err(self.error(format!(
                "the policy changed while this run computed (now {}); another generator is running",
                current_hash.unwrap_or("none")
            )));
        }
        let result = self.publish_locked(publication);
        drop(lock);
        result
    }
}

impl AuditLog for FileStore {
    fn recent_audit(&mut self, count: usize) -> Result<Vec<AuditRecord>, StoreError> {
        let mut trail = self.audit_trail()?;
        trail.reverse();
        trail.truncate(count);
        Ok(trail)
    }

    fn audit_trail(&mut self) -> Result<Vec<AuditRecord>, StoreError> {
        let path = self.dir.join(AUDIT_FILE);
        let file = match File::open(&path) {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(self.error(format!("reading {}: {e}", path.display()))),
        };
        let mut trail = Vec::new();
        let mut reader = BufReader::new(file);
        let mut line = String::new();
        for index in 0.. {
            line.clear();
            let read = reader
                .read_line(&mut line)
                .map_err(|e| self.error(format!("reading {}: {e}", path.display())))?;
            if read == 0 {
                break;
            }
            if !line.ends_with('\n') {
                // a write cut off by a crash or a full disk: not an entry, and not damage
                crate::warn!(
                    "universe: warning: {} ends in a torn line of {read} bytes (a write was cut off); ignoring it, the next publish removes it",
                    path.display()
                );
                break;
            }
            if line.trim().is_empty() {
                continue;
            }
            let fields = serde_json::from_str(&line).map_err(|e| {
                self.error(format!(
                    "{} line {}: not an audit entry: {e}",
                    path.display(),
                    index + 1
                ))
            })?;
            trail.push(AuditRecord {
                id: (index + 1).to_string(),
                fields,
            });
        }
        Ok(trail)
    }
}

impl TradingRecords for FileStore {
    fn held_symbols(&mut self) -> Result<BTreeSet<String>, StoreError> {
        Ok(BTreeSet::new())
    }

    fn performance(
        &mut self,
        symbols: &[String],
    ) -> Result<BTreeMap<String, Performance>, StoreError> {
        let all = self.read_performance()?;
        symbols
            .iter()
            .filter_map(|s| all.get(s).map(|fields| (s, fields)))
            .map(|(s, fields)| {
                Performance::from_fields(fields)
                    .map(|p| (s.clone(), p))
                    .map_err(|e| self.error(format!("{PERFORMANCE_FILE} {s}: {e}")))
            })
            .collect()
    }

    fn set_performance(
        &mut self,
        symbol: &str,
        record: &Performance,
    ) -> Result<Performance, StoreError> {
        self.locked(|store| {
            let mut all = store.read_performance()?;
            let fields = all.entry(symbol.to_owned()).or_default();
            let written = record.clone().over(fields);
            for (name, value) in written.to_fields() {
                fields.insert(name.to_owned(), value);
            }
            store.replace_json(PERFORMANCE_FILE, &all)?;
            Ok(written)
        })
    }

    fn performance_symbols(&mut self) -> Result<Vec<String>, StoreError> {
        Ok(self.read_performance()?.into_keys().collect())
    }
}

impl ModelBaseline for FileStore {
    fn seen_models(&mut self) -> Result<Option<BTreeSet<String>>, StoreError> {
        self.read_json(MODELS_FILE)
    }

    fn record_models(&mut self, models: &BTreeSet<String>) -> Result<(), StoreError> {
        self.locked(|store| {
            let mut seen: BTreeSet<String> = store.read_json(MODELS_FILE)?.unwrap_or_default();
            seen.extend(models.iter().cloned());
            store.replace_json(MODELS_FILE, &seen)
        })
    }
}

/// The length of `file` up to and including its last line feed (0 when it has none).
fn whole_lines_len(file: &mut File, len: u64) -> io::Result<u64> {
    use std::io::Read as _;
    let mut end = len;
    let mut buf = [0u8; 4096];
    while end > 0 {
        let start = end.saturating_sub(buf.len() as u64);
        let chunk = &mut buf[..(end - start) as usize];
        file.seek(SeekFrom::Start(start))?;
        file.read_exact(chunk)?;
        if let Some(i) = chunk.iter().rposition(|&b| b == b'\n') {
            return Ok(start + i as u64 + 1);
        }
        end = start;
    }
    Ok(0)
}

/// An exclusive lock held until the file is dropped.
fn lock(path: &Path) -> io::Result<File> {
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)?;
    file.lock()?;
    Ok(file)
}

#[cfg(test)]
mod tests;
