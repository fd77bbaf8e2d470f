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

#[test]
fn a_first_time_users_mistakes_get_true_messages_and_code_2() {
    let home = tempfile::tempdir().unwrap();
    // a typo in the store URL never echoes the password
    for typo in [
        "redis//:s3cret@127.0.0.1:6379",
        "redis://:s3cret@127.0.0.1:port",
    ] {
        let run = universe(home.path(), &["generate", "--store", typo]);
        assert_eq!(run.code, 2, "{typo}: {}", run.stderr);
        assert!(!run.stderr.contains("s3cret"), "{}", run.stderr);
    }
    let config = crate::support::config_file(
        home.path(),
        "[store]\nurl = \"redis://:s3cret@127.0.0.1:6379/0\nnext = 1\n",
    );
    let run = universe(home.path(), &["config", "--config", &config]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(!run.stderr.contains("s3cret"), "{}", run.stderr);
    // a bad variable is named as the variable
    let run = universe_with_env(
        home.path(),
        &["generate", "--dry-run"],
        &[("UNIVERSE_TOP", "abc")],
    );
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("UNIVERSE_TOP=\"abc\""),
        "{}",
        run.stderr
    );
    // wrong types in the config file
    let config = crate::support::config_file(home.path(), "[selection]\ntop = \"5\"\n");
    let run = universe(home.path(), &["config", "--config", &config]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("not a string"), "{}", run.stderr);
    // rollback's arguments
    for args in [
        &["rollback", "--to", "xyz"][..],
        &["rollback", "--steps", "0"][..],
    ] {
        let run = universe(home.path(), args);
        assert_eq!(run.code, 2, "{args:?}: {}", run.stderr);
    }
}

#[test]
fn a_smaller_top_lowers_the_default_min_symbols_and_an_explicit_one_above_it_is_refused() {
    let home = tempfile::tempdir().unwrap();
    let run = universe(home.path(), &["config", "--top", "2", "--json"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let min = run.json()["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["key"] == "selection.min_symbols")
        .unwrap()["value"]
        .clone();
    assert_eq!(min, 2);
    let snapshot = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/snapshot");
    let store = format!("file:{}", home.path().join("store").display());
    let run = universe(
        home.path(),
        &[
            "generate", "--source", snapshot, "--store", &store, "--top", "2",
        ],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let run = universe(
        home.path(),
        &["generate", "--top", "2", "--min-symbols", "3"],
    );
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("--min-symbols") && run.stderr.contains("selection.top (2)"),
        "{}",
        run.stderr
    );
}

#[test]
fn explain_never_says_it_published_nothing_and_a_truncated_snapshot_is_named_by_its_path() {
    let home = tempfile::tempdir().unwrap();
    let snapshot = home.path().join("snap");
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/snapshot");
    copy_dir(std::path::Path::new(example), &snapshot);
    let klines = snapshot.join("klines").join("S00USDT.json");
    let text = std::fs::read_to_string(&klines).unwrap();
    std::fs::write(&klines, &text[..text.len() / 2]).unwrap();
    let store = format!("file:{}", home.path().join("store").display());
    let source = snapshot.to_str().unwrap();
    // one failed fetch of 14 is more than 2%: fail closed, naming the file
    let run = universe(
        home.path(),
        &["generate", "--source", source, "--store", &store],
    );
    assert_eq!(run.code, 3, "{}", run.stderr);
    assert!(
        run.stderr
            .contains(&format!("snapshot file {}", klines.display())),
        "{}",
        run.stderr
    );
    std::fs::write(&klines, &text).unwrap();
    // too few symbols: explain fails closed without claiming it would have published
    let run = universe(
        home.path(),
        &[
            "explain",
            "--source",
            source,
            "--store",
            &store,
            "--min-symbols",
            "20",
            "--top",
            "20",
            "S01USDT",
        ],
    );
    assert_eq!(run.code, 3, "{}", run.stderr);
    assert!(
        !run.stderr.contains("nothing was published"),
        "{}",
        run.stderr
    );
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap().flatten() {
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

#[test]
fn the_readme_set_up_gives_a_universe_command_before_the_examples_use_it() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let set_up = readme
        .split("## Set-up")
        .nth(1)
        .and_then(|s| s.split("```sh").nth(1))
        .and_then(|s| s.split("```").next())
        .unwrap();
    let commands: Vec<&str> = set_up.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(
        commands.len(),
        2,
        "exactly two set-up commands: {commands:?}"
    );
    assert!(
        commands[0].starts_with("cargo install --locked --path . && universe generate "),
        "the first installs `universe`, then runs it: {}",
        commands[0]
    );
    assert_eq!(commands[1], ".ci/run");
    // every example that runs `universe` comes after the set-up that installs it
    let examples = readme.split("## Set-up").nth(1).unwrap();
    assert!(examples.contains("$ universe generate"));
    assert!(!readme.contains("cargo run --release -- generate"));
}
