//! `/schedule show|pause|resume|remove`. The parent stays visible to everyone
//! because `show` is for everyone; `pause`, `resume` and `remove` check Manage
//! Server themselves.

use poise::CreateReply;

use crate::errors::require_admin;
use crate::limit::{Replies, lookup, private};
use crate::render::{full_time, message_link, relative_time};
use crate::{CommandError, Context};
use prepbot_core::practice::{History, PracticeError};

/// See or change this channel's practice schedule
#[poise::command(
    slash_command,
    guild_only,
    subcommands("show", "pause", "resume", "remove"),
    subcommand_required
)]
pub async fn schedule(_ctx: Context<'_>) -> Result<(), CommandError> {
    Ok(())
}

/// Show this channel's schedule, next drop and open drop
#[poise::command(slash_command, guild_only)]
pub async fn show(ctx: Context<'_>) -> Result<(), CommandError> {
    lookup(ctx, show_replies(ctx)).await
}

async fn show_replies(ctx: Context<'_>) -> Result<Replies, CommandError> {
    let data = ctx.data();
    let now = data.clock.now();
    let channel_id = super::home_channel(ctx);
    let Some(view) = data
        .practice
        .schedule_view_at(&super::home_address(ctx), now)
        .await?
    else {
        return Err(PracticeError::NotConfigured.into());
    };
    let channel = &view.channel;
    let s = &channel.schedule;
    let mut text = format!(
        "This channel: {} at {} {}, reveal {} h after each drop, {}.",
        s.days,
        s.time.format("%H:%M"),
        s.zone.name(),
        s.reveal_after_hours,
        s.pool
    );
    match &view.next_drop {
        Some(next) => text.push_str(&format!(
            "\nNext drop: {} ({}).",
            full_time(next.drop_at),
            relative_time(next.drop_at)
        )),
        None => text.push_str("\nPaused: no drops until someone runs /schedule resume."),
    }
    if let Some(open) = &view.open {
        let guild = super::snowflake(&channel.address.workspace);
        let link = open
            .message_id
            .as_deref()
            .map(|m| message_link(guild, channel_id, super::snowflake(m)))
            .unwrap_or_default();
        text.push_str(&format!(
            "\nOpen: drop #{} {link}, revealed {}.",
            open.seq.unwrap_or(0),
            relative_time(open.reveal_due_at)
        ));
    }
    if let Some(reason) = &channel.pause_reason {
        text.push_str(&format!(
            "\nPaused by the bot: {}.",
            mention_channel(reason, channel_id)
        ));
    }
    if let Some(failed) = view.failed_drop() {
        text.push_str(&format!(
            "\nLast drop failed ({}): {}.",
            relative_time(failed.due_at),
            mention_channel(failed.failure.as_deref().unwrap_or_default(), channel_id)
                .trim_end_matches('.')
        ));
    }
    private(text)
}

/// Pause this channel's drops (Manage Server)
#[poise::command(slash_command, guild_only)]
pub async fn pause(ctx: Context<'_>) -> Result<(), CommandError> {
    require_admin(ctx)?;
    ctx.defer_ephemeral().await?;
    let data = ctx.data();
    let Some(channel) = super::home_schedule(ctx).await? else {
        return Err(PracticeError::NotConfigured.into());
    };
    data.practice
        .set_paused(channel.key, true, data.clock.now())
        .await?;
    data.wake.notify_one();
    let text = "Paused: no new drops here until /schedule resume. An open drop is still revealed on time, and nobody's streak breaks while paused.";
    ctx.send(CreateReply::default().content(text).ephemeral(true))
        .await?;
    Ok(())
}

