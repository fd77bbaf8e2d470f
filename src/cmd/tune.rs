//! `universe tune`: the history and the schedule, the tuning, then the verdict, the
//! out-of-sample table, the folds and a TOML snippet to paste (or `--json`, `--report`).
//! It reads a history and writes only stdout and the report: no policy is touched.

use std::fmt::Write as _;
use std::io::Write as _;

use anyhow::Context as _;
use serde_json::json;

use crate::backtest::archive::Archive;
use crate::backtest::outcome::Costs;
use crate::cli::TuneArgs;
use crate::error::UsageError;
use crate::exit::ExitCode;
use crate::output;
use crate::select::Weights;
use crate::settings::Settings;
use crate::tune::{self, Folding, Options, Space, Tuned, space};

pub fn run(settings: &Settings, args: &TuneArgs) -> anyhow::Result<ExitCode> {
    let archive = Archive::read(&args.history)
        .map_err(|e| UsageError(format!("--history {}: {e}", args.history.display())))?;
    let times = super::backtest::schedule(
        &archive,
        args.from.as_deref(),
        args.to.as_deref(),
        args.step,
    )?;
    let options = options(settings, args)?;
    let config = crate::backtest::decision(settings);
    let history = args.history.display();
    let tuned = tune::tune(archive, &config, &times, &options)
        .map_err(|e| UsageError(format!("--history {history}: {e}")))?;
    let verdict = verdict(&tuned);
    if let Some(path) = &args.report {
        std::fs::write(path, tune::report::page(&tuned, &verdict))
            .with_context(|| format!("writing {}", path.display()))?;
    }
    if args.json {
        super::print_json(&document(&tuned, &verdict, &options))?;
    } else {
        let text = table(&tuned, &options) + &snippet(&tuned, &verdict, args);
        output::stdout().write_all(text.as_bytes())?;
    }
    Ok(ExitCode::Success)
}

/// The flags as tuning options; a bad one is a usage error.
fn options(settings: &Settings, args: &TuneArgs) -> Result<Options, UsageError> {
    let step_ms = super::backtest::step_ms(args.step)?;
    let steps = |flag: &str, d: std::time::Duration| -> Result<usize, UsageError> {
        let ms = i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
        if ms % step_ms != 0 {
            return Err(UsageError(format!(
                "{flag} {}: not a whole number of --step",
                humantime::format_duration(d)
            )));
        }
        Ok(usize::try_from(ms / step_ms).unwrap_or(usize::MAX))
    };
    let folding = match (args.train, args.test) {
        (Some(train), Some(test)) => Folding::Windows {
            train: steps("--train", train)?,
            test: steps("--test", test)?,
        },
        _ => Folding::Count(args.folds),
    };
    if !args.blocks.is_multiple_of(2) {
        return Err(UsageError(format!(
            "--blocks {}: expected an even number",
            args.blocks
        )));
    }
    let space = match &args.space {
        None => Space::default(),
        Some(path) => std::fs::read_to_string(path)
            .map_err(|e| e.to_string())
            .and_then(|text| Space::parse(&text))
            .map_err(|e| UsageError(format!("--space {}: {e}", path.display())))?,
    };
    Ok(Options {
        trials: args.trials as usize,
        seed: args.seed,
        objective: args.objective,
        folding,
        blocks: args.blocks as usize,
        space,
        costs: Costs {
            fee: args.fee_bps / 10_000.0,
            funding: true,
        },
        draws: args.draws,
        valid_for_s: settings.valid_for_s,
    })
}

/// One line a person can act on.
fn verdict(t: &Tuned) -> String {
    let numbers = format!(
        "deflated Sharpe ratio {:.2} (needs ≥ 0.95), PBO {:.2} (needs < 0.5)",
        t.deflated_sharpe, t.pbo
    );
    if t.edge() {
        format!("evidence of an edge over the configured weights: {numbers}")
    } else {
        format!("no evidence: keep the configured weights; {numbers}")
    }
}

fn when(t: &Tuned, k: usize) -> String {
    crate::clock::epoch(t.times[k.min(t.times.len() - 1)] / 1000)
}

