//! Scenario `startup`: (a) loading and validating a generated bank of `--questions`
//! questions, as `prepbot check <dir>` end to end (process start to exit) and as
//! `QuestionBank::load` in this process; (b) `prepbot run` with that bank, from
//! spawning the process to the fake receiving its IDENTIFY on the gateway, on a
//! database that already exists (a restart; a first start also creates it).

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use prepbot_core::bank::QuestionBank;

use crate::bot::{self, Proc, Traffic};
use crate::report::{Section, Table, median, ms, verdict};
use crate::{Options, Outcome, prepare};
use prepbot_fake_discord::FakeDiscord;

const BUDGET_LOAD: Duration = Duration::from_millis(200);
const BUDGET_IDENTIFY: Duration = Duration::from_millis(300);

/// Each measurement is repeated this often per run (the median counts).
fn reps(o: &Options) -> usize {
    if o.quick { 3 } else { 5 }
}

struct Run {
    check: Duration,
    load: Duration,
    identify: Duration,
}

/// `prepbot check dir` once, end to end.
fn check(dir: &std::path::Path, log: &std::path::Path) -> anyhow::Result<Duration> {
    let mut p = Proc::spawn(
        &bot::prepbot_bin(),
        &["check", &dir.display().to_string()],
        &[],
        log,
    )?;
    let started = p.spawned;
    loop {
        if let Some(status) = p.try_wait()? {
            let took = started.elapsed();
            if !status.success() {
                bail!("prepbot check failed:\n{}", p.log_tail(10));
            }
            return Ok(took);
        }
        std::thread::sleep(Duration::from_micros(200));
    }
}

/// `prepbot run` from spawn to IDENTIFY, once; the bot is stopped afterwards.
async fn identify(
    dir: &std::path::Path,
    questions: &std::path::Path,
    db: &std::path::Path,
) -> anyhow::Result<Duration> {
    let fake = FakeDiscord::start(Arc::new(prepbot_core::clock::SystemClock)).await;
    let _traffic = Traffic::watch(&fake, |_| {});
    let mut bot = bot::spawn_prepbot(&fake, db, questions, 50, &dir.join("bot.log"))?;
    let deadline = Instant::now() + Duration::from_secs(60);
    let at = loop {
        if let Some(at) = fake.identify_times().first() {
            break *at;
        }
        bot.check_alive()?;
        if Instant::now() > deadline {
            bail!(
                "no IDENTIFY within 60 s; the bot's log ends:\n{}",
                bot.log_tail(10)
            );
        }
        tokio::time::sleep(Duration::from_micros(500)).await;
    };
    let took = at.saturating_duration_since(bot.spawned);
    bot.stop().await;
    Ok(took)
}

async fn run_once(o: &Options, questions: &std::path::Path) -> anyhow::Result<Run> {
    let dir = prepare::run_dir()?;
    let log = dir.path().join("check.log");
    let db = dir.path().join("bot.db");
    // Warm-ups, not counted: the first start also creates and migrates the database.
    check(questions, &log)?;
    identify(dir.path(), questions, &db).await?;
    let (mut checks, mut loads, mut identifies) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..reps(o) {
        checks.push(check(questions, &log)?);
        let t = Instant::now();
        let loaded = QuestionBank::load(questions).map_err(|e| anyhow::anyhow!("{e}"))?;
        loads.push(t.elapsed());
        anyhow::ensure!(
            loaded.all().len() == o.questions,
            "the bank has {} questions",
            loaded.all().len()
        );
        identifies.push(identify(dir.path(), questions, &db).await?);
    }
    Ok(Run {
        check: median(&checks),
        load: median(&loads),
        identify: median(&identifies),
    })
}

pub async fn run(o: &Options) -> Outcome {
    let bank_dir = prepare::run_dir()?;
    prepbot_devtools::hotpaths::write_generated_bank(bank_dir.path(), o.questions)
        .context("write the generated bank")?;
    let mut runs = Vec::new();
    for r in 0..o.runs {
        eprintln!("startup run {}/{}", r + 1, o.runs);
        runs.push(run_once(o, bank_dir.path()).await.context("startup run")?);
    }
    let col = |f: fn(&Run) -> Duration| median(&runs.iter().map(f).collect::<Vec<_>>());
    let each =
        |f: fn(&Run) -> Duration| runs.iter().map(|r| ms(f(r))).collect::<Vec<_>>().join(", ");
    let mut section = Section::new("Load: startup");
    let mut t = Table::new(&["measure", "median", "each run", "budget", "verdict"]);
    let check = col(|r| r.check);
    let load = col(|r| r.load);
    let ident = col(|r| r.identify);
    t.row(vec![
        format!(
            "`prepbot check` on {} questions, process start to exit",
            o.questions
        ),
        ms(check),
        each(|r| r.check),
        format!("< {}", ms(BUDGET_LOAD)),
        verdict(check < BUDGET_LOAD).into(),
    ]);
    t.row(vec![
        format!(
            "`QuestionBank::load` of {} questions, in process",
            o.questions
        ),
        ms(load),
        each(|r| r.load),
        format!("< {}", ms(BUDGET_LOAD)),
        verdict(load < BUDGET_LOAD).into(),
    ]);
    t.row(vec![
        "`prepbot run`: spawn to IDENTIFY at the fake".into(),
        ms(ident),
        each(|r| r.identify),
        format!("< {}", ms(BUDGET_IDENTIFY)),
        verdict(ident < BUDGET_IDENTIFY).into(),
    ]);
    section.tables.push(t);
    section.note(format!(
        "A generated bank (`prepbot_devtools::hotpaths::write_generated_bank`, the one the Criterion bank bench loads): {} valid questions of about 4 KB and 290 distinct words each, 20,000 words across the bank. Each run times every step {} times after one warm-up and keeps the median; the bot runs on an existing, migrated database (a restart). Spawn-to-IDENTIFY includes loading the bank, opening the database, the gateway probe (GET /gateway) and the websocket handshake.",
        o.questions,
        reps(o)
    ));
    Ok(section)
}
