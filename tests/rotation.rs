//! Performance-based rotation and model discovery, through the binary on a real
//! redis-server and a temp model folder.

use std::collections::BTreeMap;
use std::process::Command;
use std::time::Duration;

use crate::support::{
    FakeBinance, RedisServer, config_file, decision, generate, market_now, universe, universe_of,
};

struct Setup {
    home: tempfile::TempDir,
    models: tempfile::TempDir,
    redis: RedisServer,
    exchange: FakeBinance,
}

fn setup() -> Setup {
    Setup {
        home: tempfile::tempdir().unwrap(),
        models: tempfile::tempdir().unwrap(),
        redis: RedisServer::start(),
        exchange: FakeBinance::start(market_now(16)),
    }
}

impl Setup {
    fn config(&self, rotation: &str) -> String {
        config_file(
            self.home.path(),
            &format!(
                "[rotation]\nmodel_dir = \"{}\"\n{rotation}\n",
                self.models.path().display()
            ),
        )
    }

    fn generate(&self, config: &str, extra: &[&str]) -> serde_json::Value {
        let mut args = vec!["--config", config, "--json"];
        args.extend_from_slice(extra);
        let run = generate(self.home.path(), &self.exchange, &self.redis.url(), &args);
        run.assert_code(0);
        run.json()
    }

    fn model(&self, name: &str) {
        std::fs::write(self.models.path().join(name), b"weights").unwrap();
    }

    fn record(&self, symbol: &str, win_rate: &str, drawdown: &str, trades: &str) {
        universe(
            self.home.path(),
            &[
                "perf",
                "record",
                symbol,
                "--win-rate",
                win_rate,
                "--total-pnl",
                "-12.5",
                "--max-drawdown",
                drawdown,
                "--trades",
                trades,
                "--store",
                &self.redis.url(),
            ],
        )
        .assert_code(0);
    }
}

#[test]
fn defaults_and_a_run_without_models() {
    let s = setup();
    let run = universe(s.home.path(), &["config", "--json"]);
    let entries: BTreeMap<String, serde_json::Value> = run.json()["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["key"].as_str().unwrap().to_owned(), e["value"].clone()))
        .collect();
    assert_eq!(entries["rotation.mode"], "advisory");
    assert_eq!(entries["rotation.min_trades_for_eviction"], 10);
    assert_eq!(entries["rotation.eviction_win_rate"], 0.4);
    assert_eq!(entries["rotation.eviction_drawdown"], 0.12);
    assert_eq!(entries["rotation.model_glob"], "*.pt");
    assert_eq!(entries["rotation.require_model"], false);
    let report = generate(s.home.path(), &s.exchange, &s.redis.url(), &["--json"]).json();
    let rotation = &report["rotation"];
    assert_eq!(
        (rotation["models"].as_u64(), rotation["baseline"].as_bool()),
        (Some(0), Some(false))
    );
    assert!(rotation["evict"].as_array().unwrap().is_empty());
}

#[test]
fn model_scan_baseline_new_models_and_odd_names() {
    let s = setup();
    let config = s.config("");
    // an empty folder: the first scan records an empty baseline
    let first = s.generate(&config, &[]);
    assert_eq!(first["rotation"]["baseline"], true);
    assert_eq!(first["rotation"]["models"], 0);

    s.model("S03USDT.pt");
    s.model("S05USDT_v2_2025-10.pt");
    s.model("NOSUCH.pt");
    s.model("S07USDT.onnx");
    let second = s.generate(&config, &[]);
    let r = &second["rotation"];
    assert_eq!(r["baseline"], false);
    assert_eq!(
        r["new_models"],
        serde_json::json!(["S03USDT.pt", "S05USDT_v2_2025-10.pt"])
    );
    assert_eq!(r["unknown_model_files"], serde_json::json!(["NOSUCH.pt"]));
    assert_eq!(r["models"], 2);

    // seen now, also across restarts: nothing is new; `rotation` records nothing
    let third = s.generate(&config, &[]);
    assert_eq!(third["rotation"]["new_models"], serde_json::json!([]));
    s.model("S09USDT.pt");
    for _ in 0..2 {
        let run = universe(
            s.home.path(),
            &[
                "rotation",
                "--config",
                &config,
                "--base-url",
                &s.exchange.url,
                "--store",
                &s.redis.url(),
                "--json",
            ],
        );
        run.assert_code(0);
        assert_eq!(
            run.json()["rotation"]["new_models"],
            serde_json::json!(["S09USDT.pt"])
        );
    }
    // a folder that cannot be read is a configuration error
    let bad = config_file(
        s.home.path(),
        "[rotation]\nmodel_dir = \"/no/such/models\"\n",
    );
    let run = generate(
        s.home.path(),
        &s.exchange,
        &s.redis.url(),
        &["--config", &bad],
    );
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains("rotation.model_dir /no/such/models"),
        "{}",
        run.stderr
    );
}

