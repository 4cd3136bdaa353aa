//! `/drop` and `/reveal`: the scheduled steps, on demand. Both acknowledge first
//! (deferred, ephemeral) and post afterwards, so Discord's 3-second window is never
//! at risk however slow the posting is.

use poise::CreateReply;

use crate::errors::{guild_id, require_admin};
use crate::render::{channel_link, message_link, relative_time};
use crate::{CommandError, Context};
use prepbot_core::engine::DropState;
use prepbot_core::practice::PracticeError;
use prepbot_core::scheduler;

/// Post today's drop in this channel now (Manage Server)
#[poise::command(
    slash_command,
    guild_only,
    rename = "drop",
    default_member_permissions = "MANAGE_GUILD"
)]
pub async fn drop_now(ctx: Context<'_>) -> Result<(), CommandError> {
    require_admin(ctx)?;
    let guild = guild_id(ctx)?;
    ctx.defer_ephemeral().await?;
    let data = ctx.data();
    let channel_id = super::home_channel(ctx);
    let Some(channel) = super::home_schedule(ctx).await? else {
        return Err(PracticeError::NotConfigured.into());
    };
    let now = data.clock.now();
    let result = scheduler::drop_now(&data.practice, &data.outbound, channel.key, now).await;
    data.wake.notify_one();
    let text = match result {
        Ok(d) => format!(
            "Posted drop #{}: {}. It is revealed {}; the schedule then carries on from the next scheduled day.",
            d.seq.unwrap_or(0),
            message_link(
                guild,
                channel_id,
                super::snowflake(d.message_id.as_deref().unwrap_or_default())
            ),
            relative_time(d.reveal_due_at)
        ),
        Err(PracticeError::AlreadyOut(d)) => match (d.state, d.message_id.as_deref()) {
            (DropState::Claimed, _) | (_, None) => {
                "Today's drop is being posted right now.".to_string()
            }
            (_, Some(m)) => format!(
                "Today's drop is already out: {}. Nothing was posted.",
                message_link(guild, channel_id, super::snowflake(m))
            ),
        },
        Err(e) => return Err(e.into()),
    };
    ctx.send(CreateReply::default().content(text).ephemeral(true))
        .await?;
    Ok(())
}

/// Reveal this channel's open drop now (Manage Server)
#[poise::command(slash_command, guild_only, default_member_permissions = "MANAGE_GUILD")]
pub async fn reveal(ctx: Context<'_>) -> Result<(), CommandError> {
    require_admin(ctx)?;
    let guild = guild_id(ctx)?;
    ctx.defer_ephemeral().await?;
    let data = ctx.data();
    let channel_id = super::home_channel(ctx);
    let open = match super::home_schedule(ctx).await? {
        Some(channel) => data.practice.open_drop(channel.key).await?,
        None => None,
    };
    let Some(open) = open else {
        return Err(CommandError::user("No drop is open in this channel."));
    };
    let now = data.clock.now();
    let revealed = scheduler::reveal_one(&data.practice, &data.outbound, open.id, now).await?;
    data.wake.notify_one();
    let text = match revealed {
        Some(d) => format!(
            "Revealed drop #{} in {}.",
            d.seq.unwrap_or(0),
            channel_link(
                guild,
                d.thread_id.as_deref().map_or(channel_id, super::snowflake)
            )
        ),
        None => "The reveal could not be posted just now (Discord refused it, or it is already being posted); it is retried automatically.".to_string(),
    };
    ctx.send(CreateReply::default().content(text).ephemeral(true))
        .await?;
    Ok(())
}
