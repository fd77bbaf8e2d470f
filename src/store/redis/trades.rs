//! The trade stream: closed trades folded into the performance records through a
//! consumer group, each exactly once, with what another consumer left pending claimed.
//! The folding itself is domain logic ([`crate::rotation::perf::fold_trades`]); this
//! module only reads, claims and commits.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use redis::Value;

use super::{RedisStore, hset};
use crate::error::StoreError;
use crate::rotation::perf::{Trade, fold_trades};
use crate::store::TradingRecords as _;

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

impl IngestReport {
    /// An entry left pending, named once however often it is read.
    fn leave_pending(&mut self, id: String, why: String) {
        if !self.malformed.iter().any(|(seen, _)| *seen == id) {
            self.malformed.push((id, why));
        }
    }

    /// A committed batch: `trades` folded but for the `refused`, which stay pending.
    fn settle(&mut self, mut trades: Vec<(String, Trade)>, refused: Vec<(String, String)>) {
        self.ingested += (trades.len() - refused.len()) as u64;
        for (id, why) in refused {
            trades.retain(|(kept, _)| *kept != id);
            self.leave_pending(id, why);
        }
        self.symbols
            .extend(trades.into_iter().map(|(_, trade)| trade.symbol));
    }
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
        let others: Vec<(String, String)> = self
            .idle_pending(stream, group, idle_ms)?
            .into_iter()
            .filter(|(_, owner)| owner != consumer)
            .collect();
        if others.is_empty() {
            return Ok(());
        }
        report
            .claimed_from
            .extend(others.iter().map(|(_, owner)| owner.clone()));
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
                .map_err(|e| self.redis(&e))?;
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
                .filter(|id| others.iter().any(|(other, _)| other == *id))
                .count() as u64;
            if cursor == "0-0" {
                return Ok(());
            }
        }
    }

    /// `(id, owner)` of the entries pending for at least `idle_ms` (XPENDING's extended
    /// form with IDLE): who holds them, for the report.
    fn idle_pending(
        &mut self,
        stream: &str,
        group: &str,
        idle_ms: u64,
    ) -> Result<Vec<(String, String)>, StoreError> {
        let pending: Vec<(String, String, u64, u64)> = redis::cmd("XPENDING")
            .arg(stream)
            .arg(group)
            .arg("IDLE")
            .arg(idle_ms)
            .arg("-")
            .arg("+")
            .arg(100_000)
            .query(&mut self.connection)
            .map_err(|e| self.redis(&e))?;
        Ok(pending
            .into_iter()
            .map(|(id, owner, ..)| (id, owner))
            .collect())
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
            .map_err(|e| self.redis(&e))
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
            .map_err(|e| self.redis(&e))?;
        Ok(reply
            .into_iter()
            .flatten()
            .flat_map(|(_, entries)| entries)
            .collect())
    }

    /// Folds the well-formed trades of `entries` into their records and acknowledges
    /// them, in one transaction; malformed ones go to the report and stay pending.
    fn fold_batch(
        &mut self,
        stream: &str,
        group: &str,
        consumer: &str,
        entries: Vec<StreamEntry>,
        now: i64,
        report: &mut IngestReport,
    ) -> Result<(), StoreError> {
        let mut trades: Vec<(String, Trade)> = Vec::new();
        for (id, fields) in entries {
            match parse_entry(fields) {
                Ok(trade) => trades.push((id, trade)),
                Err(why) => report.leave_pending(id, why),
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
                .map_err(|e| self.redis(&e))?;
            // another consumer that folded any of these changed their records, so it did
            // so before this WATCH (and they are no longer pending) or the EXEC below fails
            let ids: Vec<&str> = trades.iter().map(|(id, _)| id.as_str()).collect();
            let owned = self.still_owned(stream, group, consumer, &ids)?;
            if owned.len() < trades.len() {
                let _ = redis::cmd("UNWATCH").exec(&mut self.connection);
                trades.retain(|(id, _)| owned.contains(id));
                continue;
            }
            // EXEC answers nil when a record changed meanwhile: read again and retry
            let Some(refused) = self.commit_batch(stream, group, &symbols, &trades, now)? else {
                continue;
            };
            report.settle(trades, refused);
            return Ok(());
        }
    }

    /// Under the WATCH `fold_batch` set: the records with `trades` folded in and the
    /// folded trades' XACK, as one MULTI/EXEC. `None` when a watched record changed
    /// meanwhile; otherwise the trades refused (a record that cannot be read, a fold
    /// that would overflow it), which stay pending and leave their records as they were.
    fn commit_batch(
        &mut self,
        stream: &str,
        group: &str,
        symbols: &[String],
        trades: &[(String, Trade)],
        now: i64,
    ) -> Result<Option<Vec<(String, String)>>, StoreError> {
        let read = self.performance(symbols)?;
        let mut records = read.records;
        let refused = fold_trades(&mut records, &read.unreadable, trades, now);
        let folded: std::collections::BTreeSet<&str> = trades
            .iter()
            .filter(|(id, _)| !refused.iter().any(|(r, _)| r == id))
            .map(|(_, t)| t.symbol.as_str())
            .collect();
        let mut pipe = redis::pipe();
        pipe.atomic();
        for (symbol, record) in records.iter().filter(|(s, _)| folded.contains(s.as_str())) {
            hset(&mut pipe, &self.keys.performance_key(symbol), record);
        }
        let acked: Vec<&str> = trades
            .iter()
            .map(|(id, _)| id.as_str())
            .filter(|id| !refused.iter().any(|(r, _)| r == id))
            .collect();
        if !acked.is_empty() {
            pipe.cmd("XACK").arg(stream).arg(group).arg(&acked).ignore();
        }
        // an empty transaction still answers: nil when a watched record changed
        let done: Option<()> = pipe
            .query(&mut self.connection)
            .map_err(|e| self.redis(&e))?;
        Ok(done.map(|()| refused))
    }
}

/// A stream entry as a trade, or what is wrong with it.
fn parse_entry(fields: Option<HashMap<String, Value>>) -> Result<Trade, String> {
    let fields = fields.ok_or_else(|| "the entry was deleted from the stream".to_owned())?;
    let fields = fields
        .into_iter()
        .map(|(k, v)| {
            redis::from_redis_value::<String>(v)
                .map(|v| (k, v))
                .map_err(|e| e.to_string())
        })
        .collect::<Result<BTreeMap<_, _>, _>>()?;
    Trade::parse(&fields)
}
