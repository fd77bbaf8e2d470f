//! What other programs write beside ours: trade events, performance records, audit
//! entries. A piece that cannot be read is skipped with a warning that names it; it never
//! stops a refresh (fail closed is for the market, not for a stray field).

use std::collections::BTreeMap;

use crate::support::{FakeBinance, RedisServer, generate, market_now, universe};

fn xadd(con: &mut ::redis::Connection, stream: &str, fields: &[(&str, &[u8])]) -> String {
    let mut cmd = ::redis::cmd("XADD");
    cmd.arg(stream).arg("*");
    for (k, v) in fields {
        cmd.arg(*k).arg(*v);
    }
    cmd.query(con).unwrap()
}

fn trade(symbol: &str, pnl_percent: &str) -> Vec<(&'static str, Vec<u8>)> {
    vec![
        ("event_type", b"trade.closed".to_vec()),
        ("timestamp", b"2026-12-01T07:00:00".to_vec()),
        ("symbol", symbol.as_bytes().to_vec()),
        ("side", b"LONG".to_vec()),
        ("entry_price", b"100.0".to_vec()),
        ("exit_price", b"101.0".to_vec()),
        ("pnl_percent", pnl_percent.as_bytes().to_vec()),
        ("pnl_usd", b"3.0".to_vec()),
    ]
}

fn add_trade(con: &mut ::redis::Connection, symbol: &str, pnl_percent: &str) -> String {
    let fields = trade(symbol, pnl_percent);
    let borrowed: Vec<(&str, &[u8])> = fields.iter().map(|(k, v)| (*k, v.as_slice())).collect();
    xadd(con, "quantum:stream:trade.closed", &borrowed)
}

fn hgetall(con: &mut ::redis::Connection, key: &str) -> BTreeMap<String, String> {
    ::redis::cmd("HGETALL").arg(key).query(con).unwrap()
}

#[test]
fn a_trade_whose_square_would_overflow_stays_pending_and_every_record_stays_a_number() {
    let home = tempfile::tempdir().unwrap();
    let redis = RedisServer::start();
    let exchange = FakeBinance::start(market_now(16));
    let url = redis.url();
    let mut con = redis.connection().unwrap();
    let huge = add_trade(&mut con, "AUSDT", "1e200");
    add_trade(&mut con, "BUSDT", "1.5");
    let run = universe(home.path(), &["perf", "ingest", "--store", &url, "--json"]);
    run.assert_code(0);
    let report = run.json();
    assert_eq!(report["ingested"], 1, "{report}");
    assert_eq!(report["malformed"][0][0], huge.as_str());
    assert!(
        report["malformed"][0][1]
            .as_str()
            .unwrap()
            .contains("pnl_pct 1e200"),
        "{report}"
    );
    assert!(
        run.stderr.contains(&huge),
        "named on stderr: {}",
        run.stderr
    );
    assert!(
        hgetall(&mut con, "quantum:symbol:performance:AUSDT").is_empty(),
        "no record was made from the malformed trade"
    );
    let b = hgetall(&mut con, "quantum:symbol:performance:BUSDT");
    assert_eq!(b["folded_trades"], "1");
    for (name, value) in &b {
        if let Ok(v) = value.parse::<f64>() {
            assert!(v.is_finite(), "{name} {value}");
        }
    }
    // it stays pending, and the next runs keep working
    let again = universe(home.path(), &["perf", "ingest", "--store", &url, "--json"]);
    again.assert_code(0);
    assert_eq!(again.json()["ingested"], 0);
    universe(home.path(), &["perf", "show", "--store", &url]).assert_code(0);
    generate(home.path(), &exchange, &url, &[]).assert_code(0);
}

/// A first publish, then a member's record garbled by another writer, a tracker record
/// with an ISO `last_updated`, and an audit entry with a field that is not UTF-8.
struct Garbled {
    home: tempfile::TempDir,
    redis: RedisServer,
    exchange: FakeBinance,
    member: String,
    entry: String,
}

