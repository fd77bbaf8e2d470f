//! `universe generate`: refresh, choose, publish.
//!
//! 1. open the store and read what it remembers (the previous universe, when each member
//!    joined, open positions), so a store that is down costs no exchange weight;
//! 2. run the refresh and choose the universe (fails closed on untrustworthy data);
//! 3. build the policy and its audit entry;
//! 4. publish both in one atomic step, only if nobody published meanwhile (unless
//!    `--dry-run`);
//! 5. print the summary, or every symbol's verdict with `--json`.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::time::Instant;

use anyhow::Context as _;
use serde_json::json;

use super::SourceChoice;
use crate::cli::GenerateArgs;
use crate::exit::ExitCode;
use crate::output::{self, printable};
use crate::plan::{self, History, Plan};
use crate::policy::{Policy, field};
use crate::progress::Progress;
use crate::select::churn::Action;
use crate::select::{self, Reason};
use crate::settings::Settings;

/// The run's own options (the rest is in [`Settings`]).
#[derive(Debug, Clone)]
pub struct Options {
    pub source: Option<String>,
    pub held: Option<Vec<String>>,
    pub dry_run: bool,
    pub json: bool,
}

impl From<&GenerateArgs> for Options {
    fn from(args: &GenerateArgs) -> Self {
        Self {
            source: args.selection.source.clone(),
            held: args.selection.held.clone(),
            dry_run: args.dry_run,
            json: args.json,
        }
    }
}

pub fn run(settings: &Settings, options: &Options) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let source_choice = SourceChoice::parse(options.source.as_deref())?;
    let (mut store, history) = super::read_history(
        settings,
        options.held.as_deref(),
        !options.dry_run,
        !options.dry_run,
    )?;
    let source = source_choice.open(settings, started)?;
    let now = output::now_epoch();
    let plan = plan::make(
        source.as_ref(),
        settings,
        &history,
        source_choice.cache(settings, !options.dry_run).as_ref(),
        now,
        &Progress::for_stderr(),
    )
    .map_err(|e| e.into_error(!options.dry_run))?;
    warn_if_data_is_old(plan.refresh.overview.server_time, now, &source_choice);
    let policy = seal(&plan, settings, now);

    let published = match store.as_mut().filter(|_| !options.dry_run) {
        Some(store) => {
            let mut audit = audit_entry(
                &policy,
                &plan,
                &history,
                started,
                &source_choice.describe(settings),
            )?;
            let replay = matches!(source_choice, SourceChoice::Snapshot(_));
            let data_age_s = now - plan.refresh.overview.server_time.div_euclid(1000);
            audit.insert("replay".into(), replay.to_string());
            audit.insert("data_age_s".into(), data_age_s.to_string());
            super::publish(store.as_mut(), &policy, audit, &history)?;
            if settings.rotation.model_dir.is_some() {
                // after the publish: a failed run must not make models look seen
                store
                    .record_models(&plan.models.files())
                    .context("recording the models seen (the policy was published)")?;
            }
            Some(store.describe())
        }
        None => None,
    };
    super::grep_lines::write(&mut crate::output::stderr(), &plan, settings)?;
    if options.json {
        super::print_json(&report(&policy, &plan, published.as_deref(), started))?;
    } else {
        print_summary(&policy, &plan, published.as_deref(), started)?;
    }
    Ok(ExitCode::Success)
}

/// The policy of a plan, made now.
fn seal(plan: &Plan, settings: &Settings, now: i64) -> Policy {
    let universe = plan.universe();
    let mut draft = Policy::draft(
        &universe,
        plan.refresh.regime.as_str(),
        &settings.extra,
        &settings.exit_params,
    );
    let hash = crate::policy::universe_hash(&draft.symbols);
    draft.created_at = now;
    draft.valid_for_s = settings.valid_for_s;
    draft.run_id = format!("{now}-{}", &hash[..8]);
    draft.request_stats = Some(request_stats(plan).to_string());
    draft.seal()
}

/// What the refresh cost the exchange: for the policy, the audit entry and `--json`.
fn request_stats(plan: &Plan) -> serde_json::Value {
    let u = plan.refresh.usage;
    json!({
        "weight": u.weight,
        "requests": u.requests,
        "retries": u.retries,
        "rate_limited": u.rate_limited,
        "candle_symbols": plan.refresh.candles_needed,
        "cache_hits": plan.refresh.cache_hits,
    })
}

