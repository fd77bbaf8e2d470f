//! `generate` end to end: what it publishes, where, and what it says.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::support::{
    FakeBinance, RedisServer, generate, market_now, redis_state, spawn_generate, universe,
};

const REASONS: [(&str, &str); 11] = [
    ("USDCPERPUSDC", "not_usdt_perpetual"),
    ("QUARTERUSDT_261225", "not_usdt_perpetual"),
    ("SETTLINGUSDT", "not_trading"),
    ("DELISTUSDT", "delisting"),
    ("NEWUSDT", "too_new"),
    ("NOTICKERUSDT", "no_ticker"),
    ("ILLIQUIDUSDT", "illiquid"),
    ("CROSSEDUSDT", "bad_book"),
    ("WIDEUSDT", "wide_spread"),
    ("YOUNGUSDT", "insufficient_history"),
    ("ZEROUSDT", "bad_data"),
];

fn by_symbol(report: &Value) -> BTreeMap<String, Value> {
    report["symbols"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["symbol"].as_str().unwrap().to_owned(), s.clone()))
        .collect()
}

#[test]
fn publishes_a_policy_to_redis_that_proof_passes() {
    let home = tempfile::tempdir().unwrap();
    let redis = RedisServer::start();
    let exchange = FakeBinance::start(market_now(16));
    let run = generate(home.path(), &exchange, &redis.url(), &["--json"]);
    run.assert_code(0);
    let report = run.json();

    // every exchangeInfo symbol has exactly one verdict, and each odd one its reason
    let symbols = by_symbol(&report);
    assert_eq!(symbols.len(), 16 + REASONS.len());
    for (symbol, reason) in REASONS {
        assert_eq!(
            symbols[symbol]["excluded"], reason,
            "{symbol}: {}",
            symbols[symbol]
        );
    }
    let exclusions = &report["exclusions"];
    assert_eq!(exclusions["not_usdt_perpetual"], 2);
    assert_eq!(
        exclusions
            .as_object()
            .unwrap()
            .values()
            .map(|v| v.as_u64().unwrap())
            .sum::<u64>(),
        11
    );
    assert_eq!(report["scored_count"], 16);

    // the published hash holds the top 10 in rank order, with their leverage and scores
    let (policy, audit_len, update_len) = redis_state(&redis);
    assert_eq!((audit_len, update_len), (1, 1));
    let universe: Vec<String> = serde_json::from_str(&policy["universe_symbols"]).unwrap();
    assert_eq!(Value::from(universe.clone()), report["universe"]);
    assert_eq!(universe.len(), 10);
    for (rank, symbol) in universe.iter().enumerate() {
        assert_eq!(symbols[symbol]["rank"], rank + 1);
    }
    let leverage: BTreeMap<String, f64> =
        serde_json::from_str(&policy["leverage_by_symbol"]).unwrap();
    let scores: BTreeMap<String, BTreeMap<String, f64>> =
        serde_json::from_str(&policy["scores"]).unwrap();
    for symbol in &universe {
        assert_eq!(Some(leverage[symbol]), symbols[symbol]["leverage"].as_f64());
        assert_eq!(
            Value::from(scores[symbol]["score"]),
            symbols[symbol]["score"]
        );
        let keys: Vec<&str> = scores[symbol].keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "age_days",
                "atr_pct_15m",
                "leverage",
                "mom_15m",
                "mom_1h",
                "quote_volume",
                "score",
                "spread_bps",
                "trend_1h"
            ]
        );
    }
    for (field, value) in [
        ("generator", "ai_universe_v1"),
        ("policy_version", "1.0.0-ai-v1"),
        ("features_window", "15m,1h"),
        ("venue", "binance-futures"),
        ("market", "futures"),
    ] {
        assert_eq!(policy[field], value, "{field}");
    }
    let created: i64 = policy["created_at_epoch"].parse().unwrap();
    let valid_until: i64 = policy["valid_until_epoch"].parse().unwrap();
    assert_eq!(valid_until - created, 3600);
    assert_eq!(
        policy["universe_hash"],
        report["universe_hash"].as_str().unwrap()
    );

    // the hash is sha256 of the sorted symbols joined by commas, as anyone can recompute
    let mut sorted = universe.clone();
    sorted.sort();
    assert_eq!(
        policy["universe_hash"],
        crate::support::sha256_hex(sorted.join(",").as_bytes())[..16]
    );

    universe_cmd(home.path(), &["proof", "--store", &redis.url()]).assert_code(0);

    // one kline request (weight 2) per symbol that passed the cheap filters: the 16
    // healthy ones, YOUNGUSDT and ZEROUSDT; four more for the market overview. No fault
    // is injected, so nothing is retried.
    assert_eq!(report["usage"]["retries"], 0, "{}", report["usage"]);
    assert_eq!(exchange.count("/fapi/v1/klines"), 18);
    assert_eq!(exchange.log().len(), 22);
    let weight = 1 + 1 + 40 + 5 + 18 * 2;
    assert_eq!(u64::from(exchange.peak_used()), weight);
    assert_eq!(report["usage"]["weight"], weight);
}

