//! The hash of a policy the Python generator wrote, by its rule, so that `proof` can
//! check a policy published before the switch.

use std::collections::BTreeMap;

use super::field;

/// The fields the Python generator wrote (its `PolicyStore.save`); earlier versions wrote
/// the first six only.
pub const LEGACY_FIELDS: [&str; 16] = [
    field::UNIVERSE_SYMBOLS,
    field::LEVERAGE_BY_SYMBOL,
    field::HARVEST_PARAMS,
    field::KILL_PARAMS,
    field::VALID_UNTIL,
    field::POLICY_VERSION,
    field::GENERATOR,
    field::FEATURES_WINDOW,
    field::UNIVERSE_HASH,
    field::MARKET,
    field::STATS_ENDPOINT,
    field::VENUE,
    field::EXCHANGE_INFO_ENDPOINT,
    field::TICKER_24H_ENDPOINT,
    field::METADATA_OK,
    field::MISSING_FIELDS,
];

/// The `policy_hash` of a policy the Python generator wrote: sha256 hex of
/// `json.dumps(sorted(fields.items()), sort_keys=True)` over the fields it wrote (the
/// [`LEGACY_FIELDS`] present: it wrote with HSET, so other fields the hash holds are not
/// covered), i.e. a JSON list of `[name, value]` pairs in byte order, with `", "` and
/// `": "` separators and every character outside printable ASCII escaped as `\uXXXX`.
pub fn legacy_policy_hash(fields: &BTreeMap<String, String>) -> String {
    let pairs: Vec<String> = fields
        .iter()
        .filter(|(name, _)| LEGACY_FIELDS.contains(&name.as_str()))
        .map(|(name, value)| format!("[{}, {}]", python_json(name), python_json(value)))
        .collect();
    crate::digest::sha256_hex(format!("[{}]", pairs.join(", ")).as_bytes())
}

/// A string as Python's `json.dumps` writes it with `ensure_ascii=True`.
fn python_json(text: &str) -> String {
    use std::fmt::Write as _;
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            ' '..='~' => out.push(c),
            other => {
                let mut units = [0u16; 2];
                for unit in other.encode_utf16(&mut units) {
                    let _ = write!(out, "\\u{unit:04x}");
                }
            }
        }
    }
    out.push('"');
    out
}
