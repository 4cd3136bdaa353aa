//! `/prep`: one slash command, its subcommand in the text. Slack wants every command
//! acknowledged within 3 seconds, and slack-morphism sends the acknowledgement when
//! the callback returns, so:
//!
//! - lookups (`schedule`, `today`, `show`, `random`, `search`, `streak`,
//!   `leaderboard`, `help`) read the store and the bank and answer in the
//!   acknowledgement itself;
//! - admin subcommands (`setup`, `pause`, `resume`, `drop`, `reveal`) are
//!   acknowledged first, then checked (roles from `users.info` and
//!   `conversations.info`, which are Web API calls) and carried out, and answered
//!   through the command's `response_url`.
//!
//! Replies are ephemeral except `streak` and `leaderboard`. Everything echoed from
//! the command (a query, a bad argument, a member's name) is escaped.

use std::sync::Arc;

use prepbot_core::bank::{Difficulty, PoolFilter, Question};
use prepbot_core::chat::{ChannelAddress, Platform};
use prepbot_core::clock::Clock;
use prepbot_core::command_budget::{MemberLimiter, Verdict, refusal};
use prepbot_core::command_rules::{
    Role, ScheduleInput, check_schedule, check_topic, require_admin,
};
use prepbot_core::engine::DropState;
use prepbot_core::engine::answers::Answerers;
use prepbot_core::engine::reveal::build_reveal;
use prepbot_core::mix::mix64;
use prepbot_core::practice::{ChannelSetup, Lookup, Practice, PracticeError};
use prepbot_core::scheduler;
use tokio::sync::Notify;
use tracing::{info, warn};

use crate::api::{ApiError, SlackApi};
use crate::names::Names;
use crate::outbound::{SlackOutbound, SlackState};
use crate::render::{bank_markdown, escape, local_time};

/// Longest accepted search query.
const MAX_QUERY_CHARS: usize = 200;

/// The subcommands, as `help` lists them.
pub const HELP: &str = "*prepbot*: daily interview practice. `/prep` and then:\n\
• `setup HH:MM ZONE [reveal=HOURS] [days=daily|weekdays|mon,wed,fri] [topic=T] [difficulty=D]`: this channel's schedule (admins)\n\
• `schedule`: the schedule, next drop, open drop\n\
• `pause`, `resume`: stop or restart this channel's drops (admins)\n\
• `drop`, `reveal`: post today's drop or reveal the open one now (admins)\n\
• `today`: the open question here\n\
• `show ID`: a question with its model answer (hidden while it is open)\n\
• `random [topic=T] [difficulty=D]`: a question to practise with\n\
• `search WORDS…`: the best matches, with ids\n\
• `streak [@member]`: a streak in this channel\n\
• `leaderboard`: this channel's top streaks\n\
• `help`: this list";

/// A `/prep` command as the adapter sees it.
#[derive(Debug, Clone)]
pub struct Invocation {
    pub team: String,
    pub channel: String,
    pub channel_name: Option<String>,
    pub user: String,
    pub text: String,
    pub response_url: String,
    /// Distinguishes a redelivered command from a new one (the budget counts it once).
    pub id: u64,
}

/// How a command is answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub text: String,
    /// Visible to the channel (`in_channel`) rather than only to the caller.
    pub in_channel: bool,
}

impl Reply {
    fn private(text: impl Into<String>) -> Self {
        Reply {
            text: text.into(),
            in_channel: false,
        }
    }

    fn public(text: impl Into<String>) -> Self {
        Reply {
            text: text.into(),
            in_channel: true,
        }
    }
}

/// The subcommands that change things: acknowledged first, answered later.
pub fn is_admin_subcommand(word: &str) -> bool {
    matches!(word, "setup" | "pause" | "resume" | "drop" | "reveal")
}

