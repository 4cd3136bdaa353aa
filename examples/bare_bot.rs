//! The load harness's baseline (`benches/load.rs`): a bare poise bot that does no
//! work of its own. `/ping` answers at once; every member's message is only counted,
//! and when `BARE_BOT_EXPECT` of them have arrived it posts "done" where the last one
//! was, so the fake Discord can timestamp the end of a burst.
//!
//! It connects the way `prepbot run` does in proxy mode (`DISCORD_TOKEN`,
//! `PREPBOT_DISCORD_API_BASE`, `PREPBOT_DEV_GUILD`; serenity's ratelimiter off; the
//! same intents and HTTP timeout), so the difference between the two is prepbot's
//! own work. Build it with `cargo build --release --example bare_bot`; the harness
//! does that itself.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use anyhow::Context as _;
use poise::serenity_prelude as serenity;

struct Data {
    seen: AtomicUsize,
    expect: usize,
}

type Error = anyhow::Error;
type Context<'a> = poise::Context<'a, Data, Error>;

/// Answers at once
#[poise::command(slash_command)]
async fn ping(ctx: Context<'_>) -> Result<(), Error> {
    ctx.say("pong").await?;
    Ok(())
}

fn on_event<'a>(
    framework: poise::FrameworkContext<'a, Data, Error>,
    event: &'a serenity::FullEvent,
) -> poise::BoxFuture<'a, Result<(), Error>> {
    Box::pin(async move {
        if let serenity::FullEvent::Message { new_message } = event {
            let data = framework.user_data;
            if !new_message.author.bot
                && data.seen.fetch_add(1, Ordering::SeqCst) + 1 == data.expect
            {
                new_message
                    .channel_id
                    .say(&framework.serenity_context.http, "done")
                    .await?;
            }
        }
        Ok(())
    })
}

fn var(name: &str) -> anyhow::Result<String> {
    std::env::var(name).with_context(|| format!("{name} is not set"))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let token = var("DISCORD_TOKEN")?;
    let base = var("PREPBOT_DISCORD_API_BASE")?;
    let guild: u64 = var("PREPBOT_DEV_GUILD")?
        .parse()
        .context("PREPBOT_DEV_GUILD is a server id")?;
    let expect = std::env::var("BARE_BOT_EXPECT")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(usize::MAX);

    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(15))
        .build()?;
    let http = serenity::HttpBuilder::new(&token)
        .client(client)
        .proxy(base)
        .ratelimiter_disabled(true)
        .build();
    let framework = poise::Framework::builder()
        .options(poise::FrameworkOptions {
            commands: vec![ping()],
            event_handler: on_event,
            ..Default::default()
        })
        .initialize_owners(false)
        .setup(move |ctx, _ready, framework| {
            Box::pin(async move {
                poise::builtins::register_in_guild(
                    ctx,
                    &framework.options().commands,
                    serenity::GuildId::new(guild),
                )
                .await?;
                Ok(Data {
                    seen: AtomicUsize::new(0),
                    expect,
                })
            })
        })
        .build();
    let intents = serenity::GatewayIntents::GUILDS
        | serenity::GatewayIntents::GUILD_MESSAGES
        | serenity::GatewayIntents::MESSAGE_CONTENT;
    let mut client = serenity::ClientBuilder::new_with_http(http, intents)
        .framework(framework)
        .await?;
    // The harness ends it with SIGTERM or SIGKILL; nothing needs a graceful stop.
    client.start().await?;
    Ok(())
}
