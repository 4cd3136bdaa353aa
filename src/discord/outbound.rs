//! Drops and reveals as Discord messages ([`DiscordOutbound`], the scheduler's
//! adapter) and the acknowledgement queue ([`AckQueue`]).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use tokio::sync::mpsc;
use tracing::warn;

use super::render;
use super::rest::{Rest, RestError};
use crate::chat::ChannelAddress;
use crate::engine::reveal::{DropPost, RevealContent};
use crate::ports::{Outbound, OutboundError, PostedDrop};

/// Discord's error codes the adapter acts on.
const UNKNOWN_CHANNEL: i64 = 10003;
const THREAD_ALREADY_CREATED: i64 = 160004;

/// How many of a channel's latest messages are searched for an earlier drop post.
const FIND_WINDOW: u8 = 50;

/// A failed REST call as the core acts on it: a transport failure, a 429 the REST
/// client could not wait out, or a 5xx leaves the outcome unknown; anything else is
/// a refusal retrying cannot fix.
fn outbound_error(e: RestError) -> OutboundError {
    if e.retryable() {
        OutboundError::unknown(e.to_string())
    } else {
        OutboundError::permanent(e.to_string())
    }
}

/// How long Discord refuses a second message with the same nonce: "a few minutes"
/// by its documentation; 60 s is what the bot trusts. Past it, a retry looks for
/// the earlier post first.
pub const NONCE_TRUST: chrono::Duration = chrono::Duration::seconds(60);

/// A failure to post in a channel, in words an admin can act on (`/schedule show`
/// and `prepbot status` repeat it next to the channel's name, so the text names no
/// channel and carries no Discord markup): a deleted channel, or a permission the
/// bot lacks there.
fn channel_error(e: RestError) -> OutboundError {
    match (e.status, e.code) {
        (Some(404), Some(UNKNOWN_CHANNEL)) => OutboundError::channel_gone(
            "the channel no longer exists (Discord: Unknown Channel); its schedule is paused",
        ),
        (Some(403), _) => OutboundError::permanent(format!(
            "the bot lacks permission to post in the channel: it needs View Channel, Send Messages, Embed Links and Create Public Threads there (Discord: {})",
            e.reason
        )),
        _ => outbound_error(e),
    }
}

/// A Discord id the core holds as text.
fn snowflake(id: &str) -> Result<u64, OutboundError> {
    id.parse()
        .map_err(|_| OutboundError::permanent(format!("`{id}` is not a Discord id")))
}

#[derive(Debug, Clone)]
pub struct DiscordOutbound {
    rest: Arc<Rest>,
    /// The bot's own user id, once the gateway said it (READY): only its own
    /// messages count when looking for an earlier post.
    me: Arc<OnceLock<u64>>,
}

impl DiscordOutbound {
    pub fn new(rest: Arc<Rest>) -> Self {
        DiscordOutbound {
            rest,
            me: Arc::new(OnceLock::new()),
        }
    }

    pub fn set_bot_user(&self, id: u64) {
        let _ = self.me.set(id);
    }

    pub fn rest(&self) -> &Arc<Rest> {
        &self.rest
    }
}

impl Outbound for DiscordOutbound {
    fn dedup_window(&self) -> Option<chrono::Duration> {
        Some(NONCE_TRUST)
    }

    /// The runner starts the scheduler only once the gateway is up and open threads
    /// are caught up, so Discord's channels are ready whenever this is in use.
    fn ready(&self, platform: crate::chat::Platform) -> bool {
        platform == crate::chat::Platform::Discord
    }

    async fn post_drop(
        &self,
        channel: &ChannelAddress,
        key: &str,
        post: &DropPost,
    ) -> Result<PostedDrop, OutboundError> {
        let channel_id = snowflake(&channel.conversation)?;
        let message = self
            .rest
            .create_message(channel_id, &render::drop_message(post, key))
            .await
            .map_err(channel_error)?;
        Ok(PostedDrop {
            message_id: message.id.get().to_string(),
            posted_at: *message.timestamp,
        })
    }

    async fn find_drop(
        &self,
        channel: &ChannelAddress,
        key: &str,
    ) -> Result<Option<PostedDrop>, OutboundError> {
        let channel_id = snowflake(&channel.conversation)?;
        let recent = self
            .rest
            .messages(channel_id, None, FIND_WINDOW)
            .await
            .map_err(channel_error)?;
        let me = self.me.get().copied();
        Ok(recent
            .iter()
            .filter(|m| m.author.bot && me.is_none_or(|me| m.author.id.get() == me))
            .find(|m| render::is_drop_message(m, key))
            .map(|m| PostedDrop {
                message_id: m.id.get().to_string(),
                posted_at: *m.timestamp,
            }))
    }

    /// A public thread started from the drop message: its id is the message's.
    async fn open_thread(
        &self,
        channel: &ChannelAddress,
        message_id: &str,
        post: &DropPost,
    ) -> Result<String, OutboundError> {
        let channel_id = snowflake(&channel.conversation)?;
        match self
            .rest
            .start_thread(
                channel_id,
                snowflake(message_id)?,
                &render::drop_thread(post),
            )
            .await
        {
            Ok(thread) => Ok(thread.id.get().to_string()),
            // A retry after a lost answer: the thread exists, with the message's id.
            Err(e) if e.code == Some(THREAD_ALREADY_CREATED) => Ok(message_id.to_string()),
            Err(e) => Err(channel_error(e)),
        }
    }