#[test]
fn eviction_by_win_rate_by_drawdown_and_never_before_min_trades() {
    let s = setup();
    let config = s.config("");
    let universe_now = universe_of(&s.generate(&config, &[]));
    let (losing, falling) = (&universe_now[0], &universe_now[1]);
    s.record(losing, "0.30", "0.05", "25"); // loses too often
    s.record(falling, "0.60", "0.20", "25"); // falls too far
    s.record(&universe_now[2], "0.10", "0.50", "9"); // awful, but too few trades to judge
    s.record(&universe_now[3], "0.55", "0.05", "40"); // fine
    let report = s.generate(&config, &[]);
    let evict: BTreeMap<String, serde_json::Value> = report["rotation"]["evict"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["symbol"].as_str().unwrap().to_owned(), e.clone()))
        .collect();
    assert_eq!(evict.len(), 2, "{evict:?}");
    assert!(
        evict[losing]["why"]
            .as_str()
            .unwrap()
            .contains("win_rate 0.300 < 0.4 over 25 trades")
    );
    assert!(
        evict[falling]["why"]
            .as_str()
            .unwrap()
            .contains("max_drawdown 0.200 > 0.12")
    );
    assert_eq!(evict[losing]["total_trades"], 25);
    // advisory: the universe is the normal selection, the advice is recorded
    assert_eq!(universe_of(&report), universe_now);
    assert_eq!(evict[losing]["applied"], false);
    assert_eq!(
        evict[losing]["not_applied"],
        "advisory mode (execution would apply it)"
    );
    let mut con = s.redis.connection().unwrap();
    let entries: Vec<(String, BTreeMap<String, String>)> = ::redis::cmd("XRANGE")
        .arg("quantum:stream:policy.audit")
        .arg("-")
        .arg("+")
        .query(&mut con)
        .unwrap();
    let audited: serde_json::Value =
        serde_json::from_str(&entries.last().unwrap().1["rotation"]).unwrap();
    assert_eq!(audited["evict"].as_array().unwrap().len(), 2);
    assert_eq!(audited["mode"], "advisory");
}

#[test]
fn expansion_candidates_are_eligible_symbols_outside_the_universe() {
    let s = setup();
    let config = s.config("");
    let first = s.generate(&config, &[]);
    let members = universe_of(&first);
    let outside: Vec<String> = first["symbols"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|x| x["score"].is_number() && x["selected"] == false)
        .map(|x| x["symbol"].as_str().unwrap().to_owned())
        .collect();
    s.model(&format!("{}.pt", members[0])); // active: not a candidate
    s.model(&format!("{}.pt", outside[0]));
    s.model(&format!("{}.pt", outside[1]));
    s.model("WIDEUSDT.pt"); // ineligible: not a candidate
    let report = s.generate(&config, &[]);
    let expand: Vec<&str> = report["rotation"]["expand"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["symbol"].as_str().unwrap())
        .collect();
    assert_eq!(
        expand,
        [outside[0].as_str(), outside[1].as_str()],
        "best score first"
    );
    assert_eq!(universe_of(&report), members, "advisory changes nothing");
}

