//! The report: one self-contained HTML file (no script, no external resource) with SVG
//! charts: the equity curves against the benchmarks and the random band, the drawdown,
//! which symbols were in the universe when, and the turnover.

use std::fmt::Write as _;

use super::Step;
use super::archive::Archive;
use super::summary::{Measure, Summary};

const WIDTH: f64 = 960.0;
const HEIGHT: f64 = 280.0;
const LEFT: f64 = 64.0;
const RIGHT: f64 = 16.0;
const TOP: f64 = 16.0;
const BOTTOM: f64 = 28.0;
pub(crate) const COLORS: [&str; 4] = ["#1f5fbf", "#d9822b", "#2e8b57", "#7a4fa3"];

/// The whole page.
pub fn page(archive: &Archive, steps: &[Step], s: &Summary, m: &Measure) -> String {
    let times: Vec<i64> = steps.iter().map(|x| x.time).collect();
    let mut html = head("universe backtest");
    let _ = write!(
        html,
        "<h1>universe backtest</h1>{}",
        header(archive, steps, s, m)
    );
    let _ = write!(
        html,
        "<h2>Equity (return since the start): the universe against the benchmarks and {} random universes</h2>",
        s.band.draws
    );
    html.push_str(&equity_chart(s, &times));
    html.push_str("<h2>Drawdown of the follow portfolio</h2>");
    let drawdown: Vec<f64> = s.curves[0].drawdowns().iter().map(|d| -d).collect();
    html.push_str(&line_chart(
        &[("drawdown", COLORS[0], &drawdown)],
        None,
        &times,
        Unit::Percent,
    ));
    html.push_str("<h2>Membership: symbols × time (blue long, orange short)</h2>");
    html.push_str(&membership_chart(steps, &times));
    html.push_str("<h2>Turnover: symbols entering the universe per step (24-step mean)</h2>");
    let entries = rolling_entries(steps, 24);
    html.push_str(&line_chart(
        &[("entries", COLORS[3], &entries)],
        None,
        &times,
        Unit::Count,
    ));
    html.push_str("</body></html>\n");
    html
}

fn header(archive: &Archive, steps: &[Step], s: &Summary, m: &Measure) -> String {
    let when = |t: i64| crate::clock::epoch(t / 1000);
    let mut out = format!(
        "<p>{} → {}, a decision every {}: {} decisions ({} failed closed), top {}, fee {:.2}% per side.<br>\
<span class=\"note\">History {} ({} symbols): {}.</span></p><table><tr><th>portfolio</th><th>total</th><th>Sharpe</th><th>max drawdown</th><th>positive steps</th></tr>",
        when(steps.first().map_or(0, |x| x.time)),
        when(steps.last().map_or(0, |x| x.time)),
        crate::clock::span(m.step_ms / 1000),
        s.selection.decisions,
        s.selection.failed,
        m.top,
        100.0 * m.fee,
        escape(&archive.dir.display().to_string()),
        archive.series.len(),
        escape(&archive.limits()),
    );
    for (name, x) in &s.metrics {
        let _ = write!(
            out,
            "<tr><td>{}</td><td>{:+.2}%</td><td>{}</td><td>{:.2}%</td><td>{:.1}%</td></tr>",
            escape(name),
            100.0 * x.total_return,
            x.sharpe
                .map_or_else(|| "—".to_owned(), |s| format!("{s:.2}")),
            100.0 * x.max_drawdown,
            100.0 * x.positive_steps
        );
    }
    let x = &s.selection;
    let _ = write!(
        out,
        "</table><p class=\"note\">{}</p><p>The follow portfolio beats {:.0}% of the random universes. {:.2} replacements per refresh, mean stay {:.1} h, hit rate {:.1}%. \
Proxy liquidations: {} of {} symbol-steps at the published leverage, {} at a flat {}x.</p>",
        super::summary::notes(s, m)
            .iter()
            .map(|n| escape(n))
            .collect::<Vec<_>>()
            .join("<br>"),
        100.0 * s.random_percentile,
        x.replacements_per_refresh,
        x.mean_stay_hours,
        100.0 * x.hit_rate,
        x.liquidations_published,
        x.symbol_steps,
        x.liquidations_flat,
        m.flat_leverage
    );
    out
}

fn equity_chart(s: &Summary, times: &[i64]) -> String {
    let series: Vec<(&str, &str, &[f64])> = s
        .curves
        .iter()
        .zip(COLORS)
        .map(|(c, color)| (c.name.as_str(), color, c.values.as_slice()))
        .chain([("random mean", "#888", s.band.mean.as_slice())])
        .collect();
    line_chart(
        &series,
        Some((&s.band.p05, &s.band.p95)),
        times,
        Unit::Return,
    )
}

