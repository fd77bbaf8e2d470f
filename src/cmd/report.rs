//! What `generate`, `explain` and `rotation` print: the summary, the universe's rows,
//! the rotation recommendations, and each symbol's verdict as JSON.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::time::Instant;

use serde::Serialize;
use serde_json::json;

use crate::decide::Plan;
use crate::output::printable;
use crate::policy::{Policy, field};
use crate::select::Scored;
use crate::select::churn::{Action, Decision};
use crate::select::{self, Reason};

/// What the refresh cost the exchange: for the policy, the audit entry and `--json`.
pub fn request_stats(plan: &Plan) -> serde_json::Value {
    let u = plan.refresh.usage;
    json!({
        "weight": u.weight,
        "requests": u.requests,
        "retries": u.retries,
        "rate_limited": u.rate_limited,
        "candle_symbols": plan.refresh.candles_needed,
        "cache_hits": plan.refresh.cache_hits,
    })
}

/// One symbol's verdict, as `generate --json` and `explain` print it.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum SymbolReport<'a> {
    /// Scored: its figures, rank, whether it is in the universe, and churn control's
    /// decision.
    Scored {
        #[serde(flatten)]
        scored: &'a Scored,
        rank: usize,
        selected: bool,
        decision: Option<&'a Decision>,
    },
    /// Excluded before scoring; `selected` when it is carried as an open position.
    Excluded {
        symbol: &'a str,
        selected: bool,
        excluded: Reason,
        detail: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        decision: Option<&'a Decision>,
    },
    /// Not in exchangeInfo.
    Unknown {
        symbol: &'a str,
        selected: bool,
        excluded: Option<Reason>,
        detail: &'static str,
    },
}

impl<'a> SymbolReport<'a> {
    pub fn of(plan: &'a Plan, symbol: &'a str) -> Self {
        if let Some(rank) = plan.rank(symbol) {
            return Self::Scored {
                scored: &plan.refresh.scored[rank - 1],
                rank,
                selected: plan.choice.members.contains(&(rank - 1)),
                decision: plan.choice.decision(symbol),
            };
        }
        if let Some(e) = plan.refresh.excluded.iter().find(|e| e.symbol == symbol) {
            return Self::Excluded {
                symbol: &e.symbol,
                selected: plan.choice.carried.iter().any(|c| c == symbol),
                excluded: e.reason,
                detail: &e.detail,
                decision: plan.choice.decision(symbol),
            };
        }
        Self::Unknown {
            symbol,
            selected: false,
            excluded: None,
            detail: "not in exchangeInfo",
        }
    }

    pub fn selected(&self) -> bool {
        match self {
            Self::Scored { selected, .. }
            | Self::Excluded { selected, .. }
            | Self::Unknown { selected, .. } => *selected,
        }
    }

    pub fn decision(&self) -> Option<&'a Decision> {
        match self {
            Self::Scored { decision, .. } | Self::Excluded { decision, .. } => *decision,
            Self::Unknown { .. } => None,
        }
    }
}

/// `--json`: the policy's identity and every exchangeInfo symbol's verdict.
pub fn report(
    policy: &Policy,
    plan: &Plan,
    published: Option<&str>,
    started: Instant,
) -> serde_json::Value {
    let refresh = &plan.refresh;
    let mut names: Vec<&str> = refresh
        .scored
        .iter()
        .map(|s| s.candidate.symbol.as_str())
        .collect();
    let mut excluded: Vec<&str> = refresh.excluded.iter().map(|e| e.symbol.as_str()).collect();
    excluded.sort_unstable();
    names.extend(excluded);
    let symbols: Vec<SymbolReport> = names.iter().map(|s| SymbolReport::of(plan, s)).collect();
    let exclusions: BTreeMap<Reason, usize> = select::count_by_reason(&refresh.excluded);
    json!({
        "universe": policy.symbols().unwrap_or_default(),
        "universe_hash": policy.get(field::UNIVERSE_HASH),
        "policy_hash": policy.get(field::POLICY_HASH),
        "run_id": policy.get(field::RUN_ID),
        "created_at_epoch": policy.epoch(field::CREATED_AT).ok(),
        "valid_until_epoch": policy.epoch(field::VALID_UNTIL).ok(),
        "published_to": published,
        "server_time_ms": refresh.overview.server_time,
        "regime": refresh.regime,
        "median_atr_pct_15m": refresh.median_atr,
        "weights": refresh.weights,
        "scored_count": refresh.scored.len(),
        "exclusions": exclusions,
        "churn": &plan.choice,
        "rotation": &plan.rotation,
        "usage": refresh.usage,
        "request_stats": request_stats(plan),
        "features_us": refresh.features_us,
        "duration_ms": started.elapsed().as_millis() as u64,
        "symbols": symbols,
    })
}

