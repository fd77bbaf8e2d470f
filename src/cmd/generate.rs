//! `universe generate`: refresh, choose, publish.
//!
//! 1. open the store and read what it remembers (the previous universe, when each member
//!    joined, open positions), so a store that is down costs no exchange weight;
//! 2. run the refresh and choose the universe (fails closed on untrustworthy data);
//! 3. build the policy and its audit entry;
//! 4. publish both in one atomic step, only if nobody published meanwhile (unless
//!    `--dry-run`);
//! 5. print the summary, or every symbol's verdict with `--json`.

use std::time::Instant;

use anyhow::Context as _;

use super::{SourceChoice, report};
use crate::cli::GenerateArgs;
use crate::decide::{Memory, Plan};
use crate::exit::ExitCode;
use crate::pipeline;
use crate::policy::Policy;
use crate::progress::Progress;
use crate::settings::Settings;
use crate::store::Store;

/// The run's own options (the rest is in [`Settings`]).
#[derive(Debug, Clone)]
pub struct Options {
    pub source: Option<String>,
    pub held: Option<Vec<String>>,
    pub dry_run: bool,
    pub json: bool,
    pub metrics_file: Option<std::path::PathBuf>,
}

impl From<&GenerateArgs> for Options {
    fn from(args: &GenerateArgs) -> Self {
        Self {
            source: args.selection.source.clone(),
            held: args.selection.held.clone(),
            dry_run: args.dry_run,
            json: args.json,
            metrics_file: args.metrics_file.clone(),
        }
    }
}

pub fn run(settings: &Settings, options: &Options) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let mut published = None;
    let result = refresh(settings, options, started, &mut published);
    let outcome = match &result {
        Ok(_) => "success",
        Err(e) => match crate::exit::classify(e) {
            ExitCode::FailClosed => "fail_closed",
            ExitCode::Store => "store",
            ExitCode::Usage => "usage",
            _ => "failure",
        },
    };
    if let (Err(e), "fail_closed" | "failure", false) = (&result, outcome, options.dry_run) {
        record_failure(settings, outcome, e);
    }
    if let Some(path) = options.metrics_file.as_ref().filter(|_| !options.dry_run) {
        let attempt = crate::metrics::Attempt {
            at: crate::clock::now_epoch_f64(),
            duration_s: started.elapsed().as_secs_f64(),
            outcome,
            published,
        };
        if let Err(e) = crate::metrics::write(path, &attempt) {
            crate::warn!("universe: warning: --metrics-file {}: {e}", path.display());
        }
    }
    result
}

/// Records a failed refresh in the store beside the policy (never in it), counting the
/// failures in a row since the policy there was published. A store that cannot take it
/// is named on stderr: the refresh has failed already, and says why.
fn record_failure(settings: &Settings, outcome: &str, error: &anyhow::Error) {
    let recorded = settings.open_store().and_then(|mut store| {
        let published = store
            .load_policy()
            .ok()
            .flatten()
            .and_then(|p| p.epoch(crate::policy::field::CREATED_AT).ok());
        let before = store.last_failure()?;
        let in_a_row = match before {
            Some(f) if published.is_none_or(|at| f.at_epoch >= at) => f.in_a_row + 1,
            _ => 1,
        };
        let reason: String = format!("{error:#}").chars().take(1000).collect();
        store.record_failure(&crate::store::Failure {
            at_epoch: crate::clock::now_epoch(),
            outcome: outcome.to_owned(),
            reason,
            in_a_row,
        })
    });
    if let Err(e) = recorded {
        crate::warn!("universe: warning: the failure could not be recorded in the store: {e}");
    }
}

/// The refresh itself; `published` says what was published, for the metrics.
fn refresh(
    settings: &Settings,
    options: &Options,
    started: Instant,
    published_out: &mut Option<crate::metrics::Published>,
) -> anyhow::Result<ExitCode> {
    let source_choice = SourceChoice::parse(options.source.as_deref())?;
    // a key that cannot sign is found before the exchange is asked for anything
    let signer = settings.signer()?;
    let (mut store, memory) = super::read_memory(
        settings,
        options.held.as_deref(),
        !options.dry_run,
        !options.dry_run,
    )?;
    let source = source_choice.open(settings, started)?;
    let now = crate::clock::now_epoch();
    let plan = pipeline::make(
        source.as_ref(),
        settings,
        &memory,
        source_choice.cache(settings, !options.dry_run).as_ref(),
        now,
        &Progress::for_stderr(),
    )
    .map_err(|e| e.into_error(!options.dry_run))?;
    warn_if_data_is_old(plan.refresh.overview.server_time, now, &source_choice);
    let policy = seal(&plan, settings, signer.as_ref(), now);

    let facts = crate::audit::RunFacts {
        started,
        source: source_choice.describe(settings),
        replay: matches!(source_choice, SourceChoice::Snapshot(_)),
        data_age_s: now - plan.refresh.overview.server_time.div_euclid(1000),
        bounds: crate::audit::Bounds::of(settings),
    };
    let published = match store.as_mut().filter(|_| !options.dry_run) {
        Some(store) => Some(publish(
            store.as_mut(),
            &policy,
            &plan,
            &memory,
            settings,
            &facts,
        )?),
        None => None,
    };
    if published.is_some() {
        *published_out = Some(metrics_of(&policy, &plan, &memory, facts.data_age_s));
    }
    super::grep_lines::write(&mut crate::output::stderr(), &plan, settings)?;
    let published = published.as_deref();
    if options.json {
        super::print_json(&report::report(&policy, &plan, published, started))?;
    } else {
        report::print_summary(&policy, &plan, published, started)?;
    }
    Ok(ExitCode::Success)
}

/// What the metrics say of a publish.
fn metrics_of(
    policy: &Policy,
    plan: &Plan,
    memory: &Memory,
    data_age_s: i64,
) -> crate::metrics::Published {
    let previous = memory
        .previous
        .as_ref()
        .and_then(|p| p.get(crate::policy::field::UNIVERSE_HASH));
    crate::metrics::Published {
        universe: plan.choice.size(),
        replacements: plan.choice.replacements,
        scored: plan.refresh.scored.len(),
        weight: plan.refresh.usage.weight,
        data_age_s,
        changed: previous != policy.get(crate::policy::field::UNIVERSE_HASH),
        latest_join: memory.joined_at.values().copied().max(),
    }
}

/// Publishes the policy with its audit entry; then records the models seen. Returns
/// where it was published.
fn publish(
    store: &mut dyn Store,
    policy: &Policy,
    plan: &Plan,
    memory: &Memory,
    settings: &Settings,
    facts: &crate::audit::RunFacts,
) -> anyhow::Result<String> {
    let audit = crate::audit::entry(policy, plan, memory, facts)?;
    super::publish(store, policy, audit, memory)?;
    if settings.rotation.model_dir.is_some() {
        // after the publish: a failed run must not make models look seen
        store
            .record_models(&plan.models.files())
            .context("recording the models seen (the policy was published)")?;
    }
    Ok(store.describe())
}

/// The policy of a plan, made now.
fn seal(
    plan: &Plan,
    settings: &Settings,
    signer: Option<&crate::policy::signing::Signer>,
    now: i64,
) -> Policy {
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
    draft.request_stats = Some(report::request_stats(plan).to_string());
    draft.data_as_of = Some(plan.refresh.overview.server_time.div_euclid(1000));
    draft.next_refresh = Some(now + settings.refresh_interval_s as i64);
    draft.seal_signed(signer)
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
            crate::clock::epoch(server_time_ms.div_euclid(1000)),
            crate::clock::span(skew)
        );
    }
}
