//! The policy the trading services read, and its audit entry: built as string fields,
//! hashed exactly as stored.
//!
//! `universe_hash` = first 16 hex digits of sha256 of the sorted symbols joined by `,`.
//! `policy_hash` = sha256 hex of the canonical serialisation of every other field: a
//! JSON object with the field names as keys in byte order and the stored strings as
//! values, without whitespace (`{"created_at_epoch":"1761220350","features_window":…}`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::select::Scored;

pub const GENERATOR: &str = "ai_universe_v1";
/// The generator of a policy republished by `universe rollback`.
pub const GENERATOR_ROLLBACK: &str = "manual_rollback";
pub const POLICY_VERSION: &str = "1.0.0-ai-v1";
pub const FEATURES_WINDOW: &str = "15m,1h";
pub const VENUE: &str = "binance-futures";
pub const MARKET: &str = "futures";
/// The endpoints a refresh reads its overview from, named as the deployed writer names
/// them (the services' proofs grep these).
pub const EXCHANGE_INFO_ENDPOINT: &str = "fapi/v1/exchangeInfo";
pub const TICKER_24H_ENDPOINT: &str = "fapi/v1/ticker/24hr";

pub mod field;

/// The exit-management parameters the trading side reads from the policy
/// (`harvest_params`, `kill_params`). `universe` does not decide them; it carries them
/// from the config file, every value a finite number.
#[derive(Debug, Clone, PartialEq)]
pub struct ExitParams {
    pub harvest: BTreeMap<String, f64>,
    pub kill: BTreeMap<String, f64>,
}

impl ExitParams {
    /// What the deployed trading system uses today.
    pub const HARVEST_DEFAULTS: [(&'static str, f64); 11] = [
        ("T1_R", 1.8),
        ("T2_R", 3.5),
        ("T3_R", 5.8),
        ("lock_R", 1.2),
        ("be_plus_pct", 0.003),
        ("cost_bps", 12.0),
        ("k_regime_flip", 0.8),
        ("k_sigma_spike", 0.6),
        ("k_ts_drop", 0.4),
        ("k_age_penalty", 0.2),
        ("kill_threshold", 0.55),
    ];
    pub const KILL_DEFAULTS: [(&'static str, f64); 7] = [
        ("trend_min", 0.25),
        ("sigma_ref", 0.012),
        ("sigma_spike_cap", 1.8),
        ("ts_ref", 0.35),
        ("ts_drop_cap", 0.45),
        ("max_age_sec", 72000.0),
        ("k_close_threshold", 0.62),
    ];
}

impl Default for ExitParams {
    fn default() -> Self {
        let map =
            |pairs: &[(&str, f64)]| pairs.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect();
        Self {
            harvest: map(&Self::HARVEST_DEFAULTS),
            kill: map(&Self::KILL_DEFAULTS),
        }
    }
}

/// The metadata fields the deployed writer adds and its proofs check, with the fields
/// its compliance rule finds missing: a generator other than `unknown`, a market of
/// `futures` or `spot`, and a stats endpoint.
pub fn metadata(generator: &str) -> [(&'static str, String); 5] {
    // the market (`futures`) and the endpoints are this generator's constants
    let missing: Vec<&str> = [field::GENERATOR]
        .into_iter()
        .filter(|_| generator.is_empty() || generator == "unknown")
        .collect();
    let ok = if missing.is_empty() { "1" } else { "0" };
    [
        (field::STATS_ENDPOINT, TICKER_24H_ENDPOINT.to_owned()),
        (
            field::EXCHANGE_INFO_ENDPOINT,
            EXCHANGE_INFO_ENDPOINT.to_owned(),
        ),
        (field::TICKER_24H_ENDPOINT, TICKER_24H_ENDPOINT.to_owned()),
        (field::METADATA_OK, ok.to_owned()),
        (field::MISSING_FIELDS, missing.join(",")),
    ]
}

/// A policy as its string fields; what is hashed is what is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    fields: BTreeMap<String, String>,
}

/// What the policy says of one selected symbol (the `scores` field).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SymbolScore {
    pub score: f64,
    pub atr_pct_15m: f64,
    pub trend_1h: f64,
    pub mom_15m: f64,
    pub mom_1h: f64,
    pub quote_volume: f64,
    pub spread_bps: f64,
    pub age_days: f64,
    pub leverage: u32,
}

impl From<&Scored> for SymbolScore {
    fn from(s: &Scored) -> Self {
        Self {
            score: s.score,
            atr_pct_15m: s.features.atr_pct_15m,
            trend_1h: s.features.trend_1h,
            mom_15m: s.features.mom_15m,
            mom_1h: s.features.mom_1h,
            quote_volume: s.candidate.quote_volume,
            spread_bps: s.candidate.spread_bps,
            age_days: s.candidate.age_days,
            leverage: s.leverage,
        }
    }
}

/// What a policy is made of, before it is sealed with its hashes.
#[derive(Debug, Clone)]
pub struct Draft<'a> {
    /// Rank order.
    pub symbols: Vec<String>,
    /// Written as JSON floats (`6.0`): the services parse leverage as a float.
    pub leverage: BTreeMap<String, f64>,
    pub scores: BTreeMap<String, SymbolScore>,
    pub generator: &'static str,
    pub regime: &'a str,
    /// Seconds, local clock.
    pub created_at: i64,
    pub valid_for_s: u64,
    pub run_id: String,
    /// `[policy.extra]`, already JSON text.
    pub extra: &'a BTreeMap<String, String>,
    /// `[policy.harvest_params]` and `[policy.kill_params]`.
    pub exit_params: &'a ExitParams,
    /// For a rollback: the run whose universe this republishes.
    pub rollback_of: Option<String>,
    /// What the refresh cost the exchange (JSON), for a policy made by a refresh.
    pub request_stats: Option<String>,
    /// The exchange's time of the data (epoch seconds), when known.
    pub data_as_of: Option<i64>,
    /// When the next refresh is due (epoch seconds).
    pub next_refresh: Option<i64>,
}

