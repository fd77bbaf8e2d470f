//! `universe history import` on archives the tests make from a fixed seed: the same
//! figures as the same data written directly, every kind of bad file named and left out,
//! reruns that add only what is new.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use crate::support::archive::{
    self, DAY, FEB, JAN, Kline, M15, MAR, Style, candles, funding, funding_csv, funding_path,
    kline_csv, klines_path, put, within,
};
use crate::support::{path, universe, utc, write_history_meta};

const MS: Style = Style {
    header: true,
    micros: false,
};

/// One symbol of a test archive: its candles and funding rates.
pub struct Symbol {
    pub name: &'static str,
    pub klines: Vec<Kline>,
    funding: Vec<(i64, String)>,
}

/// Five symbols from 2024-01-01 to 2024-03-05: DUSDT delisted on 02-15, EUSDT listed on
/// 01-10.
pub fn market() -> Vec<Symbol> {
    let end = MAR + 4 * DAY;
    let spans = [
        ("AUSDT", JAN, end),
        ("BUSDT", JAN, end),
        ("CUSDT", JAN, end),
        ("DUSDT", JAN, FEB + 14 * DAY),
        ("EUSDT", JAN + 9 * DAY, end),
    ];
    spans
        .iter()
        .zip(1..)
        .map(|(&(name, from, to), seed)| Symbol {
            name,
            klines: candles(seed, from, to),
            funding: funding(seed + 100, from, to.min(MAR)),
        })
        .collect()
}

/// `symbols` as the archive has them: monthly files for January (a header, ms) and
/// February (no header, ms), daily files for March (a header, µs), monthly funding files.
pub fn write_archive(root: &Path, symbols: &[Symbol]) {
    let months = [
        ("2024-01", JAN, FEB, MS),
        ("2024-02", FEB, MAR, Style::default()),
    ];
    for s in symbols {
        for (month, from, to, style) in months {
            let rows = within(&s.klines, |k| k.time, from, to);
            if !rows.is_empty() {
                put(root, &klines_path(s.name, month), &kline_csv(&rows, style));
            }
            let rates = within(&s.funding, |f| f.0, from, to);
            if !rates.is_empty() {
                let rates: Vec<(i64, &str)> = rates.iter().map(|(t, r)| (*t, r.as_str())).collect();
                put(root, &funding_path(s.name, month), &funding_csv(&rates, MS));
            }
        }
        for day in 0..4 {
            let from = MAR + day * DAY;
            let rows = within(&s.klines, |k| k.time, from, from + DAY);
            if !rows.is_empty() {
                let style = Style {
                    header: true,
                    micros: true,
                };
                put(
                    root,
                    &klines_path(s.name, &format!("2024-03-0{}", day + 1)),
                    &kline_csv(&rows, style),
                );
            }
        }
    }
}

/// The same candles written directly as a history folder, with records like those an
/// import derives (listed at the first candle).
fn write_direct(dir: &Path, symbols: &[Symbol]) {
    std::fs::create_dir_all(dir.join("klines")).unwrap();
    std::fs::create_dir_all(dir.join("funding")).unwrap();
    let mut records = Vec::new();
    let mut end = 0;
    for s in symbols {
        std::fs::write(
            dir.join(format!("klines/{}_15m.csv", s.name)),
            archive::history_csv(&s.klines),
        )
        .unwrap();
        let mut rates = String::from("time,rate\n");
        for (t, r) in &s.funding {
            let _ = writeln!(rates, "{},{r}", utc(*t));
        }
        std::fs::write(dir.join(format!("funding/{}.csv", s.name)), rates).unwrap();
        records.push(
            serde_json::json!({"symbol": s.name, "contractType": "PERPETUAL", "status": "TRADING",
            "quoteAsset": "USDT", "marginAsset": "USDT", "deliveryDate": 4_133_404_800_000_i64,
            "onboardDate": s.klines[0].time}),
        );
        end = end.max(s.klines.last().unwrap().time + M15);
    }
    write_history_meta(dir, &records, end);
}

pub fn backtest(home: &Path, history: &Path) -> serde_json::Value {
    let config = home.join("backtest.toml");
    std::fs::write(
        &config,
        "[filters]\nmin_age_days = 5.5\nmin_quote_volume = 1.0\n",
    )
    .unwrap();
    let run = universe(
        home,
        &[
            "--config",
            path(&config),
            "backtest",
            "--history",
            path(history),
            "--step",
            "1h",
            "--top",
            "2",
            "--draws",
            "8",
            "--json",
        ],
    );
    run.assert_code(0);
    let mut out = run.json();
    out["history"] = serde_json::Value::Null;
    out
}