/// What the commands need.
pub struct Commands {
    pub practice: Practice,
    pub clock: Arc<dyn Clock>,
    pub wake: Arc<Notify>,
    pub outbound: SlackOutbound,
    pub api: SlackApi,
    pub state: Arc<SlackState>,
    pub names: Names,
    pub limits: MemberLimiter,
    /// `PREPBOT_SLACK_ADMINS`.
    pub admins: Vec<String>,
}

/// A user error: shown as it is.
struct UserError(String);

impl From<PracticeError> for UserError {
    fn from(e: PracticeError) -> Self {
        if e.is_user_error() {
            UserError(e.to_string().replace("/setup", "/prep setup"))
        } else {
            warn!(error = %e, "a /prep command failed");
            UserError("Something went wrong; the operator can see what in the bot's log.".into())
        }
    }
}

type Result<T> = std::result::Result<T, UserError>;

fn subcommand(text: &str) -> (String, &str) {
    let text = text.trim();
    let (word, rest) = text.split_once(char::is_whitespace).unwrap_or((text, ""));
    (word.to_lowercase(), rest.trim())
}

/// `key=value` options and the other words.
fn options(rest: &str) -> (Vec<(String, String)>, Vec<&str>) {
    let mut opts = Vec::new();
    let mut words = Vec::new();
    for w in rest.split_whitespace() {
        match w.split_once('=') {
            Some((k, v)) => opts.push((k.to_lowercase(), v.to_string())),
            None => words.push(w),
        }
    }
    (opts, words)
}

fn headline(q: &Question) -> String {
    format!(
        "*{}* ({}, {}, {}) `{}`",
        escape(&q.title),
        escape(&q.topic),
        q.difficulty,
        q.kind,
        escape(&q.id)
    )
}

fn shown(text: &str, max: usize) -> String {
    let cut: String = text.chars().take(max).collect();
    escape(&cut)
}

impl Commands {
    fn address(&self, inv: &Invocation) -> ChannelAddress {
        ChannelAddress::new(Platform::Slack, &inv.team, &inv.channel)
    }

    /// The acknowledgement: a lookup's answer, or for an admin subcommand a short
    /// note and `true`: its work follows ([`Commands::administer`]) and answers
    /// through `response_url`.
    pub async fn acknowledge(&self, inv: &Invocation) -> (Reply, bool) {
        let (word, rest) = subcommand(&inv.text);
        let now = self.clock.now();
        if word != "help"
            && !word.is_empty()
            && let Verdict::Refused { retry_after } = self.limits.check(&inv.user, inv.id, now)
        {
            return (Reply::private(refusal(retry_after)), false);
        }
        if is_admin_subcommand(&word) {
            return (
                Reply::private(format!("Working on `{}`…", escape(&word))),
                true,
            );
        }
        match self.lookup(inv, &word, rest).await {
            Ok(r) => (r, false),
            Err(UserError(text)) => (Reply::private(text), false),
        }
    }

