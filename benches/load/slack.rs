//! Scenario `slack`: one `prepbot run` process serving both platforms (the fake
//! Discord's gateway and the fake Slack's Socket Mode), its resident memory after
//! startup and after a burst of `--answers` Slack answers, and the burst's rate
//! into committed storage; and, before the burst, how fast its Slack lookups are
//! acknowledged next to a bare slack-morphism bot's (`examples/bare_slack_bot.rs`),
//! the two taking turns in the same run. The bots are their own processes, so
//! unlike `cargo bench -p prepbot-slack --bench socket_load` (everything in one
//! process and one runtime) the figures leave the fakes' work out of the bots'.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use serde_json::json;

use crate::bot::{self, Proc, Traffic};
use crate::report::{MemoryRow, Section, Table, count, median, memory_rows, percentile, verdict};
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
    /// Acknowledgement times, sorted: the bare bot's first, then each of [`LOOKUPS`].
    acks: Vec<Vec<Duration>>,
}

/// The lookups whose acknowledgement is timed: each answers in the ack's payload
/// after reading the channel (and what it shows) from the database.
const LOOKUPS: [&str; 3] = ["leaderboard", "today", "schedule"];

/// The budget: a lookup's ack p99 at most this many times the bare bot's.
const TIMES_BARE: f64 = 2.0;

/// One `/prep` command, by a member who has not used any before (each member's
/// command budget, 5 in 10 s, would refuse most of a run by one member): the time
/// from the envelope written by the fake to the ack read by it.
async fn ack_time(fake: &FakeSlack, member: &str, text: &str) -> anyhow::Result<Duration> {
    let sent = Instant::now();
    let id = fake.command(CHANNEL, member, text);
    let want = id.clone();
    fake.wait_until(&format!("the ack of `/prep {text}`"), WAIT, move |f| {
        f.ack_of(&want).is_some()
    })
    .await;
    let acked = fake.ack_time(&id).context("an ack without its time")?;
    Ok(acked.saturating_duration_since(sent))
}

/// The bare bot and prepbot's lookups, taking turns: bare, leaderboard, bare,
/// today, bare, schedule, … `n` of each lookup and 3 `n` of the bare bot's, after
/// a warm-up of a tenth as many that is not counted.
async fn ack_latencies(
    bare: &FakeSlack,
    fake: &FakeSlack,
    n: usize,
) -> anyhow::Result<Vec<Vec<Duration>>> {
    let warmup = (n / 10).max(1);
    let mut out = vec![Vec::with_capacity(3 * n); 1 + LOOKUPS.len()];
    for i in 0..(n + warmup) * LOOKUPS.len() {
        let member = format!("UACK{i:07}");
        let b = ack_time(bare, &member, "ping").await?;
        let k = i % LOOKUPS.len();
        let l = ack_time(fake, &member, LOOKUPS[k]).await?;
        if i >= warmup * LOOKUPS.len() {
            out[0].push(b);
            out[1 + k].push(l);
        }
    }
    for v in &mut out {
        v.sort();
    }
    Ok(out)
}

fn us(d: Duration) -> String {
    format!("{:.0} µs", d.as_secs_f64() * 1e6)
}

