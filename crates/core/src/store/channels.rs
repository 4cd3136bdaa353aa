//! The `channels` table: each configured channel and its schedule.

use std::sync::LazyLock;

use super::backend::{Conn, from_row, on, prefixed_columns, qualified_columns};
use chrono::{DateTime, NaiveDate, Utc};
use futures_util::TryStreamExt as _;

use super::drops::{self, DropRecord};
use super::ids::{date_from_db, epoch, instant};
use super::member_stats::{self, MemberStats};
use super::{Result, StoreError};
use crate::bank::PoolFilter;
use crate::chat::{ChannelAddress, Platform};
use crate::engine::DropState;
use crate::engine::schedule::{Days, Schedule, parse_time, parse_zone};
use crate::engine::streak::ChannelProgress;

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

// ---- the channel at an address, with what a command reads there ------------------
//
// A command finds its channel by the address it was run at, then reads the channel's
// drops or members. Each function here does both in one statement, so the command
// makes one round trip to the database where it made two to four: on PostgreSQL
// each costs a network round trip whatever the statement (BENCHMARKS.md, "One
// statement per command"). Each part is the same index walk its own statement made;
// the channel row comes first (`channels`' unique `(platform, conversation_id)`).
// The statements are the same text on both backends, written once per process.

/// Where the channel at an address is: `$1` its platform, `$2` its conversation,
/// the same rows [`find`] reads.
const AT: &str = "c.platform = $1 AND c.conversation_id = $2 AND c.removed_at IS NULL";

struct RowWithProgress {
    channel: Row,
    progress_seq: Option<i64>,
    progress_state: Option<String>,
}
from_row!(RowWithProgress { progress_seq, progress_state } flatten { channel });

impl RowWithProgress {
    fn split(self) -> Result<(Channel, ChannelProgress)> {
        Ok((
            Channel::try_from(self.channel)?,
            drops::progress_of(self.progress_seq, self.progress_state),
        ))
    }
}

struct RowWithMember {
    progress: RowWithProgress,
    member: Option<member_stats::Row>,
}
from_row!(RowWithMember {} flatten { progress } optional { member: "member_" });

/// The channel at an address, its progress, and a member's stats there
/// ([`member_stats::get`]; `None` if they have none): what `/streak` reads.
pub async fn find_with_member(
    conn: &mut Conn,
    address: &ChannelAddress,
    member_id: &str,
) -> Result<Option<(Channel, ChannelProgress, Option<MemberStats>)>> {
    on!(conn, conn => {
        static SQL: LazyLock<String> = LazyLock::new(|| {
            format!(
                "SELECT {}, {}, {} FROM channels c \
                 LEFT JOIN member_stats m ON m.channel_id = c.id AND m.member_id = $3 \
                 WHERE {AT}",
                qualified_columns(COLUMNS, "c"),
                drops::progress_columns("c.id"),
                prefixed_columns(member_stats::COLUMNS, "m", "member_"),
            )
        });
        let row: Option<RowWithMember> = sqlx::query_as(&SQL)
        .bind(address.platform.as_str())
        .bind(&address.conversation)
        .bind(member_id)
        .fetch_optional(conn)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let (channel, progress) = row.progress.split()?;
        let member = row.member.map(MemberStats::try_from).transpose()?;
        Ok(Some((channel, progress, member)))
    })
}

/// A member's row of [`find_with_leaderboard`]: which walk found it, its key, and
/// its stats (the channel's columns are NULL on it).
struct BoardRow {
    board_walk: Option<i64>,
    board_id: Option<i64>,
    member: Option<member_stats::Row>,
}
from_row!(BoardRow { board_walk, board_id } optional { member: "member_" });

