//! The live source: Binance's REST API through one keep-alive `ureq` agent, every
//! request behind the [`WeightGate`], with retries for what is worth retrying.
//!
//! | answer | what happens |
//! |---|---|
//! | 200 | body read up to the endpoint's size cap |
//! | 429 | every sender waits `Retry-After` (else the next minute), then the request goes again |
//! | 418 | nothing is sent again; the run fails closed |
//! | 5xx, timeout, reset | up to 3 retries, jittered exponential backoff |
//! | other 4xx | the request fails (no retry would change the answer) |

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use super::limiter::WeightGate;
use super::{Endpoint, FetchError, Source, Usage};

/// Retries after the first attempt for 5xx and transport errors.
pub const MAX_RETRIES: u32 = 3;
/// 429s one request may meet before it gives up (each one risks a ban).
const MAX_RATE_LIMITED: u32 = 3;
const BACKOFF_BASE: Duration = Duration::from_millis(200);

/// How the live source behaves; validated by the caller.
#[derive(Debug, Clone)]
pub struct ClientSettings {
    pub base_url: String,
    pub concurrency: usize,
    pub weight_budget: u32,
    pub deadline: Duration,
    pub request_timeout: Duration,
}

#[derive(Debug)]
pub struct Client {
    agent: ureq::Agent,
    base_url: String,
    gate: WeightGate,
    request_timeout: Duration,
    deadline_s: u64,
    requests: AtomicU64,
    weight: AtomicU64,
    retries: AtomicU64,
    rate_limited: AtomicU64,
}

/// What one attempt came to.
enum Attempt {
    Body(Vec<u8>),
    /// Worth another try after a backoff.
    Retry(FetchError),
    /// 429: try again once the gate reopens.
    RateLimited(Option<Duration>),
}

impl Client {
    pub fn new(settings: &ClientSettings, started: Instant) -> Self {
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .user_agent(concat!("universe/", env!("CARGO_PKG_VERSION")))
            .max_idle_connections_per_host(settings.concurrency + 4)
            .max_idle_connections(settings.concurrency + 4)
            // a connection's buffers (128 kB each way by default) times a hundred workers
            // would be most of the run's memory; requests are a line, responses stream
            .input_buffer_size(32 * 1024)
            .output_buffer_size(8 * 1024)
            .build();
        Self {
            agent: ureq::Agent::new_with_config(config),
            base_url: settings.base_url.trim_end_matches('/').to_owned(),
            gate: WeightGate::new(settings.weight_budget, started + settings.deadline),
            request_timeout: settings.request_timeout,
            deadline_s: settings.deadline.as_secs(),
            requests: AtomicU64::new(0),
            weight: AtomicU64::new(0),
            retries: AtomicU64::new(0),
            rate_limited: AtomicU64::new(0),
        }
    }

    /// The weight-1 request that learns a new minute's count: the exchange's
    /// `X-MBX-USED-WEIGHT-1M` on `/fapi/v1/time`, or `None` when it did not answer with
    /// one. A 429 or 418 is acted on as for any request.
    fn probe(&self) -> Option<u32> {
        let url = format!("{}{}", self.base_url, Endpoint::Time.path_and_query());
        self.requests.fetch_add(1, Ordering::Relaxed);
        self.weight
            .fetch_add(u64::from(Endpoint::Time.weight()), Ordering::Relaxed);
        let timeout = self.request_timeout.min(self.gate.remaining());
        let mut response = self
            .agent
            .get(&url)
            .config()
            .timeout_global(Some(timeout))
            .build()
            .call()
            .ok()?;
        // read to the end, so the connection goes back to the pool
        let _ = read_capped(response.body_mut(), Endpoint::Time.body_limit());
        let retry_after = header(&response, "retry-after")
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        match response.status().as_u16() {
            429 => {
                self.rate_limited.fetch_add(1, Ordering::Relaxed);
                self.gate.pause(retry_after);
            }
            418 => self.gate.ban(FetchError::Banned {
                url,
                retry_after_s: retry_after.map(|d| d.as_secs()),
            }),
            _ => {}
        }
        header(&response, "x-mbx-used-weight-1m").and_then(|v| v.parse().ok())
    }

    fn attempt(&self, url: &str, endpoint: &Endpoint<'_>) -> Result<Attempt, FetchError> {
        self.gate.acquire(endpoint.weight(), &|| self.probe())?;
        self.requests.fetch_add(1, Ordering::Relaxed);
        let timeout = self.request_timeout.min(self.gate.remaining());
        let response = self
            .agent
            .get(url)
            .config()
            .timeout_global(Some(timeout))
            .build()
            .call();
        let mut response = match response {
            Ok(response) => response,
            Err(error) => return Ok(Attempt::Retry(transport(url, &error))),
        };
        let status = response.status().as_u16();
        if let Some(used) = header(&response, "x-mbx-used-weight-1m").and_then(|v| v.parse().ok()) {
            self.gate.observe_used(used);
        }
        let retry_after = header(&response, "retry-after")
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        match status {
            429 => {
                self.rate_limited.fetch_add(1, Ordering::Relaxed);
                self.gate.pause(retry_after);
                return Ok(Attempt::RateLimited(retry_after));
            }
            418 => {
                let ban = FetchError::Banned {
                    url: url.to_owned(),
                    retry_after_s: retry_after.map(|d| d.as_secs()),
                };
                self.gate.ban(ban.clone());
                return Err(ban);
            }
            _ => {}
        }
        self.weight
            .fetch_add(u64::from(endpoint.weight()), Ordering::Relaxed);
        let limit = endpoint.body_limit();
        let body = read_capped(response.body_mut(), limit);
        match (status, body) {
            (200, Ok(body)) => Ok(Attempt::Body(body)),
            (200, Err(Read::TooLarge)) => Err(FetchError::Malformed {
                url: url.to_owned(),
                symbol: endpoint.symbol().map(str::to_owned),
                detail: format!("body too large: more than {limit} bytes (after decompression)"),
            }),
            (200, Err(Read::Failed(error))) => Ok(Attempt::Retry(transport(url, &error))),
            (500..=599, body) => Ok(Attempt::Retry(status_error(url, status, body.ok()))),
            (_, body) => Err(status_error(url, status, body.ok())),
        }
    }
}

