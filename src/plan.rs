//! A refresh turned into a universe: the ranking, what the store remembers (the previous
//! universe, when each member joined, open positions) and the operator's settings.
//! `generate` publishes a plan, `explain` explains one; both make it here.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::error::{FailClosed, StoreError};
use crate::market::Source;
use crate::market::cache::CandleCache;
use crate::policy::{Policy, field};
use crate::progress::Progress;
use crate::refresh::{self, Refresh};
use crate::rotation::perf::Performance;
use crate::rotation::{self, models};
use crate::select::Scored;
use crate::select::churn::{self, Choice};
use crate::settings::Settings;
use crate::store::Store;

/// Audit entries read back to learn when the incumbents joined.
const HISTORY_ENTRIES: usize = 2000;

/// What the store remembers that the choice needs.
#[derive(Debug, Default)]
pub struct History {
    pub previous: Option<Policy>,
    /// The previous universe, in its rank order.
    pub incumbents: Vec<String>,
    /// When each incumbent joined the universe (epoch seconds, as far back as read).
    pub joined_at: HashMap<String, i64>,
    pub held: BTreeSet<String>,
    /// Every performance record the store holds.
    pub performance: BTreeMap<String, Performance>,
    /// Model files seen before; `None` before the first baseline.
    pub seen_models: Option<BTreeSet<String>>,
}

impl History {
    /// Reads the previous policy, the recent audit trail and the held set. `held`, when
    /// given (`--held`), replaces the store's held set.
    pub fn read(store: &mut dyn Store, held: Option<&[String]>) -> Result<Self, StoreError> {
        let previous = store.load_policy()?;
        let incumbents = previous
            .as_ref()
            .and_then(|p| p.symbols().ok())
            .unwrap_or_default();
        let joined_at = if incumbents.is_empty() {
            HashMap::new()
        } else {
            joined_at(&incumbents, &store.recent_audit(HISTORY_ENTRIES)?)
        };
        let held = match held {
            Some(symbols) => symbols.iter().cloned().collect(),
            None => store.held_symbols()?,
        };
        let symbols = store.performance_symbols()?;
        let performance = store.performance(&symbols)?;
        let seen_models = store.seen_models()?;
        Ok(Self {
            previous,
            incumbents,
            joined_at,
            held,
            performance,
            seen_models,
        })
    }

    /// No store: a first run, with `--held` if given.
    pub fn without_store(held: Option<&[String]>) -> Self {
        Self {
            held: held.unwrap_or_default().iter().cloned().collect(),
            ..Self::default()
        }
    }
}

/// For each symbol, the creation time of the oldest entry of its unbroken run of
/// membership, walking back from the newest entry.
fn joined_at(
    symbols: &[String],
    newest_first: &[crate::store::AuditRecord],
) -> HashMap<String, i64> {
    let members: Vec<(i64, Vec<String>)> = newest_first
        .iter()
        .filter_map(|r| {
            let at = r.fields.get(field::CREATED_AT)?.parse().ok()?;
            let symbols = serde_json::from_str(r.fields.get(field::UNIVERSE_SYMBOLS)?).ok()?;
            Some((at, symbols))
        })
        .collect();
    symbols
        .iter()
        .filter_map(|symbol| {
            let since = members
                .iter()
                .take_while(|(_, universe)| universe.contains(symbol))
                .last()
                .map(|(at, _)| *at)?;
            Some((symbol.clone(), since))
        })
        .collect()
}

/// A refresh and the universe chosen from it.
#[derive(Debug)]
pub struct Plan {
    pub refresh: Refresh,
    pub choice: Choice,
    pub rotation: rotation::Report,
    /// The model files found (known symbols only).
    pub models: models::Scan,
}

impl Plan {
    /// The universe, in rank order.
    pub fn universe(&self) -> Vec<Scored> {
        self.choice
            .members
            .iter()
            .map(|&i| self.refresh.scored[i].clone())
            .collect()
    }

    /// The rank (1-based) of a scored symbol.
    pub fn rank(&self, symbol: &str) -> Option<usize> {
        self.refresh
            .scored
            .iter()
            .position(|s| s.candidate.symbol == symbol)
            .map(|i| i + 1)
    }
}

pub fn make(
    source: &dyn Source,
    settings: &Settings,
    history: &History,
    cache: Option<&CandleCache>,
    now: i64,
    progress: &Progress,
) -> Result<Plan, PlanError> {
    let found = match &settings.rotation.model_dir {
        Some(dir) => models::scan(dir, &settings.rotation.model_glob).map_err(PlanError::Models)?,
        None => BTreeMap::new(),
    };
    let mut settings = settings.clone();
    if settings.rotation.require_model {
        settings.lists.models = Some(found.values().cloned().collect());
    }
    let refresh = refresh::run(source, &settings, cache, progress)?;
    let known: BTreeSet<String> = refresh
        .overview
        .symbols
        .iter()
        .map(|s| s.symbol.clone())
        .collect();
    let scan = models::classify(&found, &known);
    let ctx = churn::Context {
        excluded: &refresh.excluded,
        incumbents: &history.incumbents,
        joined_at: &history.joined_at,
        now,
        held: &history.held,
        lists: &settings.lists,
        top: settings.top,
        churn: &settings.churn,
        max_correlation: settings.max_correlation,
    };
    let mut choice = churn::choose(&refresh.scored, &ctx);
    let inputs = rotation::Inputs {
        settings: &settings.rotation,
        performance: &history.performance,
        models: &scan,
        seen_models: history.seen_models.as_ref(),
        held: &history.held,
        lists: &settings.lists,
        min_symbols: settings.min_symbols,
    };
    let report = rotation::rotate(&refresh.scored, &mut choice, &inputs);
    if choice.members.len() < settings.min_symbols {
        return Err(FailClosed::TooFewScored {
            scored: choice.members.len(),
            min: settings.min_symbols,
        }
        .into());
    }
    Ok(Plan {
        refresh,
        choice,
        rotation: report,
        models: scan,
    })
}

/// Why no plan could be made.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error(transparent)]
    FailClosed(#[from] FailClosed),
    /// The model folder could not be read: a configuration problem.
    #[error("{0}")]
    Models(String),
}

impl PlanError {
    /// The error with its exit category: fail-closed, or a usage error.
    pub fn into_error(self) -> anyhow::Error {
        match self {
            PlanError::FailClosed(e) => anyhow::Error::new(e).context(
                "refresh failed closed; nothing was published and the previous policy stands",
            ),
            PlanError::Models(message) => anyhow::Error::new(crate::error::UsageError(message)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::AuditRecord;
    use std::collections::BTreeMap;

    fn record(at: i64, symbols: &[&str]) -> AuditRecord {
        AuditRecord {
            id: at.to_string(),
            fields: BTreeMap::from([
                (field::CREATED_AT.to_owned(), at.to_string()),
                (
                    field::UNIVERSE_SYMBOLS.to_owned(),
                    serde_json::to_string(symbols).unwrap(),
                ),
            ]),
        }
    }

    #[test]
    fn joined_at_is_the_start_of_the_unbroken_run() {
        let newest_first = [
            record(400, &["A", "B"]),
            record(300, &["A", "B"]),
            record(200, &["A"]),
            record(100, &["A", "B"]),
        ];
        let joined = joined_at(&["A".into(), "B".into(), "C".into()], &newest_first);
        assert_eq!(joined["A"], 100);
        assert_eq!(joined["B"], 300, "B left at 200, so it joined again at 300");
        assert!(!joined.contains_key("C"));
    }
}
