//! The `channels` table: each configured channel and its schedule.

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::SqliteConnection;

use super::ids::{date_from_db, epoch, from_db, instant, to_db};
use super::{Result, StoreError};
use crate::bank::PoolFilter;
use crate::engine::schedule::{Days, Schedule, parse_time, parse_zone};

/// A configured channel.
#[derive(Debug, Clone, PartialEq)]
pub struct Channel {
    pub channel_id: u64,
    pub guild_id: u64,
    pub schedule: Schedule,
    /// No drop is due before this instant (set at setup and at resume).
    pub active_from: DateTime<Utc>,
    /// Why the bot paused the channel itself (it was deleted); `None` otherwise.
    pub pause_reason: Option<String>,
}

const COLUMNS: &str = "channel_id, guild_id, drop_time, time_zone, days, reveal_after_hours, \
     pool_topic, pool_difficulty, pool_kind, paused, active_from, pause_reason";

#[derive(sqlx::FromRow)]
struct Row {
    channel_id: i64,
    guild_id: i64,
    drop_time: String,
    time_zone: String,
    days: i64,
    reveal_after_hours: i64,
    pool_topic: Option<String>,
    pool_difficulty: Option<String>,
    pool_kind: Option<String>,
    paused: bool,
    active_from: i64,
    pause_reason: Option<String>,
}

impl TryFrom<Row> for Channel {
    type Error = StoreError;
    fn try_from(r: Row) -> Result<Channel> {
        let corrupt =
            |what: String| StoreError::Corrupt(format!("channel {}: {what}", r.channel_id));
        let schedule = Schedule {
            time: parse_time(&r.drop_time).map_err(|e| corrupt(e.to_string()))?,
            zone: parse_zone(&r.time_zone).map_err(|e| corrupt(e.to_string()))?,
            days: u8::try_from(r.days)
                .ok()
                .and_then(Days::from_bits)
                .ok_or_else(|| corrupt(format!("bad days {}", r.days)))?,
            reveal_after_hours: u32::try_from(r.reveal_after_hours)
                .map_err(|_| corrupt(format!("bad reveal delay {}", r.reveal_after_hours)))?,
            pool: PoolFilter {
                topic: r.pool_topic.clone(),
                difficulty: r
                    .pool_difficulty
                    .as_deref()
                    .map(str::parse)
                    .transpose()
                    .map_err(|e: crate::bank::UnknownValue| corrupt(e.to_string()))?,
                kind: r
                    .pool_kind
                    .as_deref()
                    .map(str::parse)
                    .transpose()
                    .map_err(|e: crate::bank::UnknownValue| corrupt(e.to_string()))?,
            },
            paused: r.paused,
        };
        Ok(Channel {
            channel_id: from_db(r.channel_id),
            guild_id: from_db(r.guild_id),
            schedule,
            active_from: instant(r.active_from)?,
            pause_reason: r.pause_reason,
        })
    }
}

/// Creates or replaces a channel's schedule.
pub async fn upsert(
    conn: &mut SqliteConnection,
    channel: &Channel,
    now: DateTime<Utc>,
) -> Result<()> {
    let s = &channel.schedule;
    sqlx::query(
        "INSERT INTO channels (channel_id, guild_id, drop_time, time_zone, days, reveal_after_hours, \
             pool_topic, pool_difficulty, pool_kind, paused, active_from, created_at, updated_at) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) \
         ON CONFLICT (channel_id) DO UPDATE SET \
             guild_id = excluded.guild_id, drop_time = excluded.drop_time, time_zone = excluded.time_zone, \
             days = excluded.days, reveal_after_hours = excluded.reveal_after_hours, \
             pool_topic = excluded.pool_topic, pool_difficulty = excluded.pool_difficulty, \
             pool_kind = excluded.pool_kind, paused = excluded.paused, pause_reason = NULL, \
             active_from = excluded.active_from, updated_at = excluded.updated_at",
    )
    .bind(to_db(channel.channel_id))
    .bind(to_db(channel.guild_id))
    .bind(s.time.format("%H:%M").to_string())
    .bind(s.zone.name())
    .bind(s.days.bits() as i64)
    .bind(s.reveal_after_hours as i64)
    .bind(s.pool.topic.as_deref())
    .bind(s.pool.difficulty.map(|d| d.as_str()))
    .bind(s.pool.kind.map(|k| k.as_str()))
    .bind(s.paused)
    .bind(epoch(channel.active_from))
    .bind(epoch(now))
    .bind(epoch(now))
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn get(conn: &mut SqliteConnection, channel_id: u64) -> Result<Option<Channel>> {
    let row: Option<Row> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM channels WHERE channel_id = ?"
    ))
    .bind(to_db(channel_id))
    .fetch_optional(conn)
    .await?;
    row.map(Channel::try_from).transpose()
}

