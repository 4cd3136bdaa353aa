//! Every slash command, one file per group, all listed in [`all`]. Each command has a
//! `///` description and each option a `#[description]`; admin commands check Manage
//! Server on our side first ([`super::errors::require_admin`]).

pub mod drops;
pub mod forget;
pub mod help;
pub mod question;
pub mod schedule;
pub mod setup;
pub mod streak;

use poise::serenity_prelude as serenity;
use serenity::{AutocompleteChoice, CreateAutocompleteResponse};
use tracing::info;

use super::{CommandError, Context, Data, errors, events, render};

/// Discord shows at most this many autocomplete choices.
pub const MAX_CHOICES: usize = 25;

/// The complete list of commands the bot registers.
pub fn all() -> Vec<poise::Command<Data, CommandError>> {
    vec![
        help::help(),
        setup::setup(),
        schedule::schedule(),
        drops::drop_now(),
        drops::reveal(),
        question::question(),
        streak::streak(),
        streak::leaderboard(),
        forget::forget(),
    ]
}

pub fn options() -> poise::FrameworkOptions<Data, CommandError> {
    poise::FrameworkOptions {
        commands: all(),
        on_error: errors::on_error,
        event_handler: events::handler,
        allowed_mentions: Some(render::no_mentions()),
        command_check: Some(super::limit::check),
        pre_command: |ctx| {
            Box::pin(async move {
                info!(
                    command = %ctx.command().qualified_name,
                    guild = ctx.guild_id().map(|g| g.get()),
                    channel = ctx.channel_id().get(),
                    user = ctx.author().id.get(),
                    "command"
                );
            })
        },
        ..Default::default()
    }
}

/// Autocomplete choices from names: those starting with `partial` first, then those
/// containing it, case-insensitively, at most [`MAX_CHOICES`].
pub fn choices<'a>(names: impl Iterator<Item = &'a str>, partial: &str) -> Vec<String> {
    let needle = partial.trim().to_lowercase();
    let mut prefix = Vec::new();
    let mut inner = Vec::new();
    for name in names {
        let lower = name.to_lowercase();
        if lower.starts_with(&needle) {
            prefix.push(name.to_string());
        } else if lower.contains(&needle) {
            inner.push(name.to_string());
        }
    }
    prefix.extend(inner);
    prefix.truncate(MAX_CHOICES);
    prefix
}

pub fn autocomplete_response(names: Vec<String>) -> CreateAutocompleteResponse {
    CreateAutocompleteResponse::new()
        .set_choices(names.into_iter().map(AutocompleteChoice::from).collect())
}

/// Autocomplete for a topic option, from the loaded bank.
pub async fn autocomplete_topic(ctx: Context<'_>, partial: &str) -> CreateAutocompleteResponse {
    let bank = ctx.data().practice.bank();
    autocomplete_response(choices(bank.topics().into_iter(), partial))
}

/// A difficulty option, as Discord shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, poise::ChoiceParameter)]
pub enum DifficultyChoice {
    #[name = "easy"]
    Easy,
    #[name = "medium"]
    Medium,
    #[name = "hard"]
    Hard,
}

impl From<DifficultyChoice> for prepbot_core::bank::Difficulty {
    fn from(d: DifficultyChoice) -> Self {
        match d {
            DifficultyChoice::Easy => prepbot_core::bank::Difficulty::Easy,
            DifficultyChoice::Medium => prepbot_core::bank::Difficulty::Medium,
            DifficultyChoice::Hard => prepbot_core::bank::Difficulty::Hard,
        }
    }
}

fn is_thread(kind: serenity::ChannelType) -> bool {
    matches!(
        kind,
        serenity::ChannelType::PublicThread
            | serenity::ChannelType::PrivateThread
            | serenity::ChannelType::NewsThread
    )
}

/// The practice channel a command is about: the channel it runs in, or, when it
/// runs inside a thread (a drop's, say), the thread's parent channel.
pub fn home_channel(ctx: Context<'_>) -> u64 {
    if let poise::Context::Application(a) = ctx
        && let Some(channel) = &a.interaction.channel
        && is_thread(channel.kind)
        && let Some(parent) = channel.parent_id
    {
        return parent.get();
    }
    ctx.channel_id().get()
}

/// The practice channel a command is about, as the core addresses it.
pub fn home_address(ctx: Context<'_>) -> prepbot_core::chat::ChannelAddress {
    prepbot_core::chat::ChannelAddress::new(
        prepbot_core::chat::Platform::Discord,
        ctx.guild_id()
            .map(|g| g.get().to_string())
            .unwrap_or_default(),
        home_channel(ctx).to_string(),
    )
}

