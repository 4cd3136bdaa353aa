//! What every platform's commands share, so each adapter only parses its own input
//! and renders the result: who may run an admin command (the adapter reports the
//! caller's roles, this module applies the policy) and how a schedule given as text
//! is checked. Which answers a lookup hides is [`crate::practice::Practice::look_up`].

use chrono::NaiveTime;
use chrono_tz::Tz;

use crate::bank::{Difficulty, PoolFilter, QuestionBank};
use crate::chat::Platform;
use crate::engine::schedule::{Days, check_reveal_hours, parse_time, parse_zone};

/// The reveal delay when a setup names none.
pub const DEFAULT_REVEAL_HOURS: i64 = 24;

/// What an adapter knows about the member running a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Runs the workspace: Manage Server or Administrator on Discord; a workspace
    /// admin or owner on Slack.
    WorkspaceAdmin,
    /// Created the channel the command runs in (Slack reports it).
    ChannelCreator,
    /// Named as an admin in the bot's configuration.
    ConfiguredAdmin,
}

/// A command input or caller the rules refuse, in words for the person who asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Refused(pub String);

/// Admin commands (setup, pause, resume, drop, reveal) need any of the admin roles.
/// The bot checks this itself on every call: a platform's default permissions are
/// only a hint its admins can change, and a crafted request skips them.
pub fn require_admin(platform: Platform, roles: &[Role]) -> Result<(), Refused> {
    if !roles.is_empty() {
        return Ok(());
    }
    Err(Refused(match platform {
        Platform::Discord => {
            "You need the Manage Server permission to change this channel's practice schedule."
                .into()
        }
        Platform::Slack => "Only a workspace admin or owner, the channel's creator, or a member named in PREPBOT_SLACK_ADMINS may change this channel's practice schedule.".into(),
        Platform::Console => "Only the operator may change the schedule.".into(),
    }))
}

/// A schedule as a member typed it.
#[derive(Debug, Clone, Default)]
pub struct ScheduleInput<'a> {
    pub time: &'a str,
    pub zone: &'a str,
    pub reveal_after_hours: Option<i64>,
    pub days: Option<&'a str>,
    pub topic: Option<&'a str>,
    pub difficulty: Option<Difficulty>,
}

/// A schedule every part of which was checked.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckedSchedule {
    pub time: NaiveTime,
    pub zone: Tz,
    pub days: Days,
    pub reveal_after_hours: u32,
    pub pool: PoolFilter,
}

/// Checks every part of a schedule (a platform's own limits are hints a crafted
/// request skips); the first problem is refused with what is accepted.
pub fn check_schedule(
    input: &ScheduleInput<'_>,
    bank: &QuestionBank,
) -> Result<CheckedSchedule, Refused> {
    let refuse = |e: crate::engine::schedule::ScheduleError| Refused(e.to_string());
    let time = parse_time(input.time).map_err(refuse)?;
    let zone = parse_zone(input.zone).map_err(refuse)?;
    let reveal_after_hours =
        check_reveal_hours(input.reveal_after_hours.unwrap_or(DEFAULT_REVEAL_HOURS))
            .map_err(refuse)?;
    let days = match input.days.map(str::trim).filter(|d| !d.is_empty()) {
        Some(d) => d.parse::<Days>().map_err(refuse)?,
        None => Days::DAILY,
    };
    let pool = PoolFilter {
        topic: check_topic(input.topic, bank)?,
        difficulty: input.difficulty,
        kind: None,
    };
    Ok(CheckedSchedule {
        time,
        zone,
        days,
        reveal_after_hours,
        pool,
    })
}

