//! The `drops` table: one row per channel and local date once a drop is claimed or
//! recorded as missed. Claims and reveals are leases (`lease_until`), so a process
//! that dies mid-post does not wedge the channel and a second process cannot post
//! the same drop while the lease holds.

use super::backend::{Conn, Dialect, from_row, on, ordered_join};
use chrono::{DateTime, NaiveDate, Utc};
use futures_util::TryStreamExt as _;

use super::ids::{date_from_db, date_to_db, epoch, instant};
use super::{Result, StoreError};
use crate::chat::{Platform, ThreadRef};
use crate::engine::DropState;
use crate::engine::schedule::Occurrence;
use crate::engine::streak::ChannelProgress;

/// One stored drop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DropRecord {
    pub id: i64,
    /// The channel's key (`channels.id`).
    pub channel_id: i64,
    pub local_date: NaiveDate,
    pub state: DropState,
    pub question_id: Option<String>,
    pub seq: Option<u32>,
    pub due_at: DateTime<Utc>,
    pub reveal_due_at: DateTime<Utc>,
    /// When the drop was first claimed (its first post attempt).
    pub claimed_at: Option<DateTime<Utc>>,
    pub lease_until: Option<DateTime<Utc>>,
    pub attempts: u32,
    pub posted_at: Option<DateTime<Utc>>,
    pub revealed_at: Option<DateTime<Utc>>,
    /// The platform's ids of the drop message and its thread.
    pub message_id: Option<String>,
    pub thread_id: Option<String>,
    pub failure: Option<String>,
    /// The process (`processes.id`) holding the claim or the reveal lease; `None`
    /// when nobody is working on it (done, or waiting to retry after a failure).
    pub holder: Option<String>,
    /// The process opening the posted drop's thread; `None` once it is open (or
    /// could not be). A posted drop naming a dead process still needs its thread.
    pub thread_opener: Option<String>,
}

pub(super) const COLUMNS: &str = "id, channel_id, local_date, state, question_id, seq, due_at, reveal_due_at, \
     claimed_at, lease_until, attempts, posted_at, revealed_at, message_id, thread_id, failure, holder, \
     thread_opener";

pub(super) struct Row {
    id: i64,
    channel_id: i64,
    local_date: String,
    state: String,
    question_id: Option<String>,
    seq: Option<i64>,
    due_at: i64,
    reveal_due_at: i64,
    claimed_at: Option<i64>,
    lease_until: Option<i64>,
    attempts: i64,
    posted_at: Option<i64>,
    revealed_at: Option<i64>,
    message_id: Option<String>,
    thread_id: Option<String>,
    failure: Option<String>,
    holder: Option<String>,
    thread_opener: Option<String>,
}
from_row!(Row {
    id,
    channel_id,
    local_date,
    state,
    question_id,
    seq,
    due_at,
    reveal_due_at,
    claimed_at,
    lease_until,
    attempts,
    posted_at,
    revealed_at,
    message_id,
    thread_id,
    failure,
    holder,
    thread_opener
});

fn opt_instant(v: Option<i64>) -> Result<Option<DateTime<Utc>>> {
    v.map(instant).transpose()
}

/// A claim or reveal lease to take: by which process, at `now`, until when.
#[derive(Debug, Clone, Copy)]
pub struct Lease<'a> {
    /// The registered process taking it (`processes.id`); `None` for a process that
    /// never registered (the demo, tests of one process): its claims then hold by
    /// their lease alone.
    pub holder: Option<&'a str>,
    pub now: DateTime<Utc>,
    pub until: DateTime<Utc>,
}

