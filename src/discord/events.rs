//! Answers in drop threads. A member's message in a drop's thread is stored and
//! acknowledged (✅ on time, 🕒 late); an edit replaces it and a delete withdraws it.
//! Serenity handles each event in its own task, so a create, an edit and a delete of
//! one message may be handled in any order; the practice layer makes the outcome the
//! same whatever the order (see `Practice::record_edit` and `withdraw_in_thread`).
//! Every answer event goes through the answer writer ([`crate::ingest`]), which
//! commits them in batches; a handler hears the outcome only after the commit, so
//! the reaction never acknowledges an answer that is not stored yet.

use std::sync::atomic::Ordering;

use poise::serenity_prelude as serenity;
use serenity::{Attachment, FullEvent, Message, MessageType, MessageUpdateEvent};
use tracing::debug;

use super::outbound::{Ack, AckQueue};
use super::{CommandError, Data};
use crate::practice::{AnswerEvent, IncomingMessage, RecordedAnswer};

pub fn handler<'a>(
    framework: poise::FrameworkContext<'a, Data, CommandError>,
    event: &'a FullEvent,
) -> poise::BoxFuture<'a, Result<(), CommandError>> {
    Box::pin(handle(event, framework.user_data))
}

async fn handle(event: &FullEvent, data: &Data) -> Result<(), CommandError> {
    let now = data.clock.now();
    match event {
        FullEvent::Message { new_message } => {
            let Some(msg) = incoming(new_message) else {
                return Ok(());
            };
            let recorded = data
                .answers
                .submit(AnswerEvent::Posted(msg))
                .await?
                .recorded();
            acknowledge(
                data,
                new_message.channel_id.get(),
                new_message.id.get(),
                recorded,
            );
        }
        FullEvent::MessageUpdate { event, .. } => on_update(data, event).await?,
        FullEvent::MessageDelete {
            channel_id,
            deleted_message_id,
            ..
        } => {
            data.answers
                .submit(AnswerEvent::Deleted {
                    thread_id: channel_id.get(),
                    message_id: deleted_message_id.get(),
                    at: now,
                })
                .await?;
        }
        FullEvent::MessageDeleteBulk {
            channel_id,
            multiple_deleted_messages_ids,
            ..
        } => {
            // Queued together, so they usually share one commit.
            futures_util::future::try_join_all(multiple_deleted_messages_ids.iter().map(|id| {
                data.answers.submit(AnswerEvent::Deleted {
                    thread_id: channel_id.get(),
                    message_id: id.get(),
                    at: now,
                })
            }))
            .await?;
        }
        // A new session (not a resume) after the first: Discord does not replay
        // what happened while disconnected, so catch up on open threads.
        FullEvent::Ready { .. } if data.sessions.fetch_add(1, Ordering::SeqCst) > 0 => {
            let (practice, outbound, acks) = (
                data.practice.clone(),
                data.outbound.clone(),
                data.acks.clone(),
            );
            tokio::spawn(async move {
                super::backfill::run(&practice, outbound.rest(), &acks, now).await;
            });
        }
        _ => {}
    }
    Ok(())
}

fn acknowledge(data: &Data, channel_id: u64, message_id: u64, recorded: Option<RecordedAnswer>) {
    acknowledge_with(&data.acks, channel_id, message_id, recorded);
}

/// Reacts to a newly stored answer (✅ on time, 🕒 late); nothing for a message
/// seen before or already withdrawn.
pub(super) fn acknowledge_with(
    acks: &AckQueue,
    channel_id: u64,
    message_id: u64,
    recorded: Option<RecordedAnswer>,
) {
    if let Some(r) = recorded.filter(|r| r.new && !r.withdrawn) {
        let ack = if r.on_time { Ack::OnTime } else { Ack::Late };
        acks.send(channel_id, message_id, ack);
    }
}

/// The text stored for a message: its content, then one line per attachment URL
/// (a message with only an attachment is still an answer).
fn body_of(content: &str, attachments: &[Attachment]) -> String {
    let mut body = content.to_string();
    for a in attachments {
        if !body.is_empty() {
            body.push('\n');
        }
        body.push_str(&a.url);
    }
    body
}

/// A member's message as the practice layer sees it; `None` for bots, webhooks and
/// system messages (thread created, pins...).
pub(super) fn incoming(m: &Message) -> Option<IncomingMessage> {
    if m.author.bot
        || m.webhook_id.is_some()
        || !matches!(m.kind, MessageType::Regular | MessageType::InlineReply)
    {
        return None;
    }
    let name = m
        .member
        .as_ref()
        .and_then(|pm| pm.nick.clone())
        .or_else(|| m.author.global_name.clone())
        .unwrap_or_else(|| m.author.name.clone());
    Some(IncomingMessage {
        thread_id: m.channel_id.get(),
        message_id: m.id.get(),
        member_id: m.author.id.get(),
        member_name: name,
        body: body_of(&m.content, &m.attachments),
        posted_at: *m.timestamp,
    })
}

async fn on_update(data: &Data, event: &MessageUpdateEvent) -> Result<(), CommandError> {
    // An update without content is Discord adding a link preview, and one without
    // an edit time is not an edit by the member: nothing changed.
    let (Some(content), Some(edited)) = (&event.content, event.edited_timestamp) else {
        debug!(message = event.id.get(), "update without an edit ignored");
        return Ok(());
    };
    if event.author.as_ref().is_some_and(|a| a.bot)
        || event.webhook_id.is_some_and(|w| w.is_some())
        || event
            .kind
            .is_some_and(|k| !matches!(k, MessageType::Regular | MessageType::InlineReply))
    {
        return Ok(());
    }
    let body = body_of(content, event.attachments.as_deref().unwrap_or(&[]));
    let edited_at = *edited;
    match (&event.author, event.timestamp) {
        // A full update: enough to store the message if its create has not arrived.
        (Some(author), Some(timestamp)) => {
            let nick = event
                .member
                .as_ref()
                .and_then(|m| m.as_ref())
                .and_then(|m| m.nick.clone());
            let msg = IncomingMessage {
                thread_id: event.channel_id.get(),
                message_id: event.id.get(),
                member_id: author.id.get(),
                member_name: nick
                    .or_else(|| author.global_name.clone())
                    .unwrap_or_else(|| author.name.clone()),
                body,
                posted_at: *timestamp,
            };
            let recorded = data
                .answers
                .submit(AnswerEvent::Edited {
                    message: msg,
                    edited_at,
                })
                .await?
                .recorded();
            acknowledge(data, event.channel_id.get(), event.id.get(), recorded);
        }
        // A partial one: applied to the stored message, or kept until it arrives.
        _ => {
            data.answers
                .submit(AnswerEvent::EditedText {
                    thread_id: event.channel_id.get(),
                    message_id: event.id.get(),
                    body,
                    edited_at,
                })
                .await?;
        }
    }
    Ok(())
}
