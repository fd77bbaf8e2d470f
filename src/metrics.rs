//! `generate --metrics-file PATH`: what a refresh did, in Prometheus' text exposition
//! format for `node_exporter`'s textfile collector, written beside the file and renamed
//! into place (the collector never reads half a file).
//!
//! A refresh that fails changes only what it knows: the attempt's time, outcome and
//! duration, and the counters. What describes the policy in force (its size, when the
//! last success was, when the universe last changed) is carried from the file as it was.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

/// How a refresh ended, as the `outcome` label says it.
pub const OUTCOMES: [&str; 5] = ["success", "fail_closed", "store", "usage", "failure"];

/// What a successful refresh published.
#[derive(Debug, Clone, PartialEq)]
pub struct Published {
    pub universe: usize,
    pub replacements: usize,
    pub scored: usize,
    pub weight: u64,
    pub data_age_s: i64,
    /// Whether the universe differs from the previous policy's.
    pub changed: bool,
    /// When the members joined (epoch seconds): the latest is when the universe last
    /// changed, as far as the audit trail tells, if no earlier metrics file says.
    pub latest_join: Option<i64>,
}

/// One refresh attempt.
#[derive(Debug, Clone, PartialEq)]
pub struct Attempt<'a> {
    /// Epoch seconds when it ended.
    pub at: f64,
    pub duration_s: f64,
    /// One of [`OUTCOMES`].
    pub outcome: &'a str,
    pub published: Option<Published>,
}

/// Writes `attempt` into `path`, carrying what it does not change from the file there.
pub fn write(path: &Path, attempt: &Attempt<'_>) -> std::io::Result<()> {
    let before = std::fs::read_to_string(path)
        .map(|text| samples(&text))
        .unwrap_or_default();
    let text = render(&before, attempt);
    let mut temp = path.as_os_str().to_owned();
    temp.push(".partial");
    std::fs::write(&temp, text)?;
    std::fs::rename(&temp, path)
}

/// The samples of a text exposition, by name and labels as written.
fn samples(text: &str) -> BTreeMap<String, f64> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let (name, value) = l.rsplit_once(' ')?;
            Some((name.to_owned(), value.parse().ok()?))
        })
        .collect()
}

fn render(before: &BTreeMap<String, f64>, a: &Attempt<'_>) -> String {
    let mut out = String::new();
    for (name, help, value) in gauges(before, a) {
        if let Some(v) = value {
            let _ = write!(
                out,
                "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {v}\n"
            );
        }
    }
    out + &outcomes(before, a.outcome)
}

/// What each gauge says of the publish in force: name, help, and how it reads a publish.
/// A gauge of the publish in force: name, help, and how it reads a publish.
type Reading = (&'static str, &'static str, fn(&Published) -> f64);

const PUBLISHED: [Reading; 5] = [
    (
        "universe_size",
        "Symbols in the universe published last.",
        |p| p.universe as f64,
    ),
    (
        "universe_replacements",
        "Incumbents replaced by the last publish.",
        |p| p.replacements as f64,
    ),
    (
        "universe_symbols_scored",
        "Symbols scored by the last publish.",
        |p| p.scored as f64,
    ),
    (
        "universe_exchange_request_weight",
        "Request weight the last publish used.",
        |p| p.weight as f64,
    ),
    (
        "universe_data_age_seconds",
        "Age of the exchange data of the last publish, when it was made.",
        |p| p.data_age_s as f64,
    ),
];

/// Each gauge: its name, its help, and its value (`None`: not known yet). What a failed
/// attempt does not know is carried from the file as it was.
fn gauges(
    before: &BTreeMap<String, f64>,
    a: &Attempt<'_>,
) -> Vec<(&'static str, &'static str, Option<f64>)> {
    let was = |name: &str| before.get(name).copied();
    let p = a.published.as_ref();
    let change = "universe_last_change_timestamp_seconds";
    let last_change = match p {
        Some(p) if p.changed => Some(a.at),
        Some(p) => was(change).or(p.latest_join.map(|t| t as f64)),
        None => was(change),
    };
    let success = "universe_last_success_timestamp_seconds";
    let mut gauges = vec![
        (
            "universe_last_attempt_timestamp_seconds",
            "When the last refresh ended.",
            Some(a.at),
        ),
        (
            success,
            "When the last refresh that published ended.",
            p.map(|_| a.at).or(was(success)),
        ),
        (
            "universe_refresh_duration_seconds",
            "How long the last refresh took.",
            Some(a.duration_s),
        ),
    ];
    for (name, help, read) in PUBLISHED {
        gauges.push((name, help, p.map(read).or(was(name))));
    }
    gauges.push((
        change,
        "When the published universe last changed.",
        last_change,
    ));
    let unchanged = last_change.map(|t| (a.at - t).max(0.0));
    gauges.push((
        "universe_unchanged_seconds",
        "Seconds the universe had not changed, at the last attempt.",
        unchanged,
    ));
    gauges
}

/// How the last refresh ended, and the count of each way refreshes ended.
fn outcomes(before: &BTreeMap<String, f64>, outcome: &str) -> String {
    let mut out = String::from(
        "# HELP universe_last_attempt_outcome 1 for how the last refresh ended, 0 for the others.\n# TYPE universe_last_attempt_outcome gauge\n",
    );
    for o in OUTCOMES {
        let _ = writeln!(
            out,
            "universe_last_attempt_outcome{{outcome=\"{o}\"}} {}",
            u8::from(o == outcome)
        );
    }
    out.push_str("# HELP universe_refreshes_total Refreshes by how they ended.\n# TYPE universe_refreshes_total counter\n");
    for o in OUTCOMES {
        let name = format!("universe_refreshes_total{{outcome=\"{o}\"}}");
        let n = before.get(&name).copied().unwrap_or(0.0) + f64::from(u8::from(o == outcome));
        let _ = writeln!(out, "{name} {n}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failure_keeps_what_the_last_success_said_and_counts() {
        let success = Attempt {
            at: 1000.0,
            duration_s: 0.5,
            outcome: "success",
            published: Some(Published {
                universe: 10,
                replacements: 2,
                scored: 120,
                weight: 172,
                data_age_s: 3,
                changed: true,
                latest_join: None,
            }),
        };
        let first = render(&BTreeMap::new(), &success);
        let failure = Attempt {
            at: 1600.0,
            duration_s: 2.0,
            outcome: "fail_closed",
            published: None,
        };
        let second = samples(&render(&samples(&first), &failure));
        assert_eq!(second["universe_last_success_timestamp_seconds"], 1000.0);
        assert_eq!(second["universe_last_attempt_timestamp_seconds"], 1600.0);
        assert_eq!(second["universe_size"], 10.0);
        assert_eq!(second["universe_unchanged_seconds"], 600.0);
        assert_eq!(
            second["universe_last_attempt_outcome{outcome=\"fail_closed\"}"],
            1.0
        );
        assert_eq!(
            second["universe_last_attempt_outcome{outcome=\"success\"}"],
            0.0
        );
        assert_eq!(second["universe_refreshes_total{outcome=\"success\"}"], 1.0);
        assert_eq!(
            second["universe_refreshes_total{outcome=\"fail_closed\"}"],
            1.0
        );
    }
}
