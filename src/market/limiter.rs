//! The request-weight gate every HTTP request passes before it is sent.
//!
//! Binance counts request weight per IP in fixed one-minute windows. The gate keeps the
//! weight this run has sent (or the exchange reports, via `X-MBX-USED-WEIGHT-1M`, if
//! that is higher: other programs share the IP) under the budget, and waits for the next
//! minute rather than exceed it. The budget is the smaller of `--weight-budget` and the
//! `REQUEST_WEIGHT` limit exchangeInfo states for the IP. After a 429 every sender waits
//! out `Retry-After`; after a 418 nothing is sent again. A wait that would end past the
//! run's deadline fails at once, saying what it waited for.
//!
//! What the other programs use is never assumed from an earlier minute: the exchange's
//! count is the truth. When the others used weight in the last minute, the first sender
//! of a new minute first learns this minute's count with one weight-1 probe
//! (`/fapi/v1/time`), and everyone waits for its answer; a minute in which nobody else
//! used anything costs no probe. (A stale estimate carried from minute to minute, and
//! only ever raised, once stalled a fetch for eleven minutes with the exchange idle.)
//! The probe is the only weight that may pass the budget: one unit, in a minute the
//! others alone have filled. When the exchange's word says there is no room, the count is
//! learned again [`RECOUNT_MS`] later rather than at this run's next minute (the last
//! [`RECOUNT_RESERVE`] units of the budget are kept for those probes): the exchange's minute need
//! not turn when ours does (a replay counts by its local clock, say), and a minute waited
//! for nothing is a refresh that misses its deadline.

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
    minute: Minute,
    /// What a sender is waiting for now, for progress lines.
    waiting: Option<String>,
    paused_until: Option<Instant>,
    banned: Option<FetchError>,
}

/// The weight of the probe that learns a new minute's count.
pub const PROBE_WEIGHT: u32 = 1;
/// How often a sender waiting for another's probe looks again.
const PROBE_RECHECK: Duration = Duration::from_millis(250);

/// One minute's weight, as the gate knows it: the pure part of the gate.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct Minute {
    /// The minute (server clock) `used` counts.
    window: i64,
    /// This minute's weight: ours, or what the exchange reported when that was more.
    used: u32,
    /// The part of `used` this run sent itself.
    own: u32,
    /// Whether this minute's count is known: the exchange reported it, or nobody else
    /// used anything in the minute before.
    learned: bool,
    /// A probe is on its way.
    probing: bool,
    /// What the others used in the minute before: the fallback when a probe fails.
    guess: u32,
    /// When (server clock, ms) the exchange last gave its count of this minute.
    heard_ms: Option<i64>,
}

/// How long after the exchange's word of no room its count is learned again.
pub const RECOUNT_MS: i64 = 5_000;
/// The weight kept free, once the exchange has given its count, for a minute of recounts.
pub const RECOUNT_RESERVE: u32 = (MINUTE_MS / RECOUNT_MS) as u32 * PROBE_WEIGHT;

/// What the gate tells a sender.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    /// The weight is reserved: send.
    Send,
    /// Send the probe first (its weight is reserved), then ask again.
    Probe,
    /// Another sender's probe is on its way: wait for its answer.
    AwaitProbe,
    /// The exchange's word is no room: learn its count again at this time (server
    /// clock, ms).
    Recount(i64),
    /// Over the budget: wait for the next minute.
    NextMinute,
}

impl Minute {
    /// Moves to `window`. A new minute starts from this run's own weight only. Its count
    /// is taken as known only when the others are known to have used nothing in the
    /// minute just ended; otherwise (they used weight, or a minute passed unseen) it must
    /// be learned again. A run's first minute is learned by its first, light requests.
    fn enter(&mut self, window: i64) {
        if window == self.window {
            return;
        }
        let first = self.window == 0;
        let others = self.used.saturating_sub(self.own);
        let next = window == self.window + 1;
        *self = Minute {
            window,
            learned: first || (next && others == 0),
            guess: if next { others } else { 0 },
            ..Minute::default()
        };
    }

    /// What a sender of `weight` does at `now_ms` (server clock), under `budget`.
    fn step(&mut self, now_ms: i64, weight: u32, budget: u32) -> Step {
        self.enter(now_ms.div_euclid(MINUTE_MS));
        if !self.learned {
            if self.probing {
                return Step::AwaitProbe;
            }
            self.probing = true;
            self.used += PROBE_WEIGHT;
            self.own += PROBE_WEIGHT;
            return Step::Probe;
        }
        // once the exchange has spoken this minute, a minute's recounts stay free
        let reserve = if self.heard_ms.is_some() {
            RECOUNT_RESERVE
        } else {
            0
        };
        if self.used + weight + reserve <= budget {
            self.used += weight;
            self.own += weight;
            return Step::Send;
        }
        // a recount's probe must fit too: only the first of a minute may pass the budget
        let recount = self.heard_ms.filter(|_| self.used + PROBE_WEIGHT <= budget);
        match recount {
            Some(at) if now_ms >= at + RECOUNT_MS => {
                self.learned = false;
                self.step(now_ms, weight, budget)
            }
            Some(at) => Step::Recount(at + RECOUNT_MS),
            None => Step::NextMinute,
        }
    }

