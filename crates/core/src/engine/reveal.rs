//! What a drop post and a reveal say, as platform-neutral content. Adapters decide
//! how it looks (an embed, a bold heading, a terminal rule, Block Kit): nothing here
//! is any platform's markup. A block's body is the bank's own text (its Markdown
//! source: paragraphs, `- ` lists, fenced code), which each adapter renders or
//! prints; who answered is data ([`AnswerSummary`]), so each adapter makes member
//! names inert in its own markup.

use chrono::{DateTime, Utc};

use super::answers::Answerers;
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

/// The reveal of one drop: the question's sections, then who answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevealContent {
    pub title: String,
    pub blocks: Vec<TextBlock>,
    pub answers: AnswerSummary,
}

/// The heading adapters give [`RevealContent::answers`].
pub const ANSWERS_HEADING: &str = "Answers";

/// Who answered a drop (display names, sorted without regard to case) and the
/// streak milestones it brought (`(name, streak)`, e.g. someone reaching 7 in a row).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AnswerSummary {
    pub on_time: Vec<String>,
    pub late: Vec<String>,
    pub milestones: Vec<(String, u32)>,
}

fn bullets(items: &[String]) -> String {
    items
        .iter()
        .map(|i| format!("- {i}"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn sorted_names(
    members: &std::collections::BTreeMap<crate::chat::MemberKey, String>,
) -> Vec<String> {
    let mut names: Vec<String> = members.values().cloned().collect();
    names.sort_by_key(|n| n.to_lowercase());
    names
}

impl AnswerSummary {
    pub fn new(answerers: &Answerers, milestones: &[(String, u32)]) -> Self {
        AnswerSummary {
            on_time: sorted_names(&answerers.on_time),
            late: sorted_names(&answerers.late),
            milestones: milestones.to_vec(),
        }
    }

    /// The summary in a line or two, and a line per milestone, with every name as
    /// `name` renders it (escaped for the platform's markup, or as it is).
    pub fn lines(&self, name: impl Fn(&str) -> String) -> Vec<String> {
        let list = |names: &[String]| names.iter().map(|n| name(n)).collect::<Vec<_>>().join(", ");
        let mut lines = vec![match self.on_time.len() {
            0 => "Nobody answered before the reveal.".to_string(),
            1 => format!("1 member answered on time: {}.", list(&self.on_time)),
            n => format!("{n} members answered on time: {}.", list(&self.on_time)),
        }];
        if !self.late.is_empty() {
            lines.push(format!("Late (no streak credit): {}.", list(&self.late)));
        }
        for (who, streak) in &self.milestones {
            lines.push(format!(
                "Milestone: {} has answered {streak} drops in a row.",
                name(who)
            ));
        }
        lines
    }
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
    RevealContent {
        title: format!("Reveal #{seq}: {}", question.title),
        blocks,
        answers: AnswerSummary::new(answerers, milestones),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bank::Difficulty;
    use crate::bank::tests::question;
    use crate::chat::MemberKey;

    #[test]
    fn reveal_has_answer_lookfors_mistakes_and_summary() {
        let mut q = question("cap", "distributed-systems", Difficulty::Medium);
        q.follow_ups = vec!["What is PACELC?".into()];
        let mut who = Answerers::default();
        who.on_time.insert(MemberKey("2".into()), "bob".into());
        who.on_time.insert(MemberKey("1".into()), "Alice".into());
        who.late.insert(MemberKey("3".into()), "carol".into());
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
            ]
        );
        assert_eq!(r.blocks[1].body, "- a\n- b\n- c");
        assert_eq!(
            r.answers.lines(str::to_string).join("\n"),
            "2 members answered on time: Alice, bob.\nLate (no streak credit): carol.\nMilestone: Alice has answered 7 drops in a row."
        );
    }

    #[test]
    fn names_are_rendered_by_the_caller() {
        let mut who = Answerers::default();
        who.on_time.insert(MemberKey("1".into()), "_ann_".into());
        let summary = AnswerSummary::new(&who, &[("_ann_".into(), 3)]);
        assert_eq!(
            summary.lines(|n| format!("<{n}>")),
            [
                "1 member answered on time: <_ann_>.",
                "Milestone: <_ann_> has answered 3 drops in a row."
            ]
        );
        assert_eq!(
            summary.lines(str::to_string)[0],
            "1 member answered on time: _ann_."
        );
    }

    #[test]
    fn nobody_answered() {
        assert_eq!(
            AnswerSummary::default().lines(str::to_string),
            ["Nobody answered before the reveal."]
        );
    }
}
