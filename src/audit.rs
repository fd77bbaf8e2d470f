//! The audit entry of a publish and the update event beside it: what changed and why,
//! in fields the writer and the readers (`diff-hash`, `rollback`, `proof`) name through
//! [`name`], never by repeated string literals.

use std::collections::BTreeMap;
use std::time::Instant;

use crate::decide::{Memory, Plan};
use crate::policy::{Policy, field};
use crate::select::{self, churn::Action};

/// The audit entry's own fields (besides the policy fields it copies, [`field`]).
pub mod name {
    pub const UNIVERSE_COUNT: &str = "universe_count";
    pub const LEVERAGE_RANGE: &str = "leverage_range";
    pub const PREVIOUS_UNIVERSE_HASH: &str = "previous_universe_hash";
    pub const SYMBOLS_ADDED: &str = "symbols_added";
    pub const SYMBOLS_REMOVED: &str = "symbols_removed";
    pub const REPLAY: &str = "replay";
    pub const DATA_AGE_S: &str = "data_age_s";
    /// On a rollback: the audit entry whose universe it republishes.
    pub const ROLLBACK_OF_ENTRY: &str = "rollback_of_entry";
    /// The bounds the policy was made within ([`super::Bounds`]), as JSON.
    pub const BOUNDS: &str = "bounds";
}

/// The bounds a policy was made within: its size and its leverage. Recorded in its audit
/// entry, so that `proof` judges a policy by the bounds it was made with (a `--top 11`
/// that reached `generate` only), and `rollback` republishes only what fits them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bounds {
    pub min_symbols: usize,
    pub max_symbols: usize,
    pub leverage_min: u32,
    pub leverage_max: u32,
}

impl Bounds {
    /// The largest universe and leverage any setting allows: recorded bounds beyond these
    /// were not written by `universe`.
    const MAX_SYMBOLS: usize = 1000;
    const MAX_LEVERAGE: u32 = 125;

    /// What `settings` allow: `[min_symbols, top]`, or up to `max_symbols` in execution
    /// mode; the leverage table's range.
    pub fn of(settings: &crate::settings::Settings) -> Self {
        let max_symbols = match settings.rotation.mode {
            crate::rotation::Mode::Execution => settings.top.max(settings.rotation.max_symbols),
            crate::rotation::Mode::Advisory => settings.top,
        };
        let (leverage_min, leverage_max) = settings.leverage.range();
        Self {
            min_symbols: settings.min_symbols,
            max_symbols,
            leverage_min,
            leverage_max,
        }
    }

    /// The bounds `entry` records: `None` when it records none (written before bounds
    /// were recorded, or by the Python generator); an error naming the entry when they do
    /// not read or lie beyond what any setting allows.
    pub fn recorded(entry: &crate::store::AuditRecord) -> Option<Result<Self, String>> {
        let text = entry.fields.get(name::BOUNDS)?;
        let bounds = serde_json::from_str::<Self>(text)
            .map_err(|e| e.to_string())
            .and_then(|b| {
                let sane = (1..=b.max_symbols).contains(&b.min_symbols)
                    && b.max_symbols <= Self::MAX_SYMBOLS
                    && (1..=b.leverage_max).contains(&b.leverage_min)
                    && b.leverage_max <= Self::MAX_LEVERAGE;
                if sane {
                    Ok(b)
                } else {
                    Err("beyond what any setting allows".into())
                }
            });
        Some(
            bounds.map_err(|e| format!("audit entry {}: {} {text:?}: {e}", entry.id, name::BOUNDS)),
        )
    }

    pub fn to_json(self) -> String {
        serde_json::to_string(&self).expect("numbers serialise")
    }
}

/// How the run that made a policy went, for its audit entry.
#[derive(Debug, Clone)]
pub struct RunFacts {
    pub started: Instant,
    /// Where the market came from (`binance …` or the snapshot folder).
    pub source: String,
    /// Whether it was a snapshot replay.
    pub replay: bool,
    /// Seconds between the data's time (the exchange's clock) and the local clock.
    pub data_age_s: i64,
    /// The bounds the policy was made within.
    pub bounds: Bounds,
}

/// The audit entry of a publish: the policy's identity, what changed and why, why
/// symbols were excluded, and what the run cost.
pub fn entry(
    policy: &Policy,
    plan: &Plan,
    memory: &Memory,
    facts: &RunFacts,
) -> anyhow::Result<BTreeMap<String, String>> {
    let mut entry = identity(policy, memory)?;
    for (name, value) in decision(plan, memory)?.into_iter().chain(cost(plan, facts)) {
        entry.insert(name.to_owned(), value);
    }
    Ok(entry)
}

