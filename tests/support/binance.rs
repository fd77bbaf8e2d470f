//! A fake Binance USDⓈ-M REST server on loopback, inside the test process: it speaks the
//! real endpoints from a synthetic [`Market`], counts request weight per minute like the
//! exchange (with `X-MBX-USED-WEIGHT-1M`), logs every request, and misbehaves on purpose
//! when a test adds a [`Fault`].
//!
//! The HTTP/1.1 server is a few lines over `std::net`: a thread per connection, answers
//! kept alive, every request answered in the order it came. (`tiny_http`'s task pool could
//! leave a new connection queued behind idle keep-alive ones until the client's 10 s
//! timeout, which showed as a stray retry or a 10 s test.)

use std::collections::HashMap;
use std::io::{BufRead as _, BufReader};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use super::market::Market;

/// A way to misbehave.
#[derive(Debug, Clone)]
pub enum Fault {
    /// Answer with this status and a Binance-style error body.
    Status(u16),
    /// 429 with `Retry-After: seconds`.
    RateLimited(u64),
    /// 418 with `Retry-After: 120`.
    Banned,
    /// Wait this long before answering normally.
    Hang(Duration),
    /// 200 with this body.
    Body(String),
    /// This status with this raw body (a hostile error message, say).
    StatusBody(u16, String),
    /// 200 with `Content-Encoding: gzip`: this many bytes of JSON white space after `[`,
    /// compressed (a few kB on the wire).
    GzipBomb(usize),
}

/// Misbehave on requests whose path and query contain `matching`, `times` times
/// (`None`: always).
#[derive(Debug, Clone)]
struct Rule {
    matching: String,
    times: Option<usize>,
    fault: Fault,
}

/// One request the server answered.
#[derive(Debug, Clone)]
pub struct Logged {
    /// When the request arrived.
    pub at: Instant,
    /// When the answer was sent.
    pub answered: Instant,
    pub path: String,
    pub status: u16,
}

#[derive(Debug, Default)]
struct State {
    rules: Vec<Rule>,
    log: Vec<Logged>,
    /// Weight other programs on this IP used, reported on top of ours.
    base_used: u32,
    minute: u64,
    used: u32,
    peak_used: u32,
    /// Answer /time with the clock now, not the market's fixed time.
    live_clock: bool,
}

pub struct FakeBinance {
    pub market: Arc<Mutex<Market>>,
    state: Arc<Mutex<State>>,
    stopped: Arc<AtomicBool>,
    pub url: String,
}

impl FakeBinance {
    pub fn start(market: Market) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the fake exchange");
        let port = listener.local_addr().expect("an address").port();
        let market = Arc::new(Mutex::new(market));
        let state = Arc::new(Mutex::new(State::default()));
        let stopped = Arc::new(AtomicBool::new(false));
        let (mkt, st, stop) = (market.clone(), state.clone(), stopped.clone());
        thread::spawn(move || {
            for stream in listener.incoming() {
                if stop.load(Ordering::Relaxed) {
                    return;
                }
                let Ok(stream) = stream else { continue };
                let (market, state) = (mkt.clone(), st.clone());
                thread::spawn(move || connection(stream, &market, &state));
            }
        });
        Self {
            market,
            state,
            stopped,
            url: format!("http://127.0.0.1:{port}"),
        }
    }

    /// Misbehave `times` times (None: always) on requests containing `matching`.
    pub fn fault(&self, matching: &str, times: Option<usize>, fault: Fault) {
        self.state.lock().unwrap().rules.push(Rule {
            matching: matching.to_owned(),
            times,
            fault,
        });
    }

    /// Report this much weight as used by others, on top of what is served.
    pub fn set_base_used(&self, weight: u32) {
        self.state.lock().unwrap().base_used = weight;
    }

    /// Let the exchange's clock run (by default it stays at the market's time, so that
    /// runs at different moments read the same data).
    pub fn use_live_clock(&self) {
        self.state.lock().unwrap().live_clock = true;
    }

    pub fn log(&self) -> Vec<Logged> {
        self.state.lock().unwrap().log.clone()
    }

    /// Requests whose path contains `matching`.
    pub fn count(&self, matching: &str) -> usize {
        self.log()
            .iter()
            .filter(|l| l.path.contains(matching))
            .count()
    }

    /// Blocks until a request containing `matching` has arrived; a regression that never
    /// sends it fails the test after 20 s instead of hanging CI.
    pub fn wait_for(&self, matching: &str) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.count(matching) == 0 {
            assert!(
                Instant::now() < deadline,
                "no request containing {matching:?} arrived within 20 s"
            );
            thread::sleep(Duration::from_millis(10));
        }
    }

    /// Blocks until more than `seen` requests containing `matching` have arrived; fails
    /// the test after 20 s.
    pub fn wait_for_more(&self, matching: &str, seen: usize) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.count(matching) <= seen {
            assert!(
                Instant::now() < deadline,
                "no new request containing {matching:?} within 20 s"
            );
            thread::sleep(Duration::from_millis(1));
        }
    }

    /// The highest used weight of any minute, as reported in the header.
    pub fn peak_used(&self) -> u32 {
        self.state.lock().unwrap().peak_used
    }
}

