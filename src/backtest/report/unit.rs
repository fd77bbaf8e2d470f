//! What a chart's values are, and how its axis labels them.

#[derive(Debug, Clone, Copy)]
pub(crate) enum Unit {
    /// A portfolio's value, 1 at the start: labelled as the return since then, in %.
    Return,
    /// A fraction: labelled in %.
    Percent,
    /// A plain number.
    Count,
}

impl Unit {
    /// A value as the axis shows it, and back.
    pub(super) fn shown(self, v: f64) -> f64 {
        match self {
            Unit::Return => 100.0 * (v - 1.0),
            Unit::Percent => 100.0 * v,
            Unit::Count => v,
        }
    }

    pub(super) fn value(self, shown: f64) -> f64 {
        match self {
            Unit::Return => 1.0 + shown / 100.0,
            Unit::Percent => shown / 100.0,
            Unit::Count => shown,
        }
    }

    pub(super) fn label(self, shown: f64, decimals: usize) -> String {
        match self {
            Unit::Return if shown.abs() < 1e-9 => "0%".to_owned(),
            Unit::Return => format!("{shown:+.decimals$}%"),
            Unit::Percent => format!("{shown:.decimals$}%"),
            Unit::Count => format!("{shown:.decimals$}"),
        }
    }
}
