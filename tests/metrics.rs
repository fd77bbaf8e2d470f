//! `generate --metrics-file`: Prometheus' text format checked by `promtool check metrics`
//! (Debian's `prometheus`), after a publish and after a refresh that failed closed; and
//! the alert rules in contrib/ checked by `promtool check rules`.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};

use crate::support::{FakeBinance, Fault, generate, market_now, universe};

/// `promtool check metrics` on `file`: what it said when it refused.
fn promtool_check_metrics(file: &Path) {
    let out = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::fs::File::open(file).unwrap())
        .output()
        .unwrap_or_else(|e| panic!("promtool ({e}): apt-get install prometheus; .ci/run does"));
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn samples(file: &Path) -> BTreeMap<String, f64> {
    std::fs::read_to_string(file)
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| {
            let (name, value) = l.rsplit_once(' ').unwrap();
            (name.to_owned(), value.parse().unwrap())
        })
        .collect()
}

#[test]
fn metrics_say_what_a_refresh_did_and_keep_the_last_success_through_a_failure() {
    let home = tempfile::tempdir().unwrap();
    let exchange = FakeBinance::start(market_now(16));
    let store = format!("file:{}", home.path().join("store").display());
    let file = home.path().join("universe.prom");
    let metrics = ["--metrics-file", file.to_str().unwrap()];
    generate(home.path(), &exchange, &store, &metrics).assert_code(0);
    promtool_check_metrics(&file);
    let first = samples(&file);
    assert_eq!(first["universe_size"], 10.0);
    assert_eq!(
        first["universe_last_attempt_outcome{outcome=\"success\"}"],
        1.0
    );
    assert_eq!(first["universe_refreshes_total{outcome=\"success\"}"], 1.0);
    assert!(
        first["universe_exchange_request_weight"] > 0.0 && first["universe_symbols_scored"] >= 10.0
    );
    assert_eq!(
        first["universe_last_success_timestamp_seconds"],
        first["universe_last_attempt_timestamp_seconds"]
    );
    assert_eq!(
        first["universe_unchanged_seconds"], 0.0,
        "a first publish changes the universe"
    );

    exchange.fault("exchangeInfo", None, Fault::Banned);
    generate(home.path(), &exchange, &store, &metrics).assert_code(3);
    promtool_check_metrics(&file);
    let second = samples(&file);
    assert_eq!(
        second["universe_last_attempt_outcome{outcome=\"fail_closed\"}"],
        1.0
    );
    assert_eq!(
        second["universe_last_attempt_outcome{outcome=\"success\"}"],
        0.0
    );
    assert_eq!(
        second["universe_refreshes_total{outcome=\"fail_closed\"}"],
        1.0
    );
    assert_eq!(second["universe_refreshes_total{outcome=\"success\"}"], 1.0);
    assert_eq!(
        second["universe_last_success_timestamp_seconds"],
        first["universe_last_success_timestamp_seconds"]
    );
    assert!(
        second["universe_last_attempt_timestamp_seconds"]
            > first["universe_last_attempt_timestamp_seconds"]
    );
    assert_eq!(
        second["universe_size"], 10.0,
        "the policy in force is the last success's"
    );
    assert!(!home.path().join("universe.prom.partial").exists());
}

#[test]
fn show_and_diff_hash_tell_refreshes_that_keep_failing_from_a_quiet_market() {
    let home = tempfile::tempdir().unwrap();
    let exchange = FakeBinance::start(market_now(16));
    let store = format!("file:{}", home.path().join("store").display());
    let says = |command: &str| universe(home.path(), &[command, "--store", &store]).stdout;
    generate(home.path(), &exchange, &store, &[]).assert_code(0);
    assert!(says("show").contains("no failed refresh recorded"));
    // the next two refreshes are banned (418), the one after is not
    exchange.fault("exchangeInfo", Some(2), Fault::Banned);
    for _ in 0..2 {
        generate(home.path(), &exchange, &store, &[]).assert_code(3);
    }
    for command in ["show", "diff-hash"] {
        let out = says(command);
        assert!(
            out.contains("refreshes failing: 2 in a row since this policy was published")
                && out.contains("(fail_closed): ")
                && out.contains("418"),
            "{command}: {out}"
        );
    }
    // the record is beside the policy, never in it
    let policy = std::fs::read_to_string(home.path().join("store/policy.json")).unwrap();
    assert!(!policy.contains("fail_closed"));
    std::thread::sleep(std::time::Duration::from_millis(1100));
    generate(home.path(), &exchange, &store, &[]).assert_code(0);
    assert!(
        says("show").contains("no refresh has failed since this policy was published"),
        "{}",
        says("show")
    );
}

#[test]
fn the_alert_rules_are_valid_prometheus_rules() {
    let rules = concat!(env!("CARGO_MANIFEST_DIR"), "/contrib/universe-alerts.yml");
    let out = Command::new("promtool")
        .args(["check", "rules", rules])
        .stdout(Stdio::piped())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("4 rules found"));
}
