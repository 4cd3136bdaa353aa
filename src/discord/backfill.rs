//! Catching up after the bot was away. Discord does not replay the events a bot
//! missed, so on startup (and after a gateway session was lost) each open drop's
//! thread is listed (`GET /channels/{thread}/messages?after=…`, a page of 100 at a
//! time) and the stored answers are brought in line with it: answers posted while
//! away are stored, edits applied, deleted ones withdrawn (see
//! [`Practice::reconcile_thread`]). Runs before the scheduler's first pass, so a
//! reveal that fell due while the bot was down counts the answers given meanwhile.

use chrono::{DateTime, Utc};
use tracing::{info, warn};

use super::messages::{acknowledge_with, incoming};
use super::rest::{Rest, RestError};
use crate::acks::AckQueue;
use crate::practice::{ListedMessage, Practice};
use crate::store::drops::DropRecord;

/// Messages per page (Discord's maximum).
const PAGE: u8 = 100;

/// What a backfill did, over all open drops.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Backfilled {
    pub drops: usize,
    pub stored: usize,
    pub withdrawn: usize,
    /// Threads that could not be listed (logged; their answers are left as stored).
    pub failed: usize,
}

/// Catches up on every open drop's thread. One thread's failure is logged and
/// the others go on; a thread that could not be listed completely withdraws
/// nothing.
pub async fn run(
    practice: &Practice,
    rest: &Rest,
    acks: &AckQueue,
    now: DateTime<Utc>,
) -> Backfilled {
    let mut total = Backfilled::default();
    let drops = match practice.open_drops().await {
        Ok(d) => d,
        Err(e) => {
            warn!(error = %e, "cannot list open drops to catch up on; skipping the backfill");
            return total;
        }
    };
    for drop in drops {
        total.drops += 1;
        match one(practice, rest, acks, &drop, now).await {
            Ok((stored, withdrawn)) => {
                total.stored += stored;
                total.withdrawn += withdrawn;
            }
            Err(e) => {
                total.failed += 1;
                warn!(drop = drop.id, channel = drop.channel_id, error = %e, "could not catch up on a drop's thread");
            }
        }
    }
    if total.drops > 0 {
        info!(
            drops = total.drops,
            stored = total.stored,
            withdrawn = total.withdrawn,
            failed = total.failed,
            "caught up on open drops"
        );
    }
    total
}

async fn one(
    practice: &Practice,
    rest: &Rest,
    acks: &AckQueue,
    drop: &DropRecord,
    now: DateTime<Utc>,
) -> anyhow::Result<(usize, usize)> {
    let Some(thread) = drop
        .thread_id
        .as_deref()
        .or(drop.message_id.as_deref())
        .and_then(|id| id.parse::<u64>().ok())
    else {
        return Ok((0, 0));
    };
    let (listed, up_to) = list_thread(rest, thread).await?;
    // The core compares times, not ids: a snowflake carries the instant it was made.
    let up_to = snowflake_time(up_to);
    let done = practice.reconcile_thread(drop, listed, up_to, now).await?;
    for (message_id, recorded) in &done.stored {
        if let Ok(message_id) = message_id.parse::<u64>() {
            acknowledge_with(acks, thread, message_id, Some(*recorded));
        }
    }
    Ok((done.stored.len(), done.withdrawn))
}

/// Every member message in a thread, oldest first, and the highest message id
/// listed (members' or not).
async fn list_thread(rest: &Rest, thread: u64) -> Result<(Vec<ListedMessage>, u64), RestError> {
    // Everything in a thread started from a message has a later id than it.
    let mut after = thread;
    let mut listed = Vec::new();
    loop {
        let page = rest.messages(thread, Some(after), PAGE).await?;
        let full = page.len() >= PAGE as usize;
        let Some(max) = page.iter().map(|m| m.id.get()).max() else {
            break;
        };
        if max <= after {
            break; // a server that ignores `after`: do not loop forever
        }
        after = max;
        listed.extend(page.iter().filter_map(|m| {
            incoming(m).map(|message| ListedMessage {
                message,
                edited_at: m.edited_timestamp.map(|t| *t),
            })
        }));
        if !full {
            break;
        }
    }
    listed.sort_by_key(|l| l.message.message_id.parse::<u64>().unwrap_or_default());
    Ok((listed, after))
}

/// The instant a Discord snowflake was made: its top 42 bits are milliseconds since
/// 2015-01-01 (Discord's epoch). The listing's cursor is an id; the core's is a time.
fn snowflake_time(id: u64) -> DateTime<Utc> {
    const DISCORD_EPOCH_MS: i64 = 1_420_070_400_000;
    let ms = (id >> 22) as i64 + DISCORD_EPOCH_MS;
    DateTime::from_timestamp_millis(ms).unwrap_or(DateTime::<Utc>::MIN_UTC)
}
