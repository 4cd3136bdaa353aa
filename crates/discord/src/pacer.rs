//! The REST client's pacing: requests spaced evenly at the global rate.
//!
//! Hand-written rather than `governor`, by measurement (`cargo bench --bench pacer`,
//! figures in BENCHMARKS.md): governor's `until_ready` lets every waiter sleep
//! until the earliest free instant and check again, so with hundreds of drops
//! waiting at once all of them wake for each slot and all but one sleep again,
//! which costs CPU in proportion to the waiters; and it sleeps on its own timer,
//! which tokio's paused test clock does not drive. Here each request reserves its
//! slot by arithmetic and sleeps once, on tokio's timer.

use std::time::Duration;

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
}

/// How much arrival jitter the pacing leaves room for (see [`Pacer`]).
const JITTER_MARGIN: Duration = Duration::from_millis(20);

impl Pacer {
    pub fn new(per_second: u32) -> Self {
        Pacer {
            interval: (Duration::from_secs(1) + JITTER_MARGIN) / per_second.max(1),
            next: std::sync::Mutex::new(None),
        }
    }

    /// Takes the next slot: the instant this request may be sent.
    pub fn reserve(&self) -> tokio::time::Instant {
        let now = tokio::time::Instant::now();
        let mut next = self.next.lock().unwrap_or_else(|p| p.into_inner());
        let slot = next.map_or(now, |n| n.max(now));
        *next = Some(slot + self.interval);
        slot
    }

    pub async fn wait(&self) {
        tokio::time::sleep_until(self.reserve()).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let waiters: Vec<_> = (0..20)
            .map(|_| {
                let pacer = pacer.clone();
                tokio::spawn(async move {
                    pacer.wait().await;
                    tokio::time::Instant::now()
                })
            })
            .collect();
        let mut passed = Vec::new();
        for w in waiters {
            passed.push(w.await.unwrap());
        }
        passed.sort();
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
}
