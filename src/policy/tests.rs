//! Unit tests of `policy`.

use super::*;
use crate::select::{Candidate, FeatureValues};

#[test]
fn universe_hash_sorts_by_bytes_before_hashing() {
    // the order of the input does not matter
    let a = universe_hash(&["ETHUSDT", "BTCUSDT"]);
    let b = universe_hash(&["BTCUSDT", "ETHUSDT"]);
    assert_eq!(a, b);
    assert_eq!(a.len(), 16);
    assert_eq!(a, crate::digest::sha256_hex(b"BTCUSDT,ETHUSDT")[..16]);
    // byte order: uppercase before lowercase, ASCII before other scripts
    assert_eq!(
        universe_hash(&["币安人生USDT", "aUSDT", "BUSDT"]),
        crate::digest::sha256_hex("BUSDT,aUSDT,币安人生USDT".as_bytes())[..16]
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
        hybrid_factor: None,
        leverage: 15,
        returns_1h: Vec::new(),
    };
    let extra = BTreeMap::new();
    let params = ExitParams::default();
    let mut draft = Policy::draft(&[scored], "normal", &extra, &params);
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
            .starts_with(r#"{"created_at_epoch":"1761220350","exchange_info_endpoint":"fapi/v1/exchangeInfo","features_window":"15m,1h","#)
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
        Some(r#"{"BTCUSDT":15.0}"#)
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
    assert_eq!(policy.fields().len(), 21);
    assert_eq!(
        policy.get(field::HARVEST_PARAMS),
        Some(
            r#"{"T1_R":1.8,"T2_R":3.5,"T3_R":5.8,"be_plus_pct":0.003,"cost_bps":12.0,"k_age_penalty":0.2,"k_regime_flip":0.8,"k_sigma_spike":0.6,"k_ts_drop":0.4,"kill_threshold":0.55,"lock_R":1.2}"#
        )
    );
    assert_eq!(
        policy.get(field::KILL_PARAMS),
        Some(
            r#"{"k_close_threshold":0.62,"max_age_sec":72000.0,"sigma_ref":0.012,"sigma_spike_cap":1.8,"trend_min":0.25,"ts_drop_cap":0.45,"ts_ref":0.35}"#
        )
    );
    assert_eq!(policy.get(field::METADATA_OK), Some("1"));
    assert_eq!(policy.get(field::MISSING_FIELDS), Some(""));
    assert_eq!(
        policy.get(field::STATS_ENDPOINT),
        Some("fapi/v1/ticker/24hr")
    );
    for name in field::REQUIRED_BY_SERVICES {
        assert!(policy.get(name).is_some(), "{name}");
    }
}

#[test]
fn epochs_are_whole_or_decimal_seconds() {
    assert_eq!(parse_epoch("1761223950"), Some(1_761_223_950));
    assert_eq!(parse_epoch("1761223950.987654"), Some(1_761_223_950));
    assert_eq!(parse_epoch("-0.5"), Some(-1));
    for bad in ["", "soon", "NaN", "inf", "1e300"] {
        assert_eq!(parse_epoch(bad), None, "{bad}");
    }
}

#[test]
fn legacy_hash_is_what_the_python_generator_computed() {
    // python3 -c 'import json,hashlib; d={"universe_symbols":"[\"BTCUSDT\"]",
    //   "policy_version":"1.0.0-ai-v1","market":"币安人生USDT\n\u007f\"q\"\\"};
    //   print(hashlib.sha256(json.dumps(sorted(d.items()),sort_keys=True).encode()).hexdigest())'
    let fields: BTreeMap<String, String> = [
        ("universe_symbols", r#"["BTCUSDT"]"#),
        ("policy_version", "1.0.0-ai-v1"),
        ("market", "币安人生USDT\n\u{7f}\"q\"\\"),
        ("policy_hash", "x"),
        ("scores", "left by another writer: not covered"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    assert_eq!(
        legacy_policy_hash(&fields),
        "bfd134101261c0617a4e72b78b6b08f09102d614c9585e54281f72200797ff10"
    );
}
