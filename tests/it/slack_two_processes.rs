//! Two `prepbot run` processes with the same Slack tokens, on one PostgreSQL
//! database, against one fake Slack (issue 13): each holds its own Socket Mode
//! connection, and the fake sends each envelope down the one the test names, as
//! Slack spreads them over an app's connections. A timed drop both schedulers race
//! for is posted once; answers arriving through either process, and again through
//! the other, are stored once and get one ✅ each; a setup through one process is
//! what the other reports, and moves the other's next drop; a process killed (-9)
//! while it posts has its claim finished by the other once its heartbeat lapses
//! (30 s), well before the claim's 2-minute lease would. A third process whose
//! connections would take the app past Slack's 10 refuses to start.
//!
//! Without `PREPBOT_TEST_POSTGRES_URL` these say so and pass (see docs/TESTING.md).

use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use chrono::{DateTime, Timelike, Utc};
use prepbot_fake_slack::{
    ADMIN, APP_TOKEN, BOT_TOKEN, CHANNEL, CHANNEL_2, FakeSlack, MEMBER, MEMBER_2, Misbehave,
};
use prepbot_testkit::postgres;
use serde_json::{Value, json};
use sqlx::Connection;

use crate::slack_binary::{prepbot, sigterm};

const WAIT: Duration = Duration::from_secs(20);

/// One `prepbot run` on `database_url`, logging to `dir/{name}.log`, with the
/// default claim lease (2 minutes) and one Socket Mode connection.
fn spawn_process(fake: &FakeSlack, database_url: &str, dir: &std::path::Path, name: &str) -> Child {
    let log = std::fs::File::create(dir.join(format!("{name}.log"))).unwrap();
    prepbot()
        .arg("run")
        .env("SLACK_BOT_TOKEN", BOT_TOKEN)
        .env("SLACK_APP_TOKEN", APP_TOKEN)
        .env("PREPBOT_SLACK_API_BASE", fake.api_base())
        .env("PREPBOT_DATABASE_URL", database_url)
        .env_remove("PREPBOT_CLAIM_LEASE_SECS")
        .env_remove("PREPBOT_SLACK_CONNECTIONS")
        .env("RUST_LOG", "warn,prepbot_slack=info")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap()
}

/// Starts process A, then B, each once the one before holds its connection; returns
/// them with the fake's number for each one's socket.
async fn start_two(
    fake: &FakeSlack,
    database_url: &str,
    dir: &std::path::Path,
) -> ((Child, usize), (Child, usize)) {
    let a = spawn_process(fake, database_url, dir, "a");
    fake.wait_until("A's connection", WAIT, |f| f.open_sockets() == 1)
        .await;
    let on_a = fake.socket_ids()[0];
    let b = spawn_process(fake, database_url, dir, "b");
    fake.wait_until("B's connection", WAIT, |f| f.open_sockets() == 2)
        .await;
    let on_b = fake.socket_ids().into_iter().find(|s| *s != on_a).unwrap();
    ((a, on_a), (b, on_b))
}

