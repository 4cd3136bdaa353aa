//! Drops and reveals as Discord messages ([`DiscordOutbound`], the scheduler's
//! adapter) and answers acknowledged with reactions ([`DiscordReactions`], what the
//! core's `acks::AckQueue` calls).

use std::sync::{Arc, OnceLock};

use chrono::{DateTime, Utc};
use tracing::warn;

use super::render;
use super::rest::{Rest, RestError};
use prepbot_core::acks::{Ack, Acknowledge};
use prepbot_core::chat::ChannelAddress;
use prepbot_core::engine::reveal::{DropPost, RevealContent};
use prepbot_core::ports::{Outbound, OutboundError, PostedDrop, RevealAttempt};

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
    fn ready(&self, platform: prepbot_core::chat::Platform) -> bool {
        platform == prepbot_core::chat::Platform::Discord
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
        attempt: RevealAttempt,
    ) -> Result<DateTime<Utc>, OutboundError> {
        let channel_id = snowflake(&channel.conversation)?;
        let thread_id = snowflake(thread_id)?;
        let parts = render::reveal_parts(reveal, key, render::CONTENT_LIMIT);
        // If the drop's thread was never opened (or was deleted), the reveal goes to
        // the channel instead of being lost.
        let mut target = thread_id;
        // On a retry, the parts an earlier attempt posted, with when: each part has
        // its own nonce, but Discord honours a nonce for a few minutes only.
        let mut out = vec![None; parts.len()];
        if attempt == RevealAttempt::Retry {
            let recent = match self.rest.messages(target, None, FIND_WINDOW).await {
                Err(e) if e.code == Some(UNKNOWN_CHANNEL) => {
                    target = channel_id;
                    self.rest.messages(target, None, FIND_WINDOW).await
                }
                listed => listed,
            }
            .map_err(outbound_error)?;
            let me = self.me.get().copied();
            for m in recent
                .iter()
                .filter(|m| m.author.bot && me.is_none_or(|me| m.author.id.get() == me))
            {
                if let Some(slot) = render::reveal_part_of(m, key).and_then(|i| out.get_mut(i)) {
                    *slot = Some(*m.timestamp);
                }
            }
        }
        let mut revealed_at = None;
        for (i, chunk) in parts.iter().enumerate() {
            if let Some(at) = out[i] {
                revealed_at.get_or_insert(at);
                continue;
            }
            let part = render::text_message(chunk, &format!("{key}p{i}"));
            let mut sent = self.rest.create_message(target, &part).await;
            if revealed_at.is_none()
                && target != channel_id
                && let Err(e) = &sent
                && e.code == Some(UNKNOWN_CHANNEL)
            {
                warn!(
                    thread = thread_id,
                    channel = channel_id,
                    "the drop's thread is gone; revealing in the channel"
                );
                target = channel_id;
                sent = self.rest.create_message(target, &part).await;
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

/// Discord's acknowledgement: a reaction (✅ on time, 🕒 late) through the bot's own
/// REST client, which paces it and waits out each 429.
pub struct DiscordReactions(pub Arc<Rest>);

impl Acknowledge for DiscordReactions {
    async fn acknowledge(&self, conversation: &str, message: &str, ack: Ack) -> Result<(), String> {
        let emoji = match ack {
            Ack::OnTime => "✅",
            Ack::Late => "🕒",
        };
        let id = |s: &str| {
            s.parse::<u64>()
                .map_err(|_| format!("`{s}` is not a Discord id"))
        };
        self.0
            .add_reaction(id(conversation)?, id(message)?, emoji)
            .await
            .map_err(|e| e.to_string())
    }
}