/// A topic named in a command: one of the bank's (any case), or none.
pub fn check_topic(topic: Option<&str>, bank: &QuestionBank) -> Result<Option<String>, Refused> {
    let Some(topic) = topic
        .map(|t| t.trim().to_lowercase())
        .filter(|t| !t.is_empty())
    else {
        return Ok(None);
    };
    let topics = bank.topics();
    if topics.contains(&topic.as_str()) {
        Ok(Some(topic))
    } else {
        let shown: String = topic.chars().take(50).collect();
        Err(Refused(format!(
            "There is no topic `{shown}`. Topics: {}.",
            topics.join(", ")
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bank::tests::question;

    fn bank() -> QuestionBank {
        QuestionBank::from_questions(vec![question("q", "caching", Difficulty::Easy)])
    }

    #[test]
    fn any_admin_role_may_administer_and_none_is_refused_in_the_platforms_words() {
        for role in [
            Role::WorkspaceAdmin,
            Role::ChannelCreator,
            Role::ConfiguredAdmin,
        ] {
            assert!(require_admin(Platform::Slack, &[role]).is_ok());
        }
        let discord = require_admin(Platform::Discord, &[]).unwrap_err();
        assert!(discord.0.contains("Manage Server"), "{discord}");
        let slack = require_admin(Platform::Slack, &[]).unwrap_err();
        assert!(slack.0.contains("PREPBOT_SLACK_ADMINS"), "{slack}");
    }

    #[test]
    fn a_schedule_is_checked_whole() {
        let ok = check_schedule(
            &ScheduleInput {
                time: "09:30",
                zone: "europe/london",
                days: Some("weekdays"),
                topic: Some(" Caching "),
                ..ScheduleInput::default()
            },
            &bank(),
        )
        .unwrap();
        assert_eq!(ok.time, NaiveTime::from_hms_opt(9, 30, 0).unwrap());
        assert_eq!(ok.zone, chrono_tz::Europe::London);
        assert_eq!(ok.reveal_after_hours, 24);
        assert_eq!(ok.pool.topic.as_deref(), Some("caching"));
        for (input, says) in [
            (
                ScheduleInput {
                    time: "25:61",
                    zone: "UTC",
                    ..Default::default()
                },
                "25:61",
            ),
            (
                ScheduleInput {
                    time: "09:00",
                    zone: "Mars/Olympus",
                    ..Default::default()
                },
                "Mars/Olympus",
            ),
            (
                ScheduleInput {
                    time: "09:00",
                    zone: "UTC",
                    reveal_after_hours: Some(0),
                    ..Default::default()
                },
                "168",
            ),
            (
                ScheduleInput {
                    time: "09:00",
                    zone: "UTC",
                    days: Some("someday"),
                    ..Default::default()
                },
                "someday",
            ),
            (
                ScheduleInput {
                    time: "09:00",
                    zone: "UTC",
                    topic: Some("astrology"),
                    ..Default::default()
                },
                "caching",
            ),
        ] {
            let err = check_schedule(&input, &bank()).unwrap_err();
            assert!(err.0.contains(says), "{input:?}: {err}");
        }
    }
}

/// Who may run a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Who {
    Anyone,
    /// Any of the admin [`Role`]s ([`require_admin`]).
    Admin,
}

/// One line of `/help`: a command by its path under the platform's prefix (`/` on
/// Discord, `/prep ` on Slack), what it does, and who may run it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CommandHelp {
    pub path: &'static str,
    pub what: &'static str,
    pub who: Who,
}

/// Every command a platform offers, in the order `/help` lists them. Each adapter
/// renders this list and its tests check it matches what the adapter registers, so
/// the help never drifts from the commands.
pub const COMMANDS: &[CommandHelp] = &[
    CommandHelp {
        path: "help",
        what: "this list",
        who: Who::Anyone,
    },
    CommandHelp {
        path: "question today",
        what: "today's open question in this channel, with a link to its thread",
        who: Who::Anyone,
    },
    CommandHelp {
        path: "question show",
        what: "a question by id, with its model answer unless it is open here",
        who: Who::Anyone,
    },
    CommandHelp {
        path: "question random",
        what: "a random question to practise with (the answer stays hidden)",
        who: Who::Anyone,
    },
    CommandHelp {
        path: "question search",
        what: "search the questions by words",
        who: Who::Anyone,
    },
    CommandHelp {
        path: "streak",
        what: "a member's streak in this channel",
        who: Who::Anyone,
    },
    CommandHelp {
        path: "leaderboard",
        what: "this channel's top 10 by current streak",
        who: Who::Anyone,
    },
    CommandHelp {
        path: "schedule show",
        what: "this channel's schedule, next drop and open drop",
        who: Who::Anyone,
    },
    CommandHelp {
        path: "forget me",
        what: "delete your stored answers and streaks in this server (asks to confirm)",
        who: Who::Anyone,
    },
    CommandHelp {
        path: "setup",
        what: "set this channel's daily practice schedule",
        who: Who::Admin,
    },
    CommandHelp {
        path: "schedule pause",
        what: "pause this channel's drops; streaks do not break while paused",
        who: Who::Admin,
    },
    CommandHelp {
        path: "schedule resume",
        what: "resume this channel's drops",
        who: Who::Admin,
    },
    CommandHelp {
        path: "schedule remove",
        what: "remove this channel's schedule, keeping or deleting its history (asks to confirm)",
        who: Who::Admin,
    },
    CommandHelp {
        path: "drop",
        what: "post today's drop now",
        who: Who::Admin,
    },
    CommandHelp {
        path: "reveal",
        what: "reveal the open drop now",
        who: Who::Admin,
    },
    CommandHelp {
        path: "forget member",
        what: "delete a member's stored answers and streaks, e.g. after they left (asks to confirm)",
        who: Who::Admin,
    },
];

/// Parses a member named in a command as text (a member who left cannot be picked
/// from a list): the platform's raw id, or a mention of it (`<@123>`, `<@!123>` on
/// Discord, `<@U123>` or `<@U123|name>` on Slack).
pub fn member_id_from_text(text: &str) -> Result<String, Refused> {
    let t = text.trim();
    let inner = t
        .strip_prefix("<@")
        .and_then(|s| s.strip_suffix('>'))
        .map(|s| s.trim_start_matches('!'))
        .map(|s| s.split('|').next().unwrap_or_default())
        .unwrap_or(t);
    if !inner.is_empty() && inner.chars().all(|c| c.is_ascii_alphanumeric()) {
        Ok(inner.to_string())
    } else {
        Err(Refused(
            "Name the member by their id (or a mention of it); a member who left can still be named by id.".into(),
        ))
    }
}

#[cfg(test)]
mod help_tests {
    use super::*;

    #[test]
    fn every_command_path_is_listed_once() {
        let mut paths: Vec<_> = COMMANDS.iter().map(|c| c.path).collect();
        paths.sort();
        let before = paths.len();
        paths.dedup();
        assert_eq!(before, paths.len());
    }

    #[test]
    fn a_member_is_named_by_id_or_mention() {
        assert_eq!(member_id_from_text(" 123 ").unwrap(), "123");
        assert_eq!(member_id_from_text("<@123>").unwrap(), "123");
        assert_eq!(member_id_from_text("<@!123>").unwrap(), "123");
        assert_eq!(member_id_from_text("<@U0ABC|ada>").unwrap(), "U0ABC");
        assert!(member_id_from_text("Ada Lovelace").is_err());
        assert!(member_id_from_text("<@>").is_err());
        assert!(member_id_from_text("").is_err());
    }
}