impl TryFrom<Row> for DropRecord {
    type Error = StoreError;
    fn try_from(r: Row) -> Result<DropRecord> {
        Ok(DropRecord {
            id: r.id,
            channel_id: r.channel_id,
            local_date: date_from_db(&r.local_date)?,
            state: r.state.parse().map_err(StoreError::Corrupt)?,
            question_id: r.question_id,
            seq: r.seq.map(|s| s as u32),
            due_at: instant(r.due_at)?,
            reveal_due_at: instant(r.reveal_due_at)?,
            claimed_at: opt_instant(r.claimed_at)?,
            lease_until: opt_instant(r.lease_until)?,
            attempts: r.attempts as u32,
            posted_at: opt_instant(r.posted_at)?,
            revealed_at: opt_instant(r.revealed_at)?,
            message_id: r.message_id,
            thread_id: r.thread_id,
            failure: r.failure,
            holder: r.holder,
            thread_opener: r.thread_opener,
        })
    }
}

async fn fetch_one_where(
    conn: &mut Conn,
    condition: &str,
    bind: i64,
) -> Result<Option<DropRecord>> {
    on!(conn, conn => {
        let row: Option<Row> =
            sqlx::query_as(&format!("SELECT {COLUMNS} FROM drops WHERE {condition}"))
                .bind(bind)
                .fetch_optional(conn)
                .await?;
        row.map(DropRecord::try_from).transpose()
    })
}

pub async fn by_id(conn: &mut Conn, id: i64) -> Result<Option<DropRecord>> {
    fetch_one_where(conn, "id = $1", id).await
}

/// `COLUMNS` of `drops d`, for queries that join.
fn joined_columns() -> String {
    super::backend::qualified_columns(COLUMNS, "d")
}

/// The drop whose answer thread an event names. The thread id is looked up first
/// (`drops_by_thread`), then narrowed to the platform and, where the platform's
/// thread ids are unique only within a channel, to that channel.
pub async fn by_thread(conn: &mut Conn, thread: &ThreadRef) -> Result<Option<DropRecord>> {
    on!(conn, conn => {
        // CROSS JOIN keeps SQLite from reordering the join: left to itself it walks every
        // channel of the platform (the `platform` prefix of the channels' unique index) and
        // probes each one's drops for the thread, on every answer event. Drops first, by
        // thread id, is a row or two whatever the number of channels.
        let row: Option<Row> = sqlx::query_as(&format!(
            "SELECT {} FROM drops d {} channels c ON c.id = d.channel_id \
             WHERE d.thread_id = $1 AND c.platform = $2 AND ($3 IS NULL OR c.conversation_id = $4)",
            joined_columns(),
            ordered_join(&*conn)
        ))
        .bind(&thread.thread)
        .bind(thread.platform.as_str())
        .bind(thread.conversation.as_deref())
        .bind(thread.conversation.as_deref())
        .fetch_optional(conn)
        .await?;
        row.map(DropRecord::try_from).transpose()
    })
}

/// The channel's drop with the latest local date, whatever its state.
pub async fn latest(conn: &mut Conn, channel_id: i64) -> Result<Option<DropRecord>> {
    fetch_one_where(
        conn,
        "channel_id = $1 ORDER BY local_date DESC LIMIT 1",
        channel_id,
    )
    .await
}

/// The question of the channel's latest posted drop.
pub async fn last_posted_question(conn: &mut Conn, channel_id: i64) -> Result<Option<String>> {
    on!(conn, conn => {
        let id: Option<Option<String>> = sqlx::query_scalar(
            "SELECT question_id FROM drops WHERE channel_id = $1 AND seq IS NOT NULL ORDER BY seq DESC LIMIT 1",
        )
        .bind(channel_id)
        .fetch_optional(conn)
        .await?;
        Ok(id.flatten())
    })
}

/// The channel's claimed drops (being posted, or waiting to retry), oldest first.
pub async fn claimed(conn: &mut Conn, channel_id: i64) -> Result<Vec<DropRecord>> {
    on!(conn, conn => {
        let rows: Vec<Row> = sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM drops WHERE channel_id = $1 AND state = 'claimed' ORDER BY local_date"
        ))
        .bind(channel_id)
        .fetch_all(conn)
        .await?;
        rows.into_iter().map(DropRecord::try_from).collect()
    })
}

