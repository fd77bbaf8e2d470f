//! What the integration tests share: the real binary, a real redis-server, a fake
//! Binance, a synthetic market.

#![allow(dead_code)]

pub mod archive;
pub mod binance;
pub mod market;
pub mod redis;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

pub use binance::{FakeBinance, Fault};
pub use market::Market;
pub use redis::RedisServer;

/// What a run of the binary left behind.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not JSON ({e}):\n{}\nstderr:\n{}",
                self.stdout, self.stderr
            )
        })
    }

    #[track_caller]
    pub fn assert_code(&self, code: i32) -> &Self {
        assert_eq!(
            self.code, code,
            "exit code\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout, self.stderr
        );
        self
    }
}

/// Runs `universe ARGS` hermetically: no UNIVERSE_* variable from outside, HOME and the
/// XDG state folder in `home`.
pub fn universe(home: &Path, args: &[&str]) -> Run {
    universe_with_env(home, args, &[])
}

pub fn universe_with_env(home: &Path, args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut command = Command::new(env!("CARGO_BIN_EXE_universe"));
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("UNIVERSE_") {
            command.env_remove(name);
        }
    }
    command
        .env("HOME", home)
        .env("XDG_STATE_HOME", home.join("state"))
        .env_remove("NO_COLOR")
        .args(args)
        .envs(env.iter().copied());
    let output = command.output().expect("run the universe binary");
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// A market whose clock is now, so that policies made from it are valid.
pub fn market_now(tradable: usize) -> Market {
    Market::generate(now_ms(), tradable, 7)
}

/// Everything in Redis that a publish touches, for "nothing changed" comparisons.
pub fn redis_state(server: &RedisServer) -> (BTreeMap<String, String>, usize, usize) {
    let mut con = server.connection().expect("redis connection");
    let policy: BTreeMap<String, String> = ::redis::cmd("HGETALL")
        .arg("quantum:policy:current")
        .query(&mut con)
        .unwrap();
    let audit: usize = ::redis::cmd("XLEN")
        .arg("quantum:stream:policy.audit")
        .query(&mut con)
        .unwrap();
    let updates: usize = ::redis::cmd("XLEN")
        .arg("quantum:stream:policy.update")
        .query(&mut con)
        .unwrap();
    (policy, audit, updates)
}

/// `generate` against `exchange`, publishing to `store`, with extra flags.
pub fn generate(home: &Path, exchange: &FakeBinance, store: &str, extra: &[&str]) -> Run {
    let mut args = vec!["generate", "--base-url", &exchange.url, "--store", store];
    args.extend_from_slice(extra);
    universe(home, &args)
}

/// `generate` in the background, for tests that act while it runs.
pub fn spawn_generate(
    home: &Path,
    exchange: &FakeBinance,
    store: &str,
    extra: &[&str],
) -> std::thread::JoinHandle<Run> {
    let mut args: Vec<String> = ["generate", "--base-url", &exchange.url, "--store", store]
        .iter()
        .chain(extra)
        .map(|s| (*s).to_owned())
        .collect();
    let home = home.to_owned();
    std::thread::spawn(move || {
        let args: Vec<&str> = args.iter_mut().map(|s| s.as_str()).collect();
        universe(&home, &args)
    })
}

/// Writes a config file into `dir` and returns its path as a string.
pub fn config_file(dir: &Path, text: &str) -> String {
    let path = dir.join("universe.toml");
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

/// Makes `symbol`'s candles flat: no trend, no momentum, almost no range. It sinks to
/// the bottom of the ranking without becoming ineligible.
pub fn flatten(exchange: &FakeBinance, symbol: &str) {
    let mut market = exchange.market.lock().unwrap();
    let listing = market.listing_mut(symbol);
    let price = listing.candles.last().unwrap().4;
    for candle in &mut listing.candles {
        *candle = (candle.0, price, price * 1.0001, price * 0.9999, price);
    }
}

/// The universe and the churn decisions of a `generate --json` report.
pub fn universe_of(report: &serde_json::Value) -> Vec<String> {
    serde_json::from_value(report["universe"].clone()).unwrap()
}

/// The decision `generate --json` reports for `symbol`: (action, reason).
pub fn decision(report: &serde_json::Value, symbol: &str) -> (String, String) {
    let d = report["churn"]["decisions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["symbol"] == symbol)
        .unwrap_or_else(|| panic!("no decision for {symbol}: {}", report["churn"]));
    (
        d["action"].as_str().unwrap().to_owned(),
        d["reason"].as_str().unwrap().to_owned(),
    )
}

/// sha256 of `bytes`, as lowercase hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    use std::fmt::Write as _;
    sha2::Sha256::digest(bytes)
        .iter()
        .fold(String::new(), |mut hex, b| {
            let _ = write!(hex, "{b:02x}");
            hex
        })
}

/// Gives `symbol` a steady climb of 0.4% a candle: a strong trend and momentum, so it
/// rises to the top of the ranking.
pub fn boost(exchange: &FakeBinance, symbol: &str) {
    let mut market = exchange.market.lock().unwrap();
    let listing = market.listing_mut(symbol);
    let mut price = listing.candles[0].1;
    for candle in &mut listing.candles {
        let next = price * 1.004;
        *candle = (candle.0, price, next * 1.001, price * 0.999, next);
        price = next;
    }
}

/// A UTC time as history files write it: `2024-01-31 23:45:00`.
pub fn utc(ms: i64) -> String {
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

/// A history folder's `exchangeInfo.json` (these records) and `meta.json` (the recording
/// ending at `end_ms`).
pub fn write_history_meta(dir: &Path, records: &[serde_json::Value], end_ms: i64) {
    let info = serde_json::json!({"rateLimits": [], "symbols": records});
    std::fs::write(dir.join("exchangeInfo.json"), info.to_string()).unwrap();
    std::fs::write(
        dir.join("meta.json"),
        format!(r#"{{"server_time_ms":{end_ms}}}"#),
    )
    .unwrap();
}

/// A path as an argument.
pub fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}