/// What churn control and rotation decided, and why.
fn decision(plan: &Plan, memory: &Memory) -> anyhow::Result<Vec<(&'static str, String)>> {
    let exclusions: BTreeMap<&str, usize> = select::count_by_reason(&plan.refresh.excluded)
        .into_iter()
        .map(|(reason, n)| (reason.as_str(), n))
        .collect();
    Ok(vec![
        (
            "symbols_kept",
            serde_json::to_string(&decided(plan, Action::Kept))?,
        ),
        (
            "added_reasons",
            serde_json::to_string(&decided(plan, Action::Added))?,
        ),
        (
            "removed_reasons",
            serde_json::to_string(&decided(plan, Action::Removed))?,
        ),
        (
            "correlation_skipped",
            serde_json::to_string(&plan.choice.skipped)?,
        ),
        ("rotation", serde_json::to_string(&plan.rotation)?),
        ("replacements", plan.choice.replacements.to_string()),
        ("pairs", serde_json::to_string(&plan.choice.pairs)?),
        ("carried", serde_json::to_string(&plan.choice.carried)?),
        (
            "positions_left",
            serde_json::to_string(&plan.choice.positions_left)?,
        ),
        ("held_count", memory.held.len().to_string()),
        ("median_atr_pct_15m", plan.refresh.median_atr.to_string()),
        ("exclusions", serde_json::to_string(&exclusions)?),
        ("scored_count", plan.refresh.scored.len().to_string()),
    ])
}

/// What the run cost the exchange, how long it took, and where its data came from.
fn cost(plan: &Plan, facts: &RunFacts) -> Vec<(&'static str, String)> {
    let usage = plan.refresh.usage;
    vec![
        ("request_weight", usage.weight.to_string()),
        ("requests", usage.requests.to_string()),
        ("retries", usage.retries.to_string()),
        ("cache_hits", plan.refresh.cache_hits.to_string()),
        ("candle_symbols", plan.refresh.candles_needed.to_string()),
        (
            "duration_ms",
            facts.started.elapsed().as_millis().to_string(),
        ),
        ("source", facts.source.clone()),
        (name::REPLAY, facts.replay.to_string()),
        (name::DATA_AGE_S, facts.data_age_s.to_string()),
        (name::BOUNDS, facts.bounds.to_json()),
        (
            "server_time_ms",
            plan.refresh.overview.server_time.to_string(),
        ),
    ]
}

/// The part of an audit entry every publish has (`generate` and `rollback`): the policy's
/// identity and the symbols added and removed against the previous policy.
pub fn identity(policy: &Policy, memory: &Memory) -> anyhow::Result<BTreeMap<String, String>> {
    let symbols = policy.symbols()?;
    let before = &memory.incumbents;
    let added: Vec<&str> = symbols
        .iter()
        .filter(|s| !before.iter().any(|b| b == *s))
        .map(String::as_str)
        .collect();
    let removed: Vec<&str> = before
        .iter()
        .filter(|b| !symbols.iter().any(|s| *b == s))
        .map(|b| b.as_str())
        .collect();
    let leverage = policy.leverage()?;
    let (low, high) = leverage
        .values()
        .filter_map(serde_json::Number::as_f64)
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        });
    let copied = [
        field::POLICY_VERSION,
        field::POLICY_HASH,
        field::UNIVERSE_HASH,
        field::UNIVERSE_SYMBOLS,
        field::LEVERAGE_BY_SYMBOL,
        field::SCORES,
        field::VALID_UNTIL,
        field::CREATED_AT,
        field::GENERATOR,
        field::FEATURES_WINDOW,
        field::RUN_ID,
        field::REGIME,
    ];
    let mut entry: BTreeMap<String, String> = copied
        .iter()
        .filter_map(|name| Some(((*name).to_owned(), policy.get(name)?.to_owned())))
        .collect();
    let previous_hash = memory
        .previous
        .as_ref()
        .and_then(|p| p.get(field::UNIVERSE_HASH))
        .unwrap_or("");
    for (name, value) in [
        (name::UNIVERSE_COUNT, symbols.len().to_string()),
        (name::LEVERAGE_RANGE, format!("{low}-{high}")),
        (name::PREVIOUS_UNIVERSE_HASH, previous_hash.to_owned()),
        (name::SYMBOLS_ADDED, serde_json::to_string(&added)?),
        (name::SYMBOLS_REMOVED, serde_json::to_string(&removed)?),
    ] {
        entry.insert(name.to_owned(), value);
    }
    Ok(entry)
}

/// The `policy.updated` event the services listen for: the fields the Python generator
/// wrote (`event`, `version`, `timestamp` in decimal seconds) and the policy's identity.
pub fn update_event(policy: &Policy) -> BTreeMap<String, String> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let mut event = BTreeMap::from([
        ("event".to_owned(), "policy.updated".to_owned()),
        (
            "version".to_owned(),
            policy
                .get(field::POLICY_VERSION)
                .unwrap_or_default()
                .to_owned(),
        ),
        ("timestamp".to_owned(), format!("{:.6}", now.as_secs_f64())),
    ]);
    for name in [
        field::POLICY_HASH,
        field::UNIVERSE_HASH,
        field::RUN_ID,
        field::CREATED_AT,
        field::VALID_UNTIL,
        field::GENERATOR,
    ] {
        event.insert(
            name.to_owned(),
            policy.get(name).unwrap_or_default().to_owned(),
        );
    }
    event
}

/// Symbols of `plan`'s decisions with `action`, each with its reason.
fn decided(plan: &Plan, action: Action) -> BTreeMap<&str, String> {
    plan.choice
        .decisions
        .iter()
        .filter(|d| d.action == action)
        .map(|d| (d.symbol.as_str(), d.reason.to_string()))
        .collect()
}
