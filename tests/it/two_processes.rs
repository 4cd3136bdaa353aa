//! Two `prepbot run` processes on one PostgreSQL database, end to end (issue 13,
//! "Tests"): the real binary twice, `PREPBOT_SHARDS=0-0/2` and `1-1/2`, against the
//! fake Discord, whose gateway gives each session the servers of its shard only. In
//! one run, in this order:
//!
//! - 40 channels due the same minute, in four servers (two on each shard): exactly 40
//!   question messages, each drop recorded posted by one process, both of them
//!   posting. Process A is SIGKILLed after 10 posts, in the middle of that pass: B
//!   posts the drops A held once A's heartbeat has lapsed (30 s), and not before,
//!   and opens the threads of those A posted but died before opening: every
//!   question gets one thread.
//! - A restarted A and B: answers in threads of both shards' servers reach the
//!   process of their shard, and each is stored once and acknowledged (✅) once.
//! - `/setup` through A moves B's next drop: A is stopped (SIGSTOP) right after the
//!   setup is stored, and B, which had nothing to do for hours, posts the drop at the
//!   new minute (only the agenda notification told it).
//! - The fake enforces a global REST limit (the rate both processes are given,
//!   `PREPBOT_DISCORD_RATE`, shared through the database, plus one request for
//!   timing jitter): through the pass and the answers, no 429, and never more in any
//!   one-second window; over the whole run, the restarted process's start-up
//!   requests and A's resumption after SIGSTOP included, no 429.
//!
//! The drops come from the database, not from a wall-clock minute: the 40 channels
//! are set up (through the library, a minute before the minute under way) and paused
//! before the processes start, and the test resumes them in one transaction with the
//! agenda notification. Only `/setup` waits for a real minute. About 60-110 s.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, NaiveTime, Timelike, Utc};
use prepbot_core::bank::{PoolFilter, QuestionBank};
use prepbot_core::chat::{ChannelAddress, Platform};
use prepbot_core::engine::schedule::{Days, parse_zone};
use prepbot_core::practice::{ChannelSetup, Practice};
use prepbot_core::store::Store;
use prepbot_fake_discord::fixtures::*;
use prepbot_fake_discord::{FakeDiscord, Recorded, on_shard};
use prepbot_testkit::postgres;
use serde_json::json;
use sqlx::{Connection, PgConnection};

const TOKEN: &str = "MTIzNDU2Nzg5.two-processes.TOKEN-do-not-log";

/// Requests per second both processes are told to keep to, together
/// (`PREPBOT_DISCORD_RATE`).
const RATE: usize = 20;

/// What the fake lets through in any one second, as Discord's global limit would:
/// the rate and one request more. The pacer spaces its slots 2% wider than the rate
/// (20 ms in every second) for the time between a slot and the request's arrival;
/// with two debug builds, PostgreSQL and the test on two cores that time varies by
/// more now and then (one run in five or so ended a second with one request too
/// many), and that is not what this test is about: two processes each pacing alone
/// would send twice the rate.
const LIMIT: usize = RATE + 1;

/// How long a dead process's heartbeat takes to lapse
/// (`prepbot_core::store::processes::PROCESS_LAPSE`).
const LAPSE: chrono::Duration = prepbot_core::store::processes::PROCESS_LAPSE;

const CHANNELS: u64 = 40;

/// Server `k` is on shard `k % 2` of 2: bit 22 of the base is clear.
fn guild(k: u64) -> u64 {
    (840_000_000_000_000_000 & !((1 << 23) - 1)) + (k << 22) + 7
}

/// Channel `i` of the fan-out, in server `i % 4`.
fn channel(i: u64) -> u64 {
    850_000_000_000_000_000 + i
}

fn guild_of_channel(i: u64) -> u64 {
    guild(i % 4)
}

/// The channel `/setup` is run in, in server 0 (shard 0).
const LATE_CHANNEL: u64 = 850_000_000_000_000_100;

