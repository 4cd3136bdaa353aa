//! Catching up after an adapter was away. Platforms do not replay the events a bot
//! missed, so when an adapter starts (and after it lost its session), each of its
//! platform's open drops has its thread listed again ([`ThreadHistory`], the
//! adapter's port) and the stored answers are brought in line with it: answers
//! posted while away are stored and acknowledged, edits applied, deleted ones
//! withdrawn ([`Practice::reconcile_thread`]). It runs before the scheduler's first
//! pass, so a reveal that fell due while the bot was down counts the answers given
//! meanwhile.

use std::future::Future;

use chrono::{DateTime, Utc};
use tracing::{info, warn};

use crate::acks::{Ack, AckQueue};
use crate::chat::Platform;
use crate::practice::{ListedMessage, Practice};
use crate::store::drops::DropRecord;

/// A drop's thread as the platform lists it now.
#[derive(Debug, Clone)]
pub struct Listing {
    /// Every member message, oldest first.
    pub messages: Vec<ListedMessage>,
    /// The listing is complete for messages posted up to this instant: the
    /// adapter's own cursor turned into a time (the core never compares ids).
    pub complete_up_to: DateTime<Utc>,
    /// Where acknowledgements of these messages go (Discord: the thread; Slack: the
    /// channel).
    pub ack_conversation: String,
}

/// What an adapter provides for catching up: its platform, and a drop's thread
/// listed now.
pub trait ThreadHistory: Sync {
    fn platform(&self) -> Platform;

    /// The drop's thread, or `None` when the drop has no thread the platform knows.
    fn list_thread(
        &self,
        drop: &DropRecord,
    ) -> impl Future<Output = Result<Option<Listing>, String>> + Send;
}

/// What catching up did, over all open drops of the platform.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct CaughtUp {
    pub drops: usize,
    pub stored: usize,
    pub withdrawn: usize,
    /// Threads that could not be listed (logged; their answers are left as stored).
    pub failed: usize,
}

/// Catches up on every open drop of the adapter's platform. One thread's failure is
/// logged and the others go on; a thread that could not be listed completely
/// withdraws nothing.
pub async fn run(
    practice: &Practice,
    history: &impl ThreadHistory,
    acks: &AckQueue,
    now: DateTime<Utc>,
) -> CaughtUp {
    let mut total = CaughtUp::default();
    let drops = match practice.open_drops_on(history.platform()).await {
        Ok(d) => d,
        Err(e) => {
            warn!(error = %e, "cannot list open drops to catch up on; skipping the catch-up");
            return total;
        }
    };
    for drop in drops {
        total.drops += 1;
        match one(practice, history, acks, &drop, now).await {
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
            platform = %history.platform(),
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
    history: &impl ThreadHistory,
    acks: &AckQueue,
    drop: &DropRecord,
    now: DateTime<Utc>,
) -> anyhow::Result<(usize, usize)> {
    let Some(listing) = history
        .list_thread(drop)
        .await
        .map_err(anyhow::Error::msg)?
    else {
        return Ok((0, 0));
    };
    let done = practice
        .reconcile_thread(drop, listing.messages, listing.complete_up_to, now)
        .await?;
    for (message_id, recorded) in &done.stored {
        if recorded.new && !recorded.withdrawn {
            let ack = if recorded.on_time {
                Ack::OnTime
            } else {
                Ack::Late
            };
            acks.send(&listing.ack_conversation, message_id, ack);
        }
    }
    Ok((done.stored.len(), done.withdrawn))
}
