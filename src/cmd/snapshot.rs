//! `universe snapshot --out DIR`: run a refresh against the exchange and record every
//! response it reads, so that `generate --source DIR` replays it offline.

use std::time::Instant;

use anyhow::Context as _;
use serde_json::json;

use crate::config::MarketConfig;
use crate::exit::ExitCode;
use crate::market::Source as _;
use crate::market::client::Client;
use crate::market::snapshot::Recorder;
use crate::progress::Progress;
use crate::refresh;

pub fn run(config: &MarketConfig, out: &std::path::Path) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let recorder =
        Recorder::create(Client::new(&config.client, started), out).map_err(anyhow::Error::msg)?;
    let settings = refresh::Settings {
        filters: config.filters,
        concurrency: config.client.concurrency,
        min_symbols: 1,
    };
    let refresh = refresh::run(&recorder, &settings, &Progress::for_stderr())
        .context("the snapshot is incomplete: the refresh failed closed")?;
    recorder
        .finish(&json!({
            "format": 1,
            "server_time_ms": refresh.server_time,
            "base_url": config.client.base_url,
            "filters": {
                "min_quote_volume": config.filters.min_quote_volume,
                "max_spread_bps": config.filters.max_spread_bps,
                "min_age_days": config.filters.min_age_days,
            },
            "klines_symbols": refresh.candles_needed,
            "note": "bodies exactly as received; replay with `universe generate --source DIR`",
        }))
        .map_err(anyhow::Error::msg)?;
    let usage = recorder.usage();
    println!(
        "recorded {} symbols' candles and 4 market responses into {} ({} requests, weight {})",
        refresh.candles_needed,
        out.display(),
        usage.requests,
        usage.weight
    );
    Ok(ExitCode::Success)
}
