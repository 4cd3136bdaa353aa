//! What the core needs from a chat platform, in one place: the traits an adapter
//! implements and the one error type the core acts on. Discord implements them in
//! `src/discord/outbound.rs`, the terminal in `src/console.rs`; a Slack adapter goes
//! beside them and implements the same.

use std::future::Future;

use chrono::{DateTime, Duration, Utc};

use crate::chat::{ChannelAddress, Platform};
use crate::engine::reveal::{DropPost, RevealContent};

/// What the platform says about a posted drop message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostedDrop {
    /// The platform's id of the drop message.
    pub message_id: String,
    pub posted_at: DateTime<Utc>,
}

/// Why a platform call failed, as the core acts on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// The platform asked to wait (Discord's or Slack's 429): retry no sooner than this.
    RetryAfter(Duration),
    /// A timeout, a 5xx, an unreadable answer: the outcome is unknown (the post may
    /// have gone through). Retried later, and never taken as "not posted": a retry
    /// past the platform's deduplication window looks for the post first.
    Unknown,
    /// Retrying cannot help until someone fixes it: the bot lacks a permission in the
    /// conversation. Fails that drop with the reason an admin reads.
    Permission,
    /// The conversation is gone (deleted, archived): its schedule is paused.
    ConversationGone,
    /// The adapter cannot act at all (its token was revoked): retried later like an
    /// unknown outcome, never counted against the channel.
    AdapterDown,
}

/// A platform failure: what happened, in words an admin can act on, and its kind.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct OutboundError {
    pub message: String,
    pub kind: Failure,
}

impl OutboundError {
    pub fn new(kind: Failure, message: impl Into<String>) -> Self {
        OutboundError {
            message: message.into(),
            kind,
        }
    }

    /// An unknown outcome (a timeout, a 5xx): worth retrying later.
    pub fn unknown(message: impl Into<String>) -> Self {
        Self::new(Failure::Unknown, message)
    }

    /// A failure retrying cannot fix (a missing permission, a refused post).
    pub fn permanent(message: impl Into<String>) -> Self {
        Self::new(Failure::Permission, message)
    }

    /// The conversation was deleted.
    pub fn channel_gone(message: impl Into<String>) -> Self {
        Self::new(Failure::ConversationGone, message)
    }

    /// Whether trying again later may help.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self.kind,
            Failure::RetryAfter(_) | Failure::Unknown | Failure::AdapterDown
        )
    }

    pub fn is_conversation_gone(&self) -> bool {
        self.kind == Failure::ConversationGone
    }

    /// The earliest a retry may come, at `now`, given the backoff the core would use.
    pub fn retry_at(&self, now: DateTime<Utc>, backoff: Duration) -> Option<DateTime<Utc>> {
        match self.kind {
            Failure::RetryAfter(wait) => Some(now + backoff.max(wait)),
            Failure::Unknown | Failure::AdapterDown => Some(now + backoff),
            Failure::Permission | Failure::ConversationGone => None,
        }
    }
}

/// Whether an earlier attempt at a reveal may have posted some of its messages:
/// its lease was taken before (by this process or one that died).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RevealAttempt {
    First,
    Retry,
}

/// Where drops and reveals go: Discord, Slack, the terminal.
///
/// `key` identifies the post across retries (`d<drop id>` for a drop, `r<drop id>`
/// for a reveal): a platform that can deduplicate on it (Discord's message nonce)
/// must, and one that cannot must make the post findable by it
/// ([`Outbound::find_drop`]), so a retry after an unknown outcome never posts twice.
pub trait Outbound {
    /// How long the platform itself refuses a second post with the same key
    /// (Discord's nonce: a few minutes; we trust 60 s). `None`, the default: no such
    /// window, so every retry looks for the earlier post first.
    fn dedup_window(&self) -> Option<Duration> {
        None
    }

    /// Whether channels of `platform` can be served now: this outbound posts there,
    /// and the adapter is connected and has caught up. The scheduler leaves the items
    /// of a platform that is not ready as they are, and looks again when woken.
    fn ready(&self, platform: Platform) -> bool;

    fn post_drop(
        &self,
        channel: &ChannelAddress,
        key: &str,
        post: &DropPost,
    ) -> impl Future<Output = Result<PostedDrop, OutboundError>> + Send;
    /// Opens the answer thread under a posted drop message; returns its id. Called
    /// after the drop is recorded with the thread id it will have (the message's, as
    /// on Discord), so an answer posted the instant the thread exists is not lost.
    /// The default is a thread with the message's id (platforms where replies attach
    /// to the message itself).
    fn open_thread(
        &self,
        _channel: &ChannelAddress,
        message_id: &str,
        _post: &DropPost,
    ) -> impl Future<Output = Result<String, OutboundError>> + Send {
        let thread = message_id.to_string();
        async move { Ok(thread) }
    }
    /// Looks for a drop message posted earlier under `key` (a post whose answer was
    /// lost, by a process that then died): after a restart longer than the
    /// platform's deduplication window, posting again would make a second message.
    /// The default finds nothing (platforms that post nothing visible, or whose
    /// deduplication never expires).
    fn find_drop(
        &self,
        _channel: &ChannelAddress,
        _key: &str,
    ) -> impl Future<Output = Result<Option<PostedDrop>, OutboundError>> + Send {
        async { Ok(None) }
    }
    /// Posts the reveal in the drop's thread; returns the instant it (its first part)
    /// was posted. A reveal may take several messages; on a [`RevealAttempt::Retry`]
    /// some of them may be out already, from an attempt whose outcome was lost (a
    /// crash, a timeout), possibly longer ago than the platform's deduplication
    /// window: the adapter posts only the parts that are not in the thread yet.
    fn post_reveal(
        &self,
        channel: &ChannelAddress,
        thread_id: &str,
        key: &str,
        reveal: &RevealContent,
        attempt: RevealAttempt,
    ) -> impl Future<Output = Result<DateTime<Utc>, OutboundError>> + Send;
}