impl Draft<'_> {
    /// The policy's string fields, `universe_hash` and `policy_hash` computed; signed by
    /// `signer` (over the bytes `policy_hash` hashes) when there is one.
    pub fn seal(self) -> Policy {
        self.seal_signed(None)
    }

    pub fn seal_signed(self, signer: Option<&signing::Signer>) -> Policy {
        let mut fields: BTreeMap<String, String> = self.extra.clone();
        let mut set = |name: &str, value: String| {
            fields.insert(name.to_owned(), value);
        };
        set(field::UNIVERSE_SYMBOLS, json(&self.symbols));
        set(field::LEVERAGE_BY_SYMBOL, json(&self.leverage));
        set(
            field::VALID_UNTIL,
            (self.created_at + self.valid_for_s as i64).to_string(),
        );
        set(field::CREATED_AT, self.created_at.to_string());
        set(field::POLICY_VERSION, POLICY_VERSION.into());
        set(field::GENERATOR, self.generator.into());
        set(field::FEATURES_WINDOW, FEATURES_WINDOW.into());
        set(field::UNIVERSE_HASH, universe_hash(&self.symbols));
        set(field::VENUE, VENUE.into());
        set(field::MARKET, MARKET.into());
        set(field::RUN_ID, self.run_id);
        set(field::SCORES, json(&self.scores));
        set(field::REGIME, self.regime.to_owned());
        set(field::HARVEST_PARAMS, json(&self.exit_params.harvest));
        set(field::KILL_PARAMS, json(&self.exit_params.kill));
        for (name, value) in metadata(self.generator) {
            set(name, value);
        }
        if let Some(run) = self.rollback_of {
            set(field::ROLLBACK_OF, run);
        }
        if let Some(stats) = self.request_stats {
            set(field::REQUEST_STATS, stats);
        }
        if let Some(at) = self.data_as_of {
            set(field::DATA_AS_OF, at.to_string());
        }
        if let Some(at) = self.next_refresh {
            set(field::NEXT_REFRESH, at.to_string());
        }
        if let Some(signer) = signer {
            set(field::KEY_ID, signer.key_id().to_owned());
        }
        let hash = policy_hash(&fields);
        if let Some(signer) = signer {
            fields.insert(field::SIGNATURE.into(), signer.sign(&canonical(&fields)));
        }
        fields.insert(field::POLICY_HASH.into(), hash);
        Policy { fields }
    }
}

/// Whether the generator writes `name` itself (`[policy.extra]` may not set it).
pub fn is_generated_field(name: &str) -> bool {
    field::ALL.contains(&name)
}