pub fn print_summary(
    policy: &Policy,
    plan: &Plan,
    published: Option<&str>,
    started: Instant,
) -> anyhow::Result<()> {
    let mut out = crate::output::stdout();
    let hash = policy.get(field::UNIVERSE_HASH).unwrap_or_default();
    let size = plan.choice.size();
    match published {
        Some(store) => writeln!(out, "published universe {hash} ({size} symbols) to {store}")?,
        None => writeln!(
            out,
            "dry run: universe {hash} ({size} symbols), nothing written"
        )?,
    }
    print_members(&mut out, plan)?;
    print_left_out(&mut out, plan)?;
    print_rotation(&mut out, &plan.rotation)?;
    print_costs(&mut out, plan, started)
}

/// The symbols churn control removed and the challengers the correlation limit skipped.
fn print_left_out(out: &mut impl std::io::Write, plan: &Plan) -> anyhow::Result<()> {
    for d in plan
        .choice
        .decisions
        .iter()
        .filter(|d| d.action == Action::Removed)
    {
        writeln!(
            out,
            "   -  {:<16} removed: {}",
            printable(&d.symbol),
            d.reason
        )?;
    }
    for s in &plan.choice.skipped {
        writeln!(
            out,
            "   ~  {:<16} skipped: correlation {:.2} with {}",
            printable(&s.symbol),
            s.correlation,
            printable(&s.correlated_with)
        )?;
    }
    Ok(())
}

/// The regime, the exclusions, and what the refresh cost the exchange and took.
fn print_costs(out: &mut impl std::io::Write, plan: &Plan, started: Instant) -> anyhow::Result<()> {
    let refresh = &plan.refresh;
    let counts = select::count_by_reason(&refresh.excluded);
    let counts: Vec<String> = counts.iter().map(|(r, n)| format!("{r} {n}")).collect();
    writeln!(
        out,
        "regime {} (median atr%15m {:.3}); scored {} of {} symbols; excluded: {}",
        refresh.regime.as_str(),
        refresh.median_atr,
        refresh.scored.len(),
        refresh.scored.len() + refresh.excluded.len(),
        counts.join(", ")
    )?;
    let u = refresh.usage;
    let seconds = started.elapsed().as_secs_f64();
    if u.requests == 0 {
        writeln!(out, "replayed from a snapshot, no requests; {seconds:.2}s")?;
    } else {
        writeln!(
            out,
            "exchange: {} requests, weight {}, {} retries, {} rate-limited, {} of {} symbols from the candle cache; {seconds:.2}s",
            u.requests,
            u.weight,
            u.retries,
            u.rate_limited,
            refresh.cache_hits,
            refresh.candles_needed
        )?;
    }
    Ok(())
}

