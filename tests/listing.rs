//! The age filter's listing: the later of onboardDate and the symbol's first candle,
//! asked once per listing and kept in the candle cache, against a fake exchange whose
//! onboardDates are a year old but where one symbol's candles begin five days ago.

use std::path::PathBuf;

use crate::support::market::{DAY, M15};
use crate::support::{FakeBinance, Fault, Run, market_now, universe, universe_of};

/// The symbol whose onboardDate says a year, and whose first candle says five days.
const LATE: &str = "S03USDT";

struct Setup {
    home: tempfile::TempDir,
    exchange: FakeBinance,
}

/// Every symbol but [`LATE`] gets a first candle just after its onboardDate (the fake
/// serves 500 recent candles, so without it every symbol would look five days old).
fn setup() -> Setup {
    let mut market = market_now(12);
    for listing in &mut market.listings {
        if listing.symbol != LATE {
            let first = (listing.onboard_date.div_euclid(M15) + 1) * M15;
            let mut candle = listing.candles[0];
            candle.0 = first;
            listing.candles.insert(0, candle);
        }
    }
    Setup {
        home: tempfile::tempdir().unwrap(),
        exchange: FakeBinance::start(market),
    }
}

impl Setup {
    fn run(&self, command: &str, extra: &[&str]) -> Run {
        let store = format!("file:{}", self.home.path().join("store").display());
        let mut args = vec![command, "--base-url", &self.exchange.url, "--store", &store];
        args.extend_from_slice(extra);
        args.push("--json");
        universe(self.home.path(), &args)
    }

    fn listings(&self) -> PathBuf {
        self.home.path().join("store/cache/listings")
    }

    /// First-candle requests (`limit=1`) since the log held `from` requests, by symbol.
    fn asked(&self, from: usize) -> Vec<String> {
        let mut symbols: Vec<String> = self.exchange.log()[from..]
            .iter()
            .filter(|l| l.path.contains("/klines") && l.path.ends_with("&limit=1"))
            .map(|l| {
                l.path
                    .split("symbol=")
                    .nth(1)
                    .unwrap()
                    .split('&')
                    .next()
                    .unwrap()
                    .to_owned()
            })
            .collect();
        symbols.sort();
        symbols
    }

    fn onboard_date(&self, symbol: &str) -> i64 {
        self.exchange
            .market
            .lock()
            .unwrap()
            .listing_mut(symbol)
            .onboard_date
    }
}

/// A time as `explain` writes it: `2024-01-31T23:45:00`, without the `Z`.
fn rfc3339(ms: i64) -> String {
    crate::support::utc(ms).replace(' ', "T")
}

/// The `detail` of `symbol`'s exclusion in a `generate --json` report.
fn excluded(report: &serde_json::Value, symbol: &str) -> (String, String) {
    let entry = report["symbols"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["symbol"] == symbol)
        .unwrap_or_else(|| panic!("{symbol} is not in the report"));
    (
        entry["excluded"].as_str().unwrap_or_default().to_owned(),
        entry["detail"].as_str().unwrap_or_default().to_owned(),
    )
}

/// The `seen` of `symbol`'s age check in an `explain --json` report.
fn age_seen(report: &serde_json::Value, symbol: &str) -> String {
    let checks = report["symbols"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["symbol"] == symbol)
        .unwrap()["checks"]
        .clone();
    let age = checks
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "age")
        .unwrap()
        .clone();
    age["seen"].as_str().unwrap().to_owned()
}

