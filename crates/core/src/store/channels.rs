//! The `channels` table: each configured channel and its schedule.

use super::backend::{Conn, from_row, on};
use chrono::{DateTime, NaiveDate, Utc};

use super::ids::{date_from_db, epoch, instant};
use super::{Result, StoreError};
use crate::bank::PoolFilter;
use crate::chat::{ChannelAddress, Platform};
use crate::engine::schedule::{Days, Schedule, parse_time, parse_zone};

/// A configured channel.
#[derive(Debug, Clone, PartialEq)]
pub struct Channel {
    /// The row's key: what drops, answers and stats refer to.
    pub key: i64,
    pub address: ChannelAddress,
    /// The channel's name as last seen (`#study` on Discord), for people; `None`
    /// until the platform told it.
    pub name: Option<String>,
    pub schedule: Schedule,
    /// No drop is due before this instant (set at setup and at resume).
    pub active_from: DateTime<Utc>,
    /// Why the bot paused the channel itself (it was deleted); `None` otherwise.
    pub pause_reason: Option<String>,
}

impl Channel {
    /// How people know the channel: its name, or its platform id until the name is known.
    pub fn label(&self) -> String {
        match &self.name {
            Some(name) => format!("#{name}"),
            None => format!(
                "{} channel {}",
                self.address.platform, self.address.conversation
            ),
        }
    }
}

const COLUMNS: &str = "id, platform, workspace_id, conversation_id, name, drop_time, time_zone, days, reveal_after_hours, \
     pool_topic, pool_difficulty, pool_kind, paused, active_from, pause_reason";

struct Row {
    id: i64,
    platform: String,
    workspace_id: String,
    conversation_id: String,
    name: Option<String>,
    drop_time: String,
    time_zone: String,
    days: i64,
    reveal_after_hours: i64,
    pool_topic: Option<String>,
    pool_difficulty: Option<String>,
    pool_kind: Option<String>,
    /// 0 or 1: an integer in both dialects, decoded as one.
    paused: i64,
    active_from: i64,
    pause_reason: Option<String>,
}
from_row!(Row {
    id,
    platform,
    workspace_id,
    conversation_id,
    name,
    drop_time,
    time_zone,
    days,
    reveal_after_hours,
    pool_topic,
    pool_difficulty,
    pool_kind,
    paused,
    active_from,
    pause_reason
});

impl TryFrom<Row> for Channel {
    type Error = StoreError;
    fn try_from(r: Row) -> Result<Channel> {
        let corrupt = |what: String| StoreError::Corrupt(format!("channel {}: {what}", r.id));
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
            paused: r.paused != 0,
        };
        let platform: Platform = r.platform.parse().map_err(corrupt)?;
        Ok(Channel {
            key: r.id,
            address: ChannelAddress::new(platform, r.workspace_id, r.conversation_id),
            name: r.name,
            schedule,
            active_from: instant(r.active_from)?,
            pause_reason: r.pause_reason,
        })
    }
}

/// Creates or replaces the schedule of the channel at `channel.address`; returns its
/// key (`channel.key` is ignored). A name of `None` keeps the stored one.
pub async fn upsert(conn: &mut Conn, channel: &Channel, now: DateTime<Utc>) -> Result<i64> {
    on!(conn, conn => {
        let s = &channel.schedule;
        let a = &channel.address;
        let key: i64 = sqlx::query_scalar(
            "INSERT INTO channels (platform, workspace_id, conversation_id, name, drop_time, time_zone, days, \
                 reveal_after_hours, pool_topic, pool_difficulty, pool_kind, paused, active_from, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) \
             ON CONFLICT (platform, conversation_id) DO UPDATE SET \
                 workspace_id = excluded.workspace_id, name = COALESCE(excluded.name, channels.name), \
                 drop_time = excluded.drop_time, time_zone = excluded.time_zone, \
                 days = excluded.days, reveal_after_hours = excluded.reveal_after_hours, \
                 pool_topic = excluded.pool_topic, pool_difficulty = excluded.pool_difficulty, \
                 pool_kind = excluded.pool_kind, paused = excluded.paused, pause_reason = NULL, \
                 removed_at = NULL, \
                 active_from = excluded.active_from, updated_at = excluded.updated_at \
             RETURNING id",
        )
        .bind(a.platform.as_str())
        .bind(&a.workspace)
        .bind(&a.conversation)
        .bind(channel.name.as_deref())
        .bind(s.time.format("%H:%M").to_string())
        .bind(s.zone.name())
        .bind(s.days.bits() as i64)
        .bind(s.reveal_after_hours as i64)
        .bind(s.pool.topic.as_deref())
        .bind(s.pool.difficulty.map(|d| d.as_str()))
        .bind(s.pool.kind.map(|k| k.as_str()))
        .bind(i64::from(s.paused))
        .bind(epoch(channel.active_from))
        .bind(epoch(now))
        .bind(epoch(now))
        .fetch_one(conn)
        .await?;
        Ok(key)
    })
}