/// The channel's open drop (posted, not revealed), if any.
pub async fn open(conn: &mut Conn, channel_id: i64) -> Result<Option<DropRecord>> {
    fetch_one_where(conn, "channel_id = $1 AND state = 'posted'", channel_id).await
}

pub async fn for_date(
    conn: &mut Conn,
    channel_id: i64,
    date: NaiveDate,
) -> Result<Option<DropRecord>> {
    on!(conn, conn => {
        let row: Option<Row> = sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM drops WHERE channel_id = $1 AND local_date = $2"
        ))
        .bind(channel_id)
        .bind(date_to_db(date))
        .fetch_optional(conn)
        .await?;
        row.map(DropRecord::try_from).transpose()
    })
}

/// Drops in a state, across channels, by id.
pub async fn in_state(conn: &mut Conn, state: DropState) -> Result<Vec<DropRecord>> {
    on!(conn, conn => {
        // The state written in, as in [`in_state_with_platform`] (why there): a
        // session keeps one plan per statement, and one plan for every state
        // would guess a third of all drops.
        let rows: Vec<Row> = sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM drops WHERE state = '{}' ORDER BY id",
            state.as_str()
        ))
        .fetch_all(conn)
        .await?;
        rows.into_iter().map(DropRecord::try_from).collect()
    })
}

/// Drops in a state, across channels, by id, each with its channel's platform (what
/// the scheduler's agenda routes by).
pub async fn in_state_with_platform(conn: &mut Conn, state: DropState) -> Result<Vec<InState>> {
    on!(conn, conn => {
        struct WithPlatform {
            drop: Row,
            platform: String,
            holder_heard_at: Option<i64>,
            opener_heard_at: Option<i64>,
        }
        from_row!(WithPlatform { platform, holder_heard_at, opener_heard_at } flatten { drop });
        // CROSS JOIN: the drops in the state first (drops_in_state), then each one's
        // channel by its key, and its holder's and its thread opener's heartbeats by
        // the process id.
        // The state is written into the statement, not bound: it is one of five
        // constants of our own, and PostgreSQL plans a prepared statement once for
        // any value, guessing a third of all drops for `state = $1` and hashing the
        // whole channels table; with the constant it sees how few drops are open or
        // claimed and walks the indexes (tests/query_plans.rs).
        let sql = format!(
            "SELECT {}, c.platform, p.heard_at AS holder_heard_at, o.heard_at AS opener_heard_at \
             FROM drops d {} channels c ON c.id = d.channel_id \
             LEFT JOIN processes p ON p.id = d.holder \
             LEFT JOIN processes o ON o.id = d.thread_opener \
             WHERE d.state = '{}' ORDER BY d.id",
            joined_columns(),
            ordered_join(&*conn),
            state.as_str()
        );
        // Each row becomes its record as it arrives: the scheduler reads every open
        // drop twice a pass, and collecting the rows first held two lists of them
        // at once (0.7 MB off a 5,000-channel fan-out's peak heap, heaptrack).
        let mut rows = sqlx::query_as::<_, WithPlatform>(&sql).fetch(conn);
        let mut found = Vec::new();
        while let Some(r) = rows.try_next().await? {
            found.push(InState {
                platform: r.platform.parse().map_err(StoreError::Corrupt)?,
                holder_heard_at: opt_instant(r.holder_heard_at)?,
                opener_heard_at: opt_instant(r.opener_heard_at)?,
                drop: DropRecord::try_from(r.drop)?,
            });
        }
        Ok(found)
    })
}

