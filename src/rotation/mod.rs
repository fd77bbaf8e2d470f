//! Performance-based rotation and model discovery.
//!
//! After churn control has chosen the universe, rotation looks at what the trading side
//! knows: per-symbol results ([`perf`]) and trained models ([`models`]).
//!
//! - **evict**: a member with at least `min_trades_for_eviction` trades whose win rate is
//!   below `eviction_win_rate` or whose drawdown is above `eviction_drawdown`;
//! - **expand**: a scored symbol outside the universe that has a model, best score first;
//! - **new models**: model files not seen before (the first scan records a baseline).
//!
//! In `advisory` mode (the default) these are recommendations only: written to the audit
//! entry and printed, the universe untouched. In `execution` mode evictions leave and
//! expansions enter, never below `min_symbols` nor above `max_symbols`, and never
//! removing a held or pinned symbol; what a bound prevented is recorded as such.

pub mod models;
pub mod perf;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use serde::Serialize;

use crate::select::churn::{Action, Choice, Decision, Why};
use crate::select::{Lists, Pattern, Scored, Symbol};
use perf::Performance;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    Advisory,
    Execution,
}

/// `[rotation]` settings.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub mode: Mode,
    pub min_trades_for_eviction: u64,
    pub eviction_win_rate: f64,
    pub eviction_drawdown: f64,
    pub max_symbols: usize,
    pub model_dir: Option<PathBuf>,
    pub model_glob: Pattern,
    pub require_model: bool,
}

/// One eviction candidate.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Eviction {
    pub symbol: Symbol,
    pub why: String,
    pub win_rate: f64,
    /// `None` when the record keeps no drawdown (the performance tracker's own).
    pub max_drawdown: Option<f64>,
    pub total_trades: u64,
    pub total_pnl: f64,
    /// Whether it left the universe (execution mode, within the bounds).
    pub applied: bool,
    /// Why not, when it did not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub not_applied: Option<String>,
}

/// One expansion candidate.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Expansion {
    pub symbol: Symbol,
    pub rank: usize,
    pub score: f64,
    pub model: String,
    pub applied: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub not_applied: Option<String>,
}

/// A symbol rotation cannot judge: its performance record could not be read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Unjudged {
    pub symbol: String,
    /// The record's key and the field at fault.
    pub why: String,
}

/// What rotation recommends, and in execution mode what it did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    pub mode: Mode,
    pub evict: Vec<Eviction>,
    /// Symbols whose performance record could not be read: never evicted on it.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unjudged: Vec<Unjudged>,
    pub expand: Vec<Expansion>,
    /// Model files not seen before; empty on the baseline scan.
    pub new_models: Vec<String>,
    /// True when this scan recorded the first baseline of seen models.
    pub baseline: bool,
    /// Model files that name no exchangeInfo symbol.
    pub unknown_model_files: Vec<String>,
    /// Symbols with a model.
    pub models: usize,
}

/// What rotation reads besides the ranking.
#[derive(Debug)]
pub struct Inputs<'a> {
    pub config: &'a Config,
    pub performance: &'a BTreeMap<String, Performance>,
    /// Records that could not be read: symbol → the key and the field at fault.
    pub unreadable: &'a BTreeMap<String, String>,
    /// Model files found (file → symbol), already limited to known symbols.
    pub models: &'a models::Scan,
    pub seen_models: Option<&'a BTreeSet<String>>,
    pub held: &'a BTreeSet<Symbol>,
    pub lists: &'a Lists,
    pub min_symbols: usize,
}

