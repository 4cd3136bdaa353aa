//! Scenario `fanout`: thousands of channels due at the same minute, a real one. The
//! channels are set up (through the library, as `/setup` would) for the next whole
//! minute in UTC, the bot starts and sleeps until then, and the fake holds it to a
//! global rate limit of `--rate` requests per second (429 with `retry_after` and
//! `global: true` beyond it, in a sliding one-second window). Each drop is two
//! requests: the message and its thread.
//!
//! With `--quick` the channels are due at the minute already under way, so the bot
//! posts them at once on startup (the catch-up path) instead of waiting.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context as _;

use crate::bot::{self, Traffic};
use crate::prepare;
use crate::report::{Section, Table, count, mb, median, ms, verdict};
use crate::{Options, Outcome};
use prepbot_fake_discord::FakeDiscord;

const BUDGET_SHARE: f64 = 0.9;
const SAMPLE_AFTER: Duration = Duration::from_secs(3);

/// The drop posts and threads the fake accepted, as they arrived.
#[derive(Debug, Default)]
pub struct Posts {
    pub messages: Mutex<Vec<Instant>>,
    pub threads: Mutex<Vec<Instant>>,
    /// Messages and threads accepted per channel.
    pub by_channel: Mutex<HashMap<u64, (u32, u32)>>,
    /// Every request the fake accepted that counts towards its global limit (all
    /// but interaction callbacks and webhooks), as they arrived.
    pub limited: Mutex<Vec<Instant>>,
    /// The requests the global limit refused (429), as they arrived.
    pub refused: Mutex<Vec<Instant>>,
}

/// The channel of `/api/v10/channels/{id}/...`.
fn channel_of(path: &str) -> Option<u64> {
    path.strip_prefix("/api/v10/channels/")?
        .split('/')
        .next()?
        .parse()
        .ok()
}

impl Posts {
    pub fn watch(fake: &FakeDiscord) -> (Arc<Posts>, Arc<Traffic>) {
        let posts = Arc::new(Posts::default());
        let p = posts.clone();
        let traffic = Traffic::watch(fake, move |r| {
            if r.status == 429 {
                p.refused.lock().unwrap().push(r.at);
            } else if !r.path.starts_with("/api/v10/interactions/")
                && !r.path.starts_with("/api/v10/webhooks/")
            {
                p.limited.lock().unwrap().push(r.at);
            }
            if r.method != "POST" || r.status >= 300 || !r.path.starts_with("/api/v10/channels/") {
                return;
            }
            let thread = r.path.ends_with("/threads");
            if thread {
                p.threads.lock().unwrap().push(r.at);
            } else if r.path.ends_with("/messages") {
                p.messages.lock().unwrap().push(r.at);
            } else {
                return;
            }
            if let Some(c) = channel_of(&r.path) {
                let mut by = p.by_channel.lock().unwrap();
                let n = by.entry(c).or_default();
                if thread {
                    n.1 += 1;
                } else {
                    n.0 += 1;
                }
            }
        });
        (posts, traffic)
    }

    /// Channels with more than one message, and with more than one thread.
    pub fn twice(&self) -> (usize, usize) {
        let by = self.by_channel.lock().unwrap();
        (
            by.values().filter(|(m, _)| *m > 1).count(),
            by.values().filter(|(_, t)| *t > 1).count(),
        )
    }

    /// The requests counting towards the global limit between `from` and `until`
    /// (both included) as they arrived, in order: those the fake accepted, and with
    /// `refused` those it answered 429 too.
    fn limited_between(&self, from: Instant, until: Instant, refused: bool) -> Vec<Instant> {
        let mut at: Vec<Instant> = self.limited.lock().unwrap().clone();
        if refused {
            at.extend(self.refused.lock().unwrap().iter());
        }
        at.retain(|t| *t >= from && *t <= until);
        at.sort();
        at
    }

    /// The most requests counting towards the global limit that the fake accepted in
    /// any one-second window (sliding) between `from` and `until`, both included.
    pub fn busiest_second(&self, from: Instant, until: Instant) -> usize {
        let at = self.limited_between(from, until, false);
        let mut most = 0;
        let mut first = 0;
        for last in 0..at.len() {
            while at[last].duration_since(at[first]) >= Duration::from_secs(1) {
                first += 1;
            }
            most = most.max(last - first + 1);
        }
        most
    }

    /// The least time spanned by `rate + 1` consecutive requests sent towards the
    /// global limit (accepted or refused) between `from` and `until`: the pacer aims
    /// at `1 s + JITTER_MARGIN` (1,020 ms); under a second is a 429.
    pub fn tightest(&self, from: Instant, until: Instant, rate: usize) -> Option<Duration> {
        let at = self.limited_between(from, until, true);
        at.iter()
            .zip(at.iter().skip(rate))
            .map(|(a, b)| b.duration_since(*a))
            .min()
    }

