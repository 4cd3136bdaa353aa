//! `/streak` and `/leaderboard`: per-channel streaks.

use poise::CreateReply;
use poise::serenity_prelude as serenity;

use crate::limit::{Replies, lookup};
use crate::render::escape_markdown;
use crate::render::relative_time;
use crate::{CommandError, Context};

/// A member's streak in this channel
#[poise::command(slash_command, guild_only)]
pub async fn streak(
    ctx: Context<'_>,
    #[description = "Whose streak (default: yours)"] member: Option<serenity::User>,
) -> Result<(), CommandError> {
    lookup(ctx, streak_replies(ctx, member)).await
}

async fn streak_replies(
    ctx: Context<'_>,
    member: Option<serenity::User>,
) -> Result<Replies, CommandError> {
    let user = member.as_ref().unwrap_or_else(|| ctx.author());
    let name = user
        .global_name
        .clone()
        .unwrap_or_else(|| user.name.clone());
    let name = escape_markdown(&name);
    // A channel without a schedule has no streaks: the same answer as no answers.
    let view = ctx
        .data()
        .practice
        .streak_at(&super::home_address(ctx), &user.id.get().to_string())
        .await?
        .and_then(|(_, view)| view);
    let text = match view {
        Some(s) => format!(
            "**{name}**: current streak {}, best {}, {} on-time answer{} in this channel, last {}.",
            s.current,
            s.best,
            s.total_on_time,
            if s.total_on_time == 1 { "" } else { "s" },
            relative_time(s.last_answered_at)
        ),
        None => format!("**{name}** has not answered a drop on time in this channel yet."),
    };
    Ok(vec![CreateReply::default().content(text)])
}

/// The top 10 of this channel by current streak, then on-time answers
#[poise::command(slash_command, guild_only)]
pub async fn leaderboard(ctx: Context<'_>) -> Result<(), CommandError> {
    lookup(ctx, leaderboard_replies(ctx)).await
}

async fn leaderboard_replies(ctx: Context<'_>) -> Result<Replies, CommandError> {
    let rows = ctx
        .data()
        .practice
        .leaderboard_at(&super::home_address(ctx), 10)
        .await?
        .map(|(_, rows)| rows)
        .unwrap_or_default();
    if rows.is_empty() {
        return Ok(vec![CreateReply::default().content(
            "Nobody has answered a drop on time in this channel yet.",
        )]);
    }
    let mut text = String::from("**Leaderboard** (current streak, best, on-time answers)\n");
    for (i, r) in rows.iter().enumerate() {
        text.push_str(&format!(
            "{}. {}: {} (best {}, {} on time)\n",
            i + 1,
            escape_markdown(&r.member_name),
            r.current,
            r.best,
            r.total_on_time
        ));
    }
    Ok(vec![
        CreateReply::default().content(text.trim_end().to_string()),
    ])
}
