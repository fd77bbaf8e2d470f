//! What a hostile exchange or proxy, a broken Redis, a full disk and a closed pipe do:
//! each must end in a clear exit code with nothing half-written.

use std::process::{Command, Stdio};

use crate::support::{
    FakeBinance, Fault, RedisServer, generate, market_now, redis_state, universe,
};

/// Everything Redis holds, for "nothing changed" comparisons with keys of any type.
fn dump(redis: &RedisServer) -> Vec<(String, String)> {
    let mut con = redis.connection().unwrap();
    let mut keys: Vec<String> = ::redis::cmd("KEYS").arg("*").query(&mut con).unwrap();
    keys.sort();
    keys.into_iter()
        .map(|k| {
            let value: Vec<u8> = ::redis::cmd("DUMP").arg(&k).query(&mut con).unwrap();
            (k, format!("{value:?}"))
        })
        .collect()
}

#[test]
fn a_publish_over_a_key_of_the_wrong_type_writes_nothing() {
    for key in [
        "quantum:policy:current",
        "quantum:stream:policy.audit",
        "quantum:stream:policy.update",
    ] {
        let home = tempfile::tempdir().unwrap();
        let redis = RedisServer::start();
        let exchange = FakeBinance::start(market_now(16));
        // a first policy, then a foreign writer leaves one key as a string
        generate(home.path(), &exchange, &redis.url(), &[]).assert_code(0);
        let mut con = redis.connection().unwrap();
        let _: () = ::redis::cmd("DEL").arg(key).query(&mut con).unwrap();
        let _: () = ::redis::cmd("SET")
            .arg(key)
            .arg("foreign")
            .query(&mut con)
            .unwrap();
        let before = dump(&redis);
        let run = generate(home.path(), &exchange, &redis.url(), &["--top", "5"]);
        run.assert_code(4);
        assert!(
            run.stderr.contains(&format!("{key} holds a string")),
            "{key}: {}",
            run.stderr
        );
        assert_eq!(dump(&redis), before, "{key}: nothing was written");
    }
}

