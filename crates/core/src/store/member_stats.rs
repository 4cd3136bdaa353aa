//! The `member_stats` table: settled streaks per member per channel.

use super::backend::{Conn, from_row, on};

use super::ids::{epoch, instant};
use super::{Result, StoreError};
use crate::engine::streak::MemberStreak;

/// A member's stored stats in one channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberStats {
    pub channel_id: i64,
    pub member_id: String,
    pub member_name: String,
    pub streak: MemberStreak,
}

pub(super) const COLUMNS: &str = "channel_id, member_id, member_name, current_streak, best_streak, total_on_time, \
     last_seq, last_answered_at";

pub(super) struct Row {
    channel_id: i64,
    member_id: String,
    member_name: String,
    current_streak: i64,
    best_streak: i64,
    total_on_time: i64,
    last_seq: i64,
    last_answered_at: i64,
}
from_row!(Row {
    channel_id,
    member_id,
    member_name,
    current_streak,
    best_streak,
    total_on_time,
    last_seq,
    last_answered_at
});

impl TryFrom<Row> for MemberStats {
    type Error = StoreError;
    fn try_from(r: Row) -> Result<MemberStats> {
        Ok(MemberStats {
            channel_id: r.channel_id,
            member_id: r.member_id,
            member_name: r.member_name,
            streak: MemberStreak {
                current: r.current_streak as u32,
                best: r.best_streak as u32,
                total_on_time: r.total_on_time as u32,
                last_seq: r.last_seq as u32,
                last_answered_at: instant(r.last_answered_at)?,
            },
        })
    }
}

/// A member's stats. Settling reads them with this and writes them back with
/// [`upsert`]: in one write transaction, where no other writer runs
/// ([`super::Store::write`]), or a settlement could be lost.
pub async fn get(conn: &mut Conn, channel_id: i64, member_id: &str) -> Result<Option<MemberStats>> {
    on!(conn, conn => {
        let row: Option<Row> = sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM member_stats WHERE channel_id = $1 AND member_id = $2"
        ))
        .bind(channel_id)
        .bind(member_id)
        .fetch_optional(conn)
        .await?;
        row.map(MemberStats::try_from).transpose()
    })
}

pub async fn upsert(conn: &mut Conn, s: &MemberStats) -> Result<()> {
    on!(conn, conn => {
        sqlx::query(
            "INSERT INTO member_stats (channel_id, member_id, member_name, current_streak, best_streak, \
                 total_on_time, last_seq, last_answered_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
             ON CONFLICT (channel_id, member_id) DO UPDATE SET member_name = excluded.member_name, \
                 current_streak = excluded.current_streak, best_streak = excluded.best_streak, \
                 total_on_time = excluded.total_on_time, last_seq = excluded.last_seq, \
                 last_answered_at = excluded.last_answered_at",
        )
        .bind(s.channel_id)
        .bind(&s.member_id)
        .bind(&s.member_name)
        .bind(s.streak.current as i64)
        .bind(s.streak.best as i64)
        .bind(s.streak.total_on_time as i64)
        .bind(s.streak.last_seq as i64)
        .bind(epoch(s.streak.last_answered_at))
        .execute(conn)
        .await?;
        Ok(())
    })
}

/// The top `limit` members of a channel by current streak, then total on-time
/// answers, then name. A stored streak counts as current only when its last answered
/// sequence is `latest_revealed_seq`, the channel's latest revealed drop (see
/// `engine::streak::current_streak`): streaks settle only at reveals, so no stored
/// one is newer.
pub async fn leaderboard(
    conn: &mut Conn,
    channel_id: i64,
    latest_revealed_seq: u32,
    limit: u32,
) -> Result<Vec<MemberStats>> {
    on!(conn, conn => {
        // Sorting on the current streak itself (which depends on `latest_revealed_seq`)
        // would sort every member of the channel. Instead, two walks of an index, each
        // stopping at `limit`: the members whose streak is current (ranked above all
        // others, whose current streak counts as 0), by streak; then the others, by
        // on-time answers. The second reads only what the first left of `limit`
        // (none when the first filled it), so it skips fewer than `limit` rows with
        // a current streak. (Its LIMIT says so, not its WHERE: SQLite tests a WHERE
        // on the first's count at every row, and walked a channel of 300,000
        // members whole; with LIMIT 0 neither backend starts the walk.)
        // Both walks are one statement, one round trip: `/leaderboard` on PostgreSQL
        // was a round trip per walk (BENCHMARKS.md, "command latency on
        // PostgreSQL"). A union keeps no order, so each row says which walk found
        // it, and [`ranked`] puts them in order here, at most 2 × `limit` rows.
        // Names in the order the indexes hold them (ASCII letters folded).
        let name = super::backend::nocase_for(&*conn, "member_name");
        let rows = sqlx::query(&format!(
            "WITH {} {}",
            board_walks(&name, "$1", "$2", "$3"),
            board_rows(&name, "$1", "$2", "$3")
        ))
        .bind(channel_id)
        .bind(latest_revealed_seq as i64)
        .bind(limit as i64)
        .fetch_all(conn)
        .await?;
        let mut found = Vec::with_capacity(rows.len());
        for row in &rows {
            use sqlx::Row as _;
            let walk: i64 = row.try_get("walk")?;
            let id: i64 = row.try_get("id")?;
            found.push((walk, id, MemberStats::try_from(<Row as sqlx::FromRow<_>>::from_row(row)?)?));
        }
        Ok(ranked(found, limit))
    })
}

