//! Scenario `slack`: one `prepbot run` process serving both platforms (the fake
//! Discord's gateway and the fake Slack's Socket Mode), its resident memory after
//! startup and after a burst of `--answers` Slack answers, and the burst's rate
//! into committed storage. The bot is its own process, so unlike
//! `cargo bench -p prepbot-slack --bench socket_load` (in-process) the figures
//! leave the fakes out.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use serde_json::json;

use crate::bot::{self, Proc, Traffic};
use crate::report::{MemoryRow, Section, Table, count, median, memory_rows, verdict};
use crate::{Options, Outcome, prepare};
use prepbot_fake_discord::FakeDiscord;
use prepbot_fake_slack::{ADMIN, APP_TOKEN, BOT_TOKEN, CHANNEL, CREATOR, FakeSlack};

/// The budget for the bot with both adapters after the ingestion run.
const BUDGET_KB: u64 = 60 * 1024;
const SETTLE: Duration = Duration::from_secs(3);
const WAIT: Duration = Duration::from_secs(60);

struct Run {
    startup: u64,
    ingested: u64,
    hwm: u64,
    per_second: f64,
}

/// A Slack command as an admin, waiting for its answer through `response_url`.
async fn command(fake: &FakeSlack, bot: &mut Proc, who: &str, text: &str) -> anyhow::Result<()> {
    let before = fake.calls_of("response_url").len();
    fake.command(CHANNEL, who, text);
    let deadline = Instant::now() + WAIT;
    while fake.calls_of("response_url").len() <= before {
        bot.check_alive()?;
        if Instant::now() > deadline {
            bail!(
                "no answer to `/prep {text}`; the log ends:\n{}",
                bot.log_tail(20)
            );
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(())
}

async fn run_once(o: &Options) -> anyhow::Result<Run> {
    let dir = prepare::run_dir()?;
    let db = dir.path().join("bot.db");
    let discord = FakeDiscord::start(Arc::new(prepbot_core::clock::SystemClock)).await;
    let traffic = Traffic::watch(&discord, |_| {});
    let slack = FakeSlack::start().await;

    let mut env = bot::bot_env(&discord, Some(&db), &prepare::shipped_questions());
    env.extend([
        ("SLACK_BOT_TOKEN", BOT_TOKEN.to_string()),
        ("SLACK_APP_TOKEN", APP_TOKEN.to_string()),
        ("PREPBOT_SLACK_API_BASE", slack.api_base()),
    ]);
    let mut bot = Proc::spawn(
        &bot::prepbot_bin(),
        &["run"],
        &env,
        &dir.path().join("bot.log"),
    )?;
    bot::ready(&discord, &traffic, &mut bot, Duration::from_millis(1000)).await?;
    let deadline = Instant::now() + WAIT;
    while slack.open_sockets() == 0 {
        bot.check_alive()?;
        if Instant::now() > deadline {
            bail!(
                "no Socket Mode session; the log ends:\n{}",
                bot.log_tail(20)
            );
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    command(&slack, &mut bot, CREATOR, "setup 09:00 UTC").await?;
    command(&slack, &mut bot, ADMIN, "drop").await?;
    let thread = slack
        .top_level_posts(CHANNEL)
        .first()
        .and_then(|d| d["ts"].as_str().map(String::from))
        .context("the drop was not posted")?;
    tokio::time::sleep(SETTLE).await;
    let startup = bot.rss_kb();

    eprintln!("slack: {} answers through Socket Mode", o.answers);
    let started = Instant::now();
    for i in 0..o.answers {
        let ts = slack.next_ts();
        slack.message_event(json!({"type": "message", "channel": CHANNEL,
            "user": format!("U{:07}", i % 500), "text": format!("answer {i}"),
            "ts": ts, "thread_ts": thread}));
    }
    let store = prepbot_core::store::Store::open_path(&db).await?;
    loop {
        let mut conn = store.read().await?;
        let stored = prepbot_core::store::answers::for_drop(&mut conn, 1)
            .await?
            .len();
        drop(conn);
        if stored >= o.answers {
            break;
        }
        bot.check_alive()?;
        if started.elapsed() > Duration::from_secs(300) {
            bail!("only {stored} of {} answers stored", o.answers);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let per_second = o.answers as f64 / started.elapsed().as_secs_f64();
    store.close().await;
    tokio::time::sleep(SETTLE).await;
    let ingested = bot.rss_kb();
    let hwm = bot.hwm_kb();
    bot.check_alive()?;
    bot.stop().await;
    Ok(Run {
        startup,
        ingested,
        hwm,
        per_second,
    })
}

pub async fn run(o: &Options) -> Outcome {
    let mut runs = Vec::new();
    for r in 0..o.runs {
        eprintln!("slack run {}/{}", r + 1, o.runs);
        runs.push(run_once(o).await.context("slack run")?);
    }
    let mut section = Section::new("Load: both platforms, Slack ingestion and memory");
    let mut t = Table::new(&["bot", "median", "each run", "budget", "verdict"]);
    let rows: [MemoryRow<Run>; 3] = [
        (
            "VmRSS after startup (one open Slack drop)",
            |r| r.startup,
            false,
        ),
        (
            "VmRSS after the Slack ingestion burst",
            |r| r.ingested,
            true,
        ),
        ("peak (VmHWM)", |r| r.hwm, false),
    ];
    memory_rows(&mut t, &runs, &rows, BUDGET_KB);
    let rates: Vec<f64> = runs.iter().map(|r| r.per_second).collect();
    let rate = median(&rates);
    t.row(vec![
        "Slack answers/s into committed storage".into(),
        count(rate),
        rates
            .iter()
            .map(|r| count(*r))
            .collect::<Vec<_>>()
            .join(", "),
        "≥ 5,000".into(),
        verdict(rate >= 5_000.0).into(),
    ]);
    section.tables.push(t);
    section.note(format!(
        "One `prepbot run` with DISCORD_TOKEN and both Slack tokens (the fake Discord's gateway connected, the fake Slack's Socket Mode session open); `/prep setup` and `/prep drop` in one Slack channel, then {} message events written back to back into the drop's thread, timed until the last is committed; each memory figure sampled {} s after its phase.",
        count(o.answers as f64),
        SETTLE.as_secs()
    ));
    Ok(section)
}
