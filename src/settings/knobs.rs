//! The table of settings: every knob defined once, with its config file key, flag,
//! environment variable, default, allowed range and help. The table drives the command
//! line ([`crate::cli`]), the resolver ([`super::layers`]), `universe config`, and the
//! tests that keep `examples/universe.toml` and the README's options table complete.

/// One setting.
#[derive(Debug, Clone, Copy)]
pub struct Knob {
    /// The config file key, dotted: `filters.max_spread_bps`.
    pub key: &'static str,
    /// What values it takes.
    pub kind: Kind,
    /// The default, as TOML.
    pub default: &'static str,
    /// The flag and variable that set it, if any.
    pub flag: Option<Flag>,
    /// One line on what it does; also the flag's `--help`.
    pub help: &'static str,
}

/// A knob's command-line flag and environment variable.
#[derive(Debug, Clone, Copy)]
pub struct Flag {
    pub long: &'static str,
    pub env: &'static str,
    /// The placeholder in `--help` (`--top <N>`); empty for a switch.
    pub value_name: &'static str,
    /// The groups of subcommands that take it ([`on`]).
    pub on: u8,
}

/// Which subcommands take a flag: each subcommand flattens the groups it needs.
pub mod on {
    /// How the market is read and screened: `generate`, `explain`, `snapshot`, `rotation`.
    pub const MARKET: u8 = 1;
    /// Where the policy lives: every subcommand that reads or writes the store.
    pub const STORE: u8 = 2;
    /// The universe's size: the selecting subcommands, `proof` and `rollback`.
    pub const SIZE: u8 = 4;
    /// The candle cache: the selecting subcommands.
    pub const CACHE: u8 = 8;
    /// How long a published policy stays valid: `generate`, `rollback`.
    pub const VALIDITY: u8 = 16;
    /// How the exchange is reached (its address, the weight budget, requests in flight,
    /// their timeout): also `history fetch`, which screens nothing and has a deadline of
    /// its own.
    pub const FETCH: u8 = 32;
    /// Everything a selection reads.
    pub const SELECTION: u8 = MARKET | STORE | SIZE | CACHE;
}

/// The values a knob takes; the resolver refuses anything else, naming the key.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Kind {
    /// A finite number within the bounds (an unbounded side is infinite).
    Number {
        min: f64,
        max: f64,
    },
    /// A whole number within the bounds.
    Whole {
        min: u64,
        max: u64,
    },
    Switch,
    Text(Text),
    /// `"90m"`, `"2h"`, or whole seconds.
    Duration,
    /// A list of strings (comma-separated on the command line).
    List,
    /// `[[atr_above, leverage], …]`, `atr_above` strictly decreasing, leverage 1 to 125.
    LeverageSteps,
}

/// What a text knob must look like.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Text {
    Any,
    /// Any text, never printed: it may hold a password.
    Secret,
    HttpUrl,
    /// A Redis key or group name: not empty, no whitespace.
    KeyName,
    /// A key name containing `{SYMBOL}`.
    KeyPattern,
    /// A key prefix: no whitespace, may be empty.
    KeyPrefix,
    /// A glob without spaces.
    Glob,
    /// One of the listed words.
    OneOf(&'static [&'static str]),
}

const INF: f64 = f64::INFINITY;
const NONNEG: Kind = Kind::Number { min: 0.0, max: INF };
const FRACTION: Kind = Kind::Number { min: 0.0, max: 1.0 };
const KEY: Kind = Kind::Text(Text::KeyName);
const ANY_TEXT: Kind = Kind::Text(Text::Any);

const fn whole(min: u64, max: u64) -> Kind {
    Kind::Whole { min, max }
}

#[allow(clippy::unnecessary_wraps)] // a table cell: a flag or `None`
const fn flag(
    long: &'static str,
    env: &'static str,
    value_name: &'static str,
    on: u8,
) -> Option<Flag> {
    Some(Flag {
        long,
        env,
        value_name,
        on,
    })
}

const fn knob(
    key: &'static str,
    kind: Kind,
    default: &'static str,
    flag: Option<Flag>,
    help: &'static str,
) -> Knob {
    Knob {
        key,
        kind,
        default,
        flag,
        help,
    }
}

use on::{CACHE, FETCH, MARKET, SIZE, STORE, VALIDITY};