/// The first of [`leaderboard`]'s walks, as a `WITH` item named `current_top`, for
/// the channel `channel`, the latest revealed sequence number `revealed` and the
/// row limit `limit` (each a parameter or an expression); `name`: the member name
/// as the indexes order it.
pub(super) fn board_walks(name: &str, channel: &str, revealed: &str, limit: &str) -> String {
    format!(
        "current_top AS ( \
             SELECT id, {COLUMNS} FROM member_stats \
             WHERE channel_id = {channel} AND last_seq = {revealed} AND current_streak > 0 \
             ORDER BY current_streak DESC, total_on_time DESC, {name}, id \
             LIMIT {limit})"
    )
}

/// [`leaderboard`]'s rows (after [`board_walks`] with the same arguments): the first
/// walk's, then the second walk's, up to what the first left of the limit; each row
/// with `walk` (0 or 1) and its `id`, for [`ranked`].
pub(super) fn board_rows(name: &str, channel: &str, revealed: &str, limit: &str) -> String {
    format!(
        "SELECT CAST(0 AS BIGINT) AS walk, id, {COLUMNS} FROM current_top \
         UNION ALL \
         SELECT * FROM ( \
             SELECT CAST(1 AS BIGINT) AS walk, id, {COLUMNS} FROM member_stats \
             WHERE channel_id = {channel} AND NOT (last_seq = {revealed} AND current_streak > 0) \
             ORDER BY total_on_time DESC, {name}, id \
             LIMIT {limit} - (SELECT COUNT(*) FROM current_top)) AS others"
    )
}

/// The two walks' rows in the order each walk read them, first walk first, cut to
/// `limit`: the order of their `ORDER BY`s, with names compared as
/// `member_name COLLATE NOCASE` (SQLite) and `prepbot_nocase(member_name)`
/// (PostgreSQL, bytes) compare them: ASCII letters folded, then byte by byte.
pub(super) fn ranked(mut found: Vec<(i64, i64, MemberStats)>, limit: u32) -> Vec<MemberStats> {
    fn folded(name: &str) -> impl Iterator<Item = u8> + '_ {
        name.bytes().map(|b| b.to_ascii_lowercase())
    }
    found.sort_by(|(walk_a, id_a, a), (walk_b, id_b, b)| {
        let streak = |walk: i64, s: &MemberStats| if walk == 0 { s.streak.current } else { 0 };
        walk_a
            .cmp(walk_b)
            .then(streak(*walk_b, b).cmp(&streak(*walk_a, a)))
            .then(b.streak.total_on_time.cmp(&a.streak.total_on_time))
            .then_with(|| folded(&a.member_name).cmp(folded(&b.member_name)))
            .then(id_a.cmp(id_b))
    });
    found
        .into_iter()
        .take(limit as usize)
        .map(|(_, _, s)| s)
        .collect()
}

/// Writes many members' stats, many per statement: the seed generator's bulk load
/// (`crate::seed`); the bot settles streaks one member at a time with [`upsert`].
pub async fn insert_many(conn: &mut Conn, rows: &[MemberStats]) -> Result<()> {
    on!(conn, conn => {
        // 8 bound parameters a row, 800 a statement.
        for chunk in rows.chunks(100) {
            let mut q = super::backend::query_builder(&*conn, format!("INSERT INTO member_stats ({COLUMNS}) "));
            q.push_values(chunk, |mut b, s| {
                b.push_bind(s.channel_id)
                    .push_bind(s.member_id.clone())
                    .push_bind(s.member_name.clone())
                    .push_bind(s.streak.current as i64)
                    .push_bind(s.streak.best as i64)
                    .push_bind(s.streak.total_on_time as i64)
                    .push_bind(s.streak.last_seq as i64)
                    .push_bind(epoch(s.streak.last_answered_at));
            });
            q.build().persistent(false).execute(&mut *conn).await?;
        }
        Ok(())
    })
}

/// Deletes a member's stats in a channel; false if there were none.
pub async fn delete(conn: &mut Conn, channel_id: i64, member_id: &str) -> Result<bool> {
    on!(conn, conn => {
        let done = sqlx::query("DELETE FROM member_stats WHERE channel_id = $1 AND member_id = $2")
            .bind(channel_id)
            .bind(member_id)
            .execute(conn)
            .await?;
        Ok(done.rows_affected() == 1)
    })
}
