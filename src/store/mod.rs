//! Where policies are published: Redis (what the trading services read) or the embedded
//! file store. Both keep the same fields, and `show`, `proof` and `diff-hash` read them
//! the same way.
//!
//! A publish is all or nothing, and a compare-and-swap: it succeeds only if the current
//! policy is still the one the run read, so two generators can never interleave.

mod file;
pub mod memory;
mod redact;
mod redis;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use crate::error::{StoreError, UsageError};
use crate::policy::Policy;

pub use file::FileStore;
pub use redact::{redact, redact_all, redact_unparsed};
pub use redis::{IngestReport, RedisStore};

/// Streams are trimmed to about this many entries.
pub const STREAM_MAX_LEN: usize = 10_000;

/// Redis key names: `prefix` followed by each name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keys {
    pub prefix: String,
    /// The hash of the current policy.
    pub policy: String,
    /// The stream of audit entries, one per publish.
    pub audit: String,
    /// The stream of `policy.updated` events, one per publish.
    pub updates: String,
    /// The set of symbols with open positions (read, never written).
    pub held: String,
    /// Per-symbol performance hashes; `{SYMBOL}` stands for the symbol.
    pub performance: String,
    /// The model files already seen (a JSON list in a string key).
    pub models_seen: String,
    /// The stream of closed trades `perf ingest` reads, and its consumer group.
    pub trades: String,
    pub trades_group: String,
    /// The last refresh that failed (a hash).
    pub failure: String,
}

impl Default for Keys {
    fn default() -> Self {
        Self {
            prefix: "quantum:".into(),
            policy: "policy:current".into(),
            audit: "stream:policy.audit".into(),
            updates: "stream:policy.update".into(),
            held: "positions:open".into(),
            performance: "symbol:performance:{SYMBOL}".into(),
            models_seen: "models:seen".into(),
            trades: "stream:trade.closed".into(),
            trades_group: "universe".into(),
            failure: "refresh:last_failure".into(),
        }
    }
}

impl Keys {
    pub fn policy_key(&self) -> String {
        format!("{}{}", self.prefix, self.policy)
    }
    pub fn audit_key(&self) -> String {
        format!("{}{}", self.prefix, self.audit)
    }
    pub fn updates_key(&self) -> String {
        format!("{}{}", self.prefix, self.updates)
    }
    pub fn held_key(&self) -> String {
        format!("{}{}", self.prefix, self.held)
    }
    pub fn performance_key(&self, symbol: &str) -> String {
        format!(
            "{}{}",
            self.prefix,
            self.performance.replace("{SYMBOL}", symbol)
        )
    }
    pub fn models_seen_key(&self) -> String {
        format!("{}{}", self.prefix, self.models_seen)
    }
    pub fn trades_key(&self) -> String {
        format!("{}{}", self.prefix, self.trades)
    }
    pub fn failure_key(&self) -> String {
        format!("{}{}", self.prefix, self.failure)
    }
}

/// One publish: the policy, its audit entry and the update event, written together.
#[derive(Debug, Clone)]
pub struct Publication {
    pub policy: Policy,
    pub audit: BTreeMap<String, String>,
    pub event: BTreeMap<String, String>,
}

/// One audit entry as read back, oldest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRecord {
    /// The stream entry id (Redis) or the line number (file store).
    pub id: String,
    pub fields: BTreeMap<String, String>,
}

/// The performance records of some symbols as read: those that read whole, and those
/// another program left in a form that cannot be read, skipped (symbol → the key and the
/// field at fault). A record that cannot be read is never a reason to stop a refresh.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct PerformanceRecords {
    pub records: BTreeMap<String, crate::rotation::perf::Performance>,
    pub unreadable: BTreeMap<String, String>,
}

impl PerformanceRecords {
    /// One warning on stderr for each record skipped.
    pub fn warn_unreadable(&self) {
        for why in self.unreadable.values() {
            crate::warn!(
                "universe: warning: skipping the performance record {}; rotation cannot judge that symbol",
                crate::output::printable(why)
            );
        }
    }
}

/// The newest audit entries that read whole, and how many entries were read in all
/// (entries that cannot be read are skipped, with a warning naming them).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct AuditPage {
    pub records: Vec<AuditRecord>,
    pub entries: usize,
}