fn prepbot() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_prepbot"));
    c.current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("PREPBOT_QUESTIONS")
        .env_remove("PREPBOT_DEV_GUILD")
        .env_remove("PREPBOT_CLAIM_LEASE_SECS")
        .env_remove("PREPBOT_CATCH_UP_GRACE_MINS")
        .env_remove("SLACK_BOT_TOKEN")
        .env_remove("SLACK_APP_TOKEN");
    c
}

/// A running `prepbot run`, killed if the test ends without stopping it.
struct Bot {
    child: Child,
    log: PathBuf,
}

impl Bot {
    fn start(fake: &FakeDiscord, url: &str, shards: &str, log: PathBuf) -> Bot {
        let file = std::fs::File::create(&log).unwrap();
        let child = prepbot()
            .arg("run")
            .env("DISCORD_TOKEN", TOKEN)
            .env("PREPBOT_DISCORD_API_BASE", fake.base())
            .env("PREPBOT_DATABASE_URL", url)
            .env("PREPBOT_SHARDS", shards)
            .env("PREPBOT_DISCORD_RATE", RATE.to_string())
            .env("RUST_LOG", "info")
            .stdout(Stdio::from(file.try_clone().unwrap()))
            .stderr(Stdio::from(file))
            .spawn()
            .unwrap();
        Bot { child, log }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.pid().to_string())
            .status()
            .unwrap();
        assert!(status.success(), "kill -{signal}");
    }

    fn logs(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The drops this process logged as posted.
    fn drops_posted(&self) -> Vec<i64> {
        self.logs()
            .lines()
            .filter(|l| l.contains("drop posted"))
            .filter_map(|l| {
                l.split_whitespace()
                    .find_map(|w| w.strip_prefix("drop="))
                    .and_then(|n| n.parse().ok())
            })
            .collect()
    }

    /// SIGTERM, then the exit code (within 20 s).
    async fn stop(mut self) -> (Option<i32>, String) {
        self.signal("TERM");
        let deadline = Instant::now() + Duration::from_secs(20);
        let code = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status.code();
            }
            if Instant::now() > deadline {
                break None;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        (code, self.logs())
    }
}

