//! Two tiers of command errors. A [`CommandError::User`] is the user's to fix and is
//! shown to them, ephemerally, as is. Anything else is ours: the user sees a short
//! generic line and the log gets the details with the command and ids. This replaces
//! poise's default `on_error`, which sends `error.to_string()` to users and leaves
//! failed checks unanswered.

use poise::serenity_prelude as serenity;
use poise::{CreateReply, FrameworkError};
use prepbot_core::chat::Platform;
use prepbot_core::command_rules::{self, Role};
use tracing::{error, warn};

use super::{Context, Data};
use prepbot_core::practice::PracticeError;

#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    /// Shown to the user as is.
    #[error("{0}")]
    User(String),
    /// Logged; the user sees a generic message.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl CommandError {
    pub fn user(msg: impl Into<String>) -> Self {
        CommandError::User(msg.into())
    }
}

impl From<PracticeError> for CommandError {
    fn from(e: PracticeError) -> Self {
        if e.is_unavailable() {
            // The member is told to try again; the operator sees why.
            let cause = std::error::Error::source(&e).map(ToString::to_string);
            warn!(cause, "a command could not reach the database");
        }
        if e.is_user_error() {
            CommandError::User(e.to_string())
        } else {
            CommandError::Internal(e.into())
        }
    }
}

impl From<serenity::Error> for CommandError {
    fn from(e: serenity::Error) -> Self {
        CommandError::Internal(anyhow::anyhow!(describe_serenity(&e)))
    }
}

/// A serenity error in words, without anything that could carry a secret (serenity
/// never puts the token in an error, but HTTP errors may carry URLs with webhook
/// tokens, which are secrets too).
pub fn describe_serenity(e: &serenity::Error) -> String {
    match e {
        serenity::Error::Http(serenity::HttpError::UnsuccessfulRequest(r)) => format!(
            "HTTP {} on {} {}: {}",
            r.status_code.as_u16(),
            r.method,
            redact_webhook_token(&r.url),
            r.error.message
        ),
        other => redact_webhook_token(&other.to_string()),
    }
}

/// Interaction and webhook URLs end in a token; cut it off.
fn redact_webhook_token(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest
        .find("/webhooks/")
        .or_else(|| rest.find("/interactions/"))
    {
        let (head, tail) = rest.split_at(i);
        out.push_str(head);
        // Keep "/webhooks/<id>/" or "/interactions/<id>/", drop the token after it.
        let mut parts = tail.splitn(4, '/');
        let (_, kind, id) = (
            parts.next(),
            parts.next().unwrap_or(""),
            parts.next().unwrap_or(""),
        );
        out.push_str(&format!("/{kind}/{id}/***"));
        rest = parts
            .next()
            .and_then(|t| t.find(['/', ' ', '?']).map(|j| &t[j..]))
            .unwrap_or("");
    }
    out.push_str(rest);
    out
}

/// Manage Server (or Administrator), checked on our side from the interaction's
/// member permissions: Discord's `default_member_permissions` only hides commands,
/// and a server admin can change it; a crafted interaction ignores it entirely.
pub fn require_admin(ctx: Context<'_>) -> Result<(), CommandError> {
    let poise::Context::Application(actx) = ctx else {
        return Err(CommandError::user(
            "This command works only as a slash command.",
        ));
    };
    let Some(member) = actx.interaction.member.as_ref() else {
        return Err(CommandError::user(
            "This command works only in a server channel.",
        ));
    };
    // The adapter reports the roles; the policy is the core's.
    let roles: Vec<Role> = member
        .permissions
        .filter(|p| {
            p.contains(serenity::Permissions::MANAGE_GUILD)
                || p.contains(serenity::Permissions::ADMINISTRATOR)
        })
        .map(|_| Role::WorkspaceAdmin)
        .into_iter()
        .collect();
    command_rules::require_admin(Platform::Discord, &roles).map_err(|r| CommandError::user(r.0))
}

/// The guild a command runs in, or a user error in DMs.
pub fn guild_id(ctx: Context<'_>) -> Result<u64, CommandError> {
    ctx.guild_id()
        .map(|g| g.get())
        .ok_or_else(|| CommandError::user("This command works only in a server channel."))
}

const GENERIC: &str =
    "Something went wrong on our side; it has been logged. Please try again in a minute.";

