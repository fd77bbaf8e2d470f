//! The market as the decision reads it at one moment: the overview, and each picked
//! symbol's 15m candles borrowed from wherever they live (the fetched bodies of a live
//! refresh, or a history in memory), never copied.

use super::{Candle, FetchError, Overview, Usage};

/// One symbol's candles, oldest first with strictly increasing open times, or why they
/// could not be read.
pub type CandleSlice<'a> = Result<&'a [Candle], &'a FetchError>;

/// What the decision reads of the market.
#[derive(Debug)]
pub struct MarketView<'a> {
    /// Everything read before candles; `server_time` is the exchange's time of the data.
    pub overview: Overview,
    /// The candles of the symbols the cheap checks let through (a history may hold more:
    /// the decision reads only those of its candidates).
    pub candles: Vec<(&'a str, CandleSlice<'a>)>,
    /// How many symbols the candle cache served with a warm request.
    pub cache_hits: usize,
    pub usage: Usage,
}