/// The channel at an address, its progress, and its top `limit` members as
/// [`member_stats::leaderboard`] ranks them: what `/leaderboard` reads, in one
/// statement (a round trip per statement was most of the command's time on
/// PostgreSQL). The walks take the channel's key and latest revealed drop from the
/// channel's row in the same statement. The channel comes back as a row of its
/// own and each member as another, in no particular order: with the channel's 17
/// columns repeated on every member's row, as at first, SQLite's rows cost more
/// to build and copy than its walks cost to run, and `/leaderboard` missed its
/// latency budget on SQLite (BENCHMARKS.md, "Resident memory against the release
/// before the core work").
pub async fn find_with_leaderboard(
    conn: &mut Conn,
    address: &ChannelAddress,
    limit: u32,
) -> Result<Option<(Channel, ChannelProgress, Vec<MemberStats>)>> {
    on!(conn, conn => {
        let name = super::backend::nocase_for(&*conn, "member_name");
        // The latest revealed drop, as `ChannelProgress` gives it to the walks
        // (`Practice::ranked`): the latest posted drop's number, less one while that
        // drop is open; 0 before any drop.
        let revealed = format!(
            "(SELECT CASE WHEN progress_seq IS NULL THEN 0 \
                          WHEN progress_state = '{}' AND progress_seq > 0 THEN progress_seq - 1 \
                          WHEN progress_state = '{}' THEN 0 \
                          ELSE progress_seq END FROM here)",
            DropState::Posted.as_str(),
            DropState::Posted.as_str(),
        );
        let channel = "(SELECT id FROM here)";
        // The channel's row has NULL member columns and each member's row NULL
        // channel columns; NULLs are neither copied nor decoded.
        // The channel's columns, then `progress_columns`' two (seq and state).
        let here_columns = COLUMNS.split(", ").count() + 2;
        let nulls = vec!["NULL"; here_columns].join(", ");
        let member_nulls = member_stats::COLUMNS
            .split(", ")
            .map(|c| format!("NULL AS member_{c}"))
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!(
            "WITH here AS (SELECT {}, {} FROM channels c WHERE {AT}), {}, \
                  board AS ({}) \
             SELECT here.*, NULL AS board_walk, NULL AS board_id, {member_nulls} FROM here \
             UNION ALL \
             SELECT {nulls}, board.walk, board.id, {} FROM board",
            qualified_columns(COLUMNS, "c"),
            drops::progress_columns("c.id"),
            member_stats::board_walks(&name, channel, &revealed, "$3"),
            member_stats::board_rows(&name, channel, &revealed, "$3"),
            prefixed_columns(member_stats::COLUMNS, "board", "member_"),
        );
        let rows = sqlx::query(&sql)
            .bind(address.platform.as_str())
            .bind(&address.conversation)
            .bind(limit as i64)
            .fetch_all(conn)
            .await?;
        let mut here = None;
        let mut found = Vec::with_capacity(rows.len());
        for row in &rows {
            let walk: Option<i64> = sqlx::Row::try_get(row, "board_walk")?;
            if walk.is_none() {
                let row: RowWithProgress = sqlx::FromRow::from_row(row)?;
                here = Some(row.split()?);
                continue;
            }
            let row: BoardRow = sqlx::FromRow::from_row(row)?;
            if let (Some(walk), Some(id), Some(member)) = (row.board_walk, row.board_id, row.member) {
                found.push((walk, id, MemberStats::try_from(member)?));
            }
        }
        let Some((channel, progress)) = here else { return Ok(None) };
        Ok(Some((channel, progress, member_stats::ranked(found, limit))))
    })
}

struct RowWithOpen {
    latest: RowWithLatest,
    open: Option<drops::Row>,
}
from_row!(RowWithOpen {} flatten { latest } optional { open: "open_" });

/// The channel at an address, the local date of its latest drop (whatever its
/// state: where its next drop follows from) and its open drop ([`drops::open`]):
/// what `/question today` reads.
pub async fn find_with_open_drop(
    conn: &mut Conn,
    address: &ChannelAddress,
) -> Result<Option<(Channel, Option<NaiveDate>, Option<DropRecord>)>> {
    on!(conn, conn => {
        // At most one open drop per channel (`drops_one_open_per_channel`).
        static SQL: LazyLock<String> = LazyLock::new(|| {
            format!(
                "SELECT {}, {}, {} FROM channels c \
                 LEFT JOIN drops o ON o.channel_id = c.id AND o.state = 'posted' \
                 WHERE {AT}",
                qualified_columns(COLUMNS, "c"),
                latest_date_column("c.id"),
                prefixed_columns(drops::COLUMNS, "o", "open_"),
            )
        });
        let row: Option<RowWithOpen> = sqlx::query_as(&SQL)
        .bind(address.platform.as_str())
        .bind(&address.conversation)
        .fetch_optional(conn)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let latest = row.latest.latest_drop_date.as_deref().map(date_from_db).transpose()?;
        let open = row.open.map(DropRecord::try_from).transpose()?;
        Ok(Some((Channel::try_from(row.latest.channel)?, latest, open)))
    })
}

/// A channel's drops as `/schedule show` and `prepbot status` report them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelDrops {
    /// The drop with the latest local date, whatever its state ([`drops::latest`]).
    pub latest: Option<DropRecord>,
    /// The drop posted and not yet revealed ([`drops::open`]).
    pub open: Option<DropRecord>,
    /// How many drops of each state, the states with none left out, by the state's
    /// name ([`drops::count_by_state`]).
    pub counts: Vec<(DropState, u32)>,
}

struct RowWithDrops {
    channel: Row,
    latest: Option<drops::Row>,
    open: Option<drops::Row>,
    claimed_drops: i64,
    failed_drops: i64,
    missed_drops: i64,
    posted_drops: i64,
    revealed_drops: i64,
}
from_row!(RowWithDrops { claimed_drops, failed_drops, missed_drops, posted_drops, revealed_drops }
    flatten { channel } optional { latest: "latest_", open: "open_" });

