//! `universe rollback --to UNIVERSE_HASH | --steps N`: republish a universe from the audit
//! trail, with its leverage and scores as audited, a fresh validity and generator
//! `manual_rollback`. The audit entry says so, and `proof` reports it as a rollback.

use std::collections::BTreeMap;

use std::io::Write as _;

use anyhow::{Context as _, bail};

use crate::audit::identity;
use crate::cli::RollbackArgs;
use crate::exit::ExitCode;
use crate::output;
use crate::plan::History;
use crate::policy::{Draft, GENERATOR_ROLLBACK, SymbolScore, field};
use crate::settings::Settings;
use crate::store::AuditRecord;

pub fn run(settings: &Settings, args: &RollbackArgs) -> anyhow::Result<ExitCode> {
    let mut store = settings.open_store()?;
    let history = History::read(
        store.as_mut(),
        Some(&[]),
        std::time::Duration::ZERO,
        output::now_epoch(),
    )?;
    let trail = store.audit_trail()?;
    let target = find_target(&trail, args)?;
    let policy = republish(target, settings)?;

    let mut audit = identity(&policy, &history)?;
    audit.insert(
        crate::audit::name::ROLLBACK_OF_ENTRY.into(),
        target.id.clone(),
    );
    audit.insert("reason".into(), "manual rollback".into());
    super::publish(store.as_mut(), &policy, audit, &history).context("the rollback")?;
    writeln!(
        crate::output::stdout(),
        "rolled back to universe {} ({} symbols, from run {}) in {}; valid until {}",
        policy.get(field::UNIVERSE_HASH).unwrap_or("?"),
        policy.symbols()?.len(),
        target.fields.get(field::RUN_ID).map_or("?", String::as_str),
        store.describe(),
        output::epoch(policy.epoch(field::VALID_UNTIL)?)
    )?;
    Ok(ExitCode::Success)
}

/// The newest entry with the requested universe, or the universe `steps` changes back.
fn find_target<'t>(
    trail: &'t [AuditRecord],
    args: &RollbackArgs,
) -> anyhow::Result<&'t AuditRecord> {
    let hash_of = |r: &AuditRecord| {
        r.fields
            .get(field::UNIVERSE_HASH)
            .cloned()
            .unwrap_or_default()
    };
    if let Some(hash) = &args.to {
        if hash.len() != 16 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(crate::error::UsageError(format!(
                "--to {:?}: a universe_hash is 16 hex digits (see `universe diff-hash --since 30d`)",
                crate::output::printable(hash)
            ))
            .into());
        }
        return trail
            .iter()
            .rev()
            .find(|r| &hash_of(r) == hash)
            .with_context(|| format!("--to {hash}: no audit entry has this universe_hash (see `universe diff-hash --since 30d`)"));
    }
    let steps = args.steps.unwrap_or(1);
    if steps == 0 {
        return Err(crate::error::UsageError(
            "--steps 0 is the current universe; give 1 or more".into(),
        )
        .into());
    }
    // walk back over changes of universe_hash, newest first
    let mut changes = 0;
    let mut current = trail.last().map(hash_of);
    for record in trail.iter().rev() {
        let hash = hash_of(record);
        if Some(&hash) != current.as_ref() {
            changes += 1;
            current = Some(hash);
            if changes == steps {
                return Ok(record);
            }
        }
    }
    bail!("--steps {steps}: the audit trail holds only {changes} earlier universe(s)")
}

/// The policy republishing `entry`'s universe now.
fn republish(entry: &AuditRecord, settings: &Settings) -> anyhow::Result<crate::policy::Policy> {
    let get = |name: &str| {
        entry.fields.get(name).with_context(|| {
            format!(
                "audit entry {} has no {name}; it cannot be republished",
                entry.id
            )
        })
    };
    let symbols: Vec<String> = serde_json::from_str(get(field::UNIVERSE_SYMBOLS)?)?;
    let leverage: BTreeMap<String, f64> = serde_json::from_str(get(field::LEVERAGE_BY_SYMBOL)?)?;
    let scores: BTreeMap<String, SymbolScore> = serde_json::from_str(get(field::SCORES)?)?;
    let now = output::now_epoch();
    let hash = crate::policy::universe_hash(&symbols);
    let draft = Draft {
        symbols,
        leverage,
        scores,
        generator: GENERATOR_ROLLBACK,
        regime: entry.fields.get(field::REGIME).map_or("", String::as_str),
        created_at: now,
        valid_for_s: settings.valid_for_s,
        run_id: format!("{now}-rollback-{}", &hash[..8]),
        extra: &settings.extra,
        exit_params: &settings.exit_params,
        rollback_of: Some(get(field::RUN_ID)?.clone()),
        request_stats: None,
    };
    Ok(draft.seal())
}
