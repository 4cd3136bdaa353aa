//! Drops and reveals as Slack messages ([`SlackOutbound`], the scheduler's adapter)
//! and answers acknowledged with reactions ([`SlackReactions`], what the core's
//! `acks::AckQueue` calls).
//!
//! Slack has no nonce, so every post carries a marker (`render::marker`) and a
//! retry after an unknown outcome searches before posting again: the core asks
//! [`Outbound::find_drop`] first (`dedup_window` is `None`), and a reveal lists its
//! thread and posts only the parts that are not there yet.

use std::sync::Arc;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};

use chrono::{DateTime, Utc};
use tokio_util::sync::CancellationToken;
use tracing::{error, warn};

use crate::api::{ApiError, Identity, ListedMessage, SlackApi};
use crate::names::Names;
use crate::render;
use prepbot_core::acks::{Ack, Acknowledge};
use prepbot_core::chat::{ChannelAddress, Platform};
use prepbot_core::engine::reveal::{DropPost, RevealContent};
use prepbot_core::ports::{Failure, Outbound, OutboundError, PostedDrop};

/// How many of a channel's latest messages are searched for an earlier drop post.
pub const FIND_WINDOW: u32 = 100;
/// Messages per page of a thread listing (Slack's documented maximum is 1,000; 200
/// is its recommendation).
pub const REPLIES_PAGE: u32 = 200;

/// The instant a Slack `ts` (`<seconds>.<micros>`) stands for.
pub fn ts_time(ts: &str) -> Option<DateTime<Utc>> {
    let (secs, micros) = ts.split_once('.').unwrap_or((ts, "0"));
    let secs: i64 = secs.parse().ok()?;
    let micros = format!("{micros:0<6}");
    let micros: u32 = micros.get(..6)?.parse().ok()?;
    DateTime::from_timestamp(secs, micros * 1000)
}

/// A Web API failure as the core acts on it, in words an admin can act on
/// (`schedule` repeats it next to the channel's name, so it names no channel).
pub fn outbound_error(e: ApiError) -> OutboundError {
    match &e {
        ApiError::RateLimited { retry_after, .. } => OutboundError::new(
            Failure::RetryAfter(chrono::Duration::seconds(
                retry_after.map_or(60, |d| d.as_secs().max(1) as i64),
            )),
            e.to_string(),
        ),
        ApiError::Unknown { .. } => OutboundError::unknown(e.to_string()),
        ApiError::Refused { code, .. } => match code.as_str() {
            "not_in_channel" | "channel_not_joined" => OutboundError::permanent(
                "the bot is not in the channel: invite @prepbot to the channel (Slack: not_in_channel)",
            ),
            "missing_scope" | "restricted_action" | "ekm_access_denied" => {
                OutboundError::permanent(format!(
                    "the app lacks a permission it needs: reinstall it from slack/manifest.yml (Slack: {code})"
                ))
            }
            "channel_not_found" | "is_archived" => OutboundError::channel_gone(format!(
                "the channel is gone or archived (Slack: {code}); its schedule is paused"
            )),
            "ratelimited" => OutboundError::new(
                Failure::RetryAfter(chrono::Duration::seconds(60)),
                e.to_string(),
            ),
            "internal_error" | "fatal_error" | "service_unavailable" | "request_timeout" => {
                OutboundError::unknown(e.to_string())
            }
            _ if e.is_auth() => OutboundError::new(
                Failure::AdapterDown,
                format!("Slack rejected the bot's token ({code})"),
            ),
            _ => OutboundError::permanent(e.to_string()),
        },
    }
}

/// What the Slack adapter shares between its outbound, its events and its runner.
#[derive(Debug)]
pub struct SlackState {
    /// Who the bot is (`auth.test`), once known.
    pub me: OnceLock<Identity>,
    /// Connected (a Socket Mode session is up) and caught up: the scheduler may post.
    pub ready: AtomicBool,
    /// Cancelled when Slack rejects the token later on (`invalid_auth`,
    /// `token_revoked`, `account_inactive`, `app_uninstalled`): the adapter stops.
    pub down: CancellationToken,
    /// Notified when a drop whose post had an unknown outcome was found again: it
    /// was visible in Slack all along, so members may have answered in its thread
    /// before the bot knew the thread, and those events were not stored. The runner
    /// reads open threads back once the recovered drop is recorded.
    pub recovered: tokio::sync::Notify,
}

impl Default for SlackState {
    fn default() -> Self {
        SlackState {
            me: OnceLock::new(),
            ready: AtomicBool::new(false),
            down: CancellationToken::new(),
            recovered: tokio::sync::Notify::new(),
        }
    }
}

