//! `universe tune` on histories the test writes: pure noise says "no evidence", a planted
//! signal is found, nothing looks ahead, a seed repeats byte for byte, and the configured
//! weights reproduce `backtest`.

use std::fmt::Write as _;
use std::path::Path;

use crate::support::market::Rng;
use crate::support::{path, universe, utc, write_history_meta};

const M15: i64 = 15 * 60_000;
/// 2024-01-01 00:00 UTC.
const START: i64 = 1_704_067_200_000;
const DAYS: i64 = 16;

/// How a symbol's closes move.
#[derive(Clone, Copy)]
enum Walk {
    /// A random walk.
    Noise,
    /// A steady drift, `sign` up or down, with little noise: trend following pays.
    Drift(f64),
    /// Wide swings of 8 hours: large trends that reverse, so following them loses.
    Swing,
}

/// `symbols` (walk, quote volume per candle) as a history folder of `DAYS` days.
fn write(dir: &Path, symbols: &[(Walk, f64)], seed: u64) {
    std::fs::create_dir_all(dir.join("klines")).unwrap();
    let mut rng = Rng::new(seed);
    let mut records = Vec::new();
    let n = DAYS * 96;
    for (i, &(walk, quote)) in symbols.iter().enumerate() {
        let symbol = format!("S{i:02}USDT");
        let mut csv = String::from("time,open,high,low,close,volume,quote_volume\n");
        let base = 20.0 + 60.0 * rng.unit();
        let mut level = 0.0_f64;
        let mut close = base;
        for k in 0..n {
            let open = close;
            level += match walk {
                Walk::Noise => 0.006 * rng.signed(),
                Walk::Drift(sign) => sign * 0.0012 + 0.001 * rng.signed(),
                Walk::Swing => 0.002 * rng.signed(),
            };
            let swing = match walk {
                Walk::Swing => 0.06 * (2.0 * std::f64::consts::PI * k as f64 / 32.0).sin(),
                _ => 0.0,
            };
            close = base * (level + swing).exp();
            let (high, low) = (open.max(close) * 1.001, open.min(close) * 0.999);
            let q = quote * (0.8 + 0.4 * rng.unit());
            let _ = writeln!(
                csv,
                "{},{open:.6},{high:.6},{low:.6},{close:.6},{:.3},{q:.2}",
                utc(START + k * M15),
                q / close
            );
        }
        std::fs::write(dir.join(format!("klines/{symbol}_15m.csv")), csv).unwrap();
        records.push(
            serde_json::json!({"symbol": symbol, "contractType": "PERPETUAL", "status": "TRADING",
            "quoteAsset": "USDT", "marginAsset": "USDT", "deliveryDate": 4_133_404_800_000_i64,
            "onboardDate": START - 400 * 86_400_000}),
        );
    }
    write_history_meta(dir, &records, START + n * M15);
}

/// `universe tune` on `history` with small settings, then `extra`.
fn small<'a>(history: &'a Path, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "tune",
        "--history",
        path(history),
        "--step",
        "1h",
        "--top",
        "4",
    ];
    args.extend_from_slice(&["--folds", "3", "--blocks", "8", "--draws", "10"]);
    args.extend_from_slice(extra);
    args
}

/// `universe tune --json` with small settings and 40 trials.
fn tune(home: &Path, history: &Path, extra: &[&str]) -> serde_json::Value {
    let mut more = vec!["--trials", "40", "--json"];
    more.extend_from_slice(extra);
    let run = universe(home, &small(history, &more));
    run.assert_code(0);
    run.json()
}

#[test]
fn on_pure_noise_tune_says_no_evidence() {
    let home = tempfile::tempdir().unwrap();
    let mut claims = Vec::new();
    for seed in 1..=10 {
        let history = home.path().join(format!("noise{seed}"));
        write(&history, &[(Walk::Noise, 4e6); 14], seed);
        let out = tune(home.path(), &history, &["--seed", &seed.to_string()]);
        if out["edge"] == true {
            claims.push((seed, out["verdict"].clone()));
        }
        assert!(
            out["deflated_sharpe"]["value"].as_f64().unwrap() < 0.95
                || out["pbo"]["value"].as_f64().unwrap() >= 0.5
        );
    }
    assert!(claims.is_empty(), "an edge claimed on noise: {claims:?}");
}

