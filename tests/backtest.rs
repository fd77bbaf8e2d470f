//! `universe backtest` on a history folder the test writes: every step decided, the
//! report drawn, and bad input refused.

use std::fmt::Write as _;
use std::path::Path;

use crate::support::market::{Market, Rng};
use crate::support::{sha256_hex, universe, utc};

const M15: i64 = 15 * 60_000;
/// 2023-07-01 00:00 UTC.
const START: i64 = 1_688_169_600_000;

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
    assert_eq!(out["random"]["totals"].as_array().unwrap().len(), 20);
    eligible_can_be_checked(&history, steps);
    // the figures can be checked from the JSON: each rebalanced portfolio's accounts
    // compound to its total return
    for metric in out["metrics"].as_array().unwrap() {
        let name = metric["portfolio"].as_str().unwrap();
        if name.starts_with("buy and hold") {
            continue;
        }
        let compounded = steps
            .iter()
            .filter_map(|s| s["accounts"][name]["return"].as_f64())
            .fold(1.0, |v, r| v * (1.0 + r));
        let total = metric["metrics"]["total_return"].as_f64().unwrap();
        assert!(
            (compounded - 1.0 - total).abs() < 1e-12,
            "{name}: {compounded} {total}"
        );
    }
    assert_eq!(
        out["buy_and_hold"]["constituents"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
    let top = out["settings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["key"] == "selection.top")
        .unwrap();
    assert_eq!(top["value"], 3);
    assert!(top["origin"].as_str().unwrap().contains("--top"), "{top}");
    let page = std::fs::read_to_string(&report).unwrap();
    assert!(
        page.starts_with("<!doctype html>") && page.matches("<svg").count() == 4,
        "four charts"
    );
    for external in ["<script", "<link", "src=", "href=", "url("] {
        assert!(!page.contains(external), "self-contained, yet {external}");
    }
}

/// Each step lists its eligible symbols as `[symbol, direction, 24h quote volume]`: the
/// universe among them with its directions, and the quote volume of the 96 candles closed
/// by then, Σ volume × (h + l + c)/3, recomputed here from the files.
fn eligible_can_be_checked(history: &Path, steps: &[serde_json::Value]) {
    let step = &steps[10];
    let t = step["time"].as_i64().unwrap();
    let eligible = step["eligible"].as_array().unwrap();
    for (member, direction) in step["universe"]
        .as_array()
        .unwrap()
        .iter()
        .zip(step["direction"].as_array().unwrap())
    {
        let row = eligible
            .iter()
            .find(|e| e[0] == *member)
            .expect("a member is eligible");
        assert_eq!(row[1], *direction);
    }
    for row in eligible {
        let symbol = row[0].as_str().unwrap();
        let csv =
            std::fs::read_to_string(history.join(format!("klines/{symbol}_15m.csv"))).unwrap();
        let closed: Vec<Vec<f64>> = csv
            .lines()
            .skip(1)
            .map(|l| {
                l.split(',')
                    .skip(1)
                    .map(|x| x.parse().unwrap())
                    .collect::<Vec<f64>>()
            })
            .zip(0..)
            .filter(|(_, i)| START + (i + 1) * M15 <= t)
            .map(|(v, _)| v)
            .collect();
        let qv: f64 = closed[closed.len() - 96..]
            .iter()
            .map(|v| v[4] * (v[1] + v[2] + v[3]) / 3.0)
            .sum();
        let served = row[2].as_f64().unwrap();
        assert!(
            (served - qv).abs() <= 1e-8 * qv,
            "{symbol}: {served} against {qv}"
        );
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
    // ZEROUSDT's zero prices are refused, by name; the others are fetched whole
    let run = fetch(&["--from", &from]);
    run.assert_code(3);
    assert!(run.stderr.contains("klines of ZEROUSDT"), "{}", run.stderr);
    let tradable = market.tradable_symbols();
    let symbols = tradable.join(",");
    let fetch = |extra: &[&str]| {
        let mut args = extra.to_vec();
        args.extend(["--symbols", &symbols]);
        fetch(&args)
    };
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
    // the exchange's quote volume is kept: the fake's is 1000 × close
    let mut lines = complete[0].lines();
    assert_eq!(
        lines.next(),
        Some("time,open,high,low,close,volume,quote_volume")
    );
    let row: Vec<f64> = lines
        .next()
        .unwrap()
        .split(',')
        .skip(1)
        .map(|f| f.parse().unwrap())
        .collect();
    assert!((row[5] - 1000.0 * row[3]).abs() < 1e-6 * row[5], "{row:?}");
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
    // a file begun by an earlier version, without the column, goes on without it
    let without: Vec<String> = complete[1]
        .lines()
        .map(|l| l.rsplit_once(',').unwrap().0.to_owned())
        .collect();
    let older = out.join(format!("klines/{}_15m.csv", tradable[1]));
    std::fs::write(&older, without[..100].join("\n") + "\n").unwrap();
    fetch(&["--from", &from]).assert_code(0);
    assert_eq!(read(&tradable[1]), without.join("\n") + "\n");
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

/// `history fetch` goes on past a page the exchange cut short, and writes only rows
/// `backtest` accepts: a repeated candle or one whose high is below its low stops the
/// fetch, naming the symbol and the time, with nothing of that page written.
#[test]
fn history_fetch_reads_past_a_short_page_and_refuses_rows_backtest_would() {
    use crate::support::binance::{FakeBinance, Fault};
    let home = tempfile::tempdir().unwrap();
    let market = Market::generate(START + 500 * M15 + 7 * 60_000, 4, 5);
    let tradable = market.tradable_symbols();
    let first = market.listing(&tradable[0]).unwrap().candles[0].0;
    let exchange = FakeBinance::start(market.clone());
    let out = home.path().join("history");
    let fetch = |symbol: &str| {
        let args = [
            "history",
            "fetch",
            "--out",
            out.to_str().unwrap(),
            "--base-url",
            &exchange.url,
            "--from",
            &utc(first),
            "--symbols",
            symbol,
        ];
        universe(home.path(), &args)
    };
    let page = |symbol: &str| -> Vec<serde_json::Value> {
        serde_json::from_str(&market.klines_body(symbol, Some(first), 1500).unwrap()).unwrap()
    };
    let serve = |symbol: &str, rows: &[serde_json::Value]| {
        exchange.fault(
            &format!("symbol={symbol}&interval=15m&startTime={first}&"),
            Some(1),
            Fault::Body(serde_json::to_string(rows).unwrap()),
        );
    };
    let read = |symbol: &str| {
        std::fs::read_to_string(out.join(format!("klines/{symbol}_15m.csv"))).unwrap()
    };

    // a short first page is not the end
    let rows = page(&tradable[0]);
    serve(&tradable[0], &rows[..60]);
    fetch(&tradable[0]).assert_code(0);
    let closed = market.listing(&tradable[0]).unwrap().candles.iter();
    let closed = closed.filter(|c| c.0 + M15 <= market.server_time).count();
    assert!(closed > 60, "the market is longer than the short page");
    assert_eq!(read(&tradable[0]).lines().count(), closed + 1);

    // a repeated candle
    let mut rows = page(&tradable[1]);
    rows.insert(10, rows[9].clone());
    serve(&tradable[1], &rows);
    let run = fetch(&tradable[1]);
    run.assert_code(3);
    let repeated = utc(rows[9][0].as_i64().unwrap()).replace(' ', "T");
    assert!(
        run.stderr.contains(&tradable[1]) && run.stderr.contains(&repeated),
        "symbol and time named: {}",
        run.stderr
    );
    assert_eq!(read(&tradable[1]).lines().count(), 1, "nothing of the page");

    // a high below its low
    let mut rows = page(&tradable[2]);
    rows[5][2] = serde_json::json!("0.0001");
    serve(&tradable[2], &rows);
    let run = fetch(&tradable[2]);
    run.assert_code(3);
    assert!(run.stderr.contains("high"), "{}", run.stderr);

    // what the fetch wrote, backtest reads (a header-only file is named, then left out)
    let run = universe(
        home.path(),
        &[
            "backtest",
            "--history",
            out.to_str().unwrap(),
            "--draws",
            "2",
            "--top",
            "1",
            "--min-symbols",
            "1",
        ],
    );
    run.assert_code(0);
    assert!(run.stderr.contains("holds no candles"), "{}", run.stderr);

    // an unknown symbol and a flag history fetch does not use are usage errors
    let run = fetch("NOPEUSDT");
    run.assert_code(2);
    assert!(run.stderr.contains("NOPEUSDT"), "{}", run.stderr);
    let run = universe(
        home.path(),
        &[
            "history",
            "fetch",
            "--out",
            "x",
            "--from",
            "2023-07-01",
            "--min-age-days",
            "3",
        ],
    );
    run.assert_code(2);
}

/// A history file with a value no market has is refused with its file and line; the
/// backtest never prints NaN totals for it.
#[test]
fn backtest_refuses_a_file_with_an_impossible_candle_by_file_and_line() {
    let home = tempfile::tempdir().unwrap();
    let dir = home.path().join("history");
    write_history(&dir, 700);
    let file = dir.join("klines/S01USDT_15m.csv");
    let good = std::fs::read_to_string(&file).unwrap();
    let breakers = [
        ("NaN", "close NaN"),
        ("inf", "close inf"),
        ("0", "close 0.0"),
        ("-3", "close -3.0"),
        ("1e300", "close 1e300"),
    ];
    for (close, said) in breakers {
        let mut lines: Vec<String> = good.lines().map(str::to_owned).collect();
        let mut fields: Vec<String> = lines[300].split(',').map(str::to_owned).collect();
        fields[4] = close.to_owned();
        lines[300] = fields.join(",");
        std::fs::write(&file, lines.join("\n") + "\n").unwrap();
        let run = universe(
            home.path(),
            &[
                "backtest",
                "--history",
                dir.to_str().unwrap(),
                "--draws",
                "2",
            ],
        );
        assert_ne!(run.code, 0, "{close}");
        let at = format!("S01USDT_15m.csv:301: {said}");
        assert!(run.stderr.contains(&at), "{close}: {}", run.stderr);
    }
    // a high below its low, and a time off the 15-minute grid
    let mut lines: Vec<String> = good.lines().map(str::to_owned).collect();
    let mut fields: Vec<String> = lines[300].split(',').map(str::to_owned).collect();
    fields.swap(2, 3);
    lines[300] = fields.join(",");
    std::fs::write(&file, lines.join("\n") + "\n").unwrap();
    let run = universe(
        home.path(),
        &["backtest", "--history", dir.to_str().unwrap()],
    );
    assert!(run.stderr.contains(":301: low"), "{}", run.stderr);
    let mut lines: Vec<String> = good.lines().map(str::to_owned).collect();
    lines[300] = lines[300].replacen(":00,", ":07,", 1);
    std::fs::write(&file, lines.join("\n") + "\n").unwrap();
    let run = universe(
        home.path(),
        &["backtest", "--history", dir.to_str().unwrap()],
    );
    assert!(
        run.stderr
            .contains(":301: its time is not on the 15-minute grid"),
        "{}",
        run.stderr
    );
}
