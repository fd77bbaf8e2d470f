//! Bad input is refused before anything is fetched or written, naming what is wrong.

use crate::support::{universe, universe_with_env};

#[test]
fn bad_values_exit_2_and_name_the_flag() {
    let home = tempfile::tempdir().unwrap();
    let cases: [(&[&str], &str); 8] = [
        (&["generate", "--store", "postgres://x"], "--store"),
        (&["generate", "--top", "0"], "--top"),
        (
            &["generate", "--top", "5", "--min-symbols", "6"],
            "--min-symbols",
        ),
        (&["generate", "--base-url", "ftp://x"], "--base-url"),
        (&["generate", "--max-spread-bps", "NaN"], "--max-spread-bps"),
        (&["generate", "--concurrency", "0"], "--concurrency"),
        (&["generate", "--source", "/no/such/snapshot"], "--source"),
        (&["diff-hash", "--since", "yesterday"], "--since"),
    ];
    for (args, flag) in cases {
        let run = universe(home.path(), args);
        assert_eq!(run.code, 2, "{args:?}: {}", run.stderr);
        assert!(
            run.stderr.contains(flag),
            "{args:?} should name {flag}: {}",
            run.stderr
        );
    }
    // clap's own errors are usage errors too
    assert_eq!(
        universe(home.path(), &["generate", "--top", "many"]).code,
        2
    );
    assert_eq!(universe(home.path(), &["frobnicate"]).code, 2);
}

#[test]
fn environment_variables_set_options_and_the_command_line_wins() {
    let home = tempfile::tempdir().unwrap();
    let run = universe_with_env(home.path(), &["generate"], &[("UNIVERSE_TOP", "0")]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("selection.top = 0 (env UNIVERSE_TOP)"),
        "{}",
        run.stderr
    );
    let run = universe_with_env(
        home.path(),
        &["generate", "--top", "0"],
        &[("UNIVERSE_TOP", "5")],
    );
    assert!(
        run.stderr.contains("selection.top = 0 (flag --top)"),
        "{}",
        run.stderr
    );
}

#[test]
fn help_lists_every_option_with_its_variable() {
    let home = tempfile::tempdir().unwrap();
    let run = universe(home.path(), &["generate", "--help"]);
    run.assert_code(0);
    for variable in [
        "UNIVERSE_BINANCE_URL",
        "UNIVERSE_SOURCE",
        "UNIVERSE_STORE",
        "UNIVERSE_TOP",
        "UNIVERSE_MIN_SYMBOLS",
        "UNIVERSE_VALID_FOR",
        "UNIVERSE_MIN_QUOTE_VOLUME",
        "UNIVERSE_MAX_SPREAD_BPS",
        "UNIVERSE_MIN_AGE_DAYS",
        "UNIVERSE_CONCURRENCY",
        "UNIVERSE_WEIGHT_BUDGET",
        "UNIVERSE_DEADLINE",
        "UNIVERSE_REQUEST_TIMEOUT",
        "UNIVERSE_DRY_RUN",
        "UNIVERSE_JSON",
    ] {
        assert!(
            run.stdout.contains(variable),
            "{variable} missing from --help"
        );
    }
    let run = universe(home.path(), &["--help"]);
    assert!(run.stdout.contains("Exit codes"), "{}", run.stdout);
    // clap shows variables' values in --help; never the store's, which holds a password
    let run = universe_with_env(
        home.path(),
        &["show", "--help"],
        &[("UNIVERSE_STORE", "redis://:pw-in-env@h:1")],
    );
    assert!(!run.stdout.contains("pw-in-env"), "{}", run.stdout);
}