#[test]
fn an_imported_archive_backtests_like_the_same_data_written_directly() {
    let home = tempfile::tempdir().unwrap();
    let (root, imported, direct) = (
        home.path().join("archive"),
        home.path().join("imported"),
        home.path().join("direct"),
    );
    let symbols = market();
    write_archive(&root, &symbols);
    // passed over: a delivery contract, another interval
    let jan: Vec<Kline> = within(&symbols[0].klines, |k| k.time, JAN, FEB);
    put(
        &root,
        &klines_path("AUSDT_240628", "2024-01"),
        &kline_csv(&jan, MS),
    );
    put(
        &root,
        "data/futures/um/monthly/klines/AUSDT/1h/AUSDT-1h-2024-01.zip",
        "not read",
    );
    let run = universe(
        home.path(),
        &[
            "history",
            "import",
            path(&root),
            "--out",
            path(&imported),
            "--json",
        ],
    );
    run.assert_code(0);
    let done = run.json();
    assert_eq!(done["symbols"], 5);
    assert_eq!(
        done["microsecond_files"], 16,
        "four March days of four symbols"
    );
    assert_eq!(
        done["millisecond_files"],
        10 + 10,
        "two months of klines and of funding of five symbols"
    );
    assert_eq!(
        done["files"],
        done["millisecond_files"].as_u64().unwrap() + 16
    );
    assert_eq!(
        done["delivery_contracts"],
        serde_json::json!(["AUSDT_240628"])
    );
    assert_eq!(
        done["derived_records"],
        serde_json::json!(["AUSDT", "BUSDT", "CUSDT", "DUSDT", "EUSDT"])
    );
    let all: usize = symbols.iter().map(|s| s.klines.len()).sum();
    assert_eq!(done["candles"], all);
    assert_eq!(done["gaps"], serde_json::json!([]));
    write_direct(&direct, &symbols);
    // the candle files are the very bytes `history fetch` would write
    for s in &symbols {
        let file = format!("klines/{}_15m.csv", s.name);
        assert_eq!(
            std::fs::read_to_string(imported.join(&file)).unwrap(),
            std::fs::read_to_string(direct.join(&file)).unwrap(),
            "{file}"
        );
    }
    let (a, b) = (
        backtest(home.path(), &imported),
        backtest(home.path(), &direct),
    );
    assert_eq!(a, b, "the same figures from the same data");
    // the delisted symbol is traded before it goes, never after
    let held = |from: i64, to: i64| {
        a["steps"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| (from..to).contains(&s["time"].as_i64().unwrap()))
            .any(|s| {
                s["universe"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|u| u == "DUSDT")
            })
    };
    assert!(
        held(JAN, FEB + 14 * DAY),
        "DUSDT is in some universe while it trades"
    );
    assert!(
        !held(FEB + 14 * DAY + 3_600_000, MAR + 4 * DAY),
        "never after its last candle"
    );
}

/// The import's candles of `symbol` in `dir`: time → line.
fn lines(dir: &Path, symbol: &str) -> BTreeMap<String, String> {
    std::fs::read_to_string(dir.join(format!("klines/{symbol}_15m.csv")))
        .unwrap_or_default()
        .lines()
        .skip(1)
        .map(|l| (l[..19].to_owned(), l.to_owned()))
        .collect()
}

/// Three symbols' archive with a file of every kind of fault, DUSDT's January, and an
/// exchangeInfo at `info` that knows AUSDT and DUSDT (delisted since).
fn write_faulty_archive(root: &Path, info: &Path, symbols: &[Symbol]) {
    write_archive(root, &symbols[..3]);
    let a_feb = within(&symbols[0].klines, |k| k.time, FEB, MAR);
    // AUSDT: a daily file inside February that agrees, and one that does not
    put(
        root,
        &klines_path("AUSDT", "2024-02-10"),
        &kline_csv(
            &within(&a_feb, |k| k.time, FEB + 9 * DAY, FEB + 10 * DAY),
            MS,
        ),
    );
    let mut other = within(&a_feb, |k| k.time, FEB + 10 * DAY, FEB + 11 * DAY);
    let low = other[5].text[2].clone();
    other[5].text[3] = low; // a close of its low: a valid candle, another value
    put(
        root,
        &klines_path("AUSDT", "2024-02-11"),
        &kline_csv(&other, MS),
    );
    // BUSDT: a maintenance gap in January
    let b = &symbols[1].klines;
    let mut b_jan = within(b, |k| k.time, JAN, FEB);
    b_jan.drain(100..108);
    put(
        root,
        &klines_path("BUSDT", "2024-01"),
        &kline_csv(&b_jan, MS),
    );
    // CUSDT: February's checksum disagrees; March 2nd is torn; March 3rd breaks a rule on line 7
    std::fs::write(
        root.join(klines_path("CUSDT", "2024-02") + ".CHECKSUM"),
        format!("{}  CUSDT-15m-2024-02.zip\n", "0".repeat(64)),
    )
    .unwrap();
    let torn = root.join(klines_path("CUSDT", "2024-03-02"));
    let bytes = std::fs::read(&torn).unwrap();
    std::fs::write(&torn, &bytes[..bytes.len() / 2]).unwrap();
    std::fs::remove_file(root.join(klines_path("CUSDT", "2024-03-02") + ".CHECKSUM")).unwrap();
    let mut bad = within(&symbols[2].klines, |k| k.time, MAR + 2 * DAY, MAR + 3 * DAY);
    bad[5].text[1] = "0.0001".into(); // high below the low
    put(
        root,
        &klines_path("CUSDT", "2024-03-03"),
        &kline_csv(&bad, MS),
    );
    // DUSDT: only January, then delisted; a record the exchange-info file restates
    let d_jan = within(&symbols[3].klines, |k| k.time, JAN, FEB);
    put(
        root,
        &klines_path("DUSDT", "2024-01"),
        &kline_csv(&d_jan, Style::default()),
    );
    std::fs::write(info, r#"{"rateLimits":[],"symbols":[{"symbol":"DUSDT","contractType":"PERPETUAL","status":"SETTLING","quoteAsset":"USDT","marginAsset":"USDT","deliveryDate":1707955200000,"onboardDate":1600000000000},
        {"symbol":"AUSDT","contractType":"PERPETUAL","status":"TRADING","quoteAsset":"USDT","marginAsset":"USDT","deliveryDate":4133404800000,"onboardDate":1600000000000}]}"#).unwrap();
}

