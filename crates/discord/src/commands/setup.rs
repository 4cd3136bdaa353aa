//! `/setup`: a channel's schedule.

use poise::CreateReply;
use poise::serenity_prelude::CreateAutocompleteResponse;

use super::{DifficultyChoice, autocomplete_response, autocomplete_topic, choices};
use crate::errors::{guild_id, require_admin};
use crate::render::{full_time, relative_time};
use crate::{CommandError, Context};
use prepbot_core::command_rules::{ScheduleInput, check_schedule};
use prepbot_core::mix::mix64;
use prepbot_core::practice::ChannelSetup;

/// Zones offered before anything is typed.
const COMMON_ZONES: [&str; 12] = [
    "UTC",
    "Europe/London",
    "Europe/Berlin",
    "Europe/Paris",
    "America/New_York",
    "America/Chicago",
    "America/Los_Angeles",
    "America/Sao_Paulo",
    "Asia/Kolkata",
    "Asia/Singapore",
    "Asia/Tokyo",
    "Australia/Sydney",
];

async fn autocomplete_zone(_ctx: Context<'_>, partial: &str) -> CreateAutocompleteResponse {
    if partial.trim().is_empty() {
        return autocomplete_response(COMMON_ZONES.iter().map(|z| z.to_string()).collect());
    }
    autocomplete_response(choices(
        chrono_tz::TZ_VARIANTS.iter().map(|tz| tz.name()),
        partial,
    ))
}

async fn autocomplete_days(_ctx: Context<'_>, partial: &str) -> CreateAutocompleteResponse {
    let options = ["daily", "weekdays", "mon,wed,fri", "tue,thu"];
    autocomplete_response(choices(options.into_iter(), partial))
}

/// Set this channel's daily interview-practice schedule (Manage Server)
#[poise::command(slash_command, guild_only, default_member_permissions = "MANAGE_GUILD")]
pub async fn setup(
    ctx: Context<'_>,
    #[description = "Local drop time, 24-hour HH:MM, e.g. 09:30"]
    #[max_length = 16]
    time: String,
    #[description = "IANA time zone, e.g. Europe/London or America/New_York"]
    #[autocomplete = "autocomplete_zone"]
    #[max_length = 64]
    timezone: String,
    #[description = "Hours from the drop to the reveal, 1 to 168 (default 24)"]
    #[min = 1]
    #[max = 168]
    reveal_after: Option<i64>,
    #[description = "daily, weekdays, or days such as mon,wed,fri (default daily)"]
    #[autocomplete = "autocomplete_days"]
    #[max_length = 64]
    days: Option<String>,
    #[description = "Only questions of this topic (default: all)"]
    #[autocomplete = "autocomplete_topic"]
    #[max_length = 64]
    topic: Option<String>,
    #[description = "Only questions of this difficulty (default: all)"] difficulty: Option<
        DifficultyChoice,
    >,
) -> Result<(), CommandError> {
    require_admin(ctx)?;
    super::require_text_channel(ctx)?;
    let guild = guild_id(ctx)?;
    // Discord's client enforces min/max, but a crafted interaction does not: the
    // core checks all of it.
    let checked = check_schedule(
        &ScheduleInput {
            time: &time,
            zone: &timezone,
            reveal_after_hours: reveal_after,
            days: days.as_deref(),
            topic: topic.as_deref(),
            difficulty: difficulty.map(Into::into),
        },
        ctx.data().practice.bank(),
    )
    .map_err(|r| CommandError::user(r.0))?;
    // Input is valid; storing it may wait on a busy database, so answer Discord now.
    ctx.defer_ephemeral().await?;
    let data = ctx.data();
    let now = data.clock.now();
    let channel_id = ctx.channel_id().get();
    let seed = mix64(channel_id ^ now.timestamp_nanos_opt().unwrap_or_default() as u64);
    // The interaction carries the channel's name: stored so that `prepbot status`
    // names the channel as members see it.
    let name = match ctx {
        poise::Context::Application(a) => {
            a.interaction.channel.as_ref().and_then(|c| c.name.clone())
        }
        poise::Context::Prefix(_) => None,
    };
    let setup = ChannelSetup {
        address: prepbot_core::chat::ChannelAddress::new(
            prepbot_core::chat::Platform::Discord,
            guild.to_string(),
            channel_id.to_string(),
        ),
        name,
        time: checked.time,
        zone: checked.zone,
        days: checked.days,
        reveal_after_hours: checked.reveal_after_hours,
        pool: checked.pool,
    };
    let (channel, next) = data.practice.setup_channel(setup, seed, now).await?;
    data.wake.notify_one();
    let s = &channel.schedule;
    let text = format!(
        "Scheduled: {} at {} {}, reveal {} h after each drop, {}.\nNext drop: {} ({}).",
        s.days,
        s.time.format("%H:%M"),
        s.zone.name(),
        s.reveal_after_hours,
        s.pool,
        full_time(next.drop_at),
        relative_time(next.drop_at)
    );
    ctx.send(CreateReply::default().content(text).ephemeral(true))
        .await?;
    Ok(())
}
