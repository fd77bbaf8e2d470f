//! `universe generate`: refresh, select, publish.
//!
//! 1. open the store and read the current policy first, so a store that is down costs
//!    no exchange weight;
//! 2. run the refresh (fails closed on untrustworthy data);
//! 3. build the policy and its audit entry from the previous policy;
//! 4. publish both in one atomic step (unless `--dry-run`);
//! 5. print the summary, or every symbol's verdict with `--json`.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::time::Instant;

use anyhow::Context as _;
use serde_json::json;

use crate::config::{GenerateConfig, SourceConfig};
use crate::exit::ExitCode;
use crate::market::Source;
use crate::market::client::Client;
use crate::market::snapshot::SnapshotSource;
use crate::output::{self, printable};
use crate::policy::{self, Policy, field};
use crate::progress::Progress;
use crate::refresh::{self, Refresh};
use crate::select::{self, Reason};
use crate::store::Publication;

pub fn run(config: &GenerateConfig) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    // the store is opened and read first: a store that is down costs no exchange
    // weight, and the publish succeeds only if nobody published meanwhile
    let mut store = if config.dry_run {
        None
    } else {
        let mut store = config
            .store
            .open()
            .context("opening the store before the refresh")?;
        let previous = store.load_policy().context("reading the current policy")?;
        Some((store, previous))
    };
    let source = open_source(&config.source, started)?;
    let settings = refresh::Settings {
        filters: config.filters,
        concurrency: config.concurrency,
        min_symbols: config.min_symbols,
    };
    let refresh = refresh::run(source.as_ref(), &settings, &Progress::for_stderr())
        .context("refresh failed closed; nothing was published and the previous policy stands")?;
    let universe = &refresh.scored[..config.top.min(refresh.scored.len())];
    let created_at = output::now_epoch();
    warn_if_data_is_old(refresh.server_time, created_at, &config.source);
    let universe_hash = policy::universe_hash(&symbols_of(universe));
    let run_id = format!("{created_at}-{}", &universe_hash[..8]);
    let policy = Policy::build(universe, created_at, config.valid_for_s, &run_id);

    let published = match store.as_mut() {
        Some((store, previous)) => {
            let audit = audit_entry(
                &policy,
                previous.as_ref(),
                &refresh,
                started,
                &config.source,
            )?;
            let publication = Publication {
                event: update_event(&policy),
                policy: policy.clone(),
                audit,
            };
            let expected = previous.as_ref().and_then(|p| p.get(field::POLICY_HASH));
            store
                .publish(&publication, expected)
                .context("publishing the policy; nothing was written")?;
            Some(store.describe())
        }
        None => None,
    };
    if config.json {
        super::print_json(&report(
            &policy,
            &refresh,
            universe.len(),
            published.as_deref(),
            started,
        ))?;
    } else {
        print_summary(
            &policy,
            &refresh,
            universe.len(),
            published.as_deref(),
            started,
        )?;
    }
    Ok(ExitCode::Success)
}

/// The live exchange or a snapshot folder.
fn open_source(config: &SourceConfig, started: Instant) -> anyhow::Result<Box<dyn Source>> {
    Ok(match config {
        SourceConfig::Live(settings) => Box::new(Client::new(settings, started)),
        SourceConfig::Snapshot(dir) => {
            Box::new(SnapshotSource::open(dir).map_err(anyhow::Error::msg)?)
        }
    })
}

/// The policy's validity runs from the local clock, which the services reading it share;
/// the data's age is the exchange's clock. When they disagree by more than a few minutes
/// (a replayed snapshot, a wrong clock) the operator should know.
fn warn_if_data_is_old(server_time_ms: i64, now: i64, source: &SourceConfig) {
    let skew = now - server_time_ms.div_euclid(1000);
    if skew.abs() > 300 {
        let what = match source {
            SourceConfig::Live(_) => "the exchange's clock",
            SourceConfig::Snapshot(_) => "the snapshot's data time",
        };
        eprintln!(
            "universe: warning: {what} ({}) differs from the local clock by {}; the policy's validity counts from the local clock",
            output::epoch(server_time_ms.div_euclid(1000)),
            output::span(skew)
        );
    }
}

fn symbols_of(scored: &[select::Scored]) -> Vec<&str> {
    scored.iter().map(|s| s.candidate.symbol.as_str()).collect()
}

