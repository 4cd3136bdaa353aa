//! `/prep`: one slash command, its subcommand in the text. Every subcommand is one
//! of the core's commands ([`COMMANDS`]), which Discord offers as slash commands;
//! [`SLACK_COMMANDS`] says how each is typed here, and `help` is rendered from the
//! two, so the platforms cannot drift apart. Slack wants every command acknowledged
//! within 3 seconds, and slack-morphism sends the acknowledgement when the callback
//! returns, so:
//!
//! - lookups (`schedule`, `today`, `show`, `random`, `search`, `streak`,
//!   `leaderboard`, `help`) read the store and the bank and answer in the
//!   acknowledgement itself;
//! - subcommands that change what is stored (the admin ones, `setup`, `pause`,
//!   `resume`, `remove`, `drop`, `reveal`, `forget member`, and `forget me`) are
//!   acknowledged first, then checked (roles from `users.info` and
//!   `conversations.info`, which are Web API calls) and carried out, and answered
//!   through the command's `response_url`.
//!
//! Replies are ephemeral except `streak` and `leaderboard`. Everything echoed from
//! the command (a query, a bad argument, a member's name) is escaped. Removing a
//! schedule and forgetting a member are the core's use cases, which log what was
//! done and by whom; the adapter logs each changing subcommand under the core's
//! command path, as Discord does.

use std::sync::Arc;

use prepbot_core::bank::{Difficulty, PoolFilter, Question};
use prepbot_core::chat::{ChannelAddress, Platform};
use prepbot_core::clock::Clock;
use prepbot_core::command_budget::CommandBudget;
use prepbot_core::command_rules::{
    COMMANDS, Role, ScheduleInput, Who, check_schedule, check_topic, member_id_from_text,
    require_admin,
};
use prepbot_core::engine::DropState;
use prepbot_core::engine::answers::Answerers;
use prepbot_core::engine::reveal::build_reveal;
use prepbot_core::mix::mix64;
use prepbot_core::practice::{ChannelSetup, Forgotten, History, Lookup, Practice, PracticeError};
use prepbot_core::scheduler;
use tokio::sync::Notify;
use tracing::{info, warn};

use crate::api::{ApiError, SlackApi};
use crate::names::Names;
use crate::outbound::{SlackOutbound, SlackState};
use crate::render::{bank_markdown, escape, local_time};

/// Longest accepted search query.
const MAX_QUERY_CHARS: usize = 200;

/// One of the core's commands ([`COMMANDS`]) as typed after `/prep`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlackCommand {
    /// The core's path for it ([`prepbot_core::command_rules::CommandHelp::path`]):
    /// what the adapter dispatches on and logs, as Discord logs its commands.
    pub path: &'static str,
    /// The words that select it after `/prep`.
    pub words: &'static str,
    /// Its arguments, as `help` shows them.
    pub args: &'static str,
    /// It changes what is stored: acknowledged first, then carried out and answered
    /// through `response_url` (a write may wait behind the scheduler's, and an admin
    /// check asks Slack, which must not delay the acknowledgement).
    pub changes: bool,
}

const fn cmd(
    path: &'static str,
    words: &'static str,
    args: &'static str,
    changes: bool,
) -> SlackCommand {
    SlackCommand {
        path,
        words,
        args,
        changes,
    }
}

/// Every core command, as Slack's `/prep` spells it. A test checks this covers
/// [`COMMANDS`] exactly.
pub const SLACK_COMMANDS: &[SlackCommand] = &[
    cmd("help", "help", "", false),
    cmd("question today", "today", "", false),
    cmd("question show", "show", "ID", false),
    cmd(
        "question random",
        "random",
        "[topic=T] [difficulty=D]",
        false,
    ),
    cmd("question search", "search", "WORDS…", false),
    cmd("streak", "streak", "[@member]", false),
    cmd("leaderboard", "leaderboard", "", false),
    cmd("schedule show", "schedule", "", false),
    cmd("forget me", "forget me", "[confirm]", true),
    cmd(
        "setup",
        "setup",
        "HH:MM ZONE [reveal=HOURS] [days=daily|weekdays|mon,wed,fri] [topic=T] [difficulty=D]",
        true,
    ),
    cmd("schedule pause", "pause", "", true),
    cmd("schedule resume", "resume", "", true),
    cmd("schedule remove", "remove", "keep|delete [confirm]", true),
    cmd("drop", "drop", "", true),
    cmd("reveal", "reveal", "", true),
    cmd(
        "forget member",
        "forget member",
        "@member|ID [confirm]",
        true,
    ),
];

