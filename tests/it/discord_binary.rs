//! The real `prepbot run` binary against the fake Discord: it starts from the
//! environment, never shows its token, and stops cleanly on SIGTERM.

use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use prepbot_fake_discord::fixtures::*;
use prepbot_fake_discord::{CHANNEL_A, FakeDiscord, Fault, GUILD_A};
use serde_json::json;

const TOKEN: &str = "MTIzNDU2Nzg5.binary-test.TOKEN-do-not-log";

fn prepbot() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_prepbot"));
    c.current_dir(env!("CARGO_MANIFEST_DIR"));
    c
}

#[test]
fn a_missing_token_exits_2_with_one_line() {
    for value in [None, Some(""), Some("   ")] {
        let mut cmd = prepbot();
        cmd.arg("run").env_remove("DISCORD_TOKEN");
        if let Some(v) = value {
            cmd.env("DISCORD_TOKEN", v);
        }
        let out = cmd.output().unwrap();
        assert_eq!(out.status.code(), Some(2));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
        assert!(
            stderr.starts_with("error: DISCORD_TOKEN is not set"),
            "{stderr}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_runs_against_the_fake_never_logs_its_token_and_stops_on_sigterm() {
    let fake = FakeDiscord::start(Arc::new(prepbot_core::clock::SystemClock)).await;
    let dir = tempfile::tempdir().unwrap();
    // Logs go to a file: a pipe nobody reads would fill up and stall the bot.
    let log_path = dir.path().join("bot.log");
    let log = std::fs::File::create(&log_path).unwrap();
    // A team's pack that replaces one shipped question: the log says so.
    let pack = dir.path().join("pack");
    std::fs::create_dir_all(pack.join("distributed-systems")).unwrap();
    std::fs::write(
        pack.join("distributed-systems/cap-theorem.md"),
        "+++\nid = \"cap-theorem\"\ntitle = \"CAP, our way\"\ntopic = \"distributed-systems\"\ndifficulty = \"easy\"\nkind = \"technical\"\ntags = [\"consistency\"]\n+++\n\n## Question\n\nWhy?\n\n## Model answer\n\nBecause.\n\n## What interviewers look for\n\n- a reason\n\n## Common mistakes\n\n- no reason\n",
    )
    .unwrap();
    // From a directory without the repository: the bank is built into the binary.
    let mut child = prepbot()
        .current_dir(dir.path())
        .env("PREPBOT_QUESTIONS", &pack)
        .env_remove("PREPBOT_SHIPPED_QUESTIONS")
        .arg("run")
        .env("DISCORD_TOKEN", TOKEN)
        .env("PREPBOT_DISCORD_API_BASE", fake.base())
        .env("PREPBOT_DEV_GUILD", GUILD_A.to_string())
        .env(
            "PREPBOT_DATABASE_URL",
            format!("sqlite://{}", dir.path().join("bot.db").display()),
        )
        .env("RUST_LOG", "trace")
        .stdout(Stdio::from(log.try_clone().unwrap()))
        .stderr(Stdio::from(log))
        .spawn()
        .unwrap();
    let registered = fake
        .wait_for("commands", Duration::from_secs(30), |r| {
            r.path.ends_with("/commands")
        })
        .await;
    assert_eq!(
        registered.authorization.as_deref(),
        Some(format!("Bot {TOKEN}").as_str()),
        "the token is used"
    );
    // Exercise a command, a failure path and a drop, so the logs have something to say.
    let command = |token: &str, name: &str, options: Vec<serde_json::Value>| {
        let by = Person::admin(1, "Ada");
        fake.dispatch(
            "INTERACTION_CREATE",
            slash(fake.snowflake(), token, name, options, &by, CHANNEL_A),
        );
    };
    let wait = Duration::from_secs(15);
    command(
        "tok-bin",
        "setup",
        vec![opt("time", json!("25:00")), opt("timezone", json!("UTC"))],
    );
    fake.wait_for("the error reply", wait, |r| r.path.contains("tok-bin"))
        .await;
    command(
        "tok-bin2",
        "setup",
        vec![opt("time", json!("09:00")), opt("timezone", json!("UTC"))],
    );
    // Setup defers, then answers with a follow-up once stored.
    fake.wait_for("the setup follow-up", wait, |r| {
        r.path.ends_with("/tok-bin2")
    })
    .await;
    // A REST failure on the way: its error is logged, the token must not be.
    fake.add_fault(Fault::new("POST", format!("/channels/{CHANNEL_A}/messages"), 403).code(50013));
    command("tok-bin3", "drop", vec![]);
    fake.wait_for("the drop", wait, |r| {
        r.path == format!("/api/v10/channels/{CHANNEL_A}/messages")
    })
    .await;

    let status = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let code = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s.code();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the bot did not stop on SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let logs = std::fs::read_to_string(&log_path).unwrap();
    assert_eq!(code, Some(0), "a clean exit on SIGTERM:\n{logs}");
    assert!(logs.len() > 1000, "trace logging produced output");
    assert!(!logs.contains(TOKEN), "the token appeared in the logs");
    assert!(
        !logs.contains("TOKEN-do-not-log"),
        "part of the token appeared in the logs"
    );
    assert!(logs.contains("shutting down"), "{logs}");
    let replaced = logs
        .lines()
        .find(|l| l.contains("a pack question replaces the shipped question with the same id"))
        .unwrap_or_else(|| panic!("the replaced question is logged:\n{logs}"));
    assert!(replaced.contains("id=cap-theorem"), "{replaced}");
    assert!(
        logs.contains("reading questions origin=the shipped bank"),
        "{logs}"
    );
    assert!(
        logs.contains("lacks permission to post"),
        "the failure was logged:\n{logs}"
    );
}

/// Runs `prepbot run` with the database in a new directory until it exits (at most
/// 30 s); returns its exit code, its stderr and what the directory holds afterwards.
fn run_to_exit(api_base: &str) -> (Option<i32>, String, Vec<String>) {
    let dir = tempfile::tempdir().unwrap();
    let mut child = prepbot()
        .current_dir(dir.path())
        .arg("run")
        .env("DISCORD_TOKEN", TOKEN)
        .env("PREPBOT_DISCORD_API_BASE", api_base)
        .env(
            "PREPBOT_DATABASE_URL",
            format!("sqlite://{}", dir.path().join("bot.db").display()),
        )
        .env_remove("RUST_LOG")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while child.try_wait().unwrap().is_none() {
        assert!(
            std::time::Instant::now() < deadline,
            "prepbot run did not stop"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().unwrap();
    let left = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        left,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_discord_rejects_stops_the_bot_with_one_line_and_no_stray_files() {
    let fake = FakeDiscord::start(Arc::new(prepbot_core::clock::SystemClock)).await;
    fake.reject_token();
    let base = fake.base();
    let (code, stderr, left) = tokio::task::spawn_blocking(move || run_to_exit(&base))
        .await
        .unwrap();
    assert_eq!(code, Some(1), "{stderr}");
    assert_eq!(
        stderr,
        "error: Discord rejected the token (401): 401: Unauthorized; copy the token again from https://discord.com/developers/applications (Bot tab, Reset Token) into DISCORD_TOKEN\n"
    );
    assert_eq!(left, ["bot.db"], "the database, closed: no -wal, no -shm");
    let requests = fake.requests();
    assert_eq!(requests.len(), 1, "one call, and no gateway");
    assert_eq!(requests[0].path, "/api/v10/users/@me");
    assert_eq!(requests[0].status, 401);
}

#[test]
fn a_dead_api_base_says_connection_refused_in_one_line() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let (code, stderr, left) = run_to_exit(&format!("http://127.0.0.1:{port}"));
    assert_eq!(code, Some(1), "{stderr}");
    assert_eq!(
        stderr,
        format!("error: cannot reach 127.0.0.1:{port}: connection refused\n")
    );
    assert_eq!(left, ["bot.db"], "no -wal, no -shm");
}

/// Starts `prepbot run` against the fake with the database in `dir`, logging to
/// `log_name` there.
fn spawn_bot(fake: &FakeDiscord, dir: &std::path::Path, log_name: &str) -> std::process::Child {
    let log = std::fs::File::create(dir.join(log_name)).unwrap();
    prepbot()
        .arg("run")
        .env("DISCORD_TOKEN", TOKEN)
        .env("PREPBOT_DISCORD_API_BASE", fake.base())
        .env("PREPBOT_DEV_GUILD", GUILD_A.to_string())
        .env(
            "PREPBOT_DATABASE_URL",
            format!("sqlite://{}", dir.join("bot.db").display()),
        )
        // The default claim lease (2 minutes) is longer than the test waits: the
        // restarted bot finishes the claim because its holder is gone, not because
        // the lease ran out.
        .env_remove("PREPBOT_CLAIM_LEASE_SECS")
        .env("RUST_LOG", "info")
        .stdout(Stdio::from(log.try_clone().unwrap()))
        .stderr(Stdio::from(log))
        .spawn()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bot_killed_mid_post_posts_the_drop_exactly_once_after_restart() {
    let fake = FakeDiscord::start(Arc::new(prepbot_core::clock::SystemClock)).await;
    let dir = tempfile::tempdir().unwrap();
    let wait = Duration::from_secs(30);
    let mut first = spawn_bot(&fake, dir.path(), "first.log");
    fake.wait_identified(wait).await;
    fake.wait_for("commands", wait, |r| r.path.ends_with("/commands"))
        .await;
    let by = Person::admin(1, "Ada");
    fake.dispatch(
        "INTERACTION_CREATE",
        slash(
            fake.snowflake(),
            "tok-setup",
            "setup",
            vec![opt("time", json!("09:00")), opt("timezone", json!("UTC"))],
            &by,
            CHANNEL_A,
        ),
    );
    fake.wait_for("the setup follow-up", wait, |r| {
        r.path.ends_with("/tok-setup")
    })
    .await;
    // Discord creates the drop message but the answer never comes back; the bot
    // is killed while it waits.
    let drops_path = format!("/api/v10/channels/{CHANNEL_A}/messages");
    fake.add_fault(Fault::new("POST", drops_path.clone(), 200).hang());
    fake.dispatch(
        "INTERACTION_CREATE",
        slash(fake.snowflake(), "tok-drop", "drop", vec![], &by, CHANNEL_A),
    );
    let lost = fake
        .wait_for("the drop post", wait, |r| {
            r.method == "POST" && r.path == drops_path
        })
        .await;
    first.kill().unwrap(); // SIGKILL
    first.wait().unwrap();

    let mut second = spawn_bot(&fake, dir.path(), "second.log");
    let thread = fake
        .wait_for("the thread under the drop", wait, |r| {
            r.method == "POST"
                && r.path.starts_with(&format!("{drops_path}/"))
                && r.path.ends_with("/threads")
        })
        .await;
    let posts: Vec<_> = fake
        .requests()
        .into_iter()
        .filter(|r| r.method == "POST" && r.path == drops_path)
        .collect();
    assert_eq!(posts.len(), 2, "posted once by each process");
    assert!(lost.body["nonce"].as_str().is_some_and(|n| !n.is_empty()));
    assert_eq!(posts[1].body["nonce"], lost.body["nonce"], "the same nonce");
    assert_eq!(posts[1].body["enforce_nonce"], true);
    let messages: Vec<_> = fake
        .posted_messages()
        .into_iter()
        .filter(|(c, m)| *c == CHANNEL_A && m["embeds"].as_array().is_some_and(|e| !e.is_empty()))
        .collect();
    assert_eq!(messages.len(), 1, "exactly one question message");
    let message_id: u64 = messages[0].1["id"].as_str().unwrap().parse().unwrap();
    assert!(
        thread
            .path
            .contains(&format!("/messages/{message_id}/threads"))
    );

    Command::new("kill")
        .arg("-TERM")
        .arg(second.id().to_string())
        .status()
        .unwrap();
    let status = second.wait().unwrap();
    let logs = std::fs::read_to_string(dir.path().join("second.log")).unwrap();
    assert_eq!(status.code(), Some(0), "{logs}");
    let store = prepbot_core::store::Store::open_path(&dir.path().join("bot.db"))
        .await
        .unwrap();
    let mut conn = store.read().await.unwrap();
    let address = prepbot_core::chat::ChannelAddress::new(
        prepbot_core::chat::Platform::Discord,
        String::new(),
        CHANNEL_A.to_string(),
    );
    let key = prepbot_core::store::channels::find(&mut conn, &address)
        .await
        .unwrap()
        .expect("the channel is set up")
        .key;
    let d = prepbot_core::store::drops::latest(&mut conn, key)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(d.state, prepbot_core::engine::DropState::Posted, "{d:?}");
    assert_eq!(d.message_id, Some(message_id.to_string()));
    assert_eq!(d.thread_id, Some(message_id.to_string()));
}
