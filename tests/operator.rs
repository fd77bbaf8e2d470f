//! What an operator steers with: the config file and its precedence, lists, regimes,
//! extra policy fields, `config`, `explain` and `rollback`.

use std::collections::BTreeMap;

use crate::support::{
    FakeBinance, RedisServer, config_file, decision, generate, market_now, redis_state, universe,
    universe_of, universe_with_env,
};

#[test]
fn flags_beat_variables_beat_the_file_beat_defaults() {
    let home = tempfile::tempdir().unwrap();
    let config = config_file(
        home.path(),
        "[selection]\ntop = 7\nmin_symbols = 2\n[filters]\nmax_spread_bps = 9\n",
    );
    let run = universe_with_env(
        home.path(),
        &["config", "--config", &config, "--top", "5", "--json"],
        &[("UNIVERSE_MIN_SYMBOLS", "4")],
    );
    run.assert_code(0);
    let entries: BTreeMap<String, (serde_json::Value, String)> = run.json()["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["key"].as_str().unwrap().to_owned(),
                (e["value"].clone(), e["origin"].as_str().unwrap().to_owned()),
            )
        })
        .collect();
    assert_eq!(entries["selection.top"], (5.into(), "flag --top".into()));
    assert_eq!(
        entries["selection.min_symbols"],
        (4.into(), "env UNIVERSE_MIN_SYMBOLS".into())
    );
    assert_eq!(
        entries["filters.max_spread_bps"],
        (9.into(), format!("file {config}"))
    );
    assert_eq!(
        entries["filters.min_quote_volume"],
        (20_000_000.0.into(), "default".into())
    );
    // the config file itself may come from the environment
    let run = universe_with_env(home.path(), &["config"], &[("UNIVERSE_CONFIG", &config)]);
    run.assert_code(0);
    assert!(
        run.stdout.contains("selection.top = 7")
            && run.stdout.contains(&format!("# file {config}")),
        "{}",
        run.stdout
    );
}

#[test]
fn config_errors_name_the_key_and_the_file() {
    let home = tempfile::tempdir().unwrap();
    for (text, expected) in [
        ("[churn]\nbufer = 3\n", "unknown key churn.bufer"),
        ("[churn]\nmargin = -2\n", "churn.margin = -2 (file "),
        (
            "[selection]\ntop = 3\nmin_symbols = 5\n",
            "selection.min_symbols = 5",
        ),
        (
            "[lists]\npin = [\"A\", \"B\"]\n[selection]\ntop = 1\nmin_symbols = 1\n",
            "lists.pin",
        ),
        (
            "[leverage]\nsteps = [[1.0, 6], [2.0, 8]]\n",
            "leverage.steps",
        ),
        (
            "[policy.extra]\nuniverse_hash = \"mine\"\n",
            "policy.extra.universe_hash",
        ),
        ("not toml at all [", "universe.toml"),
    ] {
        let config = config_file(home.path(), text);
        let run = universe(home.path(), &["generate", "--config", &config, "--dry-run"]);
        assert_eq!(run.code, 2, "{text}: {}", run.stderr);
        assert!(run.stderr.contains(expected), "{text}: {}", run.stderr);
        assert!(
            run.stderr.contains("universe.toml"),
            "{text}: names the file: {}",
            run.stderr
        );
    }
    let run = universe(home.path(), &["generate", "--config", "/no/such/file.toml"]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr
            .contains("--config (UNIVERSE_CONFIG) /no/such/file.toml"),
        "{}",
        run.stderr
    );
}

#[test]
fn the_example_config_is_complete_and_valid() {
    let home = tempfile::tempdir().unwrap();
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/universe.toml");
    let run = universe(home.path(), &["config", "--config", example, "--json"]);
    run.assert_code(0);
    let entries = run.json()["entries"].as_array().unwrap().clone();
    let text = std::fs::read_to_string(example).unwrap();
    for entry in &entries {
        let key = entry["key"].as_str().unwrap();
        // every key the program reads is in the example, set to its default
        if key.starts_with("policy.extra.") {
            continue;
        }
        let name = key.rsplit('.').next().unwrap();
        assert!(
            text.contains(&format!("{name} =")),
            "{key} missing from examples/universe.toml"
        );
        if key != "store.url" {
            assert!(
                entry["origin"].as_str().unwrap().starts_with("file"),
                "{key} not set in the example"
            );
        }
    }
    let defaults = universe(home.path(), &["config", "--json"]).json()["entries"]
        .as_array()
        .unwrap()
        .clone();
    for (with_file, default) in entries.iter().zip(&defaults) {
        assert_eq!(with_file["key"], default["key"]);
        assert_eq!(
            with_file["value"], default["value"],
            "the example must show the default of {}",
            default["key"]
        );
    }
}