/// The policy's validity runs from the local clock, which the services reading it share;
/// the data's age is the exchange's clock. When they disagree by more than a few minutes
/// (a replayed snapshot, a wrong clock) the operator should know.
fn warn_if_data_is_old(server_time_ms: i64, now: i64, source: &SourceChoice) {
    let skew = now - server_time_ms.div_euclid(1000);
    if skew.abs() > 300 {
        let what = match source {
            SourceChoice::Live => "the exchange's clock",
            SourceChoice::Snapshot(_) => "the snapshot's data time",
        };
        crate::warn!(
            "universe: warning: {what} ({}) differs from the local clock by {}; the policy's validity counts from the local clock",
            output::epoch(server_time_ms.div_euclid(1000)),
            output::span(skew)
        );
    }
}

/// Symbols of `plan`'s decisions with `action`, each with its reason.
fn decided(plan: &Plan, action: Action) -> BTreeMap<&str, &str> {
    plan.choice
        .decisions
        .iter()
        .filter(|d| d.action == action)
        .map(|d| (d.symbol.as_str(), d.reason.as_str()))
        .collect()
}

/// The audit entry of a publish: the policy's identity, what changed and why, why
/// symbols were excluded, and what the run cost.
pub fn audit_entry(
    policy: &Policy,
    plan: &Plan,
    history: &History,
    started: Instant,
    source: &str,
) -> anyhow::Result<BTreeMap<String, String>> {
    let mut entry = identity(policy, history)?;
    let exclusions: BTreeMap<&str, usize> = select::count_by_reason(&plan.refresh.excluded)
        .into_iter()
        .map(|(reason, n)| (reason.as_str(), n))
        .collect();
    let usage = plan.refresh.usage;
    for (name, value) in [
        (
            "symbols_kept",
            serde_json::to_string(&decided(plan, Action::Kept))?,
        ),
        (
            "added_reasons",
            serde_json::to_string(&decided(plan, Action::Added))?,
        ),
        (
            "removed_reasons",
            serde_json::to_string(&decided(plan, Action::Removed))?,
        ),
        (
            "correlation_skipped",
            serde_json::to_string(&plan.choice.skipped)?,
        ),
        ("rotation", serde_json::to_string(&plan.rotation)?),
        ("replacements", plan.choice.replacements.to_string()),
        ("pairs", serde_json::to_string(&plan.choice.pairs)?),
        ("carried", serde_json::to_string(&plan.choice.carried)?),
        (
            "positions_left",
            serde_json::to_string(&plan.choice.positions_left)?,
        ),
        ("held_count", history.held.len().to_string()),
        ("median_atr_pct_15m", plan.refresh.median_atr.to_string()),
        ("exclusions", serde_json::to_string(&exclusions)?),
        ("scored_count", plan.refresh.scored.len().to_string()),
        ("request_weight", usage.weight.to_string()),
        ("requests", usage.requests.to_string()),
        ("retries", usage.retries.to_string()),
        ("cache_hits", plan.refresh.cache_hits.to_string()),
        ("candle_symbols", plan.refresh.candles_needed.to_string()),
        ("duration_ms", started.elapsed().as_millis().to_string()),
        ("source", source.to_owned()),
        (
            "server_time_ms",
            plan.refresh.overview.server_time.to_string(),
        ),
    ] {
        entry.insert(name.to_owned(), value);
    }
    Ok(entry)
}

/// The part of an audit entry every publish has (`generate` and `rollback`): the policy's
/// identity and the symbols added and removed against the previous policy.
pub fn identity(policy: &Policy, history: &History) -> anyhow::Result<BTreeMap<String, String>> {
    let symbols = policy.symbols()?;
    let before = &history.incumbents;
    let added: Vec<&String> = symbols.iter().filter(|s| !before.contains(s)).collect();
    let removed: Vec<&String> = before.iter().filter(|s| !symbols.contains(s)).collect();
    let leverage = policy.leverage()?;
    let (low, high) = leverage
        .values()
        .filter_map(serde_json::Number::as_f64)
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        });
    let copied = [
        field::POLICY_VERSION,
        field::POLICY_HASH,
        field::UNIVERSE_HASH,
        field::UNIVERSE_SYMBOLS,
        field::LEVERAGE_BY_SYMBOL,
        field::SCORES,
        field::VALID_UNTIL,
        field::CREATED_AT,
        field::GENERATOR,
        field::FEATURES_WINDOW,
        field::RUN_ID,
        field::REGIME,
    ];
    let mut entry: BTreeMap<String, String> = copied
        .iter()
        .filter_map(|name| Some(((*name).to_owned(), policy.get(name)?.to_owned())))
        .collect();
    let previous_hash = history
        .previous
        .as_ref()
        .and_then(|p| p.get(field::UNIVERSE_HASH))
        .unwrap_or("");
    for (name, value) in [
        ("universe_count", symbols.len().to_string()),
        ("leverage_range", format!("{low}-{high}")),
        ("previous_universe_hash", previous_hash.to_owned()),
        ("symbols_added", serde_json::to_string(&added)?),
        ("symbols_removed", serde_json::to_string(&removed)?),
    ] {
        entry.insert(name.to_owned(), value);
    }
    Ok(entry)
}