/// Every channel that is not paused, by id; unreadable rows are logged and skipped.
pub async fn list_active(conn: &mut SqliteConnection) -> Result<Vec<Channel>> {
    list_where(conn, "paused = 0").await
}

/// Every channel, paused or not, by id; unreadable rows are logged and skipped.
pub async fn list_all(conn: &mut SqliteConnection) -> Result<Vec<Channel>> {
    list_where(conn, "1 = 1").await
}

/// Every channel that is not paused, by id, each with the local date of its latest
/// drop (whatever its state): what the scheduler's agenda needs, in one query
/// whatever the number of channels. Unreadable rows are logged and skipped.
pub async fn list_active_with_latest_drop(
    conn: &mut SqliteConnection,
) -> Result<Vec<(Channel, Option<NaiveDate>)>> {
    // The latest date is a MAX over the drops' (channel_id, local_date) unique
    // index: one index lookup per channel, never a scan of a channel's history.
    let rows: Vec<RowWithLatest> = sqlx::query_as(&format!(
        "SELECT {COLUMNS}, \
             (SELECT MAX(d.local_date) FROM drops d WHERE d.channel_id = channels.channel_id) \
                 AS latest_drop_date \
         FROM channels WHERE paused = 0 ORDER BY channel_id"
    ))
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .filter_map(|r| {
            let latest = match r.latest_drop_date.as_deref().map(date_from_db).transpose() {
                Ok(latest) => latest,
                Err(e) => return skip_unreadable(r.channel.channel_id, e),
            };
            readable(r.channel).map(|c| (c, latest))
        })
        .collect())
}

#[derive(sqlx::FromRow)]
struct RowWithLatest {
    #[sqlx(flatten)]
    channel: Row,
    latest_drop_date: Option<String>,
}

async fn list_where(conn: &mut SqliteConnection, condition: &'static str) -> Result<Vec<Channel>> {
    let rows: Vec<Row> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM channels WHERE {condition} ORDER BY channel_id"
    ))
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().filter_map(readable).collect())
}

/// One unreadable row (a zone this build does not know, say) must not stop every
/// other channel: it is skipped, loudly.
fn readable(row: Row) -> Option<Channel> {
    let id = row.channel_id;
    match Channel::try_from(row) {
        Ok(channel) => Some(channel),
        Err(e) => skip_unreadable(id, e),
    }
}

fn skip_unreadable<T>(channel_id: i64, e: StoreError) -> Option<T> {
    tracing::warn!(channel = from_db(channel_id), error = %e, "skipping an unreadable channel");
    None
}

/// Pauses or resumes; resuming a paused channel moves `active_from` to `now` so the paused days are
/// not caught up. Returns false when the channel has no schedule.
pub async fn set_paused(
    conn: &mut SqliteConnection,
    channel_id: u64,
    paused: bool,
    now: DateTime<Utc>,
) -> Result<bool> {
    let done = sqlx::query(
        "UPDATE channels SET \
             active_from = CASE WHEN paused = 1 AND ? = 0 THEN ? ELSE active_from END, \
             paused = ?, pause_reason = NULL, updated_at = ? \
         WHERE channel_id = ?",
    )
    .bind(paused)
    .bind(epoch(now))
    .bind(paused)
    .bind(epoch(now))
    .bind(to_db(channel_id))
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Pauses a channel on the bot's own account, keeping its schedule and history:
/// its platform channel is gone. An admin's resume clears the reason.
pub async fn pause_with_reason(
    conn: &mut SqliteConnection,
    channel_id: u64,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<bool> {
    let done = sqlx::query(
        "UPDATE channels SET paused = 1, pause_reason = ?, updated_at = ? WHERE channel_id = ?",
    )
    .bind(reason)
    .bind(epoch(now))
    .bind(to_db(channel_id))
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}
