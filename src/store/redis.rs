//! The Redis store, in the layout the trading services already read: the hash
//! `quantum:policy:current` and the streams `quantum:stream:policy.audit` and
//! `quantum:stream:policy.update`.
//!
//! A publish is one MULTI/EXEC under WATCH: the old hash is deleted and rewritten (no
//! stale field survives), and both stream entries are added, or nothing happens.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use redis::{Connection, Value};

use super::{
    AuditLog, AuditRecord, Keys, ModelBaseline, PolicyStore, Publication, RedisUrl, STREAM_MAX_LEN,
    TradingRecords,
};
use crate::error::StoreError;
use crate::policy::{Policy, field};
use crate::rotation::perf::Performance;

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
    pub fn connect(
        url: &RedisUrl,
        keys: Keys,
        tls_ca: Option<&std::path::Path>,
    ) -> Result<Self, StoreError> {
        let label = url.to_string();
        let fail = |e: redis::RedisError| StoreError::new(label.clone(), e);
        let client = match tls_ca {
            Some(ca) => {
                let pem = std::fs::read(ca).map_err(|e| {
                    StoreError::new(
                        label.clone(),
                        format!("store.tls_ca_file {}: {e}", ca.display()),
                    )
                })?;
                let certificates = redis::TlsCertificates {
                    client_tls: None,
                    root_cert: Some(pem),
                };
                redis::Client::build_with_tls(url.expose(), certificates).map_err(fail)?
            }
            None => redis::Client::open(url.expose()).map_err(fail)?,
        };
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
            .map_err(|e| self.error(e))
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
}

impl AuditLog for RedisStore {
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
}

impl TradingRecords for RedisStore {
    fn held_symbols(&mut self) -> Result<std::collections::BTreeSet<String>, StoreError> {
        redis::cmd("SMEMBERS")
            .arg(self.keys.held_key())
            .query(&mut self.connection)
            .map_err(|e| self.error(e))
    }

    fn performance(
        &mut self,
        symbols: &[String],
    ) -> Result<BTreeMap<String, Performance>, StoreError> {
        if symbols.is_empty() {
            return Ok(BTreeMap::new());
        }
        let mut pipe = redis::pipe();
        for symbol in symbols {
            pipe.cmd("HGETALL").arg(self.keys.performance_key(symbol));
        }
        let records: Vec<BTreeMap<String, String>> = pipe
            .query(&mut self.connection)
            .map_err(|e| self.error(e))?;
        let mut found = BTreeMap::new();
        for (symbol, fields) in symbols.iter().zip(records) {
            if fields.is_empty() {
                continue;
            }
            let record = Performance::from_fields(&fields)
                .map_err(|e| self.error(format!("{}: {e}", self.keys.performance_key(symbol))))?;
            found.insert(symbol.clone(), record);
        }
        Ok(found)
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
                .map_err(|e| self.error(e))?;
            let current = self.fields(&key)?;
            let written = record.clone().over(&current);
            let mut pipe = redis::pipe();
            pipe.atomic();
            hset(&mut pipe, &key, &written);
            // EXEC answers nil when another writer changed the record meanwhile: again
            let done: Option<()> = pipe
                .query(&mut self.connection)
                .map_err(|e| self.error(e))?;
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
            .map_err(|e| StoreError::new(label.clone(), e))?
            .collect::<Result<_, _>>()
            .map_err(|e| StoreError::new(label, e))?;
        let mut symbols: Vec<String> = keys
            .iter()
            .filter_map(|k| k.strip_prefix(head)?.strip_suffix(tail).map(str::to_owned))
            .collect();
        symbols.sort();
        Ok(symbols)
    }
}

impl ModelBaseline for RedisStore {
    fn seen_models(&mut self) -> Result<Option<std::collections::BTreeSet<String>>, StoreError> {
        let text: Option<String> = redis::cmd("GET")
            .arg(self.keys.models_seen_key())
            .query(&mut self.connection)
            .map_err(|e| self.error(e))?;
        text.map(|t| {
            serde_json::from_str(&t)
                .map_err(|e| self.error(format!("{}: {e}", self.keys.models_seen_key())))
        })
        .transpose()
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
            .map_err(|e| self.error(e))
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
            .map_err(|e| self.error(e))?;
        for (key, expected) in keys {
            let found: String = redis::cmd("TYPE")
                .arg(*key)
                .query(&mut self.connection)
                .map_err(|e| self.error(e))?;
            if found != "none" && found != *expected {
                let _ = redis::cmd("UNWATCH").exec(&mut self.connection);
                return Err(self.error(format!(
                    "{key} holds a {found}, not a {expected}: another program wrote it; nothing was written"
                )));
            }
        }
        Ok(())
    }

