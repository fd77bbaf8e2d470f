//! What the decisions would have earned, read only from the candles after each step:
//! the reference portfolios, the benchmarks, and the metrics the summary reports.
//!
//! A portfolio holds signed weights from one step to the next (+ long, − short), equal
//! across its symbols and adding up to 1 in absolute value, and pays the funding rates
//! settled while it holds (a long pays a positive rate, a short receives it). Between
//! rebalances the weights drift with the prices; a rebalance pays `fee` per side on what
//! it really trades, from the drifted weights to the new targets, and the end of the
//! backtest sells what is held, paying the fee once more. A symbol enters at the close of
//! the candle that closed at `t` (a series that stopped is not bought) and is valued at
//! the last close by the next step.

use rayon::prelude::*;
use serde::Serialize;

use super::Step;
use super::archive::{Archive, Series};

/// The shortest backtest whose Sharpe ratio is annualised and shown, in days.
pub const MIN_SHARPE_DAYS: f64 = 7.0;

/// A maintenance margin rate for the liquidation proxy (Binance's lowest tier is 0.4–1%).
pub const MAINTENANCE_MARGIN: f64 = 0.005;

/// Signed weights by symbol (its index in [`Archive::series`]), in index order, which
/// is name order: sums over holdings run in the same order whatever made them.
pub type Holdings = Vec<(usize, f64)>;

/// One equity curve: its value at each step (starting at 1) and its step returns.
#[derive(Debug, Clone, Serialize)]
pub struct Curve {
    pub name: String,
    pub values: Vec<f64>,
    #[serde(skip)]
    pub returns: Vec<f64>,
}

impl Curve {
    fn from_returns(name: &str, returns: Vec<f64>) -> Self {
        let mut values = vec![1.0];
        for r in &returns {
            values.push(values.last().copied().unwrap_or(1.0) * (1.0 + r));
        }
        Self {
            name: name.to_owned(),
            values,
            returns,
        }
    }

    pub fn metrics(&self, steps_per_year: f64) -> Metrics {
        let n = self.returns.len().max(1) as f64;
        let mean = self.returns.iter().sum::<f64>() / n;
        let var = self.returns.iter().map(|r| (r - mean).powi(2)).sum::<f64>() / (n - 1.0).max(1.0);
        let mut peak = f64::MIN;
        let mut max_drawdown = 0.0_f64;
        for v in &self.values {
            peak = peak.max(*v);
            max_drawdown = max_drawdown.max(1.0 - v / peak);
        }
        Metrics {
            total_return: self.values.last().copied().unwrap_or(1.0) - 1.0,
            // annualising a few hours or days of steps says nothing about a year
            sharpe: (n / steps_per_year * 365.0 >= MIN_SHARPE_DAYS).then(|| {
                if var > 0.0 {
                    mean / var.sqrt() * steps_per_year.sqrt()
                } else {
                    0.0
                }
            }),
            max_drawdown,
            positive_steps: self.returns.iter().filter(|r| **r > 0.0).count() as f64 / n,
        }
    }

    /// The drawdown at each step, as a fraction below the running peak.
    pub fn drawdowns(&self) -> Vec<f64> {
        let mut peak = f64::MIN;
        self.values
            .iter()
            .map(|v| {
                peak = peak.max(*v);
                1.0 - v / peak
            })
            .collect()
    }
}

/// A portfolio's summary figures.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Metrics {
    pub total_return: f64,
    /// Mean over standard deviation of step returns, times √(steps per year); `None`
    /// (`null`) for a backtest shorter than [`MIN_SHARPE_DAYS`].
    pub sharpe: Option<f64>,
    pub max_drawdown: f64,
    /// Share of steps with a positive return.
    pub positive_steps: f64,
}

/// How a portfolio trades.
#[derive(Debug, Clone, Copy)]
pub struct Costs {
    /// Taker fee per side, as a fraction (0.0005 = 0.05%).
    pub fee: f64,
    pub funding: bool,
}

/// Each symbol's return and funding from each step to the next, read once, by symbol
/// index then step.
#[derive(Debug, Clone, Default)]
pub struct Moves {
    steps: usize,
    /// NaN: no price at the step (not listed yet, or the series stopped).
    forward: Vec<Vec<f64>>,
    /// The steps in which funding settled, with the rates' sum: 1 step in 16 at 30m.
    funding: Vec<Vec<(u32, f64)>>,
}