/// Round ticks over `[lo, hi]`: the finest step of 1, 2 or 5 × 10ⁿ that gives at most
/// seven, and the decimals its labels need.
fn ticks(lo: f64, hi: f64) -> (Vec<f64>, usize) {
    let magnitude = 10f64.powf(((hi - lo) / 7.0).log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * magnitude)
        .find(|s| (hi - lo) / s <= 7.0)
        .unwrap_or(10.0 * magnitude);
    let first = (lo / step).ceil();
    // at most seven steps fit, so eight ticks at most
    let ticks = (0..8)
        .map(|i| (first + f64::from(i)) * step)
        .take_while(|v| *v <= hi + step * 1e-9)
        .collect();
    (ticks, (-step.log10().floor()).max(0.0) as usize)
}

/// The page's head, with its style, and the opening of its body.
pub(crate) fn head(title: &str) -> String {
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title><style>{STYLE}</style></head><body>",
        escape(title)
    )
}

const STYLE: &str = "body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222;max-width:1000px}\
table{border-collapse:collapse}td,th{padding:2px 10px;text-align:right}th{border-bottom:1px solid #999}\
td:first-child,th:first-child{text-align:left}h2{margin-top:28px;font-size:16px}.note{color:#555}\
svg text{font:11px system-ui,sans-serif;fill:#444}.legend span{margin-right:16px;white-space:nowrap}\
.legend i{display:inline-block;width:14px;height:3px;margin:0 5px 3px 0;vertical-align:middle}";

/// Lines over `times`, with an optional shaded band and a legend; the axis in `unit`.
pub(crate) fn line_chart(
    series: &[(&str, &str, &[f64])],
    band: Option<(&[f64], &[f64])>,
    times: &[i64],
    unit: Unit,
) -> String {
    let all = series.iter().flat_map(|(_, _, v)| v.iter());
    let all = all.chain(band.into_iter().flat_map(|(a, b)| a.iter().chain(b.iter())));
    let (lo, hi) = all
        .filter(|v| v.is_finite())
        .fold((f64::MAX, f64::MIN), |(l, h), v| (l.min(*v), h.max(*v)));
    let (lo, hi) = if lo < hi {
        (lo, hi)
    } else {
        (lo - 1.0, lo + 1.0)
    };
    let n = times.len().max(2);
    let x = |k: usize| LEFT + (WIDTH - LEFT - RIGHT) * k as f64 / (n - 1) as f64;
    let y = |v: f64| TOP + (HEIGHT - TOP - BOTTOM) * (hi - v) / (hi - lo);
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{WIDTH}\" height=\"{HEIGHT}\" viewBox=\"0 0 {WIDTH} {HEIGHT}\">"
    );
    svg.push_str(&axes(times, (lo, hi), unit, &y));
    if let Some((low, high)) = band {
        let upper = high
            .iter()
            .enumerate()
            .map(|(k, v)| format!("{:.1},{:.1}", x(k), y(*v)));
        let lower = low
            .iter()
            .enumerate()
            .rev()
            .map(|(k, v)| format!("{:.1},{:.1}", x(k), y(*v)));
        let points: Vec<String> = upper.chain(lower).collect();
        let _ = write!(
            svg,
            "<polygon points=\"{}\" fill=\"#bbb\" fill-opacity=\"0.45\"/>",
            points.join(" ")
        );
    }
    for (_, color, values) in series {
        let points: Vec<String> = values
            .iter()
            .enumerate()
            .map(|(k, v)| format!("{:.1},{:.1}", x(k), y(*v)))
            .collect();
        let _ = write!(
            svg,
            "<polyline points=\"{}\" fill=\"none\" stroke=\"{color}\" stroke-width=\"1.4\"/>",
            points.join(" ")
        );
    }
    svg.push_str("</svg>");
    legend(series, band.is_some()) + &svg
}

/// The chart's legend, as a line of text above it.
fn legend(series: &[(&str, &str, &[f64])], band: bool) -> String {
    let mut out = String::from("<div class=\"legend\">");
    for (name, color, _) in series {
        let _ = write!(
            out,
            "<span><i style=\"background:{color}\"></i>{}</span>",
            escape(name)
        );
    }
    if band {
        out.push_str(
            "<span><i style=\"background:#bbb;height:10px\"></i>random universes, 5–95%</span>",
        );
    }
    out + "</div>"
}