/// Runs the binary with its file size limited to `blocks` kB (SIGXFSZ ignored, so a write
/// past the limit fails with EFBIG, as on a full disk).
fn with_file_limit(home: &std::path::Path, blocks: u32, args: &[&str]) -> (i32, String) {
    let script = format!("trap '' XFSZ; ulimit -f {blocks}; exec \"$0\" \"$@\"");
    let out = Command::new("bash")
        .arg("-c")
        .arg(script)
        .arg(env!("CARGO_BIN_EXE_universe"))
        .args(args)
        .env("HOME", home)
        .env_remove("UNIVERSE_STORE")
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_full_disk_never_leaves_a_torn_audit_line_and_a_torn_line_never_bricks_the_store() {
    let home = tempfile::tempdir().unwrap();
    let exchange = FakeBinance::start(market_now(16));
    let dir = home.path().join("store");
    let store = format!("file:{}", dir.display());
    generate(home.path(), &exchange, &store, &[]).assert_code(0);
    let audit = dir.join("audit.jsonl");
    let before = std::fs::read(&audit).unwrap();
    let policy_before = std::fs::read(dir.join("policy.json")).unwrap();
    // room for the policy file, not for a second audit line
    let blocks = (before.len() * 3 / 2 / 1024) as u32;
    let args = ["generate", "--base-url", &exchange.url, "--store", &store];
    let (code, stderr) = with_file_limit(home.path(), blocks, &args);
    assert_eq!(code, 4, "{stderr}");
    assert!(stderr.contains("appending to"), "{stderr}");
    assert_eq!(
        std::fs::read(&audit).unwrap(),
        before,
        "the append was taken back"
    );
    assert_eq!(
        std::fs::read(dir.join("policy.json")).unwrap(),
        policy_before
    );
    universe(home.path(), &["proof", "--store", &store]).assert_code(0);

    // a crash mid-append leaves a torn line: proof ignores it and says so, the next
    // publish removes it and says so
    let mut torn = before.clone();
    torn.extend_from_slice(br#"{"policy_hash":"abc","univ"#);
    std::fs::write(&audit, &torn).unwrap();
    let proof = universe(home.path(), &["proof", "--store", &store]);
    proof.assert_code(0);
    assert!(proof.stderr.contains("torn line"), "{}", proof.stderr);
    let run = generate(home.path(), &exchange, &store, &[]);
    run.assert_code(0);
    assert!(
        run.stderr.contains("torn line of 26 bytes") && run.stderr.contains("removed it"),
        "{}",
        run.stderr
    );
    let text = std::fs::read_to_string(&audit).unwrap();
    assert_eq!(text.lines().count(), 2);
    assert!(text.ends_with('\n'));
    universe(home.path(), &["proof", "--store", &store]).assert_code(0);
}

#[test]
fn a_gzip_bomb_is_refused_as_too_large_for_every_endpoint() {
    for (endpoint, code) in [
        ("/fapi/v1/exchangeInfo", 3),
        ("/fapi/v1/ticker/24hr", 3),
        ("symbol=S00USDT", 0),
    ] {
        let home = tempfile::tempdir().unwrap();
        let exchange = FakeBinance::start(market_now(64));
        // 64 MB inflated from about 64 kB on the wire
        exchange.fault(endpoint, None, Fault::GzipBomb(64 << 20));
        let store = format!("file:{}", home.path().join("store").display());
        let run = generate(home.path(), &exchange, &store, &["--json"]);
        run.assert_code(code);
        if code == 0 {
            let report = run.json();
            let s00 = report["symbols"]
                .as_array()
                .unwrap()
                .iter()
                .find(|s| s["symbol"] == "S00USDT")
                .unwrap()
                .clone();
            assert_eq!(s00["excluded"], "fetch_failed");
            assert!(
                s00["detail"].as_str().unwrap().contains("too large"),
                "{s00}"
            );
        } else {
            assert!(
                run.stderr.contains("too large"),
                "{endpoint}: {}",
                run.stderr
            );
        }
    }
}

#[test]
fn duplicated_records_are_published_once_and_contradicting_ones_excluded() {
    let home = tempfile::tempdir().unwrap();
    let exchange = FakeBinance::start(market_now(16));
    let store = format!("file:{}", home.path().join("store").display());
    let first = generate(home.path(), &exchange, &store, &["--dry-run", "--json"]).json();
    let top = first["universe"][0].as_str().unwrap().to_owned();
    let second = first["universe"][1].as_str().unwrap().to_owned();
    // the exchange lists the top symbol twice, identically, and the second twice, as
    // TRADING and as SETTLING
    {
        let mut market = exchange.market.lock().unwrap();
        let twin = market.listing(&top).unwrap().clone();
        market.listings.push(twin);
        let mut settling = market.listing(&second).unwrap().clone();
        settling.status = "SETTLING";
        settling.quote_volume = None;
        settling.book = None;
        market.listings.push(settling);
    }
    let run = generate(home.path(), &exchange, &store, &["--json"]);
    run.assert_code(0);
    let report = run.json();
    let universe: Vec<&str> = report["universe"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect();
    assert_eq!(
        universe.iter().filter(|s| **s == top).count(),
        1,
        "{universe:?}"
    );
    assert!(!universe.contains(&second.as_str()), "{universe:?}");
    let verdict = report["symbols"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["symbol"] == second.as_str())
        .unwrap()
        .clone();
    assert_eq!(verdict["excluded"], "conflicting_records");
    assert!(
        verdict["detail"].as_str().unwrap().contains("SETTLING"),
        "{verdict}"
    );
    assert_eq!(
        report["scored_count"],
        first["scored_count"].as_u64().unwrap() - 1
    );
    universe_proof(home.path(), &store);
}

fn universe_proof(home: &std::path::Path, store: &str) {
    universe(home, &["proof", "--store", store]).assert_code(0);
}

#[test]
fn a_body_of_the_wrong_shape_fails_closed() {
    for (endpoint, body) in [
        ("/fapi/v1/time", "[1761220350000]"),
        (
            "/fapi/v1/exchangeInfo",
            r#"[{"rateLimits":[]},{"symbols":[]}]"#,
        ),
    ] {
        let home = tempfile::tempdir().unwrap();
        let exchange = FakeBinance::start(market_now(16));
        exchange.fault(endpoint, None, Fault::Body(body.into()));
        let redis = RedisServer::start();
        let run = generate(home.path(), &exchange, &redis.url(), &[]);
        run.assert_code(3);
        assert!(run.stderr.contains("expected an object"), "{}", run.stderr);
        assert_eq!(redis_state(&redis).1, 0, "nothing published");
    }
}

#[test]
fn the_used_weight_is_learned_before_the_heavy_requests() {
    let home = tempfile::tempdir().unwrap();
    let exchange = FakeBinance::start(market_now(16));
    exchange.set_base_used(2290);
    let store = format!("file:{}", home.path().join("store").display());
    let run = generate(
        home.path(),
        &exchange,
        &store,
        &["--weight-budget", "2300", "--deadline", "5"],
    );
    run.assert_code(3);
    assert!(
        exchange.peak_used() <= 2300,
        "peak {}",
        exchange.peak_used()
    );
    assert_eq!(
        exchange.count("/fapi/v1/ticker/24hr"),
        0,
        "the heavy ticker waited"
    );
    assert!(
        run.stderr.contains("for room in the exchange's count"),
        "{}",
        run.stderr
    );
}

#[test]
fn the_limit_the_exchange_states_caps_the_budget() {
    let home = tempfile::tempdir().unwrap();
    let mut market = market_now(16);
    market.weight_limit = 500;
    let exchange = FakeBinance::start(market);
    exchange.set_base_used(470);
    let store = format!("file:{}", home.path().join("store").display());
    let run = generate(
        home.path(),
        &exchange,
        &store,
        &["--weight-budget", "2400", "--deadline", "5"],
    );
    run.assert_code(3);
    assert!(exchange.peak_used() <= 500, "peak {}", exchange.peak_used());
    assert!(run.stderr.contains("of 500 used"), "{}", run.stderr);
}

#[test]
fn a_ban_is_reported_as_a_ban_with_its_retry_after() {
    let home = tempfile::tempdir().unwrap();
    let exchange = FakeBinance::start(market_now(16));
    exchange.fault("/fapi/v1/ticker/24hr", None, Fault::Banned);
    let store = format!("file:{}", home.path().join("store").display());
    let run = generate(home.path(), &exchange, &store, &[]);
    run.assert_code(3);
    assert!(
        run.stderr.contains("418 (IP banned for 120s)"),
        "{}",
        run.stderr
    );
}

#[test]
fn an_exchange_error_body_cannot_reach_the_terminal_raw() {
    let home = tempfile::tempdir().unwrap();
    let exchange = FakeBinance::start(market_now(16));
    exchange.fault(
        "/fapi/v1/exchangeInfo",
        None,
        Fault::StatusBody(400, "{\"msg\":\"\u{1b}]0;pwned\u{7}\u{9b}2J\"}".into()),
    );
    let store = format!("file:{}", home.path().join("store").display());
    let run = generate(home.path(), &exchange, &store, &[]);
    run.assert_code(3);
    for raw in ['\u{1b}', '\u{7}', '\u{9b}'] {
        assert!(!run.stderr.contains(raw), "{:?}", run.stderr);
    }
    assert!(
        run.stderr.contains("\\u{1b}]0;pwned\\u{7}"),
        "{}",
        run.stderr
    );
}

/// Runs the binary with its stdout closed before it writes: exit code and stderr.
fn with_closed_stdout(home: &std::path::Path, args: &[&str]) -> (i32, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_universe"))
        .args(args)
        .env("HOME", home)
        .env_remove("UNIVERSE_STORE")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_closed_stdout_ends_quietly_with_the_commands_own_exit_code() {
    let home = tempfile::tempdir().unwrap();
    let exchange = FakeBinance::start(market_now(16));
    let store = format!("file:{}", home.path().join("store").display());
    let flags = ["--base-url", &exchange.url, "--store", &store];
    let mut generate_json = vec!["generate", "--json"];
    generate_json.extend(flags);
    let (code, stderr) = with_closed_stdout(home.path(), &generate_json);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        !stderr.contains("Broken pipe") && !stderr.contains("error"),
        "{stderr}"
    );
    for (args, expected) in [
        (vec!["show", "--store", &store], 0),
        (vec!["show", "--json", "--store", &store], 0),
        (vec!["proof", "--store", &store], 0),
        (vec!["proof", "--json", "--store", &store], 0),
        (vec!["diff-hash", "--store", &store], 0),
        (vec!["config"], 0),
        (vec!["config", "--json"], 0),
        (vec!["proof", "--store", "file:/nonexistent/nothing"], 5),
    ] {
        let (code, stderr) = with_closed_stdout(home.path(), &args);
        assert_eq!(code, expected, "{args:?}: {stderr}");
        assert!(!stderr.contains("Broken pipe"), "{args:?}: {stderr}");
    }
    let mut explain = vec!["explain", "--json", "S00USDT"];
    explain.extend(flags);
    assert_eq!(with_closed_stdout(home.path(), &explain).0, 0);
}

#[test]
fn a_stale_market_is_never_published_as_fresh() {
    for (hours, shown) in [(6, "6h 0m"), (24, "1d 0h")] {
        let home = tempfile::tempdir().unwrap();
        // a frozen mirror: the exchange's clock and candles hours behind
        let stale = crate::support::now_ms() - hours * 3_600_000;
        let exchange = FakeBinance::start(crate::support::Market::generate(stale, 16, 7));
        let redis = RedisServer::start();
        let run = generate(home.path(), &exchange, &redis.url(), &[]);
        run.assert_code(3);
        assert!(
            run.stderr.contains(&format!("data is {shown} old"))
                && run.stderr.contains("--max-data-age 300s"),
            "{}",
            run.stderr
        );
        assert_eq!(redis_state(&redis).1, 0, "nothing published");
        assert_eq!(
            exchange.count("/fapi/v1/klines"),
            0,
            "no candle weight spent"
        );
        // 0 turns the check off
        generate(
            home.path(),
            &exchange,
            &redis.url(),
            &["--max-data-age", "0"],
        )
        .assert_code(0);
    }
}

#[test]
fn a_snapshot_replay_of_old_data_is_allowed_and_marked_as_a_replay() {
    let home = tempfile::tempdir().unwrap();
    let store = home.path().join("store");
    let snapshot = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/snapshot");
    let run = universe(
        home.path(),
        &[
            "generate",
            "--source",
            snapshot,
            "--store",
            &format!("file:{}", store.display()),
        ],
    );
    run.assert_code(0);
    let audit: serde_json::Value = serde_json::from_str(
        std::fs::read_to_string(store.join("audit.jsonl"))
            .unwrap()
            .trim(),
    )
    .unwrap();
    assert_eq!(audit["replay"], "true");
    assert!(
        audit["data_age_s"]
            .as_str()
            .unwrap()
            .parse::<i64>()
            .unwrap()
            > 86_400
    );
}

fn temp_files(dir: &std::path::Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "tmp"))
                .map(|p| p.display().to_string())
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn stale_cache_temp_files_are_swept_and_a_stopped_run_leaves_none() {
    use std::os::unix::process::ExitStatusExt as _;
    let home = tempfile::tempdir().unwrap();
    let exchange = FakeBinance::start(market_now(16));
    let store_dir = home.path().join("store");
    let cache = store_dir.join("cache");
    std::fs::create_dir_all(&cache).unwrap();
    // one left by a process that is gone, one of a process still running (this one)
    let dead = cache.join("S00USDT.candles.4000000000.tmp");
    let alive = cache.join(format!("S01USDT.candles.{}.tmp", std::process::id()));
    std::fs::write(&dead, "half a file").unwrap();
    std::fs::write(&alive, "being written").unwrap();
    let store = format!("file:{}", store_dir.display());
    generate(home.path(), &exchange, &store, &[]).assert_code(0);
    assert!(!dead.exists(), "the dead run's temp file is swept");
    assert!(alive.exists(), "a live run's temp file is left alone");
    std::fs::remove_file(&alive).unwrap();

    // SIGTERM in the middle of the candle fetches: the run dies of it, no temp file stays
    std::fs::remove_dir_all(&cache).unwrap();
    exchange.fault(
        "symbol=S07USDT",
        Some(1),
        Fault::Hang(std::time::Duration::from_secs(5)),
    );
    let child = Command::new(env!("CARGO_BIN_EXE_universe"))
        .args(["generate", "--base-url", &exchange.url, "--store", &store])
        .env("HOME", home.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    exchange.wait_for("symbol=S07USDT");
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = child.wait_with_output().unwrap().status;
    assert_eq!(status.signal(), Some(15), "{status:?}");
    assert_eq!(temp_files(&cache), Vec::<String>::new());
}

#[test]
fn an_unwritable_store_is_found_before_the_exchange_is_asked() {
    let home = tempfile::tempdir().unwrap();
    let exchange = FakeBinance::start(market_now(16));
    let blocker = home.path().join("a-file");
    std::fs::write(&blocker, "not a folder").unwrap();
    let store = format!("file:{}", blocker.join("store").display());
    let run = generate(home.path(), &exchange, &store, &[]);
    run.assert_code(4);
    assert_eq!(exchange.log().len(), 0, "no exchange weight spent");
}

#[test]
fn a_failed_snapshot_leaves_nothing_behind_and_can_be_run_again() {
    let home = tempfile::tempdir().unwrap();
    let exchange = FakeBinance::start(market_now(16));
    exchange.fault("/fapi/v1/ticker/24hr", Some(4), Fault::Status(503));
    let out = home.path().join("snap");
    let args = [
        "snapshot",
        "--base-url",
        &exchange.url,
        "--out",
        out.to_str().unwrap(),
    ];
    let run = universe(home.path(), &args);
    run.assert_code(3);
    assert!(!out.exists(), "no half snapshot");
    let left: Vec<String> = std::fs::read_dir(home.path())
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("snap"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
    universe(home.path(), &args).assert_code(0);
    assert!(out.join("snapshot.json").is_file());
}

/// SIGTERM at any moment of the candle cache's writes leaves no temp file: each is
/// created and registered, renamed and unregistered, under the lock the signal handler
/// holds until the process dies. (Before, a writer could create one after the handler
/// had swept them: a run stopped at the wrong moment left one behind.) Thirty runs, each
/// stopped a millisecond later into its candle fetches than the one before.
#[test]
fn sigterm_at_any_moment_of_the_cache_writes_leaves_no_temp_file() {
    let home = tempfile::tempdir().unwrap();
    // every candle request of a run can be in flight when the signal comes: thirty runs
    // of up to 170 weight need a limit above the exchange's usual 2,400 a minute
    let mut market = market_now(60);
    market.weight_limit = 6000;
    let exchange = FakeBinance::start(market);
    let store_dir = home.path().join("store");
    let store = format!("file:{}", store_dir.display());
    let cache = store_dir.join("cache");
    let (mut stopped, mut left) = (0, Vec::new());
    for attempt in 0..30u64 {
        let _ = std::fs::remove_dir_all(&cache);
        let asked = exchange.count("/fapi/v1/klines");
        // thirty runs of at most 170 weight a minute stay within it: none waits for weight
        let child = Command::new(env!("CARGO_BIN_EXE_universe"))
            .args(["generate", "--base-url", &exchange.url, "--store", &store])
            .args(["--weight-budget", "6000"])
            .env("HOME", home.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        exchange.wait_for_more("/fapi/v1/klines", asked);
        std::thread::sleep(std::time::Duration::from_millis(attempt));
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        let status = child.wait_with_output().unwrap().status;
        stopped += usize::from(status.code().is_none());
        left.extend(temp_files(&cache));
    }
    assert!(stopped > 0, "no run was stopped by the signal");
    assert_eq!(left, Vec::<String>::new(), "{stopped} of 30 runs stopped");
}
