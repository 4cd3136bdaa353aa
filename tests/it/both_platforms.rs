//! `prepbot run` with Discord and Slack configured: one process, one scheduler. A
//! Discord channel and a Slack channel due the same minute both get their drop, in
//! one scheduler pass.

use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use chrono::{Timelike, Utc};
use prepbot_fake_discord::fixtures::*;
use prepbot_fake_discord::{CHANNEL_A, FakeDiscord, GUILD_A};
use prepbot_fake_slack::{APP_TOKEN, BOT_TOKEN, CHANNEL, CREATOR, FakeSlack};
use serde_json::json;

const DISCORD_TOKEN: &str = "MTIzNDU2Nzg5.both-test.TOKEN-do-not-log";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_discord_and_a_slack_channel_due_the_same_minute_are_both_posted_by_one_scheduler() {
    let discord = FakeDiscord::start(Arc::new(prepbot_core::clock::SystemClock)).await;
    let slack = FakeSlack::start().await;
    let dir = tempfile::tempdir().unwrap();
    let log_path = dir.path().join("bot.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_prepbot"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .arg("run")
        .env("DISCORD_TOKEN", DISCORD_TOKEN)
        .env("PREPBOT_DISCORD_API_BASE", discord.base())
        .env("PREPBOT_DEV_GUILD", GUILD_A.to_string())
        .env("SLACK_BOT_TOKEN", BOT_TOKEN)
        .env("SLACK_APP_TOKEN", APP_TOKEN)
        .env("PREPBOT_SLACK_API_BASE", slack.api_base())
        .env(
            "PREPBOT_DATABASE_URL",
            format!("sqlite://{}", dir.path().join("bot.db").display()),
        )
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::from(log))
        .spawn()
        .unwrap();
    let wait = Duration::from_secs(30);
    discord
        .wait_for("commands", wait, |r| r.path.ends_with("/commands"))
        .await;
    slack
        .wait_until("a Socket Mode session", wait, |f| f.open_sockets() == 1)
        .await;

    // The next whole minute, at least 15 s away, in UTC on both.
    let mut at = Utc::now() + chrono::Duration::seconds(60);
    if at.second() > 45 {
        at += chrono::Duration::seconds(20);
    }
    let hhmm = at.format("%H:%M").to_string();
    let by = Person::admin(1, "Ada");
    discord.dispatch(
        "INTERACTION_CREATE",
        slash(
            discord.snowflake(),
            "tok-both",
            "setup",
            vec![opt("time", json!(hhmm)), opt("timezone", json!("UTC"))],
            &by,
            CHANNEL_A,
        ),
    );
    discord
        .wait_for("the Discord setup", wait, |r| r.path.ends_with("/tok-both"))
        .await;
    slack.command(CHANNEL, CREATOR, &format!("setup {hhmm} UTC"));
    slack
        .wait_until("the Slack setup", wait, |f| {
            f.calls_of("response_url").iter().any(|b| {
                b["text"]
                    .as_str()
                    .is_some_and(|t| t.starts_with("Scheduled"))
            })
        })
        .await;

    discord
        .wait_for("the Discord drop", Duration::from_secs(100), |r| {
            r.method == "POST" && r.path == format!("/api/v10/channels/{CHANNEL_A}/messages")
        })
        .await;
    slack
        .wait_until("the Slack drop", wait, |f| {
            !f.top_level_posts(CHANNEL).is_empty()
        })
        .await;
    assert_eq!(slack.top_level_posts(CHANNEL).len(), 1);

    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status();
    let status = tokio::task::spawn_blocking(move || child.wait().unwrap())
        .await
        .unwrap();
    let logs = std::fs::read_to_string(&log_path).unwrap();
    assert!(status.success(), "{logs}");
    // One scheduler: one pass posted both drops.
    assert!(logs.contains("posted=2"), "{logs}");
    assert!(
        !logs.contains(DISCORD_TOKEN) && !logs.contains(BOT_TOKEN) && !logs.contains(APP_TOKEN)
    );
}
