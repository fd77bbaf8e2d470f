//! Closed-candle windows: the last 96 closed 15m candles, and the last 96 closed 1h
//! candles built from four aligned 15m candles each.
//!
//! A 1h candle built this way equals Binance's own (open of the first quarter, high and
//! low over the four, close of the last), and the features read only 1h closes, which
//! are the close of the hour's last 15m candle. One request thus serves both windows.

/// 15 minutes and one hour, in ms.
pub const M15: i64 = 15 * 60_000;
pub const H1: i64 = 60 * 60_000;
/// Candles in each window.
pub const WINDOW: usize = 96;

/// One OHLC candle; `open_time` in ms since the epoch.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Candle {
    pub open_time: i64,
    pub open: f64,
    pub high: f64,
    pub low: f64,
    pub close: f64,
}

/// The largest price a stored candle may carry; above it a price is absurd (a `1e300`
/// in a history file).
pub const MAX_PRICE: f64 = 1e9;

impl Candle {
    fn prices(&self) -> [f64; 4] {
        [self.open, self.high, self.low, self.close]
    }

    /// Whether open, high, low and close are all finite and positive (NaN is not).
    fn has_prices(&self) -> bool {
        let price = |p: f64| p > 0.0 && p <= f64::MAX;
        price(self.open) & price(self.high) & price(self.low) & price(self.close)
    }

    /// What is wrong with this 15m candle, by the rules every stored history keeps
    /// (`history fetch` writes nothing else, `backtest` reads nothing else): its open on
    /// the 15-minute grid; open, high, low and close finite, positive and at most
    /// [`MAX_PRICE`]; `low ≤ open, close ≤ high`; `volume` finite and not negative.
    pub fn broken_rule(&self, volume: f64) -> Option<String> {
        if self.open_time.rem_euclid(M15) != 0 {
            return Some("its time is not on the 15-minute grid".into());
        }
        let names = ["open", "high", "low", "close"];
        for (name, price) in names.iter().zip(self.prices()) {
            if !(price.is_finite() && price > 0.0 && price <= MAX_PRICE) {
                return Some(format!(
                    "{name} {price:?} is not a price (finite, above 0, at most {MAX_PRICE:?})"
                ));
            }
        }
        if self.low > self.open.min(self.close) || self.high < self.open.max(self.close) {
            return Some(format!(
                "low {:?} and high {:?} do not hold open {:?} and close {:?}",
                self.low, self.high, self.open, self.close
            ));
        }
        if !(volume.is_finite() && volume >= 0.0) {
            return Some(format!("volume {volume:?} is not finite and non-negative"));
        }
        None
    }
}

/// The two windows features are computed on, oldest first: the 15m window borrowed from
/// the candles it was cut from, the 1h window built from them (96 candles, no heap).
#[derive(Debug, Clone, PartialEq)]
pub struct Windows<'a> {
    pub m15: &'a [Candle],
    pub h1: [Candle; WINDOW],
}

/// Why a symbol's candles cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WindowError {
    /// Fewer than 96 closed candles in a window, or the newest closed 15m candle is not
    /// the one that closed last (the series stopped).
    Insufficient { m15: usize, h1: usize },
    /// A price that is not finite or not positive.
    BadPrice { open_time: i64 },
}

/// The `startTime` of the klines request for a refresh at `server_time`: 96 hours
/// before the start of the hour in progress.
pub fn request_start(server_time: i64) -> i64 {
    hour_start(server_time) - WINDOW as i64 * H1
}

fn hour_start(time: i64) -> i64 {
    time.div_euclid(H1) * H1
}

/// Builds both windows from 15m candles fetched from [`request_start`], whose open
/// times strictly increase (the wire parser and the history reader refuse others).
/// Candles not closed at `server_time` (open + 15m later than it) are left out first.
pub fn windows(candles: &[Candle], server_time: i64) -> Result<Windows<'_>, WindowError> {
    let closed = &candles[..candles.partition_point(|c| c.open_time + M15 <= server_time)];
    let last_hour_end = hour_start(server_time);
    let first_hour = last_hour_end - WINDOW as i64 * H1;
    let hours_from = closed.partition_point(|c| c.open_time < first_hour);
    let in_hours = &closed[hours_from..closed.partition_point(|c| c.open_time < last_hour_end)];
    let (h1, hours) = hourly(in_hours);
    let m15 = &closed[closed.len().saturating_sub(WINDOW)..];
    // the newest closed candle must be the one that just closed: stale is not recent
    let last_slot = server_time.div_euclid(M15) * M15 - M15;
    let fresh = m15.last().is_some_and(|c| c.open_time == last_slot);
    if m15.len() < WINDOW || hours < WINDOW || !fresh {
        return Err(WindowError::Insufficient {
            m15: m15.len(),
            h1: hours,
        });
    }
    // every candle either window read, judged without branching; the first bad one
    // (the 15m window's first) is looked for only when there is one
    // (both end within the hour in progress: at most 3 closed candles after the hours)
    let read = &closed[hours_from.min(closed.len() - WINDOW)..];
    if !read.iter().fold(true, |all, c| all & c.has_prices()) {
        let bad = m15.iter().chain(in_hours).find(|c| !c.has_prices());
        return Err(WindowError::BadPrice {
            open_time: bad.map_or(0, |c| c.open_time),
        });
    }
    Ok(Windows { m15, h1 })
}

