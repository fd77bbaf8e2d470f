//! `redis+sentinel://` store URLs against real processes on loopback: a master, a replica
//! and three sentinels (`redis-server --sentinel`, which is what `redis-sentinel` runs).
//! The master is killed; the next refresh publishes to the promoted replica with the same
//! URL.

use std::collections::BTreeMap;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::redis::free_port;
use crate::support::{FakeBinance, RedisServer, generate, market_now, spawn_generate};

/// A sentinel watching `master` as `mymaster`, stopped when dropped.
struct Sentinel {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Sentinel {
    fn start(master: &RedisServer) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let conf = dir.path().join("sentinel.conf");
        std::fs::write(
            &conf,
            format!(
                "port {port}\nbind 127.0.0.1\ndir {}\nsentinel monitor mymaster 127.0.0.1 {} 2\n\
                 sentinel down-after-milliseconds mymaster 500\nsentinel failover-timeout mymaster 3000\n\
                 sentinel parallel-syncs mymaster 1\n",
                dir.path().display(),
                master.port
            ),
        )
        .unwrap();
        let child = Command::new("redis-server")
            .arg(&conf)
            .arg("--sentinel")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server --sentinel (apt-get install redis-server)");
        let sentinel = Self {
            child,
            port,
            _dir: dir,
        };
        within(Duration::from_secs(10), "the sentinel answers", || {
            sentinel.ask("PING").is_ok()
        });
        sentinel
    }

    fn ask(&self, command: &str) -> redis::RedisResult<redis::Value> {
        let client = redis::Client::open(format!("redis://127.0.0.1:{}", self.port))?;
        let mut con = client.get_connection_with_timeout(Duration::from_secs(1))?;
        let mut cmd = redis::cmd(command.split(' ').next().unwrap());
        for arg in command.split(' ').skip(1) {
            cmd.arg(arg);
        }
        cmd.query(&mut con)
    }

    /// Whether the sentinel's view of mymaster is plain "master": no failover under way,
    /// not down.
    fn settled(&self) -> bool {
        let Ok(reply) = self.ask("SENTINEL master mymaster") else {
            return false;
        };
        let fields: Vec<String> = redis::from_redis_value(reply).unwrap_or_default();
        fields
            .chunks(2)
            .any(|kv| kv.len() == 2 && kv[0] == "flags" && kv[1] == "master")
    }

    /// The port the sentinel names as mymaster's.
    fn master_port(&self) -> Option<u16> {
        let reply: Vec<String> =
            redis::from_redis_value(self.ask("SENTINEL get-master-addr-by-name mymaster").ok()?)
                .ok()?;
        reply.get(1)?.parse().ok()
    }
}