/// The universe's rows: its members in rank order, then the carried open positions.
fn print_members(out: &mut impl std::io::Write, plan: &Plan) -> anyhow::Result<()> {
    let refresh = &plan.refresh;
    writeln!(
        out,
        "{:>4}  {:<16} {:>6} {:>8} {:>8} {:>8} {:>8} {:>4}  why",
        "rank", "symbol", "score", "atr%15m", "trend1h", "mom15m", "mom1h", "lev"
    )?;
    for &i in &plan.choice.members {
        let s = &refresh.scored[i];
        let f = &s.features;
        let why = plan
            .choice
            .decision(&s.candidate.symbol)
            .map_or_else(String::new, |d| d.reason.to_string());
        writeln!(
            out,
            "{:>4}  {:<16} {:>6.2} {:>8.3} {:>8.3} {:>8.3} {:>8.3} {:>4}  {}",
            i + 1,
            printable(&s.candidate.symbol),
            s.score,
            f.atr_pct_15m,
            f.trend_1h,
            f.mom_15m,
            f.mom_1h,
            s.leverage,
            why
        )?;
    }
    for s in &plan.carried {
        let why = plan
            .choice
            .decision(&s.candidate.symbol)
            .map_or_else(String::new, |d| d.reason.to_string());
        writeln!(
            out,
            "   *  {:<16} {:>6.2} {:>8} {:>8} {:>8} {:>8} {:>4}  {}",
            printable(&s.candidate.symbol),
            s.score,
            "",
            "",
            "",
            "",
            s.leverage,
            why
        )?;
    }
    Ok(())
}

/// The rotation recommendations, when there are any.
pub fn print_rotation(
    out: &mut impl std::io::Write,
    r: &crate::rotation::Report,
) -> std::io::Result<()> {
    let mode = match r.mode {
        crate::rotation::Mode::Advisory => "advisory",
        crate::rotation::Mode::Execution => "execution",
    };
    print_rotation_actions(out, r)?;
    for u in &r.unjudged {
        writeln!(
            out,
            "   ?  {:<16} cannot judge: performance record unreadable ({})",
            printable(&u.symbol),
            printable(&u.why)
        )?;
    }
    let list = |items: &[String]| {
        items
            .iter()
            .map(|m| printable(m).into_owned())
            .collect::<Vec<_>>()
            .join(", ")
    };
    if r.baseline {
        writeln!(
            out,
            "rotation ({mode}): first model scan, {} models recorded as the baseline",
            r.models
        )?;
    } else if !r.new_models.is_empty() {
        writeln!(out, "rotation ({mode}): new models {}", list(&r.new_models))?;
    }
    if !r.unknown_model_files.is_empty() {
        writeln!(
            out,
            "rotation: model files naming no known symbol: {}",
            list(&r.unknown_model_files)
        )?;
    }
    Ok(())
}

/// What became of a recommendation: `done`, or `asked` with why it was not applied.
fn state(done: &str, asked: &str, applied: bool, why_not: Option<&str>) -> String {
    if applied {
        done.to_owned()
    } else {
        format!("{asked} not applied: {}", why_not.unwrap_or(""))
    }
}

/// The evictions and expansions, applied or recommended.
fn print_rotation_actions(
    out: &mut impl std::io::Write,
    r: &crate::rotation::Report,
) -> std::io::Result<()> {
    for e in &r.evict {
        let state = state("evicted", "evict?", e.applied, e.not_applied.as_deref());
        writeln!(
            out,
            "   !  {:<16} {state} ({}; pnl {:.2})",
            printable(&e.symbol),
            e.why,
            e.total_pnl
        )?;
    }
    for x in r.expand.iter().take(5) {
        let state = state("expanded", "expand?", x.applied, x.not_applied.as_deref());
        writeln!(
            out,
            "   +  {:<16} {state} (model {}, rank {}, score {:.2})",
            printable(&x.symbol),
            printable(&x.model),
            x.rank,
            x.score
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_recommendation_says_whether_it_was_applied_and_why_not() {
        assert_eq!(super::state("evicted", "evict?", true, None), "evicted");
        assert_eq!(
            super::state("expanded", "expand?", false, Some("pinned")),
            "expand? not applied: pinned"
        );
    }
}
