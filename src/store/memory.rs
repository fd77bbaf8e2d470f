//! What the store remembers that the decision needs ([`Memory`]): the previous policy,
//! when each member joined (read back from the audit trail only as far as `min_hold`
//! needs), open positions, performance records and the models seen.

use std::collections::HashMap;

use super::{AuditRecord, Store};
use crate::decide::Memory;
use crate::error::StoreError;
use crate::policy::field;
use crate::select::Symbol;

/// Reads the previous policy, the recent audit trail and the held set. `held`, when
/// given (`--held`), replaces the store's held set. The audit trail is read back only
/// as far as `min_hold` before `now` needs.
pub fn read(
    store: &mut dyn Store,
    held: Option<&[Symbol]>,
    min_hold: std::time::Duration,
    now: i64,
) -> Result<Memory, StoreError> {
    let previous = store.load_policy()?;
    let incumbents: Vec<Symbol> = symbols(
        previous
            .as_ref()
            .and_then(|p| p.symbols().ok())
            .unwrap_or_default(),
        "the stored policy's universe",
    );
    let joined_at = if incumbents.is_empty() {
        HashMap::new()
    } else {
        let horizon = now - min_hold.as_secs() as i64;
        joined_at(&incumbents, &audit_back_to(store, horizon)?)
    };
    let held = match held {
        Some(held) => held.iter().copied().collect(),
        None => symbols(store.held_symbols()?, "the held set"),
    };
    let symbols = store.performance_symbols()?;
    let performance = store.performance(&symbols)?;
    performance.warn_unreadable();
    let seen_models = store.seen_models()?;
    Ok(Memory {
        previous,
        incumbents,
        joined_at,
        held,
        performance: performance.records,
        unreadable_performance: performance.unreadable,
        seen_models,
    })
}

/// The symbols among `names` (written by another program); a name that cannot be a
/// symbol is skipped with a warning naming where it was.
fn symbols<C: FromIterator<Symbol>>(names: impl IntoIterator<Item = String>, place: &str) -> C {
    names
        .into_iter()
        .filter_map(|name| {
            let symbol = Symbol::new(&name);
            if symbol.is_none() {
                crate::warn!(
                    "universe: warning: {place} holds {:?}, which is not a symbol name; skipped",
                    crate::output::printable(&name)
                );
            }
            symbol
        })
        .collect()
}

/// Audit entries are read back newest first, this many at first, four times more each
/// time that is not enough, up to the streams' length.
const FIRST_PAGE: usize = 64;
const LAST_PAGE: usize = super::STREAM_MAX_LEN;

/// The newest audit entries, newest first, reaching back before `horizon` (epoch
/// seconds) or to the start of the trail. Older entries cannot change a `min_hold`
/// decision: an incumbent present in all of them is older than `min_hold` either way.
/// Entries carry their policy's scores, so reading the whole trail on every refresh
/// would cost megabytes for nothing.
fn audit_back_to(store: &mut dyn Store, horizon: i64) -> Result<Vec<AuditRecord>, StoreError> {
    let mut count = FIRST_PAGE;
    loop {
        let page = store.recent_audit(count)?;
        let exhausted = page.entries < count;
        let entries = page.records;
        let reaches = entries
            .last()
            .and_then(|r| r.fields.get(field::CREATED_AT)?.parse::<i64>().ok())
            .is_some_and(|at| at < horizon);
        if exhausted || reaches || count >= LAST_PAGE {
            return Ok(entries);
        }
        count = (count * 4).min(LAST_PAGE);
    }
}

/// For each symbol, the creation time of the oldest entry of its unbroken run of
/// membership, walking back from the newest entry.
fn joined_at(symbols: &[Symbol], newest_first: &[AuditRecord]) -> HashMap<Symbol, i64> {
    let members: Vec<(i64, Vec<String>)> = newest_first
        .iter()
        .filter_map(|r| {
            let at = r.fields.get(field::CREATED_AT)?.parse().ok()?;
            let symbols = serde_json::from_str(r.fields.get(field::UNIVERSE_SYMBOLS)?).ok()?;
            Some((at, symbols))
        })
        .collect();
    symbols
        .iter()
        .filter_map(|symbol| {
            let since = members
                .iter()
                .take_while(|(_, universe)| universe.iter().any(|u| symbol == u))
                .last()
                .map(|(at, _)| *at)?;
            Some((*symbol, since))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn record(at: i64, symbols: &[&str]) -> AuditRecord {
        AuditRecord {
            id: at.to_string(),
            fields: BTreeMap::from([
                (field::CREATED_AT.to_owned(), at.to_string()),
                (
                    field::UNIVERSE_SYMBOLS.to_owned(),
                    serde_json::to_string(symbols).unwrap(),
                ),
            ]),
        }
    }

    #[test]
    fn a_name_another_program_wrote_that_is_no_symbol_is_skipped() {
        let names = ["S01USDT", "../etc", "", "S02USDT"].map(String::from);
        let kept: Vec<Symbol> = symbols(names, "the held set");
        assert_eq!(kept, [Symbol::from("S01USDT"), Symbol::from("S02USDT")]);
    }

    #[test]
    fn joined_at_is_the_start_of_the_unbroken_run() {
        let newest_first = [
            record(400, &["A", "B"]),
            record(300, &["A", "B"]),
            record(200, &["A"]),
            record(100, &["A", "B"]),
        ];
        let [a, b, c] = ["A", "B", "C"].map(|s| Symbol::new(s).unwrap());
        let joined = joined_at(&[a, b, c], &newest_first);
        assert_eq!(joined[&a], 100);
        assert_eq!(joined[&b], 300, "B left at 200, so it joined again at 300");
        assert!(!joined.contains_key(&c));
    }

    #[test]
    fn the_audit_trail_is_read_back_only_as_far_as_min_hold_needs() {
        // 300 refreshes a minute apart; A always in, B joined 100 refreshes ago
        let dir = tempfile::tempdir().unwrap();
        let lines: String = (0..300i64)
            .map(|i| {
                let symbols: &[&str] = if i >= 200 { &["A", "B"] } else { &["A"] };
                let record = record(1_000_000 + i * 60, symbols);
                serde_json::to_string(&record.fields).unwrap() + "\n"
            })
            .collect();
        std::fs::write(dir.path().join("audit.jsonl"), lines).unwrap();
        let mut store = super::super::FileStore::new(dir.path().to_owned());
        let now = 1_000_000 + 300 * 60;
        // min_hold 30 min: the first page of 64 reaches back far enough
        let read = audit_back_to(&mut store, now - 1800).unwrap();
        assert_eq!(read.len(), 64);
        // min_hold 3 h: a longer page, which finds when B joined
        let read = audit_back_to(&mut store, now - 3 * 3600).unwrap();
        assert_eq!(read.len(), 256);
        let joined = joined_at(&["A".into(), "B".into()], &read);
        assert_eq!(joined[&Symbol::from("B")], 1_000_000 + 200 * 60);
        assert_eq!(
            joined[&Symbol::from("A")],
            1_000_000 + 44 * 60,
            "as far back as read: older than min_hold"
        );
        // a long min_hold reads the whole trail
        assert_eq!(audit_back_to(&mut store, 0).unwrap().len(), 300);
    }
}