    fn fields(&mut self, key: &str) -> Result<BTreeMap<String, String>, StoreError> {
        redis::cmd("HGETALL")
            .arg(key)
            .query(&mut self.connection)
            .map_err(|e| self.error(e))
    }

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

/// What one `perf ingest` run did.
#[derive(Debug, Default, serde::Serialize)]
pub struct IngestReport {
    /// Trades folded into records (and acknowledged) by this run.
    pub ingested: u64,
    /// Entries left pending: (stream id, what is wrong).
    pub malformed: Vec<(String, String)>,
    /// Entries another consumer had read and left idle (killed half-way, say), claimed
    /// by this run before it read anything new.
    pub claimed: u64,
    /// The consumers they were claimed from.
    pub claimed_from: std::collections::BTreeSet<String>,
    /// Symbols whose records changed.
    pub symbols: std::collections::BTreeSet<String>,
}

/// One stream entry as XREADGROUP gives it; fields are `None` for a deleted entry.
type StreamEntry = (String, Option<HashMap<String, Value>>);
type StreamReply = Option<Vec<(String, Vec<StreamEntry>)>>;

impl RedisStore {
    /// Folds closed trades from the trade stream into the performance records, through
    /// the consumer group `store.trades_group` as `consumer`.
    ///
    /// Exactly once: a batch's record updates and its XACK are one MULTI/EXEC under WATCH
    /// of the records, so a trade is either folded in and acknowledged, or neither. A run
    /// first re-reads its own pending entries (a killed run's batch), then new ones.
    /// Malformed entries are reported and left pending, never acknowledged.
    ///
    /// Entries another consumer read and left pending for at least `claim_idle` (a run
    /// killed half-way under another consumer name) are claimed first (XAUTOCLAIM), so no
    /// batch is stranded; a batch is folded only while this consumer still owns its
    /// entries, so a claimed batch is never folded twice.
    pub fn ingest_trades(
        &mut self,
        consumer: &str,
        batch: usize,
        claim_idle: Duration,
        now: i64,
    ) -> Result<IngestReport, StoreError> {
        let stream = self.keys.trades_key();
        let group = self.keys.trades_group.clone();
        let created: redis::RedisResult<()> = redis::cmd("XGROUP")
            .arg("CREATE")
            .arg(&stream)
            .arg(&group)
            .arg("0")
            .arg("MKSTREAM")
            .query(&mut self.connection);
        if let Err(e) = created
            && e.code() != Some("BUSYGROUP")
        {
            return Err(self.error(e));
        }
        let mut report = IngestReport::default();
        self.claim_idle(&stream, &group, consumer, claim_idle, &mut report)?;
        // pending first (from a run that stopped half-way), then new entries
        let mut cursor = "0".to_owned();
        loop {
            let entries = self.read_group(&stream, &group, consumer, batch, &cursor)?;
            let Some(last) = entries.last() else { break };
            cursor.clone_from(&last.0);
            self.fold_batch(&stream, &group, consumer, entries, now, &mut report)?;
        }
        loop {
            let entries = self.read_group(&stream, &group, consumer, batch, ">")?;
            if entries.is_empty() {
                break;
            }
            self.fold_batch(&stream, &group, consumer, entries, now, &mut report)?;
        }
        Ok(report)
    }

    /// Claims the entries other consumers left pending for at least `idle`.
    fn claim_idle(
        &mut self,
        stream: &str,
        group: &str,
        consumer: &str,
        idle: Duration,
        report: &mut IngestReport,
    ) -> Result<(), StoreError> {
        let idle_ms = u64::try_from(idle.as_millis()).unwrap_or(u64::MAX);
        // who holds idle entries, for the report (XPENDING's extended form with IDLE)
        let pending: Vec<(String, String, u64, u64)> = redis::cmd("XPENDING")
            .arg(stream)
            .arg(group)
            .arg("IDLE")
            .arg(idle_ms)
            .arg("-")
            .arg("+")
            .arg(100_000)
            .query(&mut self.connection)
            .map_err(|e| self.error(e))?;
        let others: Vec<&(String, String, u64, u64)> = pending
            .iter()
            .filter(|(_, owner, ..)| owner != consumer)
            .collect();
        if others.is_empty() {
            return Ok(());
        }
        report
            .claimed_from
            .extend(others.iter().map(|(_, owner, ..)| owner.clone()));
        let mut cursor = "0-0".to_owned();
        loop {
            let reply: Vec<Value> = redis::cmd("XAUTOCLAIM")
                .arg(stream)
                .arg(group)
                .arg(consumer)
                .arg(idle_ms)
                .arg(&cursor)
                .arg("COUNT")
                .arg(1000)
                .arg("JUSTID")
                .query(&mut self.connection)
                .map_err(|e| self.error(e))?;
            let mut parts = reply.into_iter();
            cursor = parts
                .next()
                .and_then(|v| redis::from_redis_value(v).ok())
                .unwrap_or_else(|| "0-0".to_owned());
            let ids: Vec<String> = parts
                .next()
                .and_then(|v| redis::from_redis_value(v).ok())
                .unwrap_or_default();
            report.claimed += ids
                .iter()
                .filter(|id| others.iter().any(|(other, ..)| other == *id))
                .count() as u64;
            if cursor == "0-0" {
                return Ok(());
            }
        }
    }