    async fn lookup(&self, inv: &Invocation, word: &str, rest: &str) -> Result<Reply> {
        let now = self.clock.now();
        let here = self.practice.channel_at(&self.address(inv)).await?;
        match word {
            "schedule" => {
                let Some(channel) = here else {
                    return Err(PracticeError::NotConfigured.into());
                };
                let view = self.practice.schedule_view(channel, now).await?;
                let s = &view.channel.schedule;
                let mut text = format!(
                    "This channel: {} at {} {}, reveal {} h after each drop, {}.",
                    s.days,
                    s.time.format("%H:%M"),
                    s.zone.name(),
                    s.reveal_after_hours,
                    escape(&s.pool.to_string())
                );
                match &view.next_drop {
                    Some(next) => {
                        text.push_str(&format!("\nNext drop: {}.", local_time(next.drop_at)))
                    }
                    None => text.push_str("\nPaused: no drops until someone runs `/prep resume`."),
                }
                if let Some(open) = &view.open {
                    text.push_str(&format!(
                        "\nOpen: drop #{}, revealed {}.",
                        open.seq.unwrap_or(0),
                        local_time(open.reveal_due_at)
                    ));
                }
                if let Some(reason) = &view.channel.pause_reason {
                    text.push_str(&format!("\nPaused by the bot: {}.", escape(reason)));
                }
                if let Some(failed) = view.failed_drop() {
                    text.push_str(&format!(
                        "\nLast drop failed ({}): {}.",
                        local_time(failed.due_at),
                        escape(failed.failure.as_deref().unwrap_or_default()).trim_end_matches('.')
                    ));
                }
                Ok(Reply::private(text))
            }
            "today" => {
                let open = match &here {
                    Some(c) => self.practice.open_drop(c.key).await?,
                    None => None,
                };
                let Some(open) = open else {
                    return Ok(Reply::private("No drop is open in this channel."));
                };
                let Some(q) = self.practice.drop_question(&open).await else {
                    return Ok(Reply::private(
                        "Today's question was removed from the bank.",
                    ));
                };
                let link = open
                    .message_id
                    .as_deref()
                    .map(|ts| {
                        format!(
                            " <https://slack.com/archives/{}/p{}|in its thread>",
                            inv.channel,
                            ts.replace('.', "")
                        )
                    })
                    .unwrap_or_default();
                Ok(Reply::private(format!(
                    "Drop #{}: {}\n{}\nAnswer{link}. Revealed {}.",
                    open.seq.unwrap_or(0),
                    headline(q),
                    shown(&q.prompt, 1500),
                    local_time(open.reveal_due_at)
                )))
            }
            "show" => {
                let id = rest.split_whitespace().next().unwrap_or_default();
                if id.is_empty() {
                    return Err(UserError(
                        "Say which question: `/prep show ID`, e.g. `/prep show cap-theorem` (ids are in `/prep search`).".into(),
                    ));
                }
                match self
                    .practice
                    .look_up(Platform::Slack, &inv.team, id)
                    .await?
                {
                    Lookup::Unknown => Err(UserError(format!(
                        "No question has the id `{}`. Try `/prep search WORDS`.",
                        shown(id, 100)
                    ))),
                    Lookup::Hidden(q) => Ok(Reply::private(format!(
                        "{}\n{}\nThis question is open in this workspace right now: its model answer appears at the reveal.",
                        headline(q),
                        shown(&q.prompt, 1500)
                    ))),
                    Lookup::Shown(q) => {
                        let mut text = format!("{}\n{}", headline(q), bank_markdown(&q.prompt));
                        for b in build_reveal(q, 0, &Answerers::default(), &[]).blocks {
                            if let Some(h) = b.heading {
                                text.push_str(&format!(
                                    "\n\n*{}*\n{}",
                                    escape(&h),
                                    bank_markdown(&b.body)
                                ));
                            }
                        }
                        Ok(Reply::private(text))
                    }
                }
            }
            "random" => {
                let filter = self.filter(rest)?;
                let seed = mix64(inv.id ^ now.timestamp_nanos_opt().unwrap_or_default() as u64);
                let Some(q) = self.practice.bank().random(&filter, seed) else {
                    return Err(UserError(format!(
                        "No question matches {}.",
                        escape(&filter.to_string())
                    )));
                };
                Ok(Reply::private(format!(
                    "{}\n{}\nWhen you have an answer: `/prep show {}`",
                    headline(q),
                    shown(&q.prompt, 1500),
                    escape(&q.id)
                )))
            }
            "search" => {
                let n = rest.chars().count();
                if n == 0 || n > MAX_QUERY_CHARS {
                    return Err(UserError(format!(
                        "Search for 1 to {MAX_QUERY_CHARS} characters of text, e.g. `/prep search cache invalidation`."
                    )));
                }
                let hits = self.practice.bank().search(rest, 5);
                if hits.is_empty() {
                    return Ok(Reply::private(format!(
                        "No question matches `{}`.",
                        shown(rest, 100)
                    )));
                }
                let lines: Vec<String> = hits
                    .iter()
                    .map(|h| format!("• {}", headline(h.question)))
                    .collect();
                Ok(Reply::private(format!(
                    "Best matches for `{}`:\n{}",
                    shown(rest, 100),
                    lines.join("\n")
                )))
            }
            "streak" => {
                let Some(channel) = here else {
                    return Err(PracticeError::NotConfigured.into());
                };
                // With should_escape, a member arrives as <@U…|name>.
                let member = match rest.trim() {
                    "" => inv.user.clone(),
                    m => match m.strip_prefix("<@").and_then(|m| m.strip_suffix('>')) {
                        Some(inner) => inner.split('|').next().unwrap_or_default().to_string(),
                        None => {
                            return Err(UserError(
                                "Name a member with @, e.g. `/prep streak @ada`, or nobody for your own.".into(),
                            ));
                        }
                    },
                };
                let name = self.names.name_or_fetch(&self.api, &member);
                Ok(Reply::public(
                    match self.practice.streak(channel.key, &member).await? {
                        Some(s) => format!(
                            "*{}*: {} in a row now, best {}, {} on time in all.",
                            escape(&self.names.shown_now(&self.api, &s.member_name)),
                            s.current,
                            s.best,
                            s.total_on_time
                        ),
                        None => format!(
                            "*{}* has not answered a drop on time in this channel yet.",
                            escape(&name)
                        ),
                    },
                ))
            }
            "leaderboard" => {
                let Some(channel) = here else {
                    return Err(PracticeError::NotConfigured.into());
                };
                let top = self.practice.leaderboard(channel.key, 10).await?;
                if top.is_empty() {
                    return Ok(Reply::public(
                        "Nobody has answered a drop on time here yet.",
                    ));
                }
                let mut text = String::from("*Leaderboard* (current streak, best, on time):");
                for (i, s) in top.iter().enumerate() {
                    text.push_str(&format!(
                        "\n{}. {}: {}, best {}, {} on time",
                        i + 1,
                        escape(&self.names.shown_now(&self.api, &s.member_name)),
                        s.current,
                        s.best,
                        s.total_on_time
                    ));
                }
                Ok(Reply::public(text))
            }
            _ => Ok(Reply::private(HELP)),
        }
    }