/// Recommends, and in execution mode applies, evictions and expansions to `choice`.
///
/// Both are planned together against the bounds: an eviction is refused only when the
/// universe would end below `min_symbols` even after the expansions that can refill it,
/// and expansions stop at `max_symbols`. Advisory mode plans exactly the same and says,
/// for each recommendation, whether execution would apply it and what would stop it.
pub fn rotate(ranked: &[Scored], choice: &mut Choice, input: &Inputs<'_>) -> Report {
    let s = input.config;
    let mut evict: Vec<Eviction> = choice
        .members
        .iter()
        .filter_map(|&i| eviction(ranked[i].candidate.symbol, input))
        .collect();
    // the worst results go first
    evict.sort_by(|a, b| {
        a.win_rate.total_cmp(&b.win_rate).then(
            b.max_drawdown
                .unwrap_or(0.0)
                .total_cmp(&a.max_drawdown.unwrap_or(0.0)),
        )
    });
    let mut expand = expansions(ranked, choice, input, &evict);
    let (plan_evict, plan_expand) = plan(choice.size(), &evict, expand.len(), input);
    apply(
        ranked,
        choice,
        s.mode,
        (&mut evict, plan_evict),
        (&mut expand, plan_expand),
    );
    let files = input.models.files();
    let (new_models, baseline) = match input.seen_models {
        Some(seen) => (files.difference(seen).cloned().collect(), false),
        None => (Vec::new(), s.model_dir.is_some()),
    };
    let unjudged = input
        .unreadable
        .iter()
        .map(|(symbol, why)| Unjudged {
            symbol: symbol.clone(),
            why: why.clone(),
        })
        .collect();
    Report {
        mode: s.mode,
        evict,
        unjudged,
        expand,
        new_models,
        baseline,
        unknown_model_files: input.models.unknown.clone(),
        models: input.models.symbols().len(),
    }
}

/// What stops each eviction and each expansion (`None`: nothing), planned together from a
/// universe of `size`: an eviction is refused only when the universe would end below
/// `min_symbols` even after the `refills` expansions that can refill it.
fn plan(
    mut size: usize,
    evict: &[Eviction],
    refills: usize,
    input: &Inputs<'_>,
) -> (Vec<Option<String>>, Vec<Option<String>>) {
    let max = input.config.max_symbols;
    let mut plan_evict: Vec<Option<String>> = Vec::new();
    for e in evict {
        let blocked = if input.held.contains(&e.symbol) {
            Some("held position".to_owned())
        } else if input.lists.is_pinned(&e.symbol) {
            Some("pinned".to_owned())
        } else if size - 1 + refills.min(max - (size - 1)) < input.min_symbols {
            Some(format!(
                "the universe would fall below min_symbols {}",
                input.min_symbols
            ))
        } else {
            None
        };
        if blocked.is_none() {
            size -= 1;
        }
        plan_evict.push(blocked);
    }
    let mut plan_expand: Vec<Option<String>> = Vec::new();
    for _ in 0..refills {
        if size < max {
            size += 1;
            plan_expand.push(None);
        } else {
            plan_expand.push(Some(format!("the universe is at max_symbols {max}")));
        }
    }
    (plan_evict, plan_expand)
}

type Planned<'a, T> = (&'a mut Vec<T>, Vec<Option<String>>);

/// Applies the plan in execution mode; in advisory mode says what execution would do.
fn apply(
    ranked: &[Scored],
    choice: &mut Choice,
    mode: Mode,
    (evict, plan_evict): Planned<'_, Eviction>,
    (expand, plan_expand): Planned<'_, Expansion>,
) {
    let execute = mode == Mode::Execution;
    for (e, blocked) in evict.iter_mut().zip(plan_evict) {
        match (execute, blocked) {
            (false, blocked) => e.not_applied = Some(advisory(blocked)),
            (true, Some(why)) => e.not_applied = Some(why),
            (true, None) => {
                e.applied = true;
                let why = Why::Evicted { why: e.why.clone() };
                remove(ranked, choice, e.symbol, why);
            }
        }
    }
    for (x, blocked) in expand.iter_mut().zip(plan_expand) {
        match (execute, blocked) {
            (false, blocked) => x.not_applied = Some(advisory(blocked)),
            (true, Some(why)) => x.not_applied = Some(why),
            (true, None) => {
                x.applied = true;
                choice.members.push(x.rank - 1);
                choice.decisions.retain(|d| d.symbol != x.symbol);
                choice.decisions.push(Decision {
                    symbol: x.symbol,
                    action: Action::Added,
                    reason: Why::Expansion {
                        model: x.model.clone(),
                        rank: x.rank,
                    },
                });
            }
        }
    }
    choice.members.sort_unstable();
}

/// What advisory mode says of a recommendation: what execution would do with it.
fn advisory(blocked: Option<String>) -> String {
    match blocked {
        None => "advisory mode (execution would apply it)".into(),
        Some(why) => format!("advisory mode (execution would not either: {why})"),
    }
}

