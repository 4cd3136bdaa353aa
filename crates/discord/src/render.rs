//! How drops, reveals and lookups look on Discord: embeds, Discord timestamps
//! (`<t:UNIX:F>`, shown in each reader's own time zone) and message links.

use chrono::{DateTime, Utc};
use poise::serenity_prelude as serenity;
use serenity::{
    AutoArchiveDuration, CreateAllowedMentions, CreateEmbed, CreateEmbedFooter, CreateMessage,
    CreateThread, Nonce,
};

use prepbot_core::engine::reveal::{ANSWERS_HEADING, DropPost, RevealContent};
use prepbot_core::engine::split::split;

/// Discord's limits.
pub const CONTENT_LIMIT: usize = 2000;
pub const EMBED_DESCRIPTION_LIMIT: usize = 4096;
pub const THREAD_NAME_LIMIT: usize = 100;
pub const EMBED_TITLE_LIMIT: usize = 256;

/// A full date and time in the reader's zone.
pub fn full_time(t: DateTime<Utc>) -> String {
    format!("<t:{}:F>", t.timestamp())
}

/// "in 3 hours", "2 days ago".
pub fn relative_time(t: DateTime<Utc>) -> String {
    format!("<t:{}:R>", t.timestamp())
}

pub fn channel_link(guild_id: u64, channel_id: u64) -> String {
    format!("https://discord.com/channels/{guild_id}/{channel_id}")
}

pub fn message_link(guild_id: u64, channel_id: u64, message_id: u64) -> String {
    format!("https://discord.com/channels/{guild_id}/{channel_id}/{message_id}")
}

/// Cuts `s` to at most `max` chars, marking the cut.
pub fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// Text cut to a limit at a paragraph, line or word boundary and never inside a
/// code block (see `engine::split`), marked with "…" when cut.
pub fn fit(text: &str, limit: usize) -> String {
    if text.chars().count() <= limit {
        return text.to_string();
    }
    let first = prepbot_core::engine::split::split(text, limit - 2)
        .into_iter()
        .next()
        .unwrap_or_default();
    format!("{first}\n…")
}

/// No pings from anything the bot posts.
pub fn no_mentions() -> CreateAllowedMentions {
    CreateAllowedMentions::new()
        .everyone(false)
        .all_roles(false)
        .all_users(false)
        .replied_user(false)
}

/// Asks Discord to deduplicate on `nonce` (at most 25 characters): a retry of a
/// post whose answer was lost returns the message already created.
fn deduplicated(message: CreateMessage, nonce: &str) -> CreateMessage {
    message
        .nonce(Nonce::String(nonce.chars().take(25).collect()))
        .enforce_nonce(true)
}

/// The text in a drop's footer that ties the message to its drop (the post's key),
/// so the bot can find its own post again after Discord forgot the nonce.
pub fn drop_marker(key: &str) -> String {
    format!("Ref {key}")
}

/// Whether a message is the drop posted under `key`: an embed whose footer
/// carries its marker.
pub fn is_drop_message(message: &serenity::Message, key: &str) -> bool {
    let marker = format!("{} ·", drop_marker(key));
    message
        .embeds
        .iter()
        .any(|e| e.footer.as_ref().is_some_and(|f| f.text.contains(&marker)))
}

/// The drop: an embed with the question, topic, difficulty and the reveal time.
pub fn drop_message(post: &DropPost, nonce: &str) -> CreateMessage {
    let embed = CreateEmbed::new()
        .title(truncate(
            &format!("Drop #{}: {}", post.seq, post.title),
            EMBED_TITLE_LIMIT,
        ))
        .description(fit(&post.prompt, EMBED_DESCRIPTION_LIMIT))
        .field("Topic", &post.topic, true)
        .field("Difficulty", &post.difficulty, true)
        .field("Kind", &post.kind, true)
        .field(
            "Reveal",
            format!(
                "{} ({})",
                full_time(post.reveal_at),
                relative_time(post.reveal_at)
            ),
            false,
        )
        .footer(CreateEmbedFooter::new(format!(
            "Answer in the thread below. {} · Question id: {}",
            drop_marker(nonce),
            post.question_id
        )));
    deduplicated(
        CreateMessage::new()
            .embed(embed)
            .allowed_mentions(no_mentions()),
        nonce,
    )
}