/// The audit entry of a publish: the policy's identity, what changed against the
/// previous policy, why symbols were excluded, and what the run cost.
fn audit_entry(
    policy: &Policy,
    previous: Option<&Policy>,
    refresh: &Refresh,
    started: Instant,
    source: &SourceConfig,
) -> anyhow::Result<BTreeMap<String, String>> {
    let symbols = policy.symbols()?;
    let before: Vec<String> = match previous {
        Some(p) => p.symbols().unwrap_or_default(),
        None => Vec::new(),
    };
    let added: Vec<&String> = symbols.iter().filter(|s| !before.contains(s)).collect();
    let removed: Vec<&String> = before.iter().filter(|s| !symbols.contains(s)).collect();
    let leverage = policy.leverage()?;
    let (low, high) = leverage
        .values()
        .filter_map(serde_json::Number::as_u64)
        .fold((u64::MAX, 0), |(lo, hi), v| (lo.min(v), hi.max(v)));
    let exclusions: BTreeMap<&str, usize> = select::count_by_reason(&refresh.excluded)
        .into_iter()
        .map(|(reason, n)| (reason.as_str(), n))
        .collect();
    let copied = [
        field::POLICY_VERSION,
        field::POLICY_HASH,
        field::UNIVERSE_HASH,
        field::UNIVERSE_SYMBOLS,
        field::VALID_UNTIL,
        field::CREATED_AT,
        field::GENERATOR,
        field::FEATURES_WINDOW,
        field::RUN_ID,
    ];
    let mut entry: BTreeMap<String, String> = copied
        .iter()
        .map(|name| Ok(((*name).to_owned(), policy.require(name)?.to_owned())))
        .collect::<anyhow::Result<_>>()?;
    let previous_hash = previous
        .and_then(|p| p.get(field::UNIVERSE_HASH))
        .unwrap_or("");
    let source = match source {
        SourceConfig::Live(settings) => settings.base_url.clone(),
        SourceConfig::Snapshot(dir) => format!("snapshot:{}", dir.display()),
    };
    for (name, value) in [
        ("universe_count", symbols.len().to_string()),
        ("leverage_range", format!("{low}-{high}")),
        ("previous_universe_hash", previous_hash.to_owned()),
        ("symbols_added", serde_json::to_string(&added)?),
        ("symbols_removed", serde_json::to_string(&removed)?),
        ("exclusions", serde_json::to_string(&exclusions)?),
        ("scored_count", refresh.scored.len().to_string()),
        ("request_weight", refresh.usage.weight.to_string()),
        ("requests", refresh.usage.requests.to_string()),
        ("retries", refresh.usage.retries.to_string()),
        ("duration_ms", started.elapsed().as_millis().to_string()),
        ("source", source),
        ("server_time_ms", refresh.server_time.to_string()),
    ] {
        entry.insert(name.to_owned(), value);
    }
    Ok(entry)
}

/// The `policy.updated` event the services listen for.
fn update_event(policy: &Policy) -> BTreeMap<String, String> {
    let mut event = BTreeMap::from([("event".to_owned(), "policy.updated".to_owned())]);
    for name in [
        field::POLICY_HASH,
        field::UNIVERSE_HASH,
        field::RUN_ID,
        field::CREATED_AT,
        field::VALID_UNTIL,
    ] {
        event.insert(
            name.to_owned(),
            policy.get(name).unwrap_or_default().to_owned(),
        );
    }
    event
}

/// `--json`: the policy's identity and every exchangeInfo symbol's verdict.
fn report(
    policy: &Policy,
    refresh: &Refresh,
    universe_len: usize,
    published: Option<&str>,
    started: Instant,
) -> serde_json::Value {
    let mut symbols: Vec<serde_json::Value> = refresh
        .scored
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let mut value = serde_json::to_value(s).expect("serialisable");
            value["rank"] = json!(i + 1);
            value["selected"] = json!(i < universe_len);
            value
        })
        .collect();
    let mut excluded = refresh.excluded.clone();
    excluded.sort_by(|a, b| a.symbol.cmp(&b.symbol));
    symbols.extend(excluded.iter().map(|e| {
        json!({"symbol": e.symbol, "selected": false, "excluded": e.reason, "detail": e.detail})
    }));
    let exclusions: BTreeMap<Reason, usize> = select::count_by_reason(&refresh.excluded);
    json!({
        "universe": policy.symbols().unwrap_or_default(),
        "universe_hash": policy.get(field::UNIVERSE_HASH),
        "policy_hash": policy.get(field::POLICY_HASH),
        "run_id": policy.get(field::RUN_ID),
        "created_at_epoch": policy.epoch(field::CREATED_AT).ok(),
        "valid_until_epoch": policy.epoch(field::VALID_UNTIL).ok(),
        "published_to": published,
        "server_time_ms": refresh.server_time,
        "scored_count": refresh.scored.len(),
        "exclusions": exclusions,
        "usage": refresh.usage,
        "features_us": refresh.features_us,
        "duration_ms": started.elapsed().as_millis() as u64,
        "symbols": symbols,
    })
}

fn print_summary(
    policy: &Policy,
    refresh: &Refresh,
    universe_len: usize,
    published: Option<&str>,
    started: Instant,
) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    let hash = policy.get(field::UNIVERSE_HASH).unwrap_or_default();
    match published {
        Some(store) => writeln!(
            out,
            "published universe {hash} ({universe_len} symbols) to {store}"
        )?,
        None => writeln!(
            out,
            "dry run: universe {hash} ({universe_len} symbols), nothing written"
        )?,
    }
    writeln!(
        out,
        "{:>4}  {:<16} {:>6} {:>8} {:>8} {:>8} {:>8} {:>4}",
        "rank", "symbol", "score", "atr%15m", "trend1h", "mom15m", "mom1h", "lev"
    )?;
    for (i, s) in refresh.scored[..universe_len].iter().enumerate() {
        let f = &s.features;
        writeln!(
            out,
            "{:>4}  {:<16} {:>6.2} {:>8.3} {:>8.3} {:>8.3} {:>8.3} {:>4}",
            i + 1,
            printable(&s.candidate.symbol),
            s.score,
            f.atr_pct_15m,
            f.trend_1h,
            f.mom_15m,
            f.mom_1h,
            s.leverage
        )?;
    }
    let counts = select::count_by_reason(&refresh.excluded);
    let counts: Vec<String> = counts.iter().map(|(r, n)| format!("{r} {n}")).collect();
    writeln!(
        out,
        "scored {} of {} symbols; excluded: {}",
        refresh.scored.len(),
        refresh.scored.len() + refresh.excluded.len(),
        counts.join(", ")
    )?;
    let u = refresh.usage;
    let seconds = started.elapsed().as_secs_f64();
    if u.requests == 0 {
        writeln!(out, "replayed from a snapshot, no requests; {seconds:.2}s")?;
    } else {
        writeln!(
            out,
            "exchange: {} requests, weight {}, {} retries, {} rate-limited; {seconds:.2}s",
            u.requests, u.weight, u.retries, u.rate_limited
        )?;
    }
    Ok(())
}
