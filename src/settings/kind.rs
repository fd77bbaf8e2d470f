//! A knob's value from TOML: the type its [`Kind`] takes, then its range.

use std::time::Duration;

use toml::Value;

use super::knobs::{Kind, Text};

/// A checked value.
#[derive(Debug, Clone, PartialEq)]
pub enum Typed {
    Number(f64),
    Whole(u64),
    Switch(bool),
    Text(String),
    Duration(Duration),
    List(Vec<String>),
    LeverageSteps(Vec<(f64, u32)>),
}

impl Kind {
    /// Whether a config file's value has the TOML type this takes (`top = "5"` does not;
    /// a flag or a variable is always text).
    pub fn is_file_type(self, value: &Value) -> bool {
        match self {
            Kind::Number { .. } => matches!(value, Value::Float(_) | Value::Integer(_)),
            Kind::Whole { .. } => matches!(value, Value::Integer(_)),
            Kind::Switch => matches!(value, Value::Boolean(_)),
            Kind::Text(_) => matches!(value, Value::String(_)),
            Kind::Duration => matches!(value, Value::String(_) | Value::Integer(_)),
            Kind::List | Kind::LeverageSteps => matches!(value, Value::Array(_)),
        }
    }

    /// The type this kind parses, for "expected a number, not a string".
    pub fn type_name(self) -> &'static str {
        match self {
            Kind::Number { .. } => "a number",
            Kind::Whole { .. } => "a whole number",
            Kind::Switch => "true or false",
            Kind::Text(_) => "a string",
            Kind::Duration => "a duration such as \"90m\" or \"2h\", or whole seconds",
            Kind::List => "a list of strings",
            Kind::LeverageSteps => "a list of [atr_above, leverage] pairs",
        }
    }

    /// Parses `value` into this kind's type; the error names the type expected.
    pub fn parse(self, value: &Value) -> Result<Typed, &'static str> {
        let expected = self.type_name();
        let typed = match (self, value) {
            (Kind::Number { .. }, value) => Typed::Number(number(value).ok_or(expected)?),
            (Kind::Whole { .. }, value) => Typed::Whole(whole(value)?),
            (Kind::Switch, value) => Typed::Switch(switch(value).ok_or(expected)?),
            (Kind::Text(_), Value::String(s)) => Typed::Text(s.clone()),
            (Kind::Duration, Value::Integer(i)) => Typed::Duration(Duration::from_secs(
                u64::try_from(*i).map_err(|_| expected)?,
            )),
            (Kind::Duration, Value::String(s)) => {
                Typed::Duration(humantime::parse_duration(s).map_err(|_| expected)?)
            }
            (Kind::List, value) => Typed::List(list(value).ok_or(expected)?),
            (Kind::LeverageSteps, Value::Array(rows)) => Typed::LeverageSteps(
                rows.iter()
                    .map(step)
                    .collect::<Option<_>>()
                    .ok_or(expected)?,
            ),
            _ => return Err(expected),
        };
        Ok(typed)
    }

    /// Whether a parsed value lies in this kind's range.
    pub fn allows(self, value: &Typed) -> bool {
        match (self, value) {
            (Kind::Number { min, max }, Typed::Number(v)) => {
                v.is_finite() && (min..=max).contains(v)
            }
            (Kind::Whole { min, max }, Typed::Whole(v)) => (min..=max).contains(v),
            (Kind::Text(rule), Typed::Text(text)) => rule.allows(text),
            (Kind::LeverageSteps, Typed::LeverageSteps(steps)) => {
                steps.windows(2).all(|w| w[0].0 > w[1].0)
                    && steps
                        .iter()
                        .all(|(atr, lev)| atr.is_finite() && (1..=125).contains(lev))
            }
            _ => true,
        }
    }
}

impl Text {
    fn allows(self, text: &str) -> bool {
        let spaced = text.contains(char::is_whitespace);
        match self {
            Text::Any | Text::Secret => true,
            Text::HttpUrl => text.starts_with("http://") || text.starts_with("https://"),
            Text::KeyName => !text.is_empty() && !spaced,
            Text::KeyPattern => !text.is_empty() && !spaced && text.contains("{SYMBOL}"),
            Text::KeyPrefix => !spaced,
            Text::Glob => crate::select::Pattern::new(text).is_ok(),
            Text::OneOf(words) => words.contains(&text),
        }
    }
}

fn number(value: &Value) -> Option<f64> {
    match value {
        Value::Float(f) => Some(*f),
        #[allow(clippy::cast_precision_loss)] // config numbers are far below 2^53
        Value::Integer(i) => Some(*i as f64),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn whole(value: &Value) -> Result<u64, &'static str> {
    let n = match value {
        Value::Integer(i) => *i,
        Value::String(s) => s.trim().parse().map_err(|_| "a whole number")?,
        _ => return Err("a whole number"),
    };
    u64::try_from(n).map_err(|_| "a whole number ≥ 0")
}

fn switch(value: &Value) -> Option<bool> {
    match value {
        Value::Boolean(b) => Some(*b),
        Value::String(s) if matches!(s.as_str(), "true" | "1" | "yes" | "on") => Some(true),
        Value::String(s) if matches!(s.as_str(), "false" | "0" | "no" | "off") => Some(false),
        _ => None,
    }
}

fn list(value: &Value) -> Option<Vec<String>> {
    match value {
        Value::Array(items) => items
            .iter()
            .map(|v| v.as_str().map(str::to_owned))
            .collect(),
        // from a flag or variable: comma-separated
        Value::String(s) => Some(
            s.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect(),
        ),
        _ => None,
    }
}

fn step(row: &Value) -> Option<(f64, u32)> {
    match row.as_array().map(Vec::as_slice) {
        Some([atr, lev]) => Some((number(atr)?, u32::try_from(whole(lev).ok()?).ok()?)),
        _ => None,
    }
}
