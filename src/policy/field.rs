//! Names of the policy's fields, as stored.

pub const UNIVERSE_SYMBOLS: &str = "universe_symbols";
pub const LEVERAGE_BY_SYMBOL: &str = "leverage_by_symbol";
pub const VALID_UNTIL: &str = "valid_until_epoch";
pub const CREATED_AT: &str = "created_at_epoch";
pub const POLICY_VERSION: &str = "policy_version";
pub const GENERATOR: &str = "generator";
pub const FEATURES_WINDOW: &str = "features_window";
pub const UNIVERSE_HASH: &str = "universe_hash";
pub const POLICY_HASH: &str = "policy_hash";
pub const VENUE: &str = "venue";
pub const MARKET: &str = "market";
pub const RUN_ID: &str = "run_id";
pub const SCORES: &str = "scores";
pub const REGIME: &str = "regime";
pub const ROLLBACK_OF: &str = "rollback_of";
pub const REQUEST_STATS: &str = "request_stats";
pub const HARVEST_PARAMS: &str = "harvest_params";
pub const KILL_PARAMS: &str = "kill_params";
pub const STATS_ENDPOINT: &str = "stats_endpoint";
pub const EXCHANGE_INFO_ENDPOINT: &str = "exchange_info_endpoint";
pub const TICKER_24H_ENDPOINT: &str = "ticker_24h_endpoint";
pub const METADATA_OK: &str = "metadata_ok";
pub const MISSING_FIELDS: &str = "missing_fields";
/// When the exchange data the policy was made from is from, and when the next refresh is
/// due (epoch seconds): what readers of freqtrade-style lists ask for.
pub const DATA_AS_OF: &str = "data_as_of";
pub const NEXT_REFRESH: &str = "next_refresh_epoch";
/// Which key signed the policy (inside the signed bytes), and the signature (outside).
pub const KEY_ID: &str = "key_id";
pub const SIGNATURE: &str = "signature";

/// What the trading services' policy loader requires: a policy without any of these
/// is refused, and nothing is traded.
pub const REQUIRED_BY_SERVICES: [&str; 6] = [
    UNIVERSE_SYMBOLS,
    LEVERAGE_BY_SYMBOL,
    HARVEST_PARAMS,
    KILL_PARAMS,
    VALID_UNTIL,
    POLICY_VERSION,
];

/// Every field the generator writes.
pub const ALL: [&str; 27] = [
    DATA_AS_OF,
    NEXT_REFRESH,
    KEY_ID,
    SIGNATURE,
    UNIVERSE_SYMBOLS,
    LEVERAGE_BY_SYMBOL,
    VALID_UNTIL,
    CREATED_AT,
    POLICY_VERSION,
    GENERATOR,
    FEATURES_WINDOW,
    UNIVERSE_HASH,
    POLICY_HASH,
    VENUE,
    MARKET,
    RUN_ID,
    SCORES,
    REGIME,
    ROLLBACK_OF,
    REQUEST_STATS,
    HARVEST_PARAMS,
    KILL_PARAMS,
    STATS_ENDPOINT,
    EXCHANGE_INFO_ENDPOINT,
    TICKER_24H_ENDPOINT,
    METADATA_OK,
    MISSING_FIELDS,
];
