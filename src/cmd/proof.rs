//! `universe proof`: numbered checks an operator can trust, each PASS or FAIL with the
//! value seen. Exit 0 only when every check passes, 5 otherwise.
//!
//! Everything is recomputed from what is stored; nothing is taken on the generator's word.

use std::io::Write as _;

use serde::Serialize;
use serde_json::json;

use crate::exit::ExitCode;
use crate::output::printable;
use crate::policy::{self, Policy, field};
use crate::settings::Settings;
use crate::store::AuditRecord;

mod bounds;

use bounds::bounds_of;
pub(super) use bounds::{leverage_check, size_check};

#[derive(Debug, Serialize)]
pub(in crate::cmd) struct Check {
    number: usize,
    pub(in crate::cmd) name: String,
    pub(in crate::cmd) pass: bool,
    pub(in crate::cmd) seen: String,
}

pub fn run(config: &Settings, json: bool) -> anyhow::Result<ExitCode> {
    let mut store = config.open_store()?;
    let policy = store.load_policy()?;
    let checks = match &policy {
        None => vec![check(
            "a policy is present",
            false,
            format!("no policy in {}", store.describe()),
        )],
        Some(policy) => {
            let trail = store.audit_trail()?;
            checks(policy, trail.last(), config)
        }
    };
    let checks: Vec<Check> = checks
        .into_iter()
        .enumerate()
        .map(|(i, c)| Check { number: i + 1, ..c })
        .collect();
    let passed = checks.iter().all(|c| c.pass);
    if json {
        super::print_json(&json!({"store": store.describe(), "passed": passed, "checks": checks}))?;
    } else {
        let mut out = crate::output::stdout();
        writeln!(out, "proof of the policy in {}", store.describe())?;
        for c in &checks {
            let verdict = if c.pass { "PASS" } else { "FAIL" };
            writeln!(
                out,
                "{:>2}. {verdict}  {}: {}",
                c.number,
                c.name,
                printable(&c.seen)
            )?;
        }
        let failed = checks.iter().filter(|c| !c.pass).count();
        match failed {
            0 => writeln!(out, "all {} checks passed", checks.len())?,
            n => writeln!(out, "{n} of {} checks FAILED", checks.len())?,
        }
    }
    Ok(if passed {
        ExitCode::Success
    } else {
        ExitCode::ProofFailed
    })
}

fn check(name: &str, pass: bool, seen: String) -> Check {
    Check {
        number: 0,
        name: name.to_owned(),
        pass,
        seen,
    }
}

fn field_equals(policy: &Policy, name: &str, expected: &str) -> Check {
    let seen = policy.get(name);
    check(
        &format!("{name} is {expected}"),
        seen == Some(expected),
        seen.map_or_else(|| "missing".into(), |v| format!("{v:?}")),
    )
}

fn checks(policy: &Policy, newest_audit: Option<&AuditRecord>, config: &Settings) -> Vec<Check> {
    let symbols = policy.symbols();
    let bounds = bounds_of(policy, newest_audit, config);
    vec![
        generator_check(policy),
        field_equals(policy, field::FEATURES_WINDOW, policy::FEATURES_WINDOW),
        field_equals(policy, field::POLICY_VERSION, policy::POLICY_VERSION),
        universe_hash_check(policy, &symbols),
        policy_hash_check(policy),
        signature_check(policy, &config.trusted_keys),
        validity_check(policy, crate::clock::now_epoch()),
        size_check(&symbols, &bounds),
        leverage_check(policy, symbols.as_deref().ok(), &bounds),
        audit_check(policy, newest_audit),
        services_check(policy),
        metadata_check(policy),
    ]
}

fn universe_hash_check(policy: &Policy, symbols: &anyhow::Result<Vec<String>>) -> Check {
    let stored = policy.get(field::UNIVERSE_HASH);
    match symbols {
        Ok(symbols) => {
            let recomputed = policy::universe_hash(symbols);
            check(
                "universe_hash present and equal to the hash of universe_symbols",
                stored == Some(recomputed.as_str()),
                format!(
                    "stored {}, recomputed {recomputed}",
                    stored.unwrap_or("missing")
                ),
            )
        }
        Err(e) => check(
            "universe_hash matches universe_symbols",
            false,
            e.to_string(),
        ),
    }
}