/// Sends `/prep text` in `channel` on socket `socket` and waits for its
/// acknowledgement, which must come back on that socket, once; returns the
/// acknowledgement's text and how many answers response_url had before.
async fn command_on(fake: &FakeSlack, socket: usize, channel: &str, text: &str) -> (String, usize) {
    let before = fake.calls_of("response_url").len();
    let id = fake.command_on(socket, channel, ADMIN, text);
    let want = id.clone();
    fake.wait_until("the acknowledgement", WAIT, move |f| {
        f.ack_of(&want).is_some()
    })
    .await;
    assert_eq!(fake.ack_sockets(&id), [socket], "{text}");
    let ack = fake.ack_of(&id).unwrap()["payload"]["text"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    (ack, before)
}

/// A changing command on `socket`: its answer through response_url.
async fn admin_on(fake: &FakeSlack, socket: usize, channel: &str, text: &str) -> String {
    let (_, before) = command_on(fake, socket, channel, text).await;
    fake.wait_until("the answer", WAIT, |f| {
        f.calls_of("response_url").len() > before
    })
    .await;
    fake.calls_of("response_url")[before]["text"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// The next whole minute at least 20 s away, as `HH:MM` in UTC and as the instant
/// the drop falls due.
fn next_minute() -> (String, DateTime<Utc>) {
    let mut at = Utc::now() + chrono::Duration::seconds(60);
    if at.second() > 40 {
        at += chrono::Duration::seconds(20);
    }
    let due = at
        .with_second(0)
        .and_then(|t| t.with_nanosecond(0))
        .unwrap();
    (due.format("%H:%M").to_string(), due)
}

/// Asks `/prep today` in `channel` on `socket` until it names drop `id` as open.
async fn wait_for_open(fake: &FakeSlack, socket: usize, channel: &str, id: u32, within: Duration) {
    let deadline = Instant::now() + within;
    loop {
        let (today, _) = command_on(fake, socket, channel, "today").await;
        if today.starts_with(&format!("Drop #{id}")) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "drop #{id} never showed as open: {today}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

fn reply(fake: &FakeSlack, channel: &str, thread: &str, user: &str, text: &str) -> Value {
    let m = fake.add_message(channel, Some(thread), user, text);
    json!({"type": "message", "channel": channel, "user": user, "text": text,
        "ts": m["ts"], "thread_ts": thread, "channel_type": "channel"})
}

/// The answers stored with these Slack message ts, read from the database.
async fn stored(url: &str, ts: &[&str]) -> Vec<String> {
    let ts: Vec<String> = ts.iter().map(|t| t.to_string()).collect();
    let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
    let mut rows: Vec<String> =
        sqlx::query_scalar("SELECT message_id FROM answers WHERE message_id = ANY($1)")
            .bind(&ts)
            .fetch_all(&mut conn)
            .await
            .unwrap();
    conn.close().await.unwrap();
    rows.sort();
    rows
}

async fn stop(mut child: Child) {
    let status = tokio::task::spawn_blocking(move || sigterm(&mut child))
        .await
        .unwrap();
    assert!(status.success(), "{status:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_post_a_timed_drop_once_and_store_answers_from_both_connections_once() {
    let Some(url) = postgres::fresh_database().await else {
        return;
    };
    let fake = FakeSlack::start().await;
    let dir = tempfile::tempdir().unwrap();
    let ((a, on_a), (b, on_b)) = start_two(&fake, &url, dir.path()).await;

    // Set up through A; B reports it, with the same next drop.
    let (hhmm, due) = next_minute();
    let setup = admin_on(&fake, on_a, CHANNEL, &format!("setup {hhmm} UTC reveal=1")).await;
    assert!(setup.starts_with("Scheduled"), "{setup}");
    let (schedule, _) = command_on(&fake, on_b, CHANNEL, "schedule").await;
    assert!(
        schedule.contains(&format!("at {hhmm} UTC"))
            && schedule.contains(&format!("Next drop: <!date^{}^", due.timestamp())),
        "{schedule}"
    );

    // Both schedulers fall due at the same instant: one of them posts, once; the
    // other never even tries.
    fake.wait_until("the timed drop", Duration::from_secs(100), |f| {
        !f.top_level_posts(CHANNEL).is_empty()
    })
    .await;
    let drop = fake.top_level_posts(CHANNEL).remove(0);
    let posted_at = prepbot_slack::outbound::ts_time(drop["ts"].as_str().unwrap()).unwrap();
    assert!(
        posted_at >= due && posted_at - due < chrono::Duration::seconds(15),
        "due {due}, posted {posted_at}"
    );
    let thread = drop["ts"].as_str().unwrap().to_string();
    wait_for_open(&fake, on_a, CHANNEL, 1, WAIT).await;
    wait_for_open(&fake, on_b, CHANNEL, 1, WAIT).await;
    assert_eq!(fake.top_level_posts(CHANNEL).len(), 1, "one drop message");
    assert_eq!(
        fake.calls_of("chat.postMessage").len(),
        1,
        "one post asked for"
    );

    // Mo's answer arrives through A, Nell's through B; then each again through the
    // other process (a redelivery after a missed ack).
    let mo = reply(&fake, CHANNEL, &thread, MEMBER, "Mo's answer");
    let nell = reply(&fake, CHANNEL, &thread, MEMBER_2, "Nell's answer");
    let sent = [
        (fake.message_event_on(on_a, mo.clone()), on_a),
        (fake.message_event_on(on_b, nell.clone()), on_b),
        (fake.message_event_on(on_b, mo.clone()), on_b),
        (fake.message_event_on(on_a, nell.clone()), on_a),
    ];
    fake.wait_until("both answers acknowledged", WAIT, |f| {
        f.reactions().len() == 2 && sent.iter().all(|(id, _)| f.ack_of(id).is_some())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    for (id, socket) in &sent {
        assert_eq!(
            fake.ack_sockets(id),
            [*socket],
            "{id}: acknowledged once, by its process"
        );
    }
    let (mo_ts, nell_ts) = (mo["ts"].as_str().unwrap(), nell["ts"].as_str().unwrap());
    for ts in [mo_ts, nell_ts] {
        let asked = fake
            .calls_of("reactions.add")
            .iter()
            .filter(|r| r["timestamp"] == ts)
            .count();
        assert_eq!(asked, 1, "{ts}: one ✅ asked for");
    }
    assert_eq!(fake.calls_of("reactions.add").len(), 2);
    let mut both = vec![mo_ts.to_string(), nell_ts.to_string()];
    both.sort();
    assert_eq!(
        stored(&url, &[mo_ts, nell_ts]).await,
        both,
        "each stored once"
    );

    // A third process asking for 9 connections would take the app to 11: it
    // refuses to start, in one line naming the two running, and opens none.
    let third = prepbot()
        .arg("run")
        .env("SLACK_BOT_TOKEN", BOT_TOKEN)
        .env("SLACK_APP_TOKEN", APP_TOKEN)
        .env("PREPBOT_SLACK_API_BASE", fake.api_base())
        .env("PREPBOT_DATABASE_URL", &url)
        .env("PREPBOT_SLACK_CONNECTIONS", "9")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&third.stderr);
    let error: Vec<&str> = stderr.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(third.status.code(), Some(1), "{stderr}");
    assert_eq!(error.len(), 1, "{stderr}");
    assert!(
        error[0].contains("PREPBOT_SLACK_CONNECTIONS does not fit the processes already running")
            && error[0].contains("the running processes hold 2")
            && error[0].contains("this one's 9 would make 11"),
        "{stderr}"
    );
    assert!(!stderr.contains(BOT_TOKEN) && !stderr.contains(APP_TOKEN));
    assert_eq!(fake.open_sockets(), 2, "the third opened no connection");

    stop(a).await;
    stop(b).await;
    // Each process's connection said how many the app had open: A's was the first,
    // B's the second.
    let log_a = std::fs::read_to_string(dir.path().join("a.log")).unwrap();
    let log_b = std::fs::read_to_string(dir.path().join("b.log")).unwrap();
    assert!(log_a.contains("app_connections=1"), "{log_a}");
    assert!(log_b.contains("app_connections=2"), "{log_b}");
    fake.assert_payloads_valid();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_process_killed_mid_post_has_its_claim_finished_by_the_other_and_a_setup_through_it_moves_the_others_drop()
 {
    let Some(url) = postgres::fresh_database().await else {
        return;
    };
    let fake = FakeSlack::start().await;
    let dir = tempfile::tempdir().unwrap();
    let ((mut a, on_a), (b, on_b)) = start_two(&fake, &url, dir.path()).await;

    // Through A: the study channel at a time that is not due today, the other
    // channel at the next minute.
    let first = admin_on(&fake, on_a, CHANNEL, "setup 09:00 UTC reveal=12 days=daily").await;
    assert!(first.starts_with("Scheduled"), "{first}");
    let (hhmm, due) = next_minute();
    let second = admin_on(
        &fake,
        on_a,
        CHANNEL_2,
        &format!("setup {hhmm} UTC reveal=1"),
    )
    .await;
    assert!(second.starts_with("Scheduled"), "{second}");

    // A posts the study channel's drop now; Slack stores it but its answer never
    // comes back, and A is killed (-9) holding the claim.
    fake.fail("chat.postMessage", Misbehave::HangAfterEffect, 1);
    command_on(&fake, on_a, CHANNEL, "drop").await;
    fake.wait_until("the held post", WAIT, |f| {
        f.top_level_posts(CHANNEL).len() == 1
    })
    .await;
    tokio::task::spawn_blocking(move || {
        a.kill().unwrap();
        a.wait().unwrap();
    })
    .await
    .unwrap();
    let killed = Instant::now();
    assert!(
        Utc::now() < due,
        "A was killed after the other channel's drop fell due"
    );

    // B alone posts the other channel's drop at its minute: the setup made through
    // A woke B's scheduler (it had nothing due for hours).
    fake.wait_until("the other channel's drop", Duration::from_secs(100), |f| {
        !f.top_level_posts(CHANNEL_2).is_empty()
    })
    .await;
    let posted = fake.top_level_posts(CHANNEL_2);
    assert_eq!(posted.len(), 1);
    let posted_at = prepbot_slack::outbound::ts_time(posted[0]["ts"].as_str().unwrap()).unwrap();
    assert!(
        posted_at >= due && posted_at - due < chrono::Duration::seconds(15),
        "due {due}, posted {posted_at}"
    );

    // B finishes A's drop once A's heartbeat has lapsed (30 s after its last beat,
    // which is every 10 s) and B's scheduler looks again (at the latest when it
    // posted the other drop, up to 80 s after the kill), not at the end of the
    // 2-minute lease: it finds the post by its marker instead of posting again.
    wait_for_open(&fake, on_b, CHANNEL, 1, Duration::from_secs(100)).await;
    let took = killed.elapsed();
    assert!(
        took < Duration::from_secs(100),
        "finished after {took:?}: that is the lease, not the heartbeat"
    );
    assert!(
        !fake.calls_of("conversations.history").is_empty(),
        "B looked for the post"
    );
    assert_eq!(fake.top_level_posts(CHANNEL).len(), 1, "one drop message");
    let thread = fake.top_level_posts(CHANNEL)[0]["ts"]
        .as_str()
        .unwrap()
        .to_string();

    // And B serves its thread: an answer through B is stored and acknowledged.
    let mo = reply(&fake, CHANNEL, &thread, MEMBER, "after the takeover");
    let mo_ts = mo["ts"].as_str().unwrap().to_string();
    let id = fake.message_event_on(on_b, mo);
    fake.wait_until("the answer acknowledged", WAIT, |f| {
        f.reactions().iter().any(|r| r.1 == mo_ts) && f.ack_of(&id).is_some()
    })
    .await;
    assert_eq!(stored(&url, &[&mo_ts]).await, [mo_ts]);

    stop(b).await;
    fake.assert_payloads_valid();
}
