//! `paces`: rates that several processes share, kept as a schedule of slots on the
//! database's clock (`crate::pace`). A row holds the next free slot of one rate,
//! in microseconds on the database's clock; a process reserves a few consecutive
//! slots at a time, and no two reservations overlap, so the slots of all the
//! processes together are as far apart as one process's would be.

use std::time::Duration;

use super::Result;
use super::backend::{Conn, greatest, now_micros, on};

/// Slots reserved in one go, on the database's clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reserved {
    /// The first slot, in microseconds since the epoch; the others follow one
    /// interval apart.
    pub first_us: i64,
    /// The database's clock when it reserved them (the statement's start): a
    /// process turns a slot into its own time as `received + (slot - now_us)`.
    pub now_us: i64,
}

/// Reserves `count` consecutive slots `interval` apart of the rate `name`, the first
/// at the row's next free slot or at the database's now, whichever is later (so
/// slots are never saved up while nobody used them).
///
/// One statement, atomic by itself, run outside any transaction and without the
/// store's write lock, so a paced request never waits for a write: PostgreSQL locks
/// the row for the update, and a second reservation waiting on that lock works from
/// the first's result (READ COMMITTED re-reads an updated row), so two reservations
/// never overlap. On SQLite the statement holds the database's one write lock.
pub async fn reserve(
    conn: &mut Conn,
    name: &str,
    count: u32,
    interval: Duration,
) -> Result<Reserved> {
    let span = i64::try_from(interval.as_micros())
        .unwrap_or(i64::MAX)
        .saturating_mul(i64::from(count.max(1)));
    on!(conn, conn => {
        let now = now_micros(&*conn);
        let sql = format!(
            "INSERT INTO paces (name, next_us) VALUES ($1, {now} + $2) \
             ON CONFLICT (name) DO UPDATE SET next_us = {greatest}(paces.next_us, {now}) + $2 \
             RETURNING next_us, {now}",
            greatest = greatest(&*conn),
        );
        let (next_us, now_us): (i64, i64) = sqlx::query_as(&sql)
            .bind(name)
            .bind(span)
            .fetch_one(conn)
            .await?;
        Ok(Reserved {
            first_us: next_us - span,
            now_us,
        })
    })
}