fn garbled_store() -> Garbled {
    let home = tempfile::tempdir().unwrap();
    let redis = RedisServer::start();
    let exchange = FakeBinance::start(market_now(16));
    let first = generate(home.path(), &exchange, &redis.url(), &["--json"]);
    first.assert_code(0);
    let report = first.json();
    let member = report["universe"][0].as_str().unwrap().to_owned();
    let other = report["universe"][1].as_str().unwrap().to_owned();
    let mut con = redis.connection().unwrap();
    let _: () = ::redis::cmd("HSET")
        .arg(format!("quantum:symbol:performance:{member}"))
        .arg("win_rate")
        .arg("lots")
        .arg("total_trades")
        .arg("40")
        .query(&mut con)
        .unwrap();
    let _: () = ::redis::cmd("HSET")
        .arg(format!("quantum:symbol:performance:{other}"))
        .arg("win_rate")
        .arg("0.5")
        .arg("total_trades")
        .arg("3")
        .arg("last_updated")
        .arg("2026-12-01T07:00:00")
        .query(&mut con)
        .unwrap();
    let entry = xadd(
        &mut con,
        "quantum:stream:policy.audit",
        &[
            ("universe_hash", b"0123456789abcdef"),
            ("note", b"\xff\xfe"),
        ],
    );
    Garbled {
        home,
        redis,
        exchange,
        member,
        entry,
    }
}

#[test]
fn a_garbled_record_or_audit_entry_is_skipped_by_name_and_the_publish_goes_on() {
    let g = garbled_store();
    let (home, url) = (g.home.path(), g.redis.url());
    let record_key = format!("quantum:symbol:performance:{}", g.member);
    for extra in [&["--dry-run"][..], &[]] {
        let run = generate(home, &g.exchange, &url, extra);
        run.assert_code(0);
        assert!(
            run.stderr.contains(&record_key) && run.stderr.contains("win_rate"),
            "the record and its field are named: {}",
            run.stderr
        );
        assert!(
            run.stderr.contains(&g.entry) && run.stderr.contains("note"),
            "the audit entry and its field are named: {}",
            run.stderr
        );
        assert!(
            run.stdout.contains("cannot judge"),
            "rotation says so: {}",
            run.stdout
        );
    }
    // the audit entry of the publish says rotation could not judge the member
    let newest = newest_entry(&g.redis);
    let rotation: serde_json::Value = serde_json::from_str(&newest["rotation"]).unwrap();
    assert_eq!(rotation["unjudged"][0]["symbol"], g.member.as_str());
    let explain = universe(
        home,
        &[
            "explain",
            "--base-url",
            &g.exchange.url,
            "--store",
            &url,
            &g.member,
        ],
    );
    explain.assert_code(0);
    assert!(
        explain.stdout.contains("rotation: cannot judge") && explain.stdout.contains("win_rate"),
        "{}",
        explain.stdout
    );
    let rotation = universe(
        home,
        &["rotation", "--base-url", &g.exchange.url, "--store", &url],
    );
    rotation.assert_code(0);
    assert!(
        rotation.stdout.contains("cannot judge"),
        "{}",
        rotation.stdout
    );
    let show = universe(home, &["perf", "show", "--store", &url]);
    show.assert_code(0);
    assert!(show.stdout.contains("unreadable"), "{}", show.stdout);
    for args in [&["proof"][..], &["diff-hash"], &["show"]] {
        let mut args = args.to_vec();
        args.extend(["--store", &url]);
        universe(home, &args).assert_code(0);
    }
}

#[test]
fn the_file_store_skips_a_line_another_program_wrote() {
    let home = tempfile::tempdir().unwrap();
    let exchange = FakeBinance::start(market_now(16));
    let dir = home.path().join("store");
    let store = format!("file:{}", dir.display());
    generate(home.path(), &exchange, &store, &[]).assert_code(0);
    let audit = dir.join("audit.jsonl");
    let mut bytes = std::fs::read(&audit).unwrap();
    bytes.extend_from_slice(b"{\"note\": \"\xff\"}\n[1, 2]\n");
    std::fs::write(&audit, bytes).unwrap();
    std::fs::write(
        dir.join("performance.json"),
        r#"{"AUSDT": {"win_rate": "lots"}, "BUSDT": 7}"#,
    )
    .unwrap();
    let run = generate(home.path(), &exchange, &store, &[]);
    run.assert_code(0);
    for named in ["audit entry 2", "audit entry 3", "AUSDT: win_rate", "BUSDT"] {
        assert!(run.stderr.contains(named), "{named}: {}", run.stderr);
    }
    universe(home.path(), &["proof", "--store", &store]).assert_code(0);
    universe(home.path(), &["diff-hash", "--store", &store]).assert_code(0);
}

