//! Answers in drop threads, from Socket Mode's `message` events. A person's message
//! whose `thread_ts` is a drop's `ts` (plain, `thread_broadcast` or `file_share`) is
//! an answer: it goes through the answer writer, keyed by (channel, ts), so an event
//! Slack delivers again is stored once, and is acknowledged after the commit.
//!
//! `message_changed` and `message_deleted` carry no `thread_ts` on the inner
//! message (slack-morphism's type has none), so they are routed by (channel, ts),
//! through the same answer writer, behind any create still queued: an edit
//! replaces the text only if its `edited.ts` is newer than the stored one, one that
//! overtakes its create is kept for it (the core's `edit_in_channel`), and a
//! `message_changed` without `edited` is a link preview, not an edit.
//! The bot's own messages and any message with a `bot_id` are ignored.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use slack_morphism::prelude::*;
use tracing::{debug, warn};

use crate::api::SlackApi;
use crate::names::Names;
use crate::outbound::{SlackState, ts_time};
use prepbot_core::acks::{Ack, AckQueue};
use prepbot_core::chat::{ChannelAddress, Platform, ThreadRef};
use prepbot_core::clock::Clock;
use prepbot_core::ingest::AnswerWriter;
use prepbot_core::practice::{AnswerEvent, IncomingMessage, Practice};

/// What a message event asks of the core.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// A new message in a thread (an answer if the thread is a drop's).
    Posted(IncomingMessageParts),
    /// A message's new text, routed by (channel, ts).
    Edited {
        channel: String,
        ts: String,
        body: String,
        edited_at: DateTime<Utc>,
    },
    /// A message deleted, routed by (channel, ts).
    Deleted { channel: String, ts: String },
}

/// A posted message's fields, before its author's name is looked up.
#[derive(Debug, Clone, PartialEq)]
pub struct IncomingMessageParts {
    pub channel: String,
    pub thread_ts: String,
    pub ts: String,
    pub user: String,
    pub body: String,
    pub posted_at: DateTime<Utc>,
}

fn is_bot(sender: &SlackMessageSender, state: &SlackState) -> bool {
    let me = state.me.get();
    sender.bot_id.is_some()
        || sender
            .user
            .as_ref()
            .is_some_and(|u| me.is_some_and(|me| u.0 == me.user_id))
}

/// What a Slack `message` event means for the answers; `None` for anything that is
/// not a person's message in a thread, nor an edit or delete.
pub fn change_of(event: &SlackMessageEvent, state: &SlackState) -> Option<Change> {
    let channel = event.origin.channel.as_ref()?.0.clone();
    match &event.subtype {
        None
        | Some(SlackMessageEventType::ThreadBroadcast)
        | Some(SlackMessageEventType::FileShare) => {
            if is_bot(&event.sender, state) {
                return None;
            }
            let thread_ts = event.origin.thread_ts.as_ref()?.0.clone();
            let ts = event.origin.ts.0.clone();
            if thread_ts == ts {
                return None; // a thread's parent: a top-level message
            }
            let mut body = event
                .content
                .as_ref()
                .and_then(|c| c.text.clone())
                .unwrap_or_default();
            // A file with no text is still an answer: keep its name.
            if let Some(files) = event.content.as_ref().and_then(|c| c.files.as_ref()) {
                for f in files {
                    let name = f
                        .name
                        .clone()
                        .or_else(|| f.title.clone())
                        .unwrap_or_default();
                    if !name.is_empty() {
                        if !body.is_empty() {
                            body.push('\n');
                        }
                        body.push_str(&format!("[file: {name}]"));
                    }
                }
            }
            Some(Change::Posted(IncomingMessageParts {
                channel,
                thread_ts,
                posted_at: ts_time(&ts)?,
                ts,
                user: event.sender.user.as_ref()?.0.clone(),
                body,
            }))
        }
        Some(SlackMessageEventType::MessageChanged) => {
            let inner = event.message.as_ref()?;
            if is_bot(&inner.sender, state) {
                return None;
            }
            // Without `edited` it is Slack unfurling a link, not the author's edit.
            let edited = inner.edited.as_ref()?;
            Some(Change::Edited {
                channel,
                ts: inner.ts.0.clone(),
                body: inner
                    .content
                    .as_ref()
                    .and_then(|c| c.text.clone())
                    .unwrap_or_default(),
                edited_at: ts_time(&edited.ts.0)?,
            })
        }
        Some(SlackMessageEventType::MessageDeleted) => {
            let ts = event
                .deleted_ts
                .as_ref()
                .map(|t| t.0.clone())
                .or_else(|| event.previous_message.as_ref().map(|m| m.ts.0.clone()))?;
            Some(Change::Deleted { channel, ts })
        }
        _ => None,
    }
}

