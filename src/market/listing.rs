//! When a symbol was listed, for the age filter. exchangeInfo's `onboardDate` is wrong for
//! many perpetuals (binance-public-data issue 427: ETHUSDT, DOGEUSDT, …), so a symbol's
//! listing is the later of its `onboardDate` and its first candle on the exchange, where
//! that first candle is known:
//!
//! - live, from Binance's own API: asked once per listing (`klines` from the
//!   `onboardDate`, `limit` 1, weight 1) of each symbol that passes every other cheap check,
//!   and kept in the candle cache's [`Listings`] file, so later refreshes cost nothing more;
//! - in a history, where the history says its first candle is a listing (an import that
//!   holds the archive's first file, a record derived from the archive): `firstCandle`.
//!
//! Elsewhere `onboardDate` alone is used, and [`FirstCandle::Unknown`] says why: a mirror,
//! the testnet or a recording (the replay tool, a snapshot, a fetched history) begins its
//! candles where its recording does, which would make every symbol look new.

use std::collections::HashMap;
use std::fmt;

use super::cache::CandleCache;

/// What the age filter knows of a symbol's first candle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FirstCandle {
    /// The exchange's first candle of this listing opened then (ms).
    At(i64),
    /// Not known: `onboardDate` alone is used.
    Unknown(Unknown),
}

/// Why a symbol's first candle is not known.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Unknown {
    /// A recording (a snapshot, a history that does not say where listings begin).
    #[default]
    Recording,
    /// `filters.listing_from = "onboard-date"`.
    Off,
    /// `filters.listing_from = "auto"`, and the source is not Binance's own API.
    NotBinance,
    /// No candle cache to keep it in (`--no-cache`): asking every refresh would cost
    /// weight every refresh.
    NoCache,
    /// Asked only of symbols that pass every other cheap check.
    NotAsked,
    /// The exchange has no candle of it yet.
    NoCandle,
    /// Asking failed: the symbol is excluded for its market data, with the error.
    Failed,
}

impl Default for FirstCandle {
    fn default() -> Self {
        Self::Unknown(Unknown::default())
    }
}

impl FirstCandle {
    /// The listing the age filter uses: the later of `onboard_date` and this.
    pub fn listing(self, onboard_date: i64) -> i64 {
        match self {
            Self::At(first) => first.max(onboard_date),
            Self::Unknown(_) => onboard_date,
        }
    }
}

impl fmt::Display for Unknown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Recording => "a recording does not say where listings begin",
            Self::Off => "filters.listing_from = \"onboard-date\"",
            Self::NotBinance => {
                "filters.listing_from = \"auto\" learns it only from https://fapi.binance.com"
            }
            Self::NoCache => "no candle cache to keep it in (--no-cache)",
            Self::NotAsked => "asked only of symbols that pass every other cheap check",
            Self::NoCandle => "the exchange has no candle of it yet",
            Self::Failed => "asking for it failed, so its market data is not usable",
        })
    }
}

/// Where the age filter takes listings from (`filters.listing_from`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListingFrom {
    /// The later of `onboardDate` and the first candle, learned from this source.
    FirstCandle,
    /// `onboardDate` alone.
    OnboardDate(Unknown),
}

impl ListingFrom {
    /// The knob's value (`auto`, `first-candle`, `onboard-date`) for a source at
    /// `base_url`: `auto` learns only from Binance's own API.
    pub fn resolve(knob: &str, base_url: &str) -> Self {
        match knob {
            "first-candle" => Self::FirstCandle,
            "onboard-date" => Self::OnboardDate(Unknown::Off),
            _ if base_url.trim_end_matches('/') == BINANCE => Self::FirstCandle,
            _ => Self::OnboardDate(Unknown::NotBinance),
        }
    }
}

/// The field of a history's exchangeInfo record (ours, not Binance's) that gives the
/// symbol's first candle where the history knows it is the listing.
pub const RECORD_FIELD: &str = "firstCandle";

/// Binance's own USDⓈ-M API, the one source `auto` learns first candles from.
pub const BINANCE: &str = "https://fapi.binance.com";

/// The first candles learned, kept in the candle cache's folder as `listings`:
///
/// ```text
/// universe-listings 1
/// <symbol> <onboardDate> <first candle's open time>      one listing a line, ms
/// ```
///
/// A line is kept for its `onboardDate`: a re-listing (another `onboardDate`) is asked
/// again. The file is another program's to break: a line that is not a symbol and two
/// times is skipped with a warning naming it, never a reason to stop.
#[derive(Debug, Clone, Default)]
pub struct Listings {
    known: HashMap<String, (i64, i64)>,
    /// Lines skipped when it was read: the file is written again without them.
    skipped: usize,
}

const MAGIC: &str = "universe-listings 1";
/// The file's name in the cache's folder.
pub const FILE: &str = "listings";

