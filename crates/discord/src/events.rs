//! Answers in drop threads. A member's message in a drop's thread is stored and
//! acknowledged (✅ on time, 🕒 late); an edit replaces it and a delete withdraws it.
//! Serenity handles each event in its own task, so a create, an edit and a delete of
//! one message may be handled in any order; the practice layer makes the outcome the
//! same whatever the order (see `Practice::record_edit` and `withdraw_in_thread`).
//! Every answer event goes through the answer writer ([`prepbot_core::ingest`]), which
//! commits them in batches and reacts only after the commit, so the reaction never
//! acknowledges an answer that is not stored yet.
//!
//! Answer events bypass poise: [`super::tracked::Tracked`] takes them out of
//! serenity's event ([`answer_events`]) and queues them ([`queue`]), and the event's
//! task ends once they are queued. A flood of messages then costs a small job each
//! while it waits for the writer, not a parked poise dispatch holding the whole
//! gateway event.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use chrono::{DateTime, Utc};
use poise::serenity_prelude as serenity;
use serenity::{FullEvent, MessageType, MessageUpdateEvent};
use tracing::{debug, error};

use super::messages::{acknowledge_with, body_of, incoming, thread_ref};
use super::{CommandError, Data};
use prepbot_core::acks::AckQueue;
use prepbot_core::clock::Clock;
use prepbot_core::ingest::AnswerWriter;
use prepbot_core::practice::{AnswerEvent, IncomingMessage, PracticeError};

/// What answer events need. It exists before poise's setup has run, so answers
/// are taken from the first event on.
#[derive(Clone)]
pub struct AnswerSink {
    pub answers: AnswerWriter,
    pub acks: AckQueue,
    pub clock: Arc<dyn Clock>,
}

/// The answer events in a gateway event (none for a bot's message or a link
/// preview); `None` for an event that is not about messages (a command, READY...),
/// which goes on to poise.
pub(super) fn answer_events(event: &FullEvent, now: DateTime<Utc>) -> Option<Vec<AnswerEvent>> {
    Some(match event {
        FullEvent::Message { new_message } => incoming(new_message)
            .map(AnswerEvent::Posted)
            .into_iter()
            .collect(),
        FullEvent::MessageUpdate { event, .. } => update(event).into_iter().collect(),
        FullEvent::MessageDelete {
            channel_id,
            deleted_message_id,
            ..
        } => vec![AnswerEvent::Deleted {
            thread: thread_ref(*channel_id),
            message_id: deleted_message_id.get().to_string(),
            at: now,
        }],
        // Queued together, so they usually share one commit.
        FullEvent::MessageDeleteBulk {
            channel_id,
            multiple_deleted_messages_ids,
            ..
        } => multiple_deleted_messages_ids
            .iter()
            .map(|id| AnswerEvent::Deleted {
                thread: thread_ref(*channel_id),
                message_id: id.get().to_string(),
                at: now,
            })
            .collect(),
        _ => return None,
    })
}

/// Queues answer events for the answer writer and returns once they are queued
/// (waiting only while its queue is full). The writer acknowledges each answer
/// stored for the first time once it is committed, or logs why it was not stored.
pub(super) async fn queue(sink: &AnswerSink, events: Vec<AnswerEvent>) {
    // Each event stays in `events` until its place in the queue is held: while a
    // burst waits for the writer, this future holds the iterator and the wait, not
    // a copy of the event (see `AnswerWriter::reserve`).
    let mut events = events.into_iter();
    while events.len() > 0 {
        let slot = sink.answers.reserve().await;
        let Some(event) = events.next() else { break };
        // Discord ids, for the reaction and the log (every event here came from Discord).
        let (thread, message_id) = match &event {
            AnswerEvent::Posted(m) | AnswerEvent::Edited { message: m, .. } => {
                (Some(&m.thread), &m.message_id)
            }
            AnswerEvent::EditedText {
                thread, message_id, ..
            }
            | AnswerEvent::Deleted {
                thread, message_id, ..
            } => (Some(thread), message_id),
            // Not built from Discord's events, which always name their thread.
            AnswerEvent::EditedInChannel { message_id, .. }
            | AnswerEvent::DeletedInChannel { message_id, .. } => (None, message_id),
        };
        let ids = (
            thread.map_or(0, |t| t.thread.parse::<u64>().unwrap_or_default()),
            message_id.parse::<u64>().unwrap_or_default(),
        );
        let acknowledges = event.message().is_some();
        let acks = sink.acks.clone();
        match slot {
            Ok(slot) => slot.queue(event, move |outcome| match outcome {
                Ok(outcome) if acknowledges => {
                    acknowledge_with(&acks, ids.0, ids.1, outcome.recorded())
                }
                Ok(_) => {}
                Err(e) => not_stored(ids, &e),
            }),
            Err(e) => not_stored(ids, &e),
        }
    }
}

