//! A real `redis-server` for one test: started on a free loopback port in a temp dir
//! (never 6379, never shared), stopped when dropped. Optionally with a password, or
//! speaking only TLS with a certificate signed by a CA made for it.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct RedisServer {
    child: Option<Child>,
    pub port: u16,
    dir: tempfile::TempDir,
    /// What the harness authenticates with: `:password`, or `user:password`.
    password: Option<String>,
    /// More arguments for redis-server (`--replicaof HOST PORT`).
    extra: Vec<String>,
    /// The configuration file (with its users) the server runs with, if any.
    acl: Option<PathBuf>,
    /// With TLS: the CA that signed the server's certificate.
    pub tls_ca: Option<PathBuf>,
}

impl RedisServer {
    pub fn start() -> Self {
        Self::start_with(None, false)
    }

    /// A server that requires `AUTH password`.
    pub fn start_with_password(password: &str) -> Self {
        Self::start_with(Some(format!(":{password}")), false)
    }

    /// A server configured with `acl` (`user` directives in redis.conf's format) and an
    /// `admin` user, which the harness itself uses, with password `admin-password`.
    pub fn start_with_acl(acl: &str) -> Self {
        let dir = tempfile::tempdir().expect("a temp dir");
        let file = dir.path().join("redis.conf");
        let users = format!("{acl}\nuser admin on >admin-password ~* &* +@all\n");
        std::fs::write(&file, users).expect("the users file");
        let mut server = Self {
            child: None,
            port: free_port(),
            dir,
            password: Some("admin:admin-password".into()),
            extra: Vec::new(),
            acl: Some(file),
            tls_ca: None,
        };
        server.launch();
        server
    }

    /// A replica of `master`.
    pub fn start_replica_of(master: &RedisServer) -> Self {
        let mut server = Self {
            child: None,
            port: free_port(),
            dir: tempfile::tempdir().expect("a temp dir"),
            password: None,
            extra: vec![
                "--replicaof".into(),
                "127.0.0.1".into(),
                master.port.to_string(),
            ],
            acl: None,
            tls_ca: None,
        };
        server.launch();
        server
    }

    /// The URL of `user` with `password` on this server.
    pub fn url_of(&self, user: &str, password: &str) -> String {
        format!("redis://{user}:{password}@127.0.0.1:{}/0", self.port)
    }

    /// A server that speaks only TLS (`rediss://`), with a certificate for 127.0.0.1
    /// signed by a CA made for it (`openssl` on the PATH).
    pub fn start_tls() -> Self {
        Self::start_with(None, true)
    }

    fn start_with(password: Option<String>, tls: bool) -> Self {
        let dir = tempfile::tempdir().expect("a temp dir");
        let tls_ca = tls.then(|| {
            make_certificates(dir.path());
            dir.path().join("ca.crt")
        });
        let mut server = Self {
            child: None,
            port: free_port(),
            dir,
            password,
            extra: Vec::new(),
            acl: None,
            tls_ca,
        };
        server.launch();
        server
    }

    /// Starts (or restarts) the server on the same port and folder, with an
    /// append-only file so that what was written survives a restart.
    fn launch(&mut self) {
        let mut command = Command::new("redis-server");
        if let Some(file) = &self.acl {
            // a configuration file comes first; the flags below override it
            command.arg(file);
        }
        let port = self.port.to_string();
        if self.tls_ca.is_some() {
            let file = |name: &str| self.dir.path().join(name);
            command
                .args([
                    "--port",
                    "0",
                    "--tls-port",
                    &port,
                    "--tls-auth-clients",
                    "no",
                ])
                .arg("--tls-cert-file")
                .arg(file("server.crt"))
                .arg("--tls-key-file")
                .arg(file("server.key"))
                .arg("--tls-ca-cert-file")
                .arg(file("ca.crt"));
        } else {
            command.args(["--port", &port]);
        }
        command
            .args(["--bind", "127.0.0.1", "--save", ""])
            .args(["--appendonly", "yes", "--appendfsync", "always"])
            .arg("--dir")
            .arg(self.dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        command.args(&self.extra);
        if let (None, Some(password)) = (&self.acl, &self.password) {
            command.args(["--requirepass", password.trim_start_matches(':')]);
        }
        let child = command.spawn().unwrap_or_else(|e| {
            panic!("cannot start redis-server ({e}): install it (apt-get install redis-server); .ci/run does")
        });
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if self.connection().is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("redis-server did not answer on port {}", self.port);
    }

    /// Stops the server (kill; what was written is on disk).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    pub fn restart(&mut self) {
        self.stop();
        self.launch();
    }

    pub fn url(&self) -> String {
        match (&self.password, &self.tls_ca) {
            (_, Some(_)) => format!("rediss://127.0.0.1:{}/0", self.port),
            (Some(credentials), None) => format!("redis://{credentials}@127.0.0.1:{}/0", self.port),
            (None, None) => format!("redis://127.0.0.1:{}/0", self.port),
        }
    }

    pub fn connection(&self) -> redis::RedisResult<redis::Connection> {
        let client = match &self.tls_ca {
            Some(ca) => {
                let root_cert = Some(std::fs::read(ca).expect("the test CA"));
                redis::Client::build_with_tls(
                    self.url(),
                    redis::TlsCertificates {
                        client_tls: None,
                        root_cert,
                    },
                )?
            }
            None => redis::Client::open(self.url())?,
        };
        client.get_connection_with_timeout(Duration::from_secs(2))
    }

    pub fn dir(&self) -> PathBuf {
        self.dir.path().to_owned()
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A port nobody listens on now (the OS picks it; 6379 is never chosen on purpose).
pub fn free_port() -> u16 {
    loop {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        if port != 6379 {
            return port;
        }
    }
}

/// A CA, and a server certificate for 127.0.0.1 it signed, in `dir`.
fn make_certificates(dir: &Path) {
    let openssl = |args: &[&str]| {
        let status = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot run openssl ({e}): install it (apt-get install openssl); .ci/run does"
                )
            });
        assert!(status.success(), "openssl {args:?} failed");
    };
    std::fs::write(
        dir.join("san.ext"),
        "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    openssl(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.crt",
        "-days",
        "2",
        "-subj",
        "/CN=universe test CA",
    ]);
    openssl(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
        "-subj",
        "/CN=127.0.0.1",
    ]);
    openssl(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "server.crt",
        "-days",
        "2",
        "-extfile",
        "san.ext",
    ]);
}
