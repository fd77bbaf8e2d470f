//! `tune --report FILE.html`: one self-contained page. The out-of-sample equity of the
//! chosen weights against the configured ones and the random band; the weights chosen
//! in each fold; the histogram of PBO's logits.

use std::fmt::Write as _;

use super::{Tuned, space};
use crate::backtest::report::{COLORS, Unit, escape, head, line_chart};
use crate::select::Weights;

const WIDTH: f64 = 960.0;
const HEIGHT: f64 = 240.0;
const LEFT: f64 = 64.0;

/// The whole page, headed by the verdict.
pub fn page(tuned: &Tuned, verdict: &str) -> String {
    let mut html = head("universe tune");
    let _ = write!(
        html,
        "<h1>universe tune</h1><p><b>{}</b></p>",
        escape(verdict)
    );
    let oos = &tuned.oos;
    let times = &tuned.times[oos.from..oos.to];
    let chosen = curve(&oos.chosen.returns);
    let default = curve(&oos.default.returns);
    let _ = write!(
        html,
        "<h2>Out of sample (the test parts, back to back): chosen weights against the configured ones and {} random universes</h2>",
        oos.band.draws
    );
    html.push_str(&line_chart(
        &[
            ("chosen weights", COLORS[0], &chosen),
            ("configured weights", COLORS[1], &default),
            ("random mean", "#888", &oos.band.mean),
        ],
        Some((&oos.band.p05, &oos.band.p95)),
        times,
        Unit::Return,
    ));
    html.push_str("<h2>The weights chosen in each fold (shares of their sum)</h2>");
    html.push_str(&weights_chart(tuned));
    let _ = write!(
        html,
        "<h2>PBO: logits of the in-sample best trial's rank out of sample, over {} halvings (≤ 0: at or below the median)</h2>",
        tuned.logits.len()
    );
    html.push_str(&histogram(&tuned.logits));
    html.push_str("</body></html>\n");
    html
}

/// A portfolio's value from its step returns, 1 at the start.
fn curve(returns: &[f64]) -> Vec<f64> {
    let mut v = 1.0;
    std::iter::once(1.0)
        .chain(returns.iter().map(|r| {
            v *= 1.0 + r;
            v
        }))
        .collect()
}

/// Grouped bars: for each fold, the five weights' shares.
fn weights_chart(tuned: &Tuned) -> String {
    let folds = tuned.folds.len().max(1) as f64;
    let group = (WIDTH - LEFT - 16.0) / folds;
    let bar = group / 6.5;
    let plot = HEIGHT - 44.0;
    let mut svg = frame();
    for share in [0.0, 0.25, 0.5, 0.75, 1.0] {
        let y = 16.0 + plot * (1.0 - share);
        let _ = write!(
            svg,
            "<text x=\"{:.0}\" y=\"{:.1}\" text-anchor=\"end\">{share:.2}</text><line x1=\"{LEFT}\" x2=\"{:.0}\" y1=\"{y:.1}\" y2=\"{y:.1}\" stroke=\"#eee\"/>",
            LEFT - 6.0,
            y + 4.0,
            WIDTH - 16.0
        );
    }
    for (f, fold) in tuned.folds.iter().enumerate() {
        let shares = space::shares(&tuned.trials[fold.chosen]);
        let x0 = LEFT + group * f as f64 + bar * 0.5;
        for (k, share) in shares.iter().enumerate() {
            let h = plot * share;
            let _ = write!(
                svg,
                "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{h:.1}\" fill=\"{}\"/>",
                x0 + bar * k as f64,
                16.0 + plot - h,
                bar * 0.9,
                PALETTE[k]
            );
        }
        let _ = write!(
            svg,
            "<text x=\"{:.0}\" y=\"{:.0}\" text-anchor=\"middle\">fold {} (trial {})</text>",
            x0 + bar * 2.5,
            HEIGHT - 10.0,
            f + 1,
            fold.chosen
        );
    }
    svg.push_str("</svg>");
    let mut legend = String::from("<div class=\"legend\">");
    for (name, color) in Weights::NAMES.iter().zip(PALETTE) {
        let _ = write!(
            legend,
            "<span><i style=\"background:{color};height:10px\"></i>{name}</span>"
        );
    }
    legend + "</div>" + &svg
}

const PALETTE: [&str; 5] = ["#1f5fbf", "#d9822b", "#2e8b57", "#7a4fa3", "#b03a48"];

/// Bars of the logits' counts in bins of 0.5, the zero line marked.
fn histogram(logits: &[f64]) -> String {
    let mut svg = frame();
    let finite: Vec<f64> = logits.iter().copied().filter(|l| l.is_finite()).collect();
    if finite.is_empty() {
        return svg + "</svg>";
    }
    // bins closed on the right, (e, e + 0.5]: a logit of 0, which counts as overfit, falls
    // in the bin that ends at 0, drawn in the overfit colour
    let lo = (finite.iter().copied().fold(f64::MAX, f64::min) * 2.0).ceil() / 2.0 - 0.5;
    let hi = (finite.iter().copied().fold(f64::MIN, f64::max) * 2.0).ceil() / 2.0;
    let bins = ((hi - lo) / 0.5).round().max(1.0) as usize;
    let mut counts = vec![0usize; bins];
    for l in &finite {
        let bin = ((l - lo) / 0.5).ceil() as usize;
        counts[bin.clamp(1, bins) - 1] += 1;
    }
    let most = counts.iter().copied().max().unwrap_or(1).max(1) as f64;
    let plot = HEIGHT - 44.0;
    let width = (WIDTH - LEFT - 16.0) / bins as f64;
    let x = |v: f64| LEFT + (v - lo) / (hi - lo) * (WIDTH - LEFT - 16.0);
    for (b, &count) in counts.iter().enumerate() {
        let h = plot * count as f64 / most;
        let left = x(lo + 0.5 * b as f64);
        let color = if lo + 0.5 * (b + 1) as f64 <= 0.0 {
            "#b03a48"
        } else {
            "#1f5fbf"
        };
        let _ = write!(
            svg,
            "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{h:.1}\" fill=\"{color}\"/><text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{count}</text>",
            left + 1.0,
            16.0 + plot - h,
            width - 2.0,
            left + width / 2.0,
            12.0 + plot - h
        );
    }
    for v in (0..=bins)
        .map(|i| lo + 0.5 * i as f64)
        .step_by((bins / 10).max(1))
    {
        let _ = write!(
            svg,
            "<text x=\"{:.1}\" y=\"{:.0}\" text-anchor=\"middle\">{v:.1}</text>",
            x(v),
            HEIGHT - 10.0
        );
    }
    if lo < 0.0 && hi > 0.0 {
        let _ = write!(
            svg,
            "<line x1=\"{0:.1}\" x2=\"{0:.1}\" y1=\"16\" y2=\"{1:.0}\" stroke=\"#222\" stroke-dasharray=\"4 3\"/>",
            x(0.0),
            16.0 + plot
        );
    }
    svg + "</svg>"
}

fn frame() -> String {
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{WIDTH}\" height=\"{HEIGHT}\" viewBox=\"0 0 {WIDTH} {HEIGHT}\"><rect x=\"{LEFT}\" y=\"16\" width=\"{}\" height=\"{}\" fill=\"none\" stroke=\"#ccc\"/>",
        WIDTH - LEFT - 16.0,
        HEIGHT - 44.0
    )
}