#[test]
fn deny_allow_and_pin_lists() {
    let home = tempfile::tempdir().unwrap();
    let redis = RedisServer::start();
    let exchange = FakeBinance::start(market_now(16));
    let config = config_file(
        home.path(),
        "[lists]\ndeny = [\"S0?USDT\"]\nallow = [\"S*\"]\npin = [\"S15USDT\"]\n",
    );
    let run = generate(
        home.path(),
        &exchange,
        &redis.url(),
        &["--config", &config, "--json"],
    );
    run.assert_code(0);
    let report = run.json();
    let reason = |symbol: &str| {
        report["symbols"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["symbol"] == symbol)
            .unwrap()["excluded"]
            .clone()
    };
    assert_eq!(reason("S03USDT"), "denied");
    assert_eq!(
        reason("S12USDT"),
        serde_json::Value::Null,
        "S12 matches no deny pattern"
    );
    assert_eq!(reason("ZEROUSDT"), "not_allowed");
    assert_eq!(
        reason("SETTLINGUSDT"),
        "not_trading",
        "exchange reasons come first"
    );
    assert_eq!(report["exclusions"]["denied"], 10);
    let universe = universe_of(&report);
    assert!(universe.contains(&"S15USDT".to_owned()));
    assert_eq!(
        universe.len(),
        6,
        "10 denied leave 6 scored, the pin among them"
    );
    assert!(decision(&report, "S15USDT").1.starts_with("pinned"));
}

#[test]
fn the_regime_changes_the_weights_and_is_published() {
    let home = tempfile::tempdir().unwrap();
    let redis = RedisServer::start();
    let exchange = FakeBinance::start(market_now(16));
    let normal = generate(home.path(), &exchange, &redis.url(), &["--json"]);
    normal.assert_code(0);
    let normal = normal.json();
    assert_eq!(normal["regime"], "normal");
    let median = normal["median_atr_pct_15m"].as_f64().unwrap();

    // the same market, with thresholds that call it calm, then stormy
    let config = config_file(
        home.path(),
        &format!(
            "[regimes]\nlow_vol_below = {}\nhigh_vol_above = {}\n",
            median + 0.01,
            median + 0.02
        ),
    );
    let low = generate(
        home.path(),
        &exchange,
        &redis.url(),
        &["--config", &config, "--json"],
    );
    low.assert_code(0);
    let low = low.json();
    assert_eq!(low["regime"], "low_vol");
    assert_eq!(low["weights"]["mom_15m"], 0.8 * 1.5);
    assert_eq!(low["weights"]["mom_1h"], 0.6 * 1.5);
    assert_eq!(low["weights"]["trend_1h"], 1.0);
    assert_eq!(redis_state(&redis).0["regime"], "low_vol");

    let config = config_file(
        home.path(),
        &format!(
            "[regimes]\nlow_vol_below = 0\nhigh_vol_above = {}\n[regimes.high_vol]\ntrend_1h = 3\n",
            median - 0.01
        ),
    );
    let high = generate(
        home.path(),
        &exchange,
        &redis.url(),
        &["--config", &config, "--json"],
    );
    high.assert_code(0);
    let high = high.json();
    assert_eq!(high["regime"], "high_vol");
    assert_eq!(high["weights"]["trend_1h"], 3.0);
    let (policy, _, _) = redis_state(&redis);
    assert_eq!(policy["regime"], "high_vol");
    // the scores follow the weights: the normal and high_vol scores differ for a symbol
    let score = |r: &serde_json::Value| r["symbols"][0]["score"].as_f64().unwrap();
    assert_ne!(score(&normal), score(&high));
    let mut con = redis.connection().unwrap();
    let entries: Vec<(String, BTreeMap<String, String>)> = ::redis::cmd("XRANGE")
        .arg("quantum:stream:policy.audit")
        .arg("-")
        .arg("+")
        .query(&mut con)
        .unwrap();
    let regimes: Vec<&str> = entries.iter().map(|(_, e)| e["regime"].as_str()).collect();
    assert_eq!(regimes, ["normal", "low_vol", "high_vol"]);
}

