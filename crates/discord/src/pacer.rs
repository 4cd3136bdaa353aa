//! The REST client's pacing: requests spaced evenly at the global rate.
//!
//! Discord counts its global limit (`PREPBOT_DISCORD_RATE`, 50 requests/s by
//! default) per bot token, not per process. One process (SQLite) spaces its own
//! requests ([`Pacer::new`]); processes sharing a PostgreSQL database take their
//! slots from one schedule in the database instead ([`Pacer::shared`], the core's
//! `pace::SharedPace`, which says why that design and what bounds it), so together
//! they send at the rate one process would.
//!
//! Hand-written rather than `governor`, by measurement (`cargo bench --bench pacer`,
//! figures in BENCHMARKS.md): governor's `until_ready` lets every waiter sleep
//! until the earliest free instant and check again, so with hundreds of drops
//! waiting at once all of them wake for each slot and all but one sleep again,
//! which costs CPU in proportion to the waiters; and it sleeps on its own timer,
//! which tokio's paused test clock does not drive. Here each request reserves its
//! slot by arithmetic and sleeps once, on tokio's timer.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use prepbot_core::pace::SharedPace;
use prepbot_core::store::Store;
use tracing::{debug, info, warn};

/// Spaces requests evenly at a steady rate: each request takes the next free slot,
/// one interval after the one before (a token bucket holding a single token).
/// Slots are never saved up while the client is idle, so a burst after a quiet
/// spell still goes out at the rate, never above it. Slots are reserved by
/// arithmetic, not by when a sleeping task wakes, so the rate holds on average even
/// when the timer is coarser than the interval (10,000 requests/s is 0.1 ms apart).
///
/// The interval is `(1 s + JITTER_MARGIN) / rate`: N requests in every 1.02 s
/// rather than in every second. Discord counts requests in a one-second window as
/// they arrive; with slots exactly 1/N apart, any request arriving a little later
/// than the one N slots after it (a late timer, a busy core, the network) would put
/// N + 1 in a window and draw a 429 that stops every request. The margin absorbs up
/// to 20 ms of such jitter for 2% of the rate.
#[derive(Debug)]
pub struct Pacer {
    interval: Duration,
    next: std::sync::Mutex<Option<tokio::time::Instant>>,
    /// On PostgreSQL, the schedule every process takes its slots from; `next` then
    /// serves only while the database cannot be reached (see [`Pacer::wait`]).
    shared: Option<SharedPace>,
    /// Whether the last request went without the shared schedule (logged once).
    alone: AtomicBool,
}

/// How much arrival jitter the pacing leaves room for (see [`Pacer`]).
const JITTER_MARGIN: Duration = Duration::from_millis(20);

/// The name of the REST rate's schedule in the database (`paces`).
const SHARED_RATE: &str = "discord-rest";

/// While the shared schedule cannot be reached, a process paces itself at this
/// fraction of the rate: it cannot know what the others send, and a quarter keeps
/// up to four processes under the limit should they all lose the database at once
/// (the REST client's 429 handling covers the rest).
const ALONE_SHARE: u32 = 4;

impl Pacer {
    /// Pacing for one process: `per_second` requests per second.
    pub fn new(per_second: u32) -> Self {
        Pacer {
            interval: interval(per_second),
            next: std::sync::Mutex::new(None),
            shared: None,
            alone: AtomicBool::new(false),
        }
    }

    /// Pacing shared by every process on `store`'s database: `per_second` requests
    /// per second between them. Every process should be given the same rate.
    pub fn shared(store: Store, per_second: u32) -> Self {
        let interval = interval(per_second);
        Pacer {
            interval: interval * ALONE_SHARE,
            next: std::sync::Mutex::new(None),
            shared: Some(SharedPace::new(store, SHARED_RATE, interval)),
            alone: AtomicBool::new(false),
        }
    }

    /// Shared on PostgreSQL (other processes may use the same token), for this
    /// process alone on SQLite.
    pub fn for_store(store: &Store, per_second: u32) -> Self {
        if store.is_postgres() {
            Self::shared(store.clone(), per_second)
        } else {
            Self::new(per_second)
        }
    }

    /// Takes the next slot of this process's own spacing: the instant this request
    /// may be sent.
    pub fn reserve(&self) -> tokio::time::Instant {
        let now = tokio::time::Instant::now();
        let mut next = self.next.lock().unwrap_or_else(|p| p.into_inner());
        let slot = next.map_or(now, |n| n.max(now));
        *next = Some(slot + self.interval);
        slot
    }

    /// Waits for this request's slot. With a shared schedule that the database
    /// cannot give (it is down, say), the request goes at this process's own
    /// spacing at [`ALONE_SHARE`] of the rate instead of failing.
    ///
    /// A request that wakes later than [`JITTER_MARGIN`] after its slot takes a
    /// new one: the process was stalled (SIGSTOP, a paused VM, a starved runtime),
    /// and every request that slept through the stall would otherwise go at once,
    /// on top of the slots the other processes (or this one's later requests) took
    /// meanwhile. Lateness within the margin is what the margin is for.
    pub async fn wait(&self) {
        loop {
            let slot = self.next_slot().await;
            tokio::time::sleep_until(slot).await;
            let late = tokio::time::Instant::now().saturating_duration_since(slot);
            if late <= JITTER_MARGIN {
                return;
            }
            debug!(
                late_ms = late.as_millis() as u64,
                "a request woke long after its REST slot; taking a new one"
            );
        }
    }

