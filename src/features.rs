//! Indicators and the per-symbol feature set, as pure functions over slices.
//!
//! Every indicator follows TA-Lib's convention (default compatibility mode, no unstable
//! period) and returns the value at the last element of its input, or `None` when the
//! input is too short. Golden values from TA-Lib itself live in `tests/golden/`.

use crate::market::Candle;

/// ATR/NATR look-back.
pub const ATR_PERIOD: usize = 14;
/// Fast and slow EMA of the 1h trend.
pub const EMA_FAST: usize = 20;
pub const EMA_SLOW: usize = 50;
/// Rate-of-change look-back, in candles.
pub const ROC_PERIOD: usize = 20;

/// What the selection scores a symbol on.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Features {
    /// NATR(14) of the 15m window, in percent of the last close.
    pub atr_pct_15m: f64,
    /// 100·(EMA20 − EMA50)/EMA50 of the 1h closes.
    pub trend_1h: f64,
    /// ROC(20) of the 15m closes, in percent.
    pub mom_15m: f64,
    /// ROC(20) of the 1h closes, in percent.
    pub mom_1h: f64,
}

impl Features {
    /// Features of a symbol from its 15m and 1h windows (oldest first, closed candles).
    ///
    /// `None` when a window is too short for an indicator or a value is not finite.
    pub fn compute(window_15m: &[Candle], window_1h: &[Candle]) -> Option<Self> {
        let closes_15m: Vec<f64> = window_15m.iter().map(|c| c.close).collect();
        let closes_1h: Vec<f64> = window_1h.iter().map(|c| c.close).collect();
        let features = Self {
            atr_pct_15m: natr(window_15m, ATR_PERIOD)?,
            trend_1h: trend(&closes_1h, EMA_FAST, EMA_SLOW)?,
            mom_15m: roc(&closes_15m, ROC_PERIOD)?,
            mom_1h: roc(&closes_1h, ROC_PERIOD)?,
        };
        let all_finite = [
            features.atr_pct_15m,
            features.trend_1h,
            features.mom_15m,
            features.mom_1h,
        ]
        .iter()
        .all(|v| v.is_finite());
        all_finite.then_some(features)
    }
}

/// True range of `candle` given the previous close:
/// `max(h − l, |h − c₋₁|, |l − c₋₁|)`.
fn true_range(candle: &Candle, previous_close: f64) -> f64 {
    (candle.high - candle.low)
        .max((candle.high - previous_close).abs())
        .max((candle.low - previous_close).abs())
}

/// Average true range at the last candle, TA-Lib `ATR(period)`.
///
/// True ranges start at the second candle (the first has no previous close). The first
/// ATR is the mean of the first `period` true ranges; after that Wilder's smoothing,
/// `ATRᵢ = ((period − 1)·ATRᵢ₋₁ + TRᵢ) / period`. Needs `period + 1` candles.
pub fn atr(candles: &[Candle], period: usize) -> Option<f64> {
    if period == 0 || candles.len() < period + 1 {
        return None;
    }
    let mut ranges = candles
        .windows(2)
        .map(|pair| true_range(&pair[1], pair[0].close));
    let seed = ranges.by_ref().take(period).sum::<f64>() / period as f64;
    let n = period as f64;
    Some(ranges.fold(seed, |atr, tr| ((n - 1.0) * atr + tr) / n))
}

/// Normalised ATR at the last candle, TA-Lib `NATR(period)`: `100 · ATR / close`.
///
/// `None` when the last close is zero.
pub fn natr(candles: &[Candle], period: usize) -> Option<f64> {
    let atr = atr(candles, period)?;
    let close = candles.last()?.close;
    (close != 0.0).then(|| 100.0 * atr / close)
}

/// Exponential moving average at the last value, TA-Lib `EMA(period)`.
///
/// Seeded with the mean of the first `period` values, then
/// `EMAᵢ = EMAᵢ₋₁ + (xᵢ − EMAᵢ₋₁)·k` with `k = 2/(period + 1)`. Needs `period` values.
pub fn ema(values: &[f64], period: usize) -> Option<f64> {
    if period == 0 || values.len() < period {
        return None;
    }
    let k = 2.0 / (period as f64 + 1.0);
    let seed = values[..period].iter().sum::<f64>() / period as f64;
    Some(
        values[period..]
            .iter()
            .fold(seed, |ema, &x| ema + (x - ema) * k),
    )
}

/// Trend strength: `100 · (EMA(fast) − EMA(slow)) / EMA(slow)` at the last value.
pub fn trend(closes: &[f64], fast: usize, slow: usize) -> Option<f64> {
    let slow_ema = ema(closes, slow)?;
    let fast_ema = ema(closes, fast)?;
    (slow_ema != 0.0).then(|| 100.0 * (fast_ema - slow_ema) / slow_ema)
}

/// Rate of change at the last value, TA-Lib `ROC(period)`:
/// `100 · (x_last / x_(last − period) − 1)`. Needs `period + 1` values; `None` when the
/// reference value is zero.
pub fn roc(values: &[f64], period: usize) -> Option<f64> {
    let last = values.len().checked_sub(1)?;
    let reference = values[last.checked_sub(period)?];
    (reference != 0.0).then(|| 100.0 * (values[last] / reference - 1.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn candle(high: f64, low: f64, close: f64) -> Candle {
        Candle {
            open_time: 0,
            open: close,
            high,
            low,
            close,
        }
    }

    #[test]
    fn atr_needs_one_more_candle_than_its_period() {
        let candles: Vec<Candle> = (0..14).map(|_| candle(2.0, 1.0, 1.5)).collect();
        assert_eq!(atr(&candles, 14), None);
        let candles: Vec<Candle> = (0..15).map(|_| candle(2.0, 1.0, 1.5)).collect();
        assert_eq!(atr(&candles, 14), Some(1.0));
    }

    #[test]
    fn true_range_uses_gaps_from_previous_close() {
        // a gap up: |h − c₋₁| dominates h − l
        assert_eq!(true_range(&candle(12.0, 11.0, 11.5), 10.0), 2.0);
        // a gap down: |l − c₋₁| dominates
        assert_eq!(true_range(&candle(9.0, 7.0, 8.0), 10.0), 3.0);
    }

    #[test]
    fn ema_of_a_constant_is_the_constant_and_seed_is_the_mean() {
        assert_eq!(ema(&[3.0; 60], 20), Some(3.0));
        assert_eq!(ema(&[1.0, 2.0, 3.0], 3), Some(2.0));
        // one step after the seed: 2 + (6 − 2)·2/4 = 4
        assert_eq!(ema(&[1.0, 2.0, 3.0, 6.0], 3), Some(4.0));
        assert_eq!(ema(&[1.0, 2.0], 3), None);
    }

    #[test]
    fn roc_compares_with_the_value_period_steps_back() {
        let values: Vec<f64> = (1..=21).map(f64::from).collect();
        assert_eq!(roc(&values, 20), Some(2000.0));
        assert_eq!(roc(&values[..20], 20), None);
        let mut zero_reference = values.clone();
        zero_reference[0] = 0.0;
        assert_eq!(roc(&zero_reference, 20), None);
    }

    #[test]
    fn features_refuse_a_zero_close() {
        let mut candles: Vec<Candle> = (0..96).map(|_| candle(2.0, 1.0, 1.5)).collect();
        candles[95].close = 0.0;
        assert_eq!(natr(&candles, 14), None);
    }
}