/// A drop in a state, with its channel's platform and, when its lease (or its
/// thread's opening) names a registered process, that process's last heartbeat.
#[derive(Debug, Clone)]
pub struct InState {
    pub drop: DropRecord,
    pub platform: Platform,
    pub holder_heard_at: Option<DateTime<Utc>>,
    /// Likewise for the process opening its thread (`thread_opener`).
    pub opener_heard_at: Option<DateTime<Utc>>,
}

/// Drops of every channel of a workspace that are out or going out (claimed or
/// posted, not revealed), through the channels table, in no particular order.
pub async fn open_in_workspace(
    conn: &mut Conn,
    platform: Platform,
    workspace: &str,
) -> Result<Vec<DropRecord>> {
    on!(conn, conn => {
        // CROSS JOIN keeps SQLite from reordering the join: the workspace's channels first
        // (channels_by_workspace), then each one's claimed or posted drops
        // (drops_by_channel_state), rather than every open drop of every workspace.
        let rows: Vec<Row> = sqlx::query_as(&format!(
            "SELECT {} FROM channels c {} drops d ON d.channel_id = c.id \
             WHERE c.platform = $1 AND c.workspace_id = $2 AND d.state IN ('claimed', 'posted')",
            joined_columns(),
            ordered_join(&*conn)
        ))
        .bind(platform.as_str())
        .bind(workspace)
        .fetch_all(conn)
        .await?;
        rows.into_iter().map(DropRecord::try_from).collect()
    })
}

/// Drops being posted or revealed whose lease names a holder, by holder then id
/// (`prepbot status`: the claims each process holds). Through `drops_in_state`.
pub async fn held(conn: &mut Conn) -> Result<Vec<DropRecord>> {
    on!(conn, conn => {
        let rows: Vec<Row> = sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM drops \
             WHERE state IN ('claimed', 'posted') AND holder IS NOT NULL ORDER BY holder, id"
        ))
        .fetch_all(conn)
        .await?;
        rows.into_iter().map(DropRecord::try_from).collect()
    })
}

/// Inserts a claimed drop; `None` when that channel and date already have a row.
pub async fn insert_claimed(
    conn: &mut Conn,
    channel_id: i64,
    occ: &Occurrence,
    question_id: &str,
    lease: Lease<'_>,
) -> Result<Option<i64>> {
    on!(conn, conn => {
        let id: Option<i64> = sqlx::query_scalar(
            "INSERT INTO drops (channel_id, local_date, state, question_id, due_at, reveal_due_at, \
                 claimed_at, lease_until, attempts, holder) \
             VALUES ($1, $2, 'claimed', $3, $4, $5, $6, $7, 1, $8) \
             ON CONFLICT (channel_id, local_date) DO NOTHING RETURNING id",
        )
        .bind(channel_id)
        .bind(date_to_db(occ.local_date))
        .bind(question_id)
        .bind(epoch(occ.drop_at))
        .bind(epoch(occ.reveal_at))
        .bind(epoch(lease.now))
        .bind(epoch(lease.until))
        .bind(lease.holder)
        .fetch_optional(conn)
        .await?;
        Ok(id)
    })
}

/// Turns a missed or failed row back into a claim (an on-demand drop for a date
/// whose scheduled drop never went out). `false` if the row is in another state.
pub async fn reclaim(
    conn: &mut Conn,
    id: i64,
    occ: &Occurrence,
    question_id: &str,
    lease: Lease<'_>,
) -> Result<bool> {
    on!(conn, conn => {
        let done = sqlx::query(
            "UPDATE drops SET state = 'claimed', question_id = $1, due_at = $2, reveal_due_at = $3, \
                 claimed_at = $4, lease_until = $5, attempts = 1, failure = NULL, holder = $6 \
             WHERE id = $7 AND state IN ('missed', 'failed')",
        )
        .bind(question_id)
        .bind(epoch(occ.drop_at))
        .bind(epoch(occ.reveal_at))
        .bind(epoch(lease.now))
        .bind(epoch(lease.until))
        .bind(lease.holder)
        .bind(id)
        .execute(conn)
        .await?;
        Ok(done.rows_affected() == 1)
    })
}

