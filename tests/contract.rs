//! The contracts of the trading system `universe` replaces: the policy its services load,
//! the `policy.update` event, the `trade.closed` events and performance records other
//! services write, and the lines operators grep. Through the binary, on a real
//! redis-server.

use std::collections::BTreeMap;
use std::process::Command;
use std::time::Duration;

use serde_json::Value;

use crate::support::{
    FakeBinance, RedisServer, config_file, generate, market_now, redis_state, universe,
};

const HARVEST: [(&str, f64); 11] = [
    ("T1_R", 1.8),
    ("T2_R", 3.5),
    ("T3_R", 5.8),
    ("lock_R", 1.2),
    ("be_plus_pct", 0.003),
    ("cost_bps", 12.0),
    ("k_regime_flip", 0.8),
    ("k_sigma_spike", 0.6),
    ("k_ts_drop", 0.4),
    ("k_age_penalty", 0.2),
    ("kill_threshold", 0.55),
];
const KILL: [(&str, f64); 7] = [
    ("trend_min", 0.25),
    ("sigma_ref", 0.012),
    ("sigma_spike_cap", 1.8),
    ("ts_ref", 0.35),
    ("ts_drop_cap", 0.45),
    ("max_age_sec", 72000.0),
    ("k_close_threshold", 0.62),
];

fn json_of(policy: &BTreeMap<String, String>, field: &str) -> Value {
    serde_json::from_str(policy.get(field).unwrap_or_else(|| panic!("no {field}")))
        .unwrap_or_else(|e| panic!("{field} is not JSON: {e}"))
}

fn numbers(value: &Value) -> BTreeMap<String, f64> {
    value
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_f64().unwrap()))
        .collect()
}

fn table(pairs: &[(&str, f64)]) -> BTreeMap<String, f64> {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect()
}

/// sha256 hex of the canonical serialisation, recomputed here from what Redis holds.
fn policy_hash(policy: &BTreeMap<String, String>) -> String {
    let hashed: BTreeMap<&String, &String> =
        policy.iter().filter(|(k, _)| *k != "policy_hash").collect();
    crate::support::sha256_hex(&serde_json::to_vec(&hashed).unwrap())
}

#[test]
fn a_default_generate_meets_the_contract_the_services_load() {
    let home = tempfile::tempdir().unwrap();
    let redis = RedisServer::start();
    let exchange = FakeBinance::start(market_now(16));
    generate(home.path(), &exchange, &redis.url(), &[]).assert_code(0);
    let (policy, _, _) = redis_state(&redis);

    // every field the services' loader requires, parsed as it parses them
    let symbols = json_of(&policy, "universe_symbols");
    let symbols: Vec<&str> = symbols
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect();
    assert_eq!(symbols.len(), 10);
    let leverage = json_of(&policy, "leverage_by_symbol");
    let leverage = leverage.as_object().unwrap();
    assert_eq!(leverage.len(), 10);
    for symbol in &symbols {
        let value = &leverage[*symbol];
        assert!(value.is_f64(), "{symbol}: leverage {value} is not a float");
    }
    assert!(
        policy["leverage_by_symbol"].contains(".0"),
        "written as 6.0"
    );
    assert_eq!(
        numbers(&json_of(&policy, "harvest_params")),
        table(&HARVEST)
    );
    assert_eq!(numbers(&json_of(&policy, "kill_params")), table(&KILL));
    let valid_until: f64 = policy["valid_until_epoch"].parse().unwrap();
    assert!(valid_until > crate::support::now_ms() as f64 / 1000.0);
    assert_eq!(policy["policy_version"], "1.0.0-ai-v1");
    // when its data is from and when the next refresh is due (additive fields)
    let epoch = |field: &str| policy[field].parse::<i64>().unwrap();
    assert!((0..300).contains(&(epoch("created_at_epoch") - epoch("data_as_of"))));
    assert_eq!(
        epoch("next_refresh_epoch"),
        epoch("created_at_epoch") + 1800
    );

    // the metadata the deployed writer adds and its proofs grep
    for (field, value) in [
        ("generator", "ai_universe_v1"),
        ("market", "futures"),
        ("venue", "binance-futures"),
        ("stats_endpoint", "fapi/v1/ticker/24hr"),
        ("exchange_info_endpoint", "fapi/v1/exchangeInfo"),
        ("ticker_24h_endpoint", "fapi/v1/ticker/24hr"),
        ("metadata_ok", "1"),
        ("missing_fields", ""),
    ] {
        assert_eq!(policy[field], value, "{field}");
    }
    // all of it under policy_hash
    assert_eq!(policy["policy_hash"], policy_hash(&policy));

    // the update event carries what the old writer put there, plus the policy's identity
    let mut con = redis.connection().unwrap();
    let events: Vec<(String, BTreeMap<String, String>)> = ::redis::cmd("XRANGE")
        .arg("quantum:stream:policy.update")
        .arg("-")
        .arg("+")
        .query(&mut con)
        .unwrap();
    let event = &events.last().unwrap().1;
    assert_eq!(event["event"], "policy.updated");
    assert_eq!(event["version"], "1.0.0-ai-v1");
    // the moment of the publish: after the policy was made, before now
    let timestamp: f64 = event["timestamp"].parse().unwrap();
    let created: f64 = policy["created_at_epoch"].parse().unwrap();
    let now = crate::support::now_ms() as f64 / 1000.0;
    assert!(
        timestamp >= created && timestamp <= now,
        "{created} ≤ {timestamp} ≤ {now}"
    );
    assert_eq!(event["policy_hash"], policy["policy_hash"]);

    let proof = universe(home.path(), &["proof", "--store", &redis.url()]);
    proof.assert_code(0);
    for line in [
        "PASS  the fields the trading services require are present and parse",
        "PASS  metadata complete",
    ] {
        assert!(proof.stdout.contains(line), "{}", proof.stdout);
    }
}

