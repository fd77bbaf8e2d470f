//! Signed policies, end to end: `keygen`, `generate` signing on a real redis-server,
//! `proof` with trusted keys, and the README's Python consumer (Debian's
//! `python3-cryptography`) accepting the policy and refusing tampering, a wrong key and a
//! replayed older policy.

use std::collections::BTreeMap;
use std::path::Path;

use crate::support::{FakeBinance, RedisServer, config_file, generate, market_now, universe};

fn policy(redis: &RedisServer) -> BTreeMap<String, String> {
    let mut con = redis.connection().unwrap();
    ::redis::cmd("HGETALL")
        .arg("quantum:policy:current")
        .query(&mut con)
        .unwrap()
}

/// A new key pair in `dir`: the key file and its trusted-keys entry.
fn keygen(home: &Path, name: &str) -> (String, String) {
    let key = home.join(name);
    let run = universe(home, &["keygen", "--out", key.to_str().unwrap()]);
    run.assert_code(0);
    let entry = std::fs::read_to_string(home.join(format!("{name}.pub"))).unwrap();
    assert!(run.stdout.contains(entry.trim()), "{}", run.stdout);
    (key.display().to_string(), entry.trim().to_owned())
}

/// The README's consumer block, run by Python on `cases` (`[policy, newest_created, trusted
/// entry]`): what `accept` answered for each.
fn consumer(home: &Path, cases: &serde_json::Value) -> Vec<bool> {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let block = readme
        .split("```python\n")
        .nth(1)
        .unwrap()
        .split("```")
        .next()
        .unwrap();
    let harness = format!(
        "{block}\nimport sys\nout = []\nfor policy, newest, entry in json.load(open(sys.argv[1])):\n    key_id, public = entry.split(':')\n    TRUSTED.clear(); TRUSTED[key_id] = bytes.fromhex(public)\n    out.append(accept(policy, newest))\nprint(json.dumps(out))\n"
    );
    let (script, input) = (home.join("consumer.py"), home.join("cases.json"));
    std::fs::write(&script, harness).unwrap();
    std::fs::write(&input, cases.to_string()).unwrap();
    let out = std::process::Command::new("python3")
        .arg(&script)
        .arg(&input)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn a_signed_policy_is_accepted_and_tampering_a_wrong_key_and_a_replay_are_not() {
    let home = tempfile::tempdir().unwrap();
    let (redis, exchange) = (RedisServer::start(), FakeBinance::start(market_now(16)));
    let (key, entry) = keygen(home.path(), "signing.key");
    let (_, other) = keygen(home.path(), "other.key");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        assert_eq!(
            std::fs::metadata(&key).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    let config = config_file(
        home.path(),
        &format!("[policy]\nsigning_key_file = \"{key}\"\ntrusted_keys = [\"{entry}\"]\n"),
    );
    generate(home.path(), &exchange, &redis.url(), &["--config", &config]).assert_code(0);
    let first = policy(&redis);
    // the next publish a second later, so the two differ in created_at_epoch
    std::thread::sleep(std::time::Duration::from_millis(1100));
    generate(home.path(), &exchange, &redis.url(), &["--config", &config]).assert_code(0);
    let second = policy(&redis);
    assert_eq!(second["key_id"], entry.split(':').next().unwrap());
    assert_eq!(second["signature"].len(), 128);
    let proof = universe(
        home.path(),
        &["--config", &config, "proof", "--store", &redis.url()],
    );
    proof.assert_code(0);
    assert!(
        proof
            .stdout
            .contains("PASS  signed by a trusted key: signed by trusted key"),
        "{}",
        proof.stdout
    );

    let newest: i64 = second["created_at_epoch"].parse().unwrap();
    let mut tampered = second.clone();
    let leverage = tampered.get_mut("leverage_by_symbol").unwrap();
    *leverage = leverage.replacen(':', ": ", 1);
    let mut unsigned = second.clone();
    unsigned.remove("signature");
    let cases = serde_json::json!([
        [second, 0, entry],
        [second, newest, entry],
        [tampered, 0, entry],
        [second, 0, other],
        [first, newest, entry],
        [unsigned, 0, entry],
    ]);
    assert_eq!(
        consumer(home.path(), &cases),
        [true, true, false, false, false, false]
    );

    // proof with only another key trusted, and with an unsigned policy
    let wrong = config_file(
        home.path(),
        &format!("[policy]\ntrusted_keys = [\"{other}\"]\n"),
    );
    let run = universe(
        home.path(),
        &["--config", &wrong, "proof", "--store", &redis.url()],
    );
    run.assert_code(5);
    assert!(
        run.stdout.contains("FAIL  signed by a trusted key: key "),
        "{}",
        run.stdout
    );
    let trusting = config_file(
        home.path(),
        &format!("[policy]\ntrusted_keys = [\"{entry}\"]\n"),
    );
    generate(
        home.path(),
        &exchange,
        &redis.url(),
        &["--config", &trusting],
    )
    .assert_code(0);
    let run = universe(
        home.path(),
        &["--config", &trusting, "proof", "--store", &redis.url()],
    );
    run.assert_code(5);
    assert!(
        run.stdout
            .contains("FAIL  signed by a trusted key: unsigned"),
        "{}",
        run.stdout
    );
}

#[test]
fn a_key_others_can_read_or_that_is_not_a_key_is_refused_before_any_request() {
    let home = tempfile::tempdir().unwrap();
    let exchange = FakeBinance::start(market_now(16));
    let (key, _) = keygen(home.path(), "signing.key");
    let again = universe(home.path(), &["keygen", "--out", &key]);
    again.assert_code(2);
    assert!(
        again.stderr.contains("never overwrites"),
        "{}",
        again.stderr
    );
    let store = format!("file:{}", home.path().join("store").display());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
        let config = config_file(
            home.path(),
            &format!("[policy]\nsigning_key_file = \"{key}\"\n"),
        );
        let run = generate(home.path(), &exchange, &store, &["--config", &config]);
        run.assert_code(2);
        assert!(
            run.stderr.contains("readable by others (mode 644)"),
            "{}",
            run.stderr
        );
    }
    let garbage = home.path().join("garbage.key");
    std::fs::write(&garbage, "not a key\n").unwrap();
    #[cfg(unix)]
    std::fs::set_permissions(
        &garbage,
        std::os::unix::fs::PermissionsExt::from_mode(0o600),
    )
    .unwrap();
    let config = config_file(
        home.path(),
        &format!("[policy]\nsigning_key_file = \"{}\"\n", garbage.display()),
    );
    let run = generate(home.path(), &exchange, &store, &["--config", &config]);
    run.assert_code(2);
    assert!(
        run.stderr.contains("expected 64 hex digits"),
        "{}",
        run.stderr
    );
    assert!(
        exchange.log().is_empty(),
        "nothing was asked of the exchange"
    );
    let bad = config_file(home.path(), "[policy]\ntrusted_keys = [\"0011:zz\"]\n");
    universe(home.path(), &["--config", &bad, "proof", "--store", &store]).assert_code(2);
}