    /// The exchange's count of the minute of `now_ms`, from any answer.
    fn observe(&mut self, now_ms: i64, used: u32) {
        if now_ms.div_euclid(MINUTE_MS) == self.window {
            self.used = self.used.max(used);
            self.learned = true;
            self.heard_ms = Some(now_ms);
        }
    }

    /// The probe sent at `now_ms` came back with the exchange's count, or with none (it
    /// failed): then the others are taken to use what they used in the minute before.
    fn probed(&mut self, now_ms: i64, used: Option<u32>) {
        if now_ms.div_euclid(MINUTE_MS) != self.window {
            return;
        }
        self.probing = false;
        self.learned = true;
        if used.is_some() {
            self.heard_ms = Some(now_ms);
        }
        // the exchange's latest word replaces the estimate (it may be lower: its minute
        // turned), never below what this run itself reserved
        self.used = used.map_or(self.used.max(self.own + self.guess), |count| {
            count.max(self.own)
        });
    }
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

    /// Aligns minute windows with the exchange's clock. The minute being counted keeps
    /// its count under its new number: learning the clock is not a new minute (else a run
    /// against a replayed past would probe on every start).
    pub fn set_server_time(&self, server_time_ms: i64) {
        let mut state = self.state.lock().expect("gate lock");
        let before = self.server_now_ms().div_euclid(MINUTE_MS);
        self.clock_offset_ms
            .store(server_time_ms - (self.local_ms)(), Ordering::Relaxed);
        if state.minute.window == before {
            state.minute.window = self.server_now_ms().div_euclid(MINUTE_MS);
        }
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
    /// `probe` sends the weight-1 request that learns a new minute's count and returns
    /// what the exchange reported (`None` when it did not answer).
    pub fn acquire(&self, weight: u32, probe: &dyn Fn() -> Option<u32>) -> Result<(), FetchError> {
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
                let budget = self.effective_budget();
                match state.minute.step(server_now, weight, budget) {
                    Step::Send => return Ok(()),
                    Step::Probe => {
                        drop(state);
                        let used = probe();
                        state = self.state.lock().expect("gate lock");
                        state.minute.probed(server_now, used);
                        self.changed.notify_all();
                        continue;
                    }
                    step => Self::wait_for(step, &state.minute, (now, server_now), weight, budget),
                }
            };
            if wake_at >= self.deadline {
                return Err(Self::too_late(wake_at - now, &what));
            }
            state.waiting = Some(what);
            state = self
                .changed
                .wait_timeout(state, wake_at - now)
                .expect("gate lock")
                .0;
            state.waiting = None;
        }
    }

    /// Until when a sender waits after `step`, and what for: `now` and `server_now` are
    /// the local instant and the server clock's ms.
    fn wait_for(
        step: Step,
        minute: &Minute,
        (now, server_now): (Instant, i64),
        weight: u32,
        budget: u32,
    ) -> (Instant, String) {
        let after = |ms: i64| now + Duration::from_millis(ms.max(0) as u64);
        // a little past the boundary, so both clocks agree the minute turned
        let at_next_minute =
            after((server_now.div_euclid(MINUTE_MS) + 1) * MINUTE_MS + 250 - server_now);
        let counts = format!("{} of {budget} used, {weight} more needed", minute.used);
        match step {
            Step::Recount(at) => (
                at_next_minute.min(after(at - server_now)),
                format!("room in the exchange's count ({counts})"),
            ),
            // woken by the probe's answer; looked at again soon in any case
            Step::AwaitProbe => (
                at_next_minute.min(now + PROBE_RECHECK),
                "the exchange's count of this minute's weight".to_owned(),
            ),
            Step::NextMinute | Step::Send | Step::Probe => (
                at_next_minute,
                format!("the next minute's request weight ({counts})"),
            ),
        }
    }

    /// What a sender is waiting for right now, if anything.
    pub fn waiting_for(&self) -> Option<String> {
        self.state.lock().expect("gate lock").waiting.clone()
    }

    /// Takes the exchange's count of this minute's weight into account.
    pub fn observe_used(&self, used: u32) {
        let now = self.server_now_ms();
        self.state
            .lock()
            .expect("gate lock")
            .minute
            .observe(now, used);
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
mod tests;