#[test]
fn execution_applies_within_min_and_max() {
    let s = setup();
    let config = s.config("mode = \"execution\"\nmax_symbols = 11\n");
    let first = s.generate(&config, &["--top", "4", "--min-symbols", "3"]);
    let members = universe_of(&first);
    assert_eq!(members.len(), 4);
    // two losers: only one may leave, or the universe would fall below min_symbols 3
    s.record(&members[0], "0.2", "0.05", "30");
    s.record(&members[1], "0.1", "0.05", "30");
    let report = s.generate(&config, &["--top", "4", "--min-symbols", "3"]);
    let evict = report["rotation"]["evict"].as_array().unwrap();
    let applied: Vec<bool> = evict
        .iter()
        .map(|e| e["applied"].as_bool().unwrap())
        .collect();
    assert_eq!(applied.iter().filter(|a| **a).count(), 1);
    // the worst (0.1) went first; the other stays for the bound
    assert_eq!(evict[0]["symbol"], members[1].as_str());
    assert_eq!(evict[0]["applied"], true);
    assert!(
        evict[1]["not_applied"]
            .as_str()
            .unwrap()
            .contains("min_symbols 3")
    );
    let (action, reason) = decision(&report, &members[1]);
    assert_eq!(action, "removed");
    assert!(reason.starts_with("evicted: win_rate"), "{reason}");
    assert_eq!(universe_of(&report).len(), 3);

    // expansions fill up to max_symbols, and no further
    let outside: Vec<String> = report["symbols"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|x| {
            x["score"].is_number() && x["selected"] == false && x["symbol"] != members[1].as_str()
        })
        .map(|x| x["symbol"].as_str().unwrap().to_owned())
        .take(10)
        .collect();
    for symbol in &outside {
        s.model(&format!("{symbol}.pt"));
    }
    let config = s.config("mode = \"execution\"\nmax_symbols = 6\n");
    let report = s.generate(&config, &["--top", "4", "--min-symbols", "3"]);
    let universe_now = universe_of(&report);
    assert_eq!(universe_now.len(), 6, "{universe_now:?}");
    let expand = report["rotation"]["expand"].as_array().unwrap();
    assert!(expand.iter().filter(|x| x["applied"] == true).count() >= 2);
    assert!(expand.iter().any(|x| {
        x["not_applied"]
            .as_str()
            .is_some_and(|w| w.contains("max_symbols 6"))
    }));
    // proof accepts the larger universe in execution mode
    universe(
        s.home.path(),
        &[
            "proof",
            "--config",
            &config,
            "--store",
            &s.redis.url(),
            "--top",
            "4",
        ],
    )
    .assert_code(0);
}

#[test]
fn require_model_limits_the_universe_to_symbols_with_a_model() {
    let s = setup();
    for symbol in ["S01USDT", "S02USDT", "S03USDT", "S04USDT"] {
        s.model(&format!("{symbol}.pt"));
    }
    let config = s.config("require_model = true\n");
    let report = s.generate(&config, &[]);
    let mut members = universe_of(&report);
    members.sort();
    assert_eq!(members, ["S01USDT", "S02USDT", "S03USDT", "S04USDT"]);
    // 12 healthy symbols and the 6 whose market checks would fail: the model check
    // comes first, so no candle is fetched for a symbol that could never be chosen
    assert_eq!(report["exclusions"]["no_model"], 18);
    assert_eq!(
        report["usage"]["requests"],
        4 + 4,
        "the overview and 4 symbols' candles"
    );
}