impl Drop for FakeBinance {
    fn drop(&mut self) {
        // the accept loop sees the flag on the connection that wakes it
        self.stopped.store(true, Ordering::Relaxed);
        let _ = TcpStream::connect(self.url.trim_start_matches("http://"));
    }
}

/// One client connection: requests read and answered in turn until the client closes
/// it (or asks to, with `Connection: close`).
fn connection(stream: TcpStream, market: &Mutex<Market>, state: &Mutex<State>) {
    let Ok(writer) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(stream);
    let mut writer = std::io::BufWriter::new(writer);
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
            return;
        }
        let mut close = false;
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if line.eq_ignore_ascii_case("connection: close") {
                close = true;
            }
        }
        let path = request_line.split(' ').nth(1).unwrap_or("/").to_owned();
        let answer = serve(&path, market, state);
        if answer.write_to(&mut writer).is_err() || close {
            return;
        }
    }
}

/// An answer: status, headers and body.
struct Answer {
    status: u16,
    headers: Vec<(&'static str, String)>,
    body: Vec<u8>,
}

impl Answer {
    fn write_to(&self, out: &mut impl std::io::Write) -> std::io::Result<()> {
        write!(out, "HTTP/1.1 {} {}\r\n", self.status, reason(self.status))?;
        for (name, value) in &self.headers {
            write!(out, "{name}: {value}\r\n")?;
        }
        write!(out, "Content-Length: {}\r\n\r\n", self.body.len())?;
        out.write_all(&self.body)?;
        out.flush()
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        418 => "I'm a teapot",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        _ => "Status",
    }
}

fn serve(path: &str, market: &Mutex<Market>, state: &Mutex<State>) -> Answer {
    let path = path.to_owned();
    // logged on arrival (status 0 until answered), so hung requests are counted too
    let entry = {
        let mut s = state.lock().unwrap();
        let now = Instant::now();
        s.log.push(Logged {
            at: now,
            answered: now,
            path: path.clone(),
            status: 0,
        });
        s.log.len() - 1
    };
    let weight = weight_of(&path);
    let fault = take_fault(state, &path);
    if let Some(Fault::Hang(wait)) = &fault {
        thread::sleep(*wait);
    }
    let gzip = matches!(fault, Some(Fault::GzipBomb(_)));
    let (status, body, retry_after) = match fault.clone() {
        Some(Fault::Status(code)) => (
            code,
            r#"{"code":-1000,"msg":"An unknown error occurred."}"#.to_owned(),
            None,
        ),
        Some(Fault::RateLimited(seconds)) => (
            429,
            r#"{"code":-1003,"msg":"Too many requests."}"#.to_owned(),
            Some(seconds),
        ),
        Some(Fault::Banned) => (
            418,
            r#"{"code":-1003,"msg":"Way too many requests; IP banned."}"#.to_owned(),
            Some(120),
        ),
        Some(Fault::Body(body)) => (200, body, None),
        Some(Fault::StatusBody(code, body)) => (code, body, None),
        Some(Fault::GzipBomb(_)) => (200, String::new(), None),
        Some(Fault::Hang(_)) | None => {
            let live_clock = state.lock().unwrap().live_clock;
            answer(&path, &market.lock().unwrap(), live_clock)
        }
    };
    let body = match fault {
        Some(Fault::GzipBomb(size)) => bomb(size),
        _ => body.into_bytes(),
    };
    let used = {
        let mut s = state.lock().unwrap();
        let now_minute = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs()
            / 60;
        if s.minute != now_minute {
            s.minute = now_minute;
            s.used = 0;
        }
        if status != 429 && status != 418 {
            s.used += weight;
        }
        let used = s.base_used + s.used;
        s.peak_used = s.peak_used.max(used);
        s.log[entry].answered = Instant::now();
        s.log[entry].status = status;
        used
    };
    let mut headers = vec![
        ("Content-Type", "application/json".to_owned()),
        ("X-MBX-USED-WEIGHT-1M", used.to_string()),
    ];
    if gzip {
        headers.push(("Content-Encoding", "gzip".to_owned()));
    }
    if let Some(seconds) = retry_after {
        headers.push(("Retry-After", seconds.to_string()));
    }
    Answer {
        status,
        headers,
        body,
    }
}

/// `[` and `size` spaces, gzip-compressed: valid JSON so far, never finished, and about
/// a thousandth of its inflated size on the wire.
fn bomb(size: usize) -> Vec<u8> {
    use std::io::Write as _;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(b"[").unwrap();
    let chunk = vec![b' '; 1 << 20];
    let mut left = size;
    while left > 0 {
        let n = left.min(chunk.len());
        encoder.write_all(&chunk[..n]).unwrap();
        left -= n;
    }
    encoder.finish().unwrap()
}

fn take_fault(state: &Mutex<State>, path: &str) -> Option<Fault> {
    let mut s = state.lock().unwrap();
    let rule = s
        .rules
        .iter_mut()
        .find(|r| path.contains(&r.matching) && r.times != Some(0))?;
    if let Some(times) = rule.times.as_mut() {
        *times -= 1;
    }
    Some(rule.fault.clone())
}

fn query(path: &str) -> HashMap<String, String> {
    let query = path.split_once('?').map_or("", |(_, q)| q);
    query
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .map(|(k, v)| (k.to_owned(), percent_decode(v)))
        .collect()
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(Ok(b)) = text
                .get(i + 1..i + 3)
                .map(|hex| u8::from_str_radix(hex, 16))
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn weight_of(path: &str) -> u32 {
    let route = path.split('?').next().unwrap_or("");
    match route {
        "/fapi/v1/ticker/24hr" => 40,
        "/fapi/v1/ticker/bookTicker" => 5,
        "/fapi/v1/klines" => {
            let limit: u32 = query(path)
                .get("limit")
                .and_then(|l| l.parse().ok())
                .unwrap_or(500);
            match limit {
                0..100 => 1,
                100..500 => 2,
                500..=1000 => 5,
                _ => 10,
            }
        }
        _ => 1,
    }
}

fn answer(path: &str, market: &Market, live_clock: bool) -> (u16, String, Option<u64>) {
    let route = path.split('?').next().unwrap_or("");
    let ok = |body: String| (200, body, None);
    match route {
        "/fapi/v1/time" if live_clock => ok(format!(r#"{{"serverTime":{}}}"#, super::now_ms())),
        "/fapi/v1/time" => ok(market.time_body()),
        "/fapi/v1/exchangeInfo" => ok(market.exchange_info_body()),
        "/fapi/v1/ticker/24hr" => ok(market.ticker_body()),
        "/fapi/v1/ticker/bookTicker" => ok(market.book_body()),
        "/fapi/v1/klines" => {
            let q = query(path);
            let symbol = q.get("symbol").cloned().unwrap_or_default();
            let start = q.get("startTime").and_then(|s| s.parse().ok());
            let limit = q.get("limit").and_then(|l| l.parse().ok()).unwrap_or(500);
            match market.klines_body(&symbol, start, limit) {
                Some(body) => ok(body),
                None => (
                    400,
                    r#"{"code":-1121,"msg":"Invalid symbol."}"#.to_owned(),
                    None,
                ),
            }
        }
        _ => (404, r#"{"code":-1,"msg":"not found"}"#.to_owned(), None),
    }
}
