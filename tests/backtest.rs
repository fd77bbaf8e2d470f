//! `universe backtest` on a history folder the test writes: every step decided, the
//! report drawn, and bad input refused.

use std::fmt::Write as _;
use std::path::Path;

use crate::support::market::{Market, Rng};
use crate::support::{sha256_hex, universe};

const M15: i64 = 15 * 60_000;
/// 2023-07-01 00:00 UTC.
const START: i64 = 1_688_169_600_000;

fn utc(ms: i64) -> String {
    let secs = ms / 1000;
    let (days, rest) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // civil from days (Howard Hinnant's algorithm)
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

/// Six symbols, `n` 15m candles each from START, in the snapshot layout; S05 stops early.
fn write_history(dir: &Path, n: usize) {
    let end = START + n as i64 * M15;
    let mut market = Market::generate(end, 6, 42);
    market.listings.retain(|l| l.symbol.starts_with('S'));
    std::fs::create_dir_all(dir.join("klines")).unwrap();
    std::fs::create_dir_all(dir.join("funding")).unwrap();
    std::fs::write(dir.join("exchangeInfo.json"), market.exchange_info_body()).unwrap();
    std::fs::write(
        dir.join("meta.json"),
        format!(r#"{{"server_time_ms":{end}}}"#),
    )
    .unwrap();
    let mut rng = Rng::new(9);
    for (k, listing) in market.listings.iter().enumerate() {
        let rows = if k == 5 { n - 200 } else { n };
        let mut csv = String::from("time,open,high,low,close,volume\n");
        let mut close = 10.0 + 90.0 * rng.unit();
        for i in 0..rows {
            let open = close;
            close = open * (1.0 + 0.01 * rng.signed());
            let (high, low) = (open.max(close) * 1.003, open.min(close) * 0.997);
            let volume = 4e6 / close * (1.0 + rng.unit());
            let _ = writeln!(
                csv,
                "{},{open:.6},{high:.6},{low:.6},{close:.6},{volume:.3}",
                utc(START + i as i64 * M15)
            );
        }
        std::fs::write(dir.join(format!("klines/{}_15m.csv", listing.symbol)), csv).unwrap();
        let mut funding = String::new();
        for i in 0..n / 32 {
            let _ = writeln!(funding, "{},0.0001", utc(START + i as i64 * 8 * 3_600_000));
        }
        std::fs::write(
            dir.join(format!("funding/{}.csv", listing.symbol)),
            format!("time,rate\n{funding}"),
        )
        .unwrap();
    }
}

#[test]
fn every_step_is_decided_and_reported() {
    let home = tempfile::tempdir().unwrap();
    let history = home.path().join("history");
    write_history(&history, 800);
    let report = home.path().join("report.html");
    let run = universe(
        home.path(),
        &[
            "backtest",
            "--history",
            history.to_str().unwrap(),
            "--from",
            "2023-07-05 06:00",
            "--to",
            "2023-07-09",
            "--step",
            "1h",
            "--top",
            "3",
            "--draws",
            "20",
            "--json",
            "--report",
            report.to_str().unwrap(),
        ],
    );
    run.assert_code(0);
    let out = run.json();
    let steps = out["steps"].as_array().unwrap();
    assert_eq!(
        steps.len(),
        91,
        "every hour from 07-05 06:00 to 07-09 00:00"
    );
    assert_eq!(steps[0]["time"], START + (4 * 24 + 6) * 3_600_000);
    for step in steps {
        let universe: Vec<String> = serde_json::from_value(step["universe"].clone()).unwrap();
        assert_eq!(universe.len(), 3, "{step}");
        let mut sorted = universe.clone();
        sorted.sort();
        assert_eq!(
            step["universe_hash"],
            sha256_hex(sorted.join(",").as_bytes())[..16]
        );
        assert_eq!(step["leverage"].as_array().unwrap().len(), 3);
        assert!(step["values"]["universe, follow"].as_f64().unwrap() > 0.0);
    }
    // S05USDT's last candle closes at 07-07 06:00: after that it is never chosen
    let stop = START + 600 * M15;
    let holds = |s: &&serde_json::Value| s["universe"].to_string().contains("S05USDT");
    let time = |s: &&serde_json::Value| s["time"].as_i64().unwrap();
    assert!(
        steps.iter().filter(|s| time(s) <= stop).any(|s| holds(&s)),
        "S05USDT was chosen before"
    );
    assert!(!steps.iter().filter(|s| time(s) > stop).any(|s| holds(&s)));
    assert_eq!(out["random"]["draws"], 20);
    let page = std::fs::read_to_string(&report).unwrap();
    assert!(
        page.starts_with("<!doctype html>") && page.matches("<svg").count() == 4,
        "four charts"
    );
    for external in ["<script", "<link", "src=", "href=", "url("] {
        assert!(!page.contains(external), "self-contained, yet {external}");
    }
}

#[test]
fn bad_backtest_input_is_a_usage_error() {
    let home = tempfile::tempdir().unwrap();
    let history = home.path().join("history");
    write_history(&history, 500);
    let dir = history.to_str().unwrap();
    for args in [
        &["backtest", "--history", "/no/such/history"][..],
        &[
            "backtest",
            "--history",
            dir,
            "--from",
            "2023-07-06",
            "--to",
            "2023-07-05",
        ][..],
        &["backtest", "--history", dir, "--from", "yesterday"][..],
        &["backtest", "--history", dir, "--step", "90s"][..],
        &["backtest", "--history", dir, "--to", "2030-01-01"][..],
    ] {
        let run = universe(home.path(), args);
        assert_eq!(run.code, 2, "{args:?}: {}", run.stderr);
    }
}

/// `history fetch` against the fake exchange: every closed candle, once, resumable after
/// a stop that tore a line, and the result is a history `backtest` reads.
#[test]
fn history_fetch_gets_every_closed_candle_once_and_resumes() {
    use crate::support::binance::FakeBinance;
    let home = tempfile::tempdir().unwrap();
    let market = Market::generate(START + 500 * M15 + 7 * 60_000, 4, 5);
    let first = market.listings[0].candles[0].0;
    let exchange = FakeBinance::start(market.clone());
    let out = home.path().join("history");
    let fetch = |extra: &[&str]| {
        let mut args = vec![
            "history",
            "fetch",
            "--out",
            out.to_str().unwrap(),
            "--base-url",
            &exchange.url,
        ];
        args.extend_from_slice(extra);
        universe(home.path(), &args)
    };
    let from = utc(first);
    fetch(&["--from", &from]).assert_code(0);
    let tradable = market.tradable_symbols();
    let read = |symbol: &str| {
        std::fs::read_to_string(out.join(format!("klines/{symbol}_15m.csv"))).unwrap()
    };
    let complete: Vec<String> = tradable.iter().map(|s| read(s)).collect();
    for (symbol, text) in tradable.iter().zip(&complete) {
        let closed = market
            .listing(symbol)
            .unwrap()
            .candles
            .iter()
            .filter(|c| c.0 + M15 <= market.server_time)
            .count();
        assert_eq!(
            text.lines().count(),
            closed + 1,
            "{symbol}: header and every closed candle"
        );
    }
    let requests = exchange.count("/fapi/v1/klines");
    // a rerun asks for nothing it has
    fetch(&["--from", &from]).assert_code(0);
    assert_eq!(
        tradable.iter().map(|s| read(s)).collect::<Vec<_>>(),
        complete
    );
    // a stop that tore the last line: the rerun cuts it and fetches the rest
    let torn = out.join(format!("klines/{}_15m.csv", tradable[0]));
    let keep: String = complete[0].lines().take(100).collect::<Vec<_>>().join("\n") + "\n";
    std::fs::write(&torn, format!("{keep}2023-07-0")).unwrap();
    fetch(&["--from", &from]).assert_code(0);
    assert_eq!(read(&tradable[0]), complete[0]);
    assert!(exchange.count("/fapi/v1/klines") > requests);
    let run = universe(
        home.path(),
        &[
            "backtest",
            "--history",
            out.to_str().unwrap(),
            "--draws",
            "2",
            "--json",
            "--top",
            "3",
        ],
    );
    run.assert_code(0);
}