fn validity_check(policy: &Policy, now: i64) -> Check {
    match policy.epoch(field::VALID_UNTIL) {
        Ok(until) if until > now => check(
            "valid_until in the future",
            true,
            format!(
                "{} (another {})",
                crate::clock::epoch(until),
                crate::clock::span(until - now)
            ),
        ),
        Ok(until) => check(
            "valid_until in the future",
            false,
            format!(
                "{} (expired {} ago)",
                crate::clock::epoch(until),
                crate::clock::span(now - until)
            ),
        ),
        Err(e) => check("valid_until in the future", false, e.to_string()),
    }
}

/// This generator's rule, or the Python generator's (a policy it published before the
/// switch), named on the line.
fn policy_hash_check(policy: &Policy) -> Check {
    let name = "policy_hash equal to the hash of the stored fields";
    let stored = policy.get(field::POLICY_HASH);
    let recomputed = policy::policy_hash(policy.fields());
    if stored == Some(recomputed.as_str()) {
        return check(
            name,
            true,
            format!("stored {recomputed}, recomputed {recomputed}"),
        );
    }
    let legacy = policy::legacy_policy_hash(policy.fields());
    if stored == Some(legacy.as_str()) {
        let uncovered: Vec<&str> = policy
            .fields()
            .keys()
            .map(String::as_str)
            .filter(|f| *f != field::POLICY_HASH && !policy::LEGACY_FIELDS.contains(f))
            .collect();
        let note = if uncovered.is_empty() {
            String::new()
        } else {
            format!(
                "; not covered, left by an earlier writer: {}",
                uncovered.join(", ")
            )
        };
        return check(
            name,
            true,
            format!(
                "stored {legacy}, recomputed {legacy} by the Python generator's rule (a policy it wrote){note}"
            ),
        );
    }
    check(
        name,
        false,
        format!(
            "stored {}, recomputed {recomputed}",
            stored.unwrap_or("missing")
        ),
    )
}

/// What the trading services' policy loader needs, parsed as it parses it: a policy that
/// fails here is refused by every service, which then trades nothing.
fn services_check(policy: &Policy) -> Check {
    let name = "the fields the trading services require are present and parse";
    let missing: Vec<&str> = field::REQUIRED_BY_SERVICES
        .into_iter()
        .filter(|f| policy.get(f).is_none())
        .collect();
    if !missing.is_empty() {
        return check(name, false, format!("missing {}", missing.join(", ")));
    }
    let json =
        |f: &str| serde_json::from_str::<serde_json::Value>(policy.get(f).unwrap_or_default());
    let numbers = |f: &str| -> Result<usize, String> {
        match json(f) {
            Ok(serde_json::Value::Object(map))
                if map.values().all(serde_json::Value::is_number) =>
            {
                Ok(map.len())
            }
            Ok(_) => Err(format!("{f} is not a JSON object of numbers")),
            Err(e) => Err(format!("{f} is not JSON: {e}")),
        }
    };
    let verdict = (|| -> Result<String, String> {
        let symbols: Vec<String> = policy.symbols().map_err(|e| e.to_string())?;
        let leverage = numbers(field::LEVERAGE_BY_SYMBOL)?;
        let harvest = numbers(field::HARVEST_PARAMS)?;
        let kill = numbers(field::KILL_PARAMS)?;
        let valid = policy.get(field::VALID_UNTIL).unwrap_or_default();
        valid
            .parse::<f64>()
            .ok()
            .filter(|v| v.is_finite())
            .ok_or_else(|| format!("valid_until_epoch {valid:?} is not a number"))?;
        Ok(format!(
            "{} symbols, {leverage} leverages, {harvest} harvest_params, {kill} kill_params, valid_until_epoch {valid}",
            symbols.len()
        ))
    })();
    match verdict {
        Ok(seen) => check(name, true, seen),
        Err(why) => check(name, false, why),
    }
}

