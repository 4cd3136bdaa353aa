//! The `rotations` and `rotation_used` tables: a channel's seed, its cycle number
//! and the set of question ids used in the current cycle.

use std::collections::HashSet;

use super::backend::{Conn, on};
use chrono::{DateTime, Utc};

use super::Result;
use super::ids::{epoch, to_db};
use crate::engine::rotation::{Pick, Rotation};

/// Creates the channel's rotation with `seed` unless it has one (a re-setup keeps
/// its place in the cycle).
pub async fn ensure(conn: &mut Conn, channel_id: i64, seed: u64) -> Result<()> {
    on!(conn, conn => {
        sqlx::query("INSERT INTO rotations (channel_id, seed, cycle) VALUES ($1, $2, 0) ON CONFLICT (channel_id) DO NOTHING")
            .bind(channel_id)
            .bind(to_db(seed))
            .execute(conn)
            .await?;
        Ok(())
    })
}

/// A channel's rotation. Claiming a drop reads it, picks, and records the pick
/// (starting a new cycle when one is used up): in one write transaction, where no
/// other writer runs ([`super::Store::write`]), or two claims could start a cycle
/// twice.
pub async fn load(conn: &mut Conn, channel_id: i64) -> Result<Option<Rotation>> {
    on!(conn, conn => {
        let row: Option<(i64, i64)> =
            sqlx::query_as("SELECT seed, cycle FROM rotations WHERE channel_id = $1")
                .bind(channel_id)
                .fetch_optional(&mut *conn)
                .await?;
        let Some((seed, cycle)) = row else {
            return Ok(None);
        };
        let used: Vec<String> = sqlx::query_scalar(
            "SELECT question_id FROM rotation_used WHERE channel_id = $1 AND cycle = $2",
        )
        .bind(channel_id)
        .bind(cycle)
        .fetch_all(conn)
        .await?;
        Ok(Some(Rotation {
            seed: super::ids::from_db(seed),
            cycle: cycle as u32,
            used: used.into_iter().collect::<HashSet<_>>(),
        }))
    })
}

/// Records a pick; a pick that starts a new cycle advances the cycle and forgets
/// the old cycle's set.
pub async fn record(
    conn: &mut Conn,
    channel_id: i64,
    pick: &Pick,
    now: DateTime<Utc>,
) -> Result<()> {
    on!(conn, conn => {
        if pick.new_cycle {
            sqlx::query("UPDATE rotations SET cycle = $1 WHERE channel_id = $2")
                .bind(pick.cycle as i64)
                .bind(channel_id)
                .execute(&mut *conn)
                .await?;
            sqlx::query("DELETE FROM rotation_used WHERE channel_id = $1 AND cycle < $2")
                .bind(channel_id)
                .bind(pick.cycle as i64)
                .execute(&mut *conn)
                .await?;
        }
        sqlx::query(
            "INSERT INTO rotation_used (channel_id, cycle, question_id, used_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT DO NOTHING",
        )
        .bind(channel_id)
        .bind(pick.cycle as i64)
        .bind(&pick.question_id)
        .bind(epoch(now))
        .execute(conn)
        .await?;
        Ok(())
    })
}

/// Gives a question back to the current cycle (its drop failed and was never seen).
pub async fn release(conn: &mut Conn, channel_id: i64, question_id: &str) -> Result<()> {
    on!(conn, conn => {
        sqlx::query(
            "DELETE FROM rotation_used WHERE channel_id = $1 AND question_id = $2 \
             AND cycle = (SELECT cycle FROM rotations WHERE channel_id = $3)",
        )
        .bind(channel_id)
        .bind(question_id)
        .bind(channel_id)
        .execute(conn)
        .await?;
        Ok(())
    })
}
