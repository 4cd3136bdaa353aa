//! Scenario `ingest`: a burst of answers from distinct members in an open drop's
//! thread, written to the gateway as fast as the socket takes them; timed from the
//! first frame written to the moment a separate read connection counts every row
//! committed. The baseline is the bare poise bot counting the same burst and making
//! one REST call when it has seen all of it.
//!
//! The ✅ path is measured in the same run: the fake holds the bot to a global rate
//! limit like Discord's (`--ack-rate`, 50/s), so the acknowledgement queue fills;
//! the table gives the reactions that got through per second, the 429s, what the
//! queue dropped, and the bot's memory meanwhile.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use prepbot_devtools::seed::member_id;

use crate::bot::{self, Proc, Traffic};
use crate::prepare::{self, INGEST_THREAD};
use crate::report::{Section, Table, count, mb, median, verdict};
use crate::{Options, Outcome};
use prepbot_fake_discord::fixtures::{MEMBER_PERMS, Person, member_message};
use prepbot_fake_discord::{FakeDiscord, GUILD_A};

const BUDGET_RATE: f64 = 5_000.0;
const BUDGET_SHARE_OF_BARE: f64 = 1.0 / 3.0;
/// How long the ✅ path is watched after the last row is committed.
const ACK_WATCH: Duration = Duration::from_secs(10);
const ACK_WATCH_QUICK: Duration = Duration::from_secs(3);
/// What one answer says (about the length of a short answer in a thread).
const ANSWER: &str = "Put a TTL on every key and jitter it, so hot keys do not expire together; on a miss let one request recompute (a lock or request coalescing) while the rest serve the stale value; and watch the hit ratio and the database's load after a deploy.";

/// The burst as gateway frames, built before anything is timed.
pub fn burst(fake: &FakeDiscord, n: usize) -> Vec<String> {
    let now = chrono::Utc::now();
    (0..n)
        .map(|i| {
            let by = Person {
                id: member_id(i as u64 + 1),
                name: "member",
                permissions: MEMBER_PERMS,
            };
            let message =
                member_message(fake.snowflake(), INGEST_THREAD, GUILD_A, &by, ANSWER, now);
            fake.dispatch_frame("MESSAGE_CREATE", message)
        })
        .collect()
}