#[test]
fn every_bad_file_is_named_and_left_out_and_the_rest_is_imported() {
    let home = tempfile::tempdir().unwrap();
    let (root, out) = (home.path().join("archive"), home.path().join("history"));
    let symbols = market();
    let info = home.path().join("exchangeInfo.json");
    write_faulty_archive(&root, &info, &symbols);
    let args = [
        "history",
        "import",
        path(&root),
        "--out",
        path(&out),
        "--exchange-info",
        path(&info),
    ];
    let run = universe(home.path(), &args);
    run.assert_code(3);
    let err = &run.stderr;
    for said in [
        "daily/klines/AUSDT/15m/AUSDT-15m-2024-02-11.zip and monthly/klines/AUSDT/15m/AUSDT-15m-2024-02.zip disagree at 2024-02-11T01:15:00Z",
        "monthly/klines/CUSDT/15m/CUSDT-15m-2024-02.zip: its SHA-256 is ",
        "daily/klines/CUSDT/15m/CUSDT-15m-2024-03-02.zip: is not a zip that opens",
        "daily/klines/CUSDT/15m/CUSDT-15m-2024-03-03.zip:7: breaks the candle rules",
        "BUSDT: the exchange has no candles from 2024-01-02T01:00:00Z to 2024-01-02T03:00:00Z (8 missing)",
        "4 archive files were not imported",
    ] {
        assert!(err.contains(said), "stderr lacks {said:?}:\n{err}");
    }
    // the rest is there: AUSDT whole, with its agreeing day; CUSDT but for what was refused
    let a = lines(&out, "AUSDT");
    assert_eq!(a.len(), symbols[0].klines.len());
    let c = lines(&out, "CUSDT");
    assert_eq!(c.len(), 31 * 96 + 2 * 96, "January, March 1st and 4th");
    assert!(!c.contains_key(&utc(FEB)) && c.contains_key(&utc(MAR + 3 * DAY)));
    let records: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("exchangeInfo.json")).unwrap()).unwrap();
    let d = records["symbols"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["symbol"] == "DUSDT")
        .unwrap();
    assert_eq!(
        (d["status"].as_str(), d["onboardDate"].as_i64()),
        (Some("TRADING"), Some(1_600_000_000_000))
    );
    assert!(d["derived"].as_str().unwrap().contains("SETTLING"), "{d}");
    // a rerun changes nothing and says the same
    let before = every_file(&out);
    let again = universe(home.path(), &args);
    again.assert_code(3);
    assert!(
        again
            .stdout
            .starts_with("imported 0 files (0 candles, 0 funding rates)"),
        "{}",
        again.stdout
    );
    assert_eq!(before, every_file(&out));
}

/// Every file below `dir` with its bytes.
fn every_file(dir: &Path) -> BTreeMap<std::path::PathBuf, Vec<u8>> {
    let mut files = BTreeMap::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(every_file(&path));
        } else {
            files.insert(path.clone(), std::fs::read(&path).unwrap());
        }
    }
    files
}