/// Every knob, in the order `universe config` lists them.
#[rustfmt::skip]
pub static KNOBS: &[Knob] = &[
    knob("exchange.base_url", Kind::Text(Text::HttpUrl), "\"https://fapi.binance.com\"", flag("base-url", "UNIVERSE_BINANCE_URL", "URL", MARKET | FETCH),
        "Binance USDⓈ-M REST base URL"),
    knob("exchange.concurrency", whole(1, 256), "128", flag("concurrency", "UNIVERSE_CONCURRENCY", "N", MARKET | FETCH),
        "Candle requests in flight at most: as many as the weight budget has room for, up to this"),
    knob("exchange.weight_budget", whole(50, 6000), "1200", flag("weight-budget", "UNIVERSE_WEIGHT_BUDGET", "WEIGHT", MARKET | FETCH),
        "Request weight the IP may reach per minute, counting what the exchange reports as used by others; past it the run waits for the next minute"),
    knob("exchange.deadline_s", whole(1, 3600), "120", flag("deadline", "UNIVERSE_DEADLINE", "SECONDS", MARKET),
        "Seconds the whole run may take; past it, it fails closed"),
    knob("exchange.request_timeout_s", whole(1, 3600), "10", flag("request-timeout", "UNIVERSE_REQUEST_TIMEOUT", "SECONDS", MARKET | FETCH),
        "Seconds one HTTP request may take before it counts as failed and is retried"),
    knob("exchange.max_data_age_s", whole(0, 30 * 86_400), "300", flag("max-data-age", "UNIVERSE_MAX_DATA_AGE", "SECONDS", MARKET),
        "Fail closed when the exchange's clock (the time of its data) lags the local clock by more seconds than this: a frozen mirror or a stuck proxy; 0 turns the check off; a snapshot replay (--source DIR) is never checked"),
    knob("filters.min_quote_volume", NONNEG, "20000000.0", flag("min-quote-volume", "UNIVERSE_MIN_QUOTE_VOLUME", "USDT", MARKET),
        "Exclude symbols whose 24h quote volume (USDT) is below this"),
    knob("filters.max_spread_bps", NONNEG, "15.0", flag("max-spread-bps", "UNIVERSE_MAX_SPREAD_BPS", "BPS", MARKET),
        "Exclude symbols whose bid/ask spread is wider than this, in basis points of the mid"),
    knob("filters.min_age_days", NONNEG, "30.0", flag("min-age-days", "UNIVERSE_MIN_AGE_DAYS", "DAYS", MARKET),
        "Exclude symbols listed fewer days ago than this, by the exchange's clock"),
    knob("filters.listing_from", Kind::Text(Text::OneOf(&["auto", "first-candle", "onboard-date"])), "\"auto\"", flag("listing-from", "UNIVERSE_LISTING_FROM", "FROM", MARKET),
        "What the age counts from: first-candle, the later of onboardDate (wrong for many perpetuals) and the symbol's first candle, asked once per listing (weight 1) and kept in the candle cache; onboard-date, onboardDate alone; auto, first-candle from https://fapi.binance.com and onboard-date from any other source, whose candles begin where its recording does"),
    knob("selection.top", whole(1, 1000), "10", flag("top", "UNIVERSE_TOP", "N", SIZE),
        "Universe size: the best N scored symbols; also proof's upper bound"),
    knob("selection.min_symbols", whole(1, 1000), "3", flag("min-symbols", "UNIVERSE_MIN_SYMBOLS", "N", SIZE),
        "Fail closed when fewer symbols than this can be scored or chosen; also proof's lower bound; at most selection.top, and selection.top when that is below 3 and this is not set"),
    knob("score.weights.trend_1h", NONNEG, "1.0", None, "Weight of trend: |100·(EMA20 − EMA50)/EMA50| of 1h closes"),
    knob("score.weights.mom_15m", NONNEG, "0.8", None, "Weight of momentum: |ROC(20)| of 15m closes"),
    knob("score.weights.mom_1h", NONNEG, "0.6", None, "Weight of momentum: |ROC(20)| of 1h closes"),
    knob("score.weights.vol_fit", NONNEG, "0.4", None, "Weight of the closeness of NATR(14) 15m to the median, −|ln(atr/m)|"),
    knob("score.weights.liquidity", NONNEG, "0.5", None, "Weight of the 24h quote volume"),
    knob("score.hybrid", Kind::Switch, "false", None,
        "True: multiply each score by its performance factor (0.5–1.5), as the Python generator's \"hybrid\" score did"),
    knob("score.hybrid_min_trades", whole(1, u64::MAX), "5", None, "…for symbols with at least this many trades in their performance record"),
    knob("leverage.steps", Kind::LeverageSteps, "[[3.0, 6], [2.0, 8], [1.5, 10], [1.0, 12]]", None,
        "[atr_pct_15m above, leverage], first match wins"),
    knob("leverage.calm", whole(1, 125), "15", None, "Leverage when atr_pct_15m is below every step"),
    knob("churn.enabled", Kind::Switch, "true", None, "False: plain Top-N every refresh (open positions still stay)"),
    knob("churn.margin", NONNEG, "5.0", None, "A challenger replaces an incumbent only by outscoring it by this many score points"),
    knob("churn.max_replacements", whole(0, 1000), "3", None, "Replacements (challenger for incumbent pairs) per refresh"),
    knob("churn.min_hold", Kind::Duration, "\"2h\"", None, "Incumbents younger than this in the universe are never replaced"),
    knob("regimes.high_vol_above", NONNEG, "1.5", None, "Median atr_pct_15m of the scored symbols above which the regime is high_vol"),
    knob("regimes.low_vol_below", NONNEG, "0.5", None, "…below which it is low_vol; in between: normal (weights as configured)"),
    knob("regimes.high_vol.trend_1h", NONNEG, "1.5", None, "Weight multiplier in high_vol: trend matters more"),
    knob("regimes.high_vol.mom_15m", NONNEG, "1.0", None, "Weight multiplier in high_vol"),
    knob("regimes.high_vol.mom_1h", NONNEG, "1.0", None, "Weight multiplier in high_vol"),
    knob("regimes.high_vol.vol_fit", NONNEG, "1.0", None, "Weight multiplier in high_vol"),
    knob("regimes.high_vol.liquidity", NONNEG, "1.0", None, "Weight multiplier in high_vol"),
    knob("regimes.low_vol.trend_1h", NONNEG, "1.0", None, "Weight multiplier in low_vol"),
    knob("regimes.low_vol.mom_15m", NONNEG, "1.5", None, "Weight multiplier in low_vol: momentum matters more"),
    knob("regimes.low_vol.mom_1h", NONNEG, "1.5", None, "Weight multiplier in low_vol: momentum matters more"),
    knob("regimes.low_vol.vol_fit", NONNEG, "1.0", None, "Weight multiplier in low_vol"),
    knob("regimes.low_vol.liquidity", NONNEG, "1.0", None, "Weight multiplier in low_vol"),
    knob("diversity.max_correlation", Kind::Number { min: -1.0, max: 1.0 }, "1.0", None,
        "Skip a challenger whose 1h returns correlate above this with a chosen symbol; 1 turns diversity off"),
    knob("lists.deny", Kind::List, "[]", None, "Globs (* any run, ? one character) of symbols excluded as `denied`, e.g. [\"*DOWNUSDT\", \"1000*\"]"),
    knob("lists.allow", Kind::List, "[]", None, "Globs; when not empty, any other symbol is excluded as `not_allowed`"),
    knob("lists.pin", Kind::List, "[]", None, "Symbols always in the universe while eligible, counted in selection.top"),
    knob("store.url", Kind::Text(Text::Secret), "\"\"", flag("store", "UNIVERSE_STORE", "URL", STORE),
        "Where the policy lives: redis://[user:password@]host[:port][/db], rediss://… (TLS), redis+sentinel://host:port[,…]/SERVICE[/db] (the master the sentinels name), or file:DIR; empty: the file store in $XDG_STATE_HOME/universe, else ~/.local/state/universe; a password is never printed"),
    knob("store.prefix", Kind::Text(Text::KeyPrefix), "\"quantum:\"", None, "Prefix of every Redis key below"),
    knob("store.policy_key", KEY, "\"policy:current\"", None, "Hash of the current policy"),
    knob("store.audit_stream", KEY, "\"stream:policy.audit\"", None, "One audit entry per publish"),
    knob("store.update_stream", KEY, "\"stream:policy.update\"", None, "One policy.updated event per publish"),
    knob("store.held_set", KEY, "\"positions:open\"", None, "Set of symbols with open positions (read only; --held replaces it)"),
    knob("store.performance_key", Kind::Text(Text::KeyPattern), "\"symbol:performance:{SYMBOL}\"", None, "Per-symbol performance hashes"),
    knob("store.models_seen_key", KEY, "\"models:seen\"", None, "JSON list of the model files already seen"),
    knob("store.trades_stream", KEY, "\"stream:trade.closed\"", None, "Closed trades that `perf ingest` reads…"),
    knob("store.trades_group", KEY, "\"universe\"", None, "…through this consumer group"),
    knob("store.failure_key", KEY, "\"refresh:last_failure\"", None, "Hash of the last refresh that failed (when, how, why, how many in a row)"),
    knob("policy.valid_for_s", whole(60, 7 * 86_400), "3600", flag("valid-for", "UNIVERSE_VALID_FOR", "SECONDS", VALIDITY),
        "Seconds the published policy stays valid, from when it is made (local clock)"),
    knob("policy.refresh_interval_s", whole(60, 7 * 86_400), "1800", None,
        "Seconds between scheduled refreshes (the timer's), for the policy's next_refresh_epoch"),
    knob("policy.signing_key_file", ANY_TEXT, "\"\"", None,
        "File of the Ed25519 key that signs each policy (universe keygen writes one; readable by its owner only); empty: policies are not signed"),
    knob("policy.trusted_keys", Kind::List, "[]", None,
        "Public keys a policy may be signed by, each \"KEY_ID:PUBLIC_KEY_HEX\" as universe keygen prints it; when set, proof refuses an unsigned policy"),
    knob("rotation.mode", Kind::Text(Text::OneOf(&["advisory", "execution"])), "\"advisory\"", None,
        "\"advisory\": recommend only; \"execution\": evict and expand"),
    knob("rotation.model_dir", ANY_TEXT, "\"\"", None, "Folder of model files; empty turns model discovery off"),
    knob("rotation.model_glob", Kind::Text(Text::Glob), "\"*.pt\"", None, "Which files are models; the symbol is the name up to the first _ or ."),
    knob("rotation.min_trades_for_eviction", whole(0, u64::MAX), "10", None, "Fewer trades are never judged"),
    knob("rotation.eviction_win_rate", FRACTION, "0.4", None, "Evict below this win rate…"),
    knob("rotation.eviction_drawdown", FRACTION, "0.12", None, "…or above this max drawdown (a fraction)"),
    knob("rotation.max_symbols", whole(1, 1000), "10", None,
        "Hard upper bound of the published universe in execution mode; at least selection.top, and selection.top when not set"),
    knob("rotation.require_model", Kind::Switch, "false", None, "True: only symbols with a model can be chosen (reason no_model)"),
    knob("cache.enabled", Kind::Switch, "true", flag("no-cache", "UNIVERSE_NO_CACHE", "", CACHE),
        "Keep closed candles between live refreshes; --no-cache (or false) fetches every symbol's candles in full, neither reading nor writing the cache"),
    knob("cache.dir", ANY_TEXT, "\"\"", None, "Where closed 15m candles are kept between live refreshes; empty: cache/ in the file store's folder (the state folder with Redis)"),
    knob("store.tls_ca_file", ANY_TEXT, "\"\"", None, "PEM of the CA behind a rediss:// server's certificate, if not a public root"),
];

