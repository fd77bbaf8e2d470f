//! The resolver: each knob's value from the first layer that has it, parsed and checked
//! against the table, with where it came from; typed getters for the assembly.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use toml::Value;

use super::kind::Typed;
use super::knobs::{KNOBS, Kind, Knob, Text, find};
use super::layers::{ConfigFile, Entry, Origin, Overrides};
use crate::error::UsageError;

/// One knob's resolved value.
#[derive(Debug, Clone)]
struct Resolved {
    value: Typed,
    raw: Value,
    origin: Origin,
}

/// Every knob of the table, resolved and checked, plus what the file holds beyond them.
#[derive(Debug)]
pub struct Values {
    pub file: Option<ConfigFile>,
    resolved: BTreeMap<&'static str, Resolved>,
    /// File keys read outside the table (`[policy.*_params]`, `[policy.extra]`).
    used: BTreeSet<String>,
    /// Every value with its origin, in the table's order.
    pub entries: Vec<Entry>,
}

impl Values {
    /// Resolves every knob of the table from `overrides`, `file` and the defaults.
    pub fn resolve(file: Option<ConfigFile>, mut overrides: Overrides) -> Result<Self, UsageError> {
        let mut values = Self {
            file,
            resolved: BTreeMap::new(),
            used: BTreeSet::new(),
            entries: Vec::new(),
        };
        for knob in KNOBS {
            let found = overrides.values.remove(knob.key).or_else(|| {
                let file = values.file.as_ref()?;
                Some((
                    file.values.get(knob.key)?.clone(),
                    Origin::File(file.path.clone()),
                ))
            });
            let resolved = match found {
                Some((raw, origin)) => check(knob, raw, origin)?,
                None => default(knob),
            };
            values.entries.push(Entry {
                key: knob.key.to_owned(),
                value: shown(knob, &resolved.raw),
                origin: resolved.origin.to_string(),
            });
            values.resolved.insert(knob.key, resolved);
        }
        Ok(values)
    }

    /// Where `key`'s value came from (a flag, a variable, a config file, the default).
    pub fn origin(&self, key: &str) -> String {
        self.get(key).origin.to_string()
    }

    fn get(&self, key: &str) -> &Resolved {
        self.resolved
            .get(find(key).key)
            .expect("every knob is resolved")
    }

    pub fn number(&self, key: &str) -> f64 {
        match self.get(key).value {
            Typed::Number(v) => v,
            ref other => panic!("{key} is not a number: {other:?}"),
        }
    }

    /// A whole number; the table's range keeps it within `T`.
    pub fn whole<T: TryFrom<u64>>(&self, key: &str) -> T {
        match self.get(key).value {
            Typed::Whole(v) => T::try_from(v)
                .unwrap_or_else(|_| panic!("{key}: the table's range exceeds the type")),
            ref other => panic!("{key} is not a whole number: {other:?}"),
        }
    }

    pub fn switch(&self, key: &str) -> bool {
        matches!(self.get(key).value, Typed::Switch(true))
    }

    pub fn text(&self, key: &str) -> String {
        match &self.get(key).value {
            Typed::Text(v) => v.clone(),
            other => panic!("{key} is not text: {other:?}"),
        }
    }

    pub fn duration(&self, key: &str) -> std::time::Duration {
        match self.get(key).value {
            Typed::Duration(v) => v,
            ref other => panic!("{key} is not a duration: {other:?}"),
        }
    }

    pub fn list(&self, key: &str) -> Vec<String> {
        match &self.get(key).value {
            Typed::List(v) => v.clone(),
            other => panic!("{key} is not a list: {other:?}"),
        }
    }

    pub fn leverage_steps(&self, key: &str) -> Vec<(f64, u32)> {
        match &self.get(key).value {
            Typed::LeverageSteps(v) => v.clone(),
            other => panic!("{key} is not a leverage table: {other:?}"),
        }
    }

    /// Whether `key` was left at the table's default.
    pub fn is_default(&self, key: &str) -> bool {
        self.get(key).origin == Origin::Default
    }

