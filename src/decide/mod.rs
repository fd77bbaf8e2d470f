//! The decision, pure and in one place: from the market as read at one moment, what the
//! store remembers and the decision's [`Config`], to the universe and its reasons.
//!
//! screen (the cheap checks) → assess (candles, features, regime, score: [`assess`]) →
//! choose (the hybrid factor, churn control, rotation) → carry (held symbols that could
//! not be scored) → the bounds.
//!
//! No I/O, no clock (`now` is given) and no words for a terminal: `generate`, `explain`,
//! `rotation` and `snapshot` reach it through [`crate::pipeline`], a backtest calls it on
//! a history at each step, and a unit test runs it on an in-memory market.

pub mod assess;
mod config;

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::error::FailClosed;
use crate::market::MarketView;
use crate::policy::Policy;
use crate::rotation::perf::Performance;
use crate::rotation::{self, models};
use crate::select::Excluded;
use crate::select::churn::{self, Choice};
use crate::select::{Scored, Symbol};
pub use assess::{Refresh, assess};
pub use config::Config;

/// What the store remembers that the choice needs (read by
/// [`crate::store::memory`]; a backtest carries its own from step to step).
#[derive(Debug, Default)]
pub struct Memory {
    pub previous: Option<Policy>,
    /// The previous universe, in its rank order.
    pub incumbents: Vec<Symbol>,
    /// When each incumbent joined the universe (epoch seconds, as far back as read).
    pub joined_at: HashMap<Symbol, i64>,
    pub held: BTreeSet<Symbol>,
    /// Every performance record the store holds that could be read.
    pub performance: BTreeMap<String, Performance>,
    /// The records that could not be read (symbol → key and field at fault): rotation
    /// cannot judge those symbols, and says so.
    pub unreadable_performance: BTreeMap<String, String>,
    /// Model files seen before; `None` before the first baseline.
    pub seen_models: Option<BTreeSet<String>>,
}

impl Memory {
    /// No store: a first run, with `--held` if given.
    pub fn without_store(held: Option<&[Symbol]>) -> Self {
        Self {
            held: held.unwrap_or_default().iter().copied().collect(),
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

/// The universe from `view`: exclusions, features and score ([`assess`]), then the
/// choice ([`choose_from`]). `models`: the model folder's files that name a symbol (file →
/// symbol), empty without one.
pub fn decide(
    view: MarketView<'_>,
    models: &BTreeMap<String, String>,
    memory: &Memory,
    config: &Config,
    now: i64,
) -> Result<Plan, PlanError> {
    let refresh = assess(view, models, config)?;
    choose_from(refresh, models, memory, config, now)
}

/// The half of [`decide`] after the market is assessed: what depends on the store's
/// memory (the hybrid factor, churn control, rotation) and the bounds. A backtest
/// assesses many moments in parallel, then runs this in order, carrying the memory.
pub fn choose_from(
    mut refresh: Refresh,
    models: &BTreeMap<String, String>,
    memory: &Memory,
    config: &Config,
    now: i64,
) -> Result<Plan, PlanError> {
    if let Some(min_trades) = config.hybrid_min_trades {
        crate::select::apply_hybrid(&mut refresh.scored, |symbol| {
            memory.performance.get(symbol)?.hybrid_factor(min_trades)
        });
    }
    let scan = classify(models, &refresh);
    let Chosen {
        choice,
        carried,
        rotation: report,
    } = choose_ranked(
        &refresh.scored,
        &refresh.excluded,
        &scan,
        memory,
        config,
        now,
    )?;
    Ok(Plan {
        refresh,
        choice,
        carried,
        rotation: report,
        models: scan,
    })
}

/// What churn control and rotation chose from a ranking.
#[derive(Debug)]
pub struct Chosen {
    pub choice: Choice,
    pub carried: Vec<Scored>,
    pub rotation: rotation::Report,
}

/// Churn control and rotation on a ranking (`scored`, in rank order), against what the
/// store remembers, and the bounds: the part of [`choose_from`] that borrows, so `tune`
/// can rank one assessed moment many ways without copying what it does not change.
pub fn choose_ranked(
    scored: &[Scored],
    excluded: &[Excluded],
    scan: &models::Scan,
    memory: &Memory,
    config: &Config,
    now: i64,
) -> Result<Chosen, PlanError> {
    let mut choice = choose(scored, excluded, memory, config, now);
    let inputs = rotation::Inputs {
        config: &config.rotation,
        performance: &memory.performance,
        unreadable: &memory.unreadable_performance,
        models: scan,
        seen_models: memory.seen_models.as_ref(),
        held: &memory.held,
        lists: &config.lists,
        min_symbols: config.min_symbols,
    };
    let rotation = rotation::rotate(scored, &mut choice, &inputs);
    let carried = choice
        .carried
        .iter()
        .map(|&symbol| carry(symbol, memory.previous.as_ref(), &config.leverage))
        .collect();
    if choice.size() < config.min_symbols {
        return Err(FailClosed::TooFewChosen {
            chosen: choice.size(),
            scored: scored.len(),
            min: config.min_symbols,
        }
        .into());
    }
    Ok(Chosen {
        choice,
        carried,
        rotation,
    })
}

/// The model files found, sorted by whether their symbol is listed.
fn classify(found: &BTreeMap<String, String>, refresh: &Refresh) -> models::Scan {
    let known: BTreeSet<String> = if found.is_empty() {
        BTreeSet::new()
    } else {
        refresh
            .overview
            .symbols
            .iter()
            .map(|s| s.symbol.clone())
            .collect()
    };
    models::classify(found, &known)
}

/// Churn control's choice from the scored symbols, against what the store remembers;
/// symbols rotation bars on their record never challenge.
fn choose(
    scored: &[Scored],
    excluded: &[Excluded],
    memory: &Memory,
    config: &Config,
    now: i64,
) -> churn::Choice {
    let barred = config.rotation.barred(&memory.performance);
    let ctx = churn::Context {
        excluded,
        incumbents: &memory.incumbents,
        joined_at: &memory.joined_at,
        now,
        held: &memory.held,
        lists: &config.lists,
        top: config.top,
        churn: &config.churn,
        max_correlation: config.max_correlation,
        not_challengers: &barred,
    };
    churn::choose(scored, &ctx)
}

/// A held symbol kept although it could not be scored this time: its previous figures
/// and leverage, as the previous policy published them (the table's lowest leverage if
/// it said none).
fn carry(
    symbol: Symbol,
    previous: Option<&Policy>,
    table: &crate::select::LeverageTable,
) -> Scored {
    let score = previous
        .and_then(|p| p.scores().ok())
        .and_then(|mut scores| scores.remove(symbol.as_str()));
    let leverage = previous
        .and_then(|p| p.leverage().ok())
        .and_then(|l| l.get(symbol.as_str())?.as_f64())
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
            symbol,
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
