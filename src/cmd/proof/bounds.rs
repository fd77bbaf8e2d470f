//! The checks of a policy's size and leverage against the bounds it was made with:
//! `proof` runs them on the stored policy, `rollback` on an audited entry before it
//! republishes it.

use std::collections::BTreeSet;

use super::{Check, check};
use crate::audit::Bounds;
use crate::policy::{Policy, field};
use crate::select::eligibility::is_symbol_name;
use crate::settings::Settings;
use crate::store::AuditRecord;

/// The bounds to judge `policy` by: those recorded in its audit entry (the bounds it
/// was made with), else the settings' (a policy from before bounds were recorded, or
/// the Python generator's); with where they came from, for the check's line.
pub(in crate::cmd) fn bounds_of(
    policy: &Policy,
    newest_audit: Option<&AuditRecord>,
    config: &Settings,
) -> (Bounds, String) {
    let describes = |entry: &&AuditRecord| {
        entry.fields.get(field::POLICY_HASH).map(String::as_str) == policy.get(field::POLICY_HASH)
    };
    match newest_audit.filter(describes).and_then(Bounds::recorded) {
        Some(Ok(bounds)) => (bounds, "as recorded when it was made".into()),
        Some(Err(why)) => (Bounds::of(config), format!("the settings' ({why})")),
        None => (Bounds::of(config), "the settings'".into()),
    }
}

/// Within the bounds' `[min_symbols, max_symbols]`, no symbol twice, every name a
/// symbol name.
pub(in crate::cmd) fn size_check(
    symbols: &anyhow::Result<Vec<String>>,
    (bounds, source): &(Bounds, String),
) -> Check {
    let (min, max) = (bounds.min_symbols, bounds.max_symbols);
    match symbols {
        Ok(symbols) => {
            let distinct = symbols.iter().collect::<BTreeSet<_>>().len() == symbols.len();
            let named = symbols.iter().all(|s| is_symbol_name(s));
            check(
                &format!(
                    "universe size within [{min}, {max}] ({source}), no symbol twice, every name a symbol"
                ),
                (min..=max).contains(&symbols.len()) && distinct && named,
                format!(
                    "{} symbols{}{}",
                    symbols.len(),
                    if distinct { "" } else { ", with duplicates" },
                    if named {
                        ""
                    } else {
                        ", with names that are not symbols"
                    }
                ),
            )
        }
        Err(e) => check("universe size", false, e.to_string()),
    }
}

pub(in crate::cmd) fn leverage_check(
    policy: &Policy,
    symbols: Option<&[String]>,
    (bounds, source): &(Bounds, String),
) -> Check {
    let (low, high) = (bounds.leverage_min, bounds.leverage_max);
    let name = format!("every symbol has a leverage within [{low}, {high}] ({source})");
    let (Some(symbols), Ok(leverage)) = (symbols, policy.leverage()) else {
        return check(
            &name,
            false,
            "universe_symbols or leverage_by_symbol unreadable".into(),
        );
    };
    let range = f64::from(low)..=f64::from(high);
    let wrong: Vec<String> = symbols
        .iter()
        .filter_map(|s| match leverage.get(s) {
            Some(l) if l.as_f64().is_some_and(|l| range.contains(&l)) => None,
            Some(l) => Some(format!("{s}={l}")),
            None => Some(format!("{s} missing")),
        })
        .collect();
    let extra = leverage.keys().filter(|k| !symbols.contains(k)).count();
    let seen = if wrong.is_empty() && extra == 0 {
        let mut values: Vec<f64> = leverage
            .values()
            .filter_map(serde_json::Number::as_f64)
            .collect();
        values.sort_by(f64::total_cmp);
        values.dedup();
        let values: Vec<String> = values.iter().map(ToString::to_string).collect();
        format!("{} symbols, leverage {}", symbols.len(), values.join("/"))
    } else {
        format!(
            "{}; {extra} entries for symbols not in the universe",
            wrong.join(", ")
        )
    };
    check(&name, wrong.is_empty() && extra == 0, seen)
}
