//! The exchange misbehaves on purpose: rate limits, bans, errors, hangs, garbage, NaN.
//! Each test checks what was (not) published and what the exchange saw.

use std::time::Duration;

use crate::support::{
    FakeBinance, Fault, RedisServer, generate, market_now, redis_state, spawn_generate,
};

#[test]
fn retry_after_is_honoured_before_the_next_request() {
    let home = tempfile::tempdir().unwrap();
    let redis = RedisServer::start();
    let exchange = FakeBinance::start(market_now(16));
    exchange.fault("symbol=S03USDT", Some(1), Fault::RateLimited(2));
    let run = generate(home.path(), &exchange, &redis.url(), &["--json"]);
    run.assert_code(0);

    let log = exchange.log();
    let limited = log.iter().find(|l| l.status == 429).expect("one 429");
    // requests already in flight when the 429 left may still arrive; none sent after it
    let later: Vec<_> = log
        .iter()
        .filter(|l| l.at > limited.answered + Duration::from_millis(50))
        .collect();
    assert!(!later.is_empty(), "the run went on after the pause");
    for request in later {
        let waited = request.at - limited.answered;
        assert!(
            waited >= Duration::from_millis(1990),
            "{} sent {waited:?} after the 429",
            request.path
        );
    }
    // sent again (a loaded machine may add a retry for a reset keep-alive connection)
    assert!(
        exchange.count("symbol=S03USDT") >= 2,
        "the limited request was sent again"
    );
    assert_eq!(run.json()["usage"]["rate_limited"], 1);
    assert_eq!(redis_state(&redis).1, 1, "published");
}

#[test]
fn a_ban_stops_every_request_and_fails_closed() {
    let home = tempfile::tempdir().unwrap();
    let redis = RedisServer::start();
    let exchange = FakeBinance::start(market_now(40));
    generate(home.path(), &exchange, &redis.url(), &[]).assert_code(0);
    let before = redis_state(&redis);
    let sent_before = exchange.log().len();

    exchange.fault("symbol=S05USDT", None, Fault::Banned);
    let run = generate(
        home.path(),
        &exchange,
        &redis.url(),
        &["--concurrency", "2"],
    );
    run.assert_code(3);
    assert!(run.stderr.contains("418"), "{}", run.stderr);
    assert!(
        run.stderr.contains("nothing was published"),
        "{}",
        run.stderr
    );

    let log = exchange.log();
    let ban = log[sent_before..]
        .iter()
        .position(|l| l.status == 418)
        .expect("a 418")
        + sent_before;
    // in the second run (the first may have retried on a loaded machine)
    assert_eq!(
        log[sent_before..]
            .iter()
            .filter(|l| l.path.contains("symbol=S05USDT"))
            .count(),
        1,
        "the banned request was not retried"
    );
    // only requests already in flight (at most one per other worker) may follow the ban
    assert!(
        log.len() - ban - 1 <= 1,
        "{} requests after the ban",
        log.len() - ban - 1
    );
    assert_eq!(
        redis_state(&redis),
        before,
        "the previous policy is untouched"
    );
}

#[test]
fn transient_server_errors_are_retried_and_the_run_succeeds() {
    let home = tempfile::tempdir().unwrap();
    let redis = RedisServer::start();
    let exchange = FakeBinance::start(market_now(16));
    exchange.fault("symbol=S07USDT", Some(2), Fault::Status(500));
    exchange.fault("/fapi/v1/ticker/24hr", Some(1), Fault::Status(503));
    let run = generate(home.path(), &exchange, &redis.url(), &["--json"]);
    run.assert_code(0);
    let report = run.json();
    // at least the three planned; a loaded machine may add a reset keep-alive connection
    assert!(
        report["usage"]["retries"].as_u64().unwrap() >= 3,
        "{}",
        report["usage"]
    );
    assert_eq!(
        report["scored_count"], 16,
        "S07USDT was scored after its retries"
    );
    // two failures, then success (a loaded machine may add a retry, never remove one)
    assert!(exchange.count("symbol=S07USDT") >= 3);
}

