//! The `answers` table: every message posted in a drop's thread, stored whole.

use std::collections::HashSet;

use rustc_hash::FxHashMap;

use super::backend::{Conn, from_row, on};
use chrono::{DateTime, Utc};

use super::ids::{epoch, instant};
use super::{Result, StoreError};
use crate::engine::answers::AnswerMessage;

/// One stored message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredAnswer {
    /// The schedule's channel (`channels.id`): a message is keyed by its channel and
    /// the platform's message id.
    pub channel_id: i64,
    pub message_id: String,
    pub drop_id: i64,
    pub member_id: String,
    pub member_name: String,
    pub body: String,
    pub posted_at: DateTime<Utc>,
    pub edited_at: Option<DateTime<Utc>>,
    pub withdrawn_at: Option<DateTime<Utc>>,
}

impl StoredAnswer {
    pub fn as_message(&self) -> AnswerMessage {
        AnswerMessage {
            member_id: self.member_id.clone(),
            member_name: self.member_name.clone(),
            posted_at: self.posted_at,
            withdrawn: self.withdrawn_at.is_some(),
        }
    }
}

const COLUMNS: &str = "channel_id, message_id, drop_id, member_id, member_name, body, posted_at, \
     edited_at, withdrawn_at";

struct Row {
    channel_id: i64,
    message_id: String,
    drop_id: i64,
    member_id: String,
    member_name: String,
    body: String,
    posted_at: i64,
    edited_at: Option<i64>,
    withdrawn_at: Option<i64>,
}
from_row!(Row {
    channel_id,
    message_id,
    drop_id,
    member_id,
    member_name,
    body,
    posted_at,
    edited_at,
    withdrawn_at
});

impl TryFrom<Row> for StoredAnswer {
    type Error = StoreError;
    fn try_from(r: Row) -> Result<StoredAnswer> {
        Ok(StoredAnswer {
            channel_id: r.channel_id,
            message_id: r.message_id,
            drop_id: r.drop_id,
            member_id: r.member_id,
            member_name: r.member_name,
            body: r.body,
            posted_at: instant(r.posted_at)?,
            edited_at: r.edited_at.map(instant).transpose()?,
            withdrawn_at: r.withdrawn_at.map(instant).transpose()?,
        })
    }
}

/// Stores a message; `false` if that message id is already stored (a replayed event).
pub async fn insert(conn: &mut Conn, a: &StoredAnswer) -> Result<bool> {
    on!(conn, conn => {
        let done = sqlx::query(
            "INSERT INTO answers (channel_id, message_id, drop_id, member_id, member_name, body, posted_at, \
                 edited_at, withdrawn_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (channel_id, message_id) DO NOTHING",
        )
        .bind(a.channel_id)
        .bind(&a.message_id)
        .bind(a.drop_id)
        .bind(&a.member_id)
        .bind(&a.member_name)
        .bind(&a.body)
        .bind(epoch(a.posted_at))
        .bind(a.edited_at.map(epoch))
        .bind(a.withdrawn_at.map(epoch))
        .execute(conn)
        .await?;
        Ok(done.rows_affected() == 1)
    })
}

/// Stores many messages with one statement per hundred; returns the (channel,
/// message id) pairs actually inserted (one already stored is left as it is, as
/// [`insert`] does).
pub async fn insert_many(
    conn: &mut Conn,
    rows: &[&StoredAnswer],
) -> Result<HashSet<(i64, String)>> {
    on!(conn, conn => {
        let mut inserted = HashSet::with_capacity(rows.len());
        // 900 bound parameters a statement, well under SQLite's 32,766.
        for chunk in rows.chunks(100) {
            let values = super::backend::placeholder_rows(&*conn, chunk.len(), 9);
            let sql = format!(
                "INSERT INTO answers ({COLUMNS}) VALUES {values} \
                 ON CONFLICT (channel_id, message_id) DO NOTHING RETURNING channel_id, message_id"
            );
            // Not kept in the statement cache: its text changes with the row count.
            let mut query = sqlx::query_as::<_, (i64, String)>(&sql).persistent(false);
            for a in chunk {
                query = query
                    .bind(a.channel_id)
                    .bind(&a.message_id)
                    .bind(a.drop_id)
                    .bind(&a.member_id)
                    .bind(&a.member_name)
                    .bind(&a.body)
                    .bind(epoch(a.posted_at))
                    .bind(a.edited_at.map(epoch))
                    .bind(a.withdrawn_at.map(epoch));
            }
            inserted.extend(query.fetch_all(&mut *conn).await?);
        }
        Ok(inserted)
    })
}

