//! The terminal adapter: prints drops and reveals the way a chat would show them.
//! Used by `prepbot demo` and the `questions` lookups.

use std::collections::HashMap;
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

/// How much of each reveal the console prints: the loop at a glance (the default of
/// `prepbot demo`), or every section (`--full`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Detail {
    Compact,
    Full,
}

/// In [`Detail::Compact`]: lines of the model answer, and bullets of the two lists.
const ANSWER_LINES: usize = 6;
const LOOK_FOR_BULLETS: usize = 3;
const MISTAKE_BULLETS: usize = 2;

/// `[topic | difficulty | kind]`, without the kind when it only repeats the topic
/// (`behavioral`, `system-design`).
fn labels(topic: &str, difficulty: &str, kind: &str) -> String {
    if kind == topic {
        format!("[{topic} | {difficulty}]")
    } else {
        format!("[{topic} | {difficulty} | {kind}]")
    }
}

pub fn render_drop(post: &DropPost, zone: Tz, at: DateTime<Utc>) -> String {
    format!(
        "\n=== Drop #{seq} | {when} ===\n{title}  {labels}  ({id})\n\n{prompt}\n\nAnswer in the thread. Reveal: {reveal}",
        seq = post.seq,
        when = local(at, zone),
        title = post.title,
        labels = labels(&post.topic, &post.difficulty, &post.kind),
        id = post.question_id,
        prompt = plain(&post.prompt),
        reveal = local(post.reveal_at, zone),
    )
}

/// A reveal as the terminal shows it. Compact keeps the start of the model answer and
/// of the two lists, and says how to see the rest (`question_id`, when known).
pub fn render_reveal(
    reveal: &RevealContent,
    zone: Tz,
    at: DateTime<Utc>,
    detail: Detail,
    question_id: Option<&str>,
) -> String {
    let mut out = format!("\n--- {} | {} ---", reveal.title, local(at, zone));
    let mut cut = false;
    for block in &reveal.blocks {
        let body = plain(&block.body);
        let heading = block.heading.as_deref().unwrap_or_default();
        let keep = match (detail, heading) {
            (Detail::Full, _) => usize::MAX,
            (Detail::Compact, "Model answer") => ANSWER_LINES,
            (Detail::Compact, "What interviewers look for") => LOOK_FOR_BULLETS,
            (Detail::Compact, "Common mistakes") => MISTAKE_BULLETS,
            (Detail::Compact, _) => {
                cut = true;
                continue;
            }
        };
        let lines: Vec<&str> = body.lines().collect();
        let mut shown = lines.len().min(keep);
        // A paragraph that ends within the first lines is a better place to stop.
        let paragraph_end = lines[..shown]
            .iter()
            .skip(2)
            .position(|l| l.trim().is_empty());
        if let (Detail::Compact, Some(end)) = (detail, paragraph_end) {
            shown = end + 2;
        }
        out.push('\n');
        if !heading.is_empty() {
            let title = match (shown < lines.len(), heading) {
                (false, _) => heading.to_string(),
                (true, "Model answer") => {
                    format!("{heading} (first {shown} of {} lines)", lines.len())
                }
                (true, _) => format!("{heading} ({shown} of {})", lines.len()),
            };
            cut |= shown < lines.len();
            out.push_str(&format!(
                "\n{title}\n{}\n",
                "~".repeat(title.chars().count())
            ));
        }
        out.push_str(&lines[..shown].join("\n"));
    }
    if cut {
        let whole = match question_id {
            Some(id) => format!("prepbot questions show {id}"),
            None => "prepbot questions show <id>".into(),
        };
        out.push_str(&format!(
            "\n\n(The whole reveal, with follow-ups and tips: {whole}, or run the demo with --full.)"
        ));
    }
    let h = prepbot_core::engine::reveal::ANSWERS_HEADING;
    out.push_str(&format!("\n\n{h}\n{}\n", "~".repeat(h.chars().count())));
    // The terminal has no markup: names print as they are.
    out.push_str(&reveal.answers.lines(str::to_string).join("\n"));
    out
}

