//! `universe explain SYMBOL…`: everything the generator decided about each symbol, from
//! the same plan `generate` would publish (live or from a snapshot, with the store's
//! previous universe and held positions): every check with its value and threshold, the
//! features, each percentile component and its weight, score, rank, the regime's effect,
//! churn control's decision, and a one-line verdict.

use serde::Serialize;
use serde_json::json;

use super::report::SymbolReport;
use crate::cli::ExplainArgs;
use crate::decide::Plan;
use crate::exit::ExitCode;
use crate::output::printable;
use crate::select::eligibility;
use crate::select::score::Regime;
use crate::select::{Reason, Weights};
use crate::settings::Settings;

/// Everything decided about one symbol: `generate --json`'s entry plus the checks, the
/// weights, the regime's effect and a one-line verdict.
#[derive(Debug, Serialize)]
struct Explanation<'a> {
    #[serde(flatten)]
    report: SymbolReport<'a>,
    /// Each check with the value seen and its threshold; none for an unknown symbol.
    #[serde(skip_serializing_if = "Option::is_none")]
    checks: Option<Vec<Check>>,
    weights: Weights,
    regime_effect: String,
    scored_count: usize,
    verdict: String,
    /// Why rotation cannot judge the symbol, when its performance record is unreadable.
    #[serde(skip_serializing_if = "Option::is_none")]
    rotation: Option<String>,
}

/// One check as explain shows it.
#[derive(Debug, Serialize)]
struct Check {
    name: &'static str,
    pass: bool,
    seen: String,
    threshold: String,
}

pub fn run(settings: &Settings, args: &ExplainArgs) -> anyhow::Result<ExitCode> {
    let plan = super::plan_without_publishing(settings, &args.selection, false)?;
    let explanations: Vec<Explanation> = args
        .symbols
        .iter()
        .map(|s| explain(&plan, settings, s))
        .collect();
    if args.json {
        super::print_json(&json!({
            "regime": plan.refresh.regime,
            "median_atr_pct_15m": plan.refresh.median_atr,
            "weights": plan.refresh.weights,
            "symbols": explanations,
        }))?;
    } else {
        let mut out = crate::output::stdout();
        for explanation in &explanations {
            print_one(&mut out, explanation)?;
        }
    }
    Ok(ExitCode::Success)
}

fn explain<'a>(plan: &'a Plan, settings: &Settings, symbol: &'a str) -> Explanation<'a> {
    let report = SymbolReport::of(plan, symbol);
    let overview = &plan.refresh.overview;
    let checks = overview
        .symbols
        .iter()
        .find(|i| i.symbol == symbol)
        .map(|info| {
            let config = settings.decision();
            let required = crate::decide::assess::required_models(&config, &plan.models.models);
            let rules = crate::decide::assess::rules(&config, required.as_ref());
            let mut checks: Vec<Check> = eligibility::checks(info, overview, &rules)
                .into_iter()
                .map(|c| Check {
                    name: c.name,
                    pass: c.pass,
                    seen: c.seen,
                    threshold: c.threshold,
                })
                .collect();
            checks.push(candle_check(&report));
            checks
        });
    let verdict = verdict(&report);
    Explanation {
        report,
        checks,
        weights: plan.refresh.weights,
        regime_effect: regime_effect(
            plan.refresh.regime,
            &settings.weights,
            &plan.refresh.weights,
        ),
        scored_count: plan.refresh.scored.len(),
        verdict,
        rotation: plan
            .rotation
            .unjudged
            .iter()
            .find(|u| u.symbol == symbol)
            .map(|u| format!("cannot judge: performance record unreadable ({})", u.why)),
    }
}

/// The candle stage as one more check.
fn candle_check(report: &SymbolReport) -> Check {
    let check = |pass: bool, seen: String, threshold: &str| Check {
        name: "candles",
        pass,
        seen,
        threshold: threshold.to_owned(),
    };
    match report {
        SymbolReport::Excluded {
            excluded: r @ (Reason::FetchFailed | Reason::InsufficientHistory | Reason::BadData),
            detail,
            ..
        } => check(
            false,
            format!("{r}: {detail}"),
            "96 closed 15m and 1h candles, finite positive prices",
        ),
        SymbolReport::Excluded { .. } | SymbolReport::Unknown { .. } => {
            check(false, "not fetched (an earlier check failed)".into(), "—")
        }
        SymbolReport::Scored { .. } => check(
            true,
            "96 closed 15m and 96 closed 1h candles".into(),
            "96 of each, finite positive prices",
        ),
    }
}
fn regime_effect(regime: Regime, base: &Weights, used: &Weights) -> String {
    if regime == Regime::Normal {
        return "normal regime: the configured weights".into();
    }
    let changed: Vec<String> = base
        .named()
        .zip(used.named())
        .map(|((name, b), (_, u))| (name, b, u))
        .filter(|(_, b, u)| b != u)
        .map(|(name, b, u)| format!("{name} {b} → {u}"))
        .collect();
    format!(
        "{} regime: {}",
        regime.as_str(),
        if changed.is_empty() {
            "no weight changed".into()
        } else {
            changed.join(", ")
        }
    )
}

