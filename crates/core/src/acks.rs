//! Acknowledging stored answers (a reaction: ✅ on time, 🕒 late), on every
//! platform. Reactions are rate-limited tightly (Discord per channel; Slack's
//! `reactions.add` about 50 a minute), so they queue here and go out as fast as the
//! platform allows, in a few lanes. Storing an answer never waits for this:
//! [`AckQueue::send`] never blocks, and when the queue is full the acknowledgement
//! is dropped (the answer is stored either way). A flood logs two lines, not one
//! per reaction skipped: one when the queue fills, and one with the count skipped
//! once it is half empty again.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use futures_util::StreamExt;
use tokio::sync::mpsc;
use tracing::warn;

/// Which acknowledgement an answer gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ack {
    OnTime,
    Late,
}

/// How a platform acknowledges an answer: the adapter's reaction call.
pub trait Acknowledge: Send + Sync + 'static {
    /// Acknowledges message `message` of conversation `conversation` (the platform's
    /// ids as text); the error is logged.
    fn acknowledge(
        &self,
        conversation: &str,
        message: &str,
        ack: Ack,
    ) -> impl Future<Output = Result<(), String>> + Send;
}

/// The queue of acknowledgements, posted by one background task in a few lanes.
#[derive(Debug, Clone)]
pub struct AckQueue {
    tx: mpsc::Sender<(String, String, Ack)>,
    skipped: Arc<Skipped>,
}

#[derive(Debug, Default)]
struct Skipped {
    /// Since the queue last filled up; 0 while it has room.
    episode: AtomicU64,
    total: AtomicU64,
}

/// Acknowledgements waiting at most; a burst beyond this loses only the ✅.
pub const ACK_QUEUE_CAPACITY: usize = 1024;

/// Acknowledgements in flight at once: a conversation whose reaction bucket is empty
/// holds up one lane, not the acknowledgements of every other conversation.
pub const ACK_LANES: usize = 4;

impl AckQueue {
    pub fn start<A: Acknowledge>(platform: A) -> Self {
        let platform = Arc::new(platform);
        let (tx, rx) = mpsc::channel::<(String, String, Ack)>(ACK_QUEUE_CAPACITY);
        let skipped = Arc::new(Skipped::default());
        let queue = futures_util::stream::unfold(rx, |mut rx| async move {
            rx.recv().await.map(|item| (item, rx))
        });
        // Weak, so the task ends once every `AckQueue` is gone.
        let room = tx.downgrade();
        let episode = skipped.clone();
        tokio::spawn(
            queue.for_each_concurrent(ACK_LANES, move |(conversation, message, ack)| {
                let (platform, room, episode) = (platform.clone(), room.clone(), episode.clone());
                async move {
                    if let Err(e) = platform.acknowledge(&conversation, &message, ack).await {
                        warn!(conversation, message, error = %e, "could not acknowledge an answer");
                    }
                    let half_empty = room
                        .upgrade()
                        .is_some_and(|tx| tx.capacity() >= ACK_QUEUE_CAPACITY / 2);
                    if half_empty && episode.episode.load(Ordering::Relaxed) > 0 {
                        // Only the lane that takes the count logs it.
                        let skipped = episode.episode.swap(0, Ordering::Relaxed);
                        if skipped > 0 {
                            warn!(
                                skipped,
                                "acknowledgement queue has room again; reactions skipped while it was full"
                            );
                        }
                    }
                }
            }),
        );
        AckQueue { tx, skipped }
    }

    /// Queues an acknowledgement of `message` in `conversation` (the platform's ids,
    /// written out only if there is room).
    pub fn send(
        &self,
        conversation: impl std::fmt::Display,
        message: impl std::fmt::Display,
        ack: Ack,
    ) {
        // Room first: in a flood most acknowledgements are skipped, and a skipped
        // one should cost no allocation.
        if let Ok(permit) = self.tx.try_reserve() {
            permit.send((conversation.to_string(), message.to_string(), ack));
        } else {
            self.skipped.total.fetch_add(1, Ordering::Relaxed);
            if self.skipped.episode.fetch_add(1, Ordering::Relaxed) == 0 {
                warn!(
                    capacity = ACK_QUEUE_CAPACITY,
                    "acknowledgement queue full; skipping reactions until it has room (the answers are stored)"
                );
            }
        }
    }

    /// Acknowledgements skipped because the queue was full, since the start.
    pub fn skipped(&self) -> u64 {
        self.skipped.total.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A platform whose every acknowledgement hangs.
    struct Hanging;

    impl Acknowledge for Hanging {
        async fn acknowledge(&self, _: &str, _: &str, _: Ack) -> Result<(), String> {
            std::future::pending().await
        }
    }

    #[tokio::test]
    async fn a_full_queue_skips_acknowledgements_without_waiting_and_counts_them() {
        let acks = AckQueue::start(Hanging);
        let sent = ACK_QUEUE_CAPACITY + 100;
        let started = std::time::Instant::now();
        for i in 0..sent {
            acks.send("1", i, Ack::OnTime);
            if i == 0 {
                // Let the lanes take their first acknowledgements.
                tokio::task::yield_now().await;
            }
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(1),
            "never waits"
        );
        let skipped = acks.skipped() as usize;
        // The queue holds its capacity, the lanes hold at most ACK_LANES more.
        assert!(
            (sent - ACK_QUEUE_CAPACITY - ACK_LANES..=sent - ACK_QUEUE_CAPACITY).contains(&skipped),
            "{skipped} skipped of {sent}"
        );
    }
}