    pub fn threads(&self) -> usize {
        self.threads.lock().unwrap().len()
    }

    pub fn messages(&self) -> usize {
        self.messages.lock().unwrap().len()
    }

    /// Every accepted post and thread, in order.
    pub fn all(&self) -> Vec<Instant> {
        let mut v = self.messages.lock().unwrap().clone();
        v.extend(self.threads.lock().unwrap().iter());
        v.sort();
        v
    }
}

/// What one fan-out did.
pub struct Fanout {
    pub messages: usize,
    pub threads: usize,
    /// Drops posted whose thread the bot gave up on (its log says so).
    pub threads_given_up: usize,
    /// Accepted drop requests per second, first to last.
    pub rate: f64,
    pub rate_limited: usize,
    /// The most requests the fake accepted in any one-second window from the first
    /// drop request to the last (sliding, every request counting towards its limit).
    pub busiest_second: usize,
    /// [`Posts::tightest`] from the first drop request to the last.
    pub tightest: Option<Duration>,
    /// Channels with two question messages, and with two threads.
    pub twice: (usize, usize),
    pub first_after_due: Duration,
    pub all_after_due: Duration,
    pub first_to_last: Duration,
    pub peak_connections: usize,
    /// The peak of each client's connections: prepbot's REST client, serenity's HTTP
    /// client, the gateway.
    pub peak_by_client: Vec<(&'static str, usize)>,
}

/// A client by its User-Agent.
fn client_name(user_agent: &str) -> &'static str {
    if user_agent == "gateway" {
        "gateway websocket"
    } else if user_agent.contains("serenity") {
        "serenity's HTTP client (commands, replies)"
    } else if user_agent.contains("prepbot") {
        REST_CLIENT
    } else {
        "other"
    }
}

/// What src/scheduler.rs logs when a drop is out but its thread could not be opened.
const THREAD_GIVEN_UP: &str = "the drop was posted but its thread could not be opened";

const REST_CLIENT: &str = "prepbot's REST client (posts, threads, reactions)";

/// Waits for `channels` drops (message and thread each) and measures them. `due` is
/// the instant they fell due.
pub async fn watch_fanout(
    fake: &FakeDiscord,
    posts: &Posts,
    bot: &mut bot::Proc,
    channels: usize,
    rate: usize,
    due: Instant,
) -> anyhow::Result<Fanout> {
    watch_fanout_of(fake, posts, std::slice::from_mut(bot), channels, rate, due).await
}

