//! The Redis store, in the layout the trading services already read: the hash
//! `quantum:policy:current` and the streams `quantum:stream:policy.audit` and
//! `quantum:stream:policy.update`.
//!
//! A publish is one MULTI/EXEC under WATCH: the old hash is deleted and rewritten (no
//! stale field survives), and both stream entries are added, or nothing happens.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use redis::{Connection, Value};

use super::{AuditRecord, Keys, Publication, RedisUrl, STREAM_MAX_LEN, Store};
use crate::error::StoreError;
use crate::policy::{Policy, field};

const TIMEOUT: Duration = Duration::from_secs(5);

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

impl RedisStore {
    pub fn connect(url: &RedisUrl, keys: Keys) -> Result<Self, StoreError> {
        let label = url.to_string();
        let fail = |e: redis::RedisError| StoreError::new(label.clone(), e);
        let client = redis::Client::open(url.expose()).map_err(fail)?;
        let connection = client.get_connection_with_timeout(TIMEOUT).map_err(fail)?;
        connection.set_read_timeout(Some(TIMEOUT)).map_err(fail)?;
        connection.set_write_timeout(Some(TIMEOUT)).map_err(fail)?;
        Ok(Self {
            connection,
            label,
            keys,
        })
    }

    fn error(&self, error: impl std::fmt::Display) -> StoreError {
        StoreError::new(self.label.clone(), error)
    }
}

impl Store for RedisStore {
    fn describe(&self) -> String {
        self.label.clone()
    }

    fn load_policy(&mut self) -> Result<Option<Policy>, StoreError> {
        let policy_key = self.keys.policy_key();
        let fields: BTreeMap<String, String> = redis::cmd("HGETALL")
            .arg(&policy_key)
            .query(&mut self.connection)
            .map_err(|e| self.error(e))?;
        Ok((!fields.is_empty()).then(|| Policy::from_fields(fields)))
    }

    fn publish(
        &mut self,
        publication: &Publication,
        expected_previous: Option<&str>,
    ) -> Result<(), StoreError> {
        let policy_key = self.keys.policy_key();
        let (audit_key, updates_key) = (self.keys.audit_key(), self.keys.updates_key());
        let con = &mut self.connection;
        redis::cmd("WATCH")
            .arg(&policy_key)
            .exec(con)
            .map_err(|e| StoreError::new(self.label.clone(), e))?;
        let current: Option<String> = redis::cmd("HGET")
            .arg(&policy_key)
            .arg(field::POLICY_HASH)
            .query(con)
            .map_err(|e| StoreError::new(self.label.clone(), e))?;
        if current.as_deref() != expected_previous {
            let _ = redis::cmd("UNWATCH").exec(con);
            return Err(self.error(format!(
                "the policy changed while this run computed (now {}); another generator is running",
                current.as_deref().unwrap_or("none")
            )));
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
        let ids: Option<(String, String)> = pipe
            .query(con)
            .map_err(|e| StoreError::new(self.label.clone(), e))?;
        match ids {
            Some(_) => Ok(()),
            None => Err(self.error("the policy changed during the publish; nothing was written")),
        }
    }

    fn audit_trail(&mut self) -> Result<Vec<AuditRecord>, StoreError> {
        let entries: Vec<(String, HashMap<String, Value>)> = redis::cmd("XRANGE")
            .arg(self.keys.audit_key())
            .arg("-")
            .arg("+")
            .query(&mut self.connection)
            .map_err(|e| self.error(e))?;
        self.records(entries)
    }

    fn recent_audit(&mut self, count: usize) -> Result<Vec<AuditRecord>, StoreError> {
        let entries: Vec<(String, HashMap<String, Value>)> = redis::cmd("XREVRANGE")
            .arg(self.keys.audit_key())
            .arg("+")
            .arg("-")
            .arg("COUNT")
            .arg(count)
            .query(&mut self.connection)
            .map_err(|e| self.error(e))?;
        self.records(entries)
    }

    fn held_symbols(&mut self) -> Result<std::collections::BTreeSet<String>, StoreError> {
        redis::cmd("SMEMBERS")
            .arg(self.keys.held_key())
            .query(&mut self.connection)
            .map_err(|e| self.error(e))
    }
}

impl RedisStore {
    fn records(
        &self,
        entries: Vec<(String, HashMap<String, Value>)>,
    ) -> Result<Vec<AuditRecord>, StoreError> {
        entries
            .into_iter()
            .map(|(id, map)| {
                let fields = map
                    .into_iter()
                    .map(|(name, value)| {
                        redis::from_redis_value::<String>(value)
                            .map(|v| (name, v))
                            .map_err(|e| self.error(format!("audit entry {id}: {e}")))
                    })
                    .collect::<Result<_, _>>()?;
                Ok(AuditRecord { id, fields })
            })
            .collect()
    }
}
