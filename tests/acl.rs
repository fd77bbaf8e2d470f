//! `contrib/redis-acl.conf` on a real redis-server started with it: the writer publishes
//! and ingests, the reader reads (and can run `proof`) but cannot write, neither can run
//! FLUSHALL, CONFIG or KEYS, and the writer cannot touch keys that are not its own.

use std::collections::BTreeMap;

use crate::support::{FakeBinance, RedisServer, generate, market_now, universe};

fn acl_file() -> String {
    std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/contrib/redis-acl.conf"
    ))
    .unwrap()
    .replace("CHANGE-ME-writer", "writer-password")
    .replace("CHANGE-ME-reader", "reader-password")
}

/// What `cmd` got from the server as `user`: `Ok` or the error's text.
fn run(con: &mut ::redis::Connection, cmd: &mut ::redis::Cmd) -> Result<(), String> {
    cmd.query::<::redis::Value>(con)
        .map(|_| ())
        .map_err(|e| e.to_string())
}

fn refused(con: &mut ::redis::Connection, args: &[&str]) {
    let mut cmd = ::redis::cmd(args[0]);
    for a in &args[1..] {
        cmd.arg(*a);
    }
    let result = run(con, &mut cmd);
    assert!(
        result
            .as_ref()
            .is_err_and(|e| e.to_ascii_lowercase().contains("noperm")),
        "{args:?}: {result:?}"
    );
}

/// The writer folds one closed trade (written by `admin`) into a performance record.
fn ingest_one_trade(home: &std::path::Path, admin: &mut ::redis::Connection, writer: &str) {
    let trade = [
        ("event_type", "trade.closed"),
        ("symbol", "S01USDT"),
        ("side", "LONG"),
        ("entry_price", "100"),
        ("exit_price", "101"),
        ("pnl_percent", "1.0"),
        ("timestamp", "1773559629"),
    ];
    let mut xadd = ::redis::cmd("XADD");
    xadd.arg("quantum:stream:trade.closed").arg("*");
    for (k, v) in trade {
        xadd.arg(k).arg(v);
    }
    let _: String = xadd.query(admin).unwrap();
    universe(home, &["perf", "ingest", "--store", writer]).assert_code(0);
    let record: BTreeMap<String, String> = ::redis::cmd("HGETALL")
        .arg("quantum:symbol:performance:S01USDT")
        .query(admin)
        .unwrap();
    assert!(
        !record.is_empty(),
        "the trade was folded into a performance record"
    );
}

#[test]
fn each_user_of_the_acl_file_can_do_its_job_and_nothing_else() {
    let home = tempfile::tempdir().unwrap();
    let redis = RedisServer::start_with_acl(&acl_file());
    let exchange = FakeBinance::start(market_now(16));
    let writer = redis.url_of("universe-writer", "writer-password");
    let reader = redis.url_of("universe-reader", "reader-password");
    let mut admin = redis.connection().unwrap();
    let _: i64 = ::redis::cmd("SADD")
        .arg("quantum:positions:open")
        .arg("S00USDT")
        .query(&mut admin)
        .unwrap();
    let _: String = ::redis::cmd("SET")
        .arg("quantum:other")
        .arg("theirs")
        .query(&mut admin)
        .unwrap();

    // the writer publishes (reading the open positions) and ingests closed trades
    generate(home.path(), &exchange, &writer, &[]).assert_code(0);
    generate(home.path(), &exchange, &writer, &[]).assert_code(0);
    ingest_one_trade(home.path(), &mut admin, &writer);

    // the reader reads the policy and the update stream, and can prove the policy
    let mut as_reader = ::redis::Client::open(reader.as_str())
        .unwrap()
        .get_connection()
        .unwrap();
    let policy: BTreeMap<String, String> = ::redis::cmd("HGETALL")
        .arg("quantum:policy:current")
        .query(&mut as_reader)
        .unwrap();
    assert!(policy.contains_key("universe_symbols"));
    run(
        &mut as_reader,
        ::redis::cmd("XRANGE")
            .arg("quantum:stream:policy.update")
            .arg("-")
            .arg("+"),
    )
    .unwrap();
    universe(home.path(), &["proof", "--store", &reader]).assert_code(0);
    refused(
        &mut as_reader,
        &["HSET", "quantum:policy:current", "universe_symbols", "[]"],
    );
    refused(&mut as_reader, &["DEL", "quantum:policy:current"]);
    refused(
        &mut as_reader,
        &["XADD", "quantum:stream:policy.update", "*", "a", "b"],
    );
    refused(&mut as_reader, &["GET", "quantum:other"]);

    // the writer cannot touch what is not its own
    let mut as_writer = ::redis::Client::open(writer.as_str())
        .unwrap()
        .get_connection()
        .unwrap();
    refused(&mut as_writer, &["GET", "quantum:other"]);
    refused(&mut as_writer, &["SET", "quantum:other", "mine"]);
    refused(&mut as_writer, &["DEL", "quantum:other"]);
    refused(&mut as_writer, &["SADD", "quantum:positions:open", "XUSDT"]);
    // and neither can run what no job needs
    for con in [&mut as_reader, &mut as_writer] {
        refused(con, &["FLUSHALL"]);
        refused(con, &["FLUSHDB"]);
        refused(con, &["CONFIG", "GET", "*"]);
        refused(con, &["KEYS", "*"]);
        refused(con, &["ACL", "SETUSER", "universe-writer", "+@all"]);
        refused(con, &["EVAL", "return redis.call('FLUSHALL')", "0"]);
        refused(con, &["SHUTDOWN", "NOSAVE"]);
    }
    // a refresh that fails records it, and the reader sees it
    exchange.fault("exchangeInfo", Some(1), crate::support::Fault::Banned);
    generate(home.path(), &exchange, &writer, &[]).assert_code(3);
    let show = universe(home.path(), &["show", "--store", &reader]);
    show.assert_code(0);
    assert!(
        show.stdout.contains("refreshes failing: 1 in a row"),
        "{}",
        show.stdout
    );
    let theirs: String = ::redis::cmd("GET")
        .arg("quantum:other")
        .query(&mut admin)
        .unwrap();
    assert_eq!(theirs, "theirs");
}
