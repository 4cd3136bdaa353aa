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

/// A platform id as a queued acknowledgement holds it: in place when it is short, as
/// every Discord id (at most 20 digits) and Slack id (a channel, a message's `ts`) is.
///
/// Why not a `String`: a flood of answers fills the queue during the burst, when the
/// heap is full of the burst's events, so its 2 × [`ACK_QUEUE_CAPACITY`] small strings
/// land scattered over that memory and each keeps its page resident after the burst
/// is freed; the writer's `malloc_trim` (`crate::memory`) runs while they are still
/// queued, and they drain only at the platform's reaction rate (Discord's per-channel
/// limit, Slack's 50 a minute). Held in place, the queue is its channel's own blocks
/// and a queued acknowledgement costs no allocation. Measured in BENCHMARKS.md
/// ("Where the extra resident memory came from").
#[derive(Clone)]
enum QueuedId {
    Inline {
        len: u8,
        bytes: [u8; INLINE_ID],
    },
    /// Longer than any id seen so far: kept, on the heap.
    Long(Box<str>),
}

/// The longest id held in place (the enum stays 32 bytes).
const INLINE_ID: usize = 30;

impl QueuedId {
    fn new(id: impl std::fmt::Display) -> Self {
        use std::fmt::Write as _;
        struct Buf {
            len: usize,
            bytes: [u8; INLINE_ID],
        }
        impl std::fmt::Write for Buf {
            fn write_str(&mut self, s: &str) -> std::fmt::Result {
                let end = self.len + s.len();
                if end > INLINE_ID {
                    return Err(std::fmt::Error);
                }
                self.bytes[self.len..end].copy_from_slice(s.as_bytes());
                self.len = end;
                Ok(())
            }
        }
        let mut buf = Buf {
            len: 0,
            bytes: [0; INLINE_ID],
        };
        if write!(buf, "{id}").is_ok() {
            QueuedId::Inline {
                len: buf.len as u8,
                bytes: buf.bytes,
            }
        } else {
            QueuedId::Long(id.to_string().into_boxed_str())
        }
    }

    fn as_str(&self) -> &str {
        match self {
            // Whole `write_str` pieces of a `str` only, so always UTF-8.
            QueuedId::Inline { len, bytes } => {
                std::str::from_utf8(&bytes[..usize::from(*len)]).unwrap_or_default()
            }
            QueuedId::Long(s) => s,
        }
    }
}

impl std::fmt::Debug for QueuedId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(self.as_str(), f)
    }
}

/// The queue of acknowledgements, posted by one background task in a few lanes.
#[derive(Debug, Clone)]
pub struct AckQueue {
    tx: mpsc::Sender<(QueuedId, QueuedId, Ack)>,
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
        let (tx, rx) = mpsc::channel::<(QueuedId, QueuedId, Ack)>(ACK_QUEUE_CAPACITY);
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
                    let (conversation, message) = (conversation.as_str(), message.as_str());
                    if let Err(e) = platform.acknowledge(conversation, message, ack).await {
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
        // one should cost no allocation (nor does a queued one, see `QueuedId`).
        if let Ok(permit) = self.tx.try_reserve() {
            permit.send((QueuedId::new(conversation), QueuedId::new(message), ack));
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

    #[test]
    fn queued_ids_are_held_in_place_and_read_back_whole() {
        assert_eq!(std::mem::size_of::<QueuedId>(), 32);
        for id in [
            "",
            "1",
            "18446744073709551615",
            "C024BE91L",
            "1355517523.000005",
        ] {
            let q = QueuedId::new(id);
            assert!(matches!(q, QueuedId::Inline { .. }), "{id} in place");
            assert_eq!(q.as_str(), id);
        }
        assert_eq!(QueuedId::new(u64::MAX).as_str(), u64::MAX.to_string());
        let exact = "x".repeat(INLINE_ID);
        assert!(matches!(QueuedId::new(&exact), QueuedId::Inline { .. }));
        assert_eq!(QueuedId::new(&exact).as_str(), exact);
        let long = format!("{exact}é");
        let q = QueuedId::new(&long);
        assert!(matches!(q, QueuedId::Long(_)));
        assert_eq!(q.as_str(), long);
    }

    /// A platform that records what it was asked to acknowledge.
    struct Recording(tokio::sync::mpsc::UnboundedSender<(String, String, Ack)>);

    impl Acknowledge for Recording {
        async fn acknowledge(&self, c: &str, m: &str, ack: Ack) -> Result<(), String> {
            let _ = self.0.send((c.to_string(), m.to_string(), ack));
            Ok(())
        }
    }

    #[tokio::test]
    async fn the_platform_gets_the_ids_it_was_given() {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let acks = AckQueue::start(Recording(tx));
        let long = "9".repeat(INLINE_ID + 5);
        acks.send(1234567890123456789u64, "1355517523.000005", Ack::OnTime);
        acks.send("C024BE91L", &long, Ack::Late);
        let mut got = vec![rx.recv().await.unwrap(), rx.recv().await.unwrap()];
        got.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(
            got,
            [
                (
                    "1234567890123456789".to_string(),
                    "1355517523.000005".to_string(),
                    Ack::OnTime
                ),
                ("C024BE91L".to_string(), long, Ack::Late),
            ]
        );
    }
}
