//! A rate that several processes share through the database: each process takes
//! slots from one schedule (`store::paces`), a few at a time, and sends at them.
//! prepbot-discord's `Pacer` uses it on PostgreSQL, so the processes together stay
//! under `PREPBOT_DISCORD_RATE` (Discord counts its global limit per bot token, not
//! per process).
//!
//! Why slots from a shared schedule, and not the rate divided by the number of live
//! processes (the heartbeat rows): a division leaves an idle process's share unused
//! while another has a queue, and a process that joins runs at its share before the
//! others have read the new count (up to a heartbeat, 10 s), above the rate in sum
//! unless it waits that long first. Here a process holds only what it is about to
//! use, and the bound needs no count of processes.
//!
//! The bound: the schedule hands out slots at least one interval apart on the
//! database's clock, each to one process. A process converts a slot to its own
//! clock as `received + (slot - database now)`, where "database now" is read by the
//! statement that reserved it; so it never sends early, and late by at most that
//! statement's round trip (plus its timer's lateness, as for one process alone).
//! In sum the processes send exactly what one pacer would, each request shifted
//! later by at most a round trip: the pacer's 2% margin (20 ms in every second)
//! covers that as it covers network jitter. With PostgreSQL a millisecond away the
//! margin is barely touched; a reservation slower than [`SLOW_RESERVATION`] is
//! logged.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::time::Instant;
use tracing::warn;

use crate::store::{Store, StoreError, paces};

/// How much of the rate a process reserves in one round trip at most: 100 ms worth
/// (5 slots at 50/s). Larger batches cost fewer round trips but let one process hold
/// more of the schedule ahead of the others.
const BATCH_SPAN: Duration = Duration::from_millis(100);

/// A slot this far in the past is dropped, not used: its waiter went away (a
/// cancelled request) and sending at it now would be sending late.
const STALE_AFTER: Duration = Duration::from_millis(2);

/// A reservation whose round trip took longer than this is logged: it eats into the
/// pacer's margin for jitter (see the module docs).
pub const SLOW_RESERVATION: Duration = Duration::from_millis(10);

/// One process's end of a shared rate.
#[derive(Debug)]
pub struct SharedPace {
    store: Store,
    name: String,
    interval: Duration,
    /// Slots per reservation at most.
    batch: u32,
    slots: Mutex<Slots>,
    /// One reservation at a time per process: the callers waiting meanwhile share
    /// the batch it brings.
    refill: tokio::sync::Mutex<()>,
    /// Callers inside [`SharedPace::next_slot`] without a slot yet: how many slots
    /// the next reservation asks for.
    waiting: AtomicUsize,
}

#[derive(Debug, Default)]
struct Slots {
    /// Reserved and not yet handed out, earliest first, on this process's clock.
    free: VecDeque<Instant>,
    /// The last slot reserved.
    last: Option<Instant>,
}

/// Counts a caller as waiting until it has its slot or gives up (its future dropped).
struct Waiting<'a>(&'a AtomicUsize);

impl<'a> Waiting<'a> {
    fn enter(count: &'a AtomicUsize) -> Self {
        count.fetch_add(1, Ordering::Relaxed);
        Waiting(count)
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl SharedPace {
    /// The rate `name` on `store`'s database, one slot every `interval`. Every
    /// process sharing the rate should give the same interval.
    pub fn new(store: Store, name: &str, interval: Duration) -> Self {
        let interval = interval.max(Duration::from_micros(1));
        let batch = (BATCH_SPAN.as_micros() / interval.as_micros()).clamp(1, 10_000) as u32;
        SharedPace {
            store,
            name: name.to_string(),
            interval,
            batch,
            slots: Mutex::new(Slots::default()),
            refill: tokio::sync::Mutex::new(()),
            waiting: AtomicUsize::new(0),
        }
    }

    /// The instant this caller may send: a slot of the shared schedule, converted
    /// to this process's clock. Waits only for a reservation (one round trip), and
    /// while this process already holds a batch's worth ahead.
    pub async fn next_slot(&self) -> Result<Instant, StoreError> {
        let _waiting = Waiting::enter(&self.waiting);
        loop {
            if let Some(slot) = self.take() {
                return Ok(slot);
            }
            let _refill = self.refill.lock().await;
            if let Some(slot) = self.take() {
                return Ok(slot);
            }
            // Hold at most one batch beyond the slots already handed out: a process
            // with a long queue reserves again only as its last batch runs down, so
            // another process's reservation can come in between.
            let last = self.slots.lock().unwrap_or_else(|e| e.into_inner()).last;
            if let Some(ahead) = last.and_then(|l| l.checked_sub(self.interval * self.batch))
                && ahead > Instant::now()
            {
                tokio::time::sleep_until(ahead).await;
            }
            let count = self
                .waiting
                .load(Ordering::Relaxed)
                .clamp(1, self.batch as usize) as u32;
            self.reserve(count).await?;
        }
    }

    /// Hands out the earliest free slot, dropping any gone stale.
    fn take(&self) -> Option<Instant> {
        let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        let stale_before = now.checked_sub(STALE_AFTER).unwrap_or(now);
        while slots.free.front().is_some_and(|&s| s < stale_before) {
            slots.free.pop_front();
        }
        slots.free.pop_front()
    }

    async fn reserve(&self, count: u32) -> Result<(), StoreError> {
        let mut conn = self.store.autocommit().await?;
        let sent = Instant::now();
        let reserved = paces::reserve(&mut conn, &self.name, count, self.interval).await?;
        drop(conn);
        let received = Instant::now();
        let round_trip = received - sent;
        if round_trip > SLOW_RESERVATION {
            warn!(
                rate = %self.name,
                round_trip_ms = round_trip.as_millis() as u64,
                "a shared rate's reservation was slow; requests go out late by as much"
            );
        }
        // Never early: the database read its clock before `received`.
        let wait = u64::try_from(reserved.first_us - reserved.now_us).unwrap_or(0);
        let first = received + Duration::from_micros(wait);
        let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        for i in 0..count {
            slots.free.push_back(first + self.interval * i);
        }
        slots.last = Some(first + self.interval * (count - 1));
        Ok(())
    }
}
