//! Slack's side of catching up after the adapter was away ([`prepbot_core::catch_up`]
//! does the rest, on every platform): each open Slack drop's thread is listed with
//! `conversations.replies`, page by page by cursor.

use std::sync::Arc;

use crate::api::{ListedMessage, SlackApi};
use crate::names::Names;
use crate::outbound::{REPLIES_PAGE, SlackState, ts_time};
use prepbot_core::catch_up::{Listing, ThreadHistory};
use prepbot_core::chat::{Platform, ThreadRef};
use prepbot_core::practice::{IncomingMessage, ListedMessage as Listed, Practice};
use prepbot_core::store::drops::DropRecord;

/// Whether a thread message is a member's answer: a person's message (no `bot_id`,
/// not the bot), plain or one of the subtypes that still carry a person's answer.
pub fn is_answer(m: &ListedMessage, state: &SlackState) -> bool {
    m.user.is_some()
        && m.bot_id.is_none()
        && !state.is_mine(m)
        && matches!(
            m.subtype.as_deref(),
            None | Some("thread_broadcast") | Some("file_share")
        )
}

pub struct SlackHistory {
    pub api: SlackApi,
    pub practice: Practice,
    pub state: Arc<SlackState>,
    pub names: Names,
}

impl ThreadHistory for SlackHistory {
    fn platform(&self) -> Platform {
        Platform::Slack
    }

    async fn list_thread(&self, drop: &DropRecord) -> Result<Option<Listing>, String> {
        let Some(thread_ts) = drop.thread_id.as_deref().or(drop.message_id.as_deref()) else {
            return Ok(None);
        };
        // A drop names its channel by key; the thread's `ts` is unique only within
        // the channel, so the listing needs the channel's own id.
        let Some(channel) = self
            .practice
            .channel(drop.channel_id)
            .await
            .map_err(|e| e.to_string())?
        else {
            return Ok(None);
        };
        let conversation = channel.address.conversation;
        let mut cursor: Option<String> = None;
        let mut messages = Vec::new();
        let mut newest = ts_time(thread_ts);
        loop {
            let page = match self
                .api
                .replies(&conversation, thread_ts, cursor.as_deref(), REPLIES_PAGE)
                .await
            {
                Ok(p) => p,
                Err(e) if e.code() == Some("thread_not_found") => return Ok(None),
                Err(e) => {
                    self.state.check_auth(&e);
                    return Err(e.to_string());
                }
            };
            for m in page.messages {
                let at = ts_time(&m.ts);
                newest = newest.max(at);
                if m.ts == thread_ts || !is_answer(&m, &self.state) {
                    continue;
                }
                let (Some(user), Some(posted_at)) = (m.user.clone(), at) else {
                    continue;
                };
                messages.push(Listed {
                    edited_at: m.edited.as_ref().and_then(|e| ts_time(&e.ts)),
                    message: IncomingMessage {
                        thread: ThreadRef::in_conversation(
                            Platform::Slack,
                            conversation.clone(),
                            thread_ts,
                        ),
                        message_id: m.ts.clone(),
                        member_name: self.names.name_or_fetch(&self.api, &user),
                        member_id: user,
                        body: m.text.unwrap_or_default(),
                        posted_at,
                    },
                });
            }
            match page.next_cursor {
                Some(next) if cursor.as_deref() != Some(next.as_str()) => cursor = Some(next),
                _ => break,
            }
        }
        messages.sort_by_key(|l| l.message.posted_at);
        let Some(complete_up_to) = newest else {
            return Err(format!("`{thread_ts}` is not a Slack timestamp"));
        };
        Ok(Some(Listing {
            messages,
            // Everything up to the newest message listed is in the listing.
            complete_up_to,
            ack_conversation: conversation,
        }))
    }
}