/// The knob of `key`; a key missing from the table is a bug, not a usage error.
pub fn find(key: &str) -> &'static Knob {
    KNOBS
        .iter()
        .find(|k| k.key == key)
        .unwrap_or_else(|| panic!("{key} is not in the settings table"))
}

impl Knob {
    /// The value a switch flag gives its key (`--no-cache` sets `cache.enabled = false`).
    pub fn switch_value(&self) -> bool {
        self.default != "true"
    }

    /// What the value must be, for error messages.
    pub fn expected(&self) -> String {
        match self.kind {
            Kind::Number { min, max } if max.is_infinite() => format!("a finite number ≥ {min}"),
            Kind::Number { min, max } => format!("{min} to {max}"),
            Kind::Whole { min, max: u64::MAX } => format!("a whole number ≥ {min}"),
            Kind::Whole { min, max } => format!("{min} to {max}"),
            Kind::Switch => "true or false".into(),
            Kind::Duration => "a duration such as \"90m\" or \"2h\", or whole seconds".into(),
            Kind::List => "a list of strings".into(),
            Kind::LeverageSteps => "[[atr_above, leverage], …] with atr_above strictly decreasing and leverage 1 to 125".into(),
            Kind::Text(text) => text.expected(),
        }
    }
}

impl Text {
    fn expected(self) -> String {
        match self {
            Text::Any | Text::Secret => "a string".into(),
            Text::HttpUrl => "an http:// or https:// URL".into(),
            Text::KeyName => "a key name without spaces".into(),
            Text::KeyPattern => "a key name containing {SYMBOL}".into(),
            Text::KeyPrefix => "a key prefix without spaces".into(),
            Text::Glob => "a glob without spaces".into(),
            Text::OneOf(words) => words
                .iter()
                .map(|w| format!("\"{w}\""))
                .collect::<Vec<_>>()
                .join(" or "),
        }
    }
}

/// The README's options table, one row per knob.
pub fn markdown_table() -> String {
    use std::fmt::Write as _;
    let mut out = String::from(
        "| key | flag (variable) | default | values | meaning |\n|---|---|---|---|---|\n",
    );
    for knob in KNOBS {
        let flag = knob
            .flag
            .map_or_else(String::new, |f| format!("`--{}` (`{}`)", f.long, f.env));
        let cell = |text: &str| text.replace('|', "\\|");
        let _ = writeln!(
            out,
            "| `{}` | {flag} | `{}` | {} | {} |",
            knob.key,
            knob.default,
            cell(&knob.expected()),
            cell(knob.help)
        );
    }
    out
}
