//! The `adapter_health` table: one row per platform, written by the processes that
//! serve it (one that stops leaves the row to another still serving it, see
//! [`crate::health::HealthRecorder::stopped`]), read by `prepbot status`.

use chrono::{DateTime, Utc};

use super::Result;
use super::backend::{Conn, on};
use super::ids::{epoch, instant};
use crate::chat::Platform;

/// A row as stored; the state is the text [`crate::health::AdapterState`] reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    pub platform: Platform,
    pub state: String,
    pub detail: Option<String>,
    pub since: DateTime<Utc>,
    pub heard_at: DateTime<Utc>,
}

/// Records a state; `since` moves only when the state changes.
pub async fn set(
    conn: &mut Conn,
    platform: Platform,
    state: &str,
    detail: Option<&str>,
    now: DateTime<Utc>,
) -> Result<()> {
    on!(conn, conn => {
        sqlx::query(
            "INSERT INTO adapter_health (platform, state, detail, since, heard_at) \
             VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (platform) DO UPDATE SET \
                 since = CASE WHEN adapter_health.state = excluded.state \
                     THEN adapter_health.since ELSE excluded.since END, \
                 state = excluded.state, detail = excluded.detail, heard_at = excluded.heard_at",
        )
        .bind(platform.as_str())
        .bind(state)
        .bind(detail)
        .bind(epoch(now))
        .bind(epoch(now))
        .execute(conn)
        .await?;
        Ok(())
    })
}

/// The running process is still there.
pub async fn beat(conn: &mut Conn, platform: Platform, now: DateTime<Utc>) -> Result<()> {
    on!(conn, conn => {
        sqlx::query("UPDATE adapter_health SET heard_at = $1 WHERE platform = $2")
            .bind(epoch(now))
            .bind(platform.as_str())
            .execute(conn)
            .await?;
        Ok(())
    })
}

/// Every platform's row, by platform name.
pub async fn all(conn: &mut Conn) -> Result<Vec<Stored>> {
    on!(conn, conn => {
        let rows: Vec<(String, String, Option<String>, i64, i64)> = sqlx::query_as(
            "SELECT platform, state, detail, since, heard_at FROM adapter_health ORDER BY platform",
        )
        .fetch_all(conn)
        .await?;
        rows.into_iter()
            .map(|(platform, state, detail, since, heard_at)| {
                Ok(Stored {
                    platform: platform.parse().map_err(super::StoreError::Corrupt)?,
                    state,
                    detail,
                    since: instant(since)?,
                    heard_at: instant(heard_at)?,
                })
            })
            .collect()
    })
}
