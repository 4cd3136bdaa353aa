//! The `processes` table: one row per running `prepbot run`, with a heartbeat.
//! A drop's claim or reveal lease names its holder (`drops.holder`); a holder
//! without a row, or whose heartbeat is older than [`PROCESS_LAPSE`], is dead, and
//! its claims are finished by whoever sees that first instead of waiting out the
//! lease (see `drops::renew_claim` and `drops::lease_reveal`).

use chrono::{DateTime, Duration, Utc};

use super::Result;
use super::backend::{Conn, on};
use super::ids::{epoch, instant};
use crate::chat::Platform;

/// How often a running process renews its heartbeat.
pub const HEARTBEAT_EVERY: Duration = Duration::seconds(10);

/// How old a heartbeat may be before its process counts as dead: three missed beats,
/// so one slow write (a busy database) does not hand a live process's claims over.
pub const PROCESS_LAPSE: Duration = Duration::seconds(30);

/// A process as registered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessRow {
    pub id: String,
    pub host: String,
    pub pid: u32,
    /// Discord shards "FIRST-LAST/TOTAL", when the process serves a range of them.
    pub shards: Option<String>,
    /// The Slack Socket Mode connections it opens (0: it does not serve Slack).
    pub slack_connections: u32,
    pub started_at: DateTime<Utc>,
    pub heard_at: DateTime<Utc>,
}

impl ProcessRow {
    /// Whether its heartbeat is fresh at `now`: it lapses exactly [`PROCESS_LAPSE`]
    /// after the last beat, as in [`is_alive`] and the lease rule.
    pub fn alive_at(&self, now: DateTime<Utc>) -> bool {
        self.heard_at > now - PROCESS_LAPSE
    }
}

/// Registers a process (or re-registers it after another process reaped its row).
pub async fn register(conn: &mut Conn, p: &ProcessRow) -> Result<()> {
    on!(conn, conn => {
        sqlx::query(
            "INSERT INTO processes (id, host, pid, shards, started_at, heard_at, slack_connections) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) \
             ON CONFLICT (id) DO UPDATE SET heard_at = excluded.heard_at",
        )
        .bind(&p.id)
        .bind(&p.host)
        .bind(i64::from(p.pid))
        .bind(p.shards.as_deref())
        .bind(epoch(p.started_at))
        .bind(epoch(p.heard_at))
        .bind(i64::from(p.slack_connections))
        .execute(conn)
        .await?;
        Ok(())
    })
}

/// Renews a heartbeat. `false` when the row is gone (another process took this one
/// for dead): the caller registers again.
pub async fn beat(conn: &mut Conn, id: &str, now: DateTime<Utc>) -> Result<bool> {
    on!(conn, conn => {
        let done = sqlx::query("UPDATE processes SET heard_at = $1 WHERE id = $2")
            .bind(epoch(now))
            .bind(id)
            .execute(conn)
            .await?;
        Ok(done.rows_affected() == 1)
    })
}

/// Removes a process's row: at a clean shutdown (its claims are then free at once)
/// or when it is known to be dead.
pub async fn remove(conn: &mut Conn, id: &str) -> Result<()> {
    on!(conn, conn => {
        sqlx::query("DELETE FROM processes WHERE id = $1")
            .bind(id)
            .execute(conn)
            .await?;
        Ok(())
    })
}

/// Marks `id` as no longer serving `platform`, its adapter having stopped: its shard
/// range or its Slack connections are cleared, so [`another_serves`] no longer
/// counts it (nor the checks at registration). The process is ending; its row goes
/// when it retires.
pub async fn stop_serving(conn: &mut Conn, id: &str, platform: Platform) -> Result<()> {
    let sql = match platform {
        Platform::Discord => "UPDATE processes SET shards = NULL WHERE id = $1",
        Platform::Slack => "UPDATE processes SET slack_connections = 0 WHERE id = $1",
        Platform::Console => return Ok(()),
    };
    on!(conn, conn => {
        sqlx::query(sql).bind(id).execute(conn).await?;
        Ok(())
    })
}

/// Whether a live process other than `id` serves `platform`: for Discord one with a
/// shard range (processes share Discord only by each taking a range of
/// `PREPBOT_SHARDS`), for Slack one with Socket Mode connections.
pub async fn another_serves(
    conn: &mut Conn,
    id: &str,
    platform: Platform,
    now: DateTime<Utc>,
) -> Result<bool> {
    let serving = match platform {
        Platform::Discord => "shards IS NOT NULL",
        Platform::Slack => "slack_connections > 0",
        Platform::Console => return Ok(false),
    };
    let sql = format!(
        "SELECT EXISTS (SELECT 1 FROM processes WHERE id <> $1 AND heard_at > $2 AND {serving})"
    );
    on!(conn, conn => {
        let found: bool = sqlx::query_scalar(&sql)
            .bind(id)
            .bind(epoch(now - PROCESS_LAPSE))
            .fetch_one(conn)
            .await?;
        Ok(found)
    })
}

/// Every registered process, live or not, oldest first.
pub async fn all(conn: &mut Conn) -> Result<Vec<ProcessRow>> {
    on!(conn, conn => {
        #[allow(clippy::type_complexity)]
        let rows: Vec<(String, String, i64, Option<String>, i64, i64, i64)> = sqlx::query_as(
            "SELECT id, host, pid, shards, started_at, heard_at, slack_connections FROM processes \
             ORDER BY started_at, id",
        )
        .fetch_all(conn)
        .await?;
        rows.into_iter()
            .map(|(id, host, pid, shards, started_at, heard_at, slack_connections)| {
                Ok(ProcessRow {
                    id,
                    host,
                    pid: u32::try_from(pid).unwrap_or(0),
                    shards,
                    slack_connections: u32::try_from(slack_connections).unwrap_or(0),
                    started_at: instant(started_at)?,
                    heard_at: instant(heard_at)?,
                })
            })
            .collect()
    })
}

/// Whether `id` has a row whose heartbeat is fresh at `now` (it lapses exactly
/// [`PROCESS_LAPSE`] after the last beat).
pub async fn is_alive(conn: &mut Conn, id: &str, now: DateTime<Utc>) -> Result<bool> {
    on!(conn, conn => {
        let row: Option<(String,)> =
            sqlx::query_as("SELECT id FROM processes WHERE id = $1 AND heard_at > $2")
                .bind(id)
                .bind(epoch(now - PROCESS_LAPSE))
                .fetch_optional(conn)
                .await?;
        Ok(row.is_some())
    })
}

/// The condition, on a `drops` row, that its lease may be taken by `$me` at `$now`:
/// there is no lease, it ran out, or its holder is another process that is dead (no
/// row, or no heartbeat after `$lapsed_at`, which is `$now` minus [`PROCESS_LAPSE`]).
/// A claim without a holder (waiting to retry after a failure, or taken by a process
/// that never registered) keeps its lease: that is the retry's backoff.
pub(super) fn lease_free_sql(now: &str, me: &str, lapsed_at: &str) -> String {
    format!(
        "(lease_until IS NULL OR lease_until <= {now} \
          OR (holder IS NOT NULL AND holder IS DISTINCT FROM {me} AND NOT EXISTS \
              (SELECT 1 FROM processes p WHERE p.id = drops.holder AND p.heard_at > {lapsed_at})))"
    )
}
