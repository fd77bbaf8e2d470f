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
use crate::policy::{Draft, GENERATOR_ROLLBACK, SymbolScore, field};
use crate::settings::Settings;
use crate::store::AuditRecord;

pub fn run(settings: &Settings, args: &RollbackArgs) -> anyhow::Result<ExitCode> {
    let mut store = settings.open_store()?;
    let memory = crate::store::memory::read(
        store.as_mut(),
        Some(&[]),
        std::time::Duration::ZERO,
        crate::clock::now_epoch(),
    )?;
    let trail = store.audit_trail()?;
    let target = find_target(&trail, args)?;
    let policy = republish(target, settings)?;
    let bounds = verify(target, &policy, settings)?;

    let mut audit = identity(&policy, &memory)?;
    audit.insert(
        crate::audit::name::ROLLBACK_OF_ENTRY.into(),
        target.id.clone(),
    );
    audit.insert("reason".into(), "manual rollback".into());
    audit.insert(crate::audit::name::BOUNDS.into(), bounds.to_json());
    super::publish(store.as_mut(), &policy, audit, &memory).context("the rollback")?;
    writeln!(
        crate::output::stdout(),
        "rolled back to universe {} ({} symbols, from run {}) in {}; valid until {}",
        policy.get(field::UNIVERSE_HASH).unwrap_or("?"),
        policy.symbols()?.len(),
        target.fields.get(field::RUN_ID).map_or("?", String::as_str),
        store.describe(),
        crate::clock::epoch(policy.epoch(field::VALID_UNTIL)?)
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

/// Checks the audited `entry` as `proof` would check a policy before anything is
/// republished: whoever can append to the audit stream must not be able to make a
/// rollback publish anything. The universe's hash equals the entry's `universe_hash`
/// (the one asked for with `--to`), names are symbol names, none twice, size and
/// leverage within the bounds the entry records (else the settings'). Returns the bounds.
fn verify(
    entry: &AuditRecord,
    policy: &crate::policy::Policy,
    settings: &Settings,
) -> anyhow::Result<crate::audit::Bounds> {
    let recorded = entry
        .fields
        .get(field::UNIVERSE_HASH)
        .map_or("", String::as_str);
    let computed = policy.get(field::UNIVERSE_HASH).unwrap_or_default();
    let mut failed = Vec::new();
    if recorded != computed {
        failed.push(format!(
            "its universe_hash {:?} is not the hash of its universe_symbols ({computed})",
            output::printable(recorded)
        ));
    }
    let bounds = match crate::audit::Bounds::recorded(entry) {
        Some(Ok(bounds)) => (bounds, "as recorded".to_owned()),
        Some(Err(why)) => bail!("{why}; it cannot be republished; nothing was written"),
        None => (
            crate::audit::Bounds::of(settings),
            "the settings'".to_owned(),
        ),
    };
    let symbols = policy.symbols();
    let checks = [
        super::proof::size_check(&symbols, &bounds),
        super::proof::leverage_check(policy, symbols.as_deref().ok(), &bounds),
    ];
    failed.extend(
        checks
            .into_iter()
            .filter(|c| !c.pass)
            .map(|c| format!("{}: {}", c.name, output::printable(&c.seen))),
    );
    if !failed.is_empty() {
        bail!(
            "audit entry {} cannot be republished, nothing was written: {}",
            output::printable(&entry.id),
            failed.join("; ")
        );
    }
    Ok(bounds.0)
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
    let symbols: Vec<String> = json_field(entry, field::UNIVERSE_SYMBOLS)?;
    let leverage: BTreeMap<String, f64> = json_field(entry, field::LEVERAGE_BY_SYMBOL)?;
    let scores: BTreeMap<String, SymbolScore> = json_field(entry, field::SCORES)?;
    let now = crate::clock::now_epoch();
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
        // the universe republished is as old as the data it was made from
        data_as_of: entry
            .fields
            .get(field::DATA_AS_OF)
            .and_then(|t| t.parse().ok()),
        next_refresh: Some(now + settings.refresh_interval_s as i64),
    };
    Ok(draft.seal_signed(settings.signer()?.as_ref()))
}

/// A JSON field of an audit entry, in the form the policy needs.
fn json_field<T: serde::de::DeserializeOwned>(
    entry: &AuditRecord,
    name: &str,
) -> anyhow::Result<T> {
    let text = entry.fields.get(name).with_context(|| {
        format!(
            "audit entry {} has no {name}; it cannot be republished",
            entry.id
        )
    })?;
    serde_json::from_str(text).with_context(|| {
        format!(
            "audit entry {}: {name} is not of its form; it cannot be republished",
            entry.id
        )
    })
}