    fn filter(&self, rest: &str) -> Result<PoolFilter> {
        let (opts, _) = options(rest);
        let mut filter = PoolFilter::default();
        for (k, v) in opts {
            match k.as_str() {
                "topic" => {
                    filter.topic = check_topic(Some(&v), self.practice.bank())
                        .map_err(|r| UserError(escape(&r.0)))?
                }
                "difficulty" => filter.difficulty = Some(parse_difficulty(&v)?),
                _ => {
                    return Err(UserError(format!(
                        "Unknown option `{}`: use topic=T or difficulty=easy|medium|hard.",
                        shown(&k, 30)
                    )));
                }
            }
        }
        Ok(filter)
    }

    /// The roles the caller holds here, as Slack reports them.
    async fn roles(&self, inv: &Invocation) -> std::result::Result<Vec<Role>, ApiError> {
        let mut roles = Vec::new();
        if self.admins.contains(&inv.user) {
            roles.push(Role::ConfiguredAdmin);
        }
        let user = self.api.user(&inv.user).await?;
        self.names.remember(&inv.user, &user.display_name());
        if user.is_admin == Some(true) || user.is_owner == Some(true) {
            roles.push(Role::WorkspaceAdmin);
        }
        match self.api.conversation(&inv.channel).await {
            Ok(c) if c.creator.as_deref() == Some(inv.user.as_str()) => {
                roles.push(Role::ChannelCreator)
            }
            Ok(_) => {}
            // A channel the bot cannot see grants no role; `setup` says what to do.
            Err(e) if e.code() == Some("channel_not_found") => {}
            Err(e) => return Err(e),
        }
        Ok(roles)
    }