    async fn next_slot(&self) -> tokio::time::Instant {
        match &self.shared {
            None => self.reserve(),
            Some(shared) => match shared.next_slot().await {
                Ok(slot) => {
                    if self.alone.swap(false, Ordering::Relaxed) {
                        info!("the shared REST rate is reachable again");
                    }
                    slot
                }
                Err(error) => {
                    if !self.alone.swap(true, Ordering::Relaxed) {
                        warn!(%error, share = ALONE_SHARE, "the shared REST rate is unreachable; pacing this process alone at a fraction of the rate");
                    }
                    self.reserve()
                }
            },
        }
    }
}

/// The spacing for `per_second` requests per second, with the jitter margin.
fn interval(per_second: u32) -> Duration {
    (Duration::from_secs(1) + JITTER_MARGIN) / per_second.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `n` requests waiting on `pacer` at once; each says when it was let go.
    fn waiting(
        pacer: &std::sync::Arc<Pacer>,
        n: usize,
    ) -> Vec<tokio::task::JoinHandle<tokio::time::Instant>> {
        (0..n)
            .map(|_| {
                let pacer = pacer.clone();
                tokio::spawn(async move {
                    pacer.wait().await;
                    tokio::time::Instant::now()
                })
            })
            .collect()
    }

    /// When each waiter was let go, earliest first.
    async fn passing(
        waiters: Vec<tokio::task::JoinHandle<tokio::time::Instant>>,
    ) -> Vec<tokio::time::Instant> {
        let mut passed = Vec::new();
        for w in waiters {
            passed.push(w.await.unwrap());
        }
        passed.sort();
        passed
    }

    #[tokio::test(start_paused = true)]
    async fn the_pacer_hands_out_evenly_spaced_slots_and_saves_none_while_idle() {
        // 10 per second: one slot every 102 ms (1.02 s / 10).
        let pacer = Pacer::new(10);
        let step = Duration::from_millis(102);
        let t0 = tokio::time::Instant::now();
        let slots: Vec<_> = (0..5).map(|_| pacer.reserve()).collect();
        let expected: Vec<_> = (0..5u32).map(|i| t0 + step * i).collect();
        assert_eq!(slots, expected, "a burst is spread out from now");

        // Twenty waiting at once pass exactly one interval apart.
        let pacer = std::sync::Arc::new(Pacer::new(10));
        let start = tokio::time::Instant::now();
        let passed = passing(waiting(&pacer, 20)).await;
        for (i, at) in passed.iter().enumerate() {
            assert_eq!(*at - start, step * i as u32, "waiter {i}");
        }

        // A quiet spell saves nothing: the next request goes at once, the one after
        // it a full interval later, not in a catch-up burst.
        tokio::time::sleep(Duration::from_secs(5)).await;
        let t1 = tokio::time::Instant::now();
        assert_eq!(pacer.reserve(), t1);
        assert_eq!(pacer.reserve(), t1 + step);

        // Rates finer than the timer hold by arithmetic: 10,000 per second is 102 µs
        // apart, so 1,001 slots span 102 ms, whatever the timer's resolution.
        let fast = Pacer::new(10_000);
        let first = fast.reserve();
        let last = (0..1_000).map(|_| fast.reserve()).last().unwrap();
        assert_eq!(last - first, Duration::from_micros(102_000));

        // A rate of 0 cannot be configured; the pacer treats it as 1 per second.
        assert_eq!(Pacer::new(0).interval, Duration::from_millis(1_020));
    }

    #[tokio::test(start_paused = true)]
    async fn requests_that_slept_through_a_stall_take_new_slots_not_a_burst() {
        // 10 per second: one slot every 102 ms. Five requests take their slots
        // (now, +102 ms, ... +408 ms) and sleep; the process stalls for 5 s.
        let step = Duration::from_millis(102);
        let pacer = std::sync::Arc::new(Pacer::new(10));
        let waiters = waiting(&pacer, 5);
        for _ in 0..5 {
            tokio::task::yield_now().await;
        }
        let stalled = tokio::time::Instant::now();
        tokio::time::advance(Duration::from_secs(5)).await;
        let resumed = stalled + Duration::from_secs(5);
        let passed = passing(waiters).await;
        // The first slot was due at once and went before the stall; the other four
        // go at the rate from the resumption, not at once. (Without the check, each
        // went the instant it woke: four at `resumed`.)
        assert_eq!(passed[0], stalled);
        for (i, at) in passed[1..].iter().enumerate() {
            assert_eq!(*at, resumed + step * i as u32, "request {}", i + 1);
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_second_never_holds_more_requests_than_the_rate() {
        // Slots at the rate: any one-second window holds at most `rate` of them,
        // even with a slot on each edge of the window.
        for rate in [1u32, 3, 50, 500, 10_000] {
            let pacer = Pacer::new(rate);
            let slots: Vec<_> = (0..(rate as usize * 3 + 1))
                .map(|_| pacer.reserve())
                .collect();
            let window = Duration::from_secs(1);
            // The most slots in a closed window starting at any slot.
            let mut most = 0;
            let mut end = 0;
            for start in 0..slots.len() {
                while end < slots.len() && slots[end] - slots[start] <= window {
                    end += 1;
                }
                most = most.max(end - start);
            }
            assert!(most <= rate as usize, "{most} in a second at {rate}/s");
            assert!(
                most as f64 >= f64::from(rate) * 0.97,
                "{most} in a second at {rate}/s is too slow"
            );
        }
    }

    /// One "process" flooding the REST rate for `run_for`: its own runtime on a
    /// thread of its own, its own store (connections) on the database at `url`, and
    /// as many requests waiting at once as the REST client lets in flight. Returns
    /// the instant each request was let go.
    fn flood(
        url: String,
        rate: u32,
        run_for: Duration,
        start: std::sync::Arc<std::sync::Barrier>,
    ) -> std::thread::JoinHandle<Vec<std::time::Instant>> {
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let store = Store::open_url(&url).await.unwrap();
                let pacer = std::sync::Arc::new(Pacer::for_store(&store, rate));
                assert!(pacer.shared.is_some(), "shared on PostgreSQL");
                start.wait();
                let until = std::time::Instant::now() + run_for;
                let senders: Vec<_> = (0..crate::rest::REST_CONNECTIONS)
                    .map(|_| {
                        let pacer = pacer.clone();
                        tokio::spawn(async move {
                            let mut sent = Vec::new();
                            loop {
                                pacer.wait().await;
                                let now = std::time::Instant::now();
                                if now >= until {
                                    return sent;
                                }
                                sent.push(now);
                            }
                        })
                    })
                    .collect();
                let mut sent = Vec::new();
                for s in senders {
                    sent.extend(s.await.unwrap());
                }
                store.close().await;
                sent.sort();
                sent
            })
        })
    }

    /// The most requests let go in any one-second window (closed at both ends).
    fn most_in_a_second(sent: &[std::time::Instant]) -> usize {
        let mut most = 0;
        let mut end = 0;
        for start in 0..sent.len() {
            while end < sent.len() && sent[end] - sent[start] <= Duration::from_secs(1) {
                end += 1;
            }
            most = most.max(end - start);
        }
        most
    }

    /// Discord's rate is per bot token: two processes on one PostgreSQL database,
    /// each sending as fast as its pacer lets it, stay under it together (in every
    /// one-second window, not only on average), each gets about half, and one
    /// process alone still reaches the rate. Real time, real database: the slots
    /// come from the `paces` row.
    #[test]
    fn processes_sharing_a_database_stay_under_the_rate_together_and_share_it_fairly() {
        const RATE: u32 = 50;
        let url = tokio::runtime::Runtime::new()
            .unwrap()
            .block_on(prepbot_testkit::postgres::fresh_database());
        let Some(url) = url else {
            return;
        };

        let run_for = Duration::from_secs(3);
        let start = std::sync::Arc::new(std::sync::Barrier::new(1));
        let alone = flood(url.clone(), RATE, run_for, start).join().unwrap();
        let expected = f64::from(RATE) * run_for.as_secs_f64();
        eprintln!(
            "alone: {} requests in {run_for:?} ({:.1}% of {RATE}/s), at most {} in a second",
            alone.len(),
            100.0 * alone.len() as f64 / expected,
            most_in_a_second(&alone)
        );
        assert!(most_in_a_second(&alone) <= RATE as usize);
        assert!(
            alone.len() as f64 >= 0.9 * expected,
            "one process alone sent {} of {expected}",
            alone.len()
        );

        let run_for = Duration::from_secs(4);
        let start = std::sync::Arc::new(std::sync::Barrier::new(2));
        let a = flood(url.clone(), RATE, run_for, start.clone());
        let b = flood(url, RATE, run_for, start);
        let (a, b) = (a.join().unwrap(), b.join().unwrap());
        let mut both: Vec<_> = a.iter().chain(&b).copied().collect();
        both.sort();
        let expected = f64::from(RATE) * run_for.as_secs_f64();
        let most = most_in_a_second(&both);
        eprintln!(
            "together: {} + {} = {} requests in {run_for:?} ({:.1}% of {RATE}/s), at most {most} in a second",
            a.len(),
            b.len(),
            both.len(),
            100.0 * both.len() as f64 / expected
        );
        assert!(most <= RATE as usize, "{most} in one second at {RATE}/s");
        assert!(
            both.len() as f64 <= expected,
            "{} in {run_for:?} at {RATE}/s",
            both.len()
        );
        assert!(
            both.len() as f64 >= 0.9 * expected,
            "together only {} of {expected}",
            both.len()
        );
        for (name, one) in [("first", &a), ("second", &b)] {
            assert!(
                one.len() as f64 >= 0.4 * both.len() as f64,
                "the {name} process sent {} of {}: not a fair share",
                one.len(),
                both.len()
            );
        }
    }
}