/// The home channel's schedule, if it has one.
pub async fn home_schedule(
    ctx: Context<'_>,
) -> Result<Option<prepbot_core::store::channels::Channel>, CommandError> {
    Ok(ctx.data().practice.channel_at(&home_address(ctx)).await?)
}

/// A Discord id the core holds as text (0 if it is not one, which links nowhere).
pub fn snowflake(id: &str) -> u64 {
    id.parse().unwrap_or_default()
}

/// `/setup` only makes sense in a text or announcement channel: each drop opens a
/// thread, which threads, voice channels and forums cannot host this way.
pub fn require_text_channel(ctx: Context<'_>) -> Result<(), CommandError> {
    if let poise::Context::Application(a) = ctx
        && let Some(channel) = &a.interaction.channel
        && !matches!(
            channel.kind,
            serenity::ChannelType::Text | serenity::ChannelType::News
        )
    {
        return Err(CommandError::user(
            "Run /setup in a text channel: every drop there opens a thread for the answers.",
        ));
    }
    Ok(())
}

/// Checks a topic against the bank.
pub fn check_topic(
    ctx: Context<'_>,
    topic: Option<String>,
) -> Result<Option<String>, CommandError> {
    prepbot_core::command_rules::check_topic(topic.as_deref(), ctx.data().practice.bank())
        .map_err(|r| CommandError::user(r.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_command_and_option_has_a_description() {
        fn check(cmd: &poise::Command<Data, CommandError>) {
            assert!(
                cmd.description.as_deref().is_some_and(|d| !d.is_empty()),
                "/{}",
                cmd.qualified_name
            );
            for p in &cmd.parameters {
                assert!(
                    p.description.as_deref().is_some_and(|d| !d.is_empty()),
                    "/{} {}",
                    cmd.qualified_name,
                    p.name
                );
            }
            cmd.subcommands.iter().for_each(check);
        }
        all().iter().for_each(check);
    }

    #[test]
    fn admin_commands_carry_default_member_permissions() {
        let all = all();
        for name in ["setup", "drop", "reveal"] {
            let cmd = all.iter().find(|c| c.name == name).unwrap();
            assert_eq!(
                cmd.default_member_permissions,
                serenity::Permissions::MANAGE_GUILD,
                "/{name}"
            );
        }
        let schedule = all.iter().find(|c| c.name == "schedule").unwrap();
        assert!(
            schedule.default_member_permissions.is_empty(),
            "/schedule show is for everyone"
        );
    }

    #[test]
    fn help_lists_exactly_the_registered_commands_with_who_may_run_them() {
        // Paths are built here: poise fills `qualified_name` in only when the
        // framework starts.
        fn leaves(
            cmd: &poise::Command<Data, CommandError>,
            prefix: &str,
            out: &mut Vec<(String, bool)>,
        ) {
            let path = format!("{prefix}{}", cmd.name);
            if cmd.subcommands.is_empty() {
                // Admin commands say so in their description; /help must agree.
                let admin = cmd
                    .description
                    .as_deref()
                    .is_some_and(|d| d.ends_with("(Manage Server)"));
                out.push((path.clone(), admin));
            }
            for sub in &cmd.subcommands {
                leaves(sub, &format!("{path} "), out);
            }
        }
        let mut registered = Vec::new();
        all().iter().for_each(|c| leaves(c, "", &mut registered));
        registered.sort();
        let mut listed: Vec<(String, bool)> = prepbot_core::command_rules::COMMANDS
            .iter()
            .map(|c| {
                (
                    c.path.to_string(),
                    c.who == prepbot_core::command_rules::Who::Admin,
                )
            })
            .collect();
        listed.sort();
        assert_eq!(registered, listed);
        let text = help::text();
        for c in prepbot_core::command_rules::COMMANDS {
            assert!(text.contains(&format!("`/{}`", c.path)), "{}", c.path);
        }
        assert!(text.chars().count() <= 2000, "one Discord message");
    }

    #[test]
    fn choices_rank_prefixes_first_and_cap_at_25() {
        let names = [
            "Europe/London",
            "America/New_York",
            "Europe/Lisbon",
            "Asia/Kolkata",
        ];
        assert_eq!(choices(names.into_iter(), "lon"), ["Europe/London"]);
        assert_eq!(
            choices(names.into_iter(), "eu"),
            ["Europe/London", "Europe/Lisbon"]
        );
        assert_eq!(choices(names.into_iter(), "YORK"), ["America/New_York"]);
        let many: Vec<String> = (0..100).map(|i| format!("zone{i}")).collect();
        assert_eq!(choices(many.iter().map(String::as_str), "").len(), 25);
    }
}
