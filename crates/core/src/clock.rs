//! Time as the running bot sees it. The engine never reads a clock; the scheduler
//! loop and the adapters ask a [`Clock`], so tests can drive time with a
//! [`ManualClock`] while production uses the [`SystemClock`].

use std::future::Future;
use std::pin::Pin;

use chrono::{DateTime, Utc};
use tokio::sync::watch;

pub type Sleep<'a> = Pin<Box<dyn Future<Output = ()> + Send + 'a>>;

pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> DateTime<Utc>;
    /// Resolves once this clock reads `t` or later.
    fn sleep_until(&self, t: DateTime<Utc>) -> Sleep<'_>;
}

/// The wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }

    fn sleep_until(&self, t: DateTime<Utc>) -> Sleep<'_> {
        Box::pin(sleep_until_by(Utc::now, t))
    }
}

/// The longest real sleep between two looks at a wall clock.
pub const WALL_SLICE: std::time::Duration = std::time::Duration::from_secs(60);

/// Sleeps (really, on tokio's timer) until `now()` reads `t` or later. It sleeps in
/// slices of at most [`WALL_SLICE`] and looks at `now()` again after each: a
/// suspended machine or a stepped clock must not make a drop late by hours.
/// [`SystemClock`] uses it with the wall clock; a shifted wall clock can too.
pub async fn sleep_until_by(now: impl Fn() -> DateTime<Utc>, t: DateTime<Utc>) {
    while let Ok(left) = (t - now()).to_std() {
        if left.is_zero() {
            break;
        }
        tokio::time::sleep(left.min(WALL_SLICE)).await;
    }
}

/// A clock the caller moves: tests and the demo. Sleepers wake when it is set at or
/// past their instant.
#[derive(Debug)]
pub struct ManualClock {
    now: watch::Sender<DateTime<Utc>>,
}

impl ManualClock {
    pub fn new(start: DateTime<Utc>) -> Self {
        ManualClock {
            now: watch::Sender::new(start),
        }
    }

    pub fn set(&self, t: DateTime<Utc>) {
        self.now.send_replace(t);
    }

    pub fn advance(&self, by: chrono::Duration) {
        self.now.send_modify(|now| *now += by);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.now.borrow()
    }

    fn sleep_until(&self, t: DateTime<Utc>) -> Sleep<'_> {
        let mut rx = self.now.subscribe();
        Box::pin(async move {
            // The sender lives in `self`, which outlives this future: wait_for only
            // fails if it is dropped, and then there is nothing left to wait for.
            let _ = rx.wait_for(|now| *now >= t).await;
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_manual_sleeper_wakes_only_when_the_clock_reaches_its_instant() {
        let start = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let clock = std::sync::Arc::new(ManualClock::new(start));
        let target = start + chrono::Duration::hours(1);
        let sleeper = {
            let clock = clock.clone();
            tokio::spawn(async move { clock.sleep_until(target).await })
        };
        clock.advance(chrono::Duration::minutes(59));
        tokio::task::yield_now().await;
        assert!(!sleeper.is_finished());
        clock.set(target);
        tokio::time::timeout(std::time::Duration::from_secs(5), sleeper)
            .await
            .expect("woke")
            .unwrap();
        assert_eq!(clock.now(), target);
    }

    #[tokio::test]
    async fn the_system_clock_sleeps_until_a_near_instant() {
        let t = Utc::now() + chrono::Duration::milliseconds(50);
        SystemClock.sleep_until(t).await;
        assert!(Utc::now() >= t);
        // An instant in the past returns at once.
        SystemClock
            .sleep_until(Utc::now() - chrono::Duration::hours(1))
            .await;
    }
}