/// Records a channel's name as the platform shows it now (at setup, on a rename).
pub async fn set_name(conn: &mut Conn, key: i64, name: &str) -> Result<bool> {
    on!(conn, conn => {
        let done =
            sqlx::query("UPDATE channels SET name = $1 WHERE id = $2 AND name IS DISTINCT FROM $3")
                .bind(name)
                .bind(key)
                .bind(name)
                .execute(conn)
                .await?;
        Ok(done.rows_affected() == 1)
    })
}

/// The channel at a platform address, if it has a schedule.
pub async fn find(conn: &mut Conn, address: &ChannelAddress) -> Result<Option<Channel>> {
    on!(conn, conn => {
        let row: Option<Row> = sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM channels \
             WHERE platform = $1 AND conversation_id = $2 AND removed_at IS NULL"
        ))
        .bind(address.platform.as_str())
        .bind(&address.conversation)
        .fetch_optional(conn)
        .await?;
        row.map(Channel::try_from).transpose()
    })
}

pub async fn get(conn: &mut Conn, key: i64) -> Result<Option<Channel>> {
    on!(conn, conn => {
        let row: Option<Row> = sqlx::query_as(&format!("SELECT {COLUMNS} FROM channels WHERE id = $1"))
            .bind(key)
            .fetch_optional(conn)
            .await?;
        row.map(Channel::try_from).transpose()
    })
}

/// Every channel that is not paused, by id; unreadable rows are logged and skipped.
pub async fn list_active(conn: &mut Conn) -> Result<Vec<Channel>> {
    list_where(conn, "paused = 0").await
}

/// Every channel with a schedule, paused or not, by id (a removed schedule whose
/// history was kept is not one); unreadable rows are logged and skipped.
pub async fn list_all(conn: &mut Conn) -> Result<Vec<Channel>> {
    list_where(conn, "removed_at IS NULL").await
}

/// The channels of one workspace on one platform, removed ones too (their history
/// is still stored): what forgetting a member there goes through.
pub async fn keys_in_workspace(
    conn: &mut Conn,
    platform: Platform,
    workspace: &str,
) -> Result<Vec<i64>> {
    on!(conn, conn => {
        Ok(sqlx::query_scalar(
            "SELECT id FROM channels WHERE platform = $1 AND workspace_id = $2 ORDER BY id",
        )
        .bind(platform.as_str())
        .bind(workspace)
        .fetch_all(conn)
        .await?)
    })
}

/// Removes a channel's schedule but keeps the row and so its history: paused (an
/// open drop is still revealed on time) and hidden from commands until a new setup
/// clears the mark. Returns false when the channel has no schedule.
pub async fn mark_removed(conn: &mut Conn, key: i64, now: DateTime<Utc>) -> Result<bool> {
    on!(conn, conn => {
        let done = sqlx::query(
            "UPDATE channels SET paused = 1, pause_reason = NULL, removed_at = $1, updated_at = $2 \
             WHERE id = $3 AND removed_at IS NULL",
        )
        .bind(epoch(now))
        .bind(epoch(now))
        .bind(key)
        .execute(conn)
        .await?;
        Ok(done.rows_affected() == 1)
    })
}

