//! `/forget me|member`: deleting a member's stored answers and streaks in this
//! server. Anyone may forget themselves; forgetting someone else (a member who left)
//! needs Manage Server. Both only count until run again with `confirm:True`. The
//! rules, the scope and the tombstone that keeps catching up from bringing the
//! answers back are the core's ([`prepbot_core::practice::Practice::forget_member`]).

use poise::CreateReply;

use crate::errors::{guild_id, require_admin};
use crate::{CommandError, Context};
use prepbot_core::chat::Platform;
use prepbot_core::command_rules::member_id_from_text;
use prepbot_core::practice::Forgotten;

/// Delete stored answers and streaks in this server
#[poise::command(
    slash_command,
    guild_only,
    subcommands("me", "member"),
    subcommand_required
)]
pub async fn forget(_ctx: Context<'_>) -> Result<(), CommandError> {
    Ok(())
}

/// Delete your own stored answers and streaks in this server (asks to confirm)
#[poise::command(slash_command, guild_only)]
pub async fn me(
    ctx: Context<'_>,
    #[description = "True to delete them; without it, the bot says what would go"] confirm: Option<
        bool,
    >,
) -> Result<(), CommandError> {
    let me = ctx.author().id.get().to_string();
    let done = run(ctx, &me, confirm.unwrap_or(false)).await?;
    let text = if done.done {
        format!(
            "Done: {} deleted. Messages you post from now on are stored as usual; reveals already posted stay as they are.",
            done.counts()
        )
    } else if done.nothing() {
        "The bot stores no answers or streaks of yours in this server.".to_string()
    } else {
        format!(
            "This deletes {} for good. Run `/forget me confirm:True` to do it.",
            done.counts()
        )
    };
    ctx.send(CreateReply::default().content(text).ephemeral(true))
        .await?;
    Ok(())
}

/// Delete a member's stored answers and streaks, e.g. after they left (Manage Server)
#[poise::command(slash_command, guild_only)]
pub async fn member(
    ctx: Context<'_>,
    #[description = "The member's id (or mention); a member who left can be named by id"]
    member: String,
    #[description = "True to delete them; without it, the bot says what would go"] confirm: Option<
        bool,
    >,
) -> Result<(), CommandError> {
    require_admin(ctx)?;
    let member = member_id_from_text(&member).map_err(|r| CommandError::user(r.0))?;
    let done = run(ctx, &member, confirm.unwrap_or(false)).await?;
    // The member by id only: a mention would render as a name (and never pings, as
    // nothing the bot sends does), but an id is what the admin typed.
    let text = if done.done {
        format!("Done: {} of member {member} deleted.", done.counts())
    } else if done.nothing() {
        format!("The bot stores no answers or streaks of member {member} in this server.")
    } else {
        format!(
            "This deletes {} of member {member} for good. Run `/forget member member:{member} confirm:True` to do it.",
            done.counts()
        )
    };
    ctx.send(CreateReply::default().content(text).ephemeral(true))
        .await?;
    Ok(())
}

async fn run(ctx: Context<'_>, member: &str, confirmed: bool) -> Result<Forgotten, CommandError> {
    let guild = guild_id(ctx)?.to_string();
    ctx.defer_ephemeral().await?;
    let data = ctx.data();
    Ok(data
        .practice
        .forget_member(
            Platform::Discord,
            &guild,
            member,
            &ctx.author().id.get().to_string(),
            confirmed,
            data.clock.now(),
        )
        .await?)
}
