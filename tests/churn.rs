//! Churn control on a real redis-server: each rule, by moving one symbol of the fake
//! market between two refreshes.

use crate::support::{
    FakeBinance, Fault, RedisServer, config_file, decision, flatten, generate, market_now,
    universe_of,
};

/// A published first universe, and the exchange to move the market on.
struct Setup {
    home: tempfile::TempDir,
    redis: RedisServer,
    exchange: FakeBinance,
    config: String,
    first: Vec<String>,
}

fn setup(config: &str) -> Setup {
    let s = setup_sized(config, 16, "10");
    assert_eq!(s.first.len(), 10);
    s
}

impl Setup {
    fn refresh(&self, extra: &[&str]) -> serde_json::Value {
        let mut args = vec!["--config", &self.config, "--json"];
        args.extend_from_slice(extra);
        let run = generate(self.home.path(), &self.exchange, &self.redis.url(), &args);
        run.assert_code(0);
        run.json()
    }

    /// A member of the first universe, sunk to the bottom of the ranking.
    fn sink(&self, index: usize) -> String {
        let symbol = self.first[index].clone();
        flatten(&self.exchange, &symbol);
        symbol
    }
}

#[test]
fn a_sunk_incumbent_stays_until_a_challenger_outscores_it_by_the_margin() {
    let s = setup("[churn]\nmin_hold = 0\nmargin = 1000\n");
    let sunk = s.sink(3);
    let report = s.refresh(&[]);
    assert!(
        universe_of(&report).contains(&sunk),
        "no challenger beats it by 1000"
    );
    assert!(
        decision(&report, &sunk)
            .1
            .contains("no challenger outscores it by margin 1000"),
        "{:?}",
        decision(&report, &sunk)
    );

    std::fs::write(&s.config, "[churn]\nmin_hold = 0\nmargin = 5\n").unwrap();
    let report = s.refresh(&[]);
    let (action, reason) = decision(&report, &sunk);
    assert_eq!(action, "removed");
    assert!(
        reason.starts_with("replaced by ") && reason.contains("≥ margin 5"),
        "{reason}"
    );
    assert_eq!(report["churn"]["replacements"], 1);
    let pair = &report["churn"]["pairs"][0];
    assert_eq!(pair["replaced"], sunk.as_str());
    assert!(
        pair["entrant_score"].as_f64().unwrap() >= pair["replaced_score"].as_f64().unwrap() + 5.0
    );
    let entrant = pair["entrant"].as_str().unwrap();
    assert!(
        decision(&report, entrant)
            .1
            .contains(&format!("replaces {sunk}"))
    );
    assert_eq!(universe_of(&report).len(), 10);
}

#[test]
fn the_removed_buffer_setting_is_refused_with_the_rule_named() {
    let home = tempfile::tempdir().unwrap();
    let config = config_file(home.path(), "[churn]\nbuffer = 5\n");
    let run = crate::support::universe(home.path(), &["config", "--config", &config]);
    run.assert_code(2);
    assert!(
        run.stderr.contains("churn.buffer") && run.stderr.contains("pair rule"),
        "{}",
        run.stderr
    );
}

#[test]
fn no_more_than_max_replacements_per_refresh_and_the_worst_leave_first() {
    let s = setup("[churn]\nmin_hold = 0\nmax_replacements = 2\n");
    let sunk: Vec<String> = (0..3).map(|i| s.sink(i)).collect();
    let report = s.refresh(&[]);
    let universe = universe_of(&report);
    let kept: Vec<&String> = sunk.iter().filter(|s| universe.contains(s)).collect();
    assert_eq!(kept.len(), 1, "one of the three waits for the next refresh");
    assert!(
        decision(&report, kept[0])
            .1
            .contains("max_replacements 2 was reached")
    );
    assert_eq!(report["churn"]["replacements"], 2);
    // the one kept is the best of the three sunk symbols: the worst left first
    let rank = |s: &str| {
        report["symbols"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["symbol"] == s)
            .unwrap()["rank"]
            .as_u64()
            .unwrap()
    };
    assert!(sunk.iter().all(|s| rank(kept[0]) <= rank(s)));

    let report = s.refresh(&[]);
    assert!(
        !universe_of(&report).contains(kept[0]),
        "and leaves on the next one"
    );
}