#[test]
fn a_planted_signal_is_found_and_the_weights_lean_on_it() {
    let home = tempfile::tempdir().unwrap();
    let history = home.path().join("signal");
    // eight liquid symbols drift steadily (following their trend pays); eight thin ones
    // swing widely (their trends are larger, and following them loses)
    let mut symbols = Vec::new();
    for i in 0..8 {
        symbols.push((Walk::Drift(if i % 2 == 0 { 1.0 } else { -1.0 }), 2e7));
        symbols.push((Walk::Swing, 1e6));
    }
    write(&history, &symbols, 3);
    let out = tune(home.path(), &history, &[]);
    let total = |key: &str| -> f64 {
        out["out_of_sample"][key]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r.as_f64().unwrap())
            .sum()
    };
    assert_eq!(
        out["edge"],
        true,
        "{}: out of sample, chosen {} against configured {}; folds {}",
        out["verdict"],
        total("chosen_returns"),
        total("configured_returns"),
        out["deflated_sharpe"]
    );
    for fold in out["folds"].as_array().unwrap() {
        let chosen = &out["trials"][fold["chosen"].as_u64().unwrap() as usize]["weights"];
        let sum: f64 = ["trend_1h", "mom_15m", "mom_1h", "vol_fit", "liquidity"]
            .iter()
            .map(|k| chosen[k].as_f64().unwrap())
            .sum();
        let liquidity = chosen["liquidity"].as_f64().unwrap() / sum;
        // the configured weights give liquidity 0.5 / 3.3 = 0.15 of the score
        assert!(
            liquidity > 1.5 * 0.5 / 3.3,
            "trial {}: liquidity's share {liquidity} of {chosen}",
            fold["chosen"]
        );
    }
}

#[test]
fn later_candles_change_nothing_in_an_earlier_fold() {
    let home = tempfile::tempdir().unwrap();
    let history = home.path().join("noise");
    write(&history, &[(Walk::Noise, 4e6); 14], 11);
    let before = tune(home.path(), &history, &[]);
    let fold = &before["folds"][0];
    let test_end = fold["test"][1].as_u64().unwrap() as usize;
    let first = before["times"]["first"].as_i64().unwrap();
    let cut = first + test_end as i64 * 3_600_000;
    // every candle opened from the step after fold 1's test part on is another market
    for entry in std::fs::read_dir(history.join("klines")).unwrap() {
        let file = entry.unwrap().path();
        let text = std::fs::read_to_string(&file).unwrap();
        let changed: Vec<String> = text
            .lines()
            .enumerate()
            .map(|(i, line)| {
                let open = START + (i as i64 - 1) * M15;
                if i == 0 || open < cut {
                    return line.to_owned();
                }
                let f: Vec<f64> = line
                    .split(',')
                    .skip(1)
                    .map(|x| x.parse().unwrap())
                    .collect();
                format!(
                    "{},{},{},{},{},{},{}",
                    &line[..19],
                    f[0] * 1.5,
                    f[1] * 1.5,
                    f[2] * 1.5,
                    f[3] * 1.5,
                    f[4],
                    f[5] * 3.0
                )
            })
            .collect();
        std::fs::write(&file, changed.join("\n") + "\n").unwrap();
    }
    let after = tune(home.path(), &history, &[]);
    assert_eq!(
        before["folds"][0], after["folds"][0],
        "fold 1's choice and every trial's training score"
    );
    let from = before["out_of_sample"]["from"].as_u64().unwrap() as usize;
    let n = test_end - from;
    let oos = |v: &serde_json::Value, key: &str| {
        v["out_of_sample"][key].as_array().unwrap()[..n].to_vec()
    };
    assert_eq!(
        oos(&before, "chosen_returns"),
        oos(&after, "chosen_returns")
    );
    assert_eq!(
        oos(&before, "configured_returns"),
        oos(&after, "configured_returns")
    );
    assert_ne!(
        before["folds"][2], after["folds"][2],
        "the later folds saw another market"
    );
}

#[test]
fn a_seed_repeats_byte_for_byte_and_the_configured_weights_are_backtest() {
    let home = tempfile::tempdir().unwrap();
    let history = home.path().join("noise");
    write(&history, &[(Walk::Noise, 4e6); 14], 5);
    let args = small(&history, &["--trials", "20"]);
    let a = universe(home.path(), &args);
    a.assert_code(0);
    assert_eq!(a.stdout, universe(home.path(), &args).stdout);
    assert!(
        a.stdout.contains("[score.weights]") && a.stdout.contains("verdict: "),
        "{}",
        a.stdout
    );
    let out = tune(home.path(), &history, &[]);
    let backtest = universe(
        home.path(),
        &[
            "backtest",
            "--history",
            path(&history),
            "--step",
            "1h",
            "--top",
            "4",
            "--draws",
            "2",
            "--json",
        ],
    );
    backtest.assert_code(0);
    let follow = backtest.json()["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["portfolio"] == "universe, follow")
        .unwrap()["metrics"]["total_return"]
        .clone();
    assert_eq!(
        out["configured_total_return"], follow,
        "trial 0 is backtest's decision and accounting"
    );
}