impl RowWithDrops {
    fn drops(
        latest: Option<drops::Row>,
        open: Option<drops::Row>,
        counts: [i64; 5],
    ) -> Result<ChannelDrops> {
        Ok(ChannelDrops {
            latest: latest.map(DropRecord::try_from).transpose()?,
            open: open.map(DropRecord::try_from).transpose()?,
            counts: drops::STORED_STATES
                .into_iter()
                .zip(counts)
                .filter(|&(_, n)| n > 0)
                .map(|(state, n)| (state, n as u32))
                .collect(),
        })
    }

    fn split(self) -> (Row, Result<ChannelDrops>) {
        let counts = [
            self.claimed_drops,
            self.failed_drops,
            self.missed_drops,
            self.posted_drops,
            self.revealed_drops,
        ];
        (self.channel, Self::drops(self.latest, self.open, counts))
    }
}

/// The statement of [`find_with_drops`] and [`list_all_with_drops`], for the
/// channels `condition` selects.
fn with_drops(condition: &str) -> String {
    // The latest drop by its key, found by the walk `drops::latest` makes; the open
    // one as in `find_with_open_drop`; the counts in order of the states' names.
    format!(
        "SELECT {}, {}, {}, {} FROM channels c \
         LEFT JOIN drops l ON l.id = \
             (SELECT s.id FROM drops s WHERE s.channel_id = c.id ORDER BY s.local_date DESC LIMIT 1) \
         LEFT JOIN drops o ON o.channel_id = c.id AND o.state = 'posted' \
         WHERE {condition}",
        qualified_columns(COLUMNS, "c"),
        prefixed_columns(drops::COLUMNS, "l", "latest_"),
        prefixed_columns(drops::COLUMNS, "o", "open_"),
        drops::count_columns("c.id"),
    )
}

/// The channel at an address with its latest drop, open drop and counts: what
/// `/schedule show` reads.
pub async fn find_with_drops(
    conn: &mut Conn,
    address: &ChannelAddress,
) -> Result<Option<(Channel, ChannelDrops)>> {
    on!(conn, conn => {
        static SQL: LazyLock<String> = LazyLock::new(|| with_drops(AT));
        let row: Option<RowWithDrops> = sqlx::query_as(&SQL)
            .bind(address.platform.as_str())
            .bind(&address.conversation)
            .fetch_optional(conn)
            .await?;
        let Some(row) = row else { return Ok(None) };
        let (channel, drops) = row.split();
        Ok(Some((Channel::try_from(channel)?, drops?)))
    })
}

/// Every channel with a schedule, as [`list_all`] lists them, each with its latest
/// drop, open drop and counts: what `prepbot status` reports, in one statement
/// whatever the number of channels. Unreadable rows are logged and skipped.
pub async fn list_all_with_drops(conn: &mut Conn) -> Result<Vec<(Channel, ChannelDrops)>> {
    on!(conn, conn => {
        let rows: Vec<RowWithDrops> =
            sqlx::query_as(&with_drops("c.removed_at IS NULL ORDER BY c.id"))
                .fetch_all(conn)
                .await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let (channel, drops) = row.split();
            if let Some(channel) = readable(channel) {
                out.push((channel, drops?));
            }
        }
        Ok(out)
    })
}

/// The local date of the latest drop of the channel whose key is `channel` (a
/// column, `c.id`), whatever its state, as the column `latest_drop_date`: a MAX over
/// the drops' `(channel_id, local_date)` unique index, one index lookup.
fn latest_date_column(channel: &str) -> String {
    format!(
        "(SELECT MAX(d.local_date) FROM drops d WHERE d.channel_id = {channel}) AS latest_drop_date"
    )
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
        let sql = format!(
            "SELECT {COLUMNS}, \
                 (SELECT MAX(d.local_date) FROM drops d WHERE d.channel_id = channels.id) \
                     AS latest_drop_date \
             FROM channels WHERE paused = 0 ORDER BY id"
        );
        // Each row becomes its channel as it arrives, rather than collecting the
        // rows first and holding both lists (as in `drops::in_state_with_platform`).
        let mut rows = sqlx::query_as::<_, RowWithLatest>(&sql).fetch(conn);
        let mut found = Vec::new();
        while let Some(r) = rows.try_next().await? {
            let latest = match r.latest_drop_date.as_deref().map(date_from_db).transpose() {
                Ok(latest) => latest,
                Err(e) => {
                    skip_unreadable::<()>(r.channel.id, e);
                    continue;
                }
            };
            if let Some(c) = readable(r.channel) {
                found.push((c, latest));
            }
        }
        Ok(found)
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