/// Waits for `bot`'s Socket Mode session on `fake`.
async fn socket_open(fake: &FakeSlack, bot: &mut Proc, who: &str) -> anyhow::Result<()> {
    let deadline = Instant::now() + WAIT;
    while fake.open_sockets() == 0 {
        bot.check_alive()?;
        if Instant::now() > deadline {
            bail!(
                "{who} opened no Socket Mode session; its log ends:\n{}",
                bot.log_tail(20)
            );
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(())
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
    socket_open(&slack, &mut bot, "prepbot").await?;
    command(&slack, &mut bot, CREATOR, "setup 09:00 UTC").await?;
    command(&slack, &mut bot, ADMIN, "drop").await?;
    let thread = slack
        .top_level_posts(CHANNEL)
        .first()
        .and_then(|d| d["ts"].as_str().map(String::from))
        .context("the drop was not posted")?;
    tokio::time::sleep(SETTLE).await;
    let startup = bot.rss_kb();

    // The acknowledgements, before the burst: the bare bot on a fake of its own.
    let bare_fake = FakeSlack::start().await;
    let bare_env = [
        ("SLACK_BOT_TOKEN", BOT_TOKEN.to_string()),
        ("SLACK_APP_TOKEN", APP_TOKEN.to_string()),
        ("PREPBOT_SLACK_API_BASE", bare_fake.api_base()),
    ];
    let mut bare = Proc::spawn(
        &bot::bare_slack_bot_bin()?,
        &[],
        &bare_env,
        &dir.path().join("bare.log"),
    )?;
    socket_open(&bare_fake, &mut bare, "the bare bot").await?;
    eprintln!(
        "slack: {} acknowledgements of each lookup, taking turns with the bare bot",
        o.commands
    );
    let acks = ack_latencies(&bare_fake, &slack, o.commands).await?;
    bare.check_alive()?;
    bare.stop().await;

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
        acks,
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
    section.tables.push(ack_table(&runs));
    section.note(format!(
        "One `prepbot run` with DISCORD_TOKEN and both Slack tokens (the fake Discord's gateway connected, the fake Slack's Socket Mode session open); `/prep setup` and `/prep drop` in one Slack channel, then {} message events written back to back into the drop's thread, timed until the last is committed; each memory figure sampled {} s after its phase.",
        count(o.answers as f64),
        SETTLE.as_secs()
    ));
    section.note(format!(
        "Acknowledgements: before the burst, `/prep leaderboard`, `/prep today` and `/prep schedule` ({} each a run, after {} of each not counted) by members who had used no command before, each followed by the bare slack-morphism bot's `/prep ping` on a fake Slack of its own (examples/bare_slack_bot.rs: the same connector, one connection, a fixed answer), one at a time. Each time is the fake's: from writing the envelope to reading the ack. The lookups answer in the ack's payload: the channel has one open drop and nobody on its leaderboard, so the leaderboard makes both its walks. Budget: each lookup's p99 (median of the runs) at most {TIMES_BARE} × the bare bot's.",
        count(o.commands as f64),
        count((o.commands / 10).max(1) as f64),
    ));
    Ok(section)
}

fn ack_table(runs: &[Run]) -> Table {
    let mut t = Table::new(&[
        "Slack command acknowledgement",
        "p50",
        "p99",
        "p99 of each run",
        "p99 ÷ bare p99, each run",
        "budget (p99)",
        "verdict",
    ]);
    let p = |r: &Run, k: usize, q: f64| percentile(&r.acks[k], q);
    let bare_p99s: Vec<Duration> = runs.iter().map(|r| p(r, 0, 99.0)).collect();
    let bare_p99 = median(&bare_p99s);
    let budget = bare_p99.mul_f64(TIMES_BARE);
    for k in 0..=LOOKUPS.len() {
        let p50 = median(&runs.iter().map(|r| p(r, k, 50.0)).collect::<Vec<_>>());
        let p99s: Vec<Duration> = runs.iter().map(|r| p(r, k, 99.0)).collect();
        let p99 = median(&p99s);
        let each = p99s.iter().map(|d| us(*d)).collect::<Vec<_>>().join(", ");
        if k == 0 {
            t.row(vec![
                "bare slack-morphism bot (baseline)".into(),
                us(p50),
                us(p99),
                each,
                "".into(),
                "".into(),
                "".into(),
            ]);
            continue;
        }
        let ratios = p99s
            .iter()
            .zip(&bare_p99s)
            .map(|(l, b)| format!("{:.2}", l.as_secs_f64() / b.as_secs_f64()))
            .collect::<Vec<_>>()
            .join(", ");
        t.row(vec![
            format!("`/prep {}`", LOOKUPS[k - 1]),
            us(p50),
            us(p99),
            each,
            ratios,
            format!("≤ {} ({TIMES_BARE} × {})", us(budget), us(bare_p99)),
            verdict(p99 <= budget).into(),
        ]);
    }
    t
}
