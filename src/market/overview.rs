//! The overview a refresh reads before any candle: server time, exchangeInfo, 24h
//! tickers and best bid/ask, fetched in two round trips and parsed strictly.

use std::collections::{BTreeMap, HashMap};

use super::wire::{self, Book, SymbolInfo};
use super::{Endpoint, Source};
use crate::error::FailClosed;

/// Everything a refresh reads before candles: exchangeInfo, 24h tickers, best bid/ask.
#[derive(Debug)]
pub struct Overview {
    /// Server time in ms since the epoch; all ages and windows are measured from it.
    pub server_time: i64,
    /// exchangeInfo's symbols; shared, as a history serves the same list at every step.
    pub symbols: std::sync::Arc<[SymbolInfo]>,
    /// exchangeInfo's `REQUEST_WEIGHT` per minute, when it states one.
    pub weight_limit: Option<u32>,
    /// 24h quote volume by symbol.
    pub quote_volumes: HashMap<String, f64>,
    pub books: HashMap<String, Book>,
    /// Symbols an answer listed more than once, differently: what differs.
    pub conflicts: BTreeMap<String, String>,
}

/// Fetches the overview in two round trips: first the light requests (server time and
/// exchangeInfo, weight 2), whose answers tell the gate the IP's used weight and the
/// limit the exchange states; then the heavy all-symbol tickers (weight 45), planned
/// within them. Any of the four missing fails the run closed.
pub fn fetch_overview(source: &dyn Source) -> Result<Overview, FailClosed> {
    let fetch = |endpoint: Endpoint<'static>, what: &str| {
        let body = source
            .fetch(&endpoint)
            .map_err(|e| e.into_fail_closed(what, source.deadline_s()))?;
        Ok::<_, FailClosed>((body, source.locate(&endpoint)))
    };
    let malformed = |what: &str, at: &str, detail: String| FailClosed::Fetch {
        what: format!("{what} ({at})"),
        detail,
    };
    let (time, info) = std::thread::scope(|scope| {
        let time = scope.spawn(|| fetch(Endpoint::Time, "server time (/fapi/v1/time)"));
        let info = fetch(Endpoint::ExchangeInfo, "exchangeInfo");
        (join(time), info)
    });
    let ((time, time_at), (info, info_at)) = (time?, info?);
    let server_time = wire::parse_time(&time).map_err(|e| malformed("server time", &time_at, e))?;
    let exchange =
        wire::parse_exchange_info(&info).map_err(|e| malformed("exchangeInfo", &info_at, e))?;
    drop(info);
    if let Some(limit) = exchange.weight_limit {
        source.observe_weight_limit(limit);
    }
    let (tickers, books) = std::thread::scope(|scope| {
        let tickers = scope.spawn(|| fetch(Endpoint::Ticker24h, "24h tickers"));
        let books = fetch(Endpoint::BookTicker, "book tickers");
        (join(tickers), books)
    });
    let ((tickers, tickers_at), (books, books_at)) = (tickers?, books?);
    let tickers =
        wire::parse_tickers(&tickers).map_err(|e| malformed("24h tickers", &tickers_at, e))?;
    let books = wire::parse_books(&books).map_err(|e| malformed("book tickers", &books_at, e))?;
    let conflicts = merge_conflicts([exchange.conflicts, tickers.conflicts, books.conflicts]);
    let mut symbols = exchange.symbols;
    // a symbol whose exchangeInfo records conflict still gets its verdict
    for symbol in conflicts.keys() {
        if !symbols.iter().any(|s| &s.symbol == symbol) {
            symbols.push(SymbolInfo::unknown(symbol));
        }
    }
    Ok(Overview {
        server_time,
        symbols: symbols.into(),
        weight_limit: exchange.weight_limit,
        quote_volumes: tickers.values,
        books: books.values,
        conflicts,
    })
}

/// What each answer found conflicting, by symbol, joined with "; ".
fn merge_conflicts<const N: usize>(
    answers: [Vec<(String, String)>; N],
) -> BTreeMap<String, String> {
    let mut conflicts: BTreeMap<String, String> = BTreeMap::new();
    for (symbol, detail) in answers.into_iter().flatten() {
        conflicts
            .entry(symbol)
            .and_modify(|d| {
                d.push_str("; ");
                d.push_str(&detail);
            })
            .or_insert(detail);
    }
    conflicts
}

fn join<T>(handle: std::thread::ScopedJoinHandle<'_, T>) -> T {
    handle
        .join()
        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
}