#[test]
fn a_first_candle_later_than_onboard_date_makes_a_symbol_new_and_is_asked_once() {
    let s = setup();
    // auto learns only from Binance itself: this loopback exchange is taken at its word
    let report = s.run("generate", &["--dry-run"]).assert_code(0).json();
    assert!(s.asked(0).is_empty());
    assert!(universe_of(&report).contains(&LATE.to_owned()));

    let before = s.exchange.log().len();
    let first = s.run("generate", &["--listing-from", "first-candle"]);
    let report = first.assert_code(0).json();
    let picked: Vec<String> = {
        let mut picked = s.exchange.market.lock().unwrap().tradable_symbols();
        picked.extend(["YOUNGUSDT".to_owned(), "ZEROUSDT".to_owned()]);
        picked.sort();
        picked
    };
    assert_eq!(
        s.asked(before),
        picked,
        "one question for each symbol the cheap checks pick"
    );
    let (reason, detail) = excluded(&report, LATE);
    assert_eq!(reason, "too_new");
    assert!(
        detail.ends_with(", by its first candle (later than its onboardDate) (needs ≥ 30 days)"),
        "{detail}"
    );
    assert!(!universe_of(&report).contains(&LATE.to_owned()));
    let kept = std::fs::read_to_string(s.listings()).unwrap();
    assert_eq!(kept.lines().count(), picked.len() + 1, "{kept}");
    let late_line = format!("{LATE} {} ", s.onboard_date(LATE));
    assert!(kept.contains(&late_line), "{kept}");

    // kept: the next refresh asks nothing, and the age check no longer picks LATE
    let before = s.exchange.log().len();
    let again = s
        .run("generate", &["--listing-from", "first-candle"])
        .assert_code(0)
        .json();
    assert!(s.asked(before).is_empty());
    assert_eq!(
        s.exchange.count(&format!("symbol={LATE}&")),
        1 + 1 + 1,
        "not fetched again"
    );
    assert_eq!(universe_of(&again), universe_of(&report));

    // explain says which listing was used, and why
    let explained = s
        .run(
            "explain",
            &["--listing-from", "first-candle", LATE, "S00USDT"],
        )
        .assert_code(0)
        .json();
    let first = s.exchange.market.lock().unwrap().listing_mut(LATE).candles[0].0;
    let seen = age_seen(&explained, LATE);
    let dates = format!("; first candle {}Z, onboardDate ", rfc3339(first));
    assert!(
        seen.contains("by its first candle") && seen.contains(&dates),
        "{seen}"
    );
    assert!(age_seen(&explained, "S00USDT").contains("by its first candle"));
    let no_cache = s.run(
        "explain",
        &["--listing-from", "first-candle", "--no-cache", LATE],
    );
    let seen = age_seen(&no_cache.assert_code(0).json(), LATE);
    assert!(
        seen.starts_with("listed 365.00 days ago, by its onboardDate; onboardDate "),
        "{seen}"
    );
    assert!(
        seen.ends_with("; first candle not known: no candle cache to keep it in (--no-cache)"),
        "{seen}"
    );
    let auto = age_seen(&s.run("explain", &[LATE]).assert_code(0).json(), LATE);
    assert!(
        auto.ends_with("learns it only from https://fapi.binance.com"),
        "{auto}"
    );
}

#[test]
fn a_relisting_is_asked_again_and_a_broken_listings_file_is_skipped_line_by_line() {
    let s = setup();
    s.run("generate", &["--listing-from", "first-candle"])
        .assert_code(0);
    // a re-listing: a new onboardDate, so its kept first candle belongs to the old one
    let relisted = "S01USDT";
    let onboard = s.onboard_date(relisted) + DAY;
    s.exchange
        .market
        .lock()
        .unwrap()
        .listing_mut(relisted)
        .onboard_date = onboard;
    // and another program broke two lines of the file
    let mut text = std::fs::read_to_string(s.listings()).unwrap();
    text.push_str("S02USDT yesterday 5\nnot a listing line at all\n");
    std::fs::write(s.listings(), &text).unwrap();

    let before = s.exchange.log().len();
    let run = s.run("generate", &["--listing-from", "first-candle"]);
    run.assert_code(0);
    assert_eq!(s.asked(before), [relisted]);
    let path = s.listings().display().to_string();
    let lines = text.lines().count();
    for line in [lines - 1, lines] {
        let warning =
            format!("{path}:{line}: not `<symbol> <onboardDate> <first candle>`; skipped");
        assert!(run.stderr.contains(&warning), "{}", run.stderr);
    }
    let kept = std::fs::read_to_string(s.listings()).unwrap();
    assert!(kept.contains(&format!("{relisted} {onboard} ")), "{kept}");
    assert!(
        !kept.contains("yesterday") && !kept.contains("at all"),
        "{kept}"
    );
}

#[test]
fn a_first_candle_that_cannot_be_read_fails_like_its_candles_and_is_asked_again() {
    let s = setup();
    let broken = "S05USDT";
    let question = format!(
        "symbol={broken}&interval=15m&startTime={}&limit=1",
        s.onboard_date(broken)
    );
    s.exchange.fault(&question, Some(1), Fault::Status(400));
    // one symbol in 14 whose market data failed is more than the 2% a refresh forgives
    let failed = s.run("generate", &["--listing-from", "first-candle"]);
    failed.assert_code(3);
    assert!(failed.stderr.contains(&question), "{}", failed.stderr);
    assert!(
        failed.stderr.contains(&format!("{broken}: ")),
        "{}",
        failed.stderr
    );
    // what was learned is kept all the same: it is true whatever the refresh decided
    let kept = std::fs::read_to_string(s.listings()).unwrap();
    assert!(!kept.contains(broken), "{kept}");
    assert!(kept.contains("S00USDT "), "{kept}");

    let before = s.exchange.log().len();
    s.run("generate", &["--listing-from", "first-candle"])
        .assert_code(0);
    assert_eq!(s.asked(before), [broken]);
}