impl SlackCommand {
    /// How `help` shows it: its words and arguments.
    pub fn usage(&self) -> String {
        if self.args.is_empty() {
            self.words.to_string()
        } else {
            format!("{} {}", self.words, self.args)
        }
    }

    /// Whether the core says only an admin may run it. A path the core does not
    /// list counts as an admin's, so a mistake fails closed.
    pub fn is_admin(&self) -> bool {
        COMMANDS
            .iter()
            .find(|c| c.path == self.path)
            .is_none_or(|c| c.who == Who::Admin)
    }
}

/// The command a `/prep` text selects (its words in any case) and the rest of the
/// text; `None` for an empty or unknown one.
pub fn parse(text: &str) -> Option<(&'static SlackCommand, &str)> {
    SLACK_COMMANDS.iter().find_map(|c| {
        let mut rest = text;
        for want in c.words.split(' ') {
            let (word, after) = next_word(rest);
            if !word.eq_ignore_ascii_case(want) {
                return None;
            }
            rest = after;
        }
        Some((c, rest))
    })
}

/// What `help` says, rendered from the core's list in its order and wording, in
/// Slack's syntax.
pub fn help() -> String {
    let mut out = String::from(
        "*prepbot*: a daily interview question in this channel on its schedule; answer in the drop's thread before the reveal to keep your streak. `/prep` and then:\n",
    );
    for (who, heading) in [
        (Who::Anyone, "*For everyone*"),
        (
            Who::Admin,
            "*For admins* (workspace admins and owners, the channel's creator, members in PREPBOT_SLACK_ADMINS)",
        ),
    ] {
        out.push_str(heading);
        out.push('\n');
        for c in COMMANDS.iter().filter(|c| c.who == who) {
            // Every core command has a spelling here (a test checks it).
            let Some(slack) = SLACK_COMMANDS.iter().find(|s| s.path == c.path) else {
                continue;
            };
            // The core words it for a Discord server; here it is a workspace.
            let what = c.what.replace("this server", "this workspace");
            out.push_str(&format!("• `{}`: {what}\n", slack.usage()));
        }
    }
    out.trim_end().to_string()
}

/// What an empty or unknown text gets: the help, or, for the first word of a
/// two-word subcommand (`forget`), the subcommands it starts.
fn unknown(word: &str) -> String {
    let starts: Vec<String> = SLACK_COMMANDS
        .iter()
        .filter(|c| {
            c.words
                .split_once(' ')
                .is_some_and(|(first, _)| first == word)
        })
        .map(|c| format!("`/prep {}`", c.usage()))
        .collect();
    if starts.is_empty() {
        help()
    } else {
        format!("Say which: {}.", starts.join(" or "))
    }
}

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

/// What the commands need.
pub struct Commands {
    pub practice: Practice,
    pub clock: Arc<dyn Clock>,
    pub wake: Arc<Notify>,
    pub outbound: SlackOutbound,
    pub api: SlackApi,
    pub state: Arc<SlackState>,
    pub names: Names,
    /// Each member's command budget: in memory, or shared by the processes on
    /// PostgreSQL.
    pub limits: CommandBudget,
    /// `PREPBOT_SLACK_ADMINS`.
    pub admins: Vec<String>,
}

/// A user error: shown as it is.
#[derive(Debug)]
struct UserError(String);

