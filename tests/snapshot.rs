//! `snapshot` records what a refresh reads; `generate --source DIR` replays it exactly.

use crate::support::{FakeBinance, market_now, universe};

#[test]
fn a_replayed_snapshot_gives_the_same_universe_hashes_and_scores() {
    let home = tempfile::tempdir().unwrap();
    let exchange = FakeBinance::start(market_now(16));
    let dir = home.path().join("snap");
    let run = universe(
        home.path(),
        &[
            "snapshot",
            "--base-url",
            &exchange.url,
            "--out",
            dir.to_str().unwrap(),
        ],
    );
    run.assert_code(0);
    assert!(
        run.stdout.contains("recorded 18 symbols' candles"),
        "{}",
        run.stdout
    );
    let live = universe(
        home.path(),
        &[
            "generate",
            "--base-url",
            &exchange.url,
            "--dry-run",
            "--json",
        ],
    );
    live.assert_code(0);
    let requests_before = exchange.log().len();

    let replay = universe(
        home.path(),
        &[
            "generate",
            "--source",
            dir.to_str().unwrap(),
            "--dry-run",
            "--json",
        ],
    );
    replay.assert_code(0);
    assert_eq!(
        exchange.log().len(),
        requests_before,
        "a replay asks the exchange nothing"
    );
    let (live, replay) = (live.json(), replay.json());
    for key in [
        "universe",
        "universe_hash",
        "exclusions",
        "scored_count",
        "symbols",
    ] {
        assert_eq!(live[key], replay[key], "{key}");
    }

    // the files are the bodies exactly as served
    let served = exchange.market.lock().unwrap().exchange_info_body();
    assert_eq!(
        std::fs::read_to_string(dir.join("exchangeInfo.json")).unwrap(),
        served
    );
    assert!(dir.join("klines/S00USDT.json").is_file());
    assert!(
        !dir.join("klines/WIDEUSDT.json").exists(),
        "only symbols that passed the cheap filters"
    );
    let meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("snapshot.json")).unwrap()).unwrap();
    assert_eq!(meta["klines_symbols"], 18);
}

#[test]
fn snapshot_refuses_a_folder_with_files_in_it() {
    let home = tempfile::tempdir().unwrap();
    std::fs::write(home.path().join("keep.txt"), "mine").unwrap();
    let run = universe(
        home.path(),
        &[
            "snapshot",
            "--base-url",
            "http://127.0.0.1:9",
            "--out",
            home.path().to_str().unwrap(),
        ],
    );
    run.assert_code(1);
    assert!(run.stderr.contains("is not empty"), "{}", run.stderr);
}

#[test]
fn the_committed_example_snapshot_runs_offline() {
    let home = tempfile::tempdir().unwrap();
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/snapshot");
    let store = format!("file:{}", home.path().join("store").display());
    let run = universe(
        home.path(),
        &["generate", "--source", example, "--store", &store],
    );
    run.assert_code(0);
    assert!(
        run.stdout.starts_with("published universe "),
        "{}",
        run.stdout
    );
    assert!(
        run.stderr.contains("snapshot's data time"),
        "{}",
        run.stderr
    );
    universe(home.path(), &["show", "--store", &store]).assert_code(0);
    universe(home.path(), &["proof", "--store", &store]).assert_code(0);
}