#[test]
fn min_hold_protects_young_incumbents_from_rank_reasons() {
    // the default min_hold is 2h: the universe published a moment ago is young
    let s = setup("");
    let sunk = s.sink(0);
    let report = s.refresh(&[]);
    let (action, reason) = decision(&report, &sunk);
    assert_eq!(action, "kept");
    assert!(reason.contains("within min_hold 2h"), "{reason}");

    std::fs::write(&s.config, "[churn]\nmin_hold = \"1s\"\n").unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let report = s.refresh(&[]);
    assert_eq!(decision(&report, &sunk).0, "removed");
}

#[test]
fn held_symbols_stay_while_eligible_and_leave_when_not() {
    let s = setup("[churn]\nmin_hold = 0\n");
    let (held_by_redis, held_by_flag) = (s.sink(0), s.sink(1));
    let mut con = s.redis.connection().unwrap();
    let _: () = ::redis::cmd("SADD")
        .arg("quantum:positions:open")
        .arg(&held_by_redis)
        .query(&mut con)
        .unwrap();
    let report = s.refresh(&[]);
    assert_eq!(decision(&report, &held_by_redis).0, "kept");
    assert!(
        decision(&report, &held_by_redis)
            .1
            .contains("held position")
    );
    assert_eq!(decision(&report, &held_by_flag).0, "removed");
    let rank = &report["symbols"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["symbol"] == *held_by_redis)
        .unwrap()["rank"];
    assert!(
        rank.as_u64().unwrap() >= 15,
        "sunk to the bottom, yet kept: {rank}"
    );

    // --held replaces the Redis set
    let report = s.refresh(&["--held", &held_by_redis]);
    assert!(universe_of(&report).contains(&held_by_redis));

    // a held symbol that becomes ineligible leaves with that reason
    s.exchange
        .market
        .lock()
        .unwrap()
        .listing_mut(&held_by_redis)
        .status = "SETTLING";
    let report = s.refresh(&[]);
    let (action, reason) = decision(&report, &held_by_redis);
    assert_eq!(action, "removed");
    assert!(reason.starts_with("not_trading"), "{reason}");
}

#[test]
fn an_ineligible_incumbent_leaves_at_once_whatever_churn_control_says() {
    let s = setup("[churn]\nmax_replacements = 0\nmargin = 1000\n");
    let gone = s.first[2].clone();
    s.exchange
        .market
        .lock()
        .unwrap()
        .listing_mut(&gone)
        .quote_volume = Some("1000".into());
    let report = s.refresh(&[]);
    let (action, reason) = decision(&report, &gone);
    assert_eq!(action, "removed");
    assert!(reason.starts_with("illiquid"), "{reason}");
    assert_eq!(universe_of(&report).len(), 10, "its place is filled");
    assert_eq!(report["churn"]["replacements"], 0);

    // the audit entry lists kept, added and removed symbols with reasons
    let mut con = s.redis.connection().unwrap();
    let entries: Vec<(String, std::collections::BTreeMap<String, String>)> = ::redis::cmd("XRANGE")
        .arg("quantum:stream:policy.audit")
        .arg("-")
        .arg("+")
        .query(&mut con)
        .unwrap();
    let audit = &entries.last().unwrap().1;
    let removed: std::collections::BTreeMap<String, String> =
        serde_json::from_str(&audit["removed_reasons"]).unwrap();
    assert!(removed[&gone].starts_with("illiquid"));
    let kept: std::collections::BTreeMap<String, String> =
        serde_json::from_str(&audit["symbols_kept"]).unwrap();
    assert_eq!(kept.len(), 9);
    let added: std::collections::BTreeMap<String, String> =
        serde_json::from_str(&audit["added_reasons"]).unwrap();
    assert_eq!(added.len(), 1);
}

#[test]
fn churn_control_off_is_plain_top_n() {
    let s = setup("[churn]\nenabled = false\n");
    let sunk = s.sink(0);
    let report = s.refresh(&[]);
    let (action, reason) = decision(&report, &sunk);
    assert_eq!(
        (action.as_str(), reason.as_str()),
        ("removed", "rank 16 outside the top 10")
    );
}