/// exchangeInfo as the exchange gives it today: every symbol listed in 2020, which is
/// wrong for EUSDT, whose candles begin on 2024-01-10.
fn wrong_onboard_dates(path: &std::path::Path) {
    let records: Vec<serde_json::Value> = ["AUSDT", "BUSDT", "CUSDT", "DUSDT", "EUSDT"]
        .iter()
        .map(|symbol| {
            serde_json::json!({"symbol": symbol, "contractType": "PERPETUAL", "status": "TRADING",
                "quoteAsset": "USDT", "marginAsset": "USDT", "deliveryDate": 4_133_404_800_000_i64,
                "onboardDate": 1_600_000_000_000_i64})
        })
        .collect();
    let body = serde_json::json!({"rateLimits": [], "symbols": records});
    std::fs::write(path, body.to_string()).unwrap();
}

/// Each symbol's `firstCandle` in a history's records.
fn first_candles(history: &std::path::Path) -> Vec<(String, Option<i64>)> {
    let body = std::fs::read(history.join("exchangeInfo.json")).unwrap();
    let records: serde_json::Value = serde_json::from_slice(&body).unwrap();
    records["symbols"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["symbol"].as_str().unwrap().to_owned(),
                r["firstCandle"].as_i64(),
            )
        })
        .collect()
}

/// The first step of a `backtest --json` at which `symbol` is eligible.
fn first_eligible(report: &serde_json::Value, symbol: &str) -> i64 {
    report["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|step| {
            step["eligible"]
                .as_array()
                .unwrap()
                .iter()
                .any(|e| e[0] == symbol)
        })
        .unwrap_or_else(|| panic!("{symbol} is never eligible"))["time"]
        .as_i64()
        .unwrap()
}

#[test]
fn a_history_counts_age_from_its_first_candle_only_where_that_is_a_listing() {
    use crate::import::{backtest, market, write_archive};
    use crate::support::archive::JAN;
    use crate::support::path;

    let home = tempfile::tempdir().unwrap();
    let (root, info) = (home.path().join("archive"), home.path().join("info.json"));
    write_archive(&root, &market());
    wrong_onboard_dates(&info);
    let import = |out: &std::path::Path, extra: &[&str]| {
        let mut args = vec!["history", "import", path(&root), "--out", path(out)];
        args.extend_from_slice(&["--exchange-info", path(&info)]);
        args.extend_from_slice(extra);
        universe(home.path(), &args).assert_code(0);
    };
    let whole = home.path().join("whole");
    import(&whole, &[]);
    // EUSDT's archive begins mid-January: a listing. The others' begin where the archive
    // does (2024-01-01T00:00), which says nothing of when they were listed.
    let listed = JAN + 9 * DAY;
    assert_eq!(
        first_candles(&whole),
        [
            ("AUSDT".to_owned(), None),
            ("BUSDT".to_owned(), None),
            ("CUSDT".to_owned(), None),
            ("DUSDT".to_owned(), None),
            ("EUSDT".to_owned(), Some(listed)),
        ]
    );
    // the backtest's age filter (5.5 days here) counts from it, not from 2020
    let min_age = 5 * DAY + DAY / 2;
    let counted = first_eligible(&backtest(home.path(), &whole), "EUSDT");
    assert!(counted >= listed + min_age, "{counted}");
    // the same folder without the field is a recording's: onboardDate alone, so EUSDT is
    // eligible as soon as its windows are full (4 days), which shows the field is read
    let body = std::fs::read_to_string(whole.join("exchangeInfo.json")).unwrap();
    let stripped = body.replace(&format!("\"firstCandle\": {listed}"), "\"note\": 0");
    assert_ne!(stripped, body);
    std::fs::write(whole.join("exchangeInfo.json"), stripped).unwrap();
    let by_onboard = first_eligible(&backtest(home.path(), &whole), "EUSDT");
    assert!(by_onboard < listed + min_age, "{by_onboard}");

    // an import from the 15th does not hold EUSDT's first candle: no listing is claimed
    let later = home.path().join("later");
    import(&later, &["--from", "2024-01-15"]);
    assert!(
        first_candles(&later)
            .iter()
            .all(|(_, first)| first.is_none())
    );
}
