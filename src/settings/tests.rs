//! Unit tests of `settings`.

use super::*;
use std::collections::BTreeSet;

fn write(text: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("universe.toml");
    std::fs::write(&path, text).unwrap();
    (dir, path)
}

#[test]
fn defaults_without_a_file() {
    let s = Settings::resolve(None, Overrides::default()).unwrap();
    assert_eq!(s.top, 10);
    assert_eq!(s.filters.max_spread_bps, 15.0);
    assert_eq!(s.weights, Weights::DEFAULT);
    assert_eq!(s.churn.min_hold, Duration::from_secs(7200));
    assert_eq!(s.keys.policy_key(), "quantum:policy:current");
    assert!(s.entries.iter().all(|e| e.origin == "default"));
}

#[test]
fn the_file_overrides_defaults_and_is_named_as_origin() {
    let (_dir, path) = write(
        "[selection]\ntop = 7\n[churn]\nmin_hold = \"30m\"\n[policy.extra]\nrisk_params = { max_dd = 0.1 }\nnote = \"as is\"\n[policy.kill_params]\ntrend_min = 0.3\nnew_knob = 7\n",
    );
    let s = Settings::resolve(Some(&path), Overrides::default()).unwrap();
    assert_eq!(s.top, 7);
    assert_eq!(s.churn.min_hold, Duration::from_secs(1800));
    assert_eq!(s.extra["risk_params"], r#"{"max_dd":0.1}"#);
    assert_eq!(s.exit_params.kill["trend_min"], 0.3);
    assert_eq!(s.exit_params.kill["new_knob"], 7.0);
    assert_eq!(
        s.exit_params.kill["ts_ref"], 0.35,
        "the other keys keep their defaults"
    );
    assert_eq!(s.exit_params.harvest, ExitParams::default().harvest);
    assert_eq!(s.extra["note"], "as is");
    let top = s.entries.iter().find(|e| e.key == "selection.top").unwrap();
    assert_eq!(top.origin, format!("file {}", path.display()));
}

#[test]
fn unknown_keys_and_bad_values_name_key_and_file() {
    let (_dir, path) = write("[filters]\nmax_spread = 3\n");
    let err = Settings::resolve(Some(&path), Overrides::default())
        .unwrap_err()
        .0;
    assert!(
        err.contains("unknown key filters.max_spread") && err.contains("universe.toml"),
        "{err}"
    );
    let (_dir, path) = write("[filters]\nmax_spread_bps = -1\n");
    let err = Settings::resolve(Some(&path), Overrides::default())
        .unwrap_err()
        .0;
    assert!(
        err.contains("filters.max_spread_bps = -1 (file ") && err.contains("≥ 0"),
        "{err}"
    );
    for (text, fragment) in [
        ("[selection]\ntop = \"5\"\n", "selection.top = \"5\""),
        ("[churn]\nenabled = \"yes\"\n", "churn.enabled = \"yes\""),
        ("[churn]\nmargin = \"5\"\n", "churn.margin = \"5\""),
    ] {
        let (_dir, path) = write(text);
        let err = Settings::resolve(Some(&path), Overrides::default())
            .unwrap_err()
            .0;
        assert!(
            err.contains(fragment) && err.contains("not a string"),
            "{text}: {err}"
        );
    }
    let (_dir, path) = write("[selection]\ntop = \"ten\"\n");
    let err = Settings::resolve(Some(&path), Overrides::default())
        .unwrap_err()
        .0;
    assert!(
        err.contains("selection.top = \"ten\"") && err.contains("whole number"),
        "{err}"
    );
}

#[test]
fn bad_policy_sections_name_the_key() {
    let (_dir, path) = write("[policy.extra]\nuniverse_hash = \"x\"\n");
    assert!(Settings::resolve(Some(&path), Overrides::default()).is_err());
    for (text, fragment) in [
        (
            "[policy.harvest_params]\nT1_R = \"high\"\n",
            "policy.harvest_params.T1_R = \"high\"",
        ),
        ("[policy.harvest_params]\nT1_R = nan\n", "a finite number"),
        (
            "[policy.kill_params]\nextra = true\n",
            "policy.kill_params.extra = true",
        ),
        (
            "[policy.extra]\nharvest_params = \"{}\"\n",
            "[policy.harvest_params]",
        ),
    ] {
        let (_dir, path) = write(text);
        let err = Settings::resolve(Some(&path), Overrides::default())
            .unwrap_err()
            .0;
        assert!(err.contains(fragment), "{text}: {err}");
    }
}

#[test]
fn store_passwords_are_redacted_in_entries() {
    let (_dir, path) = write("[store]\nurl = \"redis://:hunter2@h:1/0\"\n");
    let s = Settings::resolve(Some(&path), Overrides::default()).unwrap();
    let url = s.entries.iter().find(|e| e.key == "store.url").unwrap();
    assert_eq!(url.value, serde_json::json!("redis://:***@h:1/0"));
}

#[test]
fn the_table_has_one_entry_per_key_flag_and_variable_and_valid_defaults() {
    use knobs::KNOBS;
    let mut keys = BTreeSet::new();
    let mut flags = BTreeSet::new();
    for knob in KNOBS {
        assert!(keys.insert(knob.key), "{} twice", knob.key);
        if let Some(flag) = knob.flag {
            assert!(flags.insert(flag.long), "--{} twice", flag.long);
            assert!(flags.insert(flag.env), "{} twice", flag.env);
        }
        assert!(!knob.help.is_empty(), "{} has no help", knob.key);
    }
    // every default parses and lies in its own range (resolving panics otherwise)
    let s = Settings::resolve(None, Overrides::default()).unwrap();
    for knob in KNOBS {
        assert!(s.entries.iter().any(|e| e.key == knob.key), "{}", knob.key);
    }
}