pub async fn get(
    conn: &mut Conn,
    channel_id: i64,
    message_id: &str,
) -> Result<Option<StoredAnswer>> {
    on!(conn, conn => {
        let row: Option<Row> = sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM answers WHERE channel_id = $1 AND message_id = $2"
        ))
        .bind(channel_id)
        .bind(message_id)
        .fetch_optional(conn)
        .await?;
        row.map(StoredAnswer::try_from).transpose()
    })
}

/// Replaces a message's text with an edit made at `at`. `false` if the message is
/// unknown or withdrawn, or already holds a later edit (edits can arrive out of order).
pub async fn edit(
    conn: &mut Conn,
    channel_id: i64,
    message_id: &str,
    body: &str,
    at: DateTime<Utc>,
) -> Result<bool> {
    on!(conn, conn => {
        let done = sqlx::query(
            "UPDATE answers SET body = $1, edited_at = $2 \
             WHERE channel_id = $3 AND message_id = $4 AND withdrawn_at IS NULL \
               AND (edited_at IS NULL OR edited_at <= $5)",
        )
        .bind(body)
        .bind(epoch(at))
        .bind(channel_id)
        .bind(message_id)
        .bind(epoch(at))
        .execute(conn)
        .await?;
        Ok(done.rows_affected() == 1)
    })
}

/// An edit or delete seen before the message itself was stored.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EarlyEvent {
    pub edited_body: Option<String>,
    pub edited_at: Option<DateTime<Utc>>,
    pub withdrawn_at: Option<DateTime<Utc>>,
}

/// Records that a message of a drop's thread was deleted before it was stored.
pub async fn early_withdraw(
    conn: &mut Conn,
    channel_id: i64,
    message_id: &str,
    drop_id: i64,
    at: DateTime<Utc>,
) -> Result<()> {
    on!(conn, conn => {
        sqlx::query(
            "INSERT INTO early_message_events (channel_id, message_id, drop_id, withdrawn_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (channel_id, message_id) DO UPDATE SET withdrawn_at = COALESCE(early_message_events.withdrawn_at, excluded.withdrawn_at)",
        )
        .bind(channel_id)
        .bind(message_id)
        .bind(drop_id)
        .bind(epoch(at))
        .execute(conn)
        .await?;
        Ok(())
    })
}

/// Records an edit of a message not stored yet; the latest edit wins.
pub async fn early_edit(
    conn: &mut Conn,
    channel_id: i64,
    message_id: &str,
    drop_id: i64,
    body: &str,
    at: DateTime<Utc>,
) -> Result<()> {
    on!(conn, conn => {
        sqlx::query(
            "INSERT INTO early_message_events (channel_id, message_id, drop_id, edited_body, edited_at) \
             VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (channel_id, message_id) DO UPDATE SET edited_body = excluded.edited_body, edited_at = excluded.edited_at \
             WHERE early_message_events.edited_at IS NULL OR early_message_events.edited_at <= excluded.edited_at",
        )
        .bind(channel_id)
        .bind(message_id)
        .bind(drop_id)
        .bind(body)
        .bind(epoch(at))
        .execute(conn)
        .await?;
        Ok(())
    })
}

/// The early edit or delete of a message, if any.
pub async fn early_event(
    conn: &mut Conn,
    channel_id: i64,
    message_id: &str,
) -> Result<Option<EarlyEvent>> {
    on!(conn, conn => {
        let row: Option<(Option<String>, Option<i64>, Option<i64>)> = sqlx::query_as(
            "SELECT edited_body, edited_at, withdrawn_at FROM early_message_events \
             WHERE channel_id = $1 AND message_id = $2",
        )
        .bind(channel_id)
        .bind(message_id)
        .fetch_optional(conn)
        .await?;
        row.map(|(edited_body, edited_at, withdrawn_at)| {
            Ok(EarlyEvent {
                edited_body,
                edited_at: edited_at.map(instant).transpose()?,
                withdrawn_at: withdrawn_at.map(instant).transpose()?,
            })
        })
        .transpose()
    })
}

/// The early edits and deletes of many messages of one channel, in one query per
/// 500; messages without any are absent.
pub async fn early_events(
    conn: &mut Conn,
    channel_id: i64,
    message_ids: &[&str],
) -> Result<FxHashMap<String, EarlyEvent>> {
    on!(conn, conn => {
        let mut found = FxHashMap::default();
        // Well under SQLite's limit of 32,766 bound parameters per statement.
        for chunk in message_ids.chunks(500) {
            // The channel, then the ids.
            let channel = super::backend::placeholder_list(&*conn, 1, 1);
            let ids = super::backend::placeholder_list(&*conn, 2, chunk.len());
            let sql = format!(
                "SELECT message_id, edited_body, edited_at, withdrawn_at FROM early_message_events \
                 WHERE channel_id = {channel} AND message_id IN ({ids})"
            );
            // Not kept in the connection's statement cache: its text changes with the
            // number of ids, and a hundred sizes would push out the statements that do
            // repeat.
            let mut query =
                sqlx::query_as::<_, (String, Option<String>, Option<i64>, Option<i64>)>(&sql)
                    .persistent(false)
                    .bind(channel_id);
            for id in chunk {
                query = query.bind(*id);
            }
            for (id, edited_body, edited_at, withdrawn_at) in query.fetch_all(&mut *conn).await? {
                found.insert(
                    id,
                    EarlyEvent {
                        edited_body,
                        edited_at: edited_at.map(instant).transpose()?,
                        withdrawn_at: withdrawn_at.map(instant).transpose()?,
                    },
                );
            }
        }
        Ok(found)
    })
}