/// The thread under a drop: a week's auto-archive, so late answers still land.
pub fn drop_thread(post: &DropPost) -> CreateThread<'static> {
    CreateThread::new(truncate(
        &format!("Drop #{}: {}", post.seq, post.title),
        THREAD_NAME_LIMIT,
    ))
    .auto_archive_duration(AutoArchiveDuration::OneWeek)
}

/// One plain message (a part of a reveal), deduplicated on `nonce`.
pub fn text_message(content: &str, nonce: &str) -> CreateMessage {
    let message = CreateMessage::new()
        .content(truncate(content, CONTENT_LIMIT))
        .allowed_mentions(no_mentions());
    deduplicated(message, nonce)
}

/// A name (or any text from a member) made inert in Discord's Markdown: no bold,
/// no masked link, no code span can come out of it.
pub fn escape_markdown(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(
            c,
            '\\' | '*' | '_' | '~' | '`' | '|' | '>' | '[' | ']' | '(' | ')' | '#'
        ) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// A reveal as Discord Markdown with bold headings, cut into messages of at most
/// `limit` characters. Each block starts a paragraph, so cuts fall between blocks
/// first; members' names are escaped.
pub fn reveal_messages(reveal: &RevealContent, limit: usize) -> Vec<String> {
    let mut text = format!("**{}**", reveal.title);
    for block in &reveal.blocks {
        text.push_str("\n\n");
        if let Some(h) = &block.heading {
            text.push_str(&format!("**{h}**\n"));
        }
        text.push_str(&block.body);
    }
    text.push_str(&format!(
        "\n\n**{ANSWERS_HEADING}**\n{}",
        reveal.answers.lines(escape_markdown).join("\n")
    ));
    split(&text, limit)
}

/// Room kept at the end of each reveal part for its [`reveal_part_marker`] line.
const REVEAL_MARKER_ROOM: usize = 64;

/// The small-print line (`-#`) that ends reveal part `i` of `n` posted under `key`,
/// as the drop's footer carries `Ref {key}`. A retried reveal finds the parts
/// already out by it: Discord drops a repeated nonce only for a few minutes and
/// returns no nonce when it lists messages, so past that window the message's
/// own text is all there is to recognise it by.
pub fn reveal_part_marker(key: &str, i: usize, n: usize) -> String {
    format!("-# Ref {key} · part {} of {n}", i + 1)
}

/// Which reveal part posted under `key` a message is (0-based), if it is one.
pub fn reveal_part_of(message: &serenity::Message, key: &str) -> Option<usize> {
    let prefix = format!("-# Ref {key} · part ");
    let line = message.content.lines().last()?;
    let rest = line.strip_prefix(&prefix)?;
    let (number, _) = rest.split_once(" of ")?;
    number.parse::<usize>().ok()?.checked_sub(1)
}

/// A reveal as Discord messages of at most `limit` characters, each ending with its
/// [`reveal_part_marker`].
pub fn reveal_parts(reveal: &RevealContent, key: &str, limit: usize) -> Vec<String> {
    let chunks = reveal_messages(reveal, limit - REVEAL_MARKER_ROOM);
    let n = chunks.len();
    chunks
        .into_iter()
        .enumerate()
        .map(|(i, chunk)| format!("{chunk}\n{}", reveal_part_marker(key, i, n)))
        .collect()
}

/// Discord's limits on the embeds of one message: at most 10, all their text
/// (titles, descriptions, fields, footers) at most 6,000 characters together.
pub const EMBEDS_PER_MESSAGE: usize = 10;
pub const EMBEDS_TOTAL_LIMIT: usize = 6000;

/// A question with its model answer, look-fors, mistakes, follow-ups and tips as the
/// embeds of one message: a title line and the prompt, then one embed per section.
/// `None` when it does not fit one message (a team's long question), so the caller
/// can fall back to several plain messages. Every question of the shipped bank
/// fits (tested below).
pub fn question_embeds(
    title: &str,
    prompt: &str,
    sections: &[(String, String)],
) -> Option<Vec<CreateEmbed>> {
    let count = |s: &str| s.chars().count();
    let title = truncate(title, EMBED_TITLE_LIMIT);
    let mut total = count(&title) + count(prompt);
    if count(prompt) > EMBED_DESCRIPTION_LIMIT || 1 + sections.len() > EMBEDS_PER_MESSAGE {
        return None;
    }
    let mut embeds = vec![CreateEmbed::new().title(title).description(prompt)];
    for (heading, body) in sections {
        if count(heading) > EMBED_TITLE_LIMIT || count(body) > EMBED_DESCRIPTION_LIMIT {
            return None;
        }
        total += count(heading) + count(body);
        embeds.push(CreateEmbed::new().title(heading).description(body));
    }
    (total <= EMBEDS_TOTAL_LIMIT).then_some(embeds)
}

#[cfg(test)]
mod tests {

    use prepbot_core::bank::Difficulty;
    use prepbot_core::engine::answers::Answerers;
    use prepbot_core::engine::reveal::build_reveal;
    use prepbot_testkit::question;

    #[test]
    fn member_names_cannot_format_or_link() {
        assert_eq!(
            super::escape_markdown("[free](https://x.y) **bold**"),
            "\\[free\\]\\(https://x.y\\) \\*\\*bold\\*\\*"
        );
        let mut who = Answerers::default();
        who.on_time
            .insert(prepbot_core::chat::MemberKey("1".into()), "_ann_".into());
        let q = question("q", "databases", Difficulty::Easy);
        let msgs = super::reveal_messages(&build_reveal(&q, 1, &who, &[]), 2000);
        assert!(
            msgs.last()
                .unwrap()
                .ends_with("**Answers**\n1 member answered on time: \\_ann\\_."),
            "{msgs:?}"
        );
    }

    #[test]
    fn long_reveals_become_several_messages_within_the_limit() {
        let mut q = question("long", "databases", Difficulty::Hard);
        q.model_answer = (0..60)
            .map(|i| format!("Paragraph {i} of a long answer about indexes and locks."))
            .collect::<Vec<_>>()
            .join("\n\n");
        let msgs = super::reveal_messages(&build_reveal(&q, 1, &Answerers::default(), &[]), 2000);
        assert!(msgs.len() >= 2);
        assert!(msgs.iter().all(|m| m.chars().count() <= 2000));
        assert!(msgs[0].starts_with("**Reveal #1: Title long**"));
        assert!(msgs.last().unwrap().contains("Nobody answered"));
    }

    /// Each part of a long reveal ends with its `Ref` line, stays within Discord's
    /// limit with it, and is recognised by it (and only under its own key).
    #[test]
    fn reveal_parts_carry_a_ref_line_a_retry_recognises() {
        let mut q = question("long", "databases", Difficulty::Hard);
        q.model_answer = (0..60)
            .map(|i| format!("Paragraph {i} of a long answer about indexes and locks."))
            .collect::<Vec<_>>()
            .join("\n\n");
        let reveal = build_reveal(&q, 1, &Answerers::default(), &[]);
        let parts = super::reveal_parts(&reveal, "r12", super::CONTENT_LIMIT);
        assert!(parts.len() >= 2);
        for (i, part) in parts.iter().enumerate() {
            assert!(part.chars().count() <= super::CONTENT_LIMIT);
            let mut m: serenity::all::Message = serde_json::from_value(serde_json::json!({
                "id": "1", "channel_id": "2", "content": part, "timestamp": "2026-03-02T09:00:00Z",
                "author": {"id": "3", "username": "prepbot", "discriminator": "0", "bot": true},
                "tts": false, "mention_everyone": false, "mentions": [], "mention_roles": [],
                "attachments": [], "embeds": [], "pinned": false, "type": 0
            }))
            .unwrap();
            assert_eq!(super::reveal_part_of(&m, "r12"), Some(i));
            assert_eq!(
                super::reveal_part_of(&m, "r1"),
                None,
                "another reveal's key"
            );
            m.content = part.lines().next().unwrap().to_string();
            assert_eq!(super::reveal_part_of(&m, "r12"), None, "no Ref line");
        }
    }

    /// `/question show` answers in one message: every question of the shipped bank,
    /// with every section, fits Discord's embed limits.
    #[test]
    fn every_shipped_question_fits_one_message() {
        let bank = prepbot_core::bank::QuestionBank::load(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../questions"),
        )
        .unwrap();
        let mut longest = 0;
        for q in bank.all() {
            let sections = crate::commands::question::show_sections(q);
            let size: usize = q.prompt.chars().count()
                + sections
                    .iter()
                    .map(|(h, b)| h.chars().count() + b.chars().count())
                    .sum::<usize>();
            longest = longest.max(size);
            assert!(
                super::question_embeds(&q.title, &q.prompt, &sections).is_some(),
                "{} does not fit one message ({size} characters)",
                q.id
            );
        }
        assert!(longest > 3000, "the check saw whole questions ({longest})");
    }

    #[test]
    fn a_question_over_the_limits_does_not_fit() {
        let long = "x".repeat(4097);
        assert!(super::question_embeds("t", &long, &[]).is_none());
        let sections: Vec<(String, String)> = (0..3)
            .map(|i| (format!("s{i}"), "y".repeat(2500)))
            .collect();
        assert!(
            super::question_embeds("t", "p", &sections).is_none(),
            "7,500 in all"
        );
        assert!(super::question_embeds("t", "p", &sections[..2]).is_some());
    }
    use super::*;

    fn post() -> DropPost {
        DropPost {
            seq: 3,
            question_id: "cap-theorem".into(),
            title: "CAP in practice".into(),
            prompt: "What does CAP say?".into(),
            topic: "distributed-systems".into(),
            difficulty: "medium".into(),
            kind: "technical".into(),
            reveal_at: DateTime::from_timestamp(1_800_000_000, 0).unwrap(),
        }
    }

    #[test]
    fn the_drop_embed_carries_the_reveal_as_a_discord_timestamp() {
        let json = serde_json::to_value(drop_message(&post(), "d42")).unwrap();
        assert_eq!(json["nonce"], "d42");
        assert_eq!(json["enforce_nonce"], true);
        let embed = &json["embeds"][0];
        assert_eq!(embed["title"], "Drop #3: CAP in practice");
        assert_eq!(embed["description"], "What does CAP say?");
        let fields = embed["fields"].as_array().unwrap();
        assert!(
            fields
                .iter()
                .any(|f| f["value"] == "<t:1800000000:F> (<t:1800000000:R>)")
        );
        assert_eq!(json["allowed_mentions"]["parse"], serde_json::json!([]));
        assert_eq!(
            embed["footer"]["text"],
            "Answer in the thread below. Ref d42 · Question id: cap-theorem"
        );
        let thread = serde_json::to_value(drop_thread(&post())).unwrap();
        assert_eq!(thread["auto_archive_duration"], 10080);
    }

    #[test]
    fn fitting_a_long_prompt_never_leaves_a_code_block_open() {
        let prompt = format!(
            "Intro.\n\n```rust\n{}```\n\nOutro.",
            "let x = 1;\n".repeat(600)
        );
        let fitted = fit(&prompt, EMBED_DESCRIPTION_LIMIT);
        assert!(fitted.chars().count() <= EMBED_DESCRIPTION_LIMIT);
        assert_eq!(fitted.matches("```").count() % 2, 0, "{fitted}");
        assert!(fitted.ends_with('…'));
        assert_eq!(fit("short", 100), "short");
    }

    #[test]
    fn truncation_respects_limits_in_chars() {
        assert_eq!(truncate("abc", 5), "abc");
        let t = truncate(&"é".repeat(200), 100);
        assert_eq!(t.chars().count(), 100);
        assert!(t.ends_with('…'));
    }
}
