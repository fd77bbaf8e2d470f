//! The last refresh that failed, recorded beside the policy (never in it).

use std::collections::BTreeMap;

use crate::error::StoreError;

/// The last refresh that failed: a small record beside the policy, never the policy, so
/// `show` and `diff-hash` can tell a quiet market from refreshes that keep failing.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Failure {
    pub at_epoch: i64,
    /// How it ended: `fail_closed` or `failure`.
    pub outcome: String,
    pub reason: String,
    /// Failed refreshes in a row since the policy in the store was published.
    pub in_a_row: u64,
}

impl Failure {
    /// A record read back as text fields; `None` for one another program garbled.
    pub fn from_fields(fields: &BTreeMap<String, String>) -> Option<Self> {
        Some(Self {
            at_epoch: fields.get("at_epoch")?.parse().ok()?,
            outcome: fields.get("outcome")?.clone(),
            reason: fields.get("reason")?.clone(),
            in_a_row: fields.get("in_a_row")?.parse().ok()?,
        })
    }

    /// In words, against the policy in force (made at `published`): whether refreshes
    /// have failed since it was published.
    pub fn describe(failure: Option<&Self>, published: Option<i64>) -> String {
        match failure {
            Some(f) if published.is_none_or(|at| f.at_epoch >= at) => format!(
                "refreshes failing: {} in a row since this policy was published, the last at {} ({}): {}",
                f.in_a_row,
                crate::clock::epoch(f.at_epoch),
                f.outcome,
                crate::output::printable(&f.reason)
            ),
            Some(f) => format!(
                "no refresh has failed since this policy was published (the last failure was at {})",
                crate::clock::epoch(f.at_epoch)
            ),
            None => "no failed refresh recorded".to_owned(),
        }
    }

    pub fn fields(&self) -> [(&'static str, String); 4] {
        [
            ("at_epoch", self.at_epoch.to_string()),
            ("outcome", self.outcome.clone()),
            ("reason", self.reason.clone()),
            ("in_a_row", self.in_a_row.to_string()),
        ]
    }
}

/// Where the last failed refresh is recorded.
pub trait FailureLog {
    fn record_failure(&mut self, failure: &Failure) -> Result<(), StoreError>;
    /// The last failure recorded; one that cannot be read is skipped with a warning.
    fn last_failure(&mut self) -> Result<Option<Failure>, StoreError>;
}