/// [`watch_fanout`] for drops posted by several processes together.
pub async fn watch_fanout_of(
    fake: &FakeDiscord,
    posts: &Posts,
    bots: &mut [bot::Proc],
    channels: usize,
    rate: usize,
    due: Instant,
) -> anyhow::Result<Fanout> {
    // Four times what the limit allows, plus a minute for everything else.
    let limit =
        Duration::from_secs_f64(4.0 * channels as f64 / rate as f64) + Duration::from_secs(60);
    let deadline = Instant::now() + limit;
    let given_up_now =
        |bots: &[bot::Proc]| -> usize { bots.iter().map(|b| b.log_count(THREAD_GIVEN_UP)).sum() };
    let mut given_up = 0;
    let mut log_read = Instant::now();
    while posts.threads() < channels {
        for bot in bots.iter_mut() {
            bot.check_alive()?;
        }
        // A drop posted whose thread failed is not retried (that would post the
        // question twice): count those from the log instead of waiting for them.
        if posts.messages() >= channels && log_read.elapsed() >= Duration::from_secs(1) {
            given_up = given_up_now(bots);
            log_read = Instant::now();
            if posts.threads() + given_up >= channels {
                break;
            }
        }
        if Instant::now() > deadline {
            if posts.messages() >= channels {
                break;
            }
            let tails: Vec<String> = bots.iter().map(|b| b.log_tail(10)).collect();
            anyhow::bail!(
                "only {} of {channels} drops were posted within {limit:?}; the bots' logs end:\n{}",
                posts.messages(),
                tails.join("\n--\n")
            );
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let given_up = given_up.max(given_up_now(bots));
    let all = posts.all();
    let (first, last) = (all[0], all[all.len() - 1]);
    let span = last.duration_since(first);
    let tightest = posts.tightest(first, last, rate);
    let rate = crate::report::per_second(&all, first, last)
        .unwrap_or((all.len() - 1) as f64 / span.as_secs_f64().max(1e-9));
    Ok(Fanout {
        messages: posts.messages(),
        threads: posts.threads(),
        threads_given_up: given_up,
        rate,
        rate_limited: fake.rate_limited(),
        busiest_second: posts.busiest_second(first, last),
        tightest,
        twice: posts.twice(),
        first_after_due: first.saturating_duration_since(due),
        all_after_due: last.saturating_duration_since(due),
        first_to_last: span,
        peak_connections: fake.peak_connections(),
        peak_by_client: fake
            .peak_connections_by_client()
            .into_iter()
            .map(|(ua, n)| (client_name(&ua), n))
            .collect(),
    })
}

/// The `Instant` matching a wall-clock time (in the past or the future).
pub fn instant_of(at: chrono::DateTime<chrono::Utc>) -> Instant {
    let (now_i, now_w) = (Instant::now(), chrono::Utc::now());
    match (at - now_w).to_std() {
        Ok(ahead) => now_i + ahead,
        Err(_) => now_i
            .checked_sub((now_w - at).to_std().unwrap_or_default())
            .unwrap_or(now_i),
    }
}

struct Run {
    f: Fanout,
    waited: Duration,
    hwm_kb: u64,
    rss_after_kb: u64,
}

async fn run_once(o: &Options) -> anyhow::Result<Run> {
    let dir = prepare::run_dir()?;
    let db = dir.path().join("bot.db");
    let practice = prepare::practice(&db).await?;
    let (due, setup_at) = prepare::due_minute(o.quick, o.channels, chrono::Utc::now());
    eprintln!(
        "setting up {} channels due at {}",
        o.channels,
        due.format("%H:%M:%S UTC")
    );
    prepare::due_channels(&practice, o.channels, due, setup_at).await?;
    practice.store().close().await;

    let fake = FakeDiscord::start(Arc::new(prepbot_core::clock::SystemClock)).await;
    let (posts, traffic) = Posts::watch(&fake);
    fake.set_global_limit(Some(o.rate));
    let mut bot = bot::spawn_prepbot(
        &fake,
        &db,
        &prepare::shipped_questions(),
        o.rate,
        &dir.path().join("bot.log"),
    )?;
    // With --quick the minute began before the bot did: count from its start.
    let due_at = if o.quick {
        bot.spawned
    } else {
        instant_of(due)
    };
    if !o.quick {
        bot::ready(&fake, &traffic, &mut bot, Duration::from_millis(500)).await?;
        if chrono::Utc::now() >= due {
            eprintln!(
                "warning: the bot was up only after the due minute; it posts them as catch-up"
            );
        }
    }
    let waited = due_at.saturating_duration_since(Instant::now());
    if !waited.is_zero() {
        eprintln!(
            "waiting {:.0} s for {}",
            waited.as_secs_f64(),
            due.format("%H:%M UTC")
        );
    }
    let f = watch_fanout(&fake, &posts, &mut bot, o.channels, o.rate, due_at).await?;
    let hwm_kb = bot.hwm_kb();
    tokio::time::sleep(SAMPLE_AFTER).await;
    let rss_after_kb = bot.rss_kb();
    bot.check_alive()?;
    bot.stop().await;
    Ok(Run {
        f,
        waited,
        hwm_kb,
        rss_after_kb,
    })
}

pub async fn run(o: &Options) -> Outcome {
    let mut runs = Vec::new();
    for r in 0..o.runs {
        eprintln!("fanout run {}/{}", r + 1, o.runs);
        runs.push(run_once(o).await.context("fanout run")?);
    }
    let med = |f: fn(&Run) -> f64| median(&runs.iter().map(f).collect::<Vec<_>>());
    let each = |f: fn(&Run) -> String| runs.iter().map(f).collect::<Vec<_>>().join(", ");
    let share = med(|r| r.f.rate) / o.rate as f64;
    let conns = median(
        &runs
            .iter()
            .map(|r| r.f.peak_connections)
            .collect::<Vec<_>>(),
    );
    let limit = prepbot_discord::rest::DEFAULT_CONCURRENCY;
    let mut section = Section::new("Load: fan-out");
    let mut t = Table::new(&["measure", "median", "each run", "budget", "verdict"]);
    t.row(vec![
        format!("accepted drop requests per second (limit {}/s)", o.rate),
        format!(
            "{:.1} ({:.1}% of the limit)",
            med(|r| r.f.rate),
            share * 100.0
        ),
        each(|r| format!("{:.1}", r.f.rate)),
        "≥ 90% of the limit".into(),
        verdict(share >= BUDGET_SHARE).into(),
    ]);
    t.row(vec![
        format!(
            "drops posted: messages + threads (of {} each)",
            count(o.channels as f64)
        ),
        "".into(),
        each(|r| format!("{} + {}", r.f.messages, r.f.threads)),
        "all".into(),
        verdict(
            runs.iter()
                .all(|r| r.f.messages >= o.channels && r.f.threads >= o.channels),
        )
        .into(),
    ]);
    t.row(vec![
        "threads the bot gave up on (its log: posted, thread not opened)".into(),
        median(
            &runs
                .iter()
                .map(|r| r.f.threads_given_up)
                .collect::<Vec<_>>(),
        )
        .to_string(),
        each(|r| r.f.threads_given_up.to_string()),
        "".into(),
        "".into(),
    ]);
    t.row(vec![
        "429s from the global limit".into(),
        count(med(|r| r.f.rate_limited as f64)),
        each(|r| r.f.rate_limited.to_string()),
        "".into(),
        "".into(),
    ]);
    t.row(vec![
        "peak open TCP connections, bot to fake (gateway included)".into(),
        conns.to_string(),
        each(|r| r.f.peak_connections.to_string()),
        format!("≤ {limit}"),
        verdict(conns <= limit).into(),
    ]);
    let mut clients: Vec<&'static str> = runs
        .iter()
        .flat_map(|r| r.f.peak_by_client.iter().map(|(c, _)| *c))
        .collect();
    clients.sort();
    clients.dedup();
    for client in clients {
        let of = |r: &Run| {
            r.f.peak_by_client
                .iter()
                .filter(|(c, _)| *c == client)
                .map(|(_, n)| *n)
                .max()
                .unwrap_or(0)
        };
        let peak = median(&runs.iter().map(of).collect::<Vec<_>>());
        let rest = client == REST_CLIENT;
        t.row(vec![
            format!("— of which {client}"),
            peak.to_string(),
            runs.iter()
                .map(|r| of(r).to_string())
                .collect::<Vec<_>>()
                .join(", "),
            if rest {
                format!("≤ {limit}")
            } else {
                "".into()
            },
            if rest {
                verdict(peak <= limit).into()
            } else {
                "".into()
            },
        ]);
    }
    t.row(vec![
        "first drop request after the due instant".into(),
        ms(median(
            &runs.iter().map(|r| r.f.first_after_due).collect::<Vec<_>>(),
        )),
        each(|r| ms(r.f.first_after_due)),
        "".into(),
        "".into(),
    ]);
    t.row(vec![
        format!(
            "all {} drops posted (with threads), after the due instant",
            count(o.channels as f64)
        ),
        ms(median(
            &runs.iter().map(|r| r.f.all_after_due).collect::<Vec<_>>(),
        )),
        each(|r| ms(r.f.all_after_due)),
        format!(
            "(the limit allows {:.1} s)",
            2.0 * o.channels as f64 / o.rate as f64
        ),
        "".into(),
    ]);
    t.row(vec![
        "first to last drop request".into(),
        ms(median(
            &runs.iter().map(|r| r.f.first_to_last).collect::<Vec<_>>(),
        )),
        each(|r| ms(r.f.first_to_last)),
        "".into(),
        "".into(),
    ]);
    t.row(vec![
        "bot VmHWM (peak RSS)".into(),
        mb(median(&runs.iter().map(|r| r.hwm_kb).collect::<Vec<_>>())),
        each(|r| mb(r.hwm_kb)),
        "".into(),
        "".into(),
    ]);
    t.row(vec![
        format!("bot VmRSS {} s after the last drop", SAMPLE_AFTER.as_secs()),
        mb(median(
            &runs.iter().map(|r| r.rss_after_kb).collect::<Vec<_>>(),
        )),
        each(|r| mb(r.rss_after_kb)),
        "".into(),
        "".into(),
    ]);
    section.tables.push(t);
    section.note(format!(
        "{} channels (each in its own server) set up for the same minute; {} The bot keeps to {limit} connections to Discord in all (src/discord/rest.rs): {} requests in flight on its REST client's own connections, plus the gateway and serenity's client.",
        count(o.channels as f64),
        if o.quick {
            "with --quick that minute is the one under way, so the bot posts them on startup.".to_string()
        } else {
            format!(
                "the next whole minute in UTC, a real one: the runs waited {} for it.",
                each(|r| format!("{:.0} s", r.waited.as_secs_f64()))
            )
        },
        prepbot_discord::rest::REST_CONNECTIONS,
    ));
    section.note("The rate counts the drop messages and threads the fake accepted per second, over the whole seconds from the first one (the last partial second left out).");
    if o.quick {
        section.note("With --quick the times \"after the due instant\" count from the bot's start, since the minute began before it.");
    }
    Ok(section)
}