impl From<PracticeError> for UserError {
    fn from(e: PracticeError) -> Self {
        if e.is_unavailable() {
            // The member is told to try again; the operator sees why.
            let cause = std::error::Error::source(&e).map(ToString::to_string);
            warn!(cause, "a /prep command could not reach the database");
        }
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
    let (word, rest) = next_word(text);
    (word.to_lowercase(), rest)
}

/// The first word of `text` and the rest, both trimmed.
fn next_word(text: &str) -> (&str, &str) {
    let text = text.trim();
    let (word, rest) = text.split_once(char::is_whitespace).unwrap_or((text, ""));
    (word, rest.trim())
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

    /// The acknowledgement: a lookup's answer, or for a subcommand that changes
    /// things a short note and `true`: its work follows ([`Commands::administer`])
    /// and answers through `response_url`.
    ///
    /// The member is charged while the answer is worked out
    /// ([`CommandBudget::check_alongside`]), which changes nothing: on PostgreSQL
    /// the charge and a lookup's reads are round trips side by side, not one after
    /// the other. A refused member gets the refusal, and a subcommand that changes
    /// things does not follow.
    pub async fn acknowledge(&self, inv: &Invocation) -> (Reply, bool) {
        let (word, _) = subcommand(&inv.text);
        let answer = async {
            let Some((command, rest)) = parse(&inv.text) else {
                return (Reply::private(unknown(&word)), false);
            };
            if command.changes {
                return (
                    Reply::private(format!("Working on `{}`…", command.words)),
                    true,
                );
            }
            match self.lookup(inv, command.path, rest).await {
                Ok(r) => (r, false),
                Err(UserError(text)) => (Reply::private(text), false),
            }
        };
        if word == "help" || word.is_empty() {
            return answer.await;
        }
        let now = self.clock.now();
        match self
            .limits
            .check_alongside(&inv.user, inv.id, now, answer)
            .await
        {
            Ok(answer) => answer,
            Err(refused) => (Reply::private(refused.message()), false),
        }
    }

    /// A lookup, by the core's path of the command.
    async fn lookup(&self, inv: &Invocation, path: &str, rest: &str) -> Result<Reply> {
        let now = self.clock.now();
        // Each lookup about the channel reads it with what it shows, in one
        // statement (the leaderboard: one connection).
        let here = self.address(inv);
        match path {
            "schedule show" => {
                let Some(view) = self.practice.schedule_view_at(&here, now).await? else {
                    return Err(PracticeError::NotConfigured.into());
                };
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
            "question today" => {
                let open = self
                    .practice
                    .today_at(&here, now)
                    .await?
                    .and_then(|today| today.open);
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
            "question show" => {
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
            "question random" => {
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
            "question search" => {
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
                // With should_escape, a member arrives as <@U…|name>.
                let member = match rest.trim() {
                    "" => Some(inv.user.clone()),
                    m => m
                        .strip_prefix("<@")
                        .and_then(|m| m.strip_suffix('>'))
                        .map(|inner| inner.split('|').next().unwrap_or_default().to_string()),
                };
                let Some(member) = member else {
                    // A channel without a schedule says so first, whatever was typed.
                    if self.practice.channel_at(&here).await?.is_none() {
                        return Err(PracticeError::NotConfigured.into());
                    }
                    return Err(UserError(
                        "Name a member with @, e.g. `/prep streak @ada`, or nobody for your own."
                            .into(),
                    ));
                };
                let Some((_, streak)) = self.practice.streak_at(&here, &member).await? else {
                    return Err(PracticeError::NotConfigured.into());
                };
                let name = self.names.name_or_fetch(&self.api, &member);
                Ok(Reply::public(match streak {
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
                }))
            }
            "leaderboard" => {
                let Some((_, top)) = self.practice.leaderboard_at(&here, 10).await? else {
                    return Err(PracticeError::NotConfigured.into());
                };
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
            _ => Ok(Reply::private(help())),
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

    /// Carries out a subcommand that changes things after the acknowledgement,
    /// checking first that the caller may; the reply goes through `response_url`.
    pub async fn administer(&self, inv: &Invocation) -> Reply {
        let Some((command, rest)) = parse(&inv.text) else {
            return Reply::private(help());
        };
        let path = command.path;
        if command.is_admin() {
            let roles = match self.roles(inv).await {
                Ok(r) => r,
                Err(e) => {
                    self.state.check_auth(&e);
                    warn!(command = path, error = %e, "cannot check the caller's roles");
                    return Reply::private(
                        "Slack did not say who may run this just now; try again in a minute.",
                    );
                }
            };
            if let Err(refused) = require_admin(Platform::Slack, &roles) {
                info!(
                    command = path,
                    team = inv.team,
                    channel = inv.channel,
                    user = inv.user,
                    "/prep refused: the caller is not an admin"
                );
                return Reply::private(refused.0);
            }
        }
        let result = match path {
            "setup" => self.setup(inv, rest).await,
            "schedule pause" | "schedule resume" => self.pause(inv, path == "schedule pause").await,
            "schedule remove" => self.remove(inv, rest).await,
            "drop" => self.drop_now(inv).await,
            "reveal" => self.reveal(inv).await,
            "forget me" => self.forget_me(inv, rest).await,
            "forget member" => self.forget_member(inv, rest).await,
            _ => Ok(Reply::private(help())),
        };
        // What was done and by whom; removals and forgets are also logged by the
        // core with their counts.
        info!(
            command = path,
            team = inv.team,
            channel = inv.channel,
            user = inv.user,
            ok = result.is_ok(),
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

    /// `remove keep|delete [confirm]`: the core's removal, which only counts until
    /// confirmed.
    async fn remove(&self, inv: &Invocation, rest: &str) -> Result<Reply> {
        let (history, confirmed) = parse_remove(rest)?;
        let Some(channel) = self.practice.channel_at(&self.address(inv)).await? else {
            return Err(PracticeError::NotConfigured.into());
        };
        let removal = self
            .practice
            .remove_schedule(channel.key, history, confirmed, &inv.user, self.clock.now())
            .await?;
        if removal.done {
            self.wake.notify_one();
        }
        let counts = removal.counts();
        Ok(Reply::private(match (removal.done, history) {
            (false, History::Keep) => format!(
                "This removes the schedule: no more drops here. Its history ({counts}) is kept, and a later `/prep setup` here carries on from it. Run `/prep remove keep confirm` to remove it."
            ),
            (false, History::Delete) => format!(
                "This removes the schedule and deletes its history for good: {counts}, and every streak here. Run `/prep remove delete confirm` to do it."
            ),
            (true, History::Keep) => format!(
                "Removed: no more drops here. The history ({counts}) is kept; an open drop is still revealed on time. `/prep setup` here starts again from it."
            ),
            (true, History::Delete) => format!(
                "Removed, with its history: {counts} deleted. Threads already posted stay in the channel."
            ),
        }))
    }

    /// `forget me [confirm]`: anyone, for themselves.
    async fn forget_me(&self, inv: &Invocation, rest: &str) -> Result<Reply> {
        let confirmed = only_confirm(rest, "`/prep forget me`", "/prep forget me confirm")?;
        let done = self.forget(inv, &inv.user, confirmed).await?;
        Ok(Reply::private(if done.done {
            format!(
                "Done: {} deleted. Messages you post from now on are stored as usual; reveals already posted stay as they are.",
                done.counts()
            )
        } else if done.nothing() {
            "The bot stores no answers or streaks of yours in this workspace.".to_string()
        } else {
            format!(
                "This deletes {} for good. Run `/prep forget me confirm` to do it.",
                done.counts()
            )
        }))
    }

    /// `forget member @member|ID [confirm]`: an admin, for a member (who left, say).
    async fn forget_member(&self, inv: &Invocation, rest: &str) -> Result<Reply> {
        let (member, confirmed) = parse_forget_member(rest)?;
        let done = self.forget(inv, &member, confirmed).await?;
        // The member by id, as Discord does: a mention would be a live `<@U…>` in
        // the bot's reply, and the id is what the admin typed or picked.
        Ok(Reply::private(if done.done {
            format!("Done: {} of member {member} deleted.", done.counts())
        } else if done.nothing() {
            format!("The bot stores no answers or streaks of member {member} in this workspace.")
        } else {
            format!(
                "This deletes {} of member {member} for good. Run `/prep forget member {member} confirm` to do it.",
                done.counts()
            )
        }))
    }

    /// The core's forget, across this workspace; it records the tombstones that keep
    /// catching up from storing the answers again.
    async fn forget(&self, inv: &Invocation, member: &str, confirmed: bool) -> Result<Forgotten> {
        Ok(self
            .practice
            .forget_member(
                Platform::Slack,
                &inv.team,
                member,
                &inv.user,
                confirmed,
                self.clock.now(),
            )
            .await?)
    }
}

/// `remove`'s arguments: `keep` or `delete`, and `confirm` to go ahead, in any
/// order. Anything else is refused rather than guessed at: the command deletes.
fn parse_remove(rest: &str) -> Result<(History, bool)> {
    const EXAMPLE: &str = "`/prep remove keep` (drops, answers and streaks stay for a later `/prep setup` here) or `/prep remove delete` (all of them go)";
    let mut history = None;
    let mut confirmed = false;
    for word in rest.split_whitespace() {
        match word.to_lowercase().as_str() {
            "keep" if history.is_none() => history = Some(History::Keep),
            "delete" if history.is_none() => history = Some(History::Delete),
            "confirm" if !confirmed => confirmed = true,
            _ => {
                return Err(UserError(format!(
                    "`/prep remove` takes keep or delete, and confirm to go ahead, not `{}`: {EXAMPLE}.",
                    shown(word, 30)
                )));
            }
        }
    }
    let Some(history) = history else {
        return Err(UserError(format!(
            "Say whether this channel's history is kept or deleted: {EXAMPLE}."
        )));
    };
    Ok((history, confirmed))
}

/// Arguments that may only be `confirm` (once); `what` names the command and
/// `example` shows it confirmed.
fn only_confirm(rest: &str, what: &str, example: &str) -> Result<bool> {
    let mut confirmed = false;
    for word in rest.split_whitespace() {
        if word.eq_ignore_ascii_case("confirm") && !confirmed {
            confirmed = true;
            continue;
        }
        return Err(UserError(format!(
            "{what} takes only confirm, not `{}`: e.g. `{example}`.",
            shown(word, 30)
        )));
    }
    Ok(confirmed)
}

/// `forget member`'s arguments: the member, as a mention (`<@U…|name>`, since the
/// command escapes members) or an id (a member who left cannot be mentioned), then
/// `confirm` or nothing.
fn parse_forget_member(rest: &str) -> Result<(String, bool)> {
    const EXAMPLE: &str =
        "For example `/prep forget member @ada`, or by id: `/prep forget member U0123ABCD`.";
    let rest = rest.trim();
    // The name inside a mention is the member's own and may hold anything but `>`.
    let (member, after) = match (rest.starts_with("<@"), rest.find('>')) {
        (true, Some(end)) => (&rest[..=end], rest[end + 1..].trim()),
        _ => next_word(rest),
    };
    if member.is_empty() {
        return Err(UserError(format!("Say which member. {EXAMPLE}")));
    }
    let id = member_id_from_text(member).map_err(|r| UserError(format!("{} {EXAMPLE}", r.0)))?;
    // Slack's member ids are upper case (one typed in lower case is the same
    // member) and start with U or W; anything else names nobody.
    let id = id.to_ascii_uppercase();
    if !id.starts_with(['U', 'W']) {
        return Err(UserError(format!(
            "`{}` is not a Slack member id (U… or W…). {EXAMPLE}",
            shown(member, 30)
        )));
    }
    let confirmed = only_confirm(
        after,
        "After the member, `/prep forget member`",
        &format!("/prep forget member {id} confirm"),
    )?;
    Ok((id, confirmed))
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
        assert!(parse("setup 09:30 UTC").unwrap().0.is_admin());
        assert!(!parse("schedule").unwrap().0.is_admin());
        assert_ne!(invocation_id("1.2", "U1"), invocation_id("1.3", "U1"));
    }

    #[test]
    fn every_core_command_has_exactly_one_slack_spelling_and_help_lists_it() {
        let mut core: Vec<&str> = COMMANDS.iter().map(|c| c.path).collect();
        let mut here: Vec<&str> = SLACK_COMMANDS.iter().map(|c| c.path).collect();
        core.sort();
        here.sort();
        assert_eq!(core, here);
        let mut words: Vec<&str> = SLACK_COMMANDS.iter().map(|c| c.words).collect();
        words.sort();
        words.dedup();
        assert_eq!(
            words.len(),
            SLACK_COMMANDS.len(),
            "two commands typed alike"
        );
        let text = help();
        for c in SLACK_COMMANDS {
            assert!(
                text.contains(&format!("• `{}`:", c.usage())),
                "{}: {text}",
                c.path
            );
            // Each spelling selects its own command.
            assert_eq!(parse(&c.words.to_uppercase()).unwrap().0.path, c.path);
            // An admin's check asks Slack for roles, which must follow the
            // acknowledgement.
            assert!(!c.is_admin() || c.changes, "{}", c.path);
        }
        assert!(
            text.contains("`forget member @member|ID [confirm]`"),
            "{text}"
        );
        assert!(text.contains("`remove keep|delete [confirm]`"), "{text}");
        assert!(text.contains("in this workspace"), "{text}");
        assert!(!text.contains("server"), "{text}");
        // Admin commands are listed under the admins' heading.
        let admins = text.split("*For admins*").nth(1).unwrap();
        assert!(admins.contains("`remove keep|delete"), "{text}");
        assert!(!admins.contains("`forget me [confirm]`"), "{text}");
        assert!(
            admins.contains("`forget member @member|ID [confirm]`"),
            "{text}"
        );
    }

    #[test]
    fn commands_are_parsed_by_their_words_and_the_rest_is_their_arguments() {
        let (c, rest) = parse("  Forget  MEMBER <@U0ABC|ada> confirm").unwrap();
        assert_eq!((c.path, rest), ("forget member", "<@U0ABC|ada> confirm"));
        let (c, rest) = parse("forget me").unwrap();
        assert_eq!((c.path, rest), ("forget me", ""));
        let (c, rest) = parse("remove delete confirm").unwrap();
        assert_eq!((c.path, rest), ("schedule remove", "delete confirm"));
        assert!(parse("").is_none());
        assert!(parse("forget").is_none());
        assert!(parse("forget everyone").is_none());
        assert!(parse("forgetme").is_none());
        assert!(parse("removal keep").is_none());
        // `forget` alone names the two it starts; an unknown word gets the help.
        let forget = unknown("forget");
        assert!(
            forget.contains("`/prep forget me [confirm]`")
                && forget.contains("`/prep forget member @member|ID [confirm]`"),
            "{forget}"
        );
        assert_eq!(unknown("frobnicate"), help());
    }

    #[test]
    fn remove_takes_keep_or_delete_and_confirm_and_nothing_else() {
        let ok = |t: &str| parse_remove(t).unwrap_or_else(|e| panic!("{t}: {}", e.0));
        assert_eq!(ok("keep"), (History::Keep, false));
        assert_eq!(ok("DELETE"), (History::Delete, false));
        assert_eq!(ok("delete confirm"), (History::Delete, true));
        assert_eq!(ok("confirm keep"), (History::Keep, true));
        let err = |t: &str| parse_remove(t).err().unwrap_or_else(|| panic!("{t}")).0;
        for missing in ["", "confirm"] {
            let e = err(missing);
            assert!(e.starts_with("Say whether this channel's history"), "{e}");
            assert!(e.contains("`/prep remove keep`"), "{e}");
        }
        for (bad, named) in [
            ("maybe", "maybe"),
            ("keep delete", "delete"),
            ("delete confirm confirm", "confirm"),
            ("delete confirmed", "confirmed"),
            ("<!channel>", "&lt;!channel&gt;"),
        ] {
            let e = err(bad);
            assert!(e.contains(&format!("not `{named}`")), "{bad}: {e}");
            assert!(e.contains("`/prep remove delete`"), "{bad}: {e}");
            assert_eq!(e.lines().count(), 1, "{e}");
        }
    }

    #[test]
    fn forget_takes_a_member_by_mention_or_id_and_an_optional_confirm() {
        let ok = |t: &str| parse_forget_member(t).unwrap_or_else(|e| panic!("{t}: {}", e.0));
        assert_eq!(ok("<@U0ABC|ada>"), ("U0ABC".into(), false));
        assert_eq!(ok("<@U0ABC|ada lovelace> confirm"), ("U0ABC".into(), true));
        assert_eq!(ok("<@W0ABC>confirm"), ("W0ABC".into(), true));
        assert_eq!(ok("u0abc CONFIRM"), ("U0ABC".into(), true));
        let err = |t: &str| {
            parse_forget_member(t)
                .err()
                .unwrap_or_else(|| panic!("{t}"))
                .0
        };
        assert!(err("").starts_with("Say which member."), "{}", err(""));
        assert!(
            err("Ada").contains("not a Slack member id"),
            "{}",
            err("Ada")
        );
        assert!(
            err("<@>").contains("Name the member by their id"),
            "{}",
            err("<@>")
        );
        let extra = err("<@U0ABC|ada> now");
        assert!(
            extra.contains("not `now`") && extra.contains("`/prep forget member U0ABC confirm`"),
            "{extra}"
        );
        let ping = err("<!here>");
        assert!(
            ping.contains("Name the member") && !ping.contains("<!here>"),
            "{ping}"
        );

        assert!(!only_confirm("", "x", "y").unwrap());
        assert!(only_confirm(" Confirm ", "x", "y").unwrap());
        let twice = only_confirm(
            "confirm confirm",
            "`/prep forget me`",
            "/prep forget me confirm",
        );
        let e = twice.err().unwrap().0;
        assert_eq!(
            e,
            "`/prep forget me` takes only confirm, not `confirm`: e.g. `/prep forget me confirm`."
        );
        assert!(only_confirm("please", "x", "y").is_err());
    }
}