impl Policy {
    /// The draft of a policy for `universe` (in rank order).
    pub fn draft<'a>(
        universe: &[Scored],
        regime: &'a str,
        extra: &'a BTreeMap<String, String>,
        exit_params: &'a ExitParams,
    ) -> Draft<'a> {
        Draft {
            symbols: universe
                .iter()
                .map(|s| s.candidate.symbol.to_string())
                .collect(),
            leverage: universe
                .iter()
                .map(|s| (s.candidate.symbol.to_string(), f64::from(s.leverage)))
                .collect(),
            scores: universe
                .iter()
                .map(|s| (s.candidate.symbol.to_string(), SymbolScore::from(s)))
                .collect(),
            generator: GENERATOR,
            regime,
            created_at: 0,
            valid_for_s: 0,
            run_id: String::new(),
            extra,
            exit_params,
            rollback_of: None,
            request_stats: None,
            data_as_of: None,
            next_refresh: None,
        }
    }

    /// A policy as read from a store, unchecked (`proof` checks it).
    pub fn from_fields(fields: BTreeMap<String, String>) -> Self {
        Self { fields }
    }

    pub fn fields(&self) -> &BTreeMap<String, String> {
        &self.fields
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.fields.get(name).map(String::as_str)
    }

    /// A field that must be there, for commands that read the policy.
    pub fn require(&self, name: &str) -> anyhow::Result<&str> {
        self.get(name)
            .ok_or_else(|| anyhow::anyhow!("the stored policy has no field {name:?}"))
    }

    /// `universe_symbols`, in rank order.
    pub fn symbols(&self) -> anyhow::Result<Vec<String>> {
        self.json_field(field::UNIVERSE_SYMBOLS)
    }

    /// `leverage_by_symbol`, numbers as stored.
    pub fn leverage(&self) -> anyhow::Result<BTreeMap<String, serde_json::Number>> {
        self.json_field(field::LEVERAGE_BY_SYMBOL)
    }

    pub fn scores(&self) -> anyhow::Result<BTreeMap<String, SymbolScore>> {
        self.json_field(field::SCORES)
    }

    /// A time in seconds. Whole seconds as this generator writes them, or a decimal
    /// fraction as the Python generator wrote them (`1761223950.123456`, rounded down).
    pub fn epoch(&self, name: &str) -> anyhow::Result<i64> {
        let text = self.require(name)?;
        parse_epoch(text).ok_or_else(|| {
            anyhow::anyhow!("policy field {name} = {text:?} is not a time in seconds")
        })
    }

    fn json_field<T: serde::de::DeserializeOwned>(&self, name: &str) -> anyhow::Result<T> {
        serde_json::from_str(self.require(name)?)
            .map_err(|e| anyhow::anyhow!("policy field {name} is not the expected JSON: {e}"))
    }
}

/// Seconds since the epoch from whole or decimal text; `None` for anything else.
pub fn parse_epoch(text: &str) -> Option<i64> {
    if let Ok(whole) = text.parse::<i64>() {
        return Some(whole);
    }
    let seconds: f64 = text.parse().ok().filter(|v: &f64| v.is_finite())?;
    (seconds.abs() < 1e15).then(|| seconds.floor() as i64)
}

/// First 16 hex digits of sha256 of the symbols, sorted by bytes, joined by `,`.
pub fn universe_hash<S: AsRef<str>>(symbols: &[S]) -> String {
    let mut sorted: Vec<&str> = symbols.iter().map(AsRef::as_ref).collect();
    sorted.sort_unstable();
    crate::digest::sha256_hex(sorted.join(",").as_bytes())[..16].to_owned()
}

/// sha256 hex of the canonical serialisation of every field but `policy_hash` and
/// `signature`.
pub fn policy_hash(fields: &BTreeMap<String, String>) -> String {
    crate::digest::sha256_hex(&canonical(fields))
}

/// The canonical serialisation `policy_hash` hashes and the signature signs: a JSON
/// object of every field but `policy_hash` and `signature`, names in byte order, no
/// whitespace.
pub fn canonical(fields: &BTreeMap<String, String>) -> Vec<u8> {
    let hashed: BTreeMap<&str, &str> = fields
        .iter()
        .filter(|(name, _)| *name != field::POLICY_HASH && *name != field::SIGNATURE)
        .map(|(name, value)| (name.as_str(), value.as_str()))
        .collect();
    serde_json::to_vec(&hashed).expect("strings serialise")
}

/// Compact JSON of a policy value.
fn json<T: Serialize + ?Sized>(value: &T) -> String {
    serde_json::to_string(value).expect("policy values serialise")
}

mod legacy;
pub mod signing;
pub use legacy::{LEGACY_FIELDS, legacy_policy_hash};

#[cfg(test)]
mod tests;
