//! `show`, `proof` and `diff-hash` on both stores, and what they refuse to believe.

use std::collections::BTreeMap;
use std::path::Path;

use crate::support::{FakeBinance, RedisServer, generate, market_now, universe};

fn published_redis() -> (tempfile::TempDir, RedisServer, FakeBinance) {
    let home = tempfile::tempdir().unwrap();
    let redis = RedisServer::start();
    let exchange = FakeBinance::start(market_now(16));
    generate(home.path(), &exchange, &redis.url(), &[]).assert_code(0);
    (home, redis, exchange)
}

#[test]
fn show_prints_the_policy_as_table_and_json() {
    let (home, redis, _exchange) = published_redis();
    let run = universe(home.path(), &["show", "--store", &redis.url()]);
    run.assert_code(0);
    assert!(
        run.stdout.contains("valid for another 59m") || run.stdout.contains("valid for another 1h"),
        "{}",
        run.stdout
    );
    assert_eq!(
        run.stdout.lines().filter(|l| l.contains("USDT")).count(),
        10,
        "{}",
        run.stdout
    );

    let json = universe(home.path(), &["show", "--store", &redis.url(), "--json"]);
    json.assert_code(0);
    let value = json.json();
    let symbols = value["symbols"].as_array().unwrap();
    assert_eq!(symbols.len(), 10);
    assert_eq!(symbols[0]["rank"], 1);
    assert!(symbols[0]["score"].as_f64().unwrap() >= symbols[9]["score"].as_f64().unwrap());
    assert!(
        symbols
            .iter()
            .all(|s| s["leverage"].as_f64().is_some() && s["atr_pct_15m"].as_f64().is_some())
    );
    assert_eq!(value["valid"], true);
}