fn universe_cmd(home: &std::path::Path, args: &[&str]) -> crate::support::Run {
    universe(home, args)
}

#[test]
fn the_audit_entry_and_update_event_describe_each_publish() {
    let home = tempfile::tempdir().unwrap();
    let redis = RedisServer::start();
    let exchange = FakeBinance::start(market_now(16));
    let mut con = redis.connection().unwrap();
    // a field from some older writer: a publish must not leave it behind
    let _: () = ::redis::cmd("HSET")
        .arg("quantum:policy:current")
        .arg("stale_field")
        .arg("x")
        .query(&mut con)
        .unwrap();

    generate(home.path(), &exchange, &redis.url(), &["--top", "5"]).assert_code(0);
    let first = redis_state(&redis).0;
    assert!(
        !first.contains_key("stale_field"),
        "the old hash is replaced whole"
    );
    generate(home.path(), &exchange, &redis.url(), &["--top", "7"]).assert_code(0);
    let second = redis_state(&redis).0;

    let entries: Vec<(String, BTreeMap<String, String>)> = ::redis::cmd("XRANGE")
        .arg("quantum:stream:policy.audit")
        .arg("-")
        .arg("+")
        .query(&mut con)
        .unwrap();
    assert_eq!(entries.len(), 2);
    let audit = &entries[1].1;
    for field in [
        "policy_hash",
        "universe_hash",
        "universe_symbols",
        "valid_until_epoch",
        "created_at_epoch",
        "run_id",
    ] {
        assert_eq!(audit[field], second[field], "{field}");
    }
    assert_eq!(audit["previous_universe_hash"], first["universe_hash"]);
    assert_eq!(audit["universe_count"], "7");
    assert_eq!(audit["generator"], "ai_universe_v1");
    assert_eq!(audit["features_window"], "15m,1h");
    assert_eq!(audit["policy_version"], "1.0.0-ai-v1");
    let first_symbols: Vec<String> = serde_json::from_str(&first["universe_symbols"]).unwrap();
    let second_symbols: Vec<String> = serde_json::from_str(&second["universe_symbols"]).unwrap();
    let added: Vec<String> = serde_json::from_str(&audit["symbols_added"]).unwrap();
    assert_eq!(
        added,
        second_symbols[5..].to_vec(),
        "the top 5 stay, ranks 6 and 7 join"
    );
    assert_eq!(audit["symbols_removed"], "[]");
    assert_eq!(&second_symbols[..5], &first_symbols[..]);
    let exclusions: BTreeMap<String, u32> = serde_json::from_str(&audit["exclusions"]).unwrap();
    assert_eq!(exclusions["bad_data"], 1);
    assert_eq!(exclusions["not_usdt_perpetual"], 2);
    // the second refresh continued the candle cache: weight 1 for 17 symbols, and 2 for
    // YOUNGUSDT, whose short history never covers the window and is fetched cold
    assert_eq!(audit["request_weight"], (47 + 17 + 2).to_string());
    assert_eq!(audit["cache_hits"], "17");
    let (low, high) = audit["leverage_range"].split_once('-').unwrap();
    assert!(low.parse::<u32>().unwrap() >= 6 && high.parse::<u32>().unwrap() <= 15);
    assert!(audit["duration_ms"].parse::<u64>().is_ok());

    let events: Vec<(String, BTreeMap<String, String>)> = ::redis::cmd("XRANGE")
        .arg("quantum:stream:policy.update")
        .arg("-")
        .arg("+")
        .query(&mut con)
        .unwrap();
    assert_eq!(events.len(), 2);
    assert_eq!(events[1].1["event"], "policy.updated");
    assert_eq!(events[1].1["policy_hash"], second["policy_hash"]);
}