/// The bank's Markdown as terminal text: no `**`, no backticks, no `#` headings, code
/// fences dropped and their code indented, links as `text (url)`. Lists and paragraphs
/// read as they are.
pub fn plain(markdown: &str) -> String {
    let mut out = Vec::new();
    let mut in_code = false;
    for line in markdown.lines() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("```") || trimmed.starts_with("~~~") {
            in_code = !in_code;
            continue;
        }
        if in_code {
            out.push(format!("    {line}"));
            continue;
        }
        let hashes = trimmed.chars().take_while(|&c| c == '#').count();
        let line = if (1..=6).contains(&hashes) && trimmed[hashes..].starts_with(' ') {
            trimmed[hashes..].trim_start()
        } else {
            line
        };
        out.push(plain_inline(line));
    }
    out.join("\n")
}

fn plain_inline(line: &str) -> String {
    let text = line.replace("**", "").replace('`', "");
    // [text](url) -> text (url)
    let mut out = String::with_capacity(text.len());
    let mut rest = text.as_str();
    while let Some(open) = rest.find('[') {
        let after = &rest[open + 1..];
        let link = after.find("](").and_then(|close| {
            let target = &after[close + 2..];
            target
                .find(')')
                .map(|end| (&after[..close], &target[..end], &target[end + 1..]))
        });
        match link {
            Some((label, url, tail)) if !url.contains(' ') => {
                out.push_str(&rest[..open]);
                out.push_str(&format!("{label} ({url})"));
                rest = tail;
            }
            _ => {
                out.push_str(&rest[..=open]);
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// A whole question for `prepbot questions show`.
pub fn render_question(q: &Question, with_answer: bool) -> String {
    // Tags that only repeat the topic or the kind shown beside the title are left out.
    let tags: Vec<&str> = q
        .tags
        .iter()
        .map(String::as_str)
        .filter(|t| *t != q.topic && *t != q.kind.as_str())
        .collect();
    let mut out = format!(
        "{title}  {labels}  ({id})\ntags: {tags}\n\n{prompt}",
        title = q.title,
        labels = labels(&q.topic, q.difficulty.as_str(), q.kind.as_str()),
        id = q.id,
        tags = if tags.is_empty() {
            "-".to_string()
        } else {
            tags.join(", ")
        },
        prompt = plain(&q.prompt),
    );
    if let Some(why) = &q.why_asked {
        out.push_str(&format!(
            "\n\nWhy it is asked\n~~~~~~~~~~~~~~~\n{}",
            plain(why)
        ));
    }
    if with_answer {
        let reveal = build_reveal(q, 0, &Answerers::default(), &[]);
        for block in &reveal.blocks {
            if let Some(h) = &block.heading {
                out.push_str(&format!("\n\n{h}\n{}\n", "~".repeat(h.chars().count())));
            }
            out.push_str(&plain(&block.body));
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
    detail: Detail,
    /// Drop message id (also its thread's, as [`Outbound::open_thread`] defaults to)
    /// -> question id, so a compact reveal can name the question to look up.
    questions: Mutex<HashMap<String, String>>,
}

impl ConsoleOutbound {
    pub fn new(sink: Sink, zone: Tz, clock: Arc<ManualClock>, detail: Detail) -> Self {
        ConsoleOutbound {
            sink,
            zone,
            clock,
            next_id: AtomicU64::new(1_000),
            detail,
            questions: Mutex::new(HashMap::new()),
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
        let message_id = self.next_id().to_string();
        self.questions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(message_id.clone(), post.question_id.clone());
        Ok(PostedDrop {
            message_id,
            posted_at: now,
        })
    }

    async fn post_reveal(
        &self,
        _channel: &prepbot_core::chat::ChannelAddress,
        thread_id: &str,
        _key: &str,
        reveal: &RevealContent,
        _attempt: prepbot_core::ports::RevealAttempt,
    ) -> Result<DateTime<Utc>, OutboundError> {
        let now = self.clock.now();
        let question = self
            .questions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(thread_id)
            .cloned();
        emit(
            &self.sink,
            &render_reveal(reveal, self.zone, now, self.detail, question.as_deref()),
        );
        Ok(now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_prints_as_plain_text() {
        let md = "## Plan\n**Bold** and `code` and [the docs](https://example.com/a).\n\n```yaml\nkey: value\n```\n- a [bracket] stays";
        assert_eq!(
            plain(md),
            "Plan\nBold and code and the docs (https://example.com/a).\n\n    key: value\n- a [bracket] stays"
        );
    }

    #[test]
    fn a_kind_that_repeats_the_topic_is_shown_once() {
        assert_eq!(
            labels("behavioral", "medium", "behavioral"),
            "[behavioral | medium]"
        );
        assert_eq!(
            labels("caching", "hard", "technical"),
            "[caching | hard | technical]"
        );
    }
}