/// The newest audit entry's fields.
fn newest_entry(redis: &RedisServer) -> BTreeMap<String, String> {
    let mut con = redis.connection().unwrap();
    let newest: Vec<(String, BTreeMap<String, String>)> = ::redis::cmd("XREVRANGE")
        .arg("quantum:stream:policy.audit")
        .arg("+")
        .arg("-")
        .arg("COUNT")
        .arg(1)
        .query(&mut con)
        .unwrap();
    newest.into_iter().next().unwrap().1
}

#[test]
fn rollback_republishes_only_an_entry_that_proof_would_pass() {
    let home = tempfile::tempdir().unwrap();
    let redis = RedisServer::start();
    let exchange = FakeBinance::start(market_now(16));
    let url = redis.url();
    let first = generate(home.path(), &exchange, &url, &["--json"]);
    first.assert_code(0);
    let report = first.json();
    let good: Vec<String> = serde_json::from_value(report["universe"].clone()).unwrap();
    let template = newest_entry(&redis);
    let many: Vec<String> = (0..500).map(|i| format!("S{i}USDT")).collect();
    let with_first = |name: &str| {
        let mut symbols = good.clone();
        symbols[0] = name.to_owned();
        symbols
    };
    let twice = {
        let mut symbols = good.clone();
        symbols[1] = symbols[0].clone();
        symbols
    };
    let cases: Vec<(&str, Vec<String>, Option<&str>)> = vec![
        ("a symbol twice", twice, None),
        ("an escape sequence", with_first("\u{1b}[31mEVILUSDT"), None),
        ("a path", with_first("../../etc/passwd"), None),
        ("500 symbols", many, None),
        (
            "a hash that is not its symbols'",
            good.clone(),
            Some("0123456789abcdef"),
        ),
    ];
    let mut con = redis.connection().unwrap();
    for (what, symbols, hash) in cases {
        let hash = hash.map_or_else(|| universe::policy::universe_hash(&symbols), str::to_owned);
        let leverage: BTreeMap<&str, f64> = symbols.iter().map(|s| (s.as_str(), 10.0)).collect();
        let mut forged = template.clone();
        forged.insert("universe_hash".into(), hash.clone());
        forged.insert(
            "universe_symbols".into(),
            serde_json::to_string(&symbols).unwrap(),
        );
        forged.insert(
            "leverage_by_symbol".into(),
            serde_json::to_string(&leverage).unwrap(),
        );
        forged.insert("scores".into(), "{}".into());
        let fields: Vec<(&str, &[u8])> = forged
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_bytes()))
            .collect();
        let id = xadd(&mut con, "quantum:stream:policy.audit", &fields);
        let before = crate::support::redis_state(&redis);
        let run = universe(home.path(), &["rollback", "--to", &hash, "--store", &url]);
        assert_ne!(run.code, 0, "{what}: {}", run.stdout);
        assert!(
            run.stderr.contains(&id) && run.stderr.contains("nothing was written"),
            "{what}: the entry is named: {}",
            run.stderr
        );
        assert_eq!(
            crate::support::redis_state(&redis),
            before,
            "{what}: nothing written"
        );
    }
    // a real entry is still republished, and proof passes it
    let real = report["universe_hash"].as_str().unwrap();
    generate(home.path(), &exchange, &url, &["--top", "5"]).assert_code(0);
    universe(home.path(), &["rollback", "--to", real, "--store", &url]).assert_code(0);
    universe(home.path(), &["proof", "--store", &url]).assert_code(0);
}