impl Moves {
    pub fn new(archive: &Archive, times: &[i64]) -> Self {
        let (forward, funding) = archive
            .series
            .par_iter()
            .map(|(symbol, series)| {
                let rates = archive.funding.get(symbol).map_or(&[][..], Vec::as_slice);
                let settled = |t: i64| rates.partition_point(|(at, _)| *at <= t);
                let (mut fwd, mut paid) = (Vec::new(), Vec::new());
                for (k, pair) in times.windows(2).enumerate() {
                    let (t, next) = (pair[0], pair[1]);
                    fwd.push(
                        series
                            .price_at(t)
                            .zip(series.last_price(next))
                            .map_or(f64::NAN, |(a, b)| b / a - 1.0),
                    );
                    let settling = &rates[settled(t)..settled(next)];
                    if !settling.is_empty() {
                        let k = u32::try_from(k).expect("under 2^32 steps");
                        paid.push((k, settling.iter().map(|(_, r)| r).sum()));
                    }
                }
                (fwd, paid)
            })
            .unzip();
        Self {
            steps: times.len().saturating_sub(1),
            forward,
            funding,
        }
    }

    pub fn steps(&self) -> usize {
        self.steps
    }

    /// The moves of `times[from..to]` of the times these were made for: what a run of
    /// those steps alone earns.
    pub fn slice(&self, from: usize, to: usize) -> Self {
        let end = to.saturating_sub(1).min(self.steps).max(from);
        Self {
            steps: end - from,
            forward: self.forward.iter().map(|f| f[from..end].to_vec()).collect(),
            funding: self
                .funding
                .iter()
                .map(|paid| {
                    paid.iter()
                        .filter(|(k, _)| (from..end).contains(&(*k as usize)))
                        .map(|&(k, r)| (k - from as u32, r))
                        .collect()
                })
                .collect(),
        }
    }

    /// `symbol`'s return from step `k` to the next, if it had a price at both.
    pub fn forward(&self, symbol: usize, k: usize) -> Option<f64> {
        let r = *self.forward.get(symbol)?.get(k)?;
        (!r.is_nan()).then_some(r)
    }

    /// The funding rates `symbol` settled from step `k` to the next (0 when none did).
    fn funding(&self, symbol: usize, k: usize) -> f64 {
        let paid = &self.funding[symbol];
        paid.binary_search_by_key(&k, |&(at, _)| at as usize)
            .map_or(0.0, |i| paid[i].1)
    }
}

/// What one step of a portfolio traded and paid, as shares of its value at the step.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Account {
    /// Σ |weight traded|: from the drifted weights to the new ones (and, at the last
    /// step, the exit).
    pub turnover: f64,
    pub fee: f64,
    /// Funding paid (negative: received).
    pub funding: f64,
    /// The step's return, net of both.
    #[serde(rename = "return")]
    pub net: f64,
}

/// The step returns of holding `held[k]` from step k to step k + 1 (see [`accounts`]).
pub fn returns<H>(moves: &Moves, held: impl IntoIterator<Item = H>, costs: Costs) -> Vec<f64>
where
    H: std::borrow::Borrow<Holdings>,
{
    accounts(moves, held, costs).iter().map(|a| a.net).collect()
}

/// Each step of holding `held[k]` from step k to step k + 1: what it traded, paid and
/// returned. A symbol without a price at step k is not bought. Each rebalance pays the
/// fee on the turnover from the weights as they drifted to the new ones; the last step
/// also pays for selling what is held at the end.
pub fn accounts<H>(moves: &Moves, held: impl IntoIterator<Item = H>, costs: Costs) -> Vec<Account>
where
    H: std::borrow::Borrow<Holdings>,
{
    let steps = moves.steps();
    // the weights held, as they drifted with the prices, as shares of the value now
    let mut drifted: Holdings = Vec::new();
    let mut out = Vec::with_capacity(steps);
    for (k, holdings) in held.into_iter().enumerate().take(steps) {
        let holdings: &Holdings = holdings.borrow();
        let tradable: Vec<(usize, f64, f64)> = holdings
            .iter()
            .filter_map(|&(s, w)| Some((s, w, moves.forward(s, k)?)))
            .collect();
        let now: Holdings = tradable.iter().map(|&(s, w, _)| (s, w)).collect();
        let traded = turnover(&drifted, &now);
        let mut account = Account {
            turnover: traded,
            fee: costs.fee * traded,
            ..Account::default()
        };
        let mut r = -costs.fee * traded;
        for &(symbol, w, forward) in &tradable {
            r += w * forward;
            if costs.funding {
                let paid = w * moves.funding(symbol, k);
                r -= paid;
                account.funding += paid;
            }
        }
        account.net = r;
        out.push(account);
        drifted = tradable
            .iter()
            .map(|&(s, w, forward)| (s, w * (1.0 + forward) / (1.0 + r)))
            .collect();
    }
    if let Some(last) = out.last_mut() {
        let exit: f64 = drifted.iter().map(|(_, w)| w.abs()).sum();
        last.turnover += exit;
        last.fee += (1.0 + last.net) * costs.fee * exit;
        last.net = (1.0 + last.net) * (1.0 - costs.fee * exit) - 1.0;
    }
    out
}