pub async fn insert_missed(conn: &mut Conn, channel_id: i64, occ: &Occurrence) -> Result<()> {
    on!(conn, conn => {
        sqlx::query(
            "INSERT INTO drops (channel_id, local_date, state, due_at, reveal_due_at) \
             VALUES ($1, $2, 'missed', $3, $4) ON CONFLICT (channel_id, local_date) DO NOTHING",
        )
        .bind(channel_id)
        .bind(date_to_db(occ.local_date))
        .bind(epoch(occ.drop_at))
        .bind(epoch(occ.reveal_at))
        .execute(conn)
        .await?;
        Ok(())
    })
}

/// Records a scheduled drop that could not even be claimed (no question matched),
/// so the schedule moves past its date instead of retrying it forever.
pub async fn insert_failed(
    conn: &mut Conn,
    channel_id: i64,
    occ: &Occurrence,
    failure: &str,
) -> Result<()> {
    on!(conn, conn => {
        sqlx::query(
            "INSERT INTO drops (channel_id, local_date, state, due_at, reveal_due_at, failure) \
             VALUES ($1, $2, 'failed', $3, $4, $5) ON CONFLICT (channel_id, local_date) DO NOTHING",
        )
        .bind(channel_id)
        .bind(date_to_db(occ.local_date))
        .bind(epoch(occ.drop_at))
        .bind(epoch(occ.reveal_at))
        .bind(failure)
        .execute(conn)
        .await?;
        Ok(())
    })
}

/// What trying to take a drop's lease came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeaseTake {
    Taken,
    /// A live process holds it, it waits to retry, or the drop is not in the state.
    NotFree,
    /// Another transaction has the row locked right now (PostgreSQL: another
    /// process taking the same lease, most likely): skipped, not waited for. Look
    /// again in a moment; by then the row says who took it.
    Busy,
}

/// Takes the lease of a claimed drop to post it again: its lease ran out, or its
/// holder is dead ([`super::processes`]).
pub async fn renew_claim(conn: &mut Conn, id: i64, lease: Lease<'_>) -> Result<LeaseTake> {
    take_free_lease(conn, id, DropState::Claimed, lease).await
}

/// Takes the lease of a drop in `state` when it is free for `lease.holder`: no
/// lease, a lease that ran out, or a dead holder ([`super::processes`]).
///
/// On PostgreSQL the row is locked first with `FOR NO KEY UPDATE SKIP LOCKED` (in a
/// transaction without the store's write lock, `Store::lease_write`): a process
/// that finds it locked moves on at once ([`LeaseTake::Busy`]) instead of waiting
/// for the other to commit and then finding the lease taken. `NO KEY`: answers
/// being inserted for the drop hold `FOR KEY SHARE` on it (their foreign key), which
/// that lock does not conflict with. The update's own condition is what makes the
/// lease exclusive, on both backends; the lock only spares the wait.
async fn take_free_lease(
    conn: &mut Conn,
    id: i64,
    state: DropState,
    lease: Lease<'_>,
) -> Result<LeaseTake> {
    on!(conn, conn => {
        if !conn.is_sqlite_dialect() {
            let free: Option<(i64,)> =
                sqlx::query_as("SELECT id FROM drops WHERE id = $1 FOR NO KEY UPDATE SKIP LOCKED")
                    .bind(id)
                    .fetch_optional(&mut *conn)
                    .await?;
            if free.is_none() {
                return Ok(LeaseTake::Busy);
            }
        }
        let done = sqlx::query(&format!(
            "UPDATE drops SET lease_until = $1, holder = $2, attempts = attempts + 1 \
             WHERE id = $3 AND state = $6 AND {}",
            super::processes::lease_free_sql("$4", "$2", "$5")
        ))
        .bind(epoch(lease.until))
        .bind(lease.holder)
        .bind(id)
        .bind(epoch(lease.now))
        .bind(epoch(lease.now - super::processes::PROCESS_LAPSE))
        .bind(state.as_str())
        .execute(conn)
        .await?;
        Ok(if done.rows_affected() == 1 {
            LeaseTake::Taken
        } else {
            LeaseTake::NotFree
        })
    })
}