fn add_trade(con: &mut ::redis::Connection, fields: &[(&str, &str)]) {
    let mut cmd = ::redis::cmd("XADD");
    cmd.arg("quantum:stream:trade.closed").arg("*");
    for (k, v) in fields {
        cmd.arg(*k).arg(*v);
    }
    let _: String = cmd.query(con).unwrap();
}

/// XPENDING's summary: count, smallest id, largest id, count by consumer.
type PendingSummary = (
    u64,
    Option<String>,
    Option<String>,
    Option<Vec<(String, String)>>,
);

const SYMBOLS: [&str; 3] = ["AUSDT", "BUSDT", "CUSDT"];

/// `count` well-formed trades over three symbols (every fourth one losing), then two
/// malformed entries.
fn fill_trade_stream(con: &mut ::redis::Connection, count: usize) {
    let mut pipe = ::redis::pipe();
    for i in 0..count {
        let pnl = if i % 4 == 0 { -2.0 } else { 1.0 };
        pipe.cmd("XADD")
            .arg("quantum:stream:trade.closed")
            .arg("*")
            .arg("symbol")
            .arg(SYMBOLS[i % 3])
            .arg("pnl")
            .arg(pnl)
            .arg("pnl_pct")
            .arg(pnl / 10.0)
            .arg("closed_at")
            .arg(1_761_000_000 + i)
            .ignore();
    }
    let _: () = pipe.query(con).unwrap();
    add_trade(
        con,
        &[
            ("symbol", "AUSDT"),
            ("pnl", "lots"),
            ("pnl_pct", "1"),
            ("closed_at", "1"),
        ],
    );
    add_trade(
        con,
        &[("symbol", "BUSDT"), ("pnl_pct", "1"), ("closed_at", "1")],
    );
}

/// Trades folded into the three symbols' records so far.
fn trades_recorded(con: &mut ::redis::Connection) -> u64 {
    SYMBOLS
        .iter()
        .map(|s| {
            let n: Option<String> = ::redis::cmd("HGET")
                .arg(format!("quantum:symbol:performance:{s}"))
                .arg("total_trades")
                .query(con)
                .unwrap();
            n.map_or(0, |n| n.parse().unwrap())
        })
        .sum()
}