impl Drop for Sentinel {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits until `done`, failing the test after `limit`.
fn within(limit: Duration, what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !done() {
        assert!(Instant::now() < deadline, "{what}: not within {limit:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn audit_entries(server: &RedisServer) -> usize {
    let mut con = server.connection().unwrap();
    redis::cmd("XLEN")
        .arg("quantum:stream:policy.audit")
        .query(&mut con)
        .unwrap()
}

/// A master, its replica and three sentinels that know both; the sentinel URL.
fn cluster() -> (RedisServer, RedisServer, Vec<Sentinel>, String) {
    let master = RedisServer::start();
    let replica = RedisServer::start_replica_of(&master);
    let sentinels: Vec<Sentinel> = (0..3).map(|_| Sentinel::start(&master)).collect();
    let hosts: Vec<String> = sentinels
        .iter()
        .map(|s| format!("127.0.0.1:{}", s.port))
        .collect();
    let url = format!("redis+sentinel://{}/mymaster/0", hosts.join(","));
    // the sentinels know the replica before the master goes
    within(
        Duration::from_secs(20),
        "the sentinels see the replica",
        || {
            sentinels.iter().all(|s| {
                s.ask("SENTINEL replicas mymaster")
                    .is_ok_and(|v| matches!(v, redis::Value::Array(ref a) if !a.is_empty()))
            })
        },
    );
    (master, replica, sentinels, url)
}

/// Until every sentinel names `replica` the master with the failover over, and the
/// replica says so itself: what a client asking the sentinels then finds.
fn promoted(sentinels: &[Sentinel], replica: &RedisServer) {
    within(
        Duration::from_secs(30),
        "the sentinels promote the replica",
        || {
            sentinels
                .iter()
                .all(|s| s.master_port() == Some(replica.port) && s.settled())
        },
    );
    within(Duration::from_secs(10), "the replica is a master", || {
        let mut con = replica.connection().unwrap();
        let role: Vec<redis::Value> = redis::cmd("ROLE").query(&mut con).unwrap_or_default();
        matches!(role.first(), Some(redis::Value::BulkString(r)) if r == b"master")
    });
}

fn policy(server: &RedisServer) -> BTreeMap<String, String> {
    let mut con = server.connection().unwrap();
    redis::cmd("HGETALL")
        .arg("quantum:policy:current")
        .query(&mut con)
        .unwrap()
}

/// Until every write `master` took has reached its replica.
fn replicated(master: &RedisServer) {
    let mut con = master.connection().unwrap();
    let acked: i64 = redis::cmd("WAIT").arg(1).arg(5000).query(&mut con).unwrap();
    assert_eq!(acked, 1, "the replica acknowledged the writes");
}

#[test]
fn after_the_master_dies_the_next_refresh_publishes_to_the_promoted_replica() {
    let home = tempfile::tempdir().unwrap();
    let exchange = FakeBinance::start(market_now(16));
    let (mut master, replica, sentinels, url) = cluster();
    generate(home.path(), &exchange, &url, &[]).assert_code(0);
    assert_eq!(audit_entries(&master), 1);
    replicated(&master);
    master.stop();
    promoted(&sentinels, &replica);
    std::thread::sleep(Duration::from_millis(1100));
    generate(home.path(), &exchange, &url, &[]).assert_code(0);
    assert_eq!(
        audit_entries(&replica),
        2,
        "the promoted replica took the second publish"
    );
    let policy = policy(&replica);
    assert!(policy.contains_key("universe_symbols") && policy.contains_key("policy_hash"));
}

#[test]
fn a_master_killed_during_a_publish_leaves_the_whole_previous_policy() {
    let home = tempfile::tempdir().unwrap();
    let exchange = FakeBinance::start(market_now(16));
    let (mut master, replica, sentinels, url) = cluster();
    generate(home.path(), &exchange, &url, &[]).assert_code(0);
    replicated(&master);
    let first = policy(&master);
    // writes wait on the master: the next publish stops there, and the master is killed
    let mut con = master.connection().unwrap();
    let _: () = redis::cmd("CLIENT")
        .arg("PAUSE")
        .arg(20_000)
        .arg("WRITE")
        .query(&mut con)
        .unwrap();
    let run = spawn_generate(home.path(), &exchange, &url, &[]);
    // the publish is under way once a client waits on the paused master
    within(
        Duration::from_secs(20),
        "the publish waits on the master",
        || {
            let info: String = redis::cmd("INFO").arg("clients").query(&mut con).unwrap();
            info.lines().any(|l| {
                l.strip_prefix("blocked_clients:")
                    .is_some_and(|n| n.trim() != "0")
            })
        },
    );
    master.stop();
    let run = run.join().unwrap();
    assert_eq!(
        run.code, 4,
        "the publish did not go through: {}",
        run.stderr
    );
    promoted(&sentinels, &replica);
    // the promoted replica holds the whole policy published before, nothing of the other
    assert_eq!(policy(&replica), first);
    assert_eq!(audit_entries(&replica), 1);
    generate(home.path(), &exchange, &url, &[]).assert_code(0);
    assert_eq!(audit_entries(&replica), 2);
}