#[test]
fn proof_fails_on_each_kind_of_tampering() {
    let (home, redis, _exchange) = published_redis();
    let url = redis.url();
    let proof = |json: bool| {
        let mut args = vec!["proof", "--store", &url];
        if json {
            args.push("--json");
        }
        universe(home.path(), &args)
    };
    let run = proof(false);
    run.assert_code(0);
    assert_eq!(
        run.stdout.lines().filter(|l| l.contains(". PASS ")).count(),
        12,
        "{}",
        run.stdout
    );

    let mut con = redis.connection().unwrap();
    let hset = |con: &mut ::redis::Connection, field: &str, value: &str| {
        let _: () = ::redis::cmd("HSET")
            .arg("quantum:policy:current")
            .arg(field)
            .arg(value)
            .query(con)
            .unwrap();
    };
    let original: BTreeMap<String, String> = ::redis::cmd("HGETALL")
        .arg("quantum:policy:current")
        .query(&mut con)
        .unwrap();
    let failing = |expect: &[&str]| {
        let run = proof(true);
        run.assert_code(5);
        let checks = run.json()["checks"].as_array().unwrap().clone();
        let failed: Vec<String> = checks
            .iter()
            .filter(|c| c["pass"] == false)
            .map(|c| c["name"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(failed.len(), expect.len(), "{failed:?}");
        for (name, fragment) in failed.iter().zip(expect) {
            assert!(name.contains(fragment), "{name} should mention {fragment}");
        }
    };

    // a symbol slipped into the universe: both hashes and the leverage table disagree
    let mut symbols: Vec<String> = serde_json::from_str(&original["universe_symbols"]).unwrap();
    symbols.push("EVILUSDT".into());
    hset(
        &mut con,
        "universe_symbols",
        &serde_json::to_string(&symbols).unwrap(),
    );
    failing(&["universe_hash", "policy_hash", "universe size", "leverage"]);
    hset(&mut con, "universe_symbols", &original["universe_symbols"]);

    // an expired policy
    hset(&mut con, "valid_until_epoch", "1000");
    failing(&["policy_hash", "valid_until"]);
    hset(
        &mut con,
        "valid_until_epoch",
        &original["valid_until_epoch"],
    );

    // a leverage out of the table's range
    let mut leverage: BTreeMap<String, f64> =
        serde_json::from_str(&original["leverage_by_symbol"]).unwrap();
    *leverage.values_mut().next().unwrap() = 50.0;
    hset(
        &mut con,
        "leverage_by_symbol",
        &serde_json::to_string(&leverage).unwrap(),
    );
    failing(&["policy_hash", "leverage"]);
    hset(
        &mut con,
        "leverage_by_symbol",
        &original["leverage_by_symbol"],
    );

    // an audit entry for some other policy is the newest
    let _: String = ::redis::cmd("XADD")
        .arg("quantum:stream:policy.audit")
        .arg("*")
        .arg("policy_hash")
        .arg("0000")
        .query(&mut con)
        .unwrap();
    failing(&["audit entry"]);
}

#[test]
fn proof_without_a_policy_fails() {
    let home = tempfile::tempdir().unwrap();
    let redis = RedisServer::start();
    let run = universe(home.path(), &["proof", "--store", &redis.url()]);
    run.assert_code(5);
    assert!(
        run.stdout.contains("1. FAIL  a policy is present"),
        "{}",
        run.stdout
    );
    universe(home.path(), &["show", "--store", &redis.url()]).assert_code(1);
}

/// Writes an audit trail whose entries were made `ages` seconds ago, oldest first.
fn write_trail(dir: &Path, entries: &[(i64, &[&str])]) {
    std::fs::create_dir_all(dir).unwrap();
    let now = crate::support::now_ms() / 1000;
    let mut previous = String::new();
    let mut lines = String::new();
    for (age, symbols) in entries {
        let hash = universe::policy::universe_hash(symbols);
        let entry = BTreeMap::from([
            ("created_at_epoch", (now - age).to_string()),
            ("universe_hash", hash.clone()),
            ("universe_symbols", serde_json::to_string(symbols).unwrap()),
            ("previous_universe_hash", previous.clone()),
        ]);
        lines.push_str(&serde_json::to_string(&entry).unwrap());
        lines.push('\n');
        previous = hash;
    }
    std::fs::write(dir.join("audit.jsonl"), lines).unwrap();
}

#[test]
fn diff_hash_lists_changes_and_flags_a_stuck_universe() {
    let home = tempfile::tempdir().unwrap();
    let dir = home.path().join("store");
    let store = format!("file:{}", dir.display());
    let (a, b, c): (&[&str], &[&str], &[&str]) = (
        &["AUSDT", "BUSDT"],
        &["AUSDT", "CUSDT"],
        &["CUSDT", "DUSDT"],
    );
    // 30h ago A,B; 20h ago A,C; 10h ago C,D; then the same every few hours
    write_trail(
        &dir,
        &[
            (30 * 3600, a),
            (20 * 3600, b),
            (10 * 3600, c),
            (7 * 3600, c),
            (3600, c),
        ],
    );

    let run = universe(
        home.path(),
        &[
            "diff-hash",
            "--store",
            &store,
            "--since",
            "24h",
            "--stuck-after",
            "6h",
            "--json",
        ],
    );
    run.assert_code(6);
    assert!(run.stderr.contains("STUCK"), "{}", run.stderr);
    let report = run.json();
    let changes = report["changes"].as_array().unwrap();
    assert_eq!(
        changes.len(),
        2,
        "the change 30h ago is outside --since 24h"
    );
    assert_eq!(changes[0]["added"], serde_json::json!(["CUSDT"]));
    assert_eq!(changes[0]["removed"], serde_json::json!(["BUSDT"]));
    assert_eq!(changes[1]["added"], serde_json::json!(["DUSDT"]));
    assert_eq!(changes[1]["removed"], serde_json::json!(["AUSDT"]));
    assert_eq!(report["summary"]["distinct_hashes"], 2);
    let unchanged = report["summary"]["unchanged_for_s"].as_i64().unwrap();
    assert!(
        (10 * 3600..10 * 3600 + 60).contains(&unchanged),
        "{unchanged}"
    );

    let run = universe(
        home.path(),
        &["diff-hash", "--store", &store, "--stuck-after", "12h"],
    );
    run.assert_code(0);
    assert!(
        run.stdout.contains("2 changes, 2 distinct hashes"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("+[DUSDT] -[AUSDT]"), "{}", run.stdout);
}

#[test]
fn diff_hash_reads_the_redis_trail_the_same_way() {
    let (home, redis, exchange) = published_redis();
    generate(home.path(), &exchange, &redis.url(), &["--top", "4"]).assert_code(0);
    let run = universe(
        home.path(),
        &["diff-hash", "--store", &redis.url(), "--json"],
    );
    run.assert_code(0);
    let report = run.json();
    assert_eq!(
        report["summary"]["changes"], 2,
        "the first publish and the shrink to 4"
    );
    assert_eq!(report["changes"][1]["removed"].as_array().unwrap().len(), 6);
    assert_eq!(report["summary"]["stuck"], false);
    // an empty trail is an error, not a clean bill of health
    let empty = tempfile::tempdir().unwrap();
    let run = universe(
        home.path(),
        &[
            "diff-hash",
            "--store",
            &format!("file:{}", empty.path().display()),
        ],
    );
    run.assert_code(1);
    assert!(
        run.stderr.contains("nothing has been published"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_redis_password_never_appears_in_output() {
    let home = tempfile::tempdir().unwrap();
    let redis = RedisServer::start_with_password("s3cret-pw");
    let exchange = FakeBinance::start(market_now(16));
    let run = generate(home.path(), &exchange, &redis.url(), &[]);
    run.assert_code(0);
    assert!(
        run.stdout
            .contains(&format!("redis://:***@127.0.0.1:{}/0", redis.port)),
        "{}",
        run.stdout
    );
    for args in [vec!["show"], vec!["proof"], vec!["diff-hash"]] {
        let mut args = args.clone();
        let url = redis.url();
        args.extend(["--store", &url]);
        let run = universe(home.path(), &args);
        assert!(
            !run.stdout.contains("s3cret") && !run.stderr.contains("s3cret"),
            "{args:?}"
        );
    }
    let wrong = redis.url().replace("s3cret-pw", "wrong-pw");
    let run = universe(home.path(), &["show", "--store", &wrong]);
    run.assert_code(4);
    assert!(!run.stderr.contains("wrong-pw"), "{}", run.stderr);
}

#[test]
fn control_characters_in_symbol_names_are_escaped_on_a_terminal() {
    let home = tempfile::tempdir().unwrap();
    let mut market = market_now(6);
    // a name with control characters cannot be a symbol: excluded before it is used
    market.listing_mut("S01USDT").symbol = "S01\u{1b}[2JUSDT".into();
    market.listing_mut("S02USDT").symbol = "S02\u{9b}2JUSDT".into();
    let exchange = FakeBinance::start(market);
    let run = universe(home.path(), &["generate", "--base-url", &exchange.url]);
    run.assert_code(0);
    for out in [&run.stdout, &run.stderr] {
        assert!(
            !out.contains('\u{1b}') && !out.contains('\u{9b}'),
            "{out:?}"
        );
    }
    assert!(run.stdout.contains("bad_symbol 2"), "{}", run.stdout);
    assert_eq!(exchange.count("S01"), 0, "no request names it");
    let json = universe(
        home.path(),
        &[
            "generate",
            "--base-url",
            &exchange.url,
            "--dry-run",
            "--json",
        ],
    );
    json.assert_code(0);
    assert!(
        !json.stdout.contains('\u{1b}') && !json.stdout.contains('\u{9b}'),
        "{:?}",
        json.stdout
    );
    assert!(
        json.stdout.contains(r"S02\u009b2JUSDT"),
        "C1 escaped in JSON too"
    );
    let bad = json.json()["symbols"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["symbol"] == "S01\u{1b}[2JUSDT")
        .cloned()
        .unwrap();
    assert_eq!(bad["excluded"], "bad_symbol");
    let explain = universe(
        home.path(),
        &["explain", "--base-url", &exchange.url, "S01\u{1b}[2JUSDT"],
    );
    assert!(
        !explain.stdout.contains('\u{1b}') && explain.stdout.contains("S01\\u{1b}[2JUSDT"),
        "{}",
        explain.stdout
    );
}

#[test]
fn rediss_with_a_private_ca_publishes_and_proves() {
    let home = tempfile::tempdir().unwrap();
    let redis = RedisServer::start_tls();
    let exchange = FakeBinance::start(market_now(16));
    let ca = redis.tls_ca.clone().unwrap();
    let config = crate::support::config_file(
        home.path(),
        &format!("[store]\ntls_ca_file = \"{}\"\n", ca.display()),
    );
    generate(home.path(), &exchange, &redis.url(), &["--config", &config]).assert_code(0);
    let (policy, audits, _) = crate::support::redis_state(&redis);
    assert_eq!(
        (policy["generator"].as_str(), audits),
        ("ai_universe_v1", 1)
    );
    universe(
        home.path(),
        &["proof", "--config", &config, "--store", &redis.url()],
    )
    .assert_code(0);
    // without the CA the server's certificate is not trusted: the store's exit code
    let run = universe(home.path(), &["show", "--store", &redis.url()]);
    run.assert_code(4);
}
