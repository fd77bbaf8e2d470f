//! Unit and property tests of the weight gate.

use super::*;
use std::sync::atomic::{AtomicI64, Ordering};

/// A deadline no passing test reaches; a gate that waits on a stopped clock (which
/// never turns a minute) fails at it instead of hanging the suite.
fn far() -> Instant {
    Instant::now() + Duration::from_secs(20)
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
        gate.acquire(2, &no_probe).unwrap();
    }
    assert_eq!(gate.state.lock().unwrap().minute.used, 100);
}

#[test]
fn over_budget_waits_for_the_next_minute_or_fails_at_the_deadline() {
    let gate = gate(10, Instant::now() + Duration::from_millis(200));
    gate.acquire(10, &no_probe).unwrap();
    let started = Instant::now();
    let Err(FetchError::Deadline(why)) = gate.acquire(1, &no_probe) else {
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
    gate.acquire(1, &no_probe).unwrap();
    gate.observe_used(80);
    // a minute's recounts stay free once the exchange has spoken
    gate.acquire(8, &no_probe).unwrap();
    assert_eq!(
        gate.state.lock().unwrap().minute.used,
        100 - RECOUNT_RESERVE
    );
}

/// A probe that must not be sent: the tests on one stopped minute never need one.
fn no_probe() -> Option<u32> {
    panic!("no probe expected")
}

#[test]
fn a_new_minute_learns_the_others_weight_again_instead_of_assuming_it() {
    // a fake clock that moves a minute when told to
    static MINUTE: AtomicI64 = AtomicI64::new(0);
    fn moving_clock() -> i64 {
        stopped_clock() + MINUTE.load(Ordering::Relaxed) * MINUTE_MS
    }
    let gate = WeightGate::with_clock(100, far(), moving_clock);
    gate.acquire(10, &no_probe).unwrap();
    gate.observe_used(95); // others sent 85 this minute: nothing more fits
    MINUTE.store(1, Ordering::Relaxed);
    // the exchange says the others are quiet now: the 50 go at once, after one probe
    let probes = std::cell::Cell::new(0);
    let started = Instant::now();
    gate.acquire(50, &|| {
        probes.set(probes.get() + 1);
        Some(1)
    })
    .unwrap();
    assert!(started.elapsed() < Duration::from_millis(100), "no wait");
    assert_eq!(probes.get(), 1);
    assert_eq!(
        gate.state.lock().unwrap().minute.used,
        51,
        "the probe and ours"
    );
    gate.acquire(100 - 51 - RECOUNT_RESERVE, &no_probe).unwrap();
    // the others still load the exchange: a failed probe falls back to their last minute
    gate.observe_used(100);
    MINUTE.store(2, Ordering::Relaxed);
    let quick = WeightGate::with_clock(
        100,
        Instant::now() + Duration::from_millis(200),
        moving_clock,
    );
    quick.acquire(10, &no_probe).unwrap();
    quick.observe_used(99);
    MINUTE.store(3, Ordering::Relaxed);
    assert!(
        matches!(quick.acquire(11, &|| None), Err(FetchError::Deadline(_))),
        "89 assumed from the others, plus the probe and 11: over the budget"
    );
    // a minute passed unseen: nothing is assumed, the count is learned again
    MINUTE.store(5, Ordering::Relaxed);
    gate.acquire(1, &|| Some(7)).unwrap();
    assert_eq!(gate.state.lock().unwrap().minute.used, 8);
}

#[test]
fn no_room_in_the_exchanges_word_is_counted_again_five_seconds_on() {
    // not a minute on: the exchange's minute need not turn when ours does
    let mut minute = Minute::default();
    let t0 = 28_000_000 * MINUTE_MS;
    minute.step(t0, 10, 100);
    minute.observe(t0, 95);
    let t1 = t0 + MINUTE_MS;
    assert_eq!(minute.step(t1, 50, 100), Step::Probe);
    minute.probed(t1, Some(96));
    assert_eq!(
        minute.step(t1 + 1000, 50, 100),
        Step::Recount(t1 + RECOUNT_MS)
    );
    assert_eq!(minute.step(t1 + RECOUNT_MS, 50, 100), Step::Probe);
    minute.probed(t1 + RECOUNT_MS, Some(2));
    assert_eq!(minute.step(t1 + RECOUNT_MS, 50, 100), Step::Send);
    // a recount's probe must fit the budget too
    let t2 = t1 + MINUTE_MS;
    minute.step(t2, 0, 100);
    minute.observe(t2, 100);
    assert_eq!(minute.step(t2 + RECOUNT_MS, 1, 100), Step::NextMinute);
}

proptest::proptest! {
    /// Over arrival patterns (the others' weight at each minute's start, our requests):
    /// - the gate never takes the exchange's count over the budget once it has the
    ///   exchange's word for the minute (but for the one probe in a minute the others
    ///   alone filled). Before that word, only in a minute that follows one in which the
    ///   others used nothing, one request goes without it (nothing can know of a load
    ///   that has just appeared; the budget's margin below the exchange's limit is for
    ///   that);
    /// - it never waits past the start of a minute in which the exchange has room for the
    ///   request and the weight kept free for recounts.
    #[test]
    fn the_gate_keeps_the_budget_and_never_waits_with_room(
        budget in 20u32..300,
        minutes in proptest::collection::vec((0u32..320, proptest::collection::vec(1u32..40, 0..30)), 1..10),
    ) {
        let mut gate = Minute::default();
        let mut queue: std::collections::VecDeque<u32> = std::collections::VecDeque::new();
        for (m, (others, arriving)) in minutes.iter().enumerate() {
            let window = 28_000_000 + m as i64;
            let now = window * MINUTE_MS;
            queue.extend(arriving);
            // the others send at the minute's start; the exchange counts everything
            let mut exchange = *others;
            let mut ceiling = budget.max(others + PROBE_WEIGHT);
            let mut reported = m == 0;
            if m == 0 {
                // a run's first light round (time and exchangeInfo) reports the count
                // before anything heavy is sent
                gate.step(now, 0, budget);
                gate.observe(now, exchange);
            }
            while let Some(&weight) = queue.front() {
                match gate.step(now, weight, budget) {
                    Step::Send => {
                        exchange += weight;
                        if !reported {
                            ceiling = ceiling.max(exchange);
                        }
                        reported = true;
                        gate.observe(now, exchange);
                        queue.pop_front();
                    }
                    Step::Probe => {
                        exchange += PROBE_WEIGHT;
                        reported = true;
                        gate.probed(now, Some(exchange));
                    }
                    Step::AwaitProbe => proptest::prop_assert!(false, "one sender awaits its own probe"),
                    // time stands still in this model: a recount is a wait
                    Step::NextMinute | Step::Recount(_) => {
                        proptest::prop_assert!(
                            exchange + weight + RECOUNT_RESERVE > budget,
                            "minute {m}: waited with room ({exchange} used, {weight} of {budget})"
                        );
                        break;
                    }
                }
                proptest::prop_assert!(
                    exchange <= ceiling,
                    "minute {m}: {exchange} of {budget} with the others at {others}"
                );
            }
        }
    }
}

#[test]
fn the_exchanges_stated_limit_caps_the_budget() {
    let gate = gate(2400, Instant::now() + Duration::from_millis(100));
    assert_eq!(gate.effective_budget(), 2400);
    gate.set_stated_limit(500);
    assert_eq!(gate.effective_budget(), 500);
    gate.acquire(1, &no_probe).unwrap();
    gate.observe_used(480);
    gate.acquire(500 - 480 - RECOUNT_RESERVE, &no_probe)
        .unwrap();
    assert!(matches!(
        gate.acquire(1, &no_probe),
        Err(FetchError::Deadline(_))
    ));
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
    gate.acquire(1, &no_probe).unwrap();
    assert!(started.elapsed() >= Duration::from_millis(290));
}

#[test]
fn a_ban_fails_every_later_request() {
    let gate = gate(1000, far());
    gate.ban(FetchError::Banned {
        url: "u".into(),
        retry_after_s: Some(120),
    });
    assert!(matches!(
        gate.acquire(1, &no_probe),
        Err(FetchError::Banned { .. })
    ));
    assert!(matches!(
        gate.sleep(Duration::from_millis(1)),
        Err(FetchError::Banned { .. })
    ));
}
