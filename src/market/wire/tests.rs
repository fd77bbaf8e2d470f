//! Unit tests of `wire`.

use super::*;

#[test]
fn kline_rows_parse_prices_and_skip_the_rest() {
    let body = br#"[[1761200100000,"1.5","2","1","1.75","10",1761201000000,"15",3,"5","7","0"],
                    [1761201000000,"NaN","2","1","1.5","10",1761201900000,"15",3,"5","7","0"]]"#;
    let candles = parse_klines(body).unwrap();
    assert_eq!(candles.len(), 2);
    assert_eq!(candles[0].open_time, 1_761_200_100_000);
    assert_eq!(
        (
            candles[0].open,
            candles[0].high,
            candles[0].low,
            candles[0].close
        ),
        (1.5, 2.0, 1.0, 1.75)
    );
    assert!(
        candles[1].open.is_nan(),
        "NaN is kept for the selection to judge"
    );
}

#[test]
fn truncated_or_misshapen_klines_are_errors() {
    assert!(parse_klines(br#"[[1761200000000,"1.0","1.1""#).is_err());
    assert!(
        parse_klines(br#"[[1761200100000,"1.0","1.1"]]"#)
            .unwrap_err()
            .contains("fewer than 5")
    );
    assert!(
        parse_klines(br#"[[1761200100000,"x","1","1","1"]]"#)
            .unwrap_err()
            .contains("\"x\" is not a number")
    );
    let unordered = br#"[[1761201000000,"1","1","1","1"],[1761200100000,"1","1","1","1"]]"#;
    assert!(
        parse_klines(unordered)
            .unwrap_err()
            .contains("not increasing")
    );
    assert!(
        parse_klines(br#"[[1761200100001,"1","1","1","1"]]"#)
            .unwrap_err()
            .contains("15m boundary")
    );
}

#[test]
fn exchange_info_reads_the_minute_weight_limit() {
    let body = br#"{"rateLimits":[{"rateLimitType":"ORDERS","interval":"MINUTE","intervalNum":1,"limit":1200},
        {"rateLimitType":"REQUEST_WEIGHT","interval":"MINUTE","intervalNum":1,"limit":2400}],
        "symbols":[{"symbol":"BTCUSDT","contractType":"PERPETUAL","status":"TRADING","quoteAsset":"USDT",
        "marginAsset":"USDT","deliveryDate":4133404800000,"onboardDate":1569398400000,"filters":[]}]}"#;
    let info = parse_exchange_info(body).unwrap();
    assert_eq!(info.weight_limit, Some(2400));
    assert_eq!(info.symbols[0].symbol, "BTCUSDT");
    assert_eq!(info.symbols[0].delivery_date, 4_133_404_800_000);
}

#[test]
fn tickers_and_books_parse_decimal_strings() {
    let tickers =
        parse_tickers(br#"[{"symbol":"A","quoteVolume":"123.5","lastPrice":"1"}]"#).unwrap();
    assert_eq!(tickers.values["A"], 123.5);
    let books = parse_books(br#"[{"symbol":"A","bidPrice":"1.0","askPrice":"1.1"}]"#).unwrap();
    assert_eq!(books.values["A"], Book { bid: 1.0, ask: 1.1 });
    assert!(parse_books(br#"{"code":-1003,"msg":"Too many requests"}"#).is_err());
}

#[test]
fn the_top_level_must_be_what_binance_sends() {
    assert!(
        parse_time(b"[1761220350000]")
            .unwrap_err()
            .contains("expected an object")
    );
    assert_eq!(
        parse_time(b" {\"serverTime\":1761220350000}").unwrap(),
        1_761_220_350_000
    );
    let as_array = br#"[[], [{"symbol":"BTCUSDT","contractType":"PERPETUAL","status":"TRADING","quoteAsset":"USDT",
        "marginAsset":"USDT","deliveryDate":4133404800000,"onboardDate":1569398400000}]]"#;
    assert!(parse_exchange_info(as_array).is_err());
    assert!(parse_tickers(br#"{"symbol":"A","quoteVolume":"1"}"#).is_err());
    assert!(parse_klines(br#"{"0":[1,"1","1","1","1"]}"#).is_err());
}

#[test]
fn duplicates_collapse_when_equal_and_conflict_when_not() {
    let record = |status: &str| {
        format!(
            r#"{{"symbol":"XPINUSDT","contractType":"PERPETUAL","status":"{status}","quoteAsset":"USDT","marginAsset":"USDT","deliveryDate":4133404800000,"onboardDate":1569398400000}}"#
        )
    };
    let body = format!(
        r#"{{"symbols":[{},{},{}]}}"#,
        record("TRADING"),
        record("TRADING"),
        record("TRADING").replace("XPIN", "ZZZ")
    );
    let info = parse_exchange_info(body.as_bytes()).unwrap();
    let names: Vec<&str> = info.symbols.iter().map(|s| s.symbol.as_str()).collect();
    assert_eq!(
        names,
        ["XPINUSDT", "ZZZUSDT"],
        "identical records collapse to one"
    );
    assert!(info.conflicts.is_empty());
    let body = format!(
        r#"{{"symbols":[{},{}]}}"#,
        record("TRADING"),
        record("SETTLING")
    );
    let info = parse_exchange_info(body.as_bytes()).unwrap();
    assert!(info.symbols.is_empty(), "never the last one wins");
    assert_eq!(info.conflicts.len(), 1);
    assert!(info.conflicts[0].1.contains("TRADING") && info.conflicts[0].1.contains("SETTLING"));

    let tickers = parse_tickers(
        br#"[{"symbol":"A","quoteVolume":"1"},{"symbol":"A","quoteVolume":"1"},
             {"symbol":"B","quoteVolume":"1"},{"symbol":"B","quoteVolume":"900000000"}]"#,
    )
    .unwrap();
    assert_eq!(tickers.values.len(), 1);
    assert_eq!(tickers.conflicts[0].0, "B");
    let books = parse_books(
        br#"[{"symbol":"A","bidPrice":"1","askPrice":"2"},{"symbol":"A","bidPrice":"1","askPrice":"3"}]"#,
    )
    .unwrap();
    assert!(books.values.is_empty());
    assert!(books.conflicts[0].1.contains("bid 1 ask 2 vs bid 1 ask 3"));
}