/// Aggregates 15m candles into 1h candles by aligned hour: the last [`WINDOW`] hours, and
/// how many hours there were.
fn hourly(candles: &[Candle]) -> ([Candle; WINDOW], usize) {
    const EMPTY: Candle = Candle {
        open_time: 0,
        open: 0.0,
        high: 0.0,
        low: 0.0,
        close: 0.0,
    };
    let mut hours = [EMPTY; WINDOW];
    let mut count = 0;
    for c in candles {
        let start = hour_start(c.open_time);
        let last = (count + WINDOW - 1) % WINDOW;
        if count > 0 && hours[last].open_time == start {
            let hour = &mut hours[last];
            hour.high = hour.high.max(c.high);
            hour.low = hour.low.min(c.low);
            hour.close = c.close;
        } else {
            hours[count % WINDOW] = Candle {
                open_time: start,
                ..*c
            };
            count += 1;
        }
    }
    // a ring: oldest first from the slot after the newest
    hours.rotate_left(count % WINDOW);
    (hours, count)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 15m candles from `start` with close = index + 1.
    fn series(start: i64, count: usize) -> Vec<Candle> {
        (0..count)
            .map(|i| {
                let close = i as f64 + 1.0;
                Candle {
                    open_time: start + i as i64 * M15,
                    open: close,
                    high: close + 0.5,
                    low: close - 0.5,
                    close,
                }
            })
            .collect()
    }

    const NOW: i64 = 1_761_220_350_000; // 2025-10-23 11:52:30 UTC

    #[test]
    fn the_forming_candle_is_dropped_and_hours_are_aligned() {
        let start = request_start(NOW);
        assert_eq!(start % H1, 0);
        // 384 candles of 96 full hours, then 11:00, 11:15, 11:30 closed and 11:45 forming
        let candles = series(start, 388);
        let w = windows(&candles, NOW).unwrap();
        assert_eq!(w.m15.len(), 96);
        assert_eq!(w.m15.last().unwrap().open_time, hour_start(NOW) + 2 * M15);
        assert_eq!(w.h1.len(), 96);
        let last_hour = w.h1.last().unwrap();
        assert_eq!(last_hour.open_time, hour_start(NOW) - H1);
        // the hour 10:00 is candles 380..384: open of the first, close of the last
        assert_eq!((last_hour.open, last_hour.close), (381.0, 384.0));
        assert_eq!((last_hour.low, last_hour.high), (380.5, 384.5));
    }

    #[test]
    fn a_candle_closing_exactly_at_server_time_counts() {
        let candles = series(request_start(NOW), 388);
        let at_close = candles[387].open_time + M15;
        let w = windows(&candles, at_close).unwrap();
        assert_eq!(w.m15.last().unwrap().open_time, candles[387].open_time);
        let w = windows(&candles, at_close - 1).unwrap();
        assert_eq!(w.m15.last().unwrap().open_time, candles[386].open_time);
    }

    #[test]
    fn a_series_that_stopped_is_insufficient() {
        // the newest two closed candles are missing
        let candles = series(request_start(NOW), 386);
        assert_eq!(
            windows(&candles, NOW).unwrap_err(),
            WindowError::Insufficient { m15: 96, h1: 96 }
        );
    }

    #[test]
    fn short_history_is_insufficient() {
        let start = request_start(NOW) + H1; // listed an hour later: 95 full hours
        let err = windows(&series(start, 384), NOW).unwrap_err();
        assert_eq!(err, WindowError::Insufficient { m15: 96, h1: 95 });
    }

    #[test]
    fn non_positive_or_non_finite_prices_are_bad() {
        let mut candles = series(request_start(NOW), 388);
        candles[10].low = 0.0;
        assert_eq!(
            windows(&candles, NOW).unwrap_err(),
            WindowError::BadPrice {
                open_time: candles[10].open_time
            }
        );
        let mut candles = series(request_start(NOW), 388);
        candles[386].close = f64::NAN;
        assert!(matches!(
            windows(&candles, NOW),
            Err(WindowError::BadPrice { .. })
        ));
        // the forming candle is not judged
        let mut candles = series(request_start(NOW), 388);
        candles[387].close = f64::NAN;
        assert!(windows(&candles, NOW).is_ok());
    }
}
