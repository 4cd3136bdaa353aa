//! Scenario `memory`: one `prepbot run` process through three phases, its resident
//! memory (VmRSS) sampled a few seconds after each settles: after startup (with an
//! open drop), after an ingestion burst (`--answers`), and after a fan-out
//! (`--channels` due at one minute). The fake enforces `--rate` requests per second
//! throughout, and the bot is paced to it. The fan-out
//! channels are added to the database after the burst, then one `/setup` (which
//! wakes the scheduler, as in production) makes the bot read its agenda again: they
//! are due at the next whole minute (with `--quick`, at the minute under way, so
//! they are posted at once).

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use serde_json::json;

use crate::bot;
use crate::fanout::{Posts, instant_of, watch_fanout};
use crate::report::{MemoryRow, Section, Table, memory_rows};
use crate::{Options, Outcome, ingest, prepare};
use prepbot_fake_discord::fixtures::{Person, opt, slash};
use prepbot_fake_discord::{CHANNEL_A2, FakeDiscord};

const BUDGET_KB: u64 = 50 * 1024;
const SETTLE: Duration = Duration::from_secs(3);

struct Run {
    startup: u64,
    ingested: u64,
    fanned_out: u64,
    hwm: u64,
}

async fn run_once(o: &Options) -> anyhow::Result<Run> {
    let dir = prepare::run_dir()?;
    let db = dir.path().join("bot.db");
    let practice = prepare::practice(&db).await?;
    prepare::open_drop(&practice, chrono::Utc::now()).await?;

    let fake = FakeDiscord::start(Arc::new(prepbot_core::clock::SystemClock)).await;
    let (posts, traffic) = Posts::watch(&fake);
    let mut bot = bot::spawn_prepbot(
        &fake,
        &db,
        &prepare::shipped_questions(),
        o.rate,
        &dir.path().join("bot.log"),
    )?;
    bot::ready(&fake, &traffic, &mut bot, Duration::from_millis(1000)).await?;
    tokio::time::sleep(SETTLE).await;
    let startup = bot.rss_kb();

    eprintln!("memory: ingesting {} answers", o.answers);
    fake.set_global_limit(Some(o.rate));
    ingest::ingest_into(&fake, &mut bot, &db, o.answers).await?;
    tokio::time::sleep(SETTLE).await;
    let ingested = bot.rss_kb();

    let (due, setup_at) = prepare::due_minute(o.quick, o.channels, chrono::Utc::now());
    eprintln!(
        "memory: {} channels due at {}",
        o.channels,
        due.format("%H:%M:%S UTC")
    );
    prepare::due_channels(&practice, o.channels, due, setup_at).await?;
    practice.store().close().await;
    // `/setup` in another channel wakes the scheduler, which reads the agenda again.
    let admin = Person::admin(1, "Ada");
    fake.dispatch(
        "INTERACTION_CREATE",
        slash(
            fake.snowflake(),
            "memory-setup",
            "setup",
            vec![opt("time", json!("03:00")), opt("timezone", json!("UTC"))],
            &admin,
            CHANNEL_A2,
        ),
    );
    watch_fanout(&fake, &posts, &mut bot, o.channels, o.rate, instant_of(due)).await?;
    tokio::time::sleep(SETTLE).await;
    let fanned_out = bot.rss_kb();
    let hwm = bot.hwm_kb();
    bot.check_alive()?;
    bot.stop().await;
    Ok(Run {
        startup,
        ingested,
        fanned_out,
        hwm,
    })
}

pub async fn run(o: &Options) -> Outcome {
    let mut runs = Vec::new();
    for r in 0..o.runs {
        eprintln!("memory run {}/{}", r + 1, o.runs);
        runs.push(run_once(o).await.context("memory run")?);
    }
    let mut section = Section::new("Load: memory");
    let mut t = Table::new(&["bot VmRSS", "median", "each run", "budget", "verdict"]);
    let rows: [MemoryRow<Run>; 4] = [
        ("after startup (one open drop)", |r| r.startup, true),
        ("after the ingestion burst", |r| r.ingested, true),
        ("after the fan-out", |r| r.fanned_out, true),
        ("peak (VmHWM) over the three phases", |r| r.hwm, false),
    ];
    memory_rows(&mut t, &runs, &rows, BUDGET_KB);
    section.tables.push(t);
    section.note(format!(
        "One process: startup, then {} answers in one thread, then {} channels due at one minute, the fake allowing {} requests/s and the bot paced to it; each figure sampled {} s after its phase finished.",
        crate::report::count(o.answers as f64),
        crate::report::count(o.channels as f64),
        o.rate,
        SETTLE.as_secs()
    ));
    Ok(section)
}
