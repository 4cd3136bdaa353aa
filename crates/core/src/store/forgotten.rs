//! The `forgotten_members` table: who asked to be forgotten in which channel, and
//! when. Answers are deleted when a member is forgotten; this row is what keeps
//! catching up (which lists a thread again after a restart) from storing those
//! same messages a second time.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use super::Result;
use super::backend::{Conn, on};
use super::ids::{epoch, instant};

/// Records that a member was forgotten in a channel at `at` (a later forget moves
/// the instant on; an earlier one never moves it back).
pub async fn record(
    conn: &mut Conn,
    channel_id: i64,
    member_id: &str,
    at: DateTime<Utc>,
) -> Result<()> {
    // Stored in whole seconds, rounded up: a message posted earlier in the same
    // second as the forget (Slack's timestamps carry microseconds) must still count
    // as forgotten, or catching up would store it again.
    let at = epoch(at) + i64::from(at.timestamp_subsec_nanos() > 0);
    on!(conn, conn => {
        sqlx::query(
            "INSERT INTO forgotten_members (channel_id, member_id, forgotten_at) VALUES ($1, $2, $3) \
             ON CONFLICT (channel_id, member_id) DO UPDATE SET \
                 forgotten_at = CASE WHEN excluded.forgotten_at > forgotten_members.forgotten_at \
                     THEN excluded.forgotten_at ELSE forgotten_members.forgotten_at END",
        )
        .bind(channel_id)
        .bind(member_id)
        .bind(at)
        .execute(conn)
        .await?;
        Ok(())
    })
}

/// The members forgotten in a channel, each with when.
pub async fn in_channel(
    conn: &mut Conn,
    channel_id: i64,
) -> Result<HashMap<String, DateTime<Utc>>> {
    on!(conn, conn => {
        let rows: Vec<(String, i64)> = sqlx::query_as(
            "SELECT member_id, forgotten_at FROM forgotten_members WHERE channel_id = $1",
        )
        .bind(channel_id)
        .fetch_all(conn)
        .await?;
        rows.into_iter()
            .map(|(member, at)| Ok((member, instant(at)?)))
            .collect()
    })
}