    /// Carries out an admin subcommand after the acknowledgement; the reply goes
    /// through `response_url`.
    pub async fn administer(&self, inv: &Invocation) -> Reply {
        let (word, rest) = subcommand(&inv.text);
        let roles = match self.roles(inv).await {
            Ok(r) => r,
            Err(e) => {
                self.state.check_auth(&e);
                warn!(command = word, error = %e, "cannot check the caller's roles");
                return Reply::private(
                    "Slack did not say who may run this just now; try again in a minute.",
                );
            }
        };
        if let Err(refused) = require_admin(Platform::Slack, &roles) {
            return Reply::private(refused.0);
        }
        let result = match word.as_str() {
            "setup" => self.setup(inv, rest).await,
            "pause" | "resume" => self.pause(inv, word == "pause").await,
            "drop" => self.drop_now(inv).await,
            "reveal" => self.reveal(inv).await,
            _ => Ok(Reply::private(HELP)),
        };
        info!(
            command = word,
            channel = inv.channel,
            user = inv.user,
            "/prep"
        );
        result.unwrap_or_else(|UserError(text)| Reply::private(text))
    }

    async fn setup(&self, inv: &Invocation, rest: &str) -> Result<Reply> {
        const EXAMPLE: &str = "e.g. `/prep setup 09:30 Europe/Berlin reveal=8 days=weekdays`";
        let (opts, words) = options(rest);
        let (Some(time), Some(zone)) = (words.first(), words.get(1)) else {
            return Err(UserError(format!(
                "Give a time and a time zone, {EXAMPLE}."
            )));
        };
        let mut input = ScheduleInput {
            time,
            zone,
            ..Default::default()
        };
        for (k, v) in &opts {
            match k.as_str() {
                "reveal" => {
                    input.reveal_after_hours =
                        Some(v.trim_end_matches('h').parse().map_err(|_| {
                            UserError(format!(
                                "reveal= takes hours, 1 to 168, not `{}`; {EXAMPLE}.",
                                shown(v, 30)
                            ))
                        })?)
                }
                "days" => input.days = Some(v),
                "topic" => input.topic = Some(v),
                "difficulty" => input.difficulty = Some(parse_difficulty(v)?),
                _ => {
                    return Err(UserError(format!(
                        "Unknown option `{}`: use reveal=, days=, topic= or difficulty=; {EXAMPLE}.",
                        shown(k, 30)
                    )));
                }
            }
        }
        let checked = check_schedule(&input, self.practice.bank())
            .map_err(|r| UserError(format!("{} {EXAMPLE}.", escape(&r.0))))?;
        // The bot must be in the channel to post there.
        match self.api.conversation(&inv.channel).await {
            Ok(c) if c.is_member == Some(false) => {
                return Err(UserError(format!(
                    "Invite @prepbot to {} first (`/invite @prepbot`), then run setup again.",
                    inv.channel_name
                        .as_deref()
                        .map(|n| format!("#{}", escape(n)))
                        .unwrap_or_else(|| "this channel".into())
                )));
            }
            Ok(_) => {}
            Err(e) if e.code() == Some("channel_not_found") => {
                return Err(UserError(
                    "Invite @prepbot to this channel first (`/invite @prepbot`), then run setup again.".into(),
                ));
            }
            Err(e) => {
                self.state.check_auth(&e);
                warn!(error = %e, "conversations.info failed during setup");
                return Err(UserError(
                    "Slack did not answer just now; try again in a minute.".into(),
                ));
            }
        }
        let now = self.clock.now();
        let seed = mix64(inv.id ^ now.timestamp_nanos_opt().unwrap_or_default() as u64);
        let (channel, next) = self
            .practice
            .setup_channel(
                ChannelSetup {
                    address: self.address(inv),
                    name: inv.channel_name.clone(),
                    time: checked.time,
                    zone: checked.zone,
                    days: checked.days,
                    reveal_after_hours: checked.reveal_after_hours,
                    pool: checked.pool,
                },
                seed,
                now,
            )
            .await?;
        self.wake.notify_one();
        let s = &channel.schedule;
        Ok(Reply::private(format!(
            "Scheduled: {} at {} {}, reveal {} h after each drop, {}.\nNext drop: {}.",
            s.days,
            s.time.format("%H:%M"),
            s.zone.name(),
            s.reveal_after_hours,
            escape(&s.pool.to_string()),
            local_time(next.drop_at)
        )))
    }