/// Takes the lease of a claimed drop whatever it says: `/drop` finishing today's
/// drop whose holder is dead or that waits to retry. The caller has checked, in the
/// same write transaction, that no live process is posting it.
pub async fn take_claim(conn: &mut Conn, id: i64, lease: Lease<'_>) -> Result<bool> {
    on!(conn, conn => {
        let done = sqlx::query(
            "UPDATE drops SET lease_until = $1, holder = $2, attempts = attempts + 1 \
             WHERE id = $3 AND state = 'claimed'",
        )
        .bind(epoch(lease.until))
        .bind(lease.holder)
        .bind(id)
        .execute(conn)
        .await?;
        Ok(done.rows_affected() == 1)
    })
}

/// The next sequence number of a channel. A read the caller then writes: safe only
/// inside a write transaction, where no other writer runs ([`super::Store::write`]).
pub async fn next_seq(conn: &mut Conn, channel_id: i64) -> Result<u32> {
    on!(conn, conn => {
        let max: Option<i64> = sqlx::query_scalar("SELECT MAX(seq) FROM drops WHERE channel_id = $1")
            .bind(channel_id)
            .fetch_one(conn)
            .await?;
        Ok(max.unwrap_or(0) as u32 + 1)
    })
}

/// Records a claimed drop as posted. `opener` is the process about to open its
/// thread (kept in `thread_opener` until [`thread_opened`]), so that a process
/// dying between the post and the thread leaves a mark someone else can finish.
pub async fn mark_posted(
    conn: &mut Conn,
    id: i64,
    seq: u32,
    message_id: &str,
    thread_id: &str,
    posted_at: DateTime<Utc>,
    opener: Option<&str>,
) -> Result<bool> {
    on!(conn, conn => {
        let done = sqlx::query(
            "UPDATE drops SET state = 'posted', seq = $1, message_id = $2, thread_id = $3, posted_at = $4, \
                 lease_until = NULL, holder = NULL, failure = NULL, attempts = 0, thread_opener = $6 \
             WHERE id = $5 AND state = 'claimed'",
        )
        .bind(seq as i64)
        .bind(message_id)
        .bind(thread_id)
        .bind(epoch(posted_at))
        .bind(id)
        .bind(opener)
        .execute(conn)
        .await?;
        Ok(done.rows_affected() == 1)
    })
}

/// Records that the drop's thread is open (as `thread_id`, when the platform gave it
/// an id of its own) or will not be: nobody needs to open it any more.
pub async fn thread_opened(conn: &mut Conn, id: i64, thread_id: Option<&str>) -> Result<()> {
    on!(conn, conn => {
        sqlx::query(
            "UPDATE drops SET thread_id = COALESCE($1, thread_id), thread_opener = NULL WHERE id = $2",
        )
        .bind(thread_id)
        .bind(id)
        .execute(conn)
        .await?;
        Ok(())
    })
}

/// Takes over opening a posted drop's thread from a dead process: its opener is
/// another process without a row, or whose heartbeat is from before `lapsed_at`
/// (`now` minus [`super::processes::PROCESS_LAPSE`]). One conditional statement, so
/// two processes seeing the same dead opener cannot both take it. `false` when the
/// thread is open, or its opener is alive or is `me`.
pub async fn take_thread(
    conn: &mut Conn,
    id: i64,
    me: &str,
    lapsed_at: DateTime<Utc>,
) -> Result<bool> {
    on!(conn, conn => {
        let done = sqlx::query(
            "UPDATE drops SET thread_opener = $1 \
             WHERE id = $2 AND state = 'posted' AND thread_opener IS NOT NULL AND thread_opener <> $1 \
               AND NOT EXISTS (SELECT 1 FROM processes p WHERE p.id = drops.thread_opener AND p.heard_at > $3)",
        )
        .bind(me)
        .bind(id)
        .bind(epoch(lapsed_at))
        .execute(conn)
        .await?;
        Ok(done.rows_affected() == 1)
    })
}

