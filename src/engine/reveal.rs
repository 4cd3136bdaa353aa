//! What a drop post and a reveal say, as platform-neutral text blocks. Adapters
//! decide how a block looks (an embed field, a bold heading, a terminal rule);
//! bodies use only the Markdown every platform renders: paragraphs, `- ` lists and
//! fenced code.

use chrono::{DateTime, Utc};

use super::answers::Answerers;
use super::split::split;
use crate::bank::Question;

/// A heading (optional) and its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextBlock {
    pub heading: Option<String>,
    pub body: String,
}

impl TextBlock {
    fn new(heading: &str, body: String) -> Self {
        TextBlock {
            heading: Some(heading.to_string()),
            body,
        }
    }
}

/// The question as posted at a drop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DropPost {
    pub seq: u32,
    pub question_id: String,
    pub title: String,
    pub prompt: String,
    pub topic: String,
    pub difficulty: String,
    pub kind: String,
    pub reveal_at: DateTime<Utc>,
}

pub fn drop_post(question: &Question, seq: u32, reveal_at: DateTime<Utc>) -> DropPost {
    DropPost {
        seq,
        question_id: question.id.clone(),
        title: question.title.clone(),
        prompt: question.prompt.clone(),
        topic: question.topic.clone(),
        difficulty: question.difficulty.to_string(),
        kind: question.kind.to_string(),
        reveal_at,
    }
}

/// The reveal of one drop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevealContent {
    pub title: String,
    pub blocks: Vec<TextBlock>,
}

fn bullets(items: &[String]) -> String {
    items
        .iter()
        .map(|i| format!("- {i}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// A name (or any text from a member) made inert in Markdown: no bold, no masked
/// link, no code span can come out of it.
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

fn names(members: &std::collections::BTreeMap<crate::chat::MemberKey, String>) -> String {
    let mut names: Vec<&str> = members.values().map(String::as_str).collect();
    names.sort_by_key(|n| n.to_lowercase());
    names
        .into_iter()
        .map(escape_markdown)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Who answered, in one line or two, and the streak milestones this drop brought
/// (`(name, streak)`, e.g. someone reaching 7 in a row).
pub fn answer_summary(answerers: &Answerers, milestones: &[(String, u32)]) -> String {
    let on_time = answerers.on_time.len();
    let mut text = match on_time {
        0 => "Nobody answered before the reveal.".to_string(),
        1 => format!("1 member answered on time: {}.", names(&answerers.on_time)),
        n => format!(
            "{n} members answered on time: {}.",
            names(&answerers.on_time)
        ),
    };
    if !answerers.late.is_empty() {
        text.push_str(&format!(
            "\nLate (no streak credit): {}.",
            names(&answerers.late)
        ));
    }
    for (name, streak) in milestones {
        text.push_str(&format!(
            "\nMilestone: {name} has answered {streak} drops in a row."
        ));
    }
    text
}

pub fn build_reveal(
    question: &Question,
    seq: u32,
    answerers: &Answerers,
    milestones: &[(String, u32)],
) -> RevealContent {
    let mut blocks = vec![
        TextBlock::new("Model answer", question.model_answer.clone()),
        TextBlock::new("What interviewers look for", bullets(&question.look_fors)),
        TextBlock::new("Common mistakes", bullets(&question.mistakes)),
    ];
    if !question.follow_ups.is_empty() {
        blocks.push(TextBlock::new("Follow-ups", bullets(&question.follow_ups)));
    }
    if let Some(tips) = &question.tips {
        blocks.push(TextBlock::new("Tips", tips.clone()));
    }
    blocks.push(TextBlock::new(
        "Answers",
        answer_summary(answerers, milestones),
    ));
    RevealContent {
        title: format!("Reveal #{seq}: {}", question.title),
        blocks,
    }
}

impl RevealContent {
    /// The reveal as Markdown with bold headings, cut into messages of at most `limit`
    /// characters. Each block starts a paragraph, so cuts fall between blocks first.
    pub fn to_messages(&self, limit: usize) -> Vec<String> {
        let mut text = format!("**{}**", self.title);
        for block in &self.blocks {
            text.push_str("\n\n");
            if let Some(h) = &block.heading {
                text.push_str(&format!("**{h}**\n"));
            }
            text.push_str(&block.body);
        }
        split(&text, limit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bank::Difficulty;
    use crate::bank::tests::question;

    #[test]
    fn reveal_has_answer_lookfors_mistakes_and_summary() {
        let mut q = question("cap", "distributed-systems", Difficulty::Medium);
        q.follow_ups = vec!["What is PACELC?".into()];
        let mut who = Answerers::default();
        who.on_time
            .insert(crate::chat::MemberKey("2".into()), "bob".into());
        who.on_time
            .insert(crate::chat::MemberKey("1".into()), "Alice".into());
        who.late
            .insert(crate::chat::MemberKey("3".into()), "carol".into());
        let r = build_reveal(&q, 4, &who, &[("Alice".into(), 7)]);
        assert_eq!(r.title, "Reveal #4: Title of cap");
        let headings: Vec<&str> = r
            .blocks
            .iter()
            .filter_map(|b| b.heading.as_deref())
            .collect();
        assert_eq!(
            headings,
            [
                "Model answer",
                "What interviewers look for",
                "Common mistakes",
                "Follow-ups",
                "Answers"
            ]
        );
        assert_eq!(r.blocks[1].body, "- a\n- b\n- c");
        assert_eq!(
            r.blocks.last().unwrap().body,
            "2 members answered on time: Alice, bob.\nLate (no streak credit): carol.\nMilestone: Alice has answered 7 drops in a row."
        );
    }

    #[test]
    fn member_names_cannot_format_or_link() {
        assert_eq!(
            escape_markdown("[free](https://x.y) **bold**"),
            "\\[free\\]\\(https://x.y\\) \\*\\*bold\\*\\*"
        );
        let mut who = Answerers::default();
        who.on_time
            .insert(crate::chat::MemberKey("1".into()), "_ann_".into());
        assert_eq!(
            answer_summary(&who, &[]),
            "1 member answered on time: \\_ann\\_."
        );
    }

    #[test]
    fn nobody_answered() {
        assert_eq!(
            answer_summary(&Answerers::default(), &[]),
            "Nobody answered before the reveal."
        );
    }

    #[test]
    fn long_reveals_become_several_messages_within_the_limit() {
        let mut q = question("long", "databases", Difficulty::Hard);
        q.model_answer = (0..60)
            .map(|i| format!("Paragraph {i} of a long answer about indexes and locks."))
            .collect::<Vec<_>>()
            .join("\n\n");
        let msgs = build_reveal(&q, 1, &Answerers::default(), &[]).to_messages(2000);
        assert!(msgs.len() >= 2);
        assert!(msgs.iter().all(|m| m.chars().count() <= 2000));
        assert!(msgs[0].starts_with("**Reveal #1: Title of long**"));
        assert!(msgs.last().unwrap().contains("Nobody answered"));
    }
}
