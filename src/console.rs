//! The terminal adapter: prints drops and reveals the way a chat would show them.
//! Used by `prepbot demo` and the `questions` lookups.

use std::io::Write;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use prepbot_core::bank::Question;
use prepbot_core::clock::{Clock, ManualClock};
use prepbot_core::engine::answers::Answerers;
use prepbot_core::engine::reveal::{DropPost, RevealContent, build_reveal};
use prepbot_core::ports::{Outbound, OutboundError, PostedDrop};

/// Where console output goes: stdout, or a buffer in tests.
pub type Sink = Arc<Mutex<dyn Write + Send>>;

pub fn stdout_sink() -> Sink {
    Arc::new(Mutex::new(std::io::stdout()))
}

/// Writes to a sink; output errors (a closed pipe) are not worth failing a demo for.
pub fn emit(sink: &Sink, text: &str) {
    let mut out = sink.lock().unwrap_or_else(|p| p.into_inner());
    let _ = writeln!(out, "{text}");
}

pub use prepbot_core::schedule_view::local;

pub fn render_drop(post: &DropPost, zone: Tz, at: DateTime<Utc>) -> String {
    format!(
        "\n=== Drop #{seq} | {when} ===\n{title}  [{topic} | {difficulty} | {kind}]  ({id})\n\n{prompt}\n\nAnswer in the thread. Reveal: {reveal}",
        seq = post.seq,
        when = local(at, zone),
        title = post.title,
        topic = post.topic,
        difficulty = post.difficulty,
        kind = post.kind,
        id = post.question_id,
        prompt = post.prompt,
        reveal = local(post.reveal_at, zone),
    )
}

pub fn render_reveal(reveal: &RevealContent, zone: Tz, at: DateTime<Utc>) -> String {
    let mut out = format!("\n--- {} | {} ---", reveal.title, local(at, zone));
    for block in &reveal.blocks {
        out.push('\n');
        if let Some(h) = &block.heading {
            out.push_str(&format!("\n{h}\n{}\n", "~".repeat(h.chars().count())));
        }
        out.push_str(&block.body);
    }
    let h = prepbot_core::engine::reveal::ANSWERS_HEADING;
    out.push_str(&format!("\n\n{h}\n{}\n", "~".repeat(h.chars().count())));
    // The terminal has no markup: names print as they are.
    out.push_str(&reveal.answers.lines(str::to_string).join("\n"));
    out
}

/// A whole question for `prepbot questions show`.
pub fn render_question(q: &Question, with_answer: bool) -> String {
    let mut out = format!(
        "{title}  [{topic} | {difficulty} | {kind}]  ({id})\ntags: {tags}\n\n{prompt}",
        title = q.title,
        topic = q.topic,
        difficulty = q.difficulty,
        kind = q.kind,
        id = q.id,
        tags = if q.tags.is_empty() {
            "-".to_string()
        } else {
            q.tags.join(", ")
        },
        prompt = q.prompt,
    );
    if let Some(why) = &q.why_asked {
        out.push_str(&format!("\n\nWhy it is asked\n~~~~~~~~~~~~~~~\n{why}"));
    }
    if with_answer {
        let reveal = build_reveal(q, 0, &Answerers::default(), &[]);
        for block in &reveal.blocks {
            if let Some(h) = &block.heading {
                out.push_str(&format!("\n\n{h}\n{}\n", "~".repeat(h.chars().count())));
            }
            out.push_str(&block.body);
        }
    }
    out
}

/// The terminal as a platform: prints posts and hands out message ids.
pub struct ConsoleOutbound {
    sink: Sink,
    zone: Tz,
    clock: Arc<ManualClock>,
    next_id: AtomicU64,
}

impl ConsoleOutbound {
    pub fn new(sink: Sink, zone: Tz, clock: Arc<ManualClock>) -> Self {
        ConsoleOutbound {
            sink,
            zone,
            clock,
            next_id: AtomicU64::new(1_000),
        }
    }

    pub fn next_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }
}

impl Outbound for ConsoleOutbound {
    fn ready(&self, platform: prepbot_core::chat::Platform) -> bool {
        platform == prepbot_core::chat::Platform::Console
    }

    async fn post_drop(
        &self,
        _channel: &prepbot_core::chat::ChannelAddress,
        _key: &str,
        post: &DropPost,
    ) -> Result<PostedDrop, OutboundError> {
        let now = self.clock.now();
        emit(&self.sink, &render_drop(post, self.zone, now));
        Ok(PostedDrop {
            message_id: self.next_id().to_string(),
            posted_at: now,
        })
    }

    async fn post_reveal(
        &self,
        _channel: &prepbot_core::chat::ChannelAddress,
        _thread_id: &str,
        _key: &str,
        reveal: &RevealContent,
    ) -> Result<DateTime<Utc>, OutboundError> {
        let now = self.clock.now();
        emit(&self.sink, &render_reveal(reveal, self.zone, now));
        Ok(now)
    }
}