#[test]
fn exit_params_from_the_config_reach_the_policy_and_its_hash() {
    let home = tempfile::tempdir().unwrap();
    let redis = RedisServer::start();
    let exchange = FakeBinance::start(market_now(16));
    let config = config_file(
        home.path(),
        "[policy.harvest_params]\nT1_R = 2.25\n[policy.kill_params]\nmax_age_sec = 3600\nvol_cap = 0.5\n",
    );
    generate(home.path(), &exchange, &redis.url(), &["--config", &config]).assert_code(0);
    let (policy, _, _) = redis_state(&redis);
    let mut harvest = table(&HARVEST);
    harvest.insert("T1_R".into(), 2.25);
    assert_eq!(numbers(&json_of(&policy, "harvest_params")), harvest);
    let mut kill = table(&KILL);
    kill.insert("max_age_sec".into(), 3600.0);
    kill.insert("vol_cap".into(), 0.5);
    assert_eq!(numbers(&json_of(&policy, "kill_params")), kill);
    assert_eq!(policy["policy_hash"], policy_hash(&policy));
    universe(home.path(), &["proof", "--store", &redis.url()]).assert_code(0);

    // a changed parameter is a changed policy: proof sees it
    let mut con = redis.connection().unwrap();
    let _: () = ::redis::cmd("HSET")
        .arg("quantum:policy:current")
        .arg("harvest_params")
        .arg(policy["harvest_params"].replace("2.25", "9.0"))
        .query(&mut con)
        .unwrap();
    let run = universe(home.path(), &["proof", "--store", &redis.url()]);
    run.assert_code(5);
    assert!(run.stdout.contains("FAIL  policy_hash"), "{}", run.stdout);

    // a parameter that is not a finite number is refused before anything is fetched
    let bad = config_file(home.path(), "[policy.kill_params]\nts_ref = \"high\"\n");
    let run = generate(home.path(), &exchange, &redis.url(), &["--config", &bad]);
    run.assert_code(2);
    assert!(
        run.stderr.contains("policy.kill_params.ts_ref = \"high\"")
            && run.stderr.contains("a number"),
        "{}",
        run.stderr
    );
}

