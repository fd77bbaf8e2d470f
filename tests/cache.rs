//! The candle cache on real files: warm refreshes cost weight 1 a symbol and give the
//! same features; anything that could make a feature wrong sends the symbol back cold.

use std::path::PathBuf;

use crate::support::{FakeBinance, Run, market_now, universe};

struct Setup {
    home: tempfile::TempDir,
    exchange: FakeBinance,
}

fn setup() -> Setup {
    Setup {
        home: tempfile::tempdir().unwrap(),
        exchange: FakeBinance::start(market_now(16)),
    }
}

impl Setup {
    fn store(&self) -> String {
        format!("file:{}", self.home.path().join("store").display())
    }

    fn cache_file(&self, symbol: &str) -> PathBuf {
        self.home
            .path()
            .join("store/cache")
            .join(format!("{symbol}.candles"))
    }

    fn generate(&self, extra: &[&str]) -> serde_json::Value {
        let store = self.store();
        let mut args = vec![
            "generate",
            "--base-url",
            &self.exchange.url,
            "--store",
            &store,
            "--json",
        ];
        args.extend_from_slice(extra);
        let run: Run = universe(self.home.path(), &args);
        run.assert_code(0);
        run.json()
    }

    /// The kline requests of one symbol since `from` in the log, by their `limit`.
    fn limits(&self, symbol: &str, from: usize) -> Vec<String> {
        self.exchange.log()[from..]
            .iter()
            .filter(|l| l.path.contains(&format!("symbol={symbol}&")))
            .map(|l| l.path.rsplit("limit=").next().unwrap().to_owned())
            .collect()
    }
}

/// Each scored symbol's features and score, to compare runs.
fn scores(report: &serde_json::Value) -> Vec<(String, serde_json::Value)> {
    report["symbols"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["symbol"].as_str().unwrap().to_owned(),
                serde_json::json!([
                    s["score"],
                    s["atr_pct_15m"],
                    s["trend_1h"],
                    s["mom_15m"],
                    s["mom_1h"],
                    s["excluded"]
                ]),
            )
        })
        .collect()
}

#[test]
fn a_warm_refresh_costs_weight_one_a_symbol_and_changes_no_feature() {
    let s = setup();
    let cold = s.generate(&[]);
    assert_eq!(cold["request_stats"]["cache_hits"], 0);
    assert_eq!(cold["usage"]["weight"], 47 + 18 * 2);
    assert!(s.cache_file("S00USDT").is_file());

    let before = s.exchange.log().len();
    let warm = s.generate(&[]);
    assert_eq!(
        warm["request_stats"]["cache_hits"], 17,
        "all but YOUNGUSDT, whose history is short"
    );
    assert_eq!(warm["usage"]["weight"], 47 + 17 + 2);
    assert_eq!(s.limits("S00USDT", before), ["99"]);
    assert_eq!(scores(&warm), scores(&cold));

    // --no-cache neither reads nor writes it
    let before = s.exchange.log().len();
    std::fs::remove_file(s.cache_file("S01USDT")).unwrap();
    let off = s.generate(&["--no-cache"]);
    assert_eq!(off["request_stats"]["cache_hits"], 0);
    assert_eq!(s.limits("S00USDT", before), ["499"]);
    assert!(!s.cache_file("S01USDT").exists());
    assert_eq!(scores(&off), scores(&cold));
}

/// Damages one symbol's cache or market, and checks the next refresh fetches it cold and
/// computes what a refresh without any cache computes.
fn refetched_cold(s: &Setup, symbol: &str, damage: impl FnOnce(&Setup)) {
    s.generate(&[]);
    damage(s);
    let before = s.exchange.log().len();
    let report = s.generate(&[]);
    let limits = s.limits(symbol, before);
    assert_eq!(
        limits.last().map(String::as_str),
        Some("499"),
        "{symbol} fetched cold: {limits:?}"
    );
    let uncached = s.generate(&["--no-cache"]);
    assert_eq!(scores(&report), scores(&uncached));
}

#[test]
fn a_changed_candle_is_refetched_cold() {
    let s = setup();
    refetched_cold(&s, "S02USDT", |s| {
        let mut market = s.exchange.market.lock().unwrap();
        let candles = &mut market.listing_mut("S02USDT").candles;
        let newest_closed = candles.len() - 2;
        candles[newest_closed].4 *= 1.01; // the exchange corrected the last closed candle
    });
}

#[test]
fn a_gap_is_refetched_cold() {
    let s = setup();
    refetched_cold(&s, "S03USDT", |s| {
        let mut market = s.exchange.market.lock().unwrap();
        let candles = &mut market.listing_mut("S03USDT").candles;
        let newest_closed = candles.len() - 2;
        candles.remove(newest_closed); // the cached newest candle no longer comes back
    });
}

#[test]
fn a_corrupt_or_truncated_file_is_refetched_cold() {
    let s = setup();
    refetched_cold(&s, "S04USDT", |s| {
        let path = s.cache_file("S04USDT");
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, &text[..text.len() / 2]).unwrap();
    });
    refetched_cold(&s, "S05USDT", |s| {
        let path = s.cache_file("S05USDT");
        let mut bytes = std::fs::read(&path).unwrap();
        let at = bytes.len() - 10;
        bytes[at] = if bytes[at] == b'1' { b'2' } else { b'1' };
        std::fs::write(&path, bytes).unwrap();
    });
}

#[test]
fn a_relisted_symbol_is_refetched_cold() {
    let s = setup();
    refetched_cold(&s, "S06USDT", |s| {
        let mut market = s.exchange.market.lock().unwrap();
        let listing = market.listing_mut("S06USDT");
        listing.onboard_date += 86_400_000; // a new listing under the same name
    });
}
