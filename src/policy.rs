//! The policy the trading services read, and its audit entry: built as string fields,
//! hashed exactly as stored.
//!
//! `universe_hash` = first 16 hex digits of sha256 of the sorted symbols joined by `,`.
//! `policy_hash` = sha256 hex of the canonical serialisation of every other field: a
//! JSON object with the field names as keys in byte order and the stored strings as
//! values, without whitespace (`{"created_at_epoch":"1761220350","features_window":…}`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::select::Scored;

pub const GENERATOR: &str = "ai_universe_v1";
/// The generator of a policy republished by `universe rollback`.
pub const GENERATOR_ROLLBACK: &str = "manual_rollback";
pub const POLICY_VERSION: &str = "1.0.0-ai-v1";
pub const FEATURES_WINDOW: &str = "15m,1h";
pub const VENUE: &str = "binance-futures";
pub const MARKET: &str = "futures";

/// Names of the policy's fields, as stored.
pub mod field {
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

    /// Every field the generator writes.
    pub const ALL: [&str; 16] = [
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
    ];
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
    pub leverage: BTreeMap<String, u32>,
    pub scores: BTreeMap<String, SymbolScore>,
    pub generator: &'static str,
    pub regime: &'a str,
    /// Seconds, local clock.
    pub created_at: i64,
    pub valid_for_s: u64,
    pub run_id: String,
    /// `[policy.extra]`, already JSON text.
    pub extra: &'a BTreeMap<String, String>,
    /// For a rollback: the run whose universe this republishes.
    pub rollback_of: Option<String>,
    /// What the refresh cost the exchange (JSON), for a policy made by a refresh.
    pub request_stats: Option<String>,
}

impl Draft<'_> {
    /// The policy's string fields, `universe_hash` and `policy_hash` computed.
    pub fn seal(self) -> Policy {
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
        if let Some(run) = self.rollback_of {
            set(field::ROLLBACK_OF, run);
        }
        if let Some(stats) = self.request_stats {
            set(field::REQUEST_STATS, stats);
        }
        let hash = policy_hash(&fields);
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
    ) -> Draft<'a> {
        Draft {
            symbols: universe
                .iter()
                .map(|s| s.candidate.symbol.clone())
                .collect(),
            leverage: universe
                .iter()
                .map(|s| (s.candidate.symbol.clone(), s.leverage))
                .collect(),
            scores: universe
                .iter()
                .map(|s| (s.candidate.symbol.clone(), SymbolScore::from(s)))
                .collect(),
            generator: GENERATOR,
            regime,
            created_at: 0,
            valid_for_s: 0,
            run_id: String::new(),
            extra,
            rollback_of: None,
            request_stats: None,
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

    pub fn epoch(&self, name: &str) -> anyhow::Result<i64> {
        let text = self.require(name)?;
        text.parse().map_err(|_| {
            anyhow::anyhow!("policy field {name} = {text:?} is not a whole number of seconds")
        })
    }

    fn json_field<T: serde::de::DeserializeOwned>(&self, name: &str) -> anyhow::Result<T> {
        serde_json::from_str(self.require(name)?)
            .map_err(|e| anyhow::anyhow!("policy field {name} is not the expected JSON: {e}"))
    }
}

/// First 16 hex digits of sha256 of the symbols, sorted by bytes, joined by `,`.
pub fn universe_hash<S: AsRef<str>>(symbols: &[S]) -> String {
    let mut sorted: Vec<&str> = symbols.iter().map(AsRef::as_ref).collect();
    sorted.sort_unstable();
    let digest = Sha256::digest(sorted.join(",").as_bytes());
    hex(&digest)[..16].to_owned()
}