/// A policy as the Python generator published it, with its own `policy_hash` rule
/// (sha256 of `json.dumps(sorted(items), sort_keys=True)`, computed with Python 3.11).
const PYTHON_POLICY: [(&str, &str); 17] = [
    ("universe_symbols", r#"["S00USDT", "S01USDT", "S02USDT"]"#),
    (
        "leverage_by_symbol",
        r#"{"S00USDT": 15.0, "S01USDT": 12.0, "S02USDT": 6.0}"#,
    ),
    (
        "harvest_params",
        r#"{"T1_R": 1.8, "T2_R": 3.5, "T3_R": 5.8, "lock_R": 1.2, "be_plus_pct": 0.003, "cost_bps": 12.0, "k_regime_flip": 0.8, "k_sigma_spike": 0.6, "k_ts_drop": 0.4, "k_age_penalty": 0.2, "kill_threshold": 0.55}"#,
    ),
    (
        "kill_params",
        r#"{"trend_min": 0.25, "sigma_ref": 0.012, "sigma_spike_cap": 1.8, "ts_ref": 0.35, "ts_drop_cap": 0.45, "max_age_sec": 72000.0, "k_close_threshold": 0.62}"#,
    ),
    ("valid_until_epoch", "4102444800.123456"),
    ("policy_version", "1.0.0-ai-v1"),
    ("generator", "ai_universe_v1"),
    ("features_window", "15m,1h"),
    ("universe_hash", "d2d5ba80e018d75e"),
    ("market", "futures"),
    ("stats_endpoint", "fapi/v1/ticker/24hr"),
    ("venue", "binance-futures"),
    ("exchange_info_endpoint", "fapi/v1/exchangeInfo"),
    ("ticker_24h_endpoint", "fapi/v1/ticker/24hr"),
    ("metadata_ok", "1"),
    ("missing_fields", ""),
    (
        "policy_hash",
        "5a27b82a11fe4847ae41aa6b0cbefa732e57e3e155c9e5331a6c2f5bcac11c9d",
    ),
];

#[test]
fn a_policy_the_python_generator_wrote_gets_a_clear_verdict() {
    let home = tempfile::tempdir().unwrap();
    let redis = RedisServer::start();
    let mut con = redis.connection().unwrap();
    let mut hset = ::redis::cmd("HSET");
    hset.arg("quantum:policy:current");
    for (field, value) in PYTHON_POLICY {
        hset.arg(field).arg(value);
    }
    // it wrote with HSET over whatever the key held: a field left by an earlier writer
    hset.arg("run_id").arg("1761220350-0123abcd");
    let _: () = hset.query(&mut con).unwrap();
    // its audit entry, as it wrote them: no run_id
    let _: String = ::redis::cmd("XADD")
        .arg("quantum:stream:policy.audit")
        .arg("*")
        .arg("policy_version")
        .arg("1.0.0-ai-v1")
        .arg("policy_hash")
        .arg(PYTHON_POLICY[16].1)
        .arg("universe_hash")
        .arg("d2d5ba80e018d75e")
        .arg("generator")
        .arg("ai_universe_v1")
        .query(&mut con)
        .unwrap();

    let proof = universe(home.path(), &["proof", "--store", &redis.url()]);
    proof.assert_code(0);
    assert!(
        proof.stdout.contains("by the Python generator's rule")
            && proof
                .stdout
                .contains("not covered, left by an earlier writer: run_id")
            && proof
                .stdout
                .contains("has this policy_hash and universe_hash")
            && proof.stdout.contains("2100-01-01T00:00:00Z")
            && proof.stdout.contains("all 12 checks passed"),
        "{}",
        proof.stdout
    );
    let show = universe(home.path(), &["show", "--store", &redis.url()]);
    show.assert_code(0);
    assert!(
        show.stdout.contains("S02USDT") && show.stdout.contains("(no scores)"),
        "{}",
        show.stdout
    );
    assert!(
        show.stdout.contains("made at an unrecorded time"),
        "{}",
        show.stdout
    );
    let json = universe(home.path(), &["show", "--store", &redis.url(), "--json"]).json();
    assert_eq!(json["valid_until_epoch"], 4_102_444_800_i64);
    assert_eq!(json["symbols"][2]["leverage"], 6.0);

    // a tampered one fails on the hash, whichever rule made it
    let _: () = ::redis::cmd("HSET")
        .arg("quantum:policy:current")
        .arg("kill_params")
        .arg("{}")
        .query(&mut con)
        .unwrap();
    let proof = universe(home.path(), &["proof", "--store", &redis.url()]);
    proof.assert_code(5);
    assert!(
        proof.stdout.contains("FAIL  policy_hash"),
        "{}",
        proof.stdout
    );
}

#[test]
fn generate_writes_the_lines_operators_grep() {
    let home = tempfile::tempdir().unwrap();
    let exchange = FakeBinance::start(market_now(16));
    let store = format!("file:{}", home.path().join("store").display());
    for extra in [&[][..], &["--dry-run"][..]] {
        let mut args = vec!["--json"];
        args.extend_from_slice(extra);
        let run = generate(home.path(), &exchange, &store, &args);
        run.assert_code(0);
        let report = run.json();
        let guardrails: Vec<&str> = run
            .stderr
            .lines()
            .filter(|l| l.starts_with("AI_UNIVERSE_GUARDRAILS "))
            .collect();
        assert_eq!(guardrails.len(), 1, "{}", run.stderr);
        let keys: BTreeMap<&str, &str> = guardrails[0]
            .split(' ')
            .skip(1)
            .map(|kv| kv.split_once('=').unwrap())
            .collect();
        let scored = report["scored_count"].as_u64().unwrap().to_string();
        assert_eq!(keys["scored"], scored);
        assert_eq!(keys["selected"], "10");
        assert_eq!(keys["min_qv_usdt"], "20000000");
        assert_eq!(keys["stats_endpoint"], "fapi/v1/ticker/24hr");
        let total = report["symbols"].as_array().unwrap().len().to_string();
        assert_eq!(keys["total"], total);
        let passed = |k: &str| keys[k].parse::<u64>().unwrap();
        assert!(passed("age_ok") >= passed("vol_ok") && passed("vol_ok") >= passed("spread_ok"));
        assert!(passed("spread_ok") >= passed("scored"));

        let picks: Vec<&str> = run
            .stderr
            .lines()
            .filter(|l| l.starts_with("AI_UNIVERSE_PICK "))
            .map(|l| l.split(' ').nth(1).unwrap().trim_start_matches("symbol="))
            .collect();
        let universe: Vec<&str> = report["universe"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap())
            .collect();
        assert_eq!(picks, universe, "one pick per member, in rank order");
    }
}

fn trade_closed(con: &mut ::redis::Connection, fields: &[(&str, String)]) {
    let mut cmd = ::redis::cmd("XADD");
    cmd.arg("quantum:stream:trade.closed").arg("*");
    for (k, v) in fields {
        cmd.arg(*k).arg(v);
    }
    let _: String = cmd.query(con).unwrap();
}

/// A `trade.closed` event as the deployed executors write it.
fn deployed_event(symbol: &str, pnl_percent: f64, i: usize) -> Vec<(&'static str, String)> {
    let timestamp = if i.is_multiple_of(2) {
        format!("2026-03-15T07:{:02}:{:02}.123456", i / 60 % 60, i % 60)
    } else {
        format!("{}", 1_773_559_629 + i)
    };
    vec![
        ("event_type", "trade.closed".into()),
        ("timestamp", timestamp),
        ("symbol", symbol.into()),
        (
            "side",
            if i.is_multiple_of(3) { "SHORT" } else { "LONG" }.into(),
        ),
        ("entry_price", "100.0".into()),
        ("exit_price", format!("{}", 100.0 + pnl_percent)),
        ("pnl_percent", format!("{pnl_percent}")),
        ("confidence", "0.7".into()),
        ("model_id", "autonomous_exit".into()),
        ("R_net", "0.5".into()),
        ("pnl_usd", format!("{}", pnl_percent * 3.0)),
        ("reason", "harvest".into()),
        ("order_id", format!("{i}")),
        ("source", "intent_executor_harvest".into()),
    ]
}

fn hgetall(con: &mut ::redis::Connection, key: &str) -> BTreeMap<String, String> {
    ::redis::cmd("HGETALL").arg(key).query(con).unwrap()
}

fn folded(con: &mut ::redis::Connection, symbols: &[&str]) -> u64 {
    symbols
        .iter()
        .map(|s| {
            hgetall(con, &format!("quantum:symbol:performance:{s}"))
                .get("folded_trades")
                .map_or(0, |n| n.parse::<u64>().unwrap())
        })
        .sum()
}

#[test]
fn deployed_trade_events_are_ingested_once_across_a_kill_and_a_restart_under_another_name() {
    let home = tempfile::tempdir().unwrap();
    let redis = RedisServer::start();
    let url = redis.url();
    let mut con = redis.connection().unwrap();
    let symbols = ["AUSDT", "BUSDT"];
    let trades = 1200;
    for i in 0..trades {
        let pnl = if i % 4 == 0 { -2.0 } else { 1.0 };
        trade_closed(&mut con, &deployed_event(symbols[i % 2], pnl, i));
    }

    // host-a is killed mid-way
    let mut child = Command::new(env!("CARGO_BIN_EXE_universe"))
        .args(["perf", "ingest", "--batch", "1", "--consumer", "host-a"])
        .args(["--store", &url])
        .env("HOME", home.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    while folded(&mut con, &symbols) < 50 && started.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let partial = folded(&mut con, &symbols);
    assert!(partial > 0 && partial < trades as u64, "{partial}");
    // …and once more right after reading a batch, before folding it: 30 entries stranded
    let _: ::redis::Value = ::redis::cmd("XREADGROUP")
        .arg("GROUP")
        .arg("universe")
        .arg("host-a")
        .arg("COUNT")
        .arg(30)
        .arg("STREAMS")
        .arg("quantum:stream:trade.closed")
        .arg(">")
        .query(&mut con)
        .unwrap();

    // restarted as host-b: by default a batch idle for minutes only is not taken over…
    let ingest = |extra: &[&str]| {
        let mut args = vec![
            "perf",
            "ingest",
            "--consumer",
            "host-b",
            "--store",
            &url,
            "--json",
        ];
        args.extend_from_slice(extra);
        universe(home.path(), &args)
    };
    let run = ingest(&[]);
    run.assert_code(0);
    let first = run.json();
    assert_eq!(first["claimed"], 0);
    let stranded = trades as u64 - partial - first["ingested"].as_u64().unwrap();
    assert!(stranded >= 30, "{stranded}");
    // …once it has been idle that long, it is claimed, said so, and folded exactly once
    let run = ingest(&["--claim-idle", "0s"]);
    run.assert_code(0);
    let second = run.json();
    assert_eq!(second["claimed"].as_u64().unwrap(), stranded);
    assert_eq!(second["claimed_from"], serde_json::json!(["host-a"]));
    assert_eq!(second["ingested"].as_u64().unwrap(), stranded);
    assert!(
        run.stderr.contains("claimed") && run.stderr.contains("host-a"),
        "{}",
        run.stderr
    );
    assert_eq!(folded(&mut con, &symbols), trades as u64);
    let pending: Vec<::redis::Value> = ::redis::cmd("XPENDING")
        .arg("quantum:stream:trade.closed")
        .arg("universe")
        .query(&mut con)
        .unwrap();
    let pending: u64 = ::redis::from_redis_value(pending[0].clone()).unwrap();
    assert_eq!(pending, 0, "nothing left pending");

    // the figures of the deployed events: AUSDT has every even trade, a quarter of them losing
    let a = hgetall(&mut con, "quantum:symbol:performance:AUSDT");
    assert_eq!(a["total_trades"], "600");
    let wins = (0..trades).filter(|i| i % 2 == 0 && i % 4 != 0).count();
    assert_eq!(a["win_rate"].parse::<f64>().unwrap(), wins as f64 / 600.0);
    let pnl_usd: f64 = (0..trades)
        .filter(|i| i % 2 == 0)
        .map(|i| if i % 4 == 0 { -6.0 } else { 3.0 })
        .sum();
    assert!((a["total_pnl"].parse::<f64>().unwrap() - pnl_usd).abs() < 1e-6);
}

#[test]
fn a_deployed_event_missing_a_required_field_stays_pending_and_is_named() {
    let home = tempfile::tempdir().unwrap();
    let redis = RedisServer::start();
    let mut con = redis.connection().unwrap();
    let mut event = deployed_event("AUSDT", 1.0, 0);
    event.retain(|(k, _)| *k != "pnl_percent");
    trade_closed(&mut con, &event);
    trade_closed(&mut con, &deployed_event("AUSDT", 1.0, 1));
    let run = universe(
        home.path(),
        &["perf", "ingest", "--store", &redis.url(), "--json"],
    );
    run.assert_code(0);
    let report = run.json();
    assert_eq!(report["ingested"], 1);
    assert_eq!(report["malformed"][0][1], "no pnl_percent");
    assert!(run.stderr.contains("no pnl_percent"), "{}", run.stderr);
}

/// The performance tracker's record of a symbol, as it writes it.
const TRACKER: [(&str, &str); 8] = [
    ("win_rate", "0.3"),
    ("avg_pnl_pct", "-0.42"),
    ("sharpe_ratio", "-0.8"),
    ("total_trades", "24"),
    ("winning_trades", "7"),
    ("losing_trades", "17"),
    ("total_pnl_usdt", "-133.7"),
    ("last_updated", "1773559000"),
];

#[test]
fn the_trackers_fields_survive_ingest_and_record_and_eviction_reads_them_alone() {
    let home = tempfile::tempdir().unwrap();
    let redis = RedisServer::start();
    let exchange = FakeBinance::start(market_now(16));
    let url = redis.url();
    // a first refresh, to know a member of the universe
    let report = generate(home.path(), &exchange, &url, &["--json"]);
    report.assert_code(0);
    let member = report.json()["universe"][0].as_str().unwrap().to_owned();
    let key = format!("quantum:symbol:performance:{member}");
    let mut con = redis.connection().unwrap();
    let mut hset = ::redis::cmd("HSET");
    hset.arg(&key);
    for (k, v) in TRACKER {
        hset.arg(k).arg(v);
    }
    let _: () = hset.query(&mut con).unwrap();

    // eviction judges the tracker's record alone, on win rate, and says so
    let run = generate(home.path(), &exchange, &url, &["--json"]);
    run.assert_code(0);
    let evict = &run.json()["rotation"]["evict"];
    let evicted = evict
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["symbol"] == member.as_str())
        .unwrap_or_else(|| panic!("{member} not recommended for eviction: {evict}"));
    let why = evicted["why"].as_str().unwrap();
    assert!(
        why.contains("win_rate 0.300 < 0.4 over 24 trades")
            && why.contains("judged on win rate alone"),
        "{why}"
    );
    assert_eq!(evicted["max_drawdown"], Value::Null);

    // neither ingest nor record touches a field the tracker writes
    for i in 0..5 {
        trade_closed(&mut con, &deployed_event(&member, -3.0, i));
    }
    universe(home.path(), &["perf", "ingest", "--store", &url]).assert_code(0);
    let record = universe(
        home.path(),
        &[
            "perf",
            "record",
            &member,
            "--win-rate",
            "0.9",
            "--total-pnl",
            "10",
            "--max-drawdown",
            "0.05",
            "--trades",
            "50",
            "--store",
            &url,
        ],
    );
    record.assert_code(0);
    assert!(
        record.stderr.contains("also written by another service"),
        "{}",
        record.stderr
    );
    let fields = hgetall(&mut con, &key);
    for (k, v) in TRACKER {
        assert_eq!(fields[k], v, "the tracker's {k}");
    }
    assert_eq!(
        fields["max_drawdown"], "0.05",
        "universe's own field was set"
    );
    let shown = universe(
        home.path(),
        &["perf", "show", &member, "--store", &url, "--json"],
    )
    .json();
    assert_eq!(shown[&member]["shared"], true);
    assert_eq!(shown[&member]["win_rate"], 0.3);
}

#[test]
fn the_hybrid_score_multiplies_by_the_performance_factor_when_asked() {
    let home = tempfile::tempdir().unwrap();
    let redis = RedisServer::start();
    let exchange = FakeBinance::start(market_now(16));
    let url = redis.url();
    let plain = generate(home.path(), &exchange, &url, &["--dry-run", "--json"]).json();
    let scored: Vec<&Value> = plain["symbols"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["score"].is_number())
        .collect();
    let last = scored.last().unwrap();
    let symbol = last["symbol"].as_str().unwrap();
    // every trade won, nothing else known: 0.5·(0.5 + 0.9) + 0.3·1 + 0.2·1 = 1.2
    let mut con = redis.connection().unwrap();
    let _: () = ::redis::cmd("HSET")
        .arg(format!("quantum:symbol:performance:{symbol}"))
        .arg("win_rate")
        .arg("1.0")
        .arg("total_trades")
        .arg("8")
        .query(&mut con)
        .unwrap();
    let off = generate(home.path(), &exchange, &url, &["--dry-run", "--json"]).json();
    assert_eq!(off["symbols"], plain["symbols"], "off by default");

    let config = config_file(home.path(), "[score]\nhybrid = true\n");
    let on = generate(
        home.path(),
        &exchange,
        &url,
        &["--dry-run", "--json", "--config", &config],
    )
    .json();
    let found = on["symbols"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["symbol"] == symbol)
        .unwrap();
    assert_eq!(found["hybrid_factor"], 1.2);
    let expected = last["score"].as_f64().unwrap() * 1.2;
    assert!((found["score"].as_f64().unwrap() - expected).abs() < 1e-9);
    // fewer trades than hybrid_min_trades: the score is left alone
    let config = config_file(
        home.path(),
        "[score]\nhybrid = true\nhybrid_min_trades = 9\n",
    );
    let few = generate(
        home.path(),
        &exchange,
        &url,
        &["--dry-run", "--json", "--config", &config],
    )
    .json();
    assert_eq!(few["symbols"], plain["symbols"]);
}
