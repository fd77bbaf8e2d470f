//! The Redis store, in the layout the trading services already read: the hash
//! `quantum:policy:current` and the streams `quantum:stream:policy.audit` and
//! `quantum:stream:policy.update`.
//!
//! A publish is one MULTI/EXEC under WATCH: the old hash is deleted and rewritten (no
//! stale field survives), and both stream entries are added, or nothing happens. The
//! trade stream `perf ingest` reads is in [`trades`].

use std::collections::{BTreeMap, HashMap};

use redis::{Connection, Value};

use super::{
    AuditLog, AuditPage, AuditRecord, Failure, FailureLog, Keys, ModelBaseline, PerformanceRecords,
    PolicyStore, Publication, STREAM_MAX_LEN, TradingRecords,
};
use crate::error::{StoreError, StoreFault};
use crate::policy::{Policy, field};
use crate::rotation::perf::Performance;

pub struct RedisStore {
    connection: Connection,
    label: String,
    keys: Keys,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RedisStore({})", self.label)
    }
}

impl PolicyStore for RedisStore {
    fn describe(&self) -> String {
        self.label.clone()
    }

    fn preflight(&mut self) -> Result<(), StoreError> {
        let keys = [
            (self.keys.policy_key(), "hash"),
            (self.keys.audit_key(), "stream"),
            (self.keys.updates_key(), "stream"),
        ];
        let keys: Vec<(&str, &str)> = keys.iter().map(|(k, t)| (k.as_str(), *t)).collect();
        self.check_types(&keys)?;
        redis::cmd("UNWATCH")
            .exec(&mut self.connection)
            .map_err(|e| self.redis(&e))
    }

    fn load_policy(&mut self) -> Result<Option<Policy>, StoreError> {
        let policy_key = self.keys.policy_key();
        let fields: BTreeMap<String, String> = redis::cmd("HGETALL")
            .arg(&policy_key)
            .query(&mut self.connection)
            .map_err(|e| self.redis(&e))?;
        Ok((!fields.is_empty()).then(|| Policy::from_fields(fields)))
    }

    fn publish(
        &mut self,
        publication: &Publication,
        expected_previous: Option<&str>,
    ) -> Result<(), StoreError> {
        let policy_key = self.keys.policy_key();
        let (audit_key, updates_key) = (self.keys.audit_key(), self.keys.updates_key());
        // Redis does not roll a transaction back when one command in EXEC fails (a key of
        // the wrong type): every key the publish writes is WATCHed and its type checked
        // first, so the EXEC below cannot meet an error that would leave half a publish.
        self.check_types(&[
            (&policy_key, "hash"),
            (&audit_key, "stream"),
            (&updates_key, "stream"),
        ])?;
        let con = &mut self.connection;
        let current: Option<String> = redis::cmd("HGET")
            .arg(&policy_key)
            .arg(field::POLICY_HASH)
            .query(con)
            .map_err(|e| redis_error(&self.label, &e))?;
        if current.as_deref() != expected_previous {
            let _ = redis::cmd("UNWATCH").exec(con);
            return Err(StoreError::of(
                StoreFault::Conflict,
                self.label.clone(),
                format!(
                    "the policy changed while this run computed (now {}); another generator is running",
                    current.as_deref().unwrap_or("none")
                ),
            ));
        }
        let mut pipe = redis::pipe();
        pipe.atomic().cmd("DEL").arg(&policy_key).ignore();
        pipe.cmd("HSET").arg(&policy_key);
        for (name, value) in publication.policy.fields() {
            pipe.arg(name).arg(value);
        }
        pipe.ignore();
        for (stream, entry) in [
            (&audit_key, &publication.audit),
            (&updates_key, &publication.event),
        ] {
            pipe.cmd("XADD")
                .arg(stream)
                .arg("MAXLEN")
                .arg("~")
                .arg(STREAM_MAX_LEN)
                .arg("*");
            for (name, value) in entry {
                pipe.arg(name).arg(value);
            }
        }
        // EXEC answers nil when the WATCHed key changed: nothing was written
        let ids: Option<(String, String)> = pipe.query(con).map_err(|e| self.redis(&e))?;
        match ids {
            Some(_) => Ok(()),
            None => Err(self.error("the policy changed during the publish; nothing was written")),
        }
    }
}

impl AuditLog for RedisStore {
    fn audit_trail(&mut self) -> Result<Vec<AuditRecord>, StoreError> {
        let entries: Vec<(String, HashMap<String, Value>)> = redis::cmd("XRANGE")
            .arg(self.keys.audit_key())
            .arg("-")
            .arg("+")
            .query(&mut self.connection)
            .map_err(|e| self.redis(&e))?;
        Ok(self.records(entries))
    }