/// Where the policy lives: the current one, and the next one published with its audit
/// entry and update event in one step.
pub trait PolicyStore {
    /// The location, password redacted.
    fn describe(&self) -> String;
    fn load_policy(&mut self) -> Result<Option<Policy>, StoreError>;
    /// Publishes if the current policy's `policy_hash` is still `expected_previous`.
    fn publish(
        &mut self,
        publication: &Publication,
        expected_previous: Option<&str>,
    ) -> Result<(), StoreError>;
    /// Checks, before a refresh spends any exchange weight, that a publish could go
    /// through: Redis keys of the right types, a file store's folder writable.
    fn preflight(&mut self) -> Result<(), StoreError> {
        Ok(())
    }
}

/// The audit trail, read back.
pub trait AuditLog {
    /// The whole audit trail, oldest first. An entry that cannot be read (a field that
    /// is not text, a line that is not JSON) is skipped with a warning naming it.
    fn audit_trail(&mut self) -> Result<Vec<AuditRecord>, StoreError>;
    /// The newest `count` audit entries, newest first, those that cannot be read skipped.
    fn recent_audit(&mut self, count: usize) -> Result<AuditPage, StoreError>;
}

/// What the trading side records: open positions and per-symbol results.
pub trait TradingRecords {
    /// Symbols with open positions, as the trading side records them (Redis only; the
    /// file store has none).
    fn held_symbols(&mut self) -> Result<std::collections::BTreeSet<String>, StoreError>;
    /// The performance records of `symbols` that exist; those that cannot be read are
    /// named in `unreadable`, not an error.
    fn performance(&mut self, symbols: &[String]) -> Result<PerformanceRecords, StoreError>;
    /// Writes `universe`'s fields of one symbol's performance record, leaving every other
    /// writer's fields as they are; returns the record as written (shared or not).
    fn set_performance(
        &mut self,
        symbol: &str,
        record: &crate::rotation::perf::Performance,
    ) -> Result<crate::rotation::perf::Performance, StoreError>;
    /// Every symbol with a performance record.
    fn performance_symbols(&mut self) -> Result<Vec<String>, StoreError>;
}

/// The model files already seen: rotation's baseline.
pub trait ModelBaseline {
    /// The model files seen so far; `None` before the first scan recorded a baseline.
    fn seen_models(&mut self) -> Result<Option<std::collections::BTreeSet<String>>, StoreError>;
    /// Adds model files to the seen set (creating the baseline on the first call).
    fn record_models(
        &mut self,
        models: &std::collections::BTreeSet<String>,
    ) -> Result<(), StoreError>;
}

mod failure;
pub use failure::{Failure, FailureLog};

/// A store that does all five (Redis and the file store): what `generate` opens.
pub trait Store: PolicyStore + AuditLog + TradingRecords + ModelBaseline + FailureLog {}

impl<T: PolicyStore + AuditLog + TradingRecords + ModelBaseline + FailureLog> Store for T {}

/// Where a store lives, parsed from `--store` / `UNIVERSE_STORE`.
#[derive(Clone, PartialEq, Eq)]
pub enum Location {
    Redis(RedisUrl),
    File(PathBuf),
}

impl Location {
    pub fn parse(text: &str) -> Result<Self, UsageError> {
        if text.starts_with(redis::sentinel::SCHEME) {
            if let Err(e) = redis::sentinel::SentinelUrl::parse(text) {
                return Err(UsageError(format!(
                    "--store {:?}: not a valid sentinel URL ({e}); expected redis+sentinel://[user:password@]host:port[,host:port…]/SERVICE[/DB]",
                    redact_unparsed(text)
                )));
            }
            return Ok(Location::Redis(RedisUrl(text.to_owned())));
        }
        if text.starts_with("redis://") || text.starts_with("rediss://") {
            use ::redis::IntoConnectionInfo as _;
            // a malformed URL is a usage error, found before anything is fetched; the
            // parser's own message may quote the password, so it is not repeated
            if text.into_connection_info().is_err() {
                return Err(UsageError(format!(
                    "--store {:?}: not a valid Redis URL (redis://[user:password@]host[:port][/db]; percent-encode @ : / # % ? in a password)",
                    redact_unparsed(text)
                )));
            }
            return Ok(Location::Redis(RedisUrl(text.to_owned())));
        }
        if let Some(dir) = text.strip_prefix("file:") {
            if dir.is_empty() {
                return Err(UsageError(
                    "--store file: needs a folder, e.g. file:/var/lib/universe".into(),
                ));
            }
            return Ok(Location::File(PathBuf::from(dir)));
        }
        Err(UsageError(format!(
            "--store {:?}: expected redis://…, rediss://…, redis+sentinel://… or file:DIR",
            redact_unparsed(text)
        )))
    }