/// A published first universe of `top`, on a market of `tradable` symbols.
fn setup_sized(config: &str, tradable: usize, top: &str) -> Setup {
    let home = tempfile::tempdir().unwrap();
    let redis = RedisServer::start();
    let exchange = FakeBinance::start(market_now(tradable));
    let config = config_file(home.path(), config);
    let run = generate(
        home.path(),
        &exchange,
        &redis.url(),
        &["--config", &config, "--json", "--top", top],
    );
    run.assert_code(0);
    let first = universe_of(&run.json());
    Setup {
        home,
        redis,
        exchange,
        config,
        first,
    }
}

#[test]
fn one_strong_newcomer_replaces_one_incumbent_as_a_plain_top_n_would() {
    let s = setup_sized("[churn]\nmin_hold = 0\nmax_replacements = 10\n", 16, "3");
    assert_eq!(s.first.len(), 3);
    let newcomer = "S15USDT";
    assert!(!s.first.iter().any(|x| x == newcomer));
    crate::support::boost(&s.exchange, newcomer);
    let report = s.refresh(&["--top", "3"]);
    let universe = universe_of(&report);
    assert_eq!(universe[0], newcomer, "{universe:?}");
    assert_eq!(report["churn"]["replacements"], 1, "{}", report["churn"]);
    let kept = s.first.iter().filter(|x| universe.contains(x)).count();
    assert_eq!(
        kept, 2,
        "two incumbents stay: {universe:?} from {:?}",
        s.first
    );
}

#[test]
fn an_open_position_whose_candles_fail_stays_with_its_previous_leverage() {
    // 60 candidates: one failed fetch is under the 2% that fails the run
    let s = setup_sized("", 60, "10");
    let held = s.first[4].clone();
    let mut con = s.redis.connection().unwrap();
    let before: std::collections::BTreeMap<String, f64> =
        serde_json::from_str(&crate::support::redis_state(&s.redis).0["leverage_by_symbol"])
            .unwrap();
    for churn in ["", "[churn]\nenabled = false\n"] {
        std::fs::write(&s.config, churn).unwrap();
        let _: () = ::redis::cmd("SADD")
            .arg("quantum:positions:open")
            .arg(&held)
            .query(&mut con)
            .unwrap();
        s.exchange
            .fault(&format!("symbol={held}"), None, Fault::Status(500));
        let report = s.refresh(&[]);
        assert!(
            universe_of(&report).contains(&held),
            "{churn:?}: {}",
            report["churn"]
        );
        let (action, reason) = decision(&report, &held);
        assert_eq!(action, "kept");
        assert!(
            reason.contains("held position") && reason.contains("fetch_failed"),
            "{reason}"
        );
        let policy = crate::support::redis_state(&s.redis).0;
        let leverage: std::collections::BTreeMap<String, f64> =
            serde_json::from_str(&policy["leverage_by_symbol"]).unwrap();
        assert_eq!(leverage[&held], before[&held]);
        assert_eq!(report["churn"]["carried"], serde_json::json!([held]));
    }
}

#[test]
fn max_symbols_below_top_is_a_usage_error() {
    let home = tempfile::tempdir().unwrap();
    let config = config_file(
        home.path(),
        "[rotation]\nmode = \"execution\"\nmax_symbols = 5\n",
    );
    let run = crate::support::universe(home.path(), &["config", "--config", &config]);
    run.assert_code(2);
    assert!(
        run.stderr.contains("rotation.max_symbols = 5")
            && run.stderr.contains("selection.top (10)"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_held_name_that_is_not_a_symbol_is_refused_before_anything_is_fetched() {
    let home = tempfile::tempdir().unwrap();
    let exchange = FakeBinance::start(market_now(16));
    let store = format!("file:{}", home.path().join("store").display());
    let run = crate::support::generate(home.path(), &exchange, &store, &["--held", "S01USDT,../x"]);
    run.assert_code(2);
    assert!(
        run.stderr.contains(r#"--held "../x": not a symbol name"#),
        "{}",
        run.stderr
    );
    assert!(exchange.log().is_empty(), "nothing was fetched");
}
