//! Indicators against TA-Lib's own output (`tests/golden/make_golden.py` made it).
//! Each indicator is checked at every index TA-Lib gives a value for, by feeding ours
//! the series up to that index.

use serde::Deserialize;
use universe::features::{atr, ema, natr, roc};
use universe::market::Candle;

#[derive(Deserialize)]
struct Golden {
    cases: Vec<Case>,
}

#[derive(Deserialize)]
struct Case {
    name: String,
    ohlc: Vec<[f64; 4]>,
    natr14: Vec<Option<f64>>,
    atr14: Vec<Option<f64>>,
    ema20: Vec<Option<f64>>,
    ema50: Vec<Option<f64>>,
    roc20: Vec<Option<f64>>,
}

fn golden() -> Golden {
    serde_json::from_str(include_str!("golden/indicators.json")).expect("golden values")
}

#[track_caller]
fn assert_close(ours: Option<f64>, talib: Option<f64>, what: &str) {
    match (ours, talib) {
        (Some(a), Some(b)) => {
            let tolerance = 1e-12 * b.abs().max(1e-12);
            assert!((a - b).abs() <= tolerance, "{what}: ours {a}, TA-Lib {b}");
        }
        (None, None) => {}
        _ => panic!("{what}: ours {ours:?}, TA-Lib {talib:?}"),
    }
}

#[test]
fn indicators_match_talib_at_every_index() {
    let golden = golden();
    assert_eq!(golden.cases.len(), 3);
    for case in &golden.cases {
        let candles: Vec<Candle> = case
            .ohlc
            .iter()
            .enumerate()
            .map(|(i, &[open, high, low, close])| Candle {
                open_time: i as i64 * 900_000,
                open,
                high,
                low,
                close,
            })
            .collect();
        let closes: Vec<f64> = candles.iter().map(|c| c.close).collect();
        let mut compared = 0;
        for end in 1..=candles.len() {
            let i = end - 1;
            let at = |name: &str| format!("{} {name} at {i}", case.name);
            assert_close(atr(&candles[..end], 14), case.atr14[i], &at("ATR(14)"));
            assert_close(natr(&candles[..end], 14), case.natr14[i], &at("NATR(14)"));
            assert_close(ema(&closes[..end], 20), case.ema20[i], &at("EMA(20)"));
            assert_close(ema(&closes[..end], 50), case.ema50[i], &at("EMA(50)"));
            assert_close(roc(&closes[..end], 20), case.roc20[i], &at("ROC(20)"));
            compared += 1;
        }
        assert_eq!(compared, 120);
        // TA-Lib's warm-up: the first value at index = period (ATR), period − 1 (EMA)
        assert!(case.natr14[13].is_none() && case.natr14[14].is_some());
        assert!(case.ema50[48].is_none() && case.ema50[49].is_some());
    }
}
