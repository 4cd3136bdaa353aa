//! The real `prepbot run` binary against the fake Slack (`prepbot-fake-slack`): the
//! tokens it needs and how it says what is missing, a rejected token as one line,
//! the practice loop over Socket Mode with a drop at a local time in a non-UTC zone,
//! faults on the drop's post, kill -9 while the post hangs and right after its
//! commit, no token or Socket Mode ticket in its log, and `/prep forget me` and
//! `/prep remove` with their confirmations, audited in the log, the forget
//! surviving a restart's catch-up.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use chrono::{Timelike, Utc};
use prepbot_fake_slack::{
    ADMIN, APP_TOKEN, BOT_TOKEN, CHANNEL, CREATOR, FakeSlack, MEMBER, MEMBER_2, Misbehave,
};
use serde_json::json;

const WAIT: Duration = Duration::from_secs(20);

pub(crate) fn prepbot() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_prepbot"));
    c.current_dir(env!("CARGO_MANIFEST_DIR"));
    for v in [
        "DISCORD_TOKEN",
        "SLACK_BOT_TOKEN",
        "SLACK_APP_TOKEN",
        "PREPBOT_SLACK_API_BASE",
    ] {
        c.env_remove(v);
    }
    c
}

fn one_line_exit(cmd: &mut Command, code: i32) -> String {
    let out = cmd.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(code), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    stderr
}

#[test]
fn missing_tokens_exit_2_naming_what_to_set() {
    let none = one_line_exit(prepbot().arg("run"), 2);
    for name in ["DISCORD_TOKEN", "SLACK_BOT_TOKEN + SLACK_APP_TOKEN"] {
        assert!(none.contains(name), "{none}");
    }
    let only_bot = one_line_exit(prepbot().arg("run").env("SLACK_BOT_TOKEN", BOT_TOKEN), 2);
    assert!(
        only_bot.starts_with("error: SLACK_APP_TOKEN is not set"),
        "{only_bot}"
    );
    let only_app = one_line_exit(prepbot().arg("run").env("SLACK_APP_TOKEN", APP_TOKEN), 2);
    assert!(
        only_app.starts_with("error: SLACK_BOT_TOKEN is not set"),
        "{only_app}"
    );
    assert!(!only_app.contains(APP_TOKEN));
}

