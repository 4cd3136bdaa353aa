//! PostgreSQL going away under the real `prepbot run` (issue 13, "Faults"): the bot
//! reaches its database through a proxy the test cuts and restores, as a server
//! restart looks from the bot. While it is cut, a command says the database is
//! unavailable, answers are kept and not acknowledged; once it is back every answer
//! is stored and acknowledged once, and the scheduler posts the drop that fell due
//! meanwhile. A server that cannot be reached, or refuses the credentials, at
//! start-up is one line and exit 1. The URL's password appears nowhere.

use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use chrono::{Timelike, Utc};
use prepbot_fake_discord::fixtures::*;
use prepbot_fake_discord::{CHANNEL_A, CHANNEL_A2, FakeDiscord, GUILD_A, Recorded};
use prepbot_testkit::postgres;
use prepbot_testkit::proxy::CuttableProxy;
use serde_json::json;
use sqlx::Connection;

const TOKEN: &str = "MTIzNDU2Nzg5.db-faults.TOKEN-do-not-log";

/// Any password works on the test server (it trusts local connections); what
/// matters is that it is never printed.
const PASSWORD: &str = "pw-Faults-7c41";

fn prepbot() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_prepbot"));
    c.current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("PREPBOT_QUESTIONS")
        .env_remove("SLACK_BOT_TOKEN")
        .env_remove("SLACK_APP_TOKEN");
    c
}

/// Runs `prepbot run` with `database_url` until it exits (at most 60 s).
fn run_to_exit(database_url: &str) -> std::process::Output {
    let child = prepbot()
        .arg("run")
        .env("DISCORD_TOKEN", TOKEN)
        // Never reached: the database is opened first.
        .env("PREPBOT_DISCORD_API_BASE", "http://127.0.0.1:9")
        .env("PREPBOT_DATABASE_URL", database_url)
        .env_remove("RUST_LOG")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let killer = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_secs(60));
        let _ = Command::new("kill").arg("-9").arg(pid.to_string()).status();
    });
    let out = child.wait_with_output().unwrap();
    drop(killer);
    out
}

