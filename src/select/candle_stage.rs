//! The candle stage: a candidate that passed the cheap checks is scored only if its
//! candles were read (`fetch_failed`), cover both windows (`insufficient_history`) and
//! hold finite positive prices and features (`bad_data`).

use super::score::Ready;
use super::{Candidate, Excluded, Reason};
use crate::features::Features;
use crate::market::candles::{self, WindowError, Windows};
use crate::market::{Candle, FetchError};

/// Candles → windows → features, or the reason the symbol cannot be scored. The 1h
/// returns are kept only for a correlation limit (`with_returns`).
pub fn judge(
    candidate: Candidate,
    candles: Result<&[Candle], &FetchError>,
    server_time: i64,
    with_returns: bool,
) -> Result<Ready, Excluded> {
    let exclude = |candidate: Candidate, reason: Reason, detail: String| Excluded {
        symbol: candidate.symbol.to_string(),
        reason,
        detail,
    };
    let candles = match candles {
        Ok(candles) => candles,
        Err(error) => return Err(exclude(candidate, Reason::FetchFailed, error.to_string())),
    };
    let windows = match candles::windows(candles, server_time) {
        Ok(windows) => windows,
        Err(WindowError::Insufficient { m15, h1 }) => {
            let detail = format!(
                "{m15} closed 15m and {h1} closed 1h candles up to the last close, 96 of each needed"
            );
            return Err(exclude(candidate, Reason::InsufficientHistory, detail));
        }
        Err(WindowError::BadPrice { open_time }) => {
            let detail = format!(
                "a price that is not finite and positive in the candle opened at {open_time}"
            );
            return Err(exclude(candidate, Reason::BadData, detail));
        }
    };
    match Features::compute(windows.m15, &windows.h1) {
        Some(features) => Ok(Ready {
            candidate,
            features,
            returns_1h: if with_returns {
                log_returns(&windows)
            } else {
                Vec::new()
            },
        }),
        None => Err(exclude(
            candidate,
            Reason::BadData,
            "features are not finite".into(),
        )),
    }
}

/// 1h log returns over the window (95 values), for the correlation limit.
fn log_returns(windows: &Windows) -> Vec<f64> {
    windows
        .h1
        .windows(2)
        .map(|w| (w[1].close / w[0].close).ln())
        .collect()
}