/// Deletes a channel and, through the foreign keys' cascades, every drop, answer,
/// stat, rotation and tombstone of it. Returns false when there was no such row.
pub async fn delete(conn: &mut Conn, key: i64) -> Result<bool> {
    on!(conn, conn => {
        let done = sqlx::query("DELETE FROM channels WHERE id = $1")
            .bind(key)
            .execute(conn)
            .await?;
        Ok(done.rows_affected() == 1)
    })
}

/// Every channel that is not paused, by id, each with the local date of its latest
/// drop (whatever its state): what the scheduler's agenda needs, in one query
/// whatever the number of channels. Unreadable rows are logged and skipped.
pub async fn list_active_with_latest_drop(
    conn: &mut Conn,
) -> Result<Vec<(Channel, Option<NaiveDate>)>> {
    on!(conn, conn => {
        // The latest date is a MAX over the drops' (channel_id, local_date) unique
        // index: one index lookup per channel, never a scan of a channel's history.
        let rows: Vec<RowWithLatest> = sqlx::query_as(&format!(
            "SELECT {COLUMNS}, \
                 (SELECT MAX(d.local_date) FROM drops d WHERE d.channel_id = channels.id) \
                     AS latest_drop_date \
             FROM channels WHERE paused = 0 ORDER BY id"
        ))
        .fetch_all(conn)
        .await?;
        Ok(rows
            .into_iter()
            .filter_map(|r| {
                let latest = match r.latest_drop_date.as_deref().map(date_from_db).transpose() {
                    Ok(latest) => latest,
                    Err(e) => return skip_unreadable(r.channel.id, e),
                };
                readable(r.channel).map(|c| (c, latest))
            })
            .collect())
    })
}

struct RowWithLatest {
    channel: Row,
    latest_drop_date: Option<String>,
}
from_row!(RowWithLatest { latest_drop_date } flatten { channel });

async fn list_where(conn: &mut Conn, condition: &'static str) -> Result<Vec<Channel>> {
    on!(conn, conn => {
        let rows: Vec<Row> = sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM channels WHERE {condition} ORDER BY id"
        ))
        .fetch_all(conn)
        .await?;
        Ok(rows.into_iter().filter_map(readable).collect())
    })
}

/// One unreadable row (a zone this build does not know, say) must not stop every
/// other channel: it is skipped, loudly.
fn readable(row: Row) -> Option<Channel> {
    let id = row.id;
    match Channel::try_from(row) {
        Ok(channel) => Some(channel),
        Err(e) => skip_unreadable(id, e),
    }
}

fn skip_unreadable<T>(key: i64, e: StoreError) -> Option<T> {
    tracing::warn!(channel = key, error = %e, "skipping an unreadable channel");
    None
}

/// Pauses or resumes; resuming a paused channel moves `active_from` to `now` so the paused days are
/// not caught up. Returns false when the channel has no schedule.
pub async fn set_paused(
    conn: &mut Conn,
    key: i64,
    paused: bool,
    now: DateTime<Utc>,
) -> Result<bool> {
    on!(conn, conn => {
        let done = sqlx::query(
            "UPDATE channels SET \
                 active_from = CASE WHEN paused = 1 AND $1 = 0 THEN $2 ELSE active_from END, \
                 paused = $3, pause_reason = NULL, updated_at = $4 \
             WHERE id = $5",
        )
        // The flag is an integer 0/1 in both dialects (PostgreSQL compares no boolean
        // with 0), so it is bound as one.
        .bind(i64::from(paused))
        .bind(epoch(now))
        .bind(i64::from(paused))
        .bind(epoch(now))
        .bind(key)
        .execute(conn)
        .await?;
        Ok(done.rows_affected() == 1)
    })
}

/// Pauses a channel on the bot's own account, keeping its schedule and history:
/// its platform channel is gone. An admin's resume clears the reason.
pub async fn pause_with_reason(
    conn: &mut Conn,
    key: i64,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<bool> {
    on!(conn, conn => {
        let done = sqlx::query(
            "UPDATE channels SET paused = 1, pause_reason = $1, updated_at = $2 WHERE id = $3",
        )
        .bind(reason)
        .bind(epoch(now))
        .bind(key)
        .execute(conn)
        .await?;
        Ok(done.rows_affected() == 1)
    })
}