impl SlackState {
    /// Whether `m` was posted by this bot (and, before `auth.test` said who it is,
    /// by any bot).
    pub fn is_mine(&self, m: &ListedMessage) -> bool {
        match self.me.get() {
            Some(me) => {
                m.user.as_deref() == Some(me.user_id.as_str())
                    || (m.bot_id.is_some() && m.bot_id == me.bot_id)
            }
            None => m.bot_id.is_some(),
        }
    }

    /// Notes a rejected token: one operator error, then the adapter stops.
    pub fn check_auth(&self, e: &ApiError) {
        if e.is_auth() && !self.down.is_cancelled() {
            error!(error = %e, "Slack rejected the bot's token; the Slack adapter stops (generate a new token and restart)");
            self.down.cancel();
        }
    }
}

#[derive(Debug, Clone)]
pub struct SlackOutbound {
    api: SlackApi,
    state: Arc<SlackState>,
    names: Names,
}

impl SlackOutbound {
    pub fn new(api: SlackApi, state: Arc<SlackState>) -> Self {
        Self::with_names(api, state, Names::default())
    }

    /// With the adapter's name cache, so a reveal names members stored by id
    /// (answered before their name was known) by their display names.
    pub fn with_names(api: SlackApi, state: Arc<SlackState>, names: Names) -> Self {
        SlackOutbound { api, state, names }
    }

    async fn named(&self, reveal: &RevealContent) -> RevealContent {
        let mut reveal = reveal.clone();
        let summary = &mut reveal.answers;
        for name in summary.on_time.iter_mut().chain(summary.late.iter_mut()) {
            *name = self.names.resolve(&self.api, name).await;
        }
        for (name, _) in summary.milestones.iter_mut() {
            *name = self.names.resolve(&self.api, name).await;
        }
        summary.on_time.sort_by_key(|n| n.to_lowercase());
        summary.late.sort_by_key(|n| n.to_lowercase());
        reveal
    }

    fn fail(&self, e: ApiError) -> OutboundError {
        self.state.check_auth(&e);
        outbound_error(e)
    }

    /// The bot's own posts in a thread, by marker: every message of the thread,
    /// page by page. `None` when the thread is gone.
    async fn own_markers(
        &self,
        channel: &str,
        thread_ts: &str,
    ) -> Result<Option<Vec<(String, String)>>, OutboundError> {
        let mut cursor: Option<String> = None;
        let mut found = Vec::new();
        loop {
            let page = match self
                .api
                .replies(channel, thread_ts, cursor.as_deref(), REPLIES_PAGE)
                .await
            {
                Ok(p) => p,
                Err(e) if e.code() == Some("thread_not_found") => return Ok(None),
                Err(e) => return Err(self.fail(e)),
            };
            for m in page.messages.iter().filter(|m| self.state.is_mine(m)) {
                for b in &m.blocks {
                    if let Some(id) = &b.block_id {
                        found.push((id.clone(), m.ts.clone()));
                    }
                }
            }
            match page.next_cursor {
                Some(next) if cursor.as_deref() != Some(next.as_str()) => cursor = Some(next),
                _ => break,
            }
        }
        Ok(Some(found))
    }
}

impl Outbound for SlackOutbound {
    /// Slack has no nonce: every retry looks for the earlier post first.
    fn dedup_window(&self) -> Option<chrono::Duration> {
        None
    }

    fn ready(&self, platform: Platform) -> bool {
        platform == Platform::Slack
            && self.state.ready.load(Ordering::Acquire)
            && !self.state.down.is_cancelled()
    }

    async fn post_drop(
        &self,
        channel: &ChannelAddress,
        key: &str,
        post: &DropPost,
    ) -> Result<PostedDrop, OutboundError> {
        let message = render::drop_message(&channel.conversation, key, post);
        let ts = self
            .api
            .post_message(&message)
            .await
            .map_err(|e| self.fail(e))?;
        Ok(PostedDrop {
            posted_at: ts_time(&ts).unwrap_or_else(Utc::now),
            message_id: ts,
        })
    }

    async fn find_drop(
        &self,
        channel: &ChannelAddress,
        key: &str,
    ) -> Result<Option<PostedDrop>, OutboundError> {
        let marker = render::marker(key);
        let recent = self
            .api
            .history(&channel.conversation, FIND_WINDOW)
            .await
            .map_err(|e| self.fail(e))?;
        let found = recent
            .messages
            .iter()
            .filter(|m| self.state.is_mine(m))
            .find(|m| m.has_block(&marker))
            .map(|m| PostedDrop {
                message_id: m.ts.clone(),
                posted_at: ts_time(&m.ts).unwrap_or_else(Utc::now),
            });
        if found.is_some() {
            self.state.recovered.notify_one();
        }
        Ok(found)
    }

