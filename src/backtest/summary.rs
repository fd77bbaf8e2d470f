//! The backtest's figures: the curves and their metrics, the random band, and what the
//! selection itself did (turnover, time in the universe, opportunity, leverage safety).

use serde::Serialize;

use super::Step;
use super::archive::Archive;
use super::outcome::{self, Account, Costs, Curve, MAINTENANCE_MARGIN, Metrics};
use super::random::{self, Band};

/// How the outcomes are measured.
#[derive(Debug, Clone, Copy)]
pub struct Measure {
    pub fee: f64,
    pub top: usize,
    pub draws: usize,
    /// The flat leverage the published one is compared with.
    pub flat_leverage: u32,
    pub step_ms: i64,
}

/// Everything the summary table, `--json` and the report show.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub curves: Vec<Curve>,
    /// The symbols buy and hold held: the largest by 24h quote volume at the start.
    pub buy_and_hold: Vec<String>,
    /// What each rebalanced portfolio traded and paid at each step, by portfolio name.
    pub accounts: Vec<(String, Vec<Account>)>,
    /// Funding settlements (every 8 h) of a symbol trading then that the history has no
    /// rate for, charged as zero: the symbol and the time (ms). Empty when the history
    /// has no funding at all (the limits say so).
    pub missing_funding: Vec<(String, i64)>,
    pub metrics: Vec<(String, Metrics)>,
    pub band: Band,
    pub selection: Selection,
    /// Where the follow portfolio's total return falls among the random draws (0–1).
    pub random_percentile: f64,
}

/// What the selection did, symbol by symbol.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Selection {
    pub decisions: usize,
    pub failed: usize,
    /// Churn control's replacements per refresh, and every entry per refresh (also the
    /// ones that filled a place an exclusion freed).
    pub replacements_per_refresh: f64,
    pub entries_per_refresh: f64,
    /// Mean length of a stay in the universe, hours.
    pub mean_stay_hours: f64,
    /// Share of selected symbol-steps whose return in the follow direction was positive.
    pub hit_rate: f64,
    /// Mean |forward return| and mean range (high − low over the entry) to the next step,
    /// of the selected and of every eligible symbol-step.
    pub selected_abs_return: f64,
    pub eligible_abs_return: f64,
    pub selected_range: f64,
    pub eligible_range: f64,
    /// Selected symbol-steps whose adverse excursion reached the proxy liquidation
    /// (1/leverage − maintenance margin) at the published leverage, and at the flat one.
    pub liquidations_published: usize,
    pub liquidations_flat: usize,
    pub symbol_steps: usize,
}

pub fn summarise(archive: &Archive, steps: &[Step], m: &Measure) -> Summary {
    let times: Vec<i64> = steps.iter().map(|s| s.time).collect();
    let moves = outcome::Moves::new(archive, &times);
    let with_funding = Costs {
        fee: m.fee,
        funding: true,
    };
    let mut accounts = Vec::new();
    let mut run = |name: &str, held: &mut dyn Iterator<Item = outcome::Holdings>| {
        let kept = outcome::accounts(&moves, held, with_funding);
        let curve = outcome::curve(name, kept.iter().map(|a| a.net).collect());
        accounts.push((name.to_owned(), kept));
        curve
    };
    let (bought, buy_and_hold) = outcome::buy_and_hold(archive, &moves, &times, m.top, m.fee);
    let curves = vec![
        run(
            "universe, follow",
            &mut outcome::universe_holdings(steps, true),
        ),
        run(
            "universe, long only",
            &mut outcome::universe_holdings(steps, false),
        ),
        bought,
        run(
            "every eligible, long",
            &mut outcome::eligible_holdings(steps),
        ),
    ];
    let per_year = 365.0 * 86_400_000.0 / m.step_ms as f64;
    let metrics = curves
        .iter()
        .map(|c| (c.name.clone(), c.metrics(per_year)))
        .collect();
    let band = random::band(&moves, steps, m.top, m.draws, with_funding);
    let follow = curves[0].values.last().copied().unwrap_or(1.0) - 1.0;
    let below = band.totals.iter().filter(|t| **t < follow).count();
    Summary {
        buy_and_hold,
        accounts,
        missing_funding: missing_funding(archive, &times),
        random_percentile: below as f64 / band.totals.len().max(1) as f64,
        selection: selection(archive, steps, m),
        curves,
        metrics,
        band,
    }
}

/// What the table and the report say besides the figures: which symbols buy and hold
/// held, and the funding settlements the history has no rate for.
pub fn notes(s: &Summary, m: &Measure) -> Vec<String> {
    let mut notes = vec![format!(
        "buy and hold: the {} largest by 24h quote volume at the start: {}",
        m.top,
        s.buy_and_hold.join(", ")
    )];
    if s.metrics.iter().any(|(_, x)| x.sharpe.is_none()) {
        notes.push(format!(
            "Sharpe: not shown for a backtest under {} days, as annualising a few hours or days of steps says nothing about a year",
            super::outcome::MIN_SHARPE_DAYS
        ));
    }
    if !s.missing_funding.is_empty() {
        let named: Vec<String> = s
            .missing_funding
            .iter()
            .take(5)
            .map(|(symbol, at)| format!("{symbol} {}", crate::clock::epoch(at / 1000)))
            .collect();
        let more = s.missing_funding.len().saturating_sub(named.len());
        notes.push(format!(
            "funding: {} settlements of symbols trading then have no rate in the history and were charged as zero ({}{})",
            s.missing_funding.len(),
            named.join(", "),
            if more > 0 { format!(", and {more} more; all in --json") } else { String::new() }
        ));
    }
    notes
}