#[test]
fn an_unreachable_postgresql_at_start_up_is_one_line_and_exit_1() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let out = run_to_exit(&format!(
        "postgres://prepbot:{PASSWORD}@127.0.0.1:{port}/prepbot"
    ));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with(&format!(
            "error: cannot open the database postgres://***@127.0.0.1:{port}/prepbot: "
        )),
        "{stderr}"
    );
    // What the network said, not that a pool timed out.
    assert!(stderr.contains("Connection refused"), "{stderr}");
    assert!(!stderr.contains(PASSWORD), "{stderr}");
    assert!(out.stdout.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_postgresql_refuses_at_start_up_are_one_line_and_exit_1() {
    let Some(url) = postgres::fresh_database().await else {
        return;
    };
    let server = postgres::server(&url);
    let db = url.rsplit_once('/').unwrap().1;
    // The test server trusts every local connection whatever the password, so a
    // user it does not know stands in for a wrong password: refused at the same
    // step, before any query.
    let refused = postgres::via(&url, server, "nobody_here", PASSWORD);
    let out = tokio::task::spawn_blocking(move || run_to_exit(&refused))
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with(&format!(
            "error: cannot open the database postgres://***@{server}/{db}: "
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains(r#"role "nobody_here" does not exist"#),
        "{stderr}"
    );
    assert!(!stderr.contains(PASSWORD), "{stderr}");
}

fn reactions_on(requests: &[Recorded], message: u64) -> usize {
    requests
        .iter()
        .filter(|r| {
            r.method == "PUT" && r.path.contains(&format!("/messages/{message}/reactions/"))
        })
        .count()
}

/// Stored answers among `messages`, read from the database directly (not through
/// the proxy).
async fn stored(url: &str, messages: &[u64]) -> i64 {
    let ids: Vec<String> = messages.iter().map(u64::to_string).collect();
    let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
    let n = sqlx::query_scalar("SELECT COUNT(*) FROM answers WHERE message_id = ANY($1)")
        .bind(&ids)
        .fetch_one(&mut conn)
        .await
        .unwrap();
    conn.close().await.unwrap();
    n
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgresql_going_away_under_the_bot_loses_no_answer_and_the_scheduler_resumes() {
    let Some(url) = postgres::fresh_database().await else {
        return;
    };
    let proxy = CuttableProxy::start(postgres::server(&url)).await;
    let through_proxy = postgres::via(&url, proxy.addr(), postgres::user(&url), PASSWORD);

    let fake = FakeDiscord::start(Arc::new(prepbot_core::clock::SystemClock)).await;
    let dir = tempfile::tempdir().unwrap();
    let log_path = dir.path().join("bot.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let mut child = prepbot()
        .arg("run")
        .env("DISCORD_TOKEN", TOKEN)
        .env("PREPBOT_DISCORD_API_BASE", fake.base())
        .env("PREPBOT_DEV_GUILD", GUILD_A.to_string())
        .env("PREPBOT_DATABASE_URL", &through_proxy)
        .env("RUST_LOG", "info,sqlx=debug")
        .stdout(Stdio::from(log.try_clone().unwrap()))
        .stderr(Stdio::from(log))
        .spawn()
        .unwrap();
    let wait = Duration::from_secs(30);
    fake.wait_identified(wait).await;
    fake.wait_for("commands", wait, |r| r.path.ends_with("/commands"))
        .await;
    let ada = Person::admin(1, "Ada");
    let command = |token: &str, name: &str, options: Vec<serde_json::Value>, channel: u64| {
        let id = fake.snowflake();
        fake.dispatch(
            "INTERACTION_CREATE",
            slash(id, token, name, options, &ada, channel),
        );
        id
    };

    // Channel A: a schedule far from now, and today's drop on demand, for answers.
    let later = Utc::now() + chrono::Duration::hours(6);
    command(
        "tok-setup-a",
        "setup",
        vec![
            opt("time", json!(format!("{:02}:00", later.hour()))),
            opt("timezone", json!("UTC")),
        ],
        CHANNEL_A,
    );
    fake.wait_for("the setup follow-up", wait, |r| {
        r.path.ends_with("/tok-setup-a")
    })
    .await;
    command("tok-drop", "drop", vec![], CHANNEL_A);
    let drops_a = format!("/api/v10/channels/{CHANNEL_A}/messages");
    let thread_post = fake
        .wait_for("the thread under the drop", wait, |r| {
            r.method == "POST"
                && r.path.starts_with(&format!("{drops_a}/"))
                && r.path.ends_with("/threads")
        })
        .await;
    let thread: u64 = thread_post
        .path
        .trim_start_matches(&format!("{drops_a}/"))
        .trim_end_matches("/threads")
        .parse()
        .unwrap();
    // One answer while all is well: stored and acknowledged.
    let members = [
        Person::member(11, "Ben"),
        Person::member(12, "Cy"),
        Person::member(13, "Di"),
    ];
    let before = fake.snowflake();
    fake.dispatch(
        "MESSAGE_CREATE",
        member_message(before, thread, GUILD_A, &ada, "before the cut", Utc::now()),
    );
    fake.wait_for("the first acknowledgement", wait, |r| {
        r.path.contains(&format!("/messages/{before}/reactions/"))
    })
    .await;

    // Channel A2: a drop due at the first whole minute at least 12 s from now, so
    // it falls due while the database is away.
    let due = {
        let t = Utc::now() + chrono::Duration::seconds(12);
        let t = t.with_nanosecond(0).unwrap();
        if t.second() == 0 {
            t
        } else {
            t + chrono::Duration::seconds(i64::from(60 - t.second()))
        }
    };
    command(
        "tok-setup-a2",
        "setup",
        vec![
            opt(
                "time",
                json!(format!("{:02}:{:02}", due.hour(), due.minute())),
            ),
            opt("timezone", json!("UTC")),
        ],
        CHANNEL_A2,
    );
    fake.wait_for("the second setup's follow-up", wait, |r| {
        r.path.ends_with("/tok-setup-a2")
    })
    .await;

    proxy.cut().await;
    let cut_at = Utc::now();
    assert!(
        cut_at < due,
        "the database went away after the drop was due: too slow a machine for this test"
    );

    // Answers while the database is away, and a command.
    let during: Vec<u64> = members
        .iter()
        .map(|m| {
            let id = fake.snowflake();
            fake.dispatch(
                "MESSAGE_CREATE",
                member_message(id, thread, GUILD_A, m, "while it is down", Utc::now()),
            );
            id
        })
        .collect();
    let streak = command("tok-streak", "streak", vec![], CHANNEL_A);
    let reply = fake
        .wait_for("the /streak reply", wait, |r| {
            r.path == format!("/api/v10/interactions/{streak}/tok-streak/callback")
        })
        .await;
    assert_eq!(
        reply.body["data"]["content"],
        "the database is unavailable right now; try again in a minute",
        "{}",
        reply.body
    );
    assert_eq!(
        reply.body["data"]["flags"].as_u64().unwrap_or(0) & 64,
        64,
        "ephemeral"
    );
    // Away past the drop's instant, and long enough for the writer to try again.
    let until = (due + chrono::Duration::seconds(3)).max(cut_at + chrono::Duration::seconds(6));
    tokio::time::sleep((until - Utc::now()).to_std().unwrap_or_default()).await;
    let requests = fake.requests();
    for id in &during {
        assert_eq!(
            reactions_on(&requests, *id),
            0,
            "no acknowledgement while the database is away"
        );
    }
    assert_eq!(
        stored(&url, &during).await,
        0,
        "nothing stored while it is away"
    );
    let drops_a2 = format!("/api/v10/channels/{CHANNEL_A2}/messages");
    assert!(
        !requests
            .iter()
            .any(|r| r.method == "POST" && r.path == drops_a2),
        "the drop cannot be claimed while the database is away"
    );

    proxy.restore().await;
    for id in &during {
        fake.wait_for("an acknowledgement after the restore", wait, |r| {
            r.path.contains(&format!("/messages/{id}/reactions/"))
        })
        .await;
    }
    fake.wait_for("the drop that fell due meanwhile", wait, |r| {
        r.method == "POST" && r.path == drops_a2
    })
    .await;
    // Every answer stored, each acknowledged exactly once.
    let mut all = during.clone();
    all.push(before);
    assert_eq!(stored(&url, &all).await, 4);
    tokio::time::sleep(Duration::from_secs(1)).await;
    let requests = fake.requests();
    for id in &all {
        assert_eq!(reactions_on(&requests, *id), 1, "message {id}");
    }
    assert_eq!(
        requests
            .iter()
            .filter(|r| r.method == "POST" && r.path == drops_a2)
            .count(),
        1,
        "the drop posted once"
    );
    // Commands work again.
    let again = command("tok-streak2", "streak", vec![], CHANNEL_A);
    let reply = fake
        .wait_for("the second /streak reply", wait, |r| {
            r.path == format!("/api/v10/interactions/{again}/tok-streak2/callback")
        })
        .await;
    let text = reply.body["data"]["content"].as_str().unwrap_or_default();
    assert!(text.contains("Ada"), "{}", reply.body);

    Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status()
        .unwrap();
    let status = tokio::task::spawn_blocking(move || child.wait().unwrap())
        .await
        .unwrap();
    let logs = std::fs::read_to_string(&log_path).unwrap();
    assert_eq!(status.code(), Some(0), "a clean exit on SIGTERM:\n{logs}");
    assert!(
        !logs.contains(PASSWORD),
        "the password appeared in the logs"
    );
    assert!(
        logs.contains("answer events are kept and written once it is back"),
        "{logs}"
    );
    assert!(
        logs.contains("a command could not reach the database"),
        "{logs}"
    );
}