    /// A default that depends on another value (`selection.min_symbols` is at most
    /// `selection.top`): replaces the table's, for the settings and `universe config`.
    pub fn adjust_default(&mut self, key: &'static str, value: u64) {
        if !self.is_default(key) {
            return;
        }
        let resolved = self.resolved.get_mut(key).expect("every knob is resolved");
        resolved.value = Typed::Whole(value);
        resolved.raw = Value::Integer(i64::try_from(value).unwrap_or(i64::MAX));
        if let Some(entry) = self.entries.iter_mut().find(|e| e.key == key) {
            entry.value = serde_json::json!(value);
        }
    }

    /// A usage error for a value that breaks a rule between knobs.
    pub fn refuse(&self, key: &str, expected: &str) -> UsageError {
        let resolved = self.get(key);
        UsageError(format!(
            "{key} = {} ({}): expected {expected}",
            show(&resolved.raw),
            resolved.origin
        ))
    }

    /// A table of named finite numbers: each default key, then any other key the file
    /// sets in the section (the trading side may read parameters this version does not
    /// know).
    pub fn numbers(
        &mut self,
        section: &str,
        defaults: &[(&str, f64)],
    ) -> Result<BTreeMap<String, f64>, UsageError> {
        let prefix = format!("{section}.");
        let mut names: Vec<String> = defaults.iter().map(|(n, _)| (*n).to_owned()).collect();
        let more = self
            .file
            .iter()
            .flat_map(|f| f.values.keys())
            .filter_map(|k| k.strip_prefix(&prefix))
            .filter(|name| !name.contains('.') && !names.iter().any(|n| n == name))
            .map(str::to_owned)
            .collect::<Vec<_>>();
        names.extend(more);
        let mut table = BTreeMap::new();
        for name in names {
            let default = defaults.iter().find(|(n, _)| *n == name).map(|(_, v)| *v);
            let value = self.number_in_section(&format!("{prefix}{name}"), default)?;
            table.insert(name, value);
        }
        Ok(table)
    }

    /// One number of a `numbers` section, from the file or its default.
    fn number_in_section(&mut self, key: &str, default: Option<f64>) -> Result<f64, UsageError> {
        self.used.insert(key.to_owned());
        let knob = Knob {
            key: "",
            kind: Kind::Number {
                min: f64::NEG_INFINITY,
                max: f64::INFINITY,
            },
            default: "",
            flag: None,
            help: "",
        };
        let found = self
            .file
            .as_ref()
            .and_then(|f| Some((f.values.get(key)?.clone(), Origin::File(f.path.clone()))));
        let (value, raw, origin) = match (found, default) {
            (Some((raw, origin)), _) => {
                let resolved = check_as(key, &knob, raw, origin, "a finite number")?;
                let Typed::Number(v) = resolved.value else {
                    unreachable!("a number knob parses to a number")
                };
                (v, resolved.raw, resolved.origin)
            }
            (None, Some(v)) => (v, Value::Float(v), Origin::Default),
            (None, None) => unreachable!("only the file's keys come without a default"),
        };
        self.entries.push(Entry {
            key: key.to_owned(),
            value: to_json(&raw),
            origin: origin.to_string(),
        });
        Ok(value)
    }

    /// `[policy.extra]`: every field JSON-encoded, as the services expect to read it.
    pub fn extra(&mut self) -> Result<BTreeMap<String, String>, UsageError> {
        self.used.insert("policy.extra".into());
        let Some(file) = &self.file else {
            return Ok(BTreeMap::new());
        };
        let Some(value) = file.values.get("policy.extra") else {
            return Ok(BTreeMap::new());
        };
        let Value::Table(table) = value else {
            return Err(UsageError(format!(
                "policy.extra in {}: expected a table",
                file.path.display()
            )));
        };
        let mut extra = BTreeMap::new();
        for (name, value) in table {
            check_extra_name(name, &file.path)?;
            let json = match value {
                Value::String(s) => s.clone(),
                other => to_json(other).to_string(),
            };
            self.entries.push(Entry {
                key: format!("policy.extra.{name}"),
                value: serde_json::Value::String(json.clone()),
                origin: Origin::File(file.path.clone()).to_string(),
            });
            extra.insert(name.clone(), json);
        }
        Ok(extra)
    }