#[test]
fn a_socket_mode_connection_count_over_slacks_limit_is_one_line_and_exit_2() {
    for bad in ["11", "0", "lots"] {
        let err = one_line_exit(
            prepbot()
                .arg("run")
                .env("SLACK_BOT_TOKEN", BOT_TOKEN)
                .env("SLACK_APP_TOKEN", APP_TOKEN)
                .env("PREPBOT_SLACK_CONNECTIONS", bad),
            2,
        );
        assert!(
            err.starts_with(&format!(
                "error: PREPBOT_SLACK_CONNECTIONS must be a number of Socket Mode connections from 1 to 10, not `{bad}`"
            )),
            "{err}"
        );
        assert!(!err.contains(BOT_TOKEN) && !err.contains(APP_TOKEN));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejected_token_is_one_line_and_exit_1_without_the_token() {
    let fake = FakeSlack::start().await;
    let dir = tempfile::tempdir().unwrap();
    fake.revoke(BOT_TOKEN);
    let base = fake.api_base();
    let db = format!("sqlite://{}", dir.path().join("bot.db").display());
    let err = tokio::task::spawn_blocking(move || {
        one_line_exit(
            prepbot()
                .arg("run")
                .env("SLACK_BOT_TOKEN", BOT_TOKEN)
                .env("SLACK_APP_TOKEN", APP_TOKEN)
                .env("PREPBOT_SLACK_API_BASE", base)
                .env("PREPBOT_DATABASE_URL", db),
            1,
        )
    })
    .await
    .unwrap();
    assert!(err.contains("SLACK_BOT_TOKEN was not accepted"), "{err}");
    assert!(err.contains("invalid_auth"), "{err}");
    assert!(!err.contains(BOT_TOKEN) && !err.contains(APP_TOKEN));
    // A wrong app token: the bot token passes, apps.connections.open does not.
    let db = format!("sqlite://{}", dir.path().join("bot2.db").display());
    let fake2 = FakeSlack::start().await;
    let base2 = fake2.api_base();
    let err = tokio::task::spawn_blocking(move || {
        one_line_exit(
            prepbot()
                .arg("run")
                .env("SLACK_BOT_TOKEN", BOT_TOKEN)
                .env("SLACK_APP_TOKEN", "xapp-wrong")
                .env("PREPBOT_SLACK_API_BASE", base2)
                .env("PREPBOT_DATABASE_URL", db),
            1,
        )
    })
    .await
    .unwrap();
    assert!(err.contains("SLACK_APP_TOKEN was not accepted"), "{err}");
    assert_eq!(fake2.connections_opened(), 0);
}

fn spawn_bot(fake: &FakeSlack, dir: &std::path::Path) -> Child {
    let log = std::fs::File::create(dir.join("bot.log")).unwrap();
    prepbot()
        .arg("run")
        .env("SLACK_BOT_TOKEN", BOT_TOKEN)
        .env("SLACK_APP_TOKEN", APP_TOKEN)
        .env("PREPBOT_SLACK_API_BASE", fake.api_base())
        .env(
            "PREPBOT_DATABASE_URL",
            format!("sqlite://{}", dir.join("bot.db").display()),
        )
        .env("PREPBOT_CLAIM_LEASE_SECS", "3")
        .env("RUST_LOG", "trace")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap()
}

pub(crate) fn sigterm(child: &mut Child) -> std::process::ExitStatus {
    let status = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status()
        .unwrap();
    assert!(status.success());
    for _ in 0..200 {
        if let Some(s) = child.try_wait().unwrap() {
            return s;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = child.kill();
    panic!("the bot did not stop on SIGTERM");
}

async fn command(fake: &FakeSlack, user: &str, text: &str) -> usize {
    let before = fake.calls_of("response_url").len();
    let id = fake.command(CHANNEL, user, text);
    fake.wait_until("the acknowledgement", WAIT, move |f| {
        f.ack_of(&id).is_some()
    })
    .await;
    before
}

async fn answered(fake: &FakeSlack, before: usize) -> String {
    fake.wait_until("the answer", WAIT, |f| {
        f.calls_of("response_url").len() > before
    })
    .await;
    fake.calls_of("response_url")[before]["text"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_timed_drop_at_a_local_time_answers_and_a_reveal_with_no_secret_in_the_log() {
    let fake = FakeSlack::start().await;
    let dir = tempfile::tempdir().unwrap();
    let mut bot = spawn_bot(&fake, dir.path());
    fake.wait_until("a Socket Mode session", WAIT, |f| f.open_sockets() == 1)
        .await;

    // The next whole minute in Kolkata (UTC+5:30): a zone whose offset is not whole hours.
    let zone: chrono_tz::Tz = "Asia/Kolkata".parse().unwrap();
    let mut at = Utc::now().with_timezone(&zone) + chrono::Duration::seconds(60);
    if at.second() > 50 {
        at += chrono::Duration::seconds(15);
    }
    let hhmm = at.format("%H:%M").to_string();
    let before = command(
        &fake,
        CREATOR,
        &format!("setup {hhmm} Asia/Kolkata reveal=2"),
    )
    .await;
    let setup = answered(&fake, before).await;
    assert!(
        setup.contains(&format!("at {hhmm} Asia/Kolkata")),
        "{setup}"
    );

    // The drop, posted by the scheduler at that local minute.
    fake.wait_until("the timed drop", Duration::from_secs(100), |f| {
        !f.top_level_posts(CHANNEL).is_empty()
    })
    .await;
    let drop = fake.top_level_posts(CHANNEL).remove(0);
    // The drop's own ts is when the fake stored it.
    let posted_at = prepbot_slack::outbound::ts_time(drop["ts"].as_str().unwrap()).unwrap();
    let due = at
        .with_second(0)
        .and_then(|t| t.with_nanosecond(0))
        .unwrap()
        .with_timezone(&Utc);
    assert!(posted_at >= due, "posted before its time");
    assert!(
        posted_at - due < chrono::Duration::seconds(15),
        "posted late"
    );
    let thread = drop["ts"].as_str().unwrap().to_string();

    // The bot records the post a moment after Slack stored it; a member cannot
    // answer faster than that, and the test waits as a member would.
    wait_for_today(&fake).await;
    // An answer, redelivered: acknowledged once.
    let m = fake.add_message(CHANNEL, Some(&thread), MEMBER, "an answer");
    let event = json!({"type": "message", "channel": CHANNEL, "user": MEMBER, "text": "an answer",
        "ts": m["ts"], "thread_ts": thread});
    fake.message_event(event.clone());
    fake.message_event(event);
    fake.wait_until("the reaction", WAIT, |f| f.reactions().len() == 1)
        .await;

    let before = command(&fake, ADMIN, "reveal").await;
    assert!(
        answered(&fake, before)
            .await
            .starts_with("Revealed drop #1")
    );
    assert!(!fake.bot_replies(CHANNEL, &thread).is_empty());
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(fake.calls_of("reactions.add").len(), 1);
    fake.assert_payloads_valid();

    let status = tokio::task::spawn_blocking(move || sigterm(&mut bot))
        .await
        .unwrap();
    assert!(status.success(), "{status:?}");
    let log = std::fs::read_to_string(dir.path().join("bot.log")).unwrap();
    assert!(
        !log.contains(BOT_TOKEN) && !log.contains(APP_TOKEN),
        "a token in the log"
    );
    assert!(
        !log.contains("secret-ticket"),
        "the Socket Mode ticket in the log"
    );
    assert!(log.contains("Slack Socket Mode session up"), "{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_and_a_lost_answer_on_the_drop_still_make_exactly_one_message() {
    let fake = FakeSlack::start().await;
    let dir = tempfile::tempdir().unwrap();
    let mut bot = spawn_bot(&fake, dir.path());
    fake.wait_until("a Socket Mode session", WAIT, |f| f.open_sockets() == 1)
        .await;
    let before = command(&fake, ADMIN, "setup 09:00 UTC").await;
    assert!(answered(&fake, before).await.starts_with("Scheduled"));

    // A 429 waited out by the client, then a 503 after the post went through: the
    // retry (after the 3 s lease) searches the history and finds it.
    fake.fail("chat.postMessage", Misbehave::RateLimited(1), 1);
    fake.fail_after("chat.postMessage", 0, Misbehave::LostAfterEffect, 1);
    let before = command(&fake, ADMIN, "drop").await;
    let first = answered(&fake, before).await;
    assert!(!first.starts_with("Posted"), "{first}");
    fake.wait_until("the retry's search", Duration::from_secs(60), |f| {
        !f.calls_of("conversations.history").is_empty()
    })
    .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        fake.top_level_posts(CHANNEL).len(),
        1,
        "exactly one drop message"
    );
    wait_for_today(&fake).await;

    let status = tokio::task::spawn_blocking(move || sigterm(&mut bot))
        .await
        .unwrap();
    assert!(status.success(), "{status:?}");
}

/// Asks `/prep today` until the bot names drop #1 as open here.
async fn wait_for_today(fake: &FakeSlack) {
    for _ in 0..50 {
        let id = fake.command(CHANNEL, MEMBER, "today");
        let want = id.clone();
        fake.wait_until("today's answer", WAIT, move |f| f.ack_of(&want).is_some())
            .await;
        let today = fake.ack_of(&id).unwrap();
        if today["payload"]["text"]
            .as_str()
            .is_some_and(|t| t.starts_with("Drop #1"))
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the drop never showed as open");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_while_its_post_hangs_the_restarted_bot_posts_no_second_drop_and_catches_up() {
    let fake = FakeSlack::start().await;
    let dir = tempfile::tempdir().unwrap();
    let mut bot = spawn_bot(&fake, dir.path());
    fake.wait_until("a Socket Mode session", WAIT, |f| f.open_sockets() == 1)
        .await;
    let before = command(&fake, ADMIN, "setup 09:00 UTC reveal=12").await;
    assert!(answered(&fake, before).await.starts_with("Scheduled"));

    // The drop's post is stored by Slack but its answer is held back; the bot is
    // killed (-9) while it waits: the claim is not committed as posted.
    fake.fail("chat.postMessage", Misbehave::HangAfterEffect, 1);
    command(&fake, ADMIN, "drop").await;
    fake.wait_until("the held post", WAIT, |f| {
        f.top_level_posts(CHANNEL).len() == 1
    })
    .await;
    bot.kill().unwrap();
    bot.wait().unwrap();
    let thread = fake.top_level_posts(CHANNEL)[0]["ts"]
        .as_str()
        .unwrap()
        .to_string();
    // Answers posted while the bot is down.
    let a = fake.add_message(CHANNEL, Some(&thread), MEMBER, "while you were away");
    let a_ts = a["ts"].as_str().unwrap().to_string();

    let mut bot = spawn_bot(&fake, dir.path());
    // After the 3 s lease the retry looks in the history first and finds the post.
    fake.wait_until("the retry's search", Duration::from_secs(60), |f| {
        !f.calls_of("conversations.history").is_empty()
    })
    .await;
    wait_for_today(&fake).await;
    assert_eq!(
        fake.top_level_posts(CHANNEL).len(),
        1,
        "exactly one drop message"
    );
    // Restart again: the new session's catch-up reads the thread back and stores the
    // answer posted while the bot was down.
    let status = tokio::task::spawn_blocking(move || sigterm(&mut bot))
        .await
        .unwrap();
    assert!(status.success());
    caught_up_and_revealed_once(&fake, dir.path(), &thread, &a_ts).await;
}

/// Starts the bot on `dir`'s database and checks what a restart after a crash
/// must give: the answer `answer_ts`, posted in `thread` while the bot was down,
/// stored and acknowledged by the catch-up; the reveal in that thread counting it;
/// still one drop message. Stops the bot.
async fn caught_up_and_revealed_once(
    fake: &FakeSlack,
    dir: &std::path::Path,
    thread: &str,
    answer_ts: &str,
) {
    let mut bot = spawn_bot(fake, dir);
    fake.wait_until(
        "the answer posted while down, acknowledged",
        Duration::from_secs(30),
        |f| {
            f.reactions()
                .iter()
                .any(|r| r.1 == answer_ts && r.2 == "white_check_mark")
        },
    )
    .await;
    let before = command(fake, ADMIN, "reveal").await;
    assert!(answered(fake, before).await.starts_with("Revealed drop #1"));
    let replies: String = fake
        .bot_replies(CHANNEL, thread)
        .iter()
        .map(|r| r.to_string())
        .collect();
    assert!(replies.contains("1 member answered on time"), "{replies}");
    assert_eq!(fake.top_level_posts(CHANNEL).len(), 1, "one drop message");
    let status = tokio::task::spawn_blocking(move || sigterm(&mut bot))
        .await
        .unwrap();
    assert!(status.success());
}

/// The third kill point: right after the commit that records the drop as posted.
/// On Slack the thread is the drop message's own `ts`, recorded in that same
/// commit (there is no thread to open, unlike Discord), so the restarted bot
/// neither posts again nor loses the thread: answers posted in it while the bot
/// was down are caught up and the reveal goes into it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_right_after_the_drop_is_committed_the_restarted_bot_keeps_its_thread() {
    let fake = FakeSlack::start().await;
    let dir = tempfile::tempdir().unwrap();
    let mut bot = spawn_bot(&fake, dir.path());
    fake.wait_until("a Socket Mode session", WAIT, |f| f.open_sockets() == 1)
        .await;
    let before = command(&fake, ADMIN, "setup 09:00 UTC reveal=12").await;
    assert!(answered(&fake, before).await.starts_with("Scheduled"));

    command(&fake, ADMIN, "drop").await;
    // Kill -9 as soon as the database says posted, polled every few milliseconds.
    let url = format!("sqlite://{}", dir.path().join("bot.db").display());
    let store = prepbot_core::store::Store::open_existing_url(&url)
        .await
        .unwrap();
    let deadline = std::time::Instant::now() + WAIT;
    let thread = loop {
        let mut conn = store.read().await.unwrap();
        let record = prepbot_core::store::drops::by_id(&mut conn, 1)
            .await
            .unwrap();
        drop(conn);
        if let Some(thread) = record.and_then(|d| d.thread_id) {
            break thread;
        }
        assert!(std::time::Instant::now() < deadline, "never posted");
        tokio::time::sleep(Duration::from_millis(2)).await;
    };
    bot.kill().unwrap();
    bot.wait().unwrap();
    store.close().await;
    let posted = fake.top_level_posts(CHANNEL);
    assert_eq!(posted.len(), 1);
    assert_eq!(
        posted[0]["ts"].as_str(),
        Some(thread.as_str()),
        "the thread is the drop's ts"
    );

    let a = fake.add_message(CHANNEL, Some(&thread), MEMBER, "while you were away");
    let a_ts = a["ts"].as_str().unwrap().to_string();
    caught_up_and_revealed_once(&fake, dir.path(), &thread, &a_ts).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_revoked_while_running_stops_the_adapter_with_one_error() {
    let fake = FakeSlack::start().await;
    let dir = tempfile::tempdir().unwrap();
    let mut bot = spawn_bot(&fake, dir.path());
    fake.wait_until("a Socket Mode session", WAIT, |f| f.open_sockets() == 1)
        .await;
    let before = command(&fake, ADMIN, "setup 09:00 UTC").await;
    assert!(answered(&fake, before).await.starts_with("Scheduled"));
    // The workspace revokes the bot token; the next call sees invalid_auth.
    fake.revoke(BOT_TOKEN);
    command(&fake, ADMIN, "drop").await;
    let status = tokio::task::spawn_blocking(move || {
        for _ in 0..300 {
            if let Some(s) = bot.try_wait().unwrap() {
                return s;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = bot.kill();
        panic!("the bot kept running with a revoked token");
    })
    .await
    .unwrap();
    assert_eq!(status.code(), Some(1));
    let log = std::fs::read_to_string(dir.path().join("bot.log")).unwrap();
    let errors: Vec<&str> = log.lines().filter(|l| l.starts_with("error: ")).collect();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].contains("rejected the bot's token"), "{errors:?}");
    assert!(!log.contains(BOT_TOKEN));
    assert!(fake.top_level_posts(CHANNEL).is_empty());
}

/// How often the bot asked to react to a message (the fake refuses a repeat, so its
/// list of reactions cannot tell).
fn reactions_asked(fake: &FakeSlack, ts: &str) -> usize {
    fake.calls_of("reactions.add")
        .iter()
        .filter(|b| b["timestamp"] == ts)
        .count()
}

/// Whether a log line has `field=value` (a text field is quoted).
fn has(line: &str, field: &str, value: &str) -> bool {
    line.contains(&format!("{field}={value}")) || line.contains(&format!("{field}=\"{value}\""))
}

/// The log's lines that contain `what`.
fn audit(log: &str, what: &str) -> Vec<String> {
    log.lines()
        .filter(|l| l.contains(what))
        .map(str::to_string)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forget_me_outlives_a_restarts_catch_up_and_remove_delete_leaves_no_schedule() {
    let fake = FakeSlack::start().await;
    let dir = tempfile::tempdir().unwrap();
    let mut bot = spawn_bot(&fake, dir.path());
    fake.wait_until("a Socket Mode session", WAIT, |f| f.open_sockets() == 1)
        .await;
    let before = command(&fake, ADMIN, "setup 09:00 UTC reveal=12").await;
    assert!(answered(&fake, before).await.starts_with("Scheduled"));
    let before = command(&fake, ADMIN, "drop").await;
    assert!(answered(&fake, before).await.starts_with("Posted drop #1"));
    wait_for_today(&fake).await;
    let thread = fake.top_level_posts(CHANNEL)[0]["ts"]
        .as_str()
        .unwrap()
        .to_string();
    let m = fake.add_message(CHANNEL, Some(&thread), MEMBER, "Mo's answer");
    let mine = m["ts"].as_str().unwrap().to_string();
    fake.message_event(
        json!({"type": "message", "channel": CHANNEL, "user": MEMBER,
        "text": "Mo's answer", "ts": mine, "thread_ts": thread}),
    );
    fake.wait_until("the answer acknowledged", WAIT, |f| {
        reactions_asked(f, &mine) == 1
    })
    .await;

    // Asked, then confirmed.
    let before = command(&fake, MEMBER, "forget me").await;
    assert_eq!(
        answered(&fake, before).await,
        "This deletes 1 stored answer and the streaks in 1 channel for good. Run `/prep forget me confirm` to do it."
    );
    let before = command(&fake, MEMBER, "forget me confirm").await;
    let done = answered(&fake, before).await;
    assert!(
        done.starts_with("Done: 1 stored answer and the streaks in 1 channel deleted."),
        "{done}"
    );

    // Restarted: the new session's catch-up reads the thread, Mo's answer in it
    // still, and stores only the one posted while the bot was down.
    let status = tokio::task::spawn_blocking(move || sigterm(&mut bot))
        .await
        .unwrap();
    assert!(status.success(), "{status:?}");
    // In the log with who asked, as the core logs it for every platform (ids and
    // counts, not the answer), and the adapter's line names the command as
    // Discord's does. Each run starts its log afresh.
    let log = std::fs::read_to_string(dir.path().join("bot.log")).unwrap();
    let forgotten = audit(&log, "member forgotten");
    assert!(
        forgotten.len() == 1
            && has(&forgotten[0], "by", MEMBER)
            && has(&forgotten[0], "answers", "1")
            && !forgotten[0].contains("Mo's answer"),
        "{forgotten:?}"
    );
    assert!(
        audit(&log, "/prep")
            .iter()
            .any(|l| has(l, "command", "forget me") && has(l, "user", MEMBER)),
        "{log}"
    );
    let n = fake.add_message(CHANNEL, Some(&thread), MEMBER_2, "Nell's answer");
    let nells = n["ts"].as_str().unwrap().to_string();
    let mut bot = spawn_bot(&fake, dir.path());
    fake.wait_until(
        "the answer posted while down, acknowledged",
        Duration::from_secs(30),
        |f| reactions_asked(f, &nells) == 1,
    )
    .await;
    let before = command(&fake, ADMIN, "reveal").await;
    assert!(
        answered(&fake, before)
            .await
            .starts_with("Revealed drop #1")
    );
    let replies: String = fake
        .bot_replies(CHANNEL, &thread)
        .iter()
        .map(|r| r.to_string())
        .collect();
    assert!(replies.contains("1 member answered on time"), "{replies}");
    assert_eq!(reactions_asked(&fake, &mine), 1, "not stored again");

    // The schedule removed with its history: one drop, Nell's answer alone.
    let before = command(&fake, ADMIN, "remove delete").await;
    assert_eq!(
        answered(&fake, before).await,
        "This removes the schedule and deletes its history for good: 1 drop and 1 stored answer, and every streak here. Run `/prep remove delete confirm` to do it."
    );
    let before = command(&fake, CREATOR, "remove delete confirm").await;
    assert_eq!(
        answered(&fake, before).await,
        "Removed, with its history: 1 drop and 1 stored answer deleted. Threads already posted stay in the channel."
    );
    let id = fake.command(CHANNEL, MEMBER, "schedule");
    let want = id.clone();
    fake.wait_until("the schedule's answer", WAIT, move |f| {
        f.ack_of(&want).is_some()
    })
    .await;
    let schedule = fake.ack_of(&id).unwrap()["payload"]["text"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert_eq!(
        schedule,
        "this channel has no schedule yet: run /prep setup here first"
    );

    let status = tokio::task::spawn_blocking(move || sigterm(&mut bot))
        .await
        .unwrap();
    assert!(status.success(), "{status:?}");
    let log = std::fs::read_to_string(dir.path().join("bot.log")).unwrap();
    let removed = audit(&log, "schedule removed");
    assert!(
        removed.len() == 1
            && has(&removed[0], "by", CREATOR)
            && has(&removed[0], "history", "Delete"),
        "{removed:?}"
    );
}
