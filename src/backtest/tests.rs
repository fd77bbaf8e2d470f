//! Unit tests of the backtest: point in time by construction, and no look-ahead.

use std::collections::BTreeMap;

use std::fmt::Write as _;

use proptest::prelude::*;

use super::archive::{Archive, Series};
use super::random::Rng;
use super::*;
use crate::market::Candle;
use crate::market::candles::M15;
use crate::market::wire::SymbolInfo;
use crate::settings::Overrides;

const DAY: i64 = 86_400_000;
/// 2023-07-01 00:00 UTC.
const START: i64 = 1_688_169_600_000;

/// A random walk of `n` 15m candles from `START`, liquid enough for every filter.
fn walk(rng: &mut Rng, n: usize) -> Series {
    let mut close = 1.0 + (rng.below(50_000) as f64) / 100.0;
    let mut series = Series::default();
    for i in 0..n {
        let open = close;
        let step = (rng.below(2001) as f64 - 1000.0) / 1000.0 * 0.01;
        close = open * (1.0 + step);
        series.candles.push(Candle {
            open_time: START + i as i64 * M15,
            open,
            high: open.max(close) * 1.002,
            low: open.min(close) * 0.998,
            close,
        });
        series
            .volumes
            .push(5e6 / close * (1.0 + rng.below(100) as f64 / 50.0));
    }
    series
}

fn info(symbol: &str) -> SymbolInfo {
    SymbolInfo {
        symbol: symbol.to_owned(),
        contract_type: "PERPETUAL".into(),
        status: "TRADING".into(),
        quote_asset: "USDT".into(),
        margin_asset: "USDT".into(),
        delivery_date: 4_133_404_800_000,
        onboard_date: START - 365 * DAY,
        first_candle: crate::market::listing::FirstCandle::default(),
    }
}

/// `symbols` random walks of `n` candles each.
fn archive(seed: u64, symbols: usize, n: usize) -> Archive {
    let mut rng = Rng::new(seed);
    let names: Vec<String> = (0..symbols).map(|i| format!("S{i:02}USDT")).collect();
    Archive {
        dir: "memory".into(),
        end: START + n as i64 * M15,
        symbols: names.iter().map(|s| info(s)).collect(),
        weight_limit: Some(2400),
        series: names
            .iter()
            .map(|s| (s.clone(), walk(&mut rng, n)))
            .collect(),
        funding: BTreeMap::new(),
        warnings: Vec::new(),
    }
}

fn settings(top: usize) -> Settings {
    let mut o = Overrides::default();
    o.set(
        "selection.top",
        toml::Value::Integer(top as i64),
        crate::settings::Origin::Default,
    );
    let mut s = Settings::resolve(None, o).unwrap();
    s.filters.max_spread_bps = f64::INFINITY;
    s
}

#[test]
fn the_market_at_t_holds_only_what_was_known_at_t() {
    let a = archive(7, 4, 600);
    let t = START + 500 * M15 + 7 * 60_000; // mid-candle
    let view = a.view_at(t);
    assert_eq!(view.overview.server_time, t);
    for (symbol, candles) in &view.candles {
        let candles = candles.as_ref().unwrap();
        assert!(candles.iter().all(|c| c.open_time <= t), "{symbol}");
        assert_eq!(
            candles.last().unwrap().open_time,
            START + 500 * M15,
            "the forming one is served"
        );
    }
    // the 24h quote volume of the 96 candles closed by t, as the replay tool derives it
    let s = a.series_of("S00USDT").unwrap();
    let expected: f64 = (404..500)
        .map(|i| s.volumes[i] * (s.candles[i].high + s.candles[i].low + s.candles[i].close) / 3.0)
        .sum();
    let served = view.overview.quote_volumes["S00USDT"];
    assert!(
        (served - expected).abs() <= 1e-8 * expected.max(1.0),
        "{served} {expected}"
    );
    assert_eq!(s.price_at(t), Some(s.candles[499].close));
    assert_eq!(
        s.price_at(t + 3 * DAY),
        None,
        "a series that stopped has no price"
    );
}

#[test]
fn a_symbol_that_leaves_and_returns_is_eligible_again_only_after_96_fresh_hours() {
    let mut a = archive(11, 5, 1400);
    let gap = 600..700; // S00USDT stops for 25 hours
    let i = a.index_of("S00USDT").unwrap();
    let s = &mut a.series[i].1;
    s.candles.drain(gap.clone());
    s.volumes.drain(gap);
    let eligible = |a: &Archive, t: i64| {
        let step = decide_at(a, &settings(3), &Memory::default(), t).unwrap();
        step.eligible
            .iter()
            .any(|e| e.index() == a.index_of("S00USDT").unwrap())
    };
    let back = START + 700 * M15;
    assert!(eligible(&a, START + 590 * M15), "before it stopped");
    assert!(!eligible(&a, START + 650 * M15), "while stopped");
    assert!(!eligible(&a, back + DAY), "a day after it returned");
    assert!(
        eligible(&a, back + 97 * 3_600_000),
        "96 hours after it returned"
    );
}