/// Funding settles every 8 hours, on the hour of 00:00, 08:00 and 16:00 UTC.
const SETTLEMENT_MS: i64 = 8 * 3_600_000;

/// The settlements from the first step (excluded) to the last of each symbol that traded
/// then (a candle closed at that moment) with no rate in the history within a minute of it.
fn missing_funding(archive: &Archive, times: &[i64]) -> Vec<(String, i64)> {
    let (Some(&first), Some(&last)) = (times.first(), times.last()) else {
        return Vec::new();
    };
    if archive.funding.is_empty() {
        return Vec::new();
    }
    let mut missing = Vec::new();
    for (symbol, series) in &archive.series {
        let rates = archive.funding.get(symbol).map_or(&[][..], Vec::as_slice);
        let mut at = (first.div_euclid(SETTLEMENT_MS) + 1) * SETTLEMENT_MS;
        while at <= last {
            let recorded = rates
                .get(rates.partition_point(|(t, _)| *t < at))
                .is_some_and(|(t, _)| *t < at + 60_000);
            if !recorded && series.price_at(at).is_some() {
                missing.push((symbol.clone(), at));
            }
            at += SETTLEMENT_MS;
        }
    }
    missing
}

fn selection(archive: &Archive, steps: &[Step], m: &Measure) -> Selection {
    let mut s = Selection {
        decisions: steps.len(),
        failed: steps.iter().filter(|x| x.failed.is_some()).count(),
        ..Selection::default()
    };
    let refreshes = steps.len().saturating_sub(1).max(1) as f64;
    s.replacements_per_refresh =
        steps.iter().skip(1).map(|x| x.replacements).sum::<usize>() as f64 / refreshes;
    let entries: usize = steps
        .windows(2)
        .map(|w| {
            w[1].universe
                .iter()
                .filter(|x| !w[0].universe.contains(x))
                .count()
        })
        .sum();
    s.entries_per_refresh = entries as f64 / refreshes;
    s.mean_stay_hours = mean_stay(steps) * m.step_ms as f64 / 3_600_000.0;
    symbol_steps(archive, steps, m, &mut s);
    s
}

/// Mean number of consecutive steps a symbol stays in the universe.
fn mean_stay(steps: &[Step]) -> f64 {
    let mut spells = 0usize;
    let mut member_steps = 0usize;
    for (k, step) in steps.iter().enumerate() {
        member_steps += step.universe.len();
        spells += step
            .universe
            .iter()
            .filter(|x| k == 0 || !steps[k - 1].universe.contains(x))
            .count();
    }
    member_steps as f64 / spells.max(1) as f64
}

/// Hit rate, opportunity and the liquidation proxy over every selected symbol-step.
fn symbol_steps(archive: &Archive, steps: &[Step], m: &Measure, s: &mut Selection) {
    let (mut hits, mut abs_sel, mut range_sel) = (0usize, 0.0, 0.0);
    let (mut n_elig, mut abs_elig, mut range_elig) = (0usize, 0.0, 0.0);
    let liquidates = |adverse: f64, leverage: u32| {
        adverse >= 1.0 / f64::from(leverage.max(1)) - MAINTENANCE_MARGIN
    };
    for pair in steps.windows(2) {
        let (step, next) = (&pair[0], pair[1].time);
        for ((&symbol, d), lev) in step.members.iter().zip(&step.direction).zip(&step.leverage) {
            let series = &archive.series[symbol].1;
            let (Some(fwd), Some((adverse, range))) = (
                outcome::forward(series, step.time, next),
                outcome::excursion(series, *d, step.time, next),
            ) else {
                continue;
            };
            s.symbol_steps += 1;
            hits += usize::from(fwd * f64::from(*d) > 0.0);
            abs_sel += fwd.abs();
            range_sel += range;
            s.liquidations_published += usize::from(liquidates(adverse, *lev));
            s.liquidations_flat += usize::from(liquidates(adverse, m.flat_leverage));
        }
        for e in &step.eligible {
            let series = &archive.series[e.index()].1;
            if let (Some(fwd), Some((_, range))) = (
                outcome::forward(series, step.time, next),
                outcome::excursion(series, e.direction, step.time, next),
            ) {
                n_elig += 1;
                abs_elig += fwd.abs();
                range_elig += range;
            }
        }
    }
    let per = |sum: f64, n: usize| sum / n.max(1) as f64;
    s.hit_rate = per(hits as f64, s.symbol_steps);
    s.selected_abs_return = per(abs_sel, s.symbol_steps);
    s.selected_range = per(range_sel, s.symbol_steps);
    s.eligible_abs_return = per(abs_elig, n_elig);
    s.eligible_range = per(range_elig, n_elig);
}