/// Σ |change of each symbol's weight|: what a rebalance trades.
fn turnover(before: &[(usize, f64)], after: &[(usize, f64)]) -> f64 {
    let weight = |list: &[(usize, f64)], s: usize| {
        list.binary_search_by_key(&s, |&(x, _)| x)
            .map_or(0.0, |i| list[i].1)
    };
    let changed: f64 = after
        .iter()
        .map(|&(s, w)| (w - weight(before, s)).abs())
        .sum();
    let closed: f64 = before
        .iter()
        .filter(|(s, _)| after.binary_search_by_key(s, |&(x, _)| x).is_err())
        .map(|(_, w)| w.abs())
        .sum();
    changed + closed
}

/// `series`' return from the close at `t` to the last close by `next`.
pub fn forward(series: &Series, t: i64, next: i64) -> Option<f64> {
    Some(series.last_price(next)? / series.price_at(t)? - 1.0)
}

/// The worst move against `direction` between `t` and `next`, as a fraction of the
/// entry, and the range (high − low) over the entry.
pub fn excursion(series: &Series, direction: i8, t: i64, next: i64) -> Option<(f64, f64)> {
    let entry = series.price_at(t)?;
    let (from, to) = (series.closed_by(t), series.closed_by(next));
    let held = series.candles.get(from..to)?;
    let low = held.iter().map(|c| c.low).fold(entry, f64::min);
    let high = held.iter().map(|c| c.high).fold(entry, f64::max);
    let adverse = if direction < 0 {
        high / entry - 1.0
    } else {
        1.0 - low / entry
    };
    Some((adverse, (high - low) / entry))
}

/// Equal weights over `symbols`, each signed by its direction.
pub fn equal(symbols: impl IntoIterator<Item = (usize, i8)>) -> Holdings {
    let mut list: Vec<(usize, i8)> = symbols.into_iter().collect();
    let w = 1.0 / list.len().max(1) as f64;
    list.sort_unstable_by_key(|&(s, _)| s);
    list.into_iter()
        .map(|(s, d)| (s, w * f64::from(d)))
        .collect()
}

/// The universe of each step, followed (direction of `trend_1h`) or long only.
pub fn universe_holdings(steps: &[Step], follow: bool) -> impl Iterator<Item = Holdings> + '_ {
    steps.iter().map(move |s| {
        equal(
            s.members
                .iter()
                .zip(&s.direction)
                .map(|(&sym, &d)| (sym, if follow { d } else { 1 })),
        )
    })
}

/// Every eligible symbol of each step, long, equal weight: made step by step, as a year
/// of them would hold every eligible symbol of every step at once.
pub fn eligible_holdings(steps: &[Step]) -> impl Iterator<Item = Holdings> + '_ {
    steps
        .iter()
        .map(|s| equal(s.eligible.iter().map(|e| (e.index(), 1))))
}

/// Buy and hold: the `n` symbols with the largest 24h quote volume at the first step,
/// among every symbol with a price then (eligible or not), bought in equal value, long,
/// never rebalanced, paying their funding and the fee on the way in and out. The value
/// at each step, and the symbols held.
pub fn buy_and_hold(
    archive: &Archive,
    moves: &Moves,
    times: &[i64],
    n: usize,
    fee: f64,
) -> (Curve, Vec<String>) {
    let t0 = times.first().copied().unwrap_or(0);
    let served = archive.overview_at(t0).quote_volumes;
    let mut listed: Vec<(usize, f64, f64)> = archive
        .series
        .iter()
        .enumerate()
        .filter_map(|(i, (name, s))| Some((i, s.price_at(t0)?, *served.get(name)?)))
        .collect();
    listed.sort_by(|a, b| b.2.total_cmp(&a.2).then(a.0.cmp(&b.0)));
    listed.truncate(n);
    let share = (1.0 - fee) / listed.len().max(1) as f64;
    let worth = |k: usize| -> Vec<f64> {
        listed
            .iter()
            .map(|&(i, entry, _)| {
                let price = archive.series[i].1.last_price(times[k]).unwrap_or(entry);
                share * price / entry
            })
            .collect()
    };
    let mut paid = 0.0;
    let mut values = Vec::with_capacity(times.len());
    for k in 0..times.len() {
        let held = worth(k);
        values.push(held.iter().sum::<f64>() - paid);
        if k + 1 < times.len() {
            paid += listed
                .iter()
                .zip(&held)
                .map(|(&(i, _, _), value)| value * moves.funding(i, k))
                .sum::<f64>();
        }
    }
    if let Some(last) = values.last_mut() {
        *last *= 1.0 - fee;
    }
    let returns = values.windows(2).map(|w| w[1] / w[0] - 1.0).collect();
    let mut curve = Curve::from_returns("buy and hold, top by volume", returns);
    curve.values = values;
    let names = listed
        .iter()
        .map(|&(i, _, _)| archive.series[i].0.clone())
        .collect();
    (curve, names)
}

/// The curve of step returns `returns`.
pub fn curve(name: &str, returns: Vec<f64>) -> Curve {
    Curve::from_returns(name, returns)
}

#[cfg(test)]
mod tests;
