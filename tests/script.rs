//! `policy_refresh.sh`: generate then proof, under a lock, timestamped, honest exit codes.

use std::path::Path;
use std::process::{Command, Output};

use crate::support::{FakeBinance, Fault, market_now};

/// `policy_refresh.sh` configured by environment, as cron would run it.
fn refresh_command(home: &Path, exchange_url: &str) -> Command {
    let mut command = Command::new(concat!(env!("CARGO_MANIFEST_DIR"), "/policy_refresh.sh"));
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("UNIVERSE_") {
            command.env_remove(name);
        }
    }
    command
        .env("UNIVERSE_BIN", env!("CARGO_BIN_EXE_universe"))
        .env("UNIVERSE_LOCK", home.join("refresh.lock"))
        .env(
            "UNIVERSE_STORE",
            format!("file:{}", home.join("store").display()),
        )
        .env("UNIVERSE_BINANCE_URL", exchange_url)
        .env("HOME", home);
    command
}

fn refresh(home: &Path, exchange: &FakeBinance) -> Output {
    refresh_command(home, &exchange.url)
        .output()
        .expect("run policy_refresh.sh")
}

#[test]
fn a_refresh_publishes_and_proves_with_timestamped_lines() {
    let home = tempfile::tempdir().unwrap();
    let exchange = FakeBinance::start(market_now(16));
    let out = refresh(home.path(), &exchange);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("generate: published universe"), "{stderr}");
    assert!(stderr.contains("proof: all 12 checks passed"), "{stderr}");
    // the line operators grep, in the Python deployment's form
    let audit: Vec<&str> = stderr
        .lines()
        .filter_map(|l| l.split_once(" POLICY_AUDIT: ").map(|(_, rest)| rest))
        .collect();
    assert_eq!(audit.len(), 1, "{stderr}");
    let fields: Vec<(&str, &str)> = audit[0]
        .split(' ')
        .map(|kv| kv.split_once('=').unwrap())
        .collect();
    let keys: Vec<&str> = fields.iter().map(|(k, _)| *k).collect();
    assert_eq!(keys, ["version", "hash", "universe_count", "valid_until"]);
    assert_eq!(fields[0].1, "1.0.0-ai-v1");
    assert_eq!(fields[1].1.len(), 64);
    assert_eq!(fields[2].1, "10");
    assert!(fields[3].1.parse::<i64>().unwrap() > crate::support::now_ms() / 1000);
    for line in stderr.lines() {
        let stamp = line.split(' ').next().unwrap();
        assert!(
            stamp.len() == 20 && stamp.ends_with('Z') && stamp.contains('T'),
            "{line}"
        );
    }
}

#[test]
fn a_failed_generate_gives_its_code_even_when_the_old_policy_still_proves() {
    let home = tempfile::tempdir().unwrap();
    let exchange = FakeBinance::start(market_now(16));
    assert_eq!(refresh(home.path(), &exchange).status.code(), Some(0));
    exchange.fault("/fapi/v1/exchangeInfo", None, Fault::Status(400));
    let out = refresh(home.path(), &exchange);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(
        stderr.contains("proof: all 12 checks passed"),
        "the previous policy stands: {stderr}"
    );
    assert!(stderr.contains("done: exit 3 (generate)"), "{stderr}");
    assert!(
        !stderr.contains("POLICY_AUDIT"),
        "nothing was published: {stderr}"
    );
}

#[test]
fn runs_never_overlap() {
    let home = tempfile::tempdir().unwrap();
    let exchange = FakeBinance::start(market_now(16));
    exchange.fault(
        "/fapi/v1/time",
        Some(1),
        Fault::Hang(std::time::Duration::from_secs(2)),
    );
    let mut first = refresh_command(home.path(), &exchange.url);
    let first = std::thread::spawn(move || first.output().unwrap());
    exchange.wait_for("/fapi/v1/time");
    let second = refresh(home.path(), &exchange);
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert_eq!(second.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("another refresh holds"), "{stderr}");
    assert_eq!(first.join().unwrap().status.code(), Some(0));
}

#[test]
fn without_an_explicit_store_the_script_runs_nothing() {
    let home = tempfile::tempdir().unwrap();
    let exchange = FakeBinance::start(market_now(16));
    for store in [None, Some("redis://:CHANGE-ME@127.0.0.1:1/0")] {
        let mut command = refresh_command(home.path(), &exchange.url);
        match store {
            None => command.env_remove("UNIVERSE_STORE"),
            Some(url) => command.env("UNIVERSE_STORE", url),
        };
        let out = command.output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains("UNIVERSE_STORE"), "{stderr}");
    }
    assert_eq!(exchange.log().len(), 0, "nothing was fetched");
    assert!(!home.path().join("state").exists(), "nothing was published");
}

#[test]
fn flags_for_generate_alone_still_prove() {
    let home = tempfile::tempdir().unwrap();
    let exchange = FakeBinance::start(market_now(16));
    let out = refresh_command(home.path(), &exchange.url)
        .args(["--top", "11"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("universe_count=11"), "{stderr}");
    assert!(stderr.contains("within [3, 11] (as recorded"), "{stderr}");
}