/// Marks a message withdrawn (the member deleted it). `false` if unknown or already withdrawn.
pub async fn withdraw(
    conn: &mut Conn,
    channel_id: i64,
    message_id: &str,
    at: DateTime<Utc>,
) -> Result<bool> {
    on!(conn, conn => {
        let done = sqlx::query(
            "UPDATE answers SET withdrawn_at = $1 \
             WHERE channel_id = $2 AND message_id = $3 AND withdrawn_at IS NULL",
        )
        .bind(epoch(at))
        .bind(channel_id)
        .bind(message_id)
        .execute(conn)
        .await?;
        Ok(done.rows_affected() == 1)
    })
}

/// Every message of a drop, oldest first (ties in the order they were stored).
pub async fn for_drop(conn: &mut Conn, drop_id: i64) -> Result<Vec<StoredAnswer>> {
    on!(conn, conn => {
        let rows: Vec<Row> = sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM answers WHERE drop_id = $1 ORDER BY posted_at, id"
        ))
        .bind(drop_id)
        .fetch_all(conn)
        .await?;
        rows.into_iter().map(StoredAnswer::try_from).collect()
    })
}

/// One member's messages in a drop, oldest first.
pub async fn for_member(
    conn: &mut Conn,
    drop_id: i64,
    member_id: &str,
) -> Result<Vec<StoredAnswer>> {
    on!(conn, conn => {
        let rows: Vec<Row> = sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM answers WHERE drop_id = $1 AND member_id = $2 ORDER BY posted_at, id"
        ))
        .bind(drop_id)
        .bind(member_id)
        .fetch_all(conn)
        .await?;
        rows.into_iter().map(StoredAnswer::try_from).collect()
    })
}

/// The sequence numbers of a channel's revealed drops that a member answered on time
/// (a remaining message posted no later than the reveal), in increasing order.
pub async fn on_time_seqs(conn: &mut Conn, channel_id: i64, member_id: &str) -> Result<Vec<u32>> {
    on!(conn, conn => {
        // Walks the channel's drops in seq order and looks the member up in each one's
        // answers by index: no sort, and no read of other members' answers.
        let seqs: Vec<i64> = sqlx::query_scalar(
            "SELECT d.seq FROM drops d \
             WHERE d.channel_id = $1 AND d.state = 'revealed' AND EXISTS ( \
                 SELECT 1 FROM answers a \
                 WHERE a.drop_id = d.id AND a.member_id = $2 AND a.withdrawn_at IS NULL \
                   AND a.posted_at <= d.revealed_at) \
             ORDER BY d.seq",
        )
        .bind(channel_id)
        .bind(member_id)
        .fetch_all(conn)
        .await?;
        Ok(seqs.into_iter().map(|s| s as u32).collect())
    })
}

/// How many messages are stored for a channel (withdrawn ones too).
pub async fn count_for_channel(conn: &mut Conn, channel_id: i64) -> Result<u64> {
    on!(conn, conn => {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM answers WHERE channel_id = $1")
            .bind(channel_id)
            .fetch_one(conn)
            .await?;
        Ok(n as u64)
    })
}

/// How many messages of one member are stored in a channel (withdrawn ones too).
pub async fn count_for_member(conn: &mut Conn, channel_id: i64, member_id: &str) -> Result<u64> {
    on!(conn, conn => {
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM answers WHERE channel_id = $1 AND member_id = $2",
        )
        .bind(channel_id)
        .bind(member_id)
        .fetch_one(conn)
        .await?;
        Ok(n as u64)
    })
}

/// Deletes every stored message of one member in a channel; returns how many.
pub async fn delete_for_member(conn: &mut Conn, channel_id: i64, member_id: &str) -> Result<u64> {
    on!(conn, conn => {
        let done = sqlx::query("DELETE FROM answers WHERE channel_id = $1 AND member_id = $2")
            .bind(channel_id)
            .bind(member_id)
            .execute(conn)
            .await?;
        Ok(done.rows_affected())
    })
}