/// What applying answer events needs.
#[derive(Clone)]
pub struct AnswerSink {
    pub team: String,
    pub practice: Practice,
    pub answers: AnswerWriter,
    pub acks: AckQueue,
    pub clock: Arc<dyn Clock>,
    pub api: SlackApi,
    pub names: Names,
}

impl AnswerSink {
    /// Applies one change; returns once it is queued (a new message) or applied (an
    /// edit or delete by id).
    pub async fn apply(&self, change: Change) {
        match change {
            Change::Posted(m) => {
                // The place in the writer's queue first, then the event: a burst
                // waits here, and the wait holds only the change it came as (see
                // `AnswerWriter::reserve`).
                let slot = self.answers.reserve().await;
                let (channel, ts) = (m.channel.clone(), m.ts.clone());
                let message = IncomingMessage {
                    thread: ThreadRef::in_conversation(Platform::Slack, &m.channel, &m.thread_ts),
                    message_id: m.ts,
                    member_name: self.names.name_or_fetch(&self.api, &m.user),
                    member_id: m.user,
                    body: m.body,
                    posted_at: m.posted_at,
                };
                let acks = self.acks.clone();
                let (c2, t2) = (channel.clone(), ts.clone());
                match slot {
                    Ok(slot) => {
                        slot.queue(AnswerEvent::Posted(message), move |outcome| match outcome {
                            Ok(outcome) => {
                                if let Some(r) =
                                    outcome.recorded().filter(|r| r.new && !r.withdrawn)
                                {
                                    let ack = if r.on_time { Ack::OnTime } else { Ack::Late };
                                    acks.send(&c2, &t2, ack);
                                }
                            }
                            Err(e) => {
                                warn!(channel = c2, ts = t2, error = %e, "an answer was not stored")
                            }
                        })
                    }
                    Err(e) => warn!(channel, ts, error = %e, "an answer was not stored"),
                }
            }
            Change::Edited {
                channel,
                ts,
                body,
                edited_at,
            } => {
                let Some(posted_at) = ts_time(&ts) else {
                    return;
                };
                let event = AnswerEvent::EditedInChannel {
                    channel: self.address(&channel),
                    message_id: ts.clone(),
                    posted_at,
                    body,
                    edited_at,
                };
                self.queue_change(event, channel, ts, "edit").await;
            }
            Change::Deleted { channel, ts } => {
                let Some(posted_at) = ts_time(&ts) else {
                    return;
                };
                let event = AnswerEvent::DeletedInChannel {
                    channel: self.address(&channel),
                    message_id: ts.clone(),
                    posted_at,
                    at: self.clock.now(),
                };
                self.queue_change(event, channel, ts, "delete").await;
            }
        }
    }

    fn address(&self, channel: &str) -> ChannelAddress {
        ChannelAddress::new(Platform::Slack, &self.team, channel)
    }