    fn recent_audit(&mut self, count: usize) -> Result<AuditPage, StoreError> {
        let entries: Vec<(String, HashMap<String, Value>)> = redis::cmd("XREVRANGE")
            .arg(self.keys.audit_key())
            .arg("+")
            .arg("-")
            .arg("COUNT")
            .arg(count)
            .query(&mut self.connection)
            .map_err(|e| self.redis(&e))?;
        Ok(AuditPage {
            entries: entries.len(),
            records: self.records(entries),
        })
    }
}

impl TradingRecords for RedisStore {
    fn held_symbols(&mut self) -> Result<std::collections::BTreeSet<String>, StoreError> {
        redis::cmd("SMEMBERS")
            .arg(self.keys.held_key())
            .query(&mut self.connection)
            .map_err(|e| self.redis(&e))
    }

    fn performance(&mut self, symbols: &[String]) -> Result<PerformanceRecords, StoreError> {
        let mut read = PerformanceRecords::default();
        if symbols.is_empty() {
            return Ok(read);
        }
        let mut pipe = redis::pipe();
        for symbol in symbols {
            pipe.cmd("HGETALL").arg(self.keys.performance_key(symbol));
        }
        let records: Vec<BTreeMap<Vec<u8>, Vec<u8>>> = pipe
            .query(&mut self.connection)
            .map_err(|e| self.redis(&e))?;
        let records = records.into_iter().map(text_fields);
        for (symbol, fields) in symbols.iter().zip(records) {
            if fields.is_empty() {
                continue;
            }
            match Performance::from_fields(&fields) {
                Ok(record) => {
                    read.records.insert(symbol.clone(), record);
                }
                Err(why) => {
                    let key = self.keys.performance_key(symbol);
                    read.unreadable
                        .insert(symbol.clone(), format!("{key}: {why}"));
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
        let key = self.keys.performance_key(symbol);
        loop {
            redis::cmd("WATCH")
                .arg(&key)
                .exec(&mut self.connection)
                .map_err(|e| self.redis(&e))?;
            let current = self.fields(&key)?;
            let written = record.clone().over(&current);
            let mut pipe = redis::pipe();
            pipe.atomic();
            hset(&mut pipe, &key, &written);
            // EXEC answers nil when another writer changed the record meanwhile: again
            let done: Option<()> = pipe
                .query(&mut self.connection)
                .map_err(|e| self.redis(&e))?;
            if done.is_some() {
                return Ok(written);
            }
        }
    }

    fn performance_symbols(&mut self) -> Result<Vec<String>, StoreError> {
        let pattern = self.keys.performance_key("*");
        let (head, tail) = pattern.split_once('*').expect("the pattern holds *");
        let label = self.label.clone();
        let keys: Vec<String> = redis::cmd("SCAN")
            .cursor_arg(0)
            .arg("MATCH")
            .arg(&pattern)
            .arg("COUNT")
            .arg(1000)
            .clone()
            .iter(&mut self.connection)
            .map_err(|e| redis_error(&label, &e))?
            .collect::<Result<_, _>>()
            .map_err(|e| redis_error(&label, &e))?;
        let mut symbols: Vec<String> = keys
            .iter()
            .filter_map(|k| k.strip_prefix(head)?.strip_suffix(tail).map(str::to_owned))
            .collect();
        symbols.sort();
        Ok(symbols)
    }
}

impl FailureLog for RedisStore {
    fn record_failure(&mut self, failure: &Failure) -> Result<(), StoreError> {
        let mut cmd = redis::cmd("HSET");
        cmd.arg(self.keys.failure_key());
        for (name, value) in failure.fields() {
            cmd.arg(name).arg(value);
        }
        cmd.exec(&mut self.connection).map_err(|e| self.redis(&e))
    }

    fn last_failure(&mut self) -> Result<Option<Failure>, StoreError> {
        let key = self.keys.failure_key();
        let read: Result<BTreeMap<Vec<u8>, Vec<u8>>, _> =
            redis::cmd("HGETALL").arg(&key).query(&mut self.connection);
        let fields = match read {
            Ok(fields) => text_fields(fields),
            // a key of another type: another program's
            Err(e) if e.code() == Some("WRONGTYPE") => {
                crate::warn!("universe: warning: skipping {key}: {e}");
                return Ok(None);
            }
            Err(e) => return Err(self.redis(&e)),
        };
        if fields.is_empty() {
            return Ok(None);
        }
        let failure = Failure::from_fields(&fields);
        if failure.is_none() {
            crate::warn!(
                "universe: warning: skipping {key}: not a failure record (at_epoch, outcome, reason, in_a_row)"
            );
        }
        Ok(failure)
    }
}

impl ModelBaseline for RedisStore {
    fn seen_models(&mut self) -> Result<Option<std::collections::BTreeSet<String>>, StoreError> {
        let text: Option<String> = redis::cmd("GET")
            .arg(self.keys.models_seen_key())
            .query(&mut self.connection)
            .map_err(|e| self.redis(&e))?;
        // a baseline another program garbled is skipped: the next scan records a new one
        Ok(text.and_then(|t| {
            serde_json::from_str(&t)
                .map_err(|e| {
                    crate::warn!(
                        "universe: warning: skipping {}: not a JSON list of model files ({e}); the next model scan records a new baseline",
                        self.keys.models_seen_key()
                    );
                })
                .ok()
        }))
    }

    fn record_models(
        &mut self,
        models: &std::collections::BTreeSet<String>,
    ) -> Result<(), StoreError> {
        let mut seen = self.seen_models()?.unwrap_or_default();
        seen.extend(models.iter().cloned());
        let text = serde_json::to_string(&seen).expect("strings serialise");
        redis::cmd("SET")
            .arg(self.keys.models_seen_key())
            .arg(text)
            .exec(&mut self.connection)
            .map_err(|e| self.redis(&e))
    }
}

/// Queues `HSET key` with the fields `universe` writes of `record` (never a DEL: the
/// record may hold another writer's fields).
fn hset(pipe: &mut redis::Pipeline, key: &str, record: &Performance) {
    pipe.cmd("HSET").arg(key);
    for (name, value) in record.to_fields() {
        pipe.arg(name).arg(value);
    }
    pipe.ignore();
}

impl RedisStore {
    /// Watches `keys` and checks that each is absent or of its expected type; on a wrong
    /// type nothing is written and the error names the key.
    fn check_types(&mut self, keys: &[(&str, &str)]) -> Result<(), StoreError> {
        let names: Vec<&str> = keys.iter().map(|(k, _)| *k).collect();
        redis::cmd("WATCH")
            .arg(&names)
            .exec(&mut self.connection)
            .map_err(|e| self.redis(&e))?;
        for (key, expected) in keys {
            let found: String = redis::cmd("TYPE")
                .arg(*key)
                .query(&mut self.connection)
                .map_err(|e| self.redis(&e))?;
            if found != "none" && found != *expected {
                let _ = redis::cmd("UNWATCH").exec(&mut self.connection);
                return Err(StoreError::of(
                    StoreFault::Foreign,
                    self.label.clone(),
                    format!(
                        "{key} holds a {found}, not a {expected}: another program wrote it; nothing was written"
                    ),
                ));
            }
        }
        Ok(())
    }

    fn fields(&mut self, key: &str) -> Result<BTreeMap<String, String>, StoreError> {
        redis::cmd("HGETALL")
            .arg(key)
            .query(&mut self.connection)
            .map(text_fields)
            .map_err(|e| self.redis(&e))
    }

    /// The audit entries whose every field is text; the others are skipped, each with a
    /// warning naming the entry and the field.
    fn records(&self, entries: Vec<(String, HashMap<String, Value>)>) -> Vec<AuditRecord> {
        let audit_key = self.keys.audit_key();
        entries
            .into_iter()
            .filter_map(|(id, map)| {
                let mut fields = BTreeMap::new();
                for (name, value) in map {
                    let Ok(value) = redis::from_redis_value::<String>(value) else {
                        crate::warn!(
                            "universe: warning: skipping audit entry {id} of {audit_key}: its field {} is not UTF-8 text",
                            crate::output::printable(&name)
                        );
                        return None;
                    };
                    fields.insert(name, value);
                }
                Some(AuditRecord { id, fields })
            })
            .collect()
    }
}

/// A hash's fields as text; a field that is not UTF-8 keeps its name with a value no
/// reader accepts, so the record is reported as unreadable, naming that field.
fn text_fields(raw: BTreeMap<Vec<u8>, Vec<u8>>) -> BTreeMap<String, String> {
    raw.into_iter()
        .map(|(name, value)| {
            let text = String::from_utf8(value)
                .unwrap_or_else(|e| format!("<{} bytes, not UTF-8>", e.as_bytes().len()));
            (String::from_utf8_lossy(&name).into_owned(), text)
        })
        .collect()
}

mod connection;
pub(crate) mod sentinel;
mod trades;
use connection::redis_error;
pub use trades::IngestReport;