impl Source for Client {
    fn fetch(&self, endpoint: &Endpoint<'_>) -> Result<Vec<u8>, FetchError> {
        let url = format!("{}{}", self.base_url, endpoint.path_and_query());
        let (mut attempts, mut rate_limited) = (0, 0);
        loop {
            attempts += 1;
            let error = match self.attempt(&url, endpoint)? {
                Attempt::Body(body) => {
                    if *endpoint == Endpoint::Time
                        && let Ok(time) = super::wire::parse_time(&body)
                    {
                        self.gate.set_server_time(time);
                    }
                    return Ok(body);
                }
                Attempt::RateLimited(retry_after) => {
                    rate_limited += 1;
                    attempts -= 1;
                    if rate_limited > MAX_RATE_LIMITED {
                        return Err(FetchError::Status {
                            url,
                            status: 429,
                            attempts: rate_limited,
                            body: format!(
                                "rate limited {rate_limited} times (Retry-After {retry_after:?})"
                            ),
                        });
                    }
                    continue;
                }
                Attempt::Retry(error) => error,
            };
            if attempts > MAX_RETRIES {
                return Err(with_attempts(error, attempts));
            }
            self.retries.fetch_add(1, Ordering::Relaxed);
            self.gate.sleep(backoff(attempts))?;
        }
    }

    fn deadline_s(&self) -> u64 {
        self.deadline_s
    }

    fn locate(&self, endpoint: &Endpoint<'_>) -> String {
        format!("{}{}", self.base_url, endpoint.path_and_query())
    }

    fn observe_weight_limit(&self, limit: u32) {
        self.gate.set_stated_limit(limit);
    }

    fn waiting_for(&self) -> Option<String> {
        self.gate.waiting_for()
    }

    fn usage(&self) -> Usage {
        Usage {
            requests: self.requests.load(Ordering::Relaxed),
            weight: self.weight.load(Ordering::Relaxed),
            retries: self.retries.load(Ordering::Relaxed),
            rate_limited: self.rate_limited.load(Ordering::Relaxed),
        }
    }
}

/// Equal-jitter exponential backoff: uniform in [base·2ⁿ⁻¹/2, base·2ⁿ⁻¹].
fn backoff(attempt: u32) -> Duration {
    let ceiling = BACKOFF_BASE * 2u32.pow(attempt.saturating_sub(1).min(6));
    ceiling.mul_f64(0.5 + fastrand::f64() / 2.0)
}

/// Why a body could not be read.
enum Read {
    /// More than the cap, counted after decompression: a small gzip answer can inflate
    /// to gigabytes.
    TooLarge,
    Failed(ureq::Error),
}

/// The body, decompressed, read to at most `limit` bytes (on the wire and inflated).
fn read_capped(body: &mut ureq::Body, limit: u64) -> Result<Vec<u8>, Read> {
    use std::io::Read as _;
    let mut reader = body.with_config().limit(limit).reader().take(limit + 1);
    let mut bytes = Vec::new();
    match reader.read_to_end(&mut bytes) {
        Ok(_) if bytes.len() as u64 > limit => Err(Read::TooLarge),
        Ok(_) => Ok(bytes),
        Err(e) => match ureq::Error::from(e) {
            ureq::Error::BodyExceedsLimit(_) => Err(Read::TooLarge),
            other => Err(Read::Failed(other)),
        },
    }
}

fn header<'r>(response: &'r ureq::http::Response<ureq::Body>, name: &str) -> Option<&'r str> {
    response.headers().get(name)?.to_str().ok()
}

fn transport(url: &str, error: &ureq::Error) -> FetchError {
    FetchError::Transport {
        url: url.to_owned(),
        detail: error.to_string(),
        attempts: 1,
    }
}

fn status_error(url: &str, status: u16, body: Option<Vec<u8>>) -> FetchError {
    let body = body.map_or_else(String::new, |b| {
        String::from_utf8_lossy(&b[..b.len().min(200)]).into_owned()
    });
    FetchError::Status {
        url: url.to_owned(),
        status,
        attempts: 1,
        body,
    }
}

fn with_attempts(error: FetchError, count: u32) -> FetchError {
    match error {
        FetchError::Status {
            url, status, body, ..
        } => FetchError::Status {
            url,
            status,
            attempts: count,
            body,
        },
        FetchError::Transport { url, detail, .. } => FetchError::Transport {
            url,
            detail,
            attempts: count,
        },
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_stays_jittered() {
        for attempt in 1..=3 {
            let ceiling = BACKOFF_BASE * 2u32.pow(attempt - 1);
            for _ in 0..20 {
                let wait = backoff(attempt);
                assert!(
                    wait >= ceiling / 2 && wait <= ceiling,
                    "{wait:?} for attempt {attempt}"
                );
            }
        }
    }
}
