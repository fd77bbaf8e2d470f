//! The refresh as `generate`, `explain`, `rotation` and `snapshot` run it: read the
//! model folder and the market (I/O), then [`crate::decide`] decides (pure). A backtest
//! calls the same decision on a history instead.

use std::collections::BTreeMap;
use std::time::Instant;

use crate::decide::{self, Config, Memory, Plan, PlanError, Refresh};
use crate::error::FailClosed;
use crate::market::cache::CandleCache;
use crate::market::gather::Fetched;
use crate::market::gather::{self, Reading};
use crate::market::{Overview, Source};
use crate::progress::Progress;
use crate::rotation::models;
use crate::settings::Settings;

/// The market read: the decision's cheap checks pick whose candles are fetched.
fn read(
    source: &dyn Source,
    config: &Config,
    models: &BTreeMap<String, String>,
    reading: &Reading<'_>,
    progress: &Progress,
) -> Result<(Overview, Fetched), FailClosed> {
    let pick = |overview: &_| decide::assess::candidates(overview, config, models);
    gather::gather(source, &pick, reading, progress)
}

/// The market read and assessed, without a choice: what `snapshot` records.
pub fn refresh(
    source: &dyn Source,
    config: &Config,
    models: &BTreeMap<String, String>,
    reading: &Reading<'_>,
    progress: &Progress,
) -> Result<Refresh, FailClosed> {
    let (overview, fetched) = read(source, config, models, reading, progress)?;
    let started = Instant::now();
    let mut refresh = decide::assess(fetched.view(overview), models, config)?;
    refresh.features_us = started.elapsed().as_micros();
    Ok(refresh)
}

/// How `settings` read the market at `now` (epoch seconds).
pub fn reading<'a>(settings: &Settings, cache: Option<&'a CandleCache>, now: i64) -> Reading<'a> {
    Reading {
        concurrency: settings.client.concurrency,
        weight_budget: settings.client.weight_budget,
        cache,
        max_data_age: settings.max_data_age,
        now,
        listing_from: settings.listing_from,
    }
}

/// The plan `generate` publishes.
pub fn make(
    source: &dyn Source,
    settings: &Settings,
    memory: &Memory,
    cache: Option<&CandleCache>,
    now: i64,
    progress: &Progress,
) -> Result<Plan, PlanError> {
    let found = match &settings.rotation.model_dir {
        Some(dir) => models::scan(dir, &settings.rotation.model_glob).map_err(PlanError::Models)?,
        None => BTreeMap::new(),
    };
    let config = settings.decision();
    let reading = reading(settings, cache, now);
    let (overview, fetched) = read(source, &config, &found, &reading, progress)?;
    let started = Instant::now();
    let mut plan = decide::decide(fetched.view(overview), &found, memory, &config, now)?;
    plan.refresh.features_us = started.elapsed().as_micros();
    Ok(plan)
}

#[cfg(test)]
mod tests;