    async fn pause(&self, inv: &Invocation, pause: bool) -> Result<Reply> {
        let now = self.clock.now();
        let Some(channel) = self.practice.channel_at(&self.address(inv)).await? else {
            return Err(PracticeError::NotConfigured.into());
        };
        let channel = self.practice.set_paused(channel.key, pause, now).await?;
        self.wake.notify_one();
        if pause {
            return Ok(Reply::private(
                "Paused: no new drops here until `/prep resume`. An open drop is still revealed on time, and nobody's streak breaks while paused.",
            ));
        }
        Ok(Reply::private(
            match self.practice.next_drop(&channel, now).await? {
                Some(next) => format!("Resumed. Next drop: {}.", local_time(next.drop_at)),
                None => "Resumed.".to_string(),
            },
        ))
    }

    async fn drop_now(&self, inv: &Invocation) -> Result<Reply> {
        let Some(channel) = self.practice.channel_at(&self.address(inv)).await? else {
            return Err(PracticeError::NotConfigured.into());
        };
        let now = self.clock.now();
        let result = scheduler::drop_now(&self.practice, &self.outbound, channel.key, now).await;
        self.wake.notify_one();
        Ok(Reply::private(match result {
            Ok(d) => format!(
                "Posted drop #{}. It is revealed {}; the schedule then carries on from the next scheduled day.",
                d.seq.unwrap_or(0),
                local_time(d.reveal_due_at)
            ),
            Err(PracticeError::AlreadyOut(d)) => match d.state {
                DropState::Claimed => "Today's drop is being posted right now.".to_string(),
                _ => "Today's drop is already out. Nothing was posted.".to_string(),
            },
            Err(e) => return Err(e.into()),
        }))
    }

    async fn reveal(&self, inv: &Invocation) -> Result<Reply> {
        let open = match self.practice.channel_at(&self.address(inv)).await? {
            Some(channel) => self.practice.open_drop(channel.key).await?,
            None => None,
        };
        let Some(open) = open else {
            return Err(UserError("No drop is open in this channel.".into()));
        };
        let revealed =
            scheduler::reveal_one(&self.practice, &self.outbound, open.id, self.clock.now())
                .await?;
        self.wake.notify_one();
        Ok(Reply::private(match revealed {
            Some(d) => format!("Revealed drop #{} in its thread.", d.seq.unwrap_or(0)),
            None => "The reveal could not be posted just now (Slack refused it, or it is already being posted); it is retried automatically.".to_string(),
        }))
    }
}

fn parse_difficulty(v: &str) -> Result<Difficulty> {
    v.parse::<Difficulty>().map_err(|_| {
        UserError(format!(
            "difficulty= is easy, medium or hard, not `{}`.",
            shown(v, 30)
        ))
    })
}

/// A number for a command, for the budget: the same command delivered again counts
/// once.
pub fn invocation_id(trigger_id: &str, user: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in trigger_id.bytes().chain(user.bytes()) {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    mix64(h)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_subcommand_is_the_first_word_and_options_are_key_value() {
        assert_eq!(
            subcommand("  Setup 09:30 UTC reveal=4 "),
            ("setup".into(), "09:30 UTC reveal=4")
        );
        assert_eq!(subcommand(""), (String::new(), ""));
        let (opts, words) = options("09:30 Europe/Berlin reveal=8 days=mon,wed");
        assert_eq!(words, ["09:30", "Europe/Berlin"]);
        assert_eq!(
            opts,
            [
                ("reveal".into(), "8".into()),
                ("days".into(), "mon,wed".into())
            ]
        );
        assert!(is_admin_subcommand("setup") && !is_admin_subcommand("schedule"));
        assert_ne!(invocation_id("1.2", "U1"), invocation_id("1.3", "U1"));
    }
}