/// Records a failed attempt: keeps the claim for a retry at `retry_at`, or fails the
/// drop for good when `retry_at` is `None`.
pub async fn record_failure(
    conn: &mut Conn,
    id: i64,
    failure: &str,
    retry_at: Option<DateTime<Utc>>,
) -> Result<()> {
    on!(conn, conn => {
        match retry_at {
            Some(at) => sqlx::query(
                "UPDATE drops SET lease_until = $1, holder = NULL, failure = $2 \
                 WHERE id = $3 AND state = 'claimed'",
            )
            .bind(epoch(at))
            .bind(failure)
            .bind(id)
            .execute(conn)
            .await?,
            None => {
                sqlx::query(
                    "UPDATE drops SET state = 'failed', lease_until = NULL, holder = NULL, failure = $1 \
                     WHERE id = $2 AND state = 'claimed'",
                )
                .bind(failure)
                .bind(id)
                .execute(conn)
                .await?
            }
        };
        Ok(())
    })
}

/// Takes the reveal lease of an open drop (see [`take_free_lease`]).
pub async fn lease_reveal(conn: &mut Conn, id: i64, lease: Lease<'_>) -> Result<LeaseTake> {
    take_free_lease(conn, id, DropState::Posted, lease).await
}

/// Releases a reveal lease after a failed attempt, to retry at `retry_at`.
pub async fn retry_reveal_at(
    conn: &mut Conn,
    id: i64,
    failure: &str,
    retry_at: DateTime<Utc>,
) -> Result<()> {
    on!(conn, conn => {
        sqlx::query(
            "UPDATE drops SET lease_until = $1, holder = NULL, failure = $2 \
             WHERE id = $3 AND state = 'posted'",
        )
        .bind(epoch(retry_at))
        .bind(failure)
        .bind(id)
        .execute(conn)
        .await?;
        Ok(())
    })
}

/// Closes an open drop. `failure` is kept when the reveal could not be posted and
/// the drop was closed anyway.
pub async fn mark_revealed(
    conn: &mut Conn,
    id: i64,
    revealed_at: DateTime<Utc>,
    failure: Option<&str>,
) -> Result<bool> {
    on!(conn, conn => {
        let done = sqlx::query(
            "UPDATE drops SET state = 'revealed', revealed_at = $1, lease_until = NULL, holder = NULL, failure = $2 \
             WHERE id = $3 AND state = 'posted'",
        )
        .bind(epoch(revealed_at))
        .bind(failure)
        .bind(id)
        .execute(conn)
        .await?;
        Ok(done.rows_affected() == 1)
    })
}

/// The channel's latest sequence number and whether that drop is still open.
pub async fn progress(conn: &mut Conn, channel_id: i64) -> Result<ChannelProgress> {
    on!(conn, conn => {
        let row: Option<(i64, String)> = sqlx::query_as(
            "SELECT seq, state FROM drops WHERE channel_id = $1 AND seq IS NOT NULL ORDER BY seq DESC LIMIT 1",
        )
        .bind(channel_id)
        .fetch_optional(conn)
        .await?;
        Ok(match row {
            Some((seq, state)) => progress_of(Some(seq), Some(state)),
            None => progress_of(None, None),
        })
    })
}