/// Logs an answer event that was not stored. Once the writer has stopped (a
/// shutdown cut short), every event still arriving fails the same way: that is
/// said once, not once per event.
fn not_stored((thread, message): (u64, u64), e: &PracticeError) {
    static STOPPED_SAID: AtomicBool = AtomicBool::new(false);
    if matches!(e, PracticeError::WriterStopped) {
        if !STOPPED_SAID.swap(true, Ordering::Relaxed) {
            error!(thread, message, error = %e, "answer events arriving after the answer writer stopped are not stored");
        }
        return;
    }
    error!(thread, message, error = %e, "answer event not stored");
}

/// Poise's event handler. Answer events never reach it (see `tracked`); it handles
/// the gateway sessions.
pub fn handler<'a>(
    framework: poise::FrameworkContext<'a, Data, CommandError>,
    event: &'a FullEvent,
) -> poise::BoxFuture<'a, Result<(), CommandError>> {
    Box::pin(handle(event, framework.user_data))
}

async fn handle(event: &FullEvent, data: &Data) -> Result<(), CommandError> {
    let now = data.clock.now();
    // A new session (not a resume) after the first: Discord does not replay what
    // happened while disconnected, so catch up on open threads.
    if let FullEvent::Ready { .. } = event
        && data.sessions.fetch_add(1, Ordering::SeqCst) > 0
    {
        let (practice, outbound, acks, health) = (
            data.practice.clone(),
            data.outbound.clone(),
            data.acks.clone(),
            data.health.clone(),
        );
        tokio::spawn(async move {
            health.catching_up().await;
            super::backfill::run(&practice, outbound.rest(), &acks, now).await;
            health.caught_up().await;
        });
    }
    Ok(())
}

/// The answer event in a message update: `None` when nothing a member wrote changed.
fn update(event: &MessageUpdateEvent) -> Option<AnswerEvent> {
    // An update without content is Discord adding a link preview, and one without
    // an edit time is not an edit by the member: nothing changed.
    let (Some(content), Some(edited)) = (&event.content, event.edited_timestamp) else {
        debug!(message = event.id.get(), "update without an edit ignored");
        return None;
    };
    if event.author.as_ref().is_some_and(|a| a.bot)
        || event.webhook_id.is_some_and(|w| w.is_some())
        || event
            .kind
            .is_some_and(|k| !matches!(k, MessageType::Regular | MessageType::InlineReply))
    {
        return None;
    }
    let body = body_of(content, event.attachments.as_deref().unwrap_or(&[]));
    let edited_at = *edited;
    Some(match (&event.author, event.timestamp) {
        // A full update: enough to store the message if its create has not arrived.
        (Some(author), Some(timestamp)) => {
            let nick = event
                .member
                .as_ref()
                .and_then(|m| m.as_ref())
                .and_then(|m| m.nick.clone());
            AnswerEvent::Edited {
                message: IncomingMessage {
                    thread: thread_ref(event.channel_id),
                    message_id: event.id.get().to_string(),
                    member_id: author.id.get().to_string(),
                    member_name: nick
                        .or_else(|| author.global_name.clone())
                        .unwrap_or_else(|| author.name.clone()),
                    body,
                    posted_at: *timestamp,
                },
                edited_at,
            }
        }
        // A partial one: applied to the stored message, or kept until it arrives.
        _ => AnswerEvent::EditedText {
            thread: thread_ref(event.channel_id),
            message_id: event.id.get().to_string(),
            body,
            edited_at,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The size of the future `f` returns, without calling it.
    fn future_size<'a, Fut>(_: impl FnOnce(&'a AnswerSink, Vec<AnswerEvent>) -> Fut) -> usize {
        std::mem::size_of::<Fut>()
    }

    /// In a burst, every answer event waits for room in the writer's queue as a
    /// future of its own (serenity runs each gateway event in a task), so what that
    /// future holds is multiplied by the burst: it keeps its events in their `Vec`
    /// and holds no copy of one while it waits. Holding one would take it above
    /// twice an event's size (it held two, 1 KB in all, before `reserve`).
    #[test]
    fn a_waiting_answer_holds_no_copy_of_its_event() {
        let event = std::mem::size_of::<AnswerEvent>();
        let waiting = future_size(queue);
        assert!(
            waiting < 2 * event,
            "queue's future is {waiting} bytes, an event {event}"
        );
    }
}
