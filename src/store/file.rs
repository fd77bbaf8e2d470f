//! The embedded file store: `policy.json` (the policy's fields, replaced atomically by a
//! fsynced temp file and a rename) and `audit.jsonl` (one entry a line, appended and
//! fsynced). A lock file serialises publishers.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};

use super::{
    Failure, FailureLog, ModelBaseline, PerformanceRecords, PolicyStore, Publication,
    TradingRecords,
};
use crate::error::{StoreError, StoreFault};
use crate::policy::{Policy, field};
use crate::rotation::perf::Performance;

pub const POLICY_FILE: &str = "policy.json";
pub const PERFORMANCE_FILE: &str = "performance.json";
pub const MODELS_FILE: &str = "models_seen.json";
pub const AUDIT_FILE: &str = "audit.jsonl";
pub const FAILURE_FILE: &str = "last_failure.json";
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

    /// The performance file, each symbol's record as another writer may have left it.
    fn read_performance(&self) -> Result<BTreeMap<String, serde_json::Value>, StoreError> {
        Ok(self.read_json(PERFORMANCE_FILE)?.unwrap_or_default())
    }

    /// The model files seen; a file that cannot be read is skipped with a warning, and
    /// the next scan records a new baseline.
    fn read_models(&self) -> Option<BTreeSet<String>> {
        self.read_json(MODELS_FILE)
            .map_err(|e| {
                crate::warn!(
                    "universe: warning: skipping {e}; the next model scan records a new baseline"
                );
            })
            .ok()
            .flatten()
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
            return Err(StoreError::of(
                StoreFault::Conflict,
                self.describe(),
                format!(
                    "the policy changed while this run computed (now {}); another generator is running",
                    current_hash.unwrap_or("none")
                ),
            ));
        }
        let result = self.publish_locked(publication);
        drop(lock);
        result
    }
}

impl TradingRecords for FileStore {
    fn held_symbols(&mut self) -> Result<BTreeSet<String>, StoreError> {
        Ok(BTreeSet::new())
    }

    fn performance(&mut self, symbols: &[String]) -> Result<PerformanceRecords, StoreError> {
        let mut read = PerformanceRecords::default();
        let all = match self.read_performance() {
            Ok(all) => all,
            Err(e) => {
                // the whole file unreadable: no record can be judged; writes refuse it
                for symbol in symbols {
                    read.unreadable.insert(symbol.clone(), e.message.clone());
                }
                return Ok(read);
            }
        };
        for symbol in symbols {
            let Some(value) = all.get(symbol) else {
                continue;
            };
            match text_record(value).and_then(|fields| Performance::from_fields(&fields)) {
                Ok(record) => {
                    read.records.insert(symbol.clone(), record);
                }
                Err(why) => {
                    let why = format!("{PERFORMANCE_FILE} {symbol}: {why}");
                    read.unreadable.insert(symbol.clone(), why);
                }
            }
        }
        Ok(read)
    }

    fn set_performance(
        &mut self,
        symbol: &str,
        record: &Performance,
    ) -> Result<Performance, StoreError> {
        self.locked(|store| {
            let mut all = store.read_performance()?;
            let entry = all
                .entry(symbol.to_owned())
                .or_insert_with(|| serde_json::Value::Object(serde_json::Map::new()));
            let serde_json::Value::Object(fields) = entry else {
                return Err(store.error(format!(
                    "{PERFORMANCE_FILE} {symbol} is not a record of fields; not overwriting another writer's data"
                )));
            };
            let current: BTreeMap<String, String> = fields
                .iter()
                .map(|(k, v)| (k.clone(), v.as_str().map_or_else(|| v.to_string(), str::to_owned)))
                .collect();
            let written = record.clone().over(&current);
            for (name, value) in written.to_fields() {
                fields.insert(name.to_owned(), serde_json::Value::String(value));
            }
            store.replace_json(PERFORMANCE_FILE, &all)?;
            Ok(written)
        })
    }

    fn performance_symbols(&mut self) -> Result<Vec<String>, StoreError> {
        match self.read_performance() {
            Ok(all) => Ok(all.into_keys().collect()),
            Err(e) => {
                crate::warn!("universe: warning: skipping every performance record: {e}");
                Ok(Vec::new())
            }
        }
    }
}

impl FailureLog for FileStore {
    fn record_failure(&mut self, failure: &Failure) -> Result<(), StoreError> {
        self.locked(|store| store.replace_json(FAILURE_FILE, failure))
    }

    fn last_failure(&mut self) -> Result<Option<Failure>, StoreError> {
        let path = self.dir.join(FAILURE_FILE);
        let Ok(bytes) = fs::read(&path) else {
            return Ok(None);
        };
        let failure = serde_json::from_slice(&bytes);
        if let Err(e) = &failure {
            crate::warn!("universe: warning: skipping {}: {e}", path.display());
        }
        Ok(failure.ok())
    }
}

impl ModelBaseline for FileStore {
    fn seen_models(&mut self) -> Result<Option<BTreeSet<String>>, StoreError> {
        Ok(self.read_models())
    }

    fn record_models(&mut self, models: &BTreeSet<String>) -> Result<(), StoreError> {
        self.locked(|store| {
            let mut seen = store.read_models().unwrap_or_default();
            seen.extend(models.iter().cloned());
            store.replace_json(MODELS_FILE, &seen)
        })
    }
}

/// One symbol's record of the performance file as text fields (numbers written by
/// another program are taken as their text), or what keeps it from being one.
fn text_record(value: &serde_json::Value) -> Result<BTreeMap<String, String>, String> {
    let serde_json::Value::Object(fields) = value else {
        return Err("is not a record of fields".into());
    };
    fields
        .iter()
        .map(|(name, value)| match value {
            serde_json::Value::String(text) => Ok((name.clone(), text.clone())),
            serde_json::Value::Number(n) => Ok((name.clone(), n.to_string())),
            other => Err(format!("field {name} is {other}, not text")),
        })
        .collect()
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

mod audit;
#[cfg(test)]
mod tests;
