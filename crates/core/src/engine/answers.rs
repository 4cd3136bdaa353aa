//! Whether a message in a drop's thread counts as an on-time answer.
//!
//! Every message is stored; an edit replaces its text and a delete withdraws it. A
//! message is on time unless it was posted after the reveal was actually posted
//! (the same second counts as on time). A member has answered a drop on time while
//! at least one of their on-time messages remains.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use crate::chat::MemberKey;

/// What the rules need to know about one stored message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnswerMessage {
    pub member_id: String,
    pub member_name: String,
    pub posted_at: DateTime<Utc>,
    pub withdrawn: bool,
}

pub fn is_on_time(posted_at: DateTime<Utc>, revealed_at: Option<DateTime<Utc>>) -> bool {
    revealed_at.is_none_or(|r| posted_at <= r)
}

/// Who answered, split into on time and late-only, each in member id order
/// ([`crate::chat::id_order`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Answerers {
    /// member id -> display name
    pub on_time: BTreeMap<MemberKey, String>,
    /// Members whose remaining messages are all late.
    pub late: BTreeMap<MemberKey, String>,
}

pub fn answerers(messages: &[AnswerMessage], revealed_at: Option<DateTime<Utc>>) -> Answerers {
    let mut out = Answerers::default();
    for m in messages.iter().filter(|m| !m.withdrawn) {
        let key = MemberKey(m.member_id.clone());
        if is_on_time(m.posted_at, revealed_at) {
            out.late.remove(&key);
            out.on_time.insert(key, m.member_name.clone());
        } else if !out.on_time.contains_key(&key) {
            out.late.insert(key, m.member_name.clone());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + secs, 0).unwrap()
    }

    fn msg(member: u64, secs: i64, withdrawn: bool) -> AnswerMessage {
        AnswerMessage {
            member_id: member.to_string(),
            member_name: format!("m{member}"),
            posted_at: at(secs),
            withdrawn,
        }
    }

    #[test]
    fn on_time_is_up_to_and_including_the_reveal_second() {
        assert!(is_on_time(at(5), None));
        assert!(is_on_time(at(10), Some(at(10))));
        assert!(!is_on_time(at(11), Some(at(10))));
    }

    #[test]
    fn a_member_counts_while_one_on_time_message_remains() {
        let reveal = Some(at(100));
        let msgs = [
            msg(1, 10, true),   // withdrawn
            msg(1, 20, false),  // still there
            msg(2, 10, true),   // withdrawn, their only on-time one
            msg(2, 150, false), // late
            msg(3, 200, false), // late only
            msg(4, 50, true),   // withdrawn only
        ];
        let a = answerers(&msgs, reveal);
        let ids =
            |m: &BTreeMap<MemberKey, String>| m.keys().map(|k| k.0.clone()).collect::<Vec<_>>();
        assert_eq!(ids(&a.on_time), ["1"]);
        assert_eq!(ids(&a.late), ["2", "3"]);
    }

    #[test]
    fn a_late_message_after_an_on_time_one_does_not_demote() {
        let a = answerers(&[msg(1, 150, false), msg(1, 10, false)], Some(at(100)));
        assert!(a.on_time.contains_key(&MemberKey("1".into())));
        assert!(a.late.is_empty());
    }
}