/// The `policy.updated` event the services listen for: the fields the Python generator
/// wrote (`event`, `version`, `timestamp` in decimal seconds) and the policy's identity.
pub fn update_event(policy: &Policy) -> BTreeMap<String, String> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let mut event = BTreeMap::from([
        ("event".to_owned(), "policy.updated".to_owned()),
        (
            "version".to_owned(),
            policy
                .get(field::POLICY_VERSION)
                .unwrap_or_default()
                .to_owned(),
        ),
        ("timestamp".to_owned(), format!("{:.6}", now.as_secs_f64())),
    ]);
    for name in [
        field::POLICY_HASH,
        field::UNIVERSE_HASH,
        field::RUN_ID,
        field::CREATED_AT,
        field::VALID_UNTIL,
        field::GENERATOR,
    ] {
        event.insert(
            name.to_owned(),
            policy.get(name).unwrap_or_default().to_owned(),
        );
    }
    event
}

/// One symbol's verdict, as `generate --json` and `explain` print it.
pub fn symbol_report(plan: &Plan, symbol: &str) -> serde_json::Value {
    if let Some(rank) = plan.rank(symbol) {
        let scored = &plan.refresh.scored[rank - 1];
        let mut value = serde_json::to_value(scored).expect("serialisable");
        let decision = plan.choice.decision(symbol);
        value["rank"] = json!(rank);
        value["selected"] = json!(plan.choice.members.contains(&(rank - 1)));
        value["decision"] = json!(decision);
        return value;
    }
    if let Some(e) = plan.refresh.excluded.iter().find(|e| e.symbol == symbol) {
        let carried = plan.choice.carried.iter().any(|c| c == symbol);
        let mut value = json!({"symbol": e.symbol, "selected": carried, "excluded": e.reason, "detail": e.detail});
        if let Some(decision) = plan.choice.decision(symbol) {
            value["decision"] = json!(decision);
        }
        return value;
    }
    json!({"symbol": symbol, "selected": false, "excluded": null, "detail": "not in exchangeInfo"})
}

/// `--json`: the policy's identity and every exchangeInfo symbol's verdict.
fn report(
    policy: &Policy,
    plan: &Plan,
    published: Option<&str>,
    started: Instant,
) -> serde_json::Value {
    let refresh = &plan.refresh;
    let mut names: Vec<&str> = refresh
        .scored
        .iter()
        .map(|s| s.candidate.symbol.as_str())
        .collect();
    let mut excluded: Vec<&str> = refresh.excluded.iter().map(|e| e.symbol.as_str()).collect();
    excluded.sort_unstable();
    names.extend(excluded);
    let symbols: Vec<serde_json::Value> = names.iter().map(|s| symbol_report(plan, s)).collect();
    let exclusions: BTreeMap<Reason, usize> = select::count_by_reason(&refresh.excluded);
    json!({
        "universe": policy.symbols().unwrap_or_default(),
        "universe_hash": policy.get(field::UNIVERSE_HASH),
        "policy_hash": policy.get(field::POLICY_HASH),
        "run_id": policy.get(field::RUN_ID),
        "created_at_epoch": policy.epoch(field::CREATED_AT).ok(),
        "valid_until_epoch": policy.epoch(field::VALID_UNTIL).ok(),
        "published_to": published,
        "server_time_ms": refresh.overview.server_time,
        "regime": refresh.regime,
        "median_atr_pct_15m": refresh.median_atr,
        "weights": refresh.weights,
        "scored_count": refresh.scored.len(),
        "exclusions": exclusions,
        "churn": &plan.choice,
        "rotation": &plan.rotation,
        "usage": refresh.usage,
        "request_stats": request_stats(plan),
        "features_us": refresh.features_us,
        "duration_ms": started.elapsed().as_millis() as u64,
        "symbols": symbols,
    })
}

