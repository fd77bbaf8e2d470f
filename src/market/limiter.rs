//! The request-weight gate every HTTP request passes before it is sent.
//!
//! Binance counts request weight per IP in fixed one-minute windows. The gate keeps the
//! weight this run has sent (or the exchange reports, via `X-MBX-USED-WEIGHT-1M`, if
//! that is higher: other programs share the IP) under the budget, and waits for the next
//! minute rather than exceed it. The budget is the smaller of `--weight-budget` and the
//! `REQUEST_WEIGHT` limit exchangeInfo states for the IP. After a 429 every sender waits
//! out `Retry-After`; after a 418 nothing is sent again. A wait that would end past the
//! run's deadline fails at once, saying what it waited for.

use std::sync::atomic::{AtomicI64, AtomicU32, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::FetchError;

const MINUTE_MS: i64 = 60_000;

#[derive(Debug)]
pub struct WeightGate {
    budget: u32,
    /// The exchange's stated limit per minute; 0 until known.
    stated_limit: AtomicU32,
    deadline: Instant,
    /// server clock − local clock, in ms, once known.
    clock_offset_ms: AtomicI64,
    /// The local clock in ms since the epoch (fixed in tests).
    local_ms: fn() -> i64,
    state: Mutex<State>,
    changed: Condvar,
}

#[derive(Debug, Default)]
struct State {
    /// The minute (server clock) `used` counts.
    window: i64,
    /// This minute's weight: ours, or what the exchange reported when that was more.
    used: u32,
    /// The part of `used` this run sent itself.
    own: u32,
    paused_until: Option<Instant>,
    banned: Option<FetchError>,
}

impl WeightGate {
    pub fn new(budget: u32, deadline: Instant) -> Self {
        Self::with_clock(budget, deadline, local_ms)
    }

    fn with_clock(budget: u32, deadline: Instant, local_ms: fn() -> i64) -> Self {
        Self {
            budget,
            stated_limit: AtomicU32::new(0),
            deadline,
            clock_offset_ms: AtomicI64::new(0),
            local_ms,
            state: Mutex::new(State::default()),
            changed: Condvar::new(),
        }
    }

    /// Aligns minute windows with the exchange's clock.
    pub fn set_server_time(&self, server_time_ms: i64) {
        self.clock_offset_ms
            .store(server_time_ms - (self.local_ms)(), Ordering::Relaxed);
    }

    /// The exchange's `REQUEST_WEIGHT` limit per minute: the gate keeps under it too.
    pub fn set_stated_limit(&self, limit: u32) {
        self.stated_limit.store(limit, Ordering::Relaxed);
        self.changed.notify_all();
    }

    /// What this run may bring the minute's weight to: the budget, or the exchange's
    /// stated limit when that is lower.
    pub fn effective_budget(&self) -> u32 {
        match self.stated_limit.load(Ordering::Relaxed) {
            0 => self.budget,
            stated => self.budget.min(stated),
        }
    }

    fn server_now_ms(&self) -> i64 {
        (self.local_ms)() + self.clock_offset_ms.load(Ordering::Relaxed)
    }

    /// The deadline error for a wait of `wait` for `what`.
    fn too_late(wait: Duration, what: &str) -> FetchError {
        FetchError::Deadline(format!(
            "waiting {:.1}s for {what} would pass it",
            wait.as_secs_f64()
        ))
    }

    /// Blocks until `weight` fits in the current minute's budget and reserves it.
    pub fn acquire(&self, weight: u32) -> Result<(), FetchError> {
        let mut state = self.state.lock().expect("gate lock");
        loop {
            if let Some(ban) = &state.banned {
                return Err(ban.clone());
            }
            let now = Instant::now();
            if now >= self.deadline {
                return Err(FetchError::Deadline(String::new()));
            }
            let (wake_at, what) = if let Some(until) = state.paused_until.filter(|&u| u > now) {
                (until, "the 429's Retry-After to pass".to_owned())
            } else {
                let server_now = self.server_now_ms();
                let window = server_now.div_euclid(MINUTE_MS);
                if window != state.window {
                    // a new minute: until the exchange says otherwise, the other programs
                    // on this IP are taken to use what they used in the last one
                    let others = state.used.saturating_sub(state.own);
                    let next = window == state.window + 1;
                    state.window = window;
                    state.used = if next { others } else { 0 };
                    state.own = 0;
                }
                let budget = self.effective_budget();
                if state.used + weight <= budget {
                    state.used += weight;
                    state.own += weight;
                    return Ok(());
                }
                // a little past the boundary, so both clocks agree the minute turned
                let next_minute = (window + 1) * MINUTE_MS + 250;
                let wake_at = now + Duration::from_millis((next_minute - server_now) as u64);
                let what = format!(
                    "the next minute's request weight ({} of {budget} used, {weight} more needed)",
                    state.used
                );
                (wake_at, what)
            };
            if wake_at >= self.deadline {
                return Err(Self::too_late(wake_at - now, &what));
            }
            state = self
                .changed
                .wait_timeout(state, wake_at - now)
                .expect("gate lock")
                .0;
        }
    }

    /// Takes the exchange's count of this minute's weight into account.
    pub fn observe_used(&self, used: u32) {
        let mut state = self.state.lock().expect("gate lock");
        if state.window == self.server_now_ms().div_euclid(MINUTE_MS) {
            state.used = state.used.max(used);
        }
    }

    /// 429: nobody sends until `retry_after` has passed (else until the next minute).
    pub fn pause(&self, retry_after: Option<Duration>) {
        let wait = retry_after.unwrap_or_else(|| {
            let into_minute = self.server_now_ms().rem_euclid(MINUTE_MS);
            Duration::from_millis((MINUTE_MS - into_minute) as u64 + 250)
        });
        let until = Instant::now() + wait;
        let mut state = self.state.lock().expect("gate lock");
        state.paused_until = Some(state.paused_until.map_or(until, |u| u.max(until)));
        self.changed.notify_all();
    }

    /// 418: nothing is sent again; every waiting sender fails with `ban`.
    pub fn ban(&self, ban: FetchError) {
        let mut state = self.state.lock().expect("gate lock");
        state.banned.get_or_insert(ban);
        self.changed.notify_all();
    }

    /// Sleeps `wait` unless the deadline comes first or a ban arrives.
    pub fn sleep(&self, wait: Duration) -> Result<(), FetchError> {
        let until = Instant::now() + wait;
        if until >= self.deadline {
            return Err(Self::too_late(wait, "a retry's backoff"));
        }
        let mut state = self.state.lock().expect("gate lock");
        loop {
            if let Some(ban) = &state.banned {
                return Err(ban.clone());
            }
            let now = Instant::now();
            if now >= until {
                return Ok(());
            }
            state = self
                .changed
                .wait_timeout(state, until - now)
                .expect("gate lock")
                .0;
        }
    }

    /// Time left before the run's deadline.
    pub fn remaining(&self) -> Duration {
        self.deadline.saturating_duration_since(Instant::now())
    }
}

fn local_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn far() -> Instant {
        Instant::now() + Duration::from_secs(600)
    }

    /// A local clock stopped one second into a minute: no test sees the minute turn.
    fn stopped_clock() -> i64 {
        1_761_220_200_000 + 1000
    }

    fn gate(budget: u32, deadline: Instant) -> WeightGate {
        WeightGate::with_clock(budget, deadline, stopped_clock)
    }

    #[test]
    fn weight_within_budget_passes_at_once() {
        let gate = gate(100, far());
        for _ in 0..50 {
            gate.acquire(2).unwrap();
        }
        assert_eq!(gate.state.lock().unwrap().used, 100);
    }

    #[test]
    fn over_budget_waits_for_the_next_minute_or_fails_at_the_deadline() {
        let gate = gate(10, Instant::now() + Duration::from_millis(200));
        gate.acquire(10).unwrap();
        let started = Instant::now();
        let Err(FetchError::Deadline(why)) = gate.acquire(1) else {
            panic!("expected the deadline");
        };
        assert!(
            why.contains(
                "waiting 59.2s for the next minute's request weight (10 of 10 used, 1 more needed)"
            ),
            "{why}"
        );
        assert!(
            started.elapsed() < Duration::from_millis(100),
            "fails at once when the wait cannot end in time"
        );
    }

    #[test]
    fn the_exchanges_count_raises_ours() {
        let gate = gate(100, far());
        gate.acquire(1).unwrap();
        gate.observe_used(95);
        gate.acquire(5).unwrap();
        assert_eq!(gate.state.lock().unwrap().used, 100);
    }

    #[test]
    fn a_new_minute_starts_from_what_the_others_used_in_the_last() {
        // a clock that moves one minute when told to
        static MINUTE: AtomicI64 = AtomicI64::new(0);
        fn moving_clock() -> i64 {
            stopped_clock() + MINUTE.load(Ordering::Relaxed) * MINUTE_MS
        }
        let gate = WeightGate::with_clock(100, far(), moving_clock);
        gate.acquire(10).unwrap();
        gate.observe_used(90); // others sent 80 this minute
        MINUTE.store(1, Ordering::Relaxed);
        gate.acquire(5).unwrap();
        assert_eq!(
            gate.state.lock().unwrap().used,
            85,
            "80 assumed from the others, 5 ours"
        );
        // two minutes on, nothing is assumed
        MINUTE.store(3, Ordering::Relaxed);
        gate.acquire(1).unwrap();
        assert_eq!(gate.state.lock().unwrap().used, 1);
    }

    #[test]
    fn the_exchanges_stated_limit_caps_the_budget() {
        let gate = gate(2400, Instant::now() + Duration::from_millis(100));
        assert_eq!(gate.effective_budget(), 2400);
        gate.set_stated_limit(500);
        assert_eq!(gate.effective_budget(), 500);
        gate.acquire(1).unwrap();
        gate.observe_used(490);
        gate.acquire(10).unwrap();
        assert!(matches!(gate.acquire(1), Err(FetchError::Deadline(_))));
        gate.set_stated_limit(6000);
        assert_eq!(
            gate.effective_budget(),
            2400,
            "the budget stays the upper bound"
        );
    }

    #[test]
    fn a_pause_holds_every_sender() {
        let gate = gate(1000, far());
        gate.pause(Some(Duration::from_millis(300)));
        let started = Instant::now();
        gate.acquire(1).unwrap();
        assert!(started.elapsed() >= Duration::from_millis(290));
    }

    #[test]
    fn a_ban_fails_every_later_request() {
        let gate = gate(1000, far());
        gate.ban(FetchError::Banned {
            url: "u".into(),
            retry_after_s: Some(120),
        });
        assert!(matches!(gate.acquire(1), Err(FetchError::Banned { .. })));
        assert!(matches!(
            gate.sleep(Duration::from_millis(1)),
            Err(FetchError::Banned { .. })
        ));
    }
}