/// Starts `perf ingest` one trade a transaction and kills it once some trades are in.
fn ingest_and_kill(s: &Setup, con: &mut ::redis::Connection) -> u64 {
    let mut child = Command::new(env!("CARGO_BIN_EXE_universe"))
        .args(["perf", "ingest", "--batch", "1", "--store", &s.redis.url()])
        .env("HOME", s.home.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    while trades_recorded(con) < 50 && started.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    trades_recorded(con)
}

#[test]
fn ingest_counts_each_trade_once_across_a_kill_and_leaves_malformed_entries_pending() {
    let s = setup();
    let mut con = s.redis.connection().unwrap();
    let trades = 3000;
    fill_trade_stream(&mut con, trades);
    let partial = ingest_and_kill(&s, &mut con);
    assert!(
        partial > 0 && partial < trades as u64,
        "killed mid-way: {partial} of {trades}"
    );

    // the restart finishes the job: every trade exactly once
    let ingest = || {
        universe(
            s.home.path(),
            &["perf", "ingest", "--store", &s.redis.url(), "--json"],
        )
    };
    let run = ingest();
    run.assert_code(0);
    let report = run.json();
    assert_eq!(
        report["ingested"].as_u64().unwrap() + partial,
        trades as u64
    );
    assert_eq!(report["malformed"].as_array().unwrap().len(), 2);
    assert!(run.stderr.contains("left pending"), "{}", run.stderr);
    assert_eq!(trades_recorded(&mut con), trades as u64);
    let shown = universe(
        s.home.path(),
        &["perf", "show", "--store", &s.redis.url(), "--json"],
    )
    .json();
    assert_eq!(shown["AUSDT"]["total_trades"], 1000);
    let wins = (0..trades).filter(|i| i % 3 == 0 && i % 4 != 0).count() as f64;
    assert!((shown["AUSDT"]["win_rate"].as_f64().unwrap() - wins / 1000.0).abs() < 1e-12);

    // malformed entries stay pending, are reported again, never acknowledged
    let again = ingest().json();
    assert_eq!(again["ingested"], 0);
    assert_eq!(again["malformed"].as_array().unwrap().len(), 2);
    let pending: PendingSummary = ::redis::cmd("XPENDING")
        .arg("quantum:stream:trade.closed")
        .arg("universe")
        .query(&mut con)
        .unwrap();
    assert_eq!(pending.0, 2);
    let text = universe(
        s.home.path(),
        &[
            "perf",
            "show",
            "AUSDT",
            "ZZZUSDT",
            "--store",
            &s.redis.url(),
        ],
    );
    let no_record = text
        .stdout
        .lines()
        .any(|l| l.starts_with("ZZZUSDT") && l.ends_with("no record"));
    assert!(
        text.stdout.contains("AUSDT") && no_record,
        "{}",
        text.stdout
    );
}

#[test]
fn an_evicted_symbol_stays_out_of_an_unchanged_market_in_execution_mode() {
    let s = setup();
    let config = s.config("mode = \"execution\"\n");
    let args = ["--top", "4", "--min-symbols", "3"];
    let members = universe_of(&s.generate(&config, &args));
    let loser = members[0].clone();
    s.record(&loser, "0.1", "0.05", "30");
    let mut universes = Vec::new();
    for _ in 0..4 {
        let report = s.generate(&config, &args);
        let universe = universe_of(&report);
        assert!(
            !universe.contains(&loser),
            "the evicted symbol came back: {universe:?}"
        );
        universes.push(universe);
    }
    // it settles: no two universes alternate
    assert_eq!(universes[2], universes[3], "{universes:?}");
    assert_eq!(universes[1], universes[2], "{universes:?}");
}

#[test]
fn evictions_and_expansions_are_planned_together_against_the_bounds() {
    let s = setup();
    let args = ["--top", "4", "--min-symbols", "4"];
    let first = s.generate(&s.config(""), &args);
    let members = universe_of(&first);
    let outside: Vec<String> = first["symbols"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|x| x["score"].is_number() && x["selected"] == false)
        .map(|x| x["symbol"].as_str().unwrap().to_owned())
        .take(6)
        .collect();
    for symbol in &outside {
        s.model(&format!("{symbol}.pt"));
    }
    s.record(&members[0], "0.2", "0.05", "30");
    s.record(&members[1], "0.1", "0.05", "30");
    // at min_symbols 4 both may leave: the expansions refill the universe
    let report = s.generate(&s.config("mode = \"execution\"\nmax_symbols = 5\n"), &args);
    let evict = report["rotation"]["evict"].as_array().unwrap();
    assert!(evict.iter().all(|e| e["applied"] == true), "{evict:?}");
    let universe = universe_of(&report);
    assert_eq!(universe.len(), 5, "{universe:?}");
    assert!(!universe.contains(&members[0]) && !universe.contains(&members[1]));
}

#[test]
fn advisory_says_what_execution_would_do() {
    let s = setup();
    let config = s.config("");
    let members = universe_of(&s.generate(&config, &[]));
    s.record(&members[0], "0.1", "0.05", "30");
    s.record(&members[1], "0.1", "0.05", "30");
    let report = s.generate(&config, &["--held", &members[0]]);
    let evict: BTreeMap<String, serde_json::Value> = report["rotation"]["evict"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["symbol"].as_str().unwrap().to_owned(), e.clone()))
        .collect();
    assert_eq!(
        evict[&members[0]]["not_applied"],
        "advisory mode (execution would not either: held position)"
    );
    assert_eq!(
        evict[&members[1]]["not_applied"],
        "advisory mode (execution would apply it)"
    );
}