fn print_summary(
    policy: &Policy,
    plan: &Plan,
    published: Option<&str>,
    started: Instant,
) -> anyhow::Result<()> {
    let mut out = crate::output::stdout();
    let refresh = &plan.refresh;
    let hash = policy.get(field::UNIVERSE_HASH).unwrap_or_default();
    let size = plan.choice.size();
    match published {
        Some(store) => writeln!(out, "published universe {hash} ({size} symbols) to {store}")?,
        None => writeln!(
            out,
            "dry run: universe {hash} ({size} symbols), nothing written"
        )?,
    }
    print_members(&mut out, plan)?;
    for d in plan
        .choice
        .decisions
        .iter()
        .filter(|d| d.action == Action::Removed)
    {
        writeln!(
            out,
            "   -  {:<16} removed: {}",
            printable(&d.symbol),
            d.reason
        )?;
    }
    for s in &plan.choice.skipped {
        writeln!(
            out,
            "   ~  {:<16} skipped: correlation {:.2} with {}",
            printable(&s.symbol),
            s.correlation,
            printable(&s.correlated_with)
        )?;
    }
    print_rotation(&mut out, &plan.rotation)?;
    let counts = select::count_by_reason(&refresh.excluded);
    let counts: Vec<String> = counts.iter().map(|(r, n)| format!("{r} {n}")).collect();
    writeln!(
        out,
        "regime {} (median atr%15m {:.3}); scored {} of {} symbols; excluded: {}",
        refresh.regime.as_str(),
        refresh.median_atr,
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
            "exchange: {} requests, weight {}, {} retries, {} rate-limited, {} of {} symbols from the candle cache; {seconds:.2}s",
            u.requests,
            u.weight,
            u.retries,
            u.rate_limited,
            refresh.cache_hits,
            refresh.candles_needed
        )?;
    }
    Ok(())
}

/// The universe's rows: its members in rank order, then the carried open positions.
fn print_members(out: &mut impl std::io::Write, plan: &Plan) -> anyhow::Result<()> {
    let refresh = &plan.refresh;
    writeln!(
        out,
        "{:>4}  {:<16} {:>6} {:>8} {:>8} {:>8} {:>8} {:>4}  why",
        "rank", "symbol", "score", "atr%15m", "trend1h", "mom15m", "mom1h", "lev"
    )?;
    for &i in &plan.choice.members {
        let s = &refresh.scored[i];
        let f = &s.features;
        let why = plan
            .choice
            .decision(&s.candidate.symbol)
            .map_or("", |d| d.reason.as_str());
        writeln!(
            out,
            "{:>4}  {:<16} {:>6.2} {:>8.3} {:>8.3} {:>8.3} {:>8.3} {:>4}  {}",
            i + 1,
            printable(&s.candidate.symbol),
            s.score,
            f.atr_pct_15m,
            f.trend_1h,
            f.mom_15m,
            f.mom_1h,
            s.leverage,
            why
        )?;
    }
    for s in &plan.carried {
        let why = plan
            .choice
            .decision(&s.candidate.symbol)
            .map_or("", |d| d.reason.as_str());
        writeln!(
            out,
            "   *  {:<16} {:>6.2} {:>8} {:>8} {:>8} {:>8} {:>4}  {}",
            printable(&s.candidate.symbol),
            s.score,
            "",
            "",
            "",
            "",
            s.leverage,
            why
        )?;
    }
    Ok(())
}

/// The rotation recommendations, when there are any.
pub fn print_rotation(
    out: &mut impl std::io::Write,
    r: &crate::rotation::Report,
) -> std::io::Result<()> {
    let mode = match r.mode {
        crate::rotation::Mode::Advisory => "advisory",
        crate::rotation::Mode::Execution => "execution",
    };
    let list = |items: &[String]| {
        items
            .iter()
            .map(|m| printable(m).into_owned())
            .collect::<Vec<_>>()
            .join(", ")
    };
    for e in &r.evict {
        let state = if e.applied {
            "evicted".to_owned()
        } else {
            format!(
                "evict? not applied: {}",
                e.not_applied.as_deref().unwrap_or("")
            )
        };
        writeln!(
            out,
            "   !  {:<16} {state} ({}; pnl {:.2})",
            printable(&e.symbol),
            e.why,
            e.total_pnl
        )?;
    }
    for x in r.expand.iter().take(5) {
        let state = if x.applied {
            "expanded".to_owned()
        } else {
            format!(
                "expand? not applied: {}",
                x.not_applied.as_deref().unwrap_or("")
            )
        };
        writeln!(
            out,
            "   +  {:<16} {state} (model {}, rank {}, score {:.2})",
            printable(&x.symbol),
            printable(&x.model),
            x.rank,
            x.score
        )?;
    }
    if r.baseline {
        writeln!(
            out,
            "rotation ({mode}): first model scan, {} models recorded as the baseline",
            r.models
        )?;
    } else if !r.new_models.is_empty() {
        writeln!(out, "rotation ({mode}): new models {}", list(&r.new_models))?;
    }
    if !r.unknown_model_files.is_empty() {
        writeln!(
            out,
            "rotation: model files naming no known symbol: {}",
            list(&r.unknown_model_files)
        )?;
    }
    Ok(())
}