#[test]
fn a_step_that_fails_closed_keeps_the_last_universe_until_it_expires() {
    let a = archive(3, 4, 700);
    let mut s = settings(3);
    s.min_symbols = 3;
    let t0 = START + 500 * M15;
    let times = grid(t0, t0 + 3_600_000, 1_800_000);
    let mut thin = a.clone();
    for series in thin.series.iter_mut().map(|(_, s)| s).skip(2) {
        let keep = series.closed_by(t0 + 1);
        series.candles.truncate(keep);
        series.volumes.truncate(keep);
    }
    let steps = decisions(&thin, &s, &times);
    assert!(steps[0].failed.is_none(), "{steps:?}");
    assert!(
        steps[1].failed.is_some() && steps[1].universe == steps[0].universe,
        "{:?}",
        steps[1]
    );
    assert!(
        steps[2].failed.is_some() && steps[2].universe.is_empty(),
        "valid for 1h only"
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(16))]

    /// Whatever happens after `cut`, every decision up to `cut` stays the same: the
    /// candles opened after it, the one forming at it, and more appended.
    #[test]
    fn no_decision_looks_ahead(seed in 0u64..1000, cut_step in 0usize..8, extra in 0usize..200) {
        let a = archive(seed, 6, 560);
        let t0 = START + 400 * M15;
        let times = grid(t0, t0 + 10 * M15 * 4, M15 * 4);
        let cut = times[cut_step];
        let mut later = a.clone();
        let mut rng = Rng::new(seed ^ 0xabcd);
        for series in later.series.iter_mut().map(|(_, s)| s) {
            let keep = series.candles.partition_point(|c| c.open_time < cut);
            let tail = walk(&mut rng, series.candles.len() - keep + extra);
            series.candles.truncate(keep);
            series.volumes.truncate(keep);
            for (i, (c, v)) in tail.candles.iter().zip(&tail.volumes).enumerate() {
                series.candles.push(Candle { open_time: cut + i as i64 * M15, ..*c });
                series.volumes.push(*v);
            }
        }
        let s = settings(3);
        let upto: Vec<i64> = times.iter().copied().filter(|t| *t <= cut).collect();
        prop_assert_eq!(decisions(&a, &s, &upto), decisions(&later, &s, &upto));
    }
}

#[test]
fn a_random_universe_stands_still_while_the_strategy_fails_closed() {
    let a = archive(3, 4, 700);
    let mut s = settings(3);
    s.min_symbols = 3;
    let t0 = START + 500 * M15;
    let times = grid(t0, t0 + 3_600_000, 1_800_000);
    let mut thin = a.clone();
    for series in thin.series.iter_mut().map(|(_, s)| s).skip(2) {
        let keep = series.closed_by(t0 + 1);
        series.candles.truncate(keep);
        series.volumes.truncate(keep);
    }
    let steps = decisions(&thin, &s, &times);
    let held = random::draw(&steps, 3, &mut random::Rng::new(1));
    assert_eq!(held[0].len(), 3);
    assert_eq!(held[1], held[0], "the standing universe's time");
    assert!(held[2].is_empty(), "expired");
}

#[test]
fn a_bad_row_is_reported_with_its_file_and_line() {
    let rows = "time,open,high,low,close,volume\n\
                2023-07-01 00:00:00,1,2,0.5,1.5,10\n\
                2023-07-01 00:15:00,1,0.9,0.5,1.5,10\n";
    let dir = folder(&[("S00USDT_15m.csv", rows.into())]);
    let file = dir.path().join("klines/S00USDT_15m.csv");
    let err = Archive::read(dir.path()).unwrap_err();
    assert_eq!((err.path.as_path(), err.line), (file.as_path(), Some(3)));
    assert!(err.problem.contains("high 0.9"), "{err}");
    assert!(
        err.to_string()
            .ends_with(&format!("S00USDT_15m.csv:3: {}", err.problem))
    );
}

/// A folder of `files` (name → CSV text) with an empty exchangeInfo.
fn folder(files: &[(&str, String)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("klines")).unwrap();
    std::fs::write(
        dir.path().join("meta.json"),
        r#"{"server_time_ms": 1688169600000}"#,
    )
    .unwrap();
    std::fs::write(
        dir.path().join("exchangeInfo.json"),
        r#"{"symbols": [], "rateLimits": []}"#,
    )
    .unwrap();
    for (name, text) in files {
        std::fs::write(dir.path().join("klines").join(name), text).unwrap();
    }
    dir
}

