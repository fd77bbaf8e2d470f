//! `universe explain SYMBOL…`: everything the generator decided about each symbol, from
//! the same plan `generate` would publish (live or from a snapshot, with the store's
//! previous universe and held positions): every check with its value and threshold, the
//! features, each percentile component and its weight, score, rank, the regime's effect,
//! churn control's decision, and a one-line verdict.

use serde_json::json;

use super::report::symbol_report;
use crate::cli::ExplainArgs;
use crate::exit::ExitCode;
use crate::output::printable;
use crate::plan::Plan;
use crate::select::Weights;
use crate::select::eligibility;
use crate::select::score::Regime;
use crate::settings::Settings;

pub fn run(settings: &Settings, args: &ExplainArgs) -> anyhow::Result<ExitCode> {
    let plan = super::plan_without_publishing(settings, &args.selection, false)?;
    let explanations: Vec<serde_json::Value> = args
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

/// One symbol, as JSON: `generate --json`'s entry plus the checks, weights and verdict.
fn explain(plan: &Plan, settings: &Settings, symbol: &str) -> serde_json::Value {
    let mut value = symbol_report(plan, symbol);
    let overview = &plan.refresh.overview;
    if let Some(info) = overview.symbols.iter().find(|i| i.symbol == symbol) {
        let mut checks = serde_json::to_value(eligibility::checks(
            info,
            overview,
            &settings.filters,
            &settings.lists,
        ))
        .expect("serialisable");
        if let Some(list) = checks.as_array_mut() {
            list.push(candle_check(&value));
        }
        value["checks"] = checks;
    }
    value["weights"] = json!(plan.refresh.weights);
    value["regime_effect"] = json!(regime_effect(
        plan.refresh.regime,
        &settings.weights,
        &plan.refresh.weights
    ));
    value["scored_count"] = json!(plan.refresh.scored.len());
    value["verdict"] = json!(verdict(&value));
    value
}

/// The candle stage as one more check.
fn candle_check(report: &serde_json::Value) -> serde_json::Value {
    let reason = report["excluded"].as_str();
    let candle_reasons = ["fetch_failed", "insufficient_history", "bad_data"];
    match reason {
        Some(r) if candle_reasons.contains(&r) => json!({
            "name": "candles", "pass": false, "seen": format!("{r}: {}", report["detail"].as_str().unwrap_or("")),
            "threshold": "96 closed 15m and 1h candles, finite positive prices",
        }),
        Some(_) => {
            json!({"name": "candles", "pass": false, "seen": "not fetched (an earlier check failed)", "threshold": "—"})
        }
        None => {
            json!({"name": "candles", "pass": true, "seen": "96 closed 15m and 96 closed 1h candles", "threshold": "96 of each, finite positive prices"})
        }
    }
}

fn regime_effect(regime: Regime, base: &Weights, used: &Weights) -> String {
    if regime == Regime::Normal {
        return "normal regime: the configured weights".into();
    }
    let changed: Vec<String> = [
        ("trend_1h", base.trend_1h, used.trend_1h),
        ("mom_15m", base.mom_15m, used.mom_15m),
        ("mom_1h", base.mom_1h, used.mom_1h),
        ("vol_fit", base.vol_fit, used.vol_fit),
        ("liquidity", base.liquidity, used.liquidity),
    ]
    .iter()
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

fn verdict(report: &serde_json::Value) -> String {
    let reason = report["decision"]["reason"].as_str().unwrap_or("");
    if report["selected"] == true {
        let action = report["decision"]["action"].as_str().unwrap_or("");
        return format!("SELECTED at rank {} ({action}: {reason})", report["rank"]);
    }
    if let Some(excluded) = report["excluded"].as_str() {
        return format!(
            "EXCLUDED: {excluded} ({})",
            report["detail"].as_str().unwrap_or("")
        );
    }
    if report["excluded"].is_null() && report["rank"].is_null() {
        return "UNKNOWN: not in exchangeInfo".into();
    }
    if reason.is_empty() {
        format!(
            "NOT SELECTED: rank {} is outside the universe",
            report["rank"]
        )
    } else {
        format!("NOT SELECTED: {reason}")
    }
}

fn print_one(out: &mut impl std::io::Write, e: &serde_json::Value) -> anyhow::Result<()> {
    let symbol = e["symbol"].as_str().unwrap_or("?");
    writeln!(
        out,
        "{}: {}",
        printable(symbol),
        printable(e["verdict"].as_str().unwrap_or(""))
    )?;
    for check in e["checks"].as_array().into_iter().flatten() {
        writeln!(
            out,
            "  {} {:<22} {}  (needs {})",
            if check["pass"] == true {
                "PASS"
            } else {
                "FAIL"
            },
            check["name"].as_str().unwrap_or(""),
            printable(check["seen"].as_str().unwrap_or("")),
            check["threshold"].as_str().unwrap_or("")
        )?;
    }
    if e["score"].is_number() {
        writeln!(
            out,
            "  features: atr_pct_15m {:.4}, trend_1h {:.4}, mom_15m {:.4}, mom_1h {:.4}",
            num(&e["atr_pct_15m"]),
            num(&e["trend_1h"]),
            num(&e["mom_15m"]),
            num(&e["mom_1h"])
        )?;
        let (c, w) = (&e["components"], &e["weights"]);
        let parts: Vec<String> = ["trend_1h", "mom_15m", "mom_1h", "vol_fit", "liquidity"]
            .iter()
            .map(|k| format!("{:.3}×{:.3} {k}", num(&w[k]), num(&c[k])))
            .collect();
        writeln!(
            out,
            "  score {:.3} = 100·({}) / {:.3}",
            num(&e["score"]),
            parts.join(" + "),
            weight_sum(w)
        )?;
        writeln!(
            out,
            "  rank {} of {}; leverage {}",
            e["rank"], e["scored_count"], e["leverage"]
        )?;
    }
    writeln!(out, "  {}", e["regime_effect"].as_str().unwrap_or(""))?;
    if let Some(d) = e["decision"].as_object() {
        writeln!(
            out,
            "  churn control: {} ({})",
            d["action"].as_str().unwrap_or(""),
            d["reason"].as_str().unwrap_or("")
        )?;
    }
    Ok(())
}

fn num(v: &serde_json::Value) -> f64 {
    v.as_f64().unwrap_or(f64::NAN)
}

fn weight_sum(w: &serde_json::Value) -> f64 {
    ["trend_1h", "mom_15m", "mom_1h", "vol_fit", "liquidity"]
        .iter()
        .map(|k| num(&w[k]))
        .sum()
}