#[test]
fn failures_beyond_two_percent_fail_closed_and_leave_the_policy_byte_for_byte() {
    let home = tempfile::tempdir().unwrap();
    let redis = RedisServer::start();
    // 60 healthy symbols + YOUNGUSDT + ZEROUSDT: 62 kline requests; 1 failure is 1.6%
    let exchange = FakeBinance::start(market_now(60));
    exchange.fault("symbol=S11USDT", None, Fault::Status(500));
    let run = generate(home.path(), &exchange, &redis.url(), &["--json"]);
    run.assert_code(0);
    let failed = run.json()["symbols"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["symbol"] == "S11USDT")
        .cloned()
        .unwrap();
    assert_eq!(failed["excluded"], "fetch_failed");
    let detail = failed["detail"].as_str().unwrap();
    assert!(
        detail.contains("HTTP 500 after 4 attempt(s)") && detail.contains("S11USDT"),
        "{detail}"
    );
    let before = redis_state(&redis);

    // two failures of 62 are 3.2%: nothing is published
    exchange.fault("symbol=S12USDT", None, Fault::Status(502));
    let run = generate(home.path(), &exchange, &redis.url(), &[]);
    run.assert_code(3);
    assert!(
        run.stderr
            .contains("candle fetches failed for 2 of 62 symbols"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("S11USDT") && run.stderr.contains("S12USDT"),
        "{}",
        run.stderr
    );
    assert_eq!(redis_state(&redis), before);
}

#[test]
fn malformed_bodies_fail_the_request_and_name_url_and_symbol() {
    let home = tempfile::tempdir().unwrap();
    let redis = RedisServer::start();
    let exchange = FakeBinance::start(market_now(60));
    exchange.fault(
        "symbol=S02USDT",
        None,
        Fault::Body(r#"[[1761200000000,"1.0","1.1""#.into()),
    );
    let run = generate(home.path(), &exchange, &redis.url(), &["--json"]);
    run.assert_code(0);
    let report = run.json();
    let s02 = report["symbols"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["symbol"] == "S02USDT")
        .unwrap();
    assert_eq!(s02["excluded"], "fetch_failed");
    let detail = s02["detail"].as_str().unwrap();
    assert!(
        detail.contains("/fapi/v1/klines?symbol=S02USDT")
            && detail.contains("malformed response for S02USDT"),
        "{detail}"
    );

    // a malformed exchangeInfo leaves nothing to select from: fail closed
    let before = redis_state(&redis);
    exchange.fault(
        "/fapi/v1/exchangeInfo",
        None,
        Fault::Body(r#"{"symbols":[{"symbol":1}]}"#.into()),
    );
    let run = generate(home.path(), &exchange, &redis.url(), &[]);
    run.assert_code(3);
    assert!(
        run.stderr.contains("could not fetch exchangeInfo"),
        "{}",
        run.stderr
    );
    assert_eq!(redis_state(&redis), before);
}

#[test]
fn nan_prices_exclude_the_symbol_with_a_reason() {
    let home = tempfile::tempdir().unwrap();
    let redis = RedisServer::start();
    let mut market = market_now(16);
    let candles = &mut market.listing_mut("S04USDT").candles;
    let i = candles.len() - 10;
    candles[i].4 = f64::NAN;
    market.listing_mut("S05USDT").book = Some(("NaN".into(), "1.5".into()));
    market.listing_mut("S06USDT").quote_volume = Some("NaN".into());
    let exchange = FakeBinance::start(market);
    let run = generate(home.path(), &exchange, &redis.url(), &["--json"]);
    run.assert_code(0);
    let report = run.json();
    let reason = |symbol: &str| {
        report["symbols"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["symbol"] == symbol)
            .unwrap()["excluded"]
            .clone()
    };
    assert_eq!(reason("S04USDT"), "bad_data");
    assert_eq!(reason("S05USDT"), "bad_book");
    assert_eq!(reason("S06USDT"), "no_ticker");
    let policy = redis_state(&redis).0;
    for symbol in ["S04USDT", "S05USDT", "S06USDT"] {
        assert!(!policy["universe_symbols"].contains(symbol));
    }
}

#[test]
fn a_hanging_exchange_meets_the_deadline_and_fails_closed() {
    let home = tempfile::tempdir().unwrap();
    let redis = RedisServer::start();
    let exchange = FakeBinance::start(market_now(16));
    exchange.fault(
        "/fapi/v1/klines",
        None,
        Fault::Hang(Duration::from_secs(30)),
    );
    let started = std::time::Instant::now();
    let run = generate(
        home.path(),
        &exchange,
        &redis.url(),
        &["--deadline", "3", "--request-timeout", "1"],
    );
    run.assert_code(3);
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "took {:?}",
        started.elapsed()
    );
    assert!(
        run.stderr.contains("deadline of 3s passed"),
        "{}",
        run.stderr
    );
    assert_eq!(redis_state(&redis).1, 0);
}

#[test]
fn a_hung_request_is_retried_after_its_timeout() {
    let home = tempfile::tempdir().unwrap();
    let redis = RedisServer::start();
    let exchange = FakeBinance::start(market_now(16));
    exchange.fault(
        "symbol=S09USDT",
        Some(1),
        Fault::Hang(Duration::from_secs(5)),
    );
    let run = generate(
        home.path(),
        &exchange,
        &redis.url(),
        &["--request-timeout", "1", "--json"],
    );
    run.assert_code(0);
    assert_eq!(run.json()["scored_count"], 16);
    // the hung request, then its retry
    assert!(exchange.count("symbol=S09USDT") >= 2);
}

#[test]
fn the_minute_weight_never_passes_the_budget() {
    let home = tempfile::tempdir().unwrap();
    let redis = RedisServer::start();
    // other programs on this IP already used 1100 of the minute; the budget leaves 100,
    // enough for the overview and about 26 symbols: the rest must wait for the next
    // minute, which the 4 s deadline does not reach
    let exchange = FakeBinance::start(market_now(200));
    exchange.use_live_clock();
    exchange.set_base_used(1100);
    let run = generate(
        home.path(),
        &exchange,
        &redis.url(),
        &["--weight-budget", "1200", "--deadline", "4"],
    );
    run.assert_code(3);
    assert!(run.stderr.contains("deadline"), "{}", run.stderr);
    assert!(
        exchange.peak_used() <= 1200,
        "the exchange saw {} used",
        exchange.peak_used()
    );
    assert!(exchange.count("/fapi/v1/klines") < 200);
    assert_eq!(redis_state(&redis).1, 0);
}

#[test]
fn redis_down_exits_with_the_store_code_before_asking_the_exchange() {
    let home = tempfile::tempdir().unwrap();
    let mut redis = RedisServer::start();
    let exchange = FakeBinance::start(market_now(16));
    redis.stop();
    let run = generate(home.path(), &exchange, &redis.url(), &[]);
    run.assert_code(4);
    assert!(
        run.stderr
            .contains(&format!("store redis://127.0.0.1:{}/0", redis.port)),
        "{}",
        run.stderr
    );
    assert_eq!(
        exchange.log().len(),
        0,
        "no weight spent when the result could not be stored"
    );
}

#[test]
fn redis_lost_during_the_refresh_leaves_the_previous_policy_whole() {
    let home = tempfile::tempdir().unwrap();
    let mut redis = RedisServer::start();
    let exchange = FakeBinance::start(market_now(16));
    generate(home.path(), &exchange, &redis.url(), &["--top", "5"]).assert_code(0);
    let before = redis_state(&redis);

    exchange.fault(
        "/fapi/v1/klines",
        None,
        Fault::Hang(Duration::from_millis(1500)),
    );
    let run = spawn_generate(home.path(), &exchange, &redis.url(), &["--top", "7"]);
    // once candles are being fetched the store is connected: stop Redis under the run
    exchange.wait_for("/fapi/v1/klines");
    redis.stop();
    let run = run.join().unwrap();
    run.assert_code(4);
    redis.restart();
    assert_eq!(
        redis_state(&redis),
        before,
        "the previous policy, audit and events are as they were"
    );
}