    /// Of `ids`, those still pending in the group, now owned by `consumer`: an entry
    /// another consumer folded and acknowledged meanwhile is not among them.
    fn still_owned(
        &mut self,
        stream: &str,
        group: &str,
        consumer: &str,
        ids: &[&str],
    ) -> Result<std::collections::BTreeSet<String>, StoreError> {
        redis::cmd("XCLAIM")
            .arg(stream)
            .arg(group)
            .arg(consumer)
            .arg(0)
            .arg(ids)
            .arg("JUSTID")
            .query(&mut self.connection)
            .map_err(|e| self.error(e))
    }

    fn read_group(
        &mut self,
        stream: &str,
        group: &str,
        consumer: &str,
        count: usize,
        from: &str,
    ) -> Result<Vec<StreamEntry>, StoreError> {
        let reply: StreamReply = redis::cmd("XREADGROUP")
            .arg("GROUP")
            .arg(group)
            .arg(consumer)
            .arg("COUNT")
            .arg(count)
            .arg("STREAMS")
            .arg(stream)
            .arg(from)
            .query(&mut self.connection)
            .map_err(|e| self.error(e))?;
        Ok(reply
            .into_iter()
            .flatten()
            .flat_map(|(_, entries)| entries)
            .collect())
    }

    fn fold_batch(
        &mut self,
        stream: &str,
        group: &str,
        consumer: &str,
        entries: Vec<StreamEntry>,
        now: i64,
        report: &mut IngestReport,
    ) -> Result<(), StoreError> {
        use crate::rotation::perf::Trade;
        let mut trades: Vec<(String, Trade)> = Vec::new();
        for (id, fields) in entries {
            let parsed = fields
                .ok_or_else(|| "the entry was deleted from the stream".to_owned())
                .and_then(|fields| {
                    fields
                        .into_iter()
                        .map(|(k, v)| {
                            redis::from_redis_value::<String>(v)
                                .map(|v| (k, v))
                                .map_err(|e| e.to_string())
                        })
                        .collect::<Result<BTreeMap<_, _>, _>>()
                })
                .and_then(|fields| Trade::parse(&fields));
            match parsed {
                Ok(trade) => trades.push((id, trade)),
                Err(why) => {
                    if !report.malformed.iter().any(|(seen, _)| seen == &id) {
                        report.malformed.push((id, why));
                    }
                }
            }
        }
        loop {
            if trades.is_empty() {
                return Ok(());
            }
            let symbols: Vec<String> = trades
                .iter()
                .map(|(_, t)| t.symbol.clone())
                .collect::<std::collections::BTreeSet<_>>()
                .into_iter()
                .collect();
            let keys: Vec<String> = symbols
                .iter()
                .map(|s| self.keys.performance_key(s))
                .collect();
            redis::cmd("WATCH")
                .arg(&keys)
                .exec(&mut self.connection)
                .map_err(|e| self.error(e))?;
            // another consumer that folded any of these changed their records, so it did
            // so before this WATCH (and they are no longer pending) or the EXEC below fails
            let ids: Vec<&str> = trades.iter().map(|(id, _)| id.as_str()).collect();
            let owned = self.still_owned(stream, group, consumer, &ids)?;
            if owned.len() < trades.len() {
                let _ = redis::cmd("UNWATCH").exec(&mut self.connection);
                trades.retain(|(id, _)| owned.contains(id));
                continue;
            }
            let mut records = self.performance(&symbols)?;
            crate::rotation::perf::fold_trades(&mut records, trades.iter().map(|(_, t)| t), now);
            let mut pipe = redis::pipe();
            pipe.atomic();
            for (symbol, record) in &records {
                hset(&mut pipe, &self.keys.performance_key(symbol), record);
            }
            pipe.cmd("XACK").arg(stream).arg(group);
            for (id, _) in &trades {
                pipe.arg(id);
            }
            // EXEC answers nil when a record changed meanwhile: read again and retry
            let acked: Option<(u64,)> = pipe
                .query(&mut self.connection)
                .map_err(|e| self.error(e))?;
            if acked.is_some() {
                report.ingested += trades.len() as u64;
                report.symbols.extend(symbols);
                return Ok(());
            }
        }
    }
}
