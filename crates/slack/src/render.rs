//! The core's neutral content as Slack messages: Block Kit with a plain `text`
//! fallback, every piece of text escaped as Slack requires (`&`, `<`, `>`), so
//! nothing the bot posts or echoes can ping anyone (`<!channel>`, `<!here>`,
//! `<!subteam^…>`, `<@U…>` arrive as text) or link anywhere it did not mean to.
//! The only `<…>` the bot writes itself is a date (`<!date^…>`), which each reader
//! sees in their own zone.
//!
//! Each post carries a marker the adapter can find again (Slack has no nonce): the
//! `block_id` of its first block, `prepbot-d42` for drop 42 and `prepbot-r42p0`,
//! `prepbot-r42p1`, … for the parts of its reveal.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use prepbot_core::engine::reveal::{ANSWERS_HEADING, DropPost, RevealContent};
use prepbot_core::engine::split::split;

/// Block Kit's limits: blocks in one message, characters in one section's text.
pub const MAX_BLOCKS: usize = 50;
pub const SECTION_LIMIT: usize = 3000;
/// What the adapter puts in one section: under Slack's limit, counted after
/// escaping, with room for a heading line.
pub const SECTION_BUDGET: usize = 2800;
/// Characters in one reveal message at most, so a long part stays readable and well
/// under Slack's 40,000 for a message.
pub const MESSAGE_BUDGET: usize = 12_000;

/// Escapes text for Slack's markup: the three characters Slack's own docs require.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    out
}

/// The marker of the post `key` (`d42`; a reveal part: `r42p0`).
pub fn marker(key: &str) -> String {
    format!("prepbot-{key}")
}

/// The marker of part `part` of the reveal `key`.
pub fn part_key(key: &str, part: usize) -> String {
    format!("{key}p{part}")
}

/// A time every reader sees in their own zone, with a UTC fallback for clients that
/// cannot format it.
pub fn local_time(t: DateTime<Utc>) -> String {
    format!(
        "<!date^{}^{{date_short_pretty}} {{time}}|{}>",
        t.timestamp(),
        t.format("%Y-%m-%d %H:%M UTC")
    )
}

/// A mrkdwn text object. `verbatim` keeps Slack from turning bare channel names and
/// URLs into links on its own.
fn mrkdwn(text: String) -> Value {
    json!({ "type": "mrkdwn", "text": text, "verbatim": true })
}

fn section(text: String) -> Value {
    json!({ "type": "section", "text": mrkdwn(text) })
}

fn with_block_id(mut block: Value, id: String) -> Value {
    block["block_id"] = Value::String(id);
    block
}

/// The bank's Markdown (paragraphs, `- ` lists, `**bold**`, fenced code) as Slack
/// mrkdwn, escaped. Code keeps its text; only the fence's language tag goes, since
/// Slack would print it.
pub fn bank_markdown(text: &str) -> String {
    let mut out = Vec::new();
    let mut in_code = false;
    for line in text.lines() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("```") {
            in_code = !in_code;
            out.push("```".to_string());
            continue;
        }
        if in_code {
            out.push(escape(line));
            continue;
        }
        let line = escape(line);
        let line = match line.trim_start().strip_prefix("- ") {
            Some(rest) => format!("• {rest}"),
            None => line,
        };
        out.push(line.replace("**", "*"));
    }
    out.join("\n")
}

/// The drop: title, question, topic and difficulty, the drop's number and when the
/// answer is revealed. Its first block carries the drop's marker.
pub fn drop_message(channel: &str, key: &str, post: &DropPost) -> Value {
    let title = format!("*Drop #{}: {}*", post.seq, escape(&post.title));
    let mut blocks = vec![with_block_id(section(title), marker(key))];
    for chunk in split(&bank_markdown(&post.prompt), SECTION_BUDGET) {
        blocks.push(section(chunk));
    }
    blocks.push(json!({
        "type": "context",
        "elements": [mrkdwn(format!(
            "{} · {} · {} · answer in this thread; reveal {}",
            escape(&post.topic),
            escape(&post.difficulty),
            escape(&post.question_id),
            local_time(post.reveal_at)
        ))]
    }));
    blocks.truncate(MAX_BLOCKS);
    json!({
        "channel": channel,
        "text": format!(
            "Drop #{}: {} (answer in the thread; reveal {})",
            post.seq,
            escape(&post.title),
            local_time(post.reveal_at)
        ),
        "blocks": blocks,
        "unfurl_links": false,
        "unfurl_media": false,
    })
}