#[test]
fn a_rerun_adds_what_is_new_and_a_replaced_file_only_when_asked() {
    let home = tempfile::tempdir().unwrap();
    let (root, out) = (home.path().join("archive"), home.path().join("history"));
    let symbols = market();
    let a = &symbols[0];
    put(
        &root,
        &klines_path("AUSDT", "2024-01"),
        &kline_csv(&within(&a.klines, |k| k.time, JAN, FEB), MS),
    );
    let args = [
        "history",
        "import",
        path(&root),
        "--out",
        path(&out),
        "--json",
    ];
    universe(home.path(), &args).assert_code(0);
    let january = lines(&out, "AUSDT");
    // February arrives as daily files, then its monthly file
    for day in 0..2 {
        let from = FEB + day * DAY;
        put(
            &root,
            &klines_path("AUSDT", &format!("2024-02-0{}", day + 1)),
            &kline_csv(&within(&a.klines, |k| k.time, from, from + DAY), MS),
        );
    }
    let run = universe(home.path(), &args);
    run.assert_code(0);
    assert_eq!(
        (
            run.json()["files"].as_u64(),
            run.json()["unchanged"].as_u64()
        ),
        (Some(2), Some(1))
    );
    put(
        &root,
        &klines_path("AUSDT", "2024-02"),
        &kline_csv(&within(&a.klines, |k| k.time, FEB, MAR), MS),
    );
    let run = universe(home.path(), &args);
    run.assert_code(0);
    assert_eq!(
        run.json()["candles"],
        27 * 96,
        "the month but for the two days already in"
    );
    let now = lines(&out, "AUSDT");
    assert_eq!(now.len(), 29 * 96 + 31 * 96);
    assert!(january.iter().all(|(t, l)| now[t] == *l));
    // Binance replaces January: reported, kept as it was, merged only when asked
    let mut changed = within(&a.klines, |k| k.time, JAN, FEB);
    changed[0].text[4] = "1".into();
    put(
        &root,
        &klines_path("AUSDT", "2024-01"),
        &kline_csv(&changed, MS),
    );
    let run = universe(home.path(), &args);
    run.assert_code(3);
    assert!(
        run.stderr
            .contains("monthly/klines/AUSDT/15m/AUSDT-15m-2024-01.zip: Binance replaced it"),
        "{}",
        run.stderr
    );
    assert_eq!(lines(&out, "AUSDT"), now);
    let mut replace = args.to_vec();
    replace.push("--replace-changed");
    let run = universe(home.path(), &replace);
    run.assert_code(0);
    assert_eq!(
        run.json()["replaced"],
        serde_json::json!(["monthly/klines/AUSDT/15m/AUSDT-15m-2024-01.zip"])
    );
    let replaced = lines(&out, "AUSDT");
    assert_eq!(replaced.len(), now.len());
    assert_eq!(
        replaced[&utc(JAN)].split(',').nth(5),
        Some("1"),
        "the new volume"
    );
}

#[test]
fn bad_import_arguments_are_usage_errors() {
    let home = tempfile::tempdir().unwrap();
    let (root, out) = (home.path().join("archive"), home.path().join("history"));
    let symbols = market();
    put(
        &root,
        &klines_path("AUSDT", "2024-01"),
        &kline_csv(&within(&symbols[0].klines, |k| k.time, JAN, FEB), MS),
    );
    let base = ["history", "import", path(&root), "--out", path(&out)];
    let with = |extra: &[&'static str]| -> Vec<String> {
        base.iter().chain(extra).map(|s| (*s).to_owned()).collect()
    };
    for (extra, said) in [
        (
            &["--symbols", "NOPEUSDT"][..],
            "the archive has no 15m klines or funding of NOPEUSDT",
        ),
        (
            &["--from", "2024-01-01 12:00"][..],
            "--from \"2024-01-01 12:00\": a day",
        ),
        (
            &["--exchange-info", "/nonexistent.json"][..],
            "--exchange-info /nonexistent.json",
        ),
    ] {
        let args = with(extra);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let run = universe(home.path(), &args);
        run.assert_code(2);
        assert!(run.stderr.contains(said), "{said:?}:\n{}", run.stderr);
    }
    let run = universe(
        home.path(),
        &["history", "import", path(home.path()), "--out", path(&out)],
    );
    run.assert_code(2);
    assert!(
        run.stderr
            .contains("holds no data/futures/um/monthly or daily folder"),
        "{}",
        run.stderr
    );
    // a folder `history fetch` wrote is not an import's
    std::fs::create_dir_all(out.join("klines")).unwrap();
    std::fs::write(
        out.join("klines/AUSDT_15m.csv"),
        "time,open,high,low,close,volume\n",
    )
    .unwrap();
    let run = universe(home.path(), &base);
    run.assert_code(2);
    assert!(
        run.stderr.contains("not made by an import"),
        "{}",
        run.stderr
    );
    assert!(!out.join("manifest.json").exists());
}
