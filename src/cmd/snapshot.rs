//! `universe snapshot --out DIR`: run a refresh against the exchange and record every
//! response it reads, so that `generate --source DIR` replays it offline.

use std::time::Instant;

use std::io::Write as _;

use anyhow::Context as _;
use serde_json::json;

use crate::exit::ExitCode;
use crate::market::Source as _;
use crate::market::client::Client;
use crate::market::listing::{ListingFrom, Unknown};
use crate::market::snapshot::Recorder;
use crate::progress::Progress;
use crate::settings::Settings;

pub fn run(settings: &Settings, out: &std::path::Path) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let mut recorder = Recorder::create(Client::new(&settings.client, started), out)
        .map_err(anyhow::Error::msg)?;
    // a snapshot records whatever the market gives; judging it is for the replay, which
    // cannot ask where listings begin, so neither does the recording (one file a symbol)
    let recording = Settings {
        min_symbols: 0,
        max_data_age: None,
        listing_from: ListingFrom::OnboardDate(Unknown::Recording),
        ..settings.clone()
    };
    let reading = crate::pipeline::reading(&recording, None, crate::clock::now_epoch());
    let refresh = crate::pipeline::refresh(
        &recorder,
        &recording.decision(),
        &std::collections::BTreeMap::new(),
        &reading,
        &Progress::for_stderr(),
    )
    .context("the snapshot is incomplete: the refresh failed closed")?;
    let filters = &settings.filters;
    recorder
        .finish(&json!({
            "format": 1,
            "server_time_ms": refresh.overview.server_time,
            "base_url": settings.client.base_url,
            "filters": {
                "min_quote_volume": filters.min_quote_volume,
                "max_spread_bps": filters.max_spread_bps,
                "min_age_days": filters.min_age_days,
            },
            "klines_symbols": refresh.candles_needed,
            "note": "bodies exactly as received; replay with `universe generate --source DIR`",
        }))
        .map_err(anyhow::Error::msg)?;
    let usage = recorder.usage();
    writeln!(
        crate::output::stdout(),
        "recorded {} symbols' candles and 4 market responses into {} ({} requests, weight {})",
        refresh.candles_needed,
        out.display(),
        usage.requests,
        usage.weight
    )?;
    Ok(ExitCode::Success)
}