/// sha256 hex of the canonical serialisation of every field but `policy_hash`.
pub fn policy_hash(fields: &BTreeMap<String, String>) -> String {
    let hashed: BTreeMap<&str, &str> = fields
        .iter()
        .filter(|(name, _)| *name != field::POLICY_HASH)
        .map(|(name, value)| (name.as_str(), value.as_str()))
        .collect();
    let canonical = serde_json::to_vec(&hashed).expect("strings serialise");
    hex(&Sha256::digest(&canonical))
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// Compact JSON of a policy value.
fn json<T: Serialize + ?Sized>(value: &T) -> String {
    serde_json::to_string(value).expect("policy values serialise")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::select::{Candidate, FeatureValues};

    #[test]
    fn universe_hash_sorts_by_bytes_before_hashing() {
        // the order of the input does not matter
        let a = universe_hash(&["ETHUSDT", "BTCUSDT"]);
        let b = universe_hash(&["BTCUSDT", "ETHUSDT"]);
        assert_eq!(a, b);
        assert_eq!(a.len(), 16);
        assert_eq!(a, hex(&Sha256::digest(b"BTCUSDT,ETHUSDT"))[..16]);
        // byte order: uppercase before lowercase, ASCII before other scripts
        assert_eq!(
            universe_hash(&["币安人生USDT", "aUSDT", "BUSDT"]),
            hex(&Sha256::digest("BUSDT,aUSDT,币安人生USDT".as_bytes()))[..16]
        );
    }

    #[test]
    fn known_vector() {
        // echo -n 'BTCUSDT,ETHUSDT' | sha256sum
        assert_eq!(universe_hash(&["BTCUSDT", "ETHUSDT"]), "a2ac4f6320d10608");
    }

    fn sample() -> Policy {
        let scored = Scored {
            candidate: Candidate {
                symbol: "BTCUSDT".into(),
                quote_volume: 1e9,
                spread_bps: 0.5,
                age_days: 400.25,
            },
            features: FeatureValues {
                atr_pct_15m: 0.4,
                trend_1h: 0.3,
                mom_15m: -0.2,
                mom_1h: 1.5,
            },
            components: crate::select::Weights::ONES,
            score: 77.5,
            leverage: 15,
            returns_1h: Vec::new(),
        };
        let extra = BTreeMap::new();
        let mut draft = Policy::draft(&[scored], "normal", &extra);
        draft.created_at = 1_761_220_350;
        draft.valid_for_s = 3600;
        draft.run_id = "run-1".into();
        draft.seal()
    }

    #[test]
    fn policy_hash_covers_every_other_field_and_is_stable() {
        let policy = sample();
        let stored = policy.get(field::POLICY_HASH).unwrap().to_owned();
        assert_eq!(policy_hash(policy.fields()), stored);
        assert_eq!(stored.len(), 64);
        let canonical = serde_json::to_string(
            &policy
                .fields()
                .iter()
                .filter(|(k, _)| *k != "policy_hash")
                .collect::<BTreeMap<_, _>>(),
        )
        .unwrap();
        assert!(
            canonical
                .starts_with(r#"{"created_at_epoch":"1761220350","features_window":"15m,1h","#)
        );
        for name in policy.fields().keys().filter(|k| *k != field::POLICY_HASH) {
            let mut tampered = policy.fields().clone();
            tampered.get_mut(name).unwrap().push(' ');
            assert_ne!(policy_hash(&tampered), stored, "{name} is not covered");
        }
    }

    #[test]
    fn fields_are_what_the_services_read() {
        let policy = sample();
        assert_eq!(policy.get(field::UNIVERSE_SYMBOLS), Some(r#"["BTCUSDT"]"#));
        assert_eq!(
            policy.get(field::LEVERAGE_BY_SYMBOL),
            Some(r#"{"BTCUSDT":15}"#)
        );
        assert_eq!(policy.get(field::VALID_UNTIL), Some("1761223950"));
        assert_eq!(policy.get(field::GENERATOR), Some("ai_universe_v1"));
        assert_eq!(
            policy.get(field::UNIVERSE_HASH).unwrap(),
            universe_hash(&["BTCUSDT"])
        );
        let scores = policy.scores().unwrap();
        assert_eq!(scores["BTCUSDT"].leverage, 15);
        assert_eq!(scores["BTCUSDT"].age_days, 400.25);
        assert_eq!(policy.get(field::REGIME), Some("normal"));
        assert_eq!(policy.fields().len(), 14);
    }
}