#[test]
fn extra_policy_fields_are_written_as_given_and_hashed() {
    let home = tempfile::tempdir().unwrap();
    let redis = RedisServer::start();
    let exchange = FakeBinance::start(market_now(16));
    let config = config_file(
        home.path(),
        "[policy.extra]\nrisk_params = { take_profit = 0.02, trail = true }\ndesk_params = \"{\\\"max_dd\\\":0.1}\"\n",
    );
    generate(home.path(), &exchange, &redis.url(), &["--config", &config]).assert_code(0);
    let (policy, _, _) = redis_state(&redis);
    assert_eq!(
        policy["risk_params"],
        r#"{"take_profit":0.02,"trail":true}"#
    );
    assert_eq!(policy["desk_params"], r#"{"max_dd":0.1}"#);
    universe(home.path(), &["proof", "--store", &redis.url()]).assert_code(0);
    // they are covered by policy_hash
    let mut con = redis.connection().unwrap();
    let _: () = ::redis::cmd("HSET")
        .arg("quantum:policy:current")
        .arg("desk_params")
        .arg("{}")
        .query(&mut con)
        .unwrap();
    let run = universe(home.path(), &["proof", "--store", &redis.url()]);
    run.assert_code(5);
    assert!(run.stdout.contains("FAIL  policy_hash"), "{}", run.stdout);
}

#[test]
fn key_names_follow_the_configured_prefix() {
    let home = tempfile::tempdir().unwrap();
    let redis = RedisServer::start();
    let exchange = FakeBinance::start(market_now(16));
    let config = config_file(home.path(), "[store]\nprefix = \"staging:\"\n");
    generate(home.path(), &exchange, &redis.url(), &["--config", &config]).assert_code(0);
    let mut con = redis.connection().unwrap();
    let mut keys: Vec<String> = ::redis::cmd("KEYS").arg("*").query(&mut con).unwrap();
    keys.sort();
    assert_eq!(
        keys,
        [
            "staging:policy:current",
            "staging:stream:policy.audit",
            "staging:stream:policy.update"
        ]
    );
    universe(
        home.path(),
        &["proof", "--config", &config, "--store", &redis.url()],
    )
    .assert_code(0);
}

#[test]
fn explain_agrees_with_generate_and_says_why() {
    let home = tempfile::tempdir().unwrap();
    let redis = RedisServer::start();
    let exchange = FakeBinance::start(market_now(16));
    let generated = generate(
        home.path(),
        &exchange,
        &redis.url(),
        &["--dry-run", "--json"],
    );
    generated.assert_code(0);
    let generated = generated.json();
    let symbols = ["S00USDT", "S05USDT", "WIDEUSDT", "YOUNGUSDT", "NOSUCHUSDT"];
    let store = redis.url();
    let mut args = vec![
        "explain",
        "--base-url",
        &exchange.url,
        "--store",
        &store,
        "--json",
    ];
    args.extend(symbols);
    let run = universe(home.path(), &args);
    run.assert_code(0);
    let explained = run.json();
    for (i, symbol) in symbols.iter().enumerate() {
        let e = &explained["symbols"][i];
        let g = generated["symbols"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["symbol"] == *symbol);
        if let Some(g) = g {
            for key in [
                "score",
                "rank",
                "selected",
                "excluded",
                "leverage",
                "atr_pct_15m",
                "trend_1h",
                "components",
                "decision",
            ] {
                assert_eq!(e[key], g[key], "{symbol} {key}");
            }
        }
        assert!(e["verdict"].is_string(), "{symbol}");
    }
    assert!(
        explained["symbols"][2]["verdict"]
            .as_str()
            .unwrap()
            .starts_with("EXCLUDED: wide_spread")
    );
    let wide_checks = explained["symbols"][2]["checks"].as_array().unwrap();
    let spread = wide_checks.iter().find(|c| c["name"] == "spread").unwrap();
    assert_eq!(spread["pass"], false);
    assert_eq!(spread["threshold"], "≤ 15 bps");
    assert_eq!(wide_checks.last().unwrap()["name"], "candles");
    assert!(
        explained["symbols"][3]["verdict"]
            .as_str()
            .unwrap()
            .contains("insufficient_history")
    );
    assert_eq!(
        explained["symbols"][4]["verdict"],
        "UNKNOWN: not in exchangeInfo"
    );

    let text = universe(
        home.path(),
        &[
            "explain",
            "--base-url",
            &exchange.url,
            "--store",
            &redis.url(),
            "S00USDT",
        ],
    );
    text.assert_code(0);
    for expected in [
        "S00USDT: ",
        "PASS usdt_perpetual",
        "PASS candles",
        "score ",
        "×",
        "rank ",
        "normal regime",
    ] {
        assert!(
            text.stdout.contains(expected),
            "{expected:?} in\n{}",
            text.stdout
        );
    }
}

#[test]
fn rollback_republishes_an_audited_universe_and_proof_says_so() {
    let home = tempfile::tempdir().unwrap();
    let redis = RedisServer::start();
    let exchange = FakeBinance::start(market_now(16));
    let config = config_file(home.path(), "[churn]\nenabled = false\n");
    let store = redis.url();
    let run = |extra: &[&str]| {
        let r = generate(
            home.path(),
            &exchange,
            &store,
            &[&["--config", &config, "--json"], extra].concat(),
        );
        r.assert_code(0);
        r.json()
    };
    let first = run(&["--top", "5"]);
    let second = run(&["--top", "7"]);
    assert_ne!(first["universe_hash"], second["universe_hash"]);

    let rolled = universe(
        home.path(),
        &["rollback", "--steps", "1", "--store", &store],
    );
    rolled.assert_code(0);
    assert!(
        rolled
            .stdout
            .contains(first["universe_hash"].as_str().unwrap()),
        "{}",
        rolled.stdout
    );
    let (policy, audits, events) = redis_state(&redis);
    assert_eq!((audits, events), (3, 3));
    assert_eq!(policy["generator"], "manual_rollback");
    assert_eq!(
        policy["universe_hash"],
        first["universe_hash"].as_str().unwrap()
    );
    assert_eq!(policy["rollback_of"], first["run_id"].as_str().unwrap());
    let first_policy_symbols: Vec<String> =
        serde_json::from_str(&policy["universe_symbols"]).unwrap();
    assert_eq!(serde_json::json!(first_policy_symbols), first["universe"]);
    let until: i64 = policy["valid_until_epoch"].parse().unwrap();
    assert!(
        until > crate::support::now_ms() / 1000 + 3500,
        "a fresh validity"
    );

    let proof = universe(home.path(), &["proof", "--store", &store]);
    proof.assert_code(0);
    assert!(
        proof.stdout.contains("PASS  policy is a manual rollback"),
        "{}",
        proof.stdout
    );

    // --to a hash, and errors that say what is wrong
    let back = universe(
        home.path(),
        &[
            "rollback",
            "--to",
            second["universe_hash"].as_str().unwrap(),
            "--store",
            &store,
        ],
    );
    back.assert_code(0);
    assert_eq!(
        redis_state(&redis).0["universe_hash"],
        second["universe_hash"].as_str().unwrap()
    );
    let missing = universe(
        home.path(),
        &["rollback", "--to", "0123456789abcdef", "--store", &store],
    );
    assert_eq!(missing.code, 1);
    assert!(
        missing
            .stderr
            .contains("no audit entry has this universe_hash"),
        "{}",
        missing.stderr
    );
    assert_eq!(
        universe(home.path(), &["rollback", "--store", &store]).code,
        2,
        "--to or --steps is required"
    );
}

#[test]
fn the_correlation_limit_skips_challengers_and_the_audit_names_them() {
    let home = tempfile::tempdir().unwrap();
    let redis = RedisServer::start();
    let exchange = FakeBinance::start(market_now(16));
    // S01USDT moves exactly like S00USDT, at a tenth of the price
    {
        let mut market = exchange.market.lock().unwrap();
        let twin: Vec<_> = market
            .listing("S00USDT")
            .unwrap()
            .candles
            .iter()
            .map(|&(t, o, h, l, c)| (t, o / 10.0, h / 10.0, l / 10.0, c / 10.0))
            .collect();
        market.listing_mut("S01USDT").candles = twin;
    }
    let config = config_file(home.path(), "[diversity]\nmax_correlation = 0.9\n");
    let run = generate(
        home.path(),
        &exchange,
        &redis.url(),
        &["--config", &config, "--json"],
    );
    run.assert_code(0);
    let report = run.json();
    let skipped = report["churn"]["skipped"].as_array().unwrap();
    let universe = universe_of(&report);
    // whichever of the twins ranks better is chosen, the other is skipped for it
    let (kept, twin) = if universe.contains(&"S00USDT".to_owned()) {
        ("S00USDT", "S01USDT")
    } else {
        ("S01USDT", "S00USDT")
    };
    assert!(universe.contains(&kept.to_owned()) && !universe.contains(&twin.to_owned()));
    let entry = skipped
        .iter()
        .find(|s| s["symbol"] == twin)
        .expect("the twin is skipped");
    assert_eq!(entry["correlated_with"], kept);
    assert!(entry["correlation"].as_f64().unwrap() > 0.999);
    assert_eq!(universe.len(), 10, "the next challenger took the place");
    let mut con = redis.connection().unwrap();
    let entries: Vec<(String, BTreeMap<String, String>)> = ::redis::cmd("XRANGE")
        .arg("quantum:stream:policy.audit")
        .arg("-")
        .arg("+")
        .query(&mut con)
        .unwrap();
    assert!(entries[0].1["correlation_skipped"].contains(twin));
}