fn verdict(report: &SymbolReport) -> String {
    let reason = report
        .decision()
        .map_or_else(String::new, |d| d.reason.to_string());
    match report {
        SymbolReport::Scored { rank, .. } if report.selected() => {
            let action = report.decision().map_or("", |d| d.action.as_str());
            format!("SELECTED at rank {rank} ({action}: {reason})")
        }
        // a carried open position has no rank this time
        SymbolReport::Excluded { .. } if report.selected() => {
            let action = report.decision().map_or("", |d| d.action.as_str());
            format!("SELECTED at rank null ({action}: {reason})")
        }
        SymbolReport::Excluded {
            excluded, detail, ..
        } => format!("EXCLUDED: {excluded} ({detail})"),
        SymbolReport::Unknown { .. } => "UNKNOWN: not in exchangeInfo".into(),
        SymbolReport::Scored { rank, .. } if reason.is_empty() => {
            format!("NOT SELECTED: rank {rank} is outside the universe")
        }
        SymbolReport::Scored { .. } => format!("NOT SELECTED: {reason}"),
    }
}

fn print_one(out: &mut impl std::io::Write, e: &Explanation) -> anyhow::Result<()> {
    let symbol = match &e.report {
        SymbolReport::Scored { scored, .. } => scored.candidate.symbol.as_str(),
        SymbolReport::Excluded { symbol, .. } | SymbolReport::Unknown { symbol, .. } => symbol,
    };
    writeln!(out, "{}: {}", printable(symbol), printable(&e.verdict))?;
    for check in e.checks.iter().flatten() {
        writeln!(
            out,
            "  {} {:<22} {}  (needs {})",
            if check.pass { "PASS" } else { "FAIL" },
            check.name,
            printable(&check.seen),
            check.threshold
        )?;
    }
    if let SymbolReport::Scored { scored, rank, .. } = &e.report {
        print_score(out, scored, *rank, e)?;
    }
    writeln!(out, "  {}", e.regime_effect)?;
    if let Some(d) = e.report.decision() {
        writeln!(out, "  churn control: {} ({})", d.action.as_str(), d.reason)?;
    }
    if let Some(rotation) = &e.rotation {
        writeln!(out, "  rotation: {}", printable(rotation))?;
    }
    Ok(())
}

/// The features, the score as the weighted sum of its components, rank and leverage.
fn print_score(
    out: &mut impl std::io::Write,
    scored: &crate::select::Scored,
    rank: usize,
    e: &Explanation,
) -> anyhow::Result<()> {
    let f = &scored.features;
    writeln!(
        out,
        "  features: atr_pct_15m {:.4}, trend_1h {:.4}, mom_15m {:.4}, mom_1h {:.4}",
        f.atr_pct_15m, f.trend_1h, f.mom_15m, f.mom_1h
    )?;
    let (c, w) = (&scored.components, &e.weights);
    let parts: Vec<String> = w
        .named()
        .zip(c.named())
        .map(|((k, w), (_, c))| format!("{w:.3}×{c:.3} {k}"))
        .collect();
    writeln!(
        out,
        "  score {:.3} = 100·({}) / {:.3}",
        scored.score,
        parts.join(" + "),
        w.sum()
    )?;
    writeln!(
        out,
        "  rank {rank} of {}; leverage {}",
        e.scored_count, scored.leverage
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_regime_effect_names_each_weight_it_changed() {
        let base = Weights::DEFAULT;
        let high = base.scaled(&Weights {
            trend_1h: 1.5,
            ..Weights::ONES
        });
        assert_eq!(
            regime_effect(Regime::HighVol, &base, &high),
            "high_vol regime: trend_1h 1 → 1.5"
        );
        assert_eq!(
            regime_effect(Regime::LowVol, &base, &base),
            "low_vol regime: no weight changed"
        );
        assert_eq!(
            regime_effect(Regime::Normal, &base, &high),
            "normal regime: the configured weights"
        );
    }
}