/// The metadata the deployed writer adds and its proofs grep, as this generator writes
/// it: `metadata_ok` 1, nothing in `missing_fields`, the endpoints named.
fn metadata_check(policy: &Policy) -> Check {
    let name = "metadata complete (metadata_ok 1, endpoints named)";
    let generator = policy.get(field::GENERATOR).unwrap_or_default();
    let wrong: Vec<String> = policy::metadata(generator)
        .into_iter()
        .filter(|(f, expected)| policy.get(f) != Some(expected.as_str()))
        .map(|(f, expected)| {
            format!(
                "{f} {} (expected {expected:?})",
                policy
                    .get(f)
                    .map_or_else(|| "missing".into(), |v| format!("{v:?}"))
            )
        })
        .collect();
    if wrong.is_empty() {
        check(
            name,
            true,
            format!(
                "metadata_ok \"1\", {} and {}",
                policy::EXCHANGE_INFO_ENDPOINT,
                policy::TICKER_24H_ENDPOINT
            ),
        )
    } else {
        check(name, false, wrong.join("; "))
    }
}

/// The generator's own policies pass; a rollback passes as a rollback, on a line that
/// says so; anything else fails.
fn generator_check(policy: &Policy) -> Check {
    match policy.get(field::GENERATOR) {
        Some(policy::GENERATOR) => check(
            "generator is ai_universe_v1",
            true,
            format!("{:?}", policy::GENERATOR),
        ),
        Some(policy::GENERATOR_ROLLBACK) => check(
            "policy is a manual rollback (generator manual_rollback)",
            true,
            format!(
                "universe {} republished from run {}",
                policy.get(field::UNIVERSE_HASH).unwrap_or("?"),
                policy.get(field::ROLLBACK_OF).unwrap_or("?")
            ),
        ),
        other => check(
            "generator is ai_universe_v1",
            false,
            other.map_or_else(|| "missing".into(), |v| format!("{v:?}")),
        ),
    }
}

/// Signed by a trusted key (`verify_strict` over the bytes `policy_hash` hashes), when
/// trusted keys are configured: then an unsigned policy fails.
fn signature_check(policy: &Policy, trusted: &policy::signing::Trusted) -> Check {
    let name = "signed by a trusted key";
    if trusted.is_empty() {
        let seen = match policy.get(field::KEY_ID) {
            Some(id) => format!("signed by key {id}; no policy.trusted_keys to check it against"),
            None => "unsigned; no policy.trusted_keys configured, so none is required".into(),
        };
        return check(name, true, seen);
    }
    match trusted.verify(policy.fields()) {
        Ok(seen) => check(name, true, seen),
        Err(why) => check(name, false, why),
    }
}

/// The newest audit entry is this policy: an older policy put back in place (a replay)
/// fails here, as the audit trail's newest entry is the policy published last.
fn audit_check(policy: &Policy, newest: Option<&AuditRecord>) -> Check {
    let name = "the newest audit entry describes this policy";
    let Some(entry) = newest else {
        return check(name, false, "the audit trail is empty".into());
    };
    // the Python generator's entries carry no run_id: they are matched on the hashes
    let compared: Vec<&str> = [field::POLICY_HASH, field::UNIVERSE_HASH, field::RUN_ID]
        .into_iter()
        .filter(|name| *name != field::RUN_ID || entry.fields.contains_key(*name))
        .collect();
    let differing: Vec<&str> = compared
        .iter()
        .copied()
        .filter(|name| entry.fields.get(*name).map(String::as_str) != policy.get(name))
        .collect();
    let seen = if differing.is_empty() {
        let names = match compared.as_slice() {
            [.., last] if compared.len() > 1 => {
                format!("{} and {last}", compared[..compared.len() - 1].join(", "))
            }
            _ => compared.join(", "),
        };
        format!("entry {} has this {names}", entry.id)
    } else {
        format!("entry {} differs in {}", entry.id, differing.join(", "))
    };
    check(name, differing.is_empty(), seen)
}