#[test]
fn the_exchanges_quote_volume_is_used_where_a_file_has_the_column() {
    let rows = |quote: bool| -> String {
        let mut text = String::from(if quote {
            "time,open,high,low,close,volume,quote_volume\n"
        } else {
            "time,open,high,low,close,volume\n"
        });
        for i in 0..200i64 {
            let time = crate::clock::epoch((START + i * M15) / 1000);
            let time = time.trim_end_matches('Z').replace('T', " ");
            let extra = if quote {
                format!(",{}", 1000 + i)
            } else {
                String::new()
            };
            writeln!(text, "{time},1,2,0.5,1.5,10{extra}").unwrap();
        }
        text
    };
    let dir = folder(&[
        ("A00USDT_15m.csv", rows(true)),
        ("B00USDT_15m.csv", rows(false)),
    ]);
    let a = Archive::read(dir.path()).unwrap();
    let t = START + 200 * M15;
    let served = a.overview_at(t).quote_volumes;
    // the last 96 rows' own quote volumes: 1104 + … + 1199
    assert_eq!(
        served["A00USDT"],
        (104..200).map(|i| 1000.0 + f64::from(i)).sum::<f64>()
    );
    // derived: 96 × 10 × (2 + 0.5 + 1.5)/3
    assert!((served["B00USDT"] - 96.0 * 10.0 * 4.0 / 3.0).abs() < 1e-6);
    assert!(
        a.limits()
            .contains("quote_volume column (from candles for the 1 without one)")
    );
}

#[test]
fn a_file_whose_header_names_other_columns_or_whose_quote_volume_is_absurd_is_refused() {
    let dir = folder(&[("A00USDT_15m.csv", "time,close,open\n".into())]);
    let err = Archive::read(dir.path()).unwrap_err();
    assert_eq!(err.line, Some(1), "{err}");
    let rows = "time,open,high,low,close,volume,quote_volume\n\
                2023-07-01 00:00:00,1,2,0.5,1.5,10,-3\n";
    let dir = folder(&[("A00USDT_15m.csv", rows.into())]);
    let err = Archive::read(dir.path()).unwrap_err();
    assert_eq!(err.line, Some(2), "{err}");
    assert!(err.problem.contains("quote_volume -3.0"), "{err}");
}

#[test]
fn buy_and_hold_holds_the_largest_listed_symbols_and_pays_in_and_out() {
    let a = archive(5, 4, 700);
    let times = grid(START + 500 * M15, START + 600 * M15, 4 * M15);
    let moves = outcome::Moves::new(&a, &times);
    let (curve, held) = outcome::buy_and_hold(&a, &moves, &times, 2, 0.001);
    // the two largest by the quote volume served at the first step, eligible or not
    let served = a.overview_at(times[0]).quote_volumes;
    let mut by_volume: Vec<(&String, f64)> = served.iter().map(|(s, v)| (s, *v)).collect();
    by_volume.sort_by(|x, y| y.1.total_cmp(&x.1));
    assert_eq!(held, [by_volume[0].0.clone(), by_volume[1].0.clone()]);
    // no funding in this history: half each in, the price ratio, the fee out
    let ratio = |s: &str| {
        let series = a.series_of(s).unwrap();
        series.last_price(times[25]).unwrap() / series.price_at(times[0]).unwrap()
    };
    let last = (1.0 - 0.001) * (ratio(&held[0]) + ratio(&held[1])) / 2.0 * (1.0 - 0.001);
    assert!((curve.values[25] - last).abs() < 1e-12);
}

#[test]
fn a_settlement_the_history_has_no_rate_for_is_named() {
    let mut a = archive(5, 2, 700);
    // S00USDT settles at 08:00 and 16:00 of day 5; S01USDT has no file at all
    a.funding.insert(
        "S00USDT".into(),
        vec![
            (START + 4 * DAY + 8 * 3_600_000, 0.0001),
            (START + 4 * DAY + 16 * 3_600_000, 0.0001),
        ],
    );
    let times = grid(START + 4 * DAY, START + 5 * DAY, 4 * M15);
    let steps = decisions(&a, &settings(2), &times);
    let m = summary::Measure {
        fee: 0.0,
        top: 2,
        draws: 1,
        flat_leverage: 10,
        step_ms: 4 * M15,
    };
    let s = summary::summarise(&a, &steps, &m);
    let at = |h: i64| START + 4 * DAY + h * 3_600_000;
    assert_eq!(
        s.missing_funding,
        [
            ("S00USDT".to_owned(), at(24)),
            ("S01USDT".to_owned(), at(8)),
            ("S01USDT".to_owned(), at(16)),
            ("S01USDT".to_owned(), at(24)),
        ]
    );
}