/// The reveal as its parts' blocks: each part at most [`MAX_BLOCKS`] blocks and
/// [`MESSAGE_BUDGET`] characters, each section under [`SECTION_LIMIT`] (after
/// escaping), a code block never cut open (the core's splitter closes and reopens
/// it). Names of who answered are escaped, never mentions.
pub fn reveal_parts(reveal: &RevealContent) -> Vec<Vec<Value>> {
    let mut sections = vec![format!("*{}*", escape(&reveal.title))];
    for block in &reveal.blocks {
        let body = bank_markdown(&block.body);
        let heading = block
            .heading
            .as_deref()
            .map(|h| format!("*{}*\n", escape(h)));
        for (i, chunk) in split(&body, SECTION_BUDGET).into_iter().enumerate() {
            match (&heading, i) {
                (Some(h), 0) => sections.push(format!("{h}{chunk}")),
                _ => sections.push(chunk),
            }
        }
    }
    let answers = reveal.answers.lines(escape).join("\n");
    for (i, chunk) in split(&answers, SECTION_BUDGET).into_iter().enumerate() {
        if i == 0 {
            sections.push(format!("*{}*\n{chunk}", escape(ANSWERS_HEADING)));
        } else {
            sections.push(chunk);
        }
    }
    let mut parts: Vec<Vec<Value>> = Vec::new();
    let mut size = 0;
    for text in sections {
        let len = text.chars().count();
        let full = parts
            .last()
            .is_none_or(|p| p.len() >= MAX_BLOCKS || size + len > MESSAGE_BUDGET);
        if full {
            parts.push(Vec::new());
            size = 0;
        }
        size += len;
        if let Some(part) = parts.last_mut() {
            part.push(section(text));
        }
    }
    parts
}

/// One reveal part as a `chat.postMessage` body in the drop's thread: the first part
/// is also sent to the channel (`reply_broadcast`), so everyone sees the reveal.
pub fn reveal_message(
    channel: &str,
    thread_ts: Option<&str>,
    key: &str,
    part: usize,
    of: usize,
    title: &str,
    mut blocks: Vec<Value>,
) -> Value {
    if let Some(first) = blocks.first_mut() {
        *first = with_block_id(first.take(), marker(&part_key(key, part)));
    }
    let text = if of > 1 {
        format!("{} (part {} of {of})", escape(title), part + 1)
    } else {
        escape(title)
    };
    let mut body = json!({
        "channel": channel,
        "text": text,
        "blocks": blocks,
        "unfurl_links": false,
        "unfurl_media": false,
    });
    if let Some(ts) = thread_ts {
        body["thread_ts"] = Value::String(ts.to_string());
        if part == 0 {
            body["reply_broadcast"] = Value::Bool(true);
        }
    }
    body
}

/// Every string in a payload (for checks that nothing in it can ping).
pub fn strings(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::String(s) => out.push(s.clone()),
        Value::Array(a) => a.iter().for_each(|v| strings(v, out)),
        Value::Object(o) => o.values().for_each(|v| strings(v, out)),
        _ => {}
    }
}