    /// Opens the store, connecting if it is remote.
    /// `tls_ca`: a PEM file of the CA that signed a `rediss://` server's certificate, when
    /// it is not one of the public roots.
    pub fn open(&self, keys: &Keys, tls_ca: Option<&Path>) -> Result<Box<dyn Store>, StoreError> {
        Ok(match self {
            Location::Redis(url) => Box::new(RedisStore::connect(url, keys.clone(), tls_ca)?),
            Location::File(dir) => Box::new(FileStore::new(dir.clone())),
        })
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::Redis(url) => write!(f, "{url}"),
            Location::File(dir) => write!(f, "file:{}", dir.display()),
        }
    }
}

impl fmt::Debug for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Location({self})")
    }
}

/// A Redis URL whose password never leaves through `Display` or `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct RedisUrl(String);

impl RedisUrl {
    /// The URL with its secret, for the client library only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RedisUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&redact(&self.0))
    }
}

impl fmt::Debug for RedisUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RedisUrl({})", redact(&self.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(redact("redis://:s3cret@h:6380/0"), "redis://:***@h:6380/0");
        assert_eq!(redact("rediss://app:s3cret@h/1"), "rediss://app:***@h/1");
        // a lone userinfo may be a password (redis AUTH with one argument)
        assert_eq!(redact("redis://s3cret@h"), "redis://***@h");
        assert_eq!(redact("redis://h:6379"), "redis://h:6379");
        // typos keep no secret either
        assert_eq!(redact("redis//:s3cret@h:1"), "***@h:1");
        assert_eq!(
            redact_all("2 | url = \"redis://:s3cret@h:1/0\nnext"),
            "2 | url = \"redis://***@h:1/0\nnext"
        );
        // a raw password with every character a URL gives a meaning to, and more
        let raw = "p@ss:w/rd#%?&=+ üx";
        for url in [
            format!("redis://:{raw}@h:6379/0"),
            format!("redis://app:{raw}@h:6379"),
            format!("rediss://{raw}@h"),
            format!("redis//:{raw}@h"),
        ] {
            let err = Location::parse(&url).unwrap_err().0;
            for piece in ["p@ss", "ss:w", "rd#", "üx"] {
                assert!(!err.contains(piece), "{piece} in {err}");
            }
            assert!(err.contains("@h"), "the host stays: {err}");
            let quoted = redact_all(&format!("3 | url = \"{url}\"\n"));
            assert!(
                !quoted.contains("ss:w") && !quoted.contains("üx"),
                "{quoted}"
            );
        }
        let err = Location::parse(&format!("redis://:{raw}@h:6379/0"))
            .unwrap_err()
            .0;
        assert!(
            err.contains("\"redis://***@h:6379/0\""),
            "the scheme stays: {err}"
        );
        for typo in [
            "redis//:s3cret@h",
            "redis:/:s3cret@h",
            "redis://:s3cret@h:port",
        ] {
            let err = Location::parse(typo).unwrap_err().0;
            assert!(!err.contains("s3cret"), "{err}");
        }
        let location = Location::parse("redis://u:pw@h:1/0").unwrap();
        assert!(!format!("{location} {location:?}").contains("pw"));
    }

    #[test]
    fn locations_parse_or_name_the_flag() {
        assert_eq!(
            Location::parse("file:/tmp/x").unwrap(),
            Location::File("/tmp/x".into())
        );
        assert!(matches!(
            Location::parse("rediss://h").unwrap(),
            Location::Redis(_)
        ));
        let err = Location::parse("http://u:pw@h").unwrap_err().to_string();
        assert!(err.contains("--store") && !err.contains("pw"), "{err}");
        assert!(Location::parse("file:").is_err());
    }
}