impl Listings {
    /// The listings kept in `cache` (none yet: empty).
    pub fn read(cache: &CandleCache) -> Self {
        let path = cache.file(FILE);
        let mut listings = Self::default();
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return listings,
            Err(e) => {
                crate::warn!(
                    "universe: warning: {}: {e}; first candles are asked again",
                    path.display()
                );
                return listings;
            }
        };
        let mut lines = text.lines().enumerate();
        if lines.next().map(|(_, l)| l) != Some(MAGIC) {
            crate::warn!(
                "universe: warning: {} does not start with {MAGIC:?}; first candles are asked again",
                path.display()
            );
            listings.skipped = 1;
            return listings;
        }
        for (index, line) in lines {
            if let Some((symbol, onboard, first)) = parse_line(line) {
                listings.known.insert(symbol.to_owned(), (onboard, first));
            } else {
                listings.skipped += 1;
                crate::warn!(
                    "universe: warning: {}:{}: not `<symbol> <onboardDate> <first candle>`; skipped",
                    path.display(),
                    index + 1
                );
            }
        }
        listings
    }

    /// The first candle of `symbol` listed at `onboard_date`, if it is kept.
    pub fn get(&self, symbol: &str, onboard_date: i64) -> Option<i64> {
        let &(onboard, first) = self.known.get(symbol)?;
        (onboard == onboard_date).then_some(first)
    }

    /// Adds what was learned.
    pub fn learn(&mut self, symbol: &str, onboard_date: i64, first: i64) {
        self.known.insert(symbol.to_owned(), (onboard_date, first));
    }

    /// Writes the file again (nothing in a read-only cache), if `learned` adds to it or it
    /// had lines to skip. A write that fails costs the next refresh the same questions,
    /// never correctness.
    pub fn keep(&self, cache: &CandleCache, learned: usize) {
        if learned + self.skipped == 0 {
            return;
        }
        let mut lines: Vec<String> = self
            .known
            .iter()
            .map(|(symbol, (onboard, first))| format!("{symbol} {onboard} {first}\n"))
            .collect();
        lines.sort_unstable();
        let body = format!("{MAGIC}\n{}", lines.concat());
        if let Err(e) = cache.replace_text(FILE, &body) {
            crate::warn!(
                "universe: warning: {}: {e}; first candles are asked again next time",
                cache.file(FILE).display()
            );
        }
    }
}

fn parse_line(line: &str) -> Option<(&str, i64, i64)> {
    let mut fields = line.split(' ');
    let symbol = fields.next()?;
    let onboard = fields.next()?.parse().ok()?;
    let first: i64 = fields.next()?.parse().ok()?;
    // a name is only looked up, never a path: it needs no more checking than this
    let name = !symbol.is_empty() && symbol.len() <= 32 && !symbol.chars().any(char::is_control);
    let sound = fields.next().is_none() && name && first >= 0;
    sound.then_some((symbol, onboard, first))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_later_of_onboard_date_and_the_first_candle_is_the_listing() {
        assert_eq!(FirstCandle::At(500).listing(100), 500);
        assert_eq!(FirstCandle::At(100).listing(500), 500);
        assert_eq!(FirstCandle::Unknown(Unknown::NoCache).listing(100), 100);
    }

    #[test]
    fn auto_learns_only_from_binance() {
        let resolve = ListingFrom::resolve;
        assert_eq!(
            resolve("auto", "https://fapi.binance.com/"),
            ListingFrom::FirstCandle
        );
        assert_eq!(
            resolve("auto", "http://127.0.0.1:8080"),
            ListingFrom::OnboardDate(Unknown::NotBinance)
        );
        assert_eq!(
            resolve("first-candle", "http://127.0.0.1:8080"),
            ListingFrom::FirstCandle
        );
        assert_eq!(
            resolve("onboard-date", BINANCE),
            ListingFrom::OnboardDate(Unknown::Off)
        );
    }

    #[test]
    fn bad_lines_are_skipped_and_dropped_when_written_again() {
        let dir = tempfile::tempdir().unwrap();
        let cache = CandleCache::open(dir.path()).unwrap();
        let text = format!(
            "{MAGIC}\nAUSDT 10 20\nBUSDT ten 20\nCUSDT 1 2 3\nX\u{7f}USDT 1 2\nDUSDT 5 -1\n\nEUSDT 7 9\n"
        );
        std::fs::write(dir.path().join(FILE), text).unwrap();
        let mut listings = Listings::read(&cache);
        assert_eq!(listings.skipped, 5);
        assert_eq!(listings.get("AUSDT", 10), Some(20));
        assert_eq!(
            listings.get("AUSDT", 11),
            None,
            "another listing is asked again"
        );
        assert_eq!(listings.get("EUSDT", 7), Some(9));
        assert_eq!(listings.get("BUSDT", 10), None);
        listings.learn("FUSDT", 1, 3);
        listings.keep(&cache, 1);
        let again = std::fs::read_to_string(dir.path().join(FILE)).unwrap();
        assert_eq!(
            again,
            format!("{MAGIC}\nAUSDT 10 20\nEUSDT 7 9\nFUSDT 1 3\n")
        );
    }

    #[test]
    fn a_file_without_the_header_is_asked_again_and_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let cache = CandleCache::open(dir.path()).unwrap();
        std::fs::write(dir.path().join(FILE), "AUSDT 10 20\n").unwrap();
        let listings = Listings::read(&cache);
        assert_eq!(listings.get("AUSDT", 10), None);
        listings.keep(&cache, 0);
        let again = Listings::read(&cache);
        assert_eq!(again.skipped, 0);
        assert_eq!(
            std::fs::read_to_string(dir.path().join(FILE)).unwrap(),
            format!("{MAGIC}\n")
        );
        // nothing learned, nothing skipped: not written again
        std::fs::remove_file(dir.path().join(FILE)).unwrap();
        again.keep(&cache, 0);
        assert!(!dir.path().join(FILE).exists());
    }
}
