//! Writes `examples/snapshot/`: a SYNTHETIC market snapshot (deterministic, no real
//! prices) in the layout `universe snapshot` records, so that the README's first command
//! runs the whole refresh offline, without network or Redis.
//!
//!     cargo run --example make_snapshot -- examples/snapshot
//!
//! The market is the tests' (`tests/support/market.rs`): healthy USDT perpetuals plus one
//! symbol for each exclusion reason. Candles are recorded, like a live run, only for the
//! symbols that pass the cheap filters with default settings.

#[path = "../tests/support/market.rs"]
mod market;

use std::fs;
use std::path::PathBuf;

use universe::market::candles::request_start;
use universe::market::{KLINES_LIMIT, Overview, wire};
use universe::select::{Filters, Lists, Rules, screen};

/// 2026-01-15T12:07:30Z: a fixed clock, so the snapshot is the same on every machine.
const SERVER_TIME: i64 = 1_768_478_850_000;
const TRADABLE: usize = 12;
const SEED: u64 = 2026;
/// `generate`'s defaults.
const DEFAULT_FILTERS: Filters = Filters {
    min_quote_volume: 20_000_000.0,
    max_spread_bps: 15.0,
    min_age_days: 30.0,
};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out = PathBuf::from(
        std::env::args()
            .nth(1)
            .unwrap_or_else(|| "examples/snapshot".into()),
    );
    let market = market::Market::generate(SERVER_TIME, TRADABLE, SEED);
    if out.exists() {
        fs::remove_dir_all(&out)?;
    }
    fs::create_dir_all(out.join("klines"))?;

    let bodies = [
        ("time.json", market.time_body()),
        ("exchangeInfo.json", market.exchange_info_body()),
        ("ticker_24hr.json", market.ticker_body()),
        ("bookTicker.json", market.book_body()),
    ];
    for (name, body) in &bodies {
        fs::write(out.join(name), body)?;
    }

    let overview = Overview {
        server_time: SERVER_TIME,
        symbols: wire::parse_exchange_info(bodies[1].1.as_bytes())?
            .symbols
            .into(),
        weight_limit: None,
        quote_volumes: wire::parse_tickers(bodies[2].1.as_bytes())?.values,
        books: wire::parse_books(bodies[3].1.as_bytes())?.values,
        conflicts: std::collections::BTreeMap::new(),
    };
    let (candidates, _) = screen(&overview, &Rules::new(&DEFAULT_FILTERS, &Lists::default()));
    let start = request_start(SERVER_TIME);
    for candidate in &candidates {
        let body = market
            .klines_body(&candidate.symbol, Some(start), KLINES_LIMIT as usize)
            .expect("every listing has candles");
        fs::write(
            out.join("klines")
                .join(format!("{}.json", candidate.symbol)),
            body,
        )?;
    }
    let meta = serde_json::json!({
        "format": 1,
        "synthetic": true,
        "note": "SYNTHETIC market made by examples/make_snapshot.rs; no price here is real",
        "server_time_ms": SERVER_TIME,
        "seed": SEED,
        "klines_symbols": candidates.len(),
    });
    fs::write(
        out.join("snapshot.json"),
        serde_json::to_string_pretty(&meta)? + "\n",
    )?;
    println!(
        "wrote {} ({} symbols, {} with candles)",
        out.display(),
        market.listings.len(),
        candidates.len()
    );
    Ok(())
}