    /// Queues an edit or delete behind the creates already queued, in the same
    /// writer: one that arrives right after its message is applied to it, and one
    /// that overtakes it is kept for it by the core.
    async fn queue_change(
        &self,
        event: AnswerEvent,
        channel: String,
        ts: String,
        what: &'static str,
    ) {
        let (c2, t2) = (channel.clone(), ts.clone());
        let queued = self
            .answers
            .queue(event, move |outcome| match outcome {
                Ok(outcome) => debug!(channel = c2, ts = t2, ?outcome, what, "applied"),
                Err(e) => warn!(channel = c2, ts = t2, error = %e, what, "not stored"),
            })
            .await;
        if let Err(e) = queued {
            warn!(channel, ts, error = %e, what, "not stored");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::Identity;
    use serde_json::json;

    fn state() -> SlackState {
        let s = SlackState::default();
        let _ = s.me.set(Identity {
            user_id: "UBOT".into(),
            team_id: "T1".into(),
            bot_id: Some("BBOT".into()),
        });
        s
    }

    fn event(v: serde_json::Value) -> SlackMessageEvent {
        serde_json::from_value(v).expect("a message event")
    }

    #[test]
    fn thread_replies_are_answers_and_bots_and_parents_are_not() {
        let s = state();
        let reply = event(json!({"type": "message", "channel": "C1", "user": "U1",
            "text": "mine", "ts": "1700000001.000200", "thread_ts": "1700000000.000100"}));
        match change_of(&reply, &s) {
            Some(Change::Posted(m)) => {
                assert_eq!(
                    (m.channel.as_str(), m.ts.as_str(), m.user.as_str()),
                    ("C1", "1700000001.000200", "U1")
                );
                assert_eq!(m.thread_ts, "1700000000.000100");
                assert_eq!(m.body, "mine");
            }
            other => panic!("{other:?}"),
        }
        let broadcast = event(
            json!({"type": "message", "subtype": "thread_broadcast", "channel": "C1",
            "user": "U1", "text": "x", "ts": "2.0", "thread_ts": "1.0"}),
        );
        assert!(matches!(change_of(&broadcast, &s), Some(Change::Posted(_))));
        let bot = event(
            json!({"type": "message", "channel": "C1", "user": "U2", "bot_id": "B2",
            "text": "x", "ts": "2.0", "thread_ts": "1.0"}),
        );
        assert_eq!(change_of(&bot, &s), None);
        let own = event(json!({"type": "message", "channel": "C1", "user": "UBOT",
            "text": "x", "ts": "2.0", "thread_ts": "1.0"}));
        assert_eq!(change_of(&own, &s), None);
        let top = event(
            json!({"type": "message", "channel": "C1", "user": "U1", "text": "x", "ts": "2.0"}),
        );
        assert_eq!(change_of(&top, &s), None);
    }

    #[test]
    fn edits_and_deletes_are_routed_by_channel_and_ts_and_a_preview_is_no_edit() {
        let s = state();
        let edit = event(
            json!({"type": "message", "subtype": "message_changed", "channel": "C1",
            "ts": "5.0", "hidden": true,
            "message": {"type": "message", "user": "U1", "text": "new", "ts": "2.0",
                "edited": {"user": "U1", "ts": "4.000001"}},
            "previous_message": {"type": "message", "user": "U1", "text": "old", "ts": "2.0"}}),
        );
        assert_eq!(
            change_of(&edit, &s),
            Some(Change::Edited {
                channel: "C1".into(),
                ts: "2.0".into(),
                body: "new".into(),
                edited_at: ts_time("4.000001").unwrap()
            })
        );
        let preview = event(
            json!({"type": "message", "subtype": "message_changed", "channel": "C1",
            "ts": "5.0", "message": {"type": "message", "user": "U1", "text": "old", "ts": "2.0"}}),
        );
        assert_eq!(change_of(&preview, &s), None);
        let delete = event(
            json!({"type": "message", "subtype": "message_deleted", "channel": "C1",
            "ts": "6.0", "deleted_ts": "2.0", "hidden": true,
            "previous_message": {"type": "message", "user": "U1", "text": "new", "ts": "2.0"}}),
        );
        assert_eq!(
            change_of(&delete, &s),
            Some(Change::Deleted {
                channel: "C1".into(),
                ts: "2.0".into()
            })
        );
    }
}
