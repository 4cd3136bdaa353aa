//! `command_uses`: the per-member command budget when several processes share the
//! database (`crate::command_budget`'s shared kind). One row per charged command:
//! a member, the adapter's id of the invocation, and when it was charged, in
//! epoch milliseconds (the budget's waits are told to the millisecond).
//!
//! A check reads the member's uses inside the window and may insert one: a
//! read-modify-write. What protects it is the member's own lock
//! ([`super::Store::write_member_budget`]), not the store's one write lock: only
//! a charge of the same member reads or writes that member's rows, so charges of
//! one member run one at a time across processes, and a command check never
//! queues behind an answer batch or a drop's claim. On PostgreSQL the whole check
//! is one call of `prepbot_charge_command` (migration postgres 0009), which takes
//! the same lock: [`super::Store::charge_command`]; the functions here
//! are SQLite's steps and the sweep. `tests/it/budget.rs` charges one member from
//! two stores at once on both backends.

use chrono::{DateTime, Utc};

use super::Result;
use super::backend::{Conn, on};
use super::ids::{epoch_ms, from_db, instant_ms, to_db};
use crate::chat::Platform;

/// The member's uses charged after `since` (and any in the future, if a clock
/// was stepped back), as (when, invocation). Run inside
/// [`super::Store::write_member_budget`] for this member.
pub async fn recent(
    conn: &mut Conn,
    platform: Platform,
    member: &str,
    since: DateTime<Utc>,
) -> Result<Vec<(DateTime<Utc>, u64)>> {
    on!(conn, conn => {
        let rows: Vec<(i64, i64)> = sqlx::query_as(
            "SELECT at_ms, invocation FROM command_uses \
             WHERE platform = $1 AND member_id = $2 AND at_ms > $3",
        )
        .bind(platform.as_str())
        .bind(member)
        .bind(epoch_ms(since))
        .fetch_all(conn)
        .await?;
        rows.into_iter()
            .map(|(at, invocation)| Ok((instant_ms(at)?, from_db(invocation))))
            .collect()
    })
}

/// Charges `invocation` to the member at `at`. An invocation charged before and
/// since swept out of the window is charged again, as the in-memory log does.
pub async fn record(
    conn: &mut Conn,
    platform: Platform,
    member: &str,
    invocation: u64,
    at: DateTime<Utc>,
) -> Result<()> {
    on!(conn, conn => {
        sqlx::query(
            "INSERT INTO command_uses (platform, member_id, invocation, at_ms) \
             VALUES ($1, $2, $3, $4) \
             ON CONFLICT (platform, member_id, invocation) \
             DO UPDATE SET at_ms = excluded.at_ms",
        )
        .bind(platform.as_str())
        .bind(member)
        .bind(to_db(invocation))
        .bind(epoch_ms(at))
        .execute(conn)
        .await?;
        Ok(())
    })
}

/// Moves the member's uses charged after `now` back to `now` (the clock was
/// stepped back): such a step then locks nobody out for more than one window.
pub async fn bring_forward(
    conn: &mut Conn,
    platform: Platform,
    member: &str,
    now: DateTime<Utc>,
) -> Result<()> {
    on!(conn, conn => {
        sqlx::query(
            "UPDATE command_uses SET at_ms = $3 \
             WHERE platform = $1 AND member_id = $2 AND at_ms > $3",
        )
        .bind(platform.as_str())
        .bind(member)
        .bind(epoch_ms(now))
        .execute(conn)
        .await?;
        Ok(())
    })
}

/// Deletes every use charged at or before `before`, whoever's; returns how many.
/// Without a member's lock: callers pass an instant well before any window still
/// in use (two windows back), so no check can be counting those rows.
pub async fn sweep(conn: &mut Conn, before: DateTime<Utc>) -> Result<u64> {
    on!(conn, conn => {
        let done = sqlx::query("DELETE FROM command_uses WHERE at_ms <= $1")
            .bind(epoch_ms(before))
            .execute(conn)
            .await?;
        Ok(done.rows_affected())
    })
}

/// How many uses are stored, all members together.
pub async fn count(conn: &mut Conn) -> Result<u64> {
    on!(conn, conn => {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM command_uses")
            .fetch_one(conn)
            .await?;
        Ok(u64::try_from(n).unwrap_or(0))
    })
}
