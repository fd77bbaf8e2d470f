//! The clock, and times and spans as every output writes them: what a run reads of the
//! local clock is here, so the decision (which is given `now`) never reads it.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Seconds since the epoch, now, by the local clock.
/// Seconds since the epoch, with their fraction.
pub fn now_epoch_f64() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

pub fn now_epoch() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// `2025-10-23T11:52:30Z`.
pub fn epoch(seconds: i64) -> String {
    let time = UNIX_EPOCH + Duration::from_secs(seconds.max(0) as u64);
    humantime::format_rfc3339_seconds(time).to_string()
}

/// A rounded, readable span: `3d 4h`, `52m`, `41s`.
pub fn span(seconds: i64) -> String {
    let s = seconds.unsigned_abs();
    let (d, h, m) = (s / 86_400, s % 86_400 / 3600, s % 3600 / 60);
    match (d, h, m) {
        (0, 0, 0) => format!("{s}s"),
        (0, 0, m) => format!("{m}m"),
        (0, h, m) => format!("{h}h {m}m"),
        (d, h, _) => format!("{d}d {h}h"),
    }
}

/// `2023-07-04 12:45:00` (UTC) as ms since the epoch.
pub fn parse_utc(text: &str) -> Option<i64> {
    let time = humantime::parse_rfc3339_weak(text.trim()).ok()?;
    let ms = time.duration_since(std::time::UNIX_EPOCH).ok()?.as_millis();
    i64::try_from(ms).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_read_well() {
        assert_eq!(epoch(1_761_220_350), "2025-10-23T11:52:30Z");
        assert_eq!(span(41), "41s");
        assert_eq!(span(3_120), "52m");
        assert_eq!(span(7_500), "2h 5m");
        assert_eq!(span(-273_600), "3d 4h");
    }
}
