//! Unit tests of `market`.

use super::*;

#[test]
fn klines_weights_follow_binance() {
    assert_eq!(klines_weight(99), 1);
    assert_eq!(klines_weight(100), 2);
    assert_eq!(klines_weight(499), 2);
    assert_eq!(klines_weight(500), 5);
    assert_eq!(klines_weight(1000), 5);
    assert_eq!(klines_weight(1001), 10);
    let klines = |limit| Endpoint::Klines {
        symbol: "X",
        start_time: 0,
        limit,
    };
    assert_eq!(klines(KLINES_LIMIT).weight(), 2);
    assert_eq!(klines(WARM_KLINES_LIMIT).weight(), 1);
}

#[test]
fn non_ascii_symbols_are_percent_encoded() {
    let endpoint = Endpoint::Klines {
        symbol: "币安人生USDT",
        start_time: 5,
        limit: KLINES_LIMIT,
    };
    assert_eq!(
        endpoint.path_and_query(),
        "/fapi/v1/klines?symbol=%E5%B8%81%E5%AE%89%E4%BA%BA%E7%94%9FUSDT&interval=15m&startTime=5&limit=499"
    );
}