/// [`progress`] as two columns of a statement over channels, `progress_seq` and
/// `progress_state` (NULL when nothing was posted yet), for the channel whose key is
/// `channel` (a column, `c.id`): the same walk of the `(channel_id, seq)` index.
pub(super) fn progress_columns(channel: &str) -> String {
    let latest = format!(
        "FROM drops p WHERE p.channel_id = {channel} AND p.seq IS NOT NULL ORDER BY p.seq DESC LIMIT 1"
    );
    format!("(SELECT p.seq {latest}) AS progress_seq, (SELECT p.state {latest}) AS progress_state")
}

/// A channel's progress from its latest posted drop's sequence number and state.
pub(super) fn progress_of(seq: Option<i64>, state: Option<String>) -> ChannelProgress {
    match seq {
        Some(seq) => ChannelProgress {
            latest_seq: seq as u32,
            latest_open: state.as_deref() == Some(DropState::Posted.as_str()),
        },
        None => ChannelProgress::default(),
    }
}

/// The states a stored drop can be in (`due` is never stored), in the order their
/// names sort: the order [`count_by_state`] lists them in.
pub(super) const STORED_STATES: [DropState; 5] = [
    DropState::Claimed,
    DropState::Failed,
    DropState::Missed,
    DropState::Posted,
    DropState::Revealed,
];

/// [`count_by_state`] as one column per state of a statement over channels,
/// `{state}_drops`, for the channel whose key is `channel` (a column, `c.id`): each
/// a count over the `(channel_id, state)` prefix of `drops_by_channel_state`.
pub(super) fn count_columns(channel: &str) -> String {
    STORED_STATES
        .iter()
        .map(|s| {
            format!(
                "(SELECT COUNT(*) FROM drops n WHERE n.channel_id = {channel} AND n.state = '{s}') AS {s}_drops"
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// How many drops of each state a channel has, by the state's name (what
/// `/schedule remove` counts; `/schedule show` reads the same as [`count_columns`]).
pub async fn count_by_state(conn: &mut Conn, channel_id: i64) -> Result<Vec<(DropState, u32)>> {
    on!(conn, conn => {
        let rows: Vec<(String, i64)> = sqlx::query_as(
            "SELECT state, COUNT(*) FROM drops WHERE channel_id = $1 GROUP BY state ORDER BY state",
        )
        .bind(channel_id)
        .fetch_all(conn)
        .await?;
        rows.into_iter()
            .map(|(s, n)| Ok((s.parse().map_err(StoreError::Corrupt)?, n as u32)))
            .collect()
    })
}

/// Writes drops that already happened, ids and all, many per statement: the seed
/// generator's history (`crate::seed`), never the bot's own path.
pub async fn insert_history(conn: &mut Conn, rows: &[DropRecord]) -> Result<()> {
    on!(conn, conn => {
        // 18 bound parameters a row, 1,800 a statement: well under SQLite's 32,766.
        for chunk in rows.chunks(100) {
            let mut q = super::backend::query_builder(&*conn, format!("INSERT INTO drops ({COLUMNS}) "));
            q.push_values(chunk, |mut b, d| {
                b.push_bind(d.id)
                    .push_bind(d.channel_id)
                    .push_bind(date_to_db(d.local_date))
                    .push_bind(d.state.as_str())
                    .push_bind(d.question_id.clone())
                    .push_bind(d.seq.map(i64::from))
                    .push_bind(epoch(d.due_at))
                    .push_bind(epoch(d.reveal_due_at))
                    .push_bind(d.claimed_at.map(epoch))
                    .push_bind(d.lease_until.map(epoch))
                    .push_bind(i64::from(d.attempts))
                    .push_bind(d.posted_at.map(epoch))
                    .push_bind(d.revealed_at.map(epoch))
                    .push_bind(d.message_id.clone())
                    .push_bind(d.thread_id.clone())
                    .push_bind(d.failure.clone())
                    .push_bind(d.holder.clone())
                    .push_bind(d.thread_opener.clone());
            });
            q.build().persistent(false).execute(&mut *conn).await?;
        }
        Ok(())
    })
}
