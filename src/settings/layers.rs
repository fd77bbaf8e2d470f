//! The layers a value may come from: the command line and the environment
//! ([`Overrides`]), the config file ([`ConfigFile`]), and the table's default; and where
//! each resolved value came from ([`Origin`]).

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use toml::Value;

use crate::error::UsageError;

/// Where a value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    Default,
    File(PathBuf),
    Env(String),
    Flag(String),
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Default => f.write_str("default"),
            Origin::File(path) => write!(f, "file {}", path.display()),
            Origin::Env(name) => write!(f, "env {name}"),
            Origin::Flag(flag) => write!(f, "flag {flag}"),
        }
    }
}

/// Values given on the command line or by environment variable, by config key.
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    pub(super) values: BTreeMap<&'static str, (Value, Origin)>,
}

impl Overrides {
    /// Records `value` for `key`, given by `origin`.
    pub fn set(&mut self, key: &'static str, value: Value, origin: Origin) {
        self.values.insert(key, (value, origin));
    }

    /// Both sets of values; `other`'s win.
    #[must_use]
    pub fn and(mut self, other: Self) -> Self {
        self.values.extend(other.values);
        self
    }
}

/// One resolved value, for `universe config`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Entry {
    pub key: String,
    /// JSON rendering of the value (secrets redacted).
    pub value: serde_json::Value,
    pub origin: String,
}

/// A parsed config file, flattened to dotted keys.
#[derive(Debug)]
pub struct ConfigFile {
    pub path: PathBuf,
    pub values: BTreeMap<String, Value>,
}

impl ConfigFile {
    pub fn read(path: &Path) -> Result<Self, UsageError> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            UsageError(format!(
                "--config (UNIVERSE_CONFIG) {}: {e}",
                path.display()
            ))
        })?;
        // a parse error quotes the line, which may hold a password
        let table: toml::Table = text.parse().map_err(|e| {
            UsageError(crate::store::redact_all(&format!(
                "{}: {e}",
                path.display()
            )))
        })?;
        let mut values = BTreeMap::new();
        flatten("", table, &mut values);
        Ok(Self {
            path: path.to_owned(),
            values,
        })
    }
}

/// Tables become dotted keys, except `policy.extra`, whose fields are data.
fn flatten(prefix: &str, table: toml::Table, out: &mut BTreeMap<String, Value>) {
    for (name, value) in table {
        let key = if prefix.is_empty() {
            name
        } else {
            format!("{prefix}.{name}")
        };
        match value {
            Value::Table(inner) if key != "policy.extra" => flatten(&key, inner, out),
            other => {
                out.insert(key, other);
            }
        }
    }
}