/// Resume this channel's drops (Manage Server)
#[poise::command(slash_command, guild_only)]
pub async fn resume(ctx: Context<'_>) -> Result<(), CommandError> {
    require_admin(ctx)?;
    ctx.defer_ephemeral().await?;
    let data = ctx.data();
    let now = data.clock.now();
    let Some(channel) = super::home_schedule(ctx).await? else {
        return Err(PracticeError::NotConfigured.into());
    };
    let channel = data.practice.set_paused(channel.key, false, now).await?;
    data.wake.notify_one();
    let next = data.practice.next_drop(&channel, now).await?;
    let text = match next {
        Some(next) => format!(
            "Resumed. Next drop: {} ({}).",
            full_time(next.drop_at),
            relative_time(next.drop_at)
        ),
        None => "Resumed.".to_string(),
    };
    ctx.send(CreateReply::default().content(text).ephemeral(true))
        .await?;
    Ok(())
}

/// Whether `/schedule remove` keeps the channel's history.
#[derive(Debug, Clone, Copy, PartialEq, Eq, poise::ChoiceParameter)]
pub enum HistoryChoice {
    #[name = "keep"]
    Keep,
    #[name = "delete"]
    Delete,
}

/// Remove this channel's schedule, keeping or deleting its history (Manage Server)
#[poise::command(slash_command, guild_only)]
pub async fn remove(
    ctx: Context<'_>,
    #[description = "keep: drops, answers and streaks stay for a later /setup here; delete: all of them go"]
    history: HistoryChoice,
    #[description = "True to remove it; without it, the bot says what would go"] confirm: Option<
        bool,
    >,
) -> Result<(), CommandError> {
    require_admin(ctx)?;
    ctx.defer_ephemeral().await?;
    let data = ctx.data();
    let Some(channel) = super::home_schedule(ctx).await? else {
        return Err(PracticeError::NotConfigured.into());
    };
    let history = match history {
        HistoryChoice::Keep => History::Keep,
        HistoryChoice::Delete => History::Delete,
    };
    let removal = data
        .practice
        .remove_schedule(
            channel.key,
            history,
            confirm.unwrap_or(false),
            &ctx.author().id.get().to_string(),
            data.clock.now(),
        )
        .await?;
    data.wake.notify_one();
    let counts = removal.counts();
    let text = match (removal.done, history) {
        (false, History::Keep) => format!(
            "This removes the schedule: no more drops here. Its history ({counts}) is kept, and a later /setup here carries on from it. Run `/schedule remove history:keep confirm:True` to remove it."
        ),
        (false, History::Delete) => format!(
            "This removes the schedule and deletes its history for good: {counts}, and every streak here. Run `/schedule remove history:delete confirm:True` to do it."
        ),
        (true, History::Keep) => format!(
            "Removed: no more drops here. The history ({counts}) is kept; an open drop is still revealed on time. /setup here starts again from it."
        ),
        (true, History::Delete) => format!(
            "Removed, with its history: {counts} deleted. Threads already posted stay in the channel."
        ),
    };
    ctx.send(CreateReply::default().content(text).ephemeral(true))
        .await?;
    Ok(())
}

/// Stored reasons name "the channel" in plain words (they are shown by `prepbot status`
/// and on every platform); on Discord the channel is named by its mention, as members
/// see it.
fn mention_channel(reason: &str, channel_id: u64) -> String {
    let mention = format!("<#{channel_id}>");
    reason
        .replacen("post in the channel", &format!("post in {mention}"), 1)
        .replacen(
            "the channel no longer",
            &format!("the channel {mention} no longer"),
            1,
        )
}

#[cfg(test)]
mod tests {
    #[test]
    fn stored_reasons_name_the_channel_by_its_mention() {
        assert_eq!(
            super::mention_channel(
                "the bot lacks permission to post in the channel: it needs",
                42
            ),
            "the bot lacks permission to post in <#42>: it needs"
        );
        assert_eq!(
            super::mention_channel(
                "the channel no longer exists (Discord: Unknown Channel)",
                42
            ),
            "the channel <#42> no longer exists (Discord: Unknown Channel)"
        );
    }
}