/// The frame, round value labels in `unit`, and dates along the bottom.
fn axes(times: &[i64], (lo, hi): (f64, f64), unit: Unit, y: &dyn Fn(f64) -> f64) -> String {
    let mut svg = format!(
        "<rect x=\"{LEFT}\" y=\"{TOP}\" width=\"{}\" height=\"{}\" fill=\"none\" stroke=\"#ccc\"/>",
        WIDTH - LEFT - RIGHT,
        HEIGHT - TOP - BOTTOM
    );
    let (shown, decimals) = ticks(unit.shown(lo), unit.shown(hi));
    for tick in shown {
        let v = y(unit.value(tick));
        let _ = write!(
            svg,
            "<text x=\"{:.0}\" y=\"{:.1}\" text-anchor=\"end\">{}</text><line x1=\"{LEFT}\" x2=\"{:.0}\" y1=\"{v:.1}\" y2=\"{v:.1}\" stroke=\"#eee\"/>",
            LEFT - 6.0,
            v + 4.0,
            unit.label(tick, decimals),
            WIDTH - RIGHT,
        );
    }
    svg + &dates(times, LEFT, HEIGHT)
}

/// A date label every eighth of `times` (or each step when fewer), from `left` across,
/// at the bottom of a chart `height` high.
fn dates(times: &[i64], left: f64, height: f64) -> String {
    let mut svg = String::new();
    let n = times.len().max(2);
    let every = (times.len() / 8).max(1);
    for (k, t) in times
        .iter()
        .enumerate()
        .step_by(every)
        .filter(|(k, _)| n - k > every / 2)
    {
        let xk = left + (WIDTH - left - RIGHT) * k as f64 / (n - 1) as f64;
        let day = crate::clock::epoch(t / 1000);
        let _ = write!(
            svg,
            "<text x=\"{xk:.0}\" y=\"{:.0}\" text-anchor=\"middle\">{}</text>",
            height - 8.0,
            &day[..10.min(day.len())]
        );
    }
    svg
}

/// One row per symbol that was ever in the universe, a mark for each step it was in.
fn membership_chart(steps: &[Step], times: &[i64]) -> String {
    let mut symbols: Vec<&String> = steps.iter().flat_map(|s| s.universe.iter()).collect();
    symbols.sort();
    symbols.dedup();
    let (row, left) = (12.0, 96.0);
    let height = TOP + row * symbols.len() as f64 + BOTTOM;
    let n = steps.len().max(1) as f64;
    let cell = (WIDTH - left - RIGHT) / n;
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{WIDTH}\" height=\"{height:.0}\" viewBox=\"0 0 {WIDTH} {height:.0}\">"
    );
    for (i, symbol) in symbols.iter().enumerate() {
        let y = TOP + row * i as f64;
        let _ = write!(
            svg,
            "<text x=\"{:.0}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            left - 6.0,
            y + 9.0,
            escape(symbol)
        );
        for (k, step) in steps.iter().enumerate() {
            if let Some(at) = step.universe.iter().position(|s| s == *symbol) {
                let color = if step.direction.get(at) == Some(&-1) {
                    COLORS[1]
                } else {
                    COLORS[0]
                };
                let _ = write!(
                    svg,
                    "<rect x=\"{:.2}\" y=\"{y:.1}\" width=\"{:.2}\" height=\"{:.0}\" fill=\"{color}\"/>",
                    left + cell * k as f64,
                    cell.max(0.6),
                    row - 2.0
                );
            }
        }
    }
    svg.push_str(&dates(times, left, height));
    svg.push_str("</svg>");
    svg
}

/// Symbols entering the universe at each step, as a rolling mean over `window` steps.
fn rolling_entries(steps: &[Step], window: usize) -> Vec<f64> {
    let entries: Vec<f64> = steps
        .iter()
        .enumerate()
        .map(|(k, s)| {
            // the first universe is a fill, not turnover
            let Some(before) = k.checked_sub(1).map(|j| steps[j].universe.as_slice()) else {
                return 0.0;
            };
            s.universe.iter().filter(|x| !before.contains(x)).count() as f64
        })
        .collect();
    (0..entries.len())
        .map(|k| {
            let from = k.saturating_sub(window - 1);
            entries[from..=k].iter().sum::<f64>() / (k - from + 1) as f64
        })
        .collect()
}

pub(crate) fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axis_ticks_are_round() {
        let close = |got: &[f64], want: &[f64]| {
            got.len() == want.len() && got.iter().zip(want).all(|(a, b)| (a - b).abs() < 1e-9)
        };
        let (t, decimals) = ticks(-22.4, 11.9);
        assert!(
            close(&t, &[-20.0, -15.0, -10.0, -5.0, 0.0, 5.0, 10.0]),
            "{t:?}"
        );
        assert_eq!(decimals, 0);
        // the labels the old axis printed unrounded (0.711, 0.820)
        let (t, decimals) = ticks(0.711, 0.82);
        assert!(close(&t, &[0.72, 0.74, 0.76, 0.78, 0.80, 0.82]), "{t:?}");
        assert_eq!(decimals, 2);
        assert_eq!(Unit::Return.label(Unit::Return.shown(1.1), 0), "+10%");
    }
}

mod unit;
pub(crate) use unit::Unit;