    async fn post_reveal(
        &self,
        channel: &ChannelAddress,
        thread_id: &str,
        key: &str,
        reveal: &RevealContent,
        _attempt: prepbot_core::ports::RevealAttempt,
    ) -> Result<DateTime<Utc>, OutboundError> {
        let conversation = channel.conversation.as_str();
        let reveal = &self.named(reveal).await;
        let parts = render::reveal_parts(reveal);
        // A retried reveal posts only the parts that are not in the thread yet.
        let (thread, posted) = match self.own_markers(conversation, thread_id).await? {
            Some(found) => (Some(thread_id), found),
            None => {
                // The drop message was deleted: the reveal goes to the channel
                // instead of being lost.
                warn!(
                    channel = conversation,
                    thread = thread_id,
                    "the drop's thread is gone; revealing in the channel"
                );
                (None, Vec::new())
            }
        };
        let mut first = None;
        for (i, blocks) in parts.iter().enumerate() {
            let marker = render::marker(&render::part_key(key, i));
            if let Some((_, ts)) = posted.iter().find(|(id, _)| *id == marker) {
                first.get_or_insert_with(|| ts_time(ts).unwrap_or_else(Utc::now));
                continue;
            }
            let message = render::reveal_message(
                conversation,
                thread,
                key,
                i,
                parts.len(),
                &reveal.title,
                blocks.clone(),
            );
            let ts = self
                .api
                .post_message(&message)
                .await
                .map_err(|e| self.fail(e))?;
            first.get_or_insert_with(|| ts_time(&ts).unwrap_or_else(Utc::now));
        }
        first.ok_or_else(|| OutboundError::permanent("the reveal had no content"))
    }
}

/// Slack's acknowledgement: a reaction (`white_check_mark` on time, `clock3` late)
/// on the answer; `already_reacted` is success.
pub struct SlackReactions {
    pub api: SlackApi,
    pub state: Arc<SlackState>,
}

pub const ON_TIME_EMOJI: &str = "white_check_mark";
pub const LATE_EMOJI: &str = "clock3";

impl Acknowledge for SlackReactions {
    async fn acknowledge(&self, conversation: &str, message: &str, ack: Ack) -> Result<(), String> {
        let emoji = match ack {
            Ack::OnTime => ON_TIME_EMOJI,
            Ack::Late => LATE_EMOJI,
        };
        self.api
            .react(conversation, message, emoji)
            .await
            .map_err(|e| {
                self.state.check_auth(&e);
                e.to_string()
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ts_is_an_instant_to_the_microsecond() {
        let t = ts_time("1700000000.000100").unwrap();
        assert_eq!(t.timestamp(), 1_700_000_000);
        assert_eq!(t.timestamp_subsec_micros(), 100);
        assert_eq!(ts_time("1700000000").unwrap().timestamp(), 1_700_000_000);
        assert!(ts_time("x.1").is_none());
    }

    #[test]
    fn slack_errors_map_to_what_the_core_does() {
        let refused = |code: &str| {
            outbound_error(ApiError::Refused {
                method: "chat.postMessage",
                code: code.into(),
            })
            .kind
        };
        assert_eq!(refused("not_in_channel"), Failure::Permission);
        assert_eq!(refused("missing_scope"), Failure::Permission);
        assert_eq!(refused("channel_not_found"), Failure::ConversationGone);
        assert_eq!(refused("is_archived"), Failure::ConversationGone);
        for code in [
            "invalid_auth",
            "token_revoked",
            "account_inactive",
            "app_uninstalled",
        ] {
            assert_eq!(refused(code), Failure::AdapterDown, "{code}");
        }
        assert_eq!(refused("internal_error"), Failure::Unknown);
        let limited = outbound_error(ApiError::RateLimited {
            method: "chat.postMessage",
            retry_after: Some(std::time::Duration::from_secs(7)),
        });
        assert_eq!(
            limited.kind,
            Failure::RetryAfter(chrono::Duration::seconds(7))
        );
        let lost = outbound_error(ApiError::Unknown {
            method: "chat.postMessage",
            why: "HTTP 503".into(),
        });
        assert_eq!(lost.kind, Failure::Unknown);
    }
}