    /// A key in the file that neither the table nor a section knows is a usage error.
    pub fn reject_unknown_keys(&self) -> Result<(), UsageError> {
        let Some(file) = &self.file else {
            return Ok(());
        };
        let unknown: Vec<&str> = file
            .values
            .keys()
            .filter(|k| !self.resolved.contains_key(k.as_str()) && !self.used.contains(*k))
            .map(String::as_str)
            .collect();
        if unknown.is_empty() {
            Ok(())
        } else {
            Err(UsageError(format!(
                "{}: unknown key{} {} (examples/universe.toml lists every key)",
                file.path.display(),
                if unknown.len() > 1 { "s" } else { "" },
                unknown.join(", ")
            )))
        }
    }
}

/// `[policy.extra]` may not set what the generator writes or what has its own section.
fn check_extra_name(name: &str, path: &Path) -> Result<(), UsageError> {
    use crate::policy::field;
    if let Some(section) = [field::HARVEST_PARAMS, field::KILL_PARAMS]
        .into_iter()
        .find(|f| *f == name)
    {
        return Err(UsageError(format!(
            "policy.extra.{name} in {}: {name} is written from [policy.{section}], one finite number per key; set it there",
            path.display()
        )));
    }
    if crate::policy::is_generated_field(name) {
        return Err(UsageError(format!(
            "policy.extra.{name} in {}: {name} is written by the generator and cannot be set",
            path.display()
        )));
    }
    Ok(())
}

/// The table's default, which the table's own test proves valid.
fn default(knob: &Knob) -> Resolved {
    let raw: Value = toml::from_str::<toml::Table>(&format!("v = {}", knob.default))
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| panic!("{}: the default is not TOML", knob.key));
    let value = knob
        .kind
        .parse(&raw)
        .unwrap_or_else(|e| panic!("{}: the default is not {e}", knob.key));
    Resolved {
        value,
        raw,
        origin: Origin::Default,
    }
}

fn check(knob: &Knob, raw: Value, origin: Origin) -> Result<Resolved, UsageError> {
    check_as(knob.key, knob, raw, origin, &knob.expected())
}

/// Parses and range-checks `raw` for `knob`; the error names the key, the value and
/// where it came from.
fn check_as(
    key: &str,
    knob: &Knob,
    raw: Value,
    origin: Origin,
    expected: &str,
) -> Result<Resolved, UsageError> {
    // a flag or variable arrives as text; in the file a value has its TOML type
    if matches!(origin, Origin::File(_)) && !knob.kind.is_file_type(&raw) {
        return Err(UsageError(format!(
            "{key} = {} ({origin}): expected {}, not a {}",
            show(&raw),
            knob.kind.type_name(),
            raw.type_str()
        )));
    }
    let value = knob.kind.parse(&raw).map_err(|what| {
        UsageError(format!(
            "{key} = {} ({origin}): expected {what}",
            show(&raw)
        ))
    })?;
    if !knob.kind.allows(&value) {
        return Err(UsageError(format!(
            "{key} = {} ({origin}): expected {expected}",
            show(&raw)
        )));
    }
    Ok(Resolved { value, raw, origin })
}

/// How `universe config` shows a value: as JSON, a secret redacted.
fn shown(knob: &Knob, raw: &Value) -> serde_json::Value {
    match (to_json(raw), knob.kind) {
        (serde_json::Value::String(s), Kind::Text(Text::Secret)) => {
            serde_json::Value::String(crate::store::redact(&s))
        }
        (json, _) => json,
    }
}

fn to_json(value: &Value) -> serde_json::Value {
    serde_json::to_value(value).unwrap_or(serde_json::Value::Null)
}

fn show(value: &Value) -> String {
    to_json(value).to_string()
}