/// Whether text would reach someone as Slack markup: a mention, a broadcast, a
/// user group. The bot's own `<!date^…>` is the one `<!` it writes.
pub fn can_ping(text: &str) -> bool {
    let mut rest = text;
    while let Some(at) = rest.find('<') {
        rest = &rest[at + 1..];
        if rest.starts_with('@') || rest.starts_with('#') {
            return true;
        }
        if rest.starts_with('!') && !rest.starts_with("!date^") {
            return true;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use prepbot_core::engine::reveal::{AnswerSummary, TextBlock};

    #[test]
    fn escaping_makes_every_mention_text() {
        let evil = "<!channel> <!here> <!everyone> <!subteam^S1> <@U123> <#C1> & a<b";
        let e = escape(evil);
        assert_eq!(
            e,
            "&lt;!channel&gt; &lt;!here&gt; &lt;!everyone&gt; &lt;!subteam^S1&gt; &lt;@U123&gt; &lt;#C1&gt; &amp; a&lt;b"
        );
        assert!(!can_ping(&e));
        assert!(can_ping(evil));
        assert!(!can_ping(&local_time(Utc::now())));
    }

    #[test]
    fn bank_markdown_becomes_slack_mrkdwn() {
        let md = "A **bold** point:\n- one\n- two <x>\n\n```rust\nif a < b && c {}\n```";
        assert_eq!(
            bank_markdown(md),
            "A *bold* point:\n• one\n• two &lt;x&gt;\n\n```\nif a &lt; b &amp;&amp; c {}\n```"
        );
    }

    fn post() -> DropPost {
        DropPost {
            seq: 3,
            question_id: "q1".into(),
            title: "Caching <!here>".into(),
            prompt: "How would you cache <@U1>?".into(),
            topic: "caching".into(),
            difficulty: "medium".into(),
            kind: "design".into(),
            reveal_at: DateTime::from_timestamp(1_800_000_000, 0).unwrap(),
        }
    }

    #[test]
    fn a_drop_carries_its_marker_a_fallback_and_the_readers_time() {
        let m = drop_message("C1", "d42", &post());
        assert_eq!(m["blocks"][0]["block_id"], "prepbot-d42");
        assert!(m["text"].as_str().unwrap().starts_with("Drop #3: Caching"));
        assert!(
            m.to_string()
                .contains("<!date^1800000000^{date_short_pretty} {time}|2027-01-15 08:00 UTC>")
        );
        let mut all = Vec::new();
        strings(&m, &mut all);
        assert!(all.iter().all(|s| !can_ping(s)), "{all:?}");
    }

    #[test]
    fn a_long_reveal_splits_within_block_kit_limits_without_cutting_code_open() {
        let code = format!("```\n{}\n```", "let x = a < b;\n".repeat(400));
        let reveal = RevealContent {
            title: "Reveal #1: T".into(),
            blocks: (0..60)
                .map(|i| TextBlock {
                    heading: Some(format!("H{i}")),
                    body: if i == 0 { code.clone() } else { "short".into() },
                })
                .collect(),
            answers: AnswerSummary {
                on_time: vec!["<!channel>".into()],
                ..Default::default()
            },
        };
        let parts = reveal_parts(&reveal);
        assert!(parts.len() >= 2);
        for part in &parts {
            assert!(part.len() <= MAX_BLOCKS);
            for block in part {
                let text = block["text"]["text"].as_str().unwrap();
                assert!(text.chars().count() <= SECTION_LIMIT);
                assert_eq!(text.matches("```").count() % 2, 0, "a code block cut open");
                assert!(!can_ping(text));
            }
        }
        let first = reveal_message(
            "C1",
            Some("1.2"),
            "r1",
            0,
            parts.len(),
            "T",
            parts[0].clone(),
        );
        assert_eq!(first["blocks"][0]["block_id"], "prepbot-r1p0");
        assert_eq!(first["reply_broadcast"], true);
        let second = reveal_message(
            "C1",
            Some("1.2"),
            "r1",
            1,
            parts.len(),
            "T",
            parts[1].clone(),
        );
        assert_eq!(second["blocks"][0]["block_id"], "prepbot-r1p1");
        assert!(second.get("reply_broadcast").is_none());
    }
}
