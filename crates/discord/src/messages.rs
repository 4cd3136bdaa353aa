//! A Discord message as the core sees it (a member's answer, or nothing), and the
//! reaction that acknowledges a stored one. Shared by live events (`events.rs`) and
//! the catch-up after downtime (`backfill.rs`), which therefore do not depend on
//! each other for it.

use poise::serenity_prelude as serenity;
use serenity::{Attachment, Message, MessageType};

use prepbot_core::acks::{Ack, AckQueue};
use prepbot_core::chat::{Platform, ThreadRef};
use prepbot_core::practice::{IncomingMessage, RecordedAnswer};

/// A Discord thread as the core addresses it: threads are channels, unique on Discord.
pub(super) fn thread_ref(thread: serenity::ChannelId) -> ThreadRef {
    ThreadRef::new(Platform::Discord, thread.get().to_string())
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
pub(super) fn body_of(content: &str, attachments: &[Attachment]) -> String {
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
        thread: thread_ref(m.channel_id),
        message_id: m.id.get().to_string(),
        member_id: m.author.id.get().to_string(),
        member_name: name,
        body: body_of(&m.content, &m.attachments),
        posted_at: *m.timestamp,
    })
}