    async fn post_reveal(
        &self,
        channel: &ChannelAddress,
        thread_id: &str,
        key: &str,
        reveal: &RevealContent,
    ) -> Result<DateTime<Utc>, OutboundError> {
        let channel_id = snowflake(&channel.conversation)?;
        let thread_id = snowflake(thread_id)?;
        let chunks = render::reveal_messages(reveal, render::CONTENT_LIMIT);
        // If the drop's thread was never opened (or was deleted), the reveal goes to
        // the channel instead of being lost.
        let mut target = thread_id;
        let mut revealed_at = None;
        for (i, chunk) in chunks.iter().enumerate() {
            // Each part has its own nonce, so when a later part fails and the
            // scheduler retries the whole reveal, the parts already out are not
            // posted again.
            let part = render::text_message(chunk, &format!("{key}p{i}"));
            let mut sent = self.rest.create_message(target, &part).await;
            if i == 0 && target != channel_id {
                if let Err(e) = &sent {
                    if e.code == Some(UNKNOWN_CHANNEL) {
                        warn!(
                            thread = thread_id,
                            channel = channel_id,
                            "the drop's thread is gone; revealing in the channel"
                        );
                        target = channel_id;
                        sent = self.rest.create_message(target, &part).await;
                    }
                }
            }
            let message = sent.map_err(|e| {
                if target == channel_id {
                    channel_error(e)
                } else {
                    outbound_error(e)
                }
            })?;
            revealed_at.get_or_insert(*message.timestamp);
        }
        revealed_at.ok_or_else(|| OutboundError::permanent("the reveal had no content"))
    }
}

/// Which reaction acknowledges an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ack {
    OnTime,
    Late,
}

impl Ack {
    pub fn emoji(self) -> &'static str {
        match self {
            Ack::OnTime => "✅",
            Ack::Late => "🕒",
        }
    }
}

/// Reactions acknowledging answers, posted by one background task in a few lanes. Discord limits
/// reactions per channel tightly, so they queue here and go out as fast as the rate
/// limits allow (the REST client waits out each 429). Storing an answer never waits
/// for this: `send` never blocks, and when the queue is full the acknowledgement is
/// dropped (the answer is stored either way). A flood logs two lines, not one per
/// reaction skipped: one when the queue fills, and one with the count skipped once
/// it is half empty again.
#[derive(Debug, Clone)]
pub struct AckQueue {
    tx: mpsc::Sender<(u64, u64, Ack)>,
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

/// Reactions in flight at once: a channel whose reaction bucket is empty holds up
/// one lane, not the acknowledgements of every other channel.
pub const ACK_LANES: usize = 4;

impl AckQueue {
    pub fn start(rest: Arc<Rest>) -> Self {
        let (tx, rx) = mpsc::channel::<(u64, u64, Ack)>(ACK_QUEUE_CAPACITY);
        let skipped = Arc::new(Skipped::default());
        let queue = futures_util::stream::unfold(rx, |mut rx| async move {
            rx.recv().await.map(|item| (item, rx))
        });
        // Weak, so the task ends once every `AckQueue` is gone.
        let room = tx.downgrade();
        let episode = skipped.clone();
        tokio::spawn(
            queue.for_each_concurrent(ACK_LANES, move |(channel, message, ack)| {
                let (rest, room, episode) = (rest.clone(), room.clone(), episode.clone());
                async move {
                    if let Err(e) = rest.add_reaction(channel, message, ack.emoji()).await {
                        warn!(channel, message, error = %e, "could not acknowledge an answer");
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

    pub fn send(&self, channel_id: u64, message_id: u64, ack: Ack) {
        if self.tx.try_send((channel_id, message_id, ack)).is_err() {
            self.skipped.total.fetch_add(1, Ordering::Relaxed);
            if self.skipped.episode.fetch_add(1, Ordering::Relaxed) == 0 {
                warn!(
                    capacity = ACK_QUEUE_CAPACITY,
                    "acknowledgement queue full; skipping reactions until it has room (the answers are stored)"
                );
            }
        }
    }

    /// Reactions skipped because the queue was full, since the start.
    pub fn skipped(&self) -> u64 {
        self.skipped.total.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::discord::Token;

    /// A server that accepts connections and never answers: every reaction hangs.
    async fn silent_server() -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((stream, _)) = listener.accept().await {
                held.push(stream);
            }
        });
        base
    }

    #[tokio::test]
    async fn a_full_queue_skips_reactions_without_waiting_and_counts_them() {
        let rest = Rest::new(&Token::new("ack-test"), Some(&silent_server().await), 4).unwrap();
        let acks = AckQueue::start(Arc::new(rest));
        let sent = ACK_QUEUE_CAPACITY + 100;
        let started = std::time::Instant::now();
        for i in 0..sent as u64 {
            acks.send(1, i, Ack::OnTime);
            if i == 0 {
                // Let the lanes take their first reactions.
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