/// Samples the bot's resident memory every 100 ms until the returned flag is set.
pub fn sample_rss(
    pid: u32,
) -> (
    Arc<std::sync::atomic::AtomicBool>,
    tokio::task::JoinHandle<u64>,
) {
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let s = stop.clone();
    let task = tokio::spawn(async move {
        let mut max = 0;
        while !s.load(Ordering::SeqCst) {
            let rss = std::fs::read_to_string(format!("/proc/{pid}/status"))
                .ok()
                .and_then(|st| {
                    st.lines()
                        .find(|l| l.starts_with("VmRSS:"))
                        .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
                })
                .unwrap_or(0);
            max = max.max(rss);
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        max
    });
    (stop, task)
}

/// Reactions the fake let through, as they arrived.
#[derive(Debug, Default)]
pub struct Acks {
    pub accepted: Mutex<Vec<Instant>>,
}

impl Acks {
    pub fn watch(fake: &FakeDiscord) -> (Arc<Acks>, Arc<Traffic>) {
        let acks = Arc::new(Acks::default());
        let a = acks.clone();
        let traffic = Traffic::watch(fake, move |r| {
            if r.method == "PUT" && r.path.contains("/reactions/") && r.status < 300 {
                a.accepted.lock().unwrap().push(r.at);
            }
        });
        (acks, traffic)
    }

    /// Accepted reactions so far, and their steady rate: per second over the whole
    /// seconds after the first one (which may take a whole window's worth at once)
    /// up to `end`.
    pub fn rate(&self, end: Instant) -> (usize, f64) {
        let v = self.accepted.lock().unwrap();
        let Some(first) = v.first() else {
            return (0, 0.0);
        };
        let steady = crate::report::per_second(&v, *first + Duration::from_secs(1), end);
        (v.len(), steady.unwrap_or(0.0))
    }
}

/// Sends the burst to a running prepbot and waits until the database holds it all.
/// Returns the answers per second.
pub async fn ingest_into(
    fake: &FakeDiscord,
    bot: &mut Proc,
    db: &std::path::Path,
    n: usize,
) -> anyhow::Result<f64> {
    let reader = prepare::reader(db).await?;
    let before = prepare::answers_stored(&reader).await?;
    let frames = burst(fake, n);
    let first = fake.send_frames(frames);
    let target = before + n as i64;
    let deadline = Instant::now() + Duration::from_secs(300);
    let done = loop {
        if prepare::answers_stored(&reader).await? >= target {
            break Instant::now();
        }
        bot.check_alive()?;
        anyhow::ensure!(
            Instant::now() < deadline,
            "the answers were not all stored within 300 s"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    let first = first.await.context("the first frame was written")?;
    reader.close().await;
    Ok(n as f64 / done.duration_since(first).as_secs_f64())
}

struct Run {
    rate: f64,
    bare_rate: f64,
    acks: usize,
    ack_rate: f64,
    rate_limited: usize,
    skipped: usize,
    log_lines: usize,
    rss_before_kb: u64,
    rss_max_kb: u64,
    rss_after_kb: u64,
    hwm_kb: u64,
    bare_hwm_kb: u64,
}

async fn run_once(o: &Options) -> anyhow::Result<Run> {
    let dir = prepare::run_dir()?;
    let db = dir.path().join("bot.db");
    let practice = prepare::practice(&db).await?;
    prepare::open_drop(&practice, chrono::Utc::now()).await?;
    practice.store().close().await;

    let fake = FakeDiscord::start(Arc::new(prepbot_core::clock::SystemClock)).await;
    let (acks, traffic) = Acks::watch(&fake);
    let mut bot = bot::spawn_prepbot(
        &fake,
        &db,
        &prepare::shipped_questions(),
        o.ack_rate,
        &dir.path().join("bot.log"),
    )?;
    bot::ready(&fake, &traffic, &mut bot, Duration::from_millis(1000)).await?;
    fake.set_global_limit(Some(o.ack_rate));
    let rss_before_kb = bot.rss_kb();
    let (stop, sampler) = sample_rss(bot.pid());
    let rate = ingest_into(&fake, &mut bot, &db, o.answers).await?;
    tokio::time::sleep(if o.quick { ACK_WATCH_QUICK } else { ACK_WATCH }).await;
    let (acked, ack_rate) = acks.rate(Instant::now());
    stop.store(true, Ordering::SeqCst);
    let rss_max_kb = sampler.await?;
    let run_rss_after = bot.rss_kb();
    let hwm_kb = bot.hwm_kb();
    bot.check_alive()?;
    // The bot logs how many reactions it skipped once its queue is half empty
    // again (about 10 s at 50/s after a flood).
    let full = bot.log_count("acknowledgement queue full");
    let deadline = Instant::now() + Duration::from_secs(60);
    while bot.log_count("acknowledgement queue has room again") < full && Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let skipped = bot.log_sum("acknowledgement queue has room again", "skipped") as usize;
    let log_lines = bot.log_count("");
    let rate_limited = fake.rate_limited();
    bot.stop().await;

    let fake = FakeDiscord::start(Arc::new(prepbot_core::clock::SystemClock)).await;
    let (tx, mut done) = tokio::sync::mpsc::unbounded_channel();
    let traffic = Traffic::watch(&fake, move |r| {
        if r.method == "POST"
            && r.path
                .ends_with(&format!("/channels/{INGEST_THREAD}/messages"))
        {
            let _ = tx.send(r.at);
        }
    });
    let mut bare = bot::spawn_bare(&fake, Some(o.answers), &dir.path().join("bare.log"))?;
    bot::ready(&fake, &traffic, &mut bare, Duration::from_millis(500)).await?;
    let frames = burst(&fake, o.answers);
    let first = fake.send_frames(frames);
    let finished = tokio::time::timeout(Duration::from_secs(300), done.recv())
        .await
        .context("the bare bot did not report the whole burst within 300 s")?
        .context("the fake stopped")?;
    let first = first.await?;
    let bare_rate = o.answers as f64 / finished.duration_since(first).as_secs_f64();
    let bare_hwm_kb = bare.hwm_kb();
    bare.stop().await;

    Ok(Run {
        rate,
        bare_rate,
        acks: acked,
        ack_rate,
        rate_limited,
        skipped,
        log_lines,
        rss_before_kb,
        rss_max_kb,
        rss_after_kb: run_rss_after,
        hwm_kb,
        bare_hwm_kb,
    })
}

pub async fn run(o: &Options) -> Outcome {
    let mut runs = Vec::new();
    for r in 0..o.runs {
        eprintln!("ingest run {}/{}", r + 1, o.runs);
        runs.push(run_once(o).await.context("ingest run")?);
    }
    let med = |f: fn(&Run) -> f64| median(&runs.iter().map(f).collect::<Vec<_>>());
    let each = |f: fn(&Run) -> f64| {
        runs.iter()
            .map(|r| count(f(r)))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let rate = med(|r| r.rate);
    let bare = med(|r| r.bare_rate);
    let ratio = rate / bare;
    let mut section = Section::new("Load: ingestion");
    let mut t = Table::new(&["measure", "answers/s", "each run", "budget", "verdict"]);
    t.row(vec![
        "bare poise bot, counting (baseline)".into(),
        count(bare),
        each(|r| r.bare_rate),
        "".into(),
        "".into(),
    ]);
    t.row(vec![
        "prepbot: stored and committed".into(),
        count(rate),
        each(|r| r.rate),
        format!("≥ {}/s", count(BUDGET_RATE)),
        verdict(rate >= BUDGET_RATE).into(),
    ]);
    t.row(vec![
        "prepbot ÷ bare".into(),
        format!("{ratio:.2}"),
        runs.iter()
            .map(|r| format!("{:.2}", r.rate / r.bare_rate))
            .collect::<Vec<_>>()
            .join(", "),
        "≥ 0.33".into(),
        verdict(ratio >= BUDGET_SHARE_OF_BARE).into(),
    ]);
    section.tables.push(t);

    let watch = if o.quick { ACK_WATCH_QUICK } else { ACK_WATCH };
    let mut a = Table::new(&["acknowledgement path", "median", "each run"]);
    let medu = |f: fn(&Run) -> u64| median(&runs.iter().map(f).collect::<Vec<_>>());
    let eachu = |f: fn(&Run) -> u64| {
        runs.iter()
            .map(|r| f(r).to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let eachmb = |f: fn(&Run) -> u64| runs.iter().map(|r| mb(f(r))).collect::<Vec<_>>().join(", ");
    a.row(vec![
        format!(
            "reactions accepted per second (fake's global limit {}/s)",
            o.ack_rate
        ),
        format!("{:.1}", med(|r| r.ack_rate)),
        runs.iter()
            .map(|r| format!("{:.1}", r.ack_rate))
            .collect::<Vec<_>>()
            .join(", "),
    ]);
    a.row(vec![
        format!(
            "reactions accepted by {} s after the last row",
            watch.as_secs()
        ),
        medu(|r| r.acks as u64).to_string(),
        eachu(|r| r.acks as u64),
    ]);
    a.row(vec![
        "429s the bot got".into(),
        medu(|r| r.rate_limited as u64).to_string(),
        eachu(|r| r.rate_limited as u64),
    ]);
    a.row(vec![
        "acknowledgements dropped, queue full (bot log)".into(),
        medu(|r| r.skipped as u64).to_string(),
        eachu(|r| r.skipped as u64),
    ]);
    a.row(vec![
        "bot log lines (warn level) over the run".into(),
        medu(|r| r.log_lines as u64).to_string(),
        eachu(|r| r.log_lines as u64),
    ]);
    a.row(vec![
        "bot VmRSS before the burst".into(),
        mb(medu(|r| r.rss_before_kb)),
        eachmb(|r| r.rss_before_kb),
    ]);
    a.row(vec![
        "bot VmRSS, most sampled (every 100 ms)".into(),
        mb(medu(|r| r.rss_max_kb)),
        eachmb(|r| r.rss_max_kb),
    ]);
    a.row(vec![
        format!("bot VmRSS {} s after the last row", watch.as_secs()),
        mb(medu(|r| r.rss_after_kb)),
        eachmb(|r| r.rss_after_kb),
    ]);
    a.row(vec![
        "bot VmHWM (peak RSS)".into(),
        mb(medu(|r| r.hwm_kb)),
        eachmb(|r| r.hwm_kb),
    ]);
    a.row(vec![
        "bare poise bot VmHWM over the same burst".into(),
        mb(medu(|r| r.bare_hwm_kb)),
        eachmb(|r| r.bare_hwm_kb),
    ]);
    section.tables.push(a);
    section.note(format!(
        "{} answers (about {} bytes each) from {} distinct members in one open drop's thread, sent back to back on the gateway; prepbot's time runs from the first frame written to a separate read connection counting all rows (`SELECT COUNT(*) FROM answers`, polled every 5 ms); the bare bot's to its one REST call after seeing the last message.",
        count(o.answers as f64),
        ANSWER.len(),
        count(o.answers as f64)
    ));
    section.note("The bot's SQLite runs in WAL mode with `synchronous = NORMAL` (src/store/mod.rs): a commit is durable against a crash of the process, and against power loss once the WAL is checkpointed.");
    section.note(format!(
        "Acknowledgements: the queue holds {} (src/discord/outbound.rs); beyond that a ✅ is dropped and the answer is stored anyway. The fake enforced its global limit only once the bot was up.",
        prepbot_core::acks::ACK_QUEUE_CAPACITY
    ));
    Ok(section)
}
