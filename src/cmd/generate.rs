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
    let policy = seal(&plan, settings, now);

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
    super::grep_lines::write(&mut crate::output::stderr(), &plan, settings)?;
    if options.json {
        super::print_json(&report::report(
            &policy,
            &plan,
            published.as_deref(),
            started,
        ))?;
    } else {
        report::print_summary(&policy, &plan, published.as_deref(), started)?;
    }
    Ok(ExitCode::Success)
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
    draft.request_stats = Some(report::request_stats(plan).to_string());
    draft.seal()
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