/// Scored symbols outside the universe that have a model, best score first; never one
/// recommended for eviction.
fn expansions(
    ranked: &[Scored],
    choice: &Choice,
    input: &Inputs<'_>,
    evict: &[Eviction],
) -> Vec<Expansion> {
    let model_of: BTreeMap<&str, &str> = input
        .models
        .models
        .iter()
        .map(|(f, s)| (s.as_str(), f.as_str()))
        .collect();
    let evicted: BTreeSet<&str> = evict.iter().map(|e| e.symbol.as_str()).collect();
    ranked
        .iter()
        .enumerate()
        .filter(|(i, s)| {
            let symbol = s.candidate.symbol.as_str();
            !choice.members.contains(i)
                && model_of.contains_key(symbol)
                && !evicted.contains(symbol)
                && !input.config.is_evicted(input.performance.get(symbol))
        })
        .map(|(i, s)| Expansion {
            symbol: s.candidate.symbol,
            rank: i + 1,
            score: s.score,
            model: model_of[s.candidate.symbol.as_str()].to_owned(),
            applied: false,
            not_applied: None,
        })
        .collect()
}

impl Config {
    /// Why the results of `p` call for an eviction, if they do: at least
    /// `min_trades_for_eviction` trades and a win rate below `eviction_win_rate` or a
    /// drawdown above `eviction_drawdown` (a record without one is judged on win rate).
    pub fn eviction_reason(&self, p: &Performance) -> Option<String> {
        if p.total_trades < self.min_trades_for_eviction {
            return None;
        }
        let mut why = Vec::new();
        if p.win_rate < self.eviction_win_rate {
            why.push(format!(
                "win_rate {:.3} < {}",
                p.win_rate, self.eviction_win_rate
            ));
        }
        match p.max_drawdown {
            Some(drawdown) if drawdown > self.eviction_drawdown => why.push(format!(
                "max_drawdown {drawdown:.3} > {}",
                self.eviction_drawdown
            )),
            _ => {}
        }
        if why.is_empty() {
            return None;
        }
        let judged = if p.max_drawdown.is_none() {
            " (the record keeps no max_drawdown: judged on win rate alone)"
        } else {
            ""
        };
        Some(format!(
            "{} over {} trades{judged}",
            why.join(" and "),
            p.total_trades
        ))
    }

    /// Whether a symbol with these results is one rotation evicts.
    pub fn is_evicted(&self, p: Option<&Performance>) -> bool {
        p.and_then(|p| self.eviction_reason(p)).is_some()
    }

    /// The symbols execution mode keeps out this refresh: those it would evict. In
    /// advisory mode, none. (A symbol evicted once is no challenger on the next refresh
    /// of an unchanged market either, so the universe does not flip.)
    pub fn barred(&self, performance: &BTreeMap<String, Performance>) -> BTreeSet<Symbol> {
        if self.mode != Mode::Execution {
            return BTreeSet::new();
        }
        performance
            .iter()
            .filter(|(_, p)| self.eviction_reason(p).is_some())
            .filter_map(|(symbol, _)| Symbol::new(symbol))
            .collect()
    }
}

/// `symbol` as an eviction candidate, if its results say so.
fn eviction(symbol: Symbol, input: &Inputs<'_>) -> Option<Eviction> {
    let p = input.performance.get(symbol.as_str())?;
    let why = input.config.eviction_reason(p)?;
    Some(Eviction {
        symbol,
        why,
        win_rate: p.win_rate,
        max_drawdown: p.max_drawdown,
        total_trades: p.total_trades,
        total_pnl: p.pnl(),
        applied: false,
        not_applied: None,
    })
}

fn remove(ranked: &[Scored], choice: &mut Choice, symbol: Symbol, reason: Why) {
    choice
        .members
        .retain(|&i| ranked[i].candidate.symbol != symbol);
    match choice.decisions.iter_mut().find(|d| d.symbol == symbol) {
        Some(d) => {
            d.action = Action::Removed;
            d.reason = reason;
        }
        None => choice.decisions.push(Decision {
            symbol,
            action: Action::Removed,
            reason,
        }),
    }
}

#[cfg(test)]
mod tests;
