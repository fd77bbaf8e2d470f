//! The decision, pure: from what was read of the market, what the store remembers and
//! the settings, to the universe and its reasons. No I/O and no clock (`now` is given), so
//! `generate`, `explain`, `rotation` and a backtest all run the same function, and a unit
//! test runs it on an in-memory market.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::error::FailClosed;
use crate::policy::Policy;
use crate::refresh::{self, MarketView, Refresh};
use crate::rotation::perf::Performance;
use crate::rotation::{self, models};
use crate::select::Scored;
use crate::select::churn::{self, Choice};
use crate::settings::Settings;

/// What the store remembers that the choice needs.
#[derive(Debug, Default)]
pub struct History {
    pub previous: Option<Policy>,
    /// The previous universe, in its rank order.
    pub incumbents: Vec<String>,
    /// When each incumbent joined the universe (epoch seconds, as far back as read).
    pub joined_at: HashMap<String, i64>,
    pub held: BTreeSet<String>,
    /// Every performance record the store holds that could be read.
    pub performance: BTreeMap<String, Performance>,
    /// The records that could not be read (symbol → key and field at fault): rotation
    /// cannot judge those symbols, and says so.
    pub unreadable_performance: BTreeMap<String, String>,
    /// Model files seen before; `None` before the first baseline.
    pub seen_models: Option<BTreeSet<String>>,
}

impl History {
    /// No store: a first run, with `--held` if given.
    pub fn without_store(held: Option<&[String]>) -> Self {
        Self {
            held: held.unwrap_or_default().iter().cloned().collect(),
            ..Self::default()
        }
    }
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

/// The universe from `view`: exclusions, features and score ([`refresh::assess`]), the
/// hybrid factor, churn control, rotation, and the bounds.
pub fn decide(
    view: MarketView,
    history: &History,
    settings: &Settings,
    now: i64,
) -> Result<Plan, PlanError> {
    let models_found = view.models_found.clone();
    let refresh = refresh::assess(view, settings)?;
    decide_assessed(refresh, &models_found, history, settings, now)
}

/// The half of [`decide`] after the market is assessed: what depends on the store's
/// history (the hybrid factor, churn control, rotation) and the bounds. A backtest
/// assesses many moments in parallel, then runs this in order, carrying the history.
pub fn decide_assessed(
    mut refresh: Refresh,
    models_found: &BTreeMap<String, String>,
    history: &History,
    settings: &Settings,
    now: i64,
) -> Result<Plan, PlanError> {
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
    let scan = models::classify(models_found, &known);
    let mut choice = choose(&refresh, history, settings, now);
    let inputs = rotation::Inputs {
        settings: &settings.rotation,
        performance: &history.performance,
        unreadable: &history.unreadable_performance,
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

/// Churn control's choice from the scored symbols, against what the store remembers;
/// symbols rotation bars on their record never challenge.
fn choose(refresh: &Refresh, history: &History, settings: &Settings, now: i64) -> churn::Choice {
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
    churn::choose(&refresh.scored, &ctx)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::market::memory::MemorySource;
    use crate::select::churn::Action;
    use crate::select::{Reason, count_by_reason};
    use crate::settings::Overrides;

    /// The committed example snapshot, in memory: 23 symbols, one per exclusion reason.
    fn market() -> MemorySource {
        MemorySource::from_snapshot(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/snapshot"),
        )
        .unwrap()
    }

    fn decide_on(history: &History) -> Plan {
        let settings = Settings::resolve(None, Overrides::default()).unwrap();
        let view = refresh::gather(
            &market(),
            &settings,
            BTreeMap::new(),
            None,
            &crate::progress::Progress::hidden(),
            1_795_000_000,
        )
        .unwrap();
        decide(view, history, &settings, 1_795_000_000).unwrap()
    }

    fn names(plan: &Plan) -> Vec<String> {
        plan.universe()
            .iter()
            .map(|s| s.candidate.symbol.clone())
            .collect()
    }

    #[test]
    fn a_full_decision_on_an_in_memory_market() {
        let first = decide_on(&History::default());
        let universe = names(&first);
        assert_eq!(
            universe,
            [
                "S08USDT", "S01USDT", "S07USDT", "S06USDT", "S00USDT", "S10USDT", "S04USDT",
                "S09USDT", "S03USDT", "S11USDT"
            ]
        );
        assert_eq!(crate::policy::universe_hash(&universe), "5fda91f8f226d142");
        assert_eq!(first.refresh.scored.len(), 12);
        assert_eq!(first.refresh.regime.as_str(), "normal");
        let counts = count_by_reason(&first.refresh.excluded);
        assert_eq!(counts[&Reason::NotUsdtPerpetual], 2);
        for reason in [
            Reason::NotTrading,
            Reason::Delisting,
            Reason::TooNew,
            Reason::NoTicker,
            Reason::Illiquid,
            Reason::BadBook,
            Reason::WideSpread,
            Reason::InsufficientHistory,
            Reason::BadData,
        ] {
            assert_eq!(counts[&reason], 1, "{reason}");
        }
        let leverage: Vec<u32> = first.universe().iter().map(|s| s.leverage).collect();
        assert_eq!(leverage, [15, 15, 12, 15, 15, 15, 12, 15, 15, 12]);
        assert!(
            first
                .choice
                .decisions
                .iter()
                .all(|d| d.action == Action::Added)
        );
        assert_eq!(first.refresh.usage.requests, 0, "nothing was sent");
    }

    #[test]
    fn the_same_market_again_with_the_first_universe_as_incumbents_is_unchanged() {
        let universe = names(&decide_on(&History::default()));
        let history = History {
            incumbents: universe.clone(),
            ..History::default()
        };
        let second = decide_on(&history);
        assert_eq!(names(&second), universe);
        assert_eq!(second.choice.replacements, 0);
        assert!(
            second
                .choice
                .decisions
                .iter()
                .all(|d| d.action == Action::Kept)
        );
    }

    #[test]
    fn an_open_position_whose_candles_are_missing_this_time_is_carried_not_dropped() {
        let mut history = History {
            incumbents: vec!["S08USDT".into(), "ZEROUSDT".into()],
            ..History::default()
        };
        history.held.insert("ZEROUSDT".into());
        let third = decide_on(&history);
        assert!(names(&third).contains(&"ZEROUSDT".to_owned()));
        assert_eq!(third.choice.carried, ["ZEROUSDT"]);
    }
}