async fn tell(ctx: Context<'_>, text: &str) {
    // Serenity refuses a reply over Discord's limit before sending it, which would
    // leave the user with "the application did not respond".
    let text = super::render::truncate(text, super::render::CONTENT_LIMIT);
    let reply = CreateReply::default().content(text).ephemeral(true);
    if let Err(e) = ctx.send(reply).await {
        warn!(error = %describe_serenity(&e), command = %ctx.command().qualified_name, "could not send an error reply");
    }
}

fn log_internal(ctx: Context<'_>, what: &str, error: &dyn std::fmt::Display) {
    error!(
        command = %ctx.command().qualified_name,
        guild = ctx.guild_id().map(|g| g.get()),
        channel = ctx.channel_id().get(),
        user = ctx.author().id.get(),
        error = %error,
        "{what}"
    );
}

/// poise's `on_error` hook.
pub fn on_error(err: FrameworkError<'_, Data, CommandError>) -> poise::BoxFuture<'_, ()> {
    Box::pin(handle(err))
}

async fn handle(err: FrameworkError<'_, Data, CommandError>) {
    match err {
        // The runner's setup closure reports its failure itself (so the process
        // exits); this only logs it.
        FrameworkError::Setup { error, .. } => error!(error = %error, "startup failed"),
        FrameworkError::Command {
            error: CommandError::User(msg),
            ctx,
            ..
        } => tell(ctx, &msg).await,
        FrameworkError::Command {
            error: CommandError::Internal(e),
            ctx,
            ..
        } => {
            log_internal(ctx, "command failed", &format!("{e:#}"));
            tell(ctx, GENERIC).await;
        }
        FrameworkError::CommandCheckFailed { error, ctx, .. } => match error {
            Some(CommandError::User(msg)) => tell(ctx, &msg).await,
            Some(CommandError::Internal(e)) => {
                log_internal(ctx, "command check failed", &format!("{e:#}"));
                tell(ctx, GENERIC).await;
            }
            None => tell(ctx, "You can't use this command here.").await,
        },
        FrameworkError::ArgumentParse {
            error, input, ctx, ..
        } => {
            let what = match input {
                Some(input) => format!("`{input}` is not a valid value: {error}"),
                None => format!("Some options could not be read: {error}"),
            };
            tell(
                ctx,
                &format!("{what}. Use the command's options as Discord suggests them."),
            )
            .await;
        }
        FrameworkError::CommandStructureMismatch {
            description, ctx, ..
        } => {
            warn!(command = %ctx.command().qualified_name, description, "options that do not match the command (a crafted interaction, or registration lagging behind this build)");
            let reply = CreateReply::default()
                .content("Some options of this command could not be read; use the values Discord offers (if the bot was just updated, try again in a minute).")
                .ephemeral(true);
            let _ = poise::Context::Application(ctx).send(reply).await;
        }
        FrameworkError::GuildOnly { ctx, .. } => {
            tell(ctx, "This command works only in a server channel.").await
        }
        FrameworkError::MissingUserPermissions { ctx, .. } => {
            tell(ctx, "You don't have the permissions this command needs.").await
        }
        FrameworkError::MissingBotPermissions {
            missing_permissions,
            ctx,
            ..
        } => {
            tell(
                ctx,
                &format!("I am missing these permissions here: {missing_permissions}."),
            )
            .await
        }
        FrameworkError::CommandPanic { payload, ctx, .. } => {
            log_internal(ctx, "command panicked", &payload.unwrap_or_default());
            tell(ctx, GENERIC).await;
        }
        FrameworkError::EventHandler { error, event, .. } => {
            error!(error = %error, event = event.snake_case_name(), "event handler failed");
        }
        other => {
            if let Some(ctx) = other.ctx() {
                log_internal(ctx, "unexpected framework error", &other.to_string());
                tell(ctx, GENERIC).await;
            } else {
                warn!(error = %other, "framework error");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn webhook_and_interaction_tokens_are_cut_from_urls() {
        assert_eq!(
            redact_webhook_token(
                "PATCH http://x/api/v10/webhooks/42/aW50ZXJhY3Rpb24/messages/@original"
            ),
            "PATCH http://x/api/v10/webhooks/42/***/messages/@original"
        );
        assert_eq!(
            redact_webhook_token(
                "POST https://discord.com/api/v10/interactions/1/secret-token/callback failed"
            ),
            "POST https://discord.com/api/v10/interactions/1/***/callback failed"
        );
        assert_eq!(redact_webhook_token("no url here"), "no url here");
    }
}