fn shares(w: &Weights) -> String {
    Weights::NAMES
        .iter()
        .zip(space::shares(w))
        .map(|(n, s)| format!("{n} {s:.2}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The out-of-sample figures, the folds, the weights' stability and the statistics.
fn table(t: &Tuned, o: &Options) -> String {
    let oos = &t.oos;
    let mut out = format!(
        "tune {} → {}: {} steps, {} trials, {} folds, objective {}; out of sample {} → {} ({} steps)\n",
        when(t, 0),
        when(t, t.times.len() - 1),
        t.times.len(),
        t.trials.len(),
        t.folds.len(),
        o.objective.name(),
        when(t, oos.from),
        when(t, oos.to - 1),
        oos.to - oos.from
    );
    out.push_str(&out_of_sample(t));
    out.push_str(&folds(t, o));
    out.push_str(&stability(t));
    let _ = writeln!(
        out,
        "deflated Sharpe ratio {:.3}: the out-of-sample excess over the configured weights has a Sharpe ratio of {:.4} per step over {} steps (skew {:.2}, kurtosis {:.2}); the best of {} trials would show {:.4} by luck ({:.3} with the trials' own spread of Sharpe ratios, variance {:.4})",
        t.deflated_sharpe,
        t.excess.sharpe,
        t.excess.n,
        t.excess.skew,
        t.excess.kurtosis,
        t.trials.len(),
        t.expected_max_sharpe,
        t.deflated_by_spread,
        t.trials_sharpe_variance
    );
    let _ = writeln!(
        out,
        "PBO {:.3}: over {} halvings of {} blocks",
        t.pbo,
        t.logits.len(),
        o.blocks
    );
    let _ = writeln!(out, "verdict: {}", verdict(t));
    out
}

/// The out-of-sample figures of the chosen and configured weights, and the random band.
fn out_of_sample(t: &Tuned) -> String {
    let oos = &t.oos;
    let per_year = 365.0 * 86_400_000.0 / (t.times[1] - t.times[0]) as f64;
    let mut out = String::new();
    out.push_str(
        "out of sample                      total   sharpe   max dd   replacements/refresh\n",
    );
    for (name, e) in [
        ("chosen weights", &oos.chosen),
        ("configured weights", &oos.default),
    ] {
        let (total, sharpe, dd) = figures(&e.returns, per_year);
        let _ = writeln!(
            out,
            "{name:<30} {:>+9.2}% {sharpe:>8.2} {:>7.2}% {:>10.2}",
            100.0 * total,
            100.0 * dd,
            e.replacements
        );
    }
    let band = &oos.band;
    let _ = writeln!(
        out,
        "random universes ({} draws)    mean {:+.2}%, 5–95% [{:+.2}%, {:+.2}%]",
        band.draws,
        100.0 * (band.mean.last().unwrap_or(&1.0) - 1.0),
        100.0 * (band.p05.last().unwrap_or(&1.0) - 1.0),
        100.0 * (band.p95.last().unwrap_or(&1.0) - 1.0)
    );
    out
}

/// Each fold's parts and the trial chosen there.
fn folds(t: &Tuned, o: &Options) -> String {
    let mut out = String::new();
    for (i, f) in t.folds.iter().enumerate() {
        let _ = writeln!(
            out,
            "fold {}: train {} → {}, test {} → {}: trial {} ({}), train {} {:.4}",
            i + 1,
            when(t, f.train.0),
            when(t, f.train.1 - 1),
            when(t, f.test.0),
            when(t, f.test.1 - 1),
            f.chosen,
            shares(&t.trials[f.chosen]),
            o.objective.name(),
            f.train_scores[f.chosen]
        );
    }
    out
}

/// Total return, annualised Sharpe ratio and max drawdown of step returns.
fn figures(returns: &[f64], per_year: f64) -> (f64, f64, f64) {
    let (mut value, mut peak, mut dd) = (1.0_f64, 1.0_f64, 0.0_f64);
    for r in returns {
        value *= 1.0 + r;
        peak = peak.max(value);
        dd = dd.max(1.0 - value / peak);
    }
    let sharpe = tune::stats::Moments::of(returns).sharpe * per_year.sqrt();
    (value - 1.0, sharpe, dd)
}

/// How much the chosen weights move from fold to fold: the largest range of a share.
fn stability(t: &Tuned) -> String {
    let chosen: Vec<[f64; 5]> = t
        .folds
        .iter()
        .map(|f| space::shares(&t.trials[f.chosen]))
        .collect();
    let (name, range) = (0..5)
        .map(|k| {
            let col = chosen.iter().map(|c| c[k]);
            let range = col.clone().fold(f64::MIN, f64::max) - col.fold(f64::MAX, f64::min);
            (Weights::NAMES[k], range)
        })
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .expect("five weights");
    if range > 0.25 {
        format!(
            "unstable: the chosen weights move from fold to fold ({name}'s share spans {range:.2}); a choice that moves so much is a finding, not a setting\n"
        )
    } else {
        format!("stable: no weight's share moves more than {range:.2} from fold to fold ({name})\n")
    }
}

/// A `[score.weights]` section to paste, the evidence in comments.
fn snippet(t: &Tuned, verdict: &str, args: &TuneArgs) -> String {
    let weights = if t.edge() {
        t.trials[t.folds[t.folds.len() - 1].chosen]
    } else {
        t.trials[0]
    };
    let mut out = format!(
        "\n# universe tune --history {} --trials {} --seed {} --objective {}\n# {verdict}\n",
        args.history.display(),
        args.trials,
        args.seed,
        args.objective.name()
    );
    out.push_str(if t.edge() {
        "# the weights chosen on the last fold's training part\n"
    } else {
        "# the configured weights, kept\n"
    });
    out.push_str("[score.weights]\n");
    for (name, w) in weights.named() {
        let _ = writeln!(out, "{name} = {w:?}");
    }
    out
}

/// Everything as JSON: every trial, every fold, the out-of-sample series, the statistics.
fn document(t: &Tuned, verdict: &str, o: &Options) -> serde_json::Value {
    json!({
        "verdict": verdict,
        "edge": t.edge(),
        "objective": o.objective,
        "seed": o.seed,
        "times": {"first": t.times.first(), "last": t.times.last(), "steps": t.times.len()},
        "trials": t.trials.iter().zip(&t.whole).enumerate().map(|(i, (w, whole))| json!({"trial": i, "weights": w, "whole_history": whole})).collect::<Vec<_>>(),
        "folds": t.folds,
        "configured_total_return": t.default_total,
        "out_of_sample": {"from": t.oos.from, "to": t.oos.to,
            "chosen_returns": t.oos.chosen.returns, "configured_returns": t.oos.default.returns,
            "chosen_replacements_per_refresh": t.oos.chosen.replacements,
            "configured_replacements_per_refresh": t.oos.default.replacements,
            "random": t.oos.band},
        "deflated_sharpe": {"value": t.deflated_sharpe, "excess_sharpe_per_step": t.excess.sharpe, "steps": t.excess.n,
            "skew": t.excess.skew, "kurtosis": t.excess.kurtosis, "expected_max_sharpe": t.expected_max_sharpe,
            "trials_sharpe_variance": t.trials_sharpe_variance, "value_by_trials_spread": t.deflated_by_spread},
        "pbo": {"value": t.pbo, "blocks": o.blocks, "logits": t.logits},
    })
}