#[test]
fn dry_run_touches_no_store() {
    let home = tempfile::tempdir().unwrap();
    let redis = RedisServer::start();
    let exchange = FakeBinance::start(market_now(16));
    let run = generate(home.path(), &exchange, &redis.url(), &["--dry-run"]);
    run.assert_code(0);
    assert!(
        run.stdout.starts_with("dry run: universe "),
        "{}",
        run.stdout
    );
    assert_eq!(redis_state(&redis), (BTreeMap::new(), 0, 0));
    // not even the default file store is created
    universe(
        home.path(),
        &["generate", "--base-url", &exchange.url, "--dry-run"],
    )
    .assert_code(0);
    assert!(!home.path().join("state").exists());
}

#[test]
fn the_default_store_is_the_file_store_in_the_state_folder() {
    let home = tempfile::tempdir().unwrap();
    let exchange = FakeBinance::start(market_now(16));
    let run = universe(home.path(), &["generate", "--base-url", &exchange.url]);
    run.assert_code(0);
    let dir = home.path().join("state/universe");
    assert!(
        run.stdout.contains(&format!("to file:{}", dir.display())),
        "{}",
        run.stdout
    );
    let policy: BTreeMap<String, String> =
        serde_json::from_str(&std::fs::read_to_string(dir.join("policy.json")).unwrap()).unwrap();
    assert_eq!(policy["generator"], "ai_universe_v1");
    assert_eq!(
        policy.len(),
        24,
        "13 fields, the regime, the request stats, harvest_params, kill_params, the 5 metadata fields, data_as_of and next_refresh_epoch"
    );
    let audit = std::fs::read_to_string(dir.join("audit.jsonl")).unwrap();
    assert_eq!(audit.lines().count(), 1);
    universe(home.path(), &["proof"]).assert_code(0);
    // the summary names the universe, its hash, exclusions and what the exchange was asked
    for expected in [
        policy["universe_hash"].as_str(),
        "excluded: not_usdt_perpetual 2",
        "weight 83",
        "rank  symbol",
    ] {
        assert!(
            run.stdout.contains(expected),
            "{expected:?} in\n{}",
            run.stdout
        );
    }
}

#[test]
fn the_same_market_gives_the_same_universe_in_both_stores() {
    let home = tempfile::tempdir().unwrap();
    let redis = RedisServer::start();
    let exchange = FakeBinance::start(market_now(16));
    let dir = home.path().join("files");
    generate(home.path(), &exchange, &redis.url(), &[]).assert_code(0);
    generate(
        home.path(),
        &exchange,
        &format!("file:{}", dir.display()),
        &[],
    )
    .assert_code(0);
    let in_redis = redis_state(&redis).0;
    let in_file: BTreeMap<String, String> =
        serde_json::from_str(&std::fs::read_to_string(dir.join("policy.json")).unwrap()).unwrap();
    assert_eq!(
        in_redis.keys().collect::<Vec<_>>(),
        in_file.keys().collect::<Vec<_>>()
    );
    for field in [
        "universe_symbols",
        "universe_hash",
        "leverage_by_symbol",
        "scores",
    ] {
        assert_eq!(in_redis[field], in_file[field], "{field}");
    }
}

#[test]
fn a_publish_in_between_makes_the_slower_generator_fail_without_writing() {
    let home = tempfile::tempdir().unwrap();
    let redis = RedisServer::start();
    let exchange = FakeBinance::start(market_now(16));
    exchange.fault(
        "symbol=S00USDT",
        Some(1),
        crate::support::Fault::Hang(std::time::Duration::from_millis(1500)),
    );
    let slow = spawn_generate(home.path(), &exchange, &redis.url(), &["--top", "7"]);
    exchange.wait_for("symbol=S00USDT");
    // the faster generator reads the same exchange while the slower one's request hangs
    generate(home.path(), &exchange, &redis.url(), &["--top", "5"]).assert_code(0);
    let fast = redis_state(&redis);

    let run = slow.join().unwrap();
    run.assert_code(4);
    assert!(
        run.stderr.contains("another generator is running"),
        "{}",
        run.stderr
    );
    assert_eq!(redis_state(&redis), fast, "the faster publish stands alone");
}