/// Two adapters' outbounds behind one scheduler (`prepbot run` serving Discord and
/// Slack at once): each item goes to the outbound of its channel's platform, once
/// that adapter has handed its outbound over (it is connected and caught up); until
/// then that platform's items wait, as for any adapter that is not ready.
pub struct Routed<A, B> {
    first: (Platform, std::sync::OnceLock<A>),
    second: (Platform, std::sync::OnceLock<B>),
}

impl<A, B> Routed<A, B> {
    pub fn new(first: Platform, second: Platform) -> Self {
        Routed {
            first: (first, std::sync::OnceLock::new()),
            second: (second, std::sync::OnceLock::new()),
        }
    }

    /// The first platform's adapter is ready; later calls do nothing.
    pub fn set_first(&self, outbound: A) {
        let _ = self.first.1.set(outbound);
    }

    pub fn set_second(&self, outbound: B) {
        let _ = self.second.1.set(outbound);
    }

    fn not_ready(platform: Platform) -> OutboundError {
        OutboundError::new(
            Failure::AdapterDown,
            format!("the {platform} adapter is not connected"),
        )
    }
}

impl<A, B> Outbound for std::sync::Arc<Routed<A, B>>
where
    A: Outbound + Send + Sync,
    B: Outbound + Send + Sync,
{
    /// `None`: each platform's own window would need the platform here, and looking
    /// for an earlier post first is always safe (Discord's retries then search too).
    fn dedup_window(&self) -> Option<Duration> {
        None
    }

    fn ready(&self, platform: Platform) -> bool {
        if platform == self.first.0 {
            self.first.1.get().is_some_and(|o| o.ready(platform))
        } else if platform == self.second.0 {
            self.second.1.get().is_some_and(|o| o.ready(platform))
        } else {
            false
        }
    }

    async fn post_drop(
        &self,
        channel: &ChannelAddress,
        key: &str,
        post: &DropPost,
    ) -> Result<PostedDrop, OutboundError> {
        let p = channel.platform;
        if p == self.first.0 {
            match self.first.1.get() {
                Some(o) => o.post_drop(channel, key, post).await,
                None => Err(Routed::<A, B>::not_ready(p)),
            }
        } else {
            match self.second.1.get().filter(|_| p == self.second.0) {
                Some(o) => o.post_drop(channel, key, post).await,
                None => Err(Routed::<A, B>::not_ready(p)),
            }
        }
    }

    async fn open_thread(
        &self,
        channel: &ChannelAddress,
        message_id: &str,
        post: &DropPost,
    ) -> Result<String, OutboundError> {
        let p = channel.platform;
        if p == self.first.0 {
            match self.first.1.get() {
                Some(o) => o.open_thread(channel, message_id, post).await,
                None => Err(Routed::<A, B>::not_ready(p)),
            }
        } else {
            match self.second.1.get().filter(|_| p == self.second.0) {
                Some(o) => o.open_thread(channel, message_id, post).await,
                None => Err(Routed::<A, B>::not_ready(p)),
            }
        }
    }

    async fn find_drop(
        &self,
        channel: &ChannelAddress,
        key: &str,
    ) -> Result<Option<PostedDrop>, OutboundError> {
        let p = channel.platform;
        if p == self.first.0 {
            match self.first.1.get() {
                Some(o) => o.find_drop(channel, key).await,
                None => Err(Routed::<A, B>::not_ready(p)),
            }
        } else {
            match self.second.1.get().filter(|_| p == self.second.0) {
                Some(o) => o.find_drop(channel, key).await,
                None => Err(Routed::<A, B>::not_ready(p)),
            }
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
        let p = channel.platform;
        if p == self.first.0 {
            match self.first.1.get() {
                Some(o) => {
                    o.post_reveal(channel, thread_id, key, reveal, attempt)
                        .await
                }
                None => Err(Routed::<A, B>::not_ready(p)),
            }
        } else {
            match self.second.1.get().filter(|_| p == self.second.0) {
                Some(o) => {
                    o.post_reveal(channel, thread_id, key, reveal, attempt)
                        .await
                }
                None => Err(Routed::<A, B>::not_ready(p)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_failure_kind_retries_or_not_as_the_core_acts_on_it() {
        let now = DateTime::<Utc>::from_timestamp(1_800_000_000, 0).unwrap();
        let backoff = Duration::seconds(30);
        let at = |kind| OutboundError::new(kind, "x").retry_at(now, backoff);
        assert_eq!(at(Failure::Unknown), Some(now + backoff));
        assert_eq!(at(Failure::AdapterDown), Some(now + backoff));
        // The platform's wait when it is longer than the backoff, never shorter.
        assert_eq!(
            at(Failure::RetryAfter(Duration::seconds(90))),
            Some(now + Duration::seconds(90))
        );
        assert_eq!(
            at(Failure::RetryAfter(Duration::seconds(2))),
            Some(now + backoff)
        );
        assert_eq!(at(Failure::Permission), None);
        assert_eq!(at(Failure::ConversationGone), None);
        assert!(OutboundError::channel_gone("x").is_conversation_gone());
        assert!(!OutboundError::permanent("x").is_retryable());
        assert!(OutboundError::unknown("x").is_retryable());
    }
}
