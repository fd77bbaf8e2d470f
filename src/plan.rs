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
use crate::store::{AuditRecord, Store};

/// Audit entries are read back newest first, this many at first, four times more each
/// time that is not enough, up to the streams' length.
const FIRST_PAGE: usize = 64;
const LAST_PAGE: usize = crate::store::STREAM_MAX_LEN;

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
    /// given (`--held`), replaces the store's held set. The audit trail is read back only
    /// as far as `min_hold` before `now` needs.
    pub fn read(
        store: &mut dyn Store,
        held: Option<&[String]>,
        min_hold: std::time::Duration,
        now: i64,
    ) -> Result<Self, StoreError> {
        let previous = store.load_policy()?;
        let incumbents = previous
            .as_ref()
            .and_then(|p| p.symbols().ok())
            .unwrap_or_default();
        let joined_at = if incumbents.is_empty() {
            HashMap::new()
        } else {
            let horizon = now - min_hold.as_secs() as i64;
            joined_at(&incumbents, &audit_back_to(store, horizon)?)
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

/// The newest audit entries, newest first, reaching back before `horizon` (epoch
/// seconds) or to the start of the trail. Older entries cannot change a `min_hold`
/// decision: an incumbent present in all of them is older than `min_hold` either way.
/// Entries carry their policy's scores, so reading the whole trail on every refresh
/// would cost megabytes for nothing.
fn audit_back_to(store: &mut dyn Store, horizon: i64) -> Result<Vec<AuditRecord>, StoreError> {
    let mut count = FIRST_PAGE;
    loop {
        let entries = store.recent_audit(count)?;
        let exhausted = entries.len() < count;
        let reaches = entries
            .last()
            .and_then(|r| r.fields.get(field::CREATED_AT)?.parse::<i64>().ok())
            .is_some_and(|at| at < horizon);
        if exhausted || reaches || count >= LAST_PAGE {
            return Ok(entries);
        }
        count = (count * 4).min(LAST_PAGE);
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
    /// Held symbols in the universe that could not be scored this time, with their
    /// previous figures and leverage (after the members).
    pub carried: Vec<Scored>,
    pub rotation: rotation::Report,
    /// The model files found (known symbols only).
    pub models: models::Scan,
}

impl Plan {
    /// The universe: the members in rank order, then the carried held symbols.
    pub fn universe(&self) -> Vec<Scored> {
        self.choice
            .members
            .iter()
            .map(|&i| self.refresh.scored[i].clone())
            .chain(self.carried.iter().cloned())
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
    let mut refresh = refresh::run(source, &settings, cache, progress)?;
    if let Some(min_trades) = settings.hybrid_min_trades {
        crate::select::apply_hybrid(&mut refresh.scored, |symbol| {
            history.performance.get(symbol)?.hybrid_factor(min_trades)
        });
    }
    let known: BTreeSet<String> = refresh
        .overview
        .symbols
        .iter()
        .map(|s| s.symbol.clone())
        .collect();
    let scan = models::classify(&found, &known);
    let barred = settings.rotation.barred(&history.performance);
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
        not_challengers: &barred,
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
    let carried = choice
        .carried
        .iter()
        .map(|symbol| carry(symbol, history.previous.as_ref(), &settings.leverage))
        .collect();
    if choice.size() < settings.min_symbols {
        return Err(FailClosed::TooFewChosen {
            chosen: choice.size(),
            scored: refresh.scored.len(),
            min: settings.min_symbols,
        }
        .into());
    }
    Ok(Plan {
        refresh,
        choice,
        carried,
        rotation: report,
        models: scan,
    })
}

/// A held symbol kept although it could not be scored this time: its previous figures
/// and leverage, as the previous policy published them (the table's lowest leverage if
/// it said none).
fn carry(symbol: &str, previous: Option<&Policy>, table: &crate::select::LeverageTable) -> Scored {
    let score = previous
        .and_then(|p| p.scores().ok())
        .and_then(|mut scores| scores.remove(symbol));
    let leverage = previous
        .and_then(|p| p.leverage().ok())
        .and_then(|l| l.get(symbol)?.as_f64())
        .filter(|l| l.is_finite() && *l >= 1.0)
        .map_or(table.range().0, |l| l.round() as u32);
    let s = score.unwrap_or(crate::policy::SymbolScore {
        score: 0.0,
        atr_pct_15m: 0.0,
        trend_1h: 0.0,
        mom_15m: 0.0,
        mom_1h: 0.0,
        quote_volume: 0.0,
        spread_bps: 0.0,
        age_days: 0.0,
        leverage,
    });
    Scored {
        candidate: crate::select::Candidate {
            symbol: symbol.to_owned(),
            quote_volume: s.quote_volume,
            spread_bps: s.spread_bps,
            age_days: s.age_days,
        },
        features: crate::select::FeatureValues {
            atr_pct_15m: s.atr_pct_15m,
            trend_1h: s.trend_1h,
            mom_15m: s.mom_15m,
            mom_1h: s.mom_1h,
        },
        components: crate::select::Weights::ZERO,
        score: s.score,
        hybrid_factor: None,
        leverage,
        returns_1h: Vec::new(),
    }
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
    /// The error with its exit category: fail-closed, or a usage error. `publishing`:
    /// whether the command would have published (only then does "nothing was published"
    /// say anything).
    pub fn into_error(self, publishing: bool) -> anyhow::Error {
        match self {
            PlanError::FailClosed(e) if publishing => anyhow::Error::new(e).context(
                "refresh failed closed; nothing was published and the previous policy stands",
            ),
            PlanError::FailClosed(e) => anyhow::Error::new(e)
                .context("refresh failed closed: the market data is not trustworthy"),
            PlanError::Models(message) => anyhow::Error::new(crate::error::UsageError(message)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn the_audit_trail_is_read_back_only_as_far_as_min_hold_needs() {
        // 300 refreshes a minute apart; A always in, B joined 100 refreshes ago
        let dir = tempfile::tempdir().unwrap();
        let lines: String = (0..300i64)
            .map(|i| {
                let symbols: &[&str] = if i >= 200 { &["A", "B"] } else { &["A"] };
                let record = record(1_000_000 + i * 60, symbols);
                serde_json::to_string(&record.fields).unwrap() + "\n"
            })
            .collect();
        std::fs::write(dir.path().join("audit.jsonl"), lines).unwrap();
        let mut store = crate::store::FileStore::new(dir.path().to_owned());
        let now = 1_000_000 + 300 * 60;
        // min_hold 30 min: the first page of 64 reaches back far enough
        let read = audit_back_to(&mut store, now - 1800).unwrap();
        assert_eq!(read.len(), 64);
        // min_hold 3 h: a longer page, which finds when B joined
        let read = audit_back_to(&mut store, now - 3 * 3600).unwrap();
        assert_eq!(read.len(), 256);
        let joined = joined_at(&["A".into(), "B".into()], &read);
        assert_eq!(joined["B"], 1_000_000 + 200 * 60);
        assert_eq!(
            joined["A"],
            1_000_000 + 44 * 60,
            "as far back as read: older than min_hold"
        );
        // a long min_hold reads the whole trail
        assert_eq!(audit_back_to(&mut store, 0).unwrap().len(), 300);
    }
}