impl Drop for Bot {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The `Instant` of a wall-clock time, to compare with the fake's timestamps.
fn instant_of(at: DateTime<Utc>) -> Instant {
    let (now_i, now_w) = (Instant::now(), Utc::now());
    match (at - now_w).to_std() {
        Ok(ahead) => now_i + ahead,
        Err(_) => now_i
            .checked_sub((now_w - at).to_std().unwrap_or_default())
            .unwrap_or(now_i),
    }
}

fn messages_path(channel: u64) -> String {
    format!("/api/v10/channels/{channel}/messages")
}

fn is_post_to(r: &Recorded, channel: u64) -> bool {
    r.method == "POST" && r.path == messages_path(channel)
}

/// The bot's question messages in `channel`, as the fake created them.
fn questions_in(fake: &FakeDiscord, channel: u64) -> Vec<serde_json::Value> {
    fake.posted_messages()
        .into_iter()
        .filter(|(c, m)| *c == channel && m["embeds"].as_array().is_some_and(|e| !e.is_empty()))
        .map(|(_, m)| m)
        .collect()
}

/// Sets up the 40 channels due at the minute under way, as `/setup` a minute earlier
/// would have, and pauses them: the test resumes them all at once when both
/// processes are up.
async fn seed_paused_channels(url: &str) -> DateTime<Utc> {
    let now = Utc::now();
    let due = DateTime::from_timestamp(now.timestamp().div_euclid(60) * 60, 0).unwrap();
    let setup_at = due - chrono::Duration::minutes(1);
    let store = Store::open_url(url).await.unwrap();
    let bank = QuestionBank::shipped().expect("the shipped bank loads");
    let practice = Practice::new(store.clone(), Arc::new(bank));
    for i in 0..CHANNELS {
        let setup = ChannelSetup {
            address: ChannelAddress::new(
                Platform::Discord,
                guild_of_channel(i).to_string(),
                channel(i).to_string(),
            ),
            name: None,
            time: NaiveTime::from_hms_opt(due.hour(), due.minute(), 0).unwrap(),
            zone: parse_zone("UTC").unwrap(),
            days: Days::DAILY,
            reveal_after_hours: 24,
            pool: PoolFilter::default(),
        };
        let (c, next) = practice.setup_channel(setup, i, setup_at).await.unwrap();
        assert_eq!(next.drop_at, due);
        practice.set_paused(c.key, true, setup_at).await.unwrap();
    }
    store.close().await;
    due
}

/// Resumes every paused channel in one transaction and tells every process, as a
/// command would (`pg_notify` on the agenda channel): all 40 are due at once. Not
/// through `/resume`, which would skip the day that passed while paused.
async fn release(url: &str) {
    let mut conn = PgConnection::connect(url).await.unwrap();
    let mut tx = conn.begin().await.unwrap();
    let resumed = sqlx::query("UPDATE channels SET paused = 0 WHERE paused = 1")
        .execute(&mut *tx)
        .await
        .unwrap();
    assert_eq!(resumed.rows_affected(), CHANNELS);
    sqlx::query("SELECT pg_notify('prepbot_agenda', '')")
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    conn.close().await.unwrap();
}

/// The most requests counting towards the global limit in any one-second window.
fn busiest_second(requests: &[Recorded]) -> usize {
    let mut at: Vec<Instant> = requests
        .iter()
        .filter(|r| {
            !r.path.starts_with("/api/v10/interactions/")
                && !r.path.starts_with("/api/v10/webhooks/")
        })
        .map(|r| r.at)
        .collect();
    at.sort();
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

/// The shortest time between two requests counting towards the global limit.
fn closest(requests: &[Recorded]) -> Duration {
    let mut at: Vec<Instant> = requests
        .iter()
        .filter(|r| {
            !r.path.starts_with("/api/v10/interactions/")
                && !r.path.starts_with("/api/v10/webhooks/")
        })
        .map(|r| r.at)
        .collect();
    at.sort();
    at.windows(2)
        .map(|w| w[1].duration_since(w[0]))
        .min()
        .unwrap_or_default()
}

/// The requests, one a line, with their time from the first: for a failure's message.
fn timeline(requests: &[Recorded]) -> String {
    let Some(first) = requests.first().map(|r| r.at) else {
        return String::new();
    };
    requests
        .iter()
        .map(|r| {
            format!(
                "{:7.3} {} {} {}",
                r.at.duration_since(first).as_secs_f64(),
                r.status,
                r.method,
                r.path
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

async fn wait_for_requests(
    fake: &FakeDiscord,
    what: &str,
    n: usize,
    pred: impl Fn(&Recorded) -> bool,
) {
    fake.wait_count(what, n, Duration::from_secs(30), pred)
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_share_one_database_and_the_fake_discords_shards() {
    let Some(url) = postgres::fresh_database().await else {
        return;
    };
    let due = seed_paused_channels(&url).await;

    let fake = FakeDiscord::start(Arc::new(prepbot_core::clock::SystemClock)).await;
    fake.set_global_limit(Some(LIMIT));
    for k in 0..4 {
        let mut channels: Vec<(u64, String)> = (0..CHANNELS)
            .filter(|i| i % 4 == k)
            .map(|i| (channel(i), format!("study-{i}")))
            .collect();
        if k == 0 {
            channels.push((LATE_CHANNEL, "late".into()));
        }
        let channels: Vec<(u64, &str)> = channels.iter().map(|(c, n)| (*c, n.as_str())).collect();
        fake.add_guild(guild(k), &channels);
        assert!(
            on_shard(guild(k), [k % 2, 2]),
            "server {k} is on shard {}",
            k % 2
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let commands = |r: &Recorded| r.method == "PUT" && r.path.ends_with("/commands");
    let mut a = Bot::start(&fake, &url, "0-0/2", dir.path().join("a.log"));
    wait_for_requests(&fake, "A's commands", 1, commands).await;
    let b = Bot::start(&fake, &url, "1-1/2", dir.path().join("b.log"));
    wait_for_requests(&fake, "B's commands", 2, commands).await;
    fake.wait_until("both sessions identified", Duration::from_secs(30), || {
        let mut s = fake.sessions();
        s.sort();
        s == [Some([0, 2]), Some([1, 2])]
    })
    .await;
    let mut identified = fake.identify_shards();
    identified.sort();
    assert_eq!(
        identified,
        [[0, 2], [1, 2]],
        "one IDENTIFY per process, its shard"
    );

    // ---- 40 channels due the same minute; A killed in the middle of the pass -----
    let all: Vec<u64> = (0..CHANNELS).map(channel).collect();
    let is_question_post = |r: &Recorded| {
        r.method == "POST" && r.status == 200 && all.iter().any(|c| r.path == messages_path(*c))
    };
    release(&url).await;
    let released = Instant::now();
    wait_for_requests(&fake, "10 question posts", 10, is_question_post).await;
    a.child.kill().unwrap(); // SIGKILL
    a.child.wait().unwrap();
    let killed = Instant::now();
    let a_posted = a.drops_posted();

    let mut db = PgConnection::connect(&url).await.unwrap();
    let (a_id, heard_at): (String, i64) =
        sqlx::query_as("SELECT id, heard_at FROM processes WHERE pid = $1")
            .bind(i64::from(a.pid()))
            .fetch_one(&mut db)
            .await
            .unwrap();
    let held: Vec<(i64, String)> = sqlx::query_as(
        "SELECT d.id, c.conversation_id FROM drops d JOIN channels c ON c.id = d.channel_id \
         WHERE d.holder = $1 AND d.state = 'claimed' ORDER BY d.id",
    )
    .bind(&a_id)
    .fetch_all(&mut db)
    .await
    .unwrap();
    assert!(
        !held.is_empty(),
        "A held no claim when killed: the kill came too late to test a takeover"
    );
    let lapse = DateTime::from_timestamp(heard_at, 0).unwrap() + LAPSE;
    let lapse_at = instant_of(lapse);

    let threaded = |requests: &[Recorded], c: u64| {
        requests.iter().any(|r| {
            r.method == "POST"
                && r.status == 200
                && r.path.starts_with(&format!("{}/", messages_path(c)))
                && r.path.ends_with("/threads")
        })
    };
    fake.wait_until("40 question messages", Duration::from_secs(75), || {
        all.iter().all(|c| !questions_in(&fake, *c).is_empty())
    })
    .await;
    fake.wait_until(
        "every drop recorded posted",
        Duration::from_secs(30),
        || {
            let b_posted = b.drops_posted();
            a_posted.len() + b_posted.len() >= CHANNELS as usize
        },
    )
    .await;
    // Every channel's drop.
    let drop_channels: Vec<(i64, u64)> = sqlx::query_as::<_, (i64, String)>(
        "SELECT d.id, c.conversation_id FROM drops d JOIN channels c ON c.id = d.channel_id",
    )
    .fetch_all(&mut db)
    .await
    .unwrap()
    .into_iter()
    .map(|(d, c)| (d, c.parse().unwrap()))
    .collect();
    assert_eq!(drop_channels.len(), 40);
    // Every drop gets its thread: B opens those of the drops it posted, A's taken
    // over ones too, and those A recorded posted but died before opening.
    fake.wait_until("every drop's thread", Duration::from_secs(30), || {
        let requests = fake.requests();
        drop_channels.iter().all(|(_, c)| threaded(&requests, *c))
    })
    .await;
    let done = Instant::now();
    // Anything posted twice would arrive now.
    tokio::time::sleep(Duration::from_secs(1)).await;
    for c in &all {
        assert_eq!(
            questions_in(&fake, *c).len(),
            1,
            "channel {c}: one question"
        );
    }
    let questions: usize = all.iter().map(|c| questions_in(&fake, *c).len()).sum();
    assert_eq!(questions, 40, "exactly 40 question messages");
    let states: Vec<(String, i64)> =
        sqlx::query_as("SELECT state, COUNT(*) FROM drops GROUP BY state ORDER BY state")
            .fetch_all(&mut db)
            .await
            .unwrap();
    assert_eq!(
        states,
        [("posted".to_string(), 40)],
        "one drop per channel, posted"
    );
    let same_minute: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM drops WHERE due_at = $1")
        .bind(due.timestamp())
        .fetch_one(&mut db)
        .await
        .unwrap();
    assert_eq!(same_minute, 40, "all due at {due}");
    // Each drop recorded as posted by one process, and both posted some.
    let b_posted = b.drops_posted();
    let (a_set, b_set): (BTreeSet<i64>, BTreeSet<i64>) = (
        a_posted.iter().copied().collect(),
        b_posted.iter().copied().collect(),
    );
    assert_eq!(a_set.len(), a_posted.len(), "A logged a drop twice");
    assert_eq!(b_set.len(), b_posted.len(), "B logged a drop twice");
    assert!(
        a_set.is_disjoint(&b_set),
        "a drop posted by both: {a_set:?} {b_set:?}"
    );
    assert_eq!(a_set.len() + b_set.len(), 40);
    assert!(
        !a_set.is_empty() && !b_set.is_empty(),
        "both processes posted: A {a_set:?}"
    );
    // What A held went out only once its heartbeat lapsed, by B, under the same nonce.
    let requests = fake.requests();
    for (drop, conversation) in &held {
        assert!(
            b_set.contains(drop),
            "drop {drop} held by A was finished by B"
        );
        let c: u64 = conversation.parse().unwrap();
        let after_kill: Vec<&Recorded> = requests
            .iter()
            // Later than anything A sent before it died could arrive.
            .filter(|r| is_post_to(r, c) && r.at > killed + Duration::from_millis(200))
            .collect();
        assert!(!after_kill.is_empty(), "B posted channel {c}'s drop");
        for r in after_kill {
            assert!(
                r.at + Duration::from_millis(50) >= lapse_at,
                "channel {c}'s drop was posted {:?} before A's heartbeat lapsed",
                lapse_at.duration_since(r.at)
            );
            assert!(
                r.at < lapse_at + Duration::from_secs(15),
                "channel {c}'s drop waited {:?} past the lapse",
                r.at.duration_since(lapse_at)
            );
        }
        let nonces: BTreeSet<String> = requests
            .iter()
            .filter(|r| is_post_to(r, c))
            .map(|r| r.body["nonce"].to_string())
            .collect();
        assert_eq!(nonces.len(), 1, "channel {c}: one nonce for every attempt");
    }
    // One thread per question: a second request for one (A's, cut short by the
    // kill after Discord made the thread, then B's) gets Discord's 400 "already
    // created", which the bot takes as the thread being there.
    let threads: Vec<&Recorded> = requests
        .iter()
        .filter(|r| r.method == "POST" && r.path.ends_with("/threads"))
        .collect();
    let opened: BTreeSet<&str> = threads
        .iter()
        .filter(|r| r.status == 200)
        .map(|r| r.path.as_str())
        .collect();
    assert_eq!(opened.len(), 40, "a thread for each question");
    assert_eq!(
        threads.iter().filter(|r| r.status == 200).count(),
        40,
        "no thread opened twice"
    );
    assert!(
        threads.iter().all(|r| r.status == 200 || r.status == 400),
        "a thread request failed otherwise"
    );
    // Drops A recorded posted but died before opening the thread of: B opened them,
    // once A's heartbeat had lapsed.
    let thread_opened_at = |d: &i64| {
        let c = drop_channels.iter().find(|(id, _)| id == d).unwrap().1;
        let prefix = format!("{}/", messages_path(c));
        threads
            .iter()
            .find(|r| r.status == 200 && r.path.starts_with(&prefix))
            .unwrap()
            .at
    };
    let a_unopened: Vec<i64> = a_set
        .iter()
        .copied()
        .filter(|d| thread_opened_at(d) >= killed)
        .collect();
    for d in &a_unopened {
        assert!(
            thread_opened_at(d) >= lapse_at,
            "drop {d}: its thread opened before A's heartbeat lapsed"
        );
    }
    // The pass, from the release until B opened its last thread: the takeover too.
    let pass: Vec<Recorded> = requests
        .iter()
        .filter(|r| r.at >= released && r.at <= done)
        .cloned()
        .collect();
    assert_eq!(
        fake.rate_limited(),
        0,
        "a request of the pass over the fake's limit:\n{}",
        timeline(&pass)
    );
    let busiest = busiest_second(&pass);
    assert!(
        busiest <= LIMIT,
        "{busiest} requests in one second of the pass"
    );
    eprintln!(
        "40 drops: {questions} question posts, {} thread requests ({} of drops A recorded posted but whose threads were opened after the kill); A recorded {}, B {}; {} held by A at the kill, all posted {:.1} s after it, {:.1} s after A's heartbeat lapsed; the pass: {} requests in {:.1} s, the busiest second {busiest} (rate {RATE}, limit {LIMIT}), the closest two {:.1} ms apart",
        threads.len(),
        a_unopened.len(),
        a_set.len(),
        b_set.len(),
        held.len(),
        done.duration_since(killed).as_secs_f64(),
        done.saturating_duration_since(lapse_at).as_secs_f64(),
        pass.len(),
        done.duration_since(released).as_secs_f64(),
        closest(&pass).as_secs_f64() * 1000.0,
    );

    // ---- answers through both processes ----------------------------------------
    let a2 = Bot::start(&fake, &url, "0-0/2", dir.path().join("a2.log"));
    wait_for_requests(&fake, "the restarted A's commands", 3, commands).await;
    fake.wait_until("the restarted A's session", Duration::from_secs(30), || {
        let mut s = fake.sessions();
        s.sort();
        s == [Some([0, 2]), Some([1, 2])]
    })
    .await;
    // Its catch-up lists every open drop's thread at the full rate: let it finish
    // before counting the answers' requests.
    let started = Instant::now();
    wait_for_requests(&fake, "the restarted A's catch-up", 40, |r| {
        r.method == "GET" && r.path.ends_with("/messages") && r.at >= started
    })
    .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let limited_before = fake.rate_limited();
    let answering = Instant::now();
    // A thread in each of the four servers, two members answering in each.
    let members = [Person::member(21, "Ben"), Person::member(22, "Cy")];
    let mut answers: Vec<(u64, u64)> = Vec::new(); // (thread, message)
    let mut by_shard: BTreeMap<u64, usize> = BTreeMap::new();
    for k in 0..4 {
        let i = (k..CHANNELS)
            .step_by(4)
            .find(|i| threaded(&requests, channel(*i)))
            .expect("a thread in each server");
        let question = &questions_in(&fake, channel(i))[0];
        let thread: u64 = question["id"].as_str().unwrap().parse().unwrap();
        for m in &members {
            let id = fake.snowflake();
            let shard = fake.dispatch_on_shard(
                "MESSAGE_CREATE",
                member_message(id, thread, guild_of_channel(i), m, "an answer", Utc::now()),
            );
            assert_eq!(
                shard,
                Some([i % 2, 2]),
                "server {i}'s events go to shard {}",
                i % 2
            );
            *by_shard.entry(i % 2).or_default() += 1;
            answers.push((thread, id));
        }
    }
    assert_eq!(by_shard, BTreeMap::from([(0, 4), (1, 4)]));
    let acks = |requests: &[Recorded], message: u64| {
        requests
            .iter()
            .filter(|r| {
                r.method == "PUT" && r.path.contains(&format!("/messages/{message}/reactions/"))
            })
            .count()
    };
    for (_, id) in &answers {
        fake.wait_until("an acknowledgement", Duration::from_secs(30), || {
            acks(&fake.requests(), *id) > 0
        })
        .await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let requests = fake.requests();
    for (thread, id) in &answers {
        assert_eq!(acks(&requests, *id), 1, "answer {id} in {thread}: one ✅");
    }
    let ids: Vec<String> = answers.iter().map(|(_, id)| id.to_string()).collect();
    let (stored, distinct): (i64, i64) = sqlx::query_as(
        "SELECT COUNT(*), COUNT(DISTINCT message_id) FROM answers WHERE message_id = ANY($1)",
    )
    .bind(&ids)
    .fetch_one(&mut db)
    .await
    .unwrap();
    assert_eq!((stored, distinct), (8, 8), "each answer stored once");
    let answered: Vec<Recorded> = requests
        .iter()
        .filter(|r| r.at >= answering)
        .cloned()
        .collect();
    assert_eq!(
        fake.rate_limited(),
        limited_before,
        "an acknowledgement over the limit"
    );
    assert!(busiest_second(&answered) <= LIMIT);

    // ---- /setup through A moves B's next drop ----------------------------------
    // The next whole minute at least 6 s away: time to set up and stop A first.
    let at = {
        let t = Utc::now() + chrono::Duration::seconds(6);
        let t = t.with_nanosecond(0).unwrap();
        if t.second() == 0 {
            t
        } else {
            t + chrono::Duration::seconds(i64::from(60 - t.second()))
        }
    };
    let admin = Person::admin(1, "Ada");
    let setup = in_guild(
        slash(
            fake.snowflake(),
            "tok-setup",
            "setup",
            vec![
                opt(
                    "time",
                    json!(format!("{:02}:{:02}", at.hour(), at.minute())),
                ),
                opt("timezone", json!("UTC")),
            ],
            &admin,
            LATE_CHANNEL,
        ),
        guild(0),
    );
    assert_eq!(
        fake.dispatch_on_shard("INTERACTION_CREATE", setup),
        Some([0, 2])
    );
    let reply = fake
        .wait_for("the setup's reply", Duration::from_secs(30), |r| {
            r.path.ends_with("/tok-setup")
        })
        .await;
    assert!(
        reply.body["content"]
            .as_str()
            .is_some_and(|t| t.starts_with("Scheduled:")),
        "{}",
        reply.body
    );
    a2.signal("STOP");
    assert!(
        Utc::now() < at,
        "A was stopped only after the new drop time: too slow a machine for this test"
    );
    let late = fake
        .wait_for("the moved drop, by B", Duration::from_secs(90), |r| {
            is_post_to(r, LATE_CHANNEL)
        })
        .await;
    assert!(
        late.at + Duration::from_millis(50) >= instant_of(at),
        "not before its minute"
    );
    assert!(
        late.at < instant_of(at) + Duration::from_secs(10),
        "at its minute"
    );
    a2.signal("CONT");
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(questions_in(&fake, LATE_CHANNEL).len(), 1, "posted once");

    // Over the whole run, the restarted A's start-up and A's resumption after
    // SIGSTOP included: its start-up requests take slots of the shared schedule,
    // and a request that slept through the stop takes a new slot rather than going
    // out on top of the others' (each went over the limit once before).
    let requests = fake.requests();
    let limited: Vec<String> = timeline(&requests)
        .lines()
        .filter(|l| l.contains(" 429 "))
        .map(str::to_string)
        .collect();
    eprintln!(
        "the whole run: {} requests, the busiest second {} (rate {RATE}, limit {LIMIT}), {} answered 429: {limited:?}",
        requests.len(),
        busiest_second(&requests),
        fake.rate_limited()
    );
    assert_eq!(fake.rate_limited(), 0, "over the limit: {limited:?}");

    for bot in [a2, b] {
        let (code, logs) = bot.stop().await;
        assert_eq!(code, Some(0), "a clean exit on SIGTERM:\n{logs}");
        assert!(!logs.contains(TOKEN), "the token appeared in the logs");
    }
    db.close().await.unwrap();
}
