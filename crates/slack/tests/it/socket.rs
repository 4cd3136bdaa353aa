//! The whole adapter in-process (`prepbot_slack::run`) against the fake Slack's Web
//! API and Socket Mode: commands acknowledged before their work's first Web API
//! call, answers from message events stored once, edited and deleted, the reveal.

use std::time::Duration;

use prepbot_core::store::Store;
use prepbot_fake_slack::{ADMIN, CHANNEL, CHANNEL_OUTSIDE, CREATOR, MEMBER, MEMBER_2};
use serde_json::json;

use crate::bot::{WAIT, reply_event, start};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_practice_loop_over_socket_mode() {
    let bot = start().await;
    let fake = bot.fake.clone();

    // Lookups answer in the acknowledgement.
    let (_, ack, _) = bot.command(MEMBER, "").await;
    assert!(
        ack["payload"]["text"]
            .as_str()
            .unwrap()
            .contains("setup HH:MM ZONE")
    );
    let (_, ack, _) = bot.command(MEMBER, "search <!channel> cache").await;
    let text = ack["payload"]["text"].as_str().unwrap();
    assert!(text.contains("&lt;!channel&gt;"), "{text}");

    // Setup: refused for a member, accepted for the channel's creator; bad input
    // gets one clear line.
    let refused = bot.admin(MEMBER, "setup 09:00 Europe/Berlin").await;
    assert!(refused.contains("PREPBOT_SLACK_ADMINS"), "{refused}");
    let bad = bot.admin(CREATOR, "setup 09:00 Mars/Olympus").await;
    assert!(bad.contains("e.g. `/prep setup"), "{bad}");
    let ok = bot
        .admin(CREATOR, "setup 09:00 Europe/Berlin reveal=8")
        .await;
    assert!(
        ok.starts_with("Scheduled: daily at 09:00 Europe/Berlin"),
        "{ok}"
    );

    // The drop, on demand by a workspace admin.
    let posted = bot.admin(ADMIN, "drop").await;
    assert!(posted.starts_with("Posted drop #1"), "{posted}");
    let drops = fake.top_level_posts(CHANNEL);
    assert_eq!(drops.len(), 1);
    let thread = drops[0]["ts"].as_str().unwrap().to_string();

    // An answer, delivered twice (a missed ack): stored and acknowledged once.
    let answer = reply_event(&fake, &thread, MEMBER, "my answer");
    let ts = answer["ts"].as_str().unwrap().to_string();
    fake.message_event(answer.clone());
    fake.message_event(answer);
    let second = reply_event(&fake, &thread, MEMBER_2, "to be deleted");
    let second_ts = second["ts"].as_str().unwrap().to_string();
    fake.message_event(second);
    fake.wait_until("two reactions", WAIT, |f| f.reactions().len() == 2)
        .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        fake.calls_of("reactions.add").len(),
        2,
        "acknowledged once each"
    );
    assert!(
        fake.reactions()
            .contains(&(CHANNEL.into(), ts.clone(), "white_check_mark".into()))
    );
    // An edit, and a link preview (no `edited`) that must not count as one.
    let edit_ts = fake.edit_message(CHANNEL, &ts, "my answer, edited");
    fake.message_event(
        json!({"type": "message", "subtype": "message_changed", "channel": CHANNEL,
        "hidden": true, "ts": fake.next_ts(),
        "message": {"type": "message", "user": MEMBER, "text": "my answer, edited", "ts": ts,
            "edited": {"user": MEMBER, "ts": edit_ts}},
        "previous_message": {"type": "message", "user": MEMBER, "text": "my answer", "ts": ts}}),
    );
    fake.message_event(
        json!({"type": "message", "subtype": "message_changed", "channel": CHANNEL,
        "hidden": true, "ts": fake.next_ts(),
        "message": {"type": "message", "user": MEMBER, "text": "a preview", "ts": ts}}),
    );
    fake.remove_message(CHANNEL, &second_ts);
    fake.message_event(json!({"type": "message", "subtype": "message_deleted", "channel": CHANNEL,
        "hidden": true, "ts": fake.next_ts(), "deleted_ts": second_ts,
        "previous_message": {"type": "message", "user": MEMBER_2, "text": "to be deleted", "ts": second_ts}}));
    // The bot's own messages and other bots' are never answers.
    fake.message_event(
        json!({"type": "message", "channel": CHANNEL, "user": "UOTHER", "bot_id": "BOTHER",
        "text": "beep", "ts": fake.next_ts(), "thread_ts": thread}),
    );
    tokio::time::sleep(Duration::from_millis(500)).await;

    // No spoiler before the reveal: `show` of the open question hides its answer.
    let open_id = drops[0]["blocks"][drops[0]["blocks"].as_array().unwrap().len() - 1].to_string();
    let id = open_id
        .split(" · ")
        .nth(2)
        .expect("the question id in the drop's context line")
        .to_string();
    let (_, ack, _) = bot.command(MEMBER, &format!("show {id}")).await;
    let shown = ack["payload"]["text"].as_str().unwrap();
    assert!(
        shown.contains("open in this workspace right now"),
        "{shown}"
    );
    assert!(!shown.contains("*Model answer*"), "{shown}");

    // The reveal, on demand.
    let revealed = bot.admin(ADMIN, "reveal").await;
    assert!(revealed.starts_with("Revealed drop #1"), "{revealed}");
    let replies = fake.bot_replies(CHANNEL, &thread);
    assert!(!replies.is_empty());
    let all: String = replies.iter().map(|r| r.to_string()).collect();
    assert!(all.contains("1 member answered on time: Mo."), "{all}");
    assert!(!all.contains("Nell"), "a withdrawn answer is not counted");

    // A late answer: the clock.
    let late = reply_event(&fake, &thread, MEMBER_2, "late one");
    let late_ts = late["ts"].as_str().unwrap().to_string();
    fake.message_event(late);
    fake.wait_until("the late reaction", WAIT, |f| {
        f.reactions()
            .iter()
            .any(|r| r.1 == late_ts && r.2 == "clock3")
    })
    .await;

    // After the reveal the answer may be shown.
    let (_, ack, _) = bot.command(MEMBER, &format!("show {id}")).await;
    assert!(
        ack["payload"]["text"]
            .as_str()
            .unwrap()
            .contains("*Model answer*")
    );

    // Streaks and the leaderboard are visible in the channel.
    let (_, ack, _) = bot.command(MEMBER, "leaderboard").await;
    assert_eq!(ack["payload"]["response_type"], "in_channel");
    let board = ack["payload"]["text"].as_str().unwrap();
    assert!(board.contains("1. Mo: 1"), "{board}");
    let (_, ack, _) = bot.command(MEMBER, &format!("streak <@{MEMBER}|mo>")).await;
    assert!(
        ack["payload"]["text"]
            .as_str()
            .unwrap()
            .contains("1 in a row"),
        "{ack}"
    );

    // Setup in a channel the bot is not in.
    let outside_id = fake.command(CHANNEL_OUTSIDE, ADMIN, "setup 09:00 UTC");
    fake.wait_until("the outside answer", WAIT, |f| {
        f.ack_of(&outside_id).is_some()
            && f.calls_of("response_url").iter().any(|b| {
                b["text"]
                    .as_str()
                    .is_some_and(|t| t.contains("Invite @prepbot"))
            })
    })
    .await;

    fake.assert_payloads_valid();
    let (fake, db, _dir) = bot.stop().await;
    // Stored whole: the edit applied once, the preview ignored, the delete withdrawn.
    let store = Store::open_url(&db).await.unwrap();
    let mut conn = store.read().await.unwrap();
    let stored = prepbot_core::store::answers::for_drop(&mut conn, 1)
        .await
        .unwrap();
    let mine = stored.iter().find(|a| a.message_id == ts).expect("stored");
    assert_eq!(mine.body, "my answer, edited");
    let gone = stored
        .iter()
        .find(|a| a.message_id == second_ts)
        .expect("stored");
    assert!(gone.withdrawn_at.is_some());
    assert_eq!(stored.iter().filter(|a| a.message_id == ts).count(), 1);
    // No token anywhere but the Authorization header.
    for c in fake.calls() {
        assert!(!c.body.to_string().contains("xoxb-"), "{}", c.method);
    }
}

/// The bot, with a channel set up and its first drop posted; the drop's thread.
async fn started_with_a_drop() -> (crate::bot::Bot, String) {
    let bot = start().await;
    assert_eq!(
        bot.admin(CREATOR, "setup 09:00 UTC").await.get(..9),
        Some("Scheduled")
    );
    assert!(bot.admin(ADMIN, "drop").await.starts_with("Posted drop #1"));
    let thread = bot.fake.top_level_posts(CHANNEL)[0]["ts"]
        .as_str()
        .unwrap()
        .to_string();
    (bot, thread)
}

/// Slack may deliver a `message_changed` or `message_deleted` before the message
/// itself (another connection, a redelivery after a missed ack): the message is
/// then stored edited, or withdrawn and never acknowledged.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edit_or_delete_that_overtakes_its_message_applies_when_it_arrives() {
    let (bot, thread) = started_with_a_drop().await;
    let fake = bot.fake.clone();

    let edited = reply_event(&fake, &thread, MEMBER, "first draft");
    let edited_ts = edited["ts"].as_str().unwrap().to_string();
    let edit_ts = fake.edit_message(CHANNEL, &edited_ts, "final answer");
    let deleted = reply_event(&fake, &thread, MEMBER_2, "oops");
    let deleted_ts = deleted["ts"].as_str().unwrap().to_string();
    fake.remove_message(CHANNEL, &deleted_ts);

    // The edit and the delete first, each given time to be applied on its own.
    fake.message_event(
        json!({"type": "message", "subtype": "message_changed", "channel": CHANNEL,
        "hidden": true, "ts": fake.next_ts(),
        "message": {"type": "message", "user": MEMBER, "text": "final answer", "ts": edited_ts,
            "edited": {"user": MEMBER, "ts": edit_ts}},
        "previous_message": {"type": "message", "user": MEMBER, "text": "first draft", "ts": edited_ts}}),
    );
    fake.message_event(json!({"type": "message", "subtype": "message_deleted", "channel": CHANNEL,
        "hidden": true, "ts": fake.next_ts(), "deleted_ts": deleted_ts,
        "previous_message": {"type": "message", "user": MEMBER_2, "text": "oops", "ts": deleted_ts}}));
    tokio::time::sleep(Duration::from_millis(500)).await;
    // Then the messages, as first posted.
    fake.message_event(edited);
    fake.message_event(deleted);
    fake.wait_until("the edited answer's reaction", WAIT, |f| {
        f.reactions().iter().any(|r| r.1 == edited_ts)
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !fake.reactions().iter().any(|r| r.1 == deleted_ts),
        "a withdrawn answer is not acknowledged"
    );

    let (_fake, db, _dir) = bot.stop().await;
    let store = Store::open_url(&db).await.unwrap();
    let mut conn = store.read().await.unwrap();
    let stored = prepbot_core::store::answers::for_drop(&mut conn, 1)
        .await
        .unwrap();
    let a = stored
        .iter()
        .find(|a| a.message_id == edited_ts)
        .expect("stored");
    assert_eq!(a.body, "final answer");
    assert!(a.edited_at.is_some());
    let d = stored
        .iter()
        .find(|a| a.message_id == deleted_ts)
        .expect("stored");
    assert!(d.withdrawn_at.is_some(), "{d:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disconnect_frame_reconnects_and_the_new_session_catches_up() {
    let (bot, thread) = started_with_a_drop().await;
    let fake = bot.fake.clone();
    let opened = fake.connections_opened();
    // Slack asks the client to reconnect; an answer is posted while it does, and
    // its event is never delivered (it went to the old connection).
    fake.send_frame(
        json!({"type": "disconnect", "reason": "refresh_requested",
            "debug_info": {"host": "fake"}})
        .to_string(),
    );
    let missed = fake.add_message(CHANNEL, Some(&thread), MEMBER, "posted meanwhile");
    let missed_ts = missed["ts"].as_str().unwrap().to_string();
    fake.wait_until("a new connection", Duration::from_secs(60), |f| {
        f.connections_opened() > opened
    })
    .await;
    // The new session's hello: the thread is read back and the answer stored.
    fake.wait_until("the missed answer acknowledged", WAIT, |f| {
        f.reactions().iter().any(|r| r.1 == missed_ts)
    })
    .await;
    // And events flow on the new connection.
    let live = reply_event(&fake, &thread, MEMBER_2, "after the reconnect");
    let live_ts = live["ts"].as_str().unwrap().to_string();
    fake.message_event(live);
    fake.wait_until("the live answer acknowledged", WAIT, |f| {
        f.reactions().iter().any(|r| r.1 == live_ts)
    })
    .await;
    // Both were stored before their names were known (by member id); the reveal
    // names them as members see them, escaped.
    assert!(
        bot.admin(ADMIN, "reveal")
            .await
            .starts_with("Revealed drop #1")
    );
    let reveal: String = fake
        .bot_replies(CHANNEL, &thread)
        .iter()
        .map(|r| r.to_string())
        .collect();
    assert!(
        reveal.contains("2 members answered on time: Mo, Nell &lt;!channel&gt;."),
        "{reveal}"
    );
    assert!(!reveal.contains(MEMBER), "{reveal}");
    let _ = bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_given_while_a_lost_post_was_unrecorded_are_read_back_once_it_is_found() {
    let bot = start().await;
    let fake = bot.fake.clone();
    assert_eq!(
        bot.admin(CREATOR, "setup 09:00 UTC").await.get(..9),
        Some("Scheduled")
    );
    // The post reaches the channel, but the bot sees a 503.
    fake.fail(
        "chat.postMessage",
        prepbot_fake_slack::Misbehave::LostAfterEffect,
        1,
    );
    let first = bot.admin(ADMIN, "drop").await;
    assert!(!first.starts_with("Posted"), "{first}");
    let thread = fake.top_level_posts(CHANNEL)[0]["ts"]
        .as_str()
        .unwrap()
        .to_string();
    // A member answers in the visible thread before the bot knows it: the live
    // event finds no drop.
    let early = reply_event(&fake, &thread, MEMBER, "quick answer");
    let early_ts = early["ts"].as_str().unwrap().to_string();
    fake.message_event(early);
    // The retry (after the 3 s lease) finds the post; its thread is then read back.
    fake.wait_until(
        "the early answer acknowledged",
        Duration::from_secs(60),
        |f| f.reactions().iter().any(|r| r.1 == early_ts),
    )
    .await;
    assert_eq!(fake.top_level_posts(CHANNEL).len(), 1);
    let _ = bot.stop().await;
}

/// `prepbot status` shows the Slack adapter's health as the running bot records
/// it: connected once its session is up and caught up, stopped (and why) after.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_adapter_records_its_health_for_prepbot_status() {
    let bot = start().await;
    let db = bot.db_url().to_string();
    let store = Store::open_existing_url(&db).await.unwrap();
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let text = prepbot_core::status::report(&store, chrono::Utc::now())
            .await
            .unwrap();
        if text.contains("slack: connected since") {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{text}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    store.close().await;
    let (_fake, db, _dir) = bot.stop().await;
    let store = Store::open_existing_url(&db).await.unwrap();
    let text = prepbot_core::status::report(&store, chrono::Utc::now())
        .await
        .unwrap();
    assert!(text.contains("slack: stopped "), "{text}");
    assert!(text.contains("): shut down"), "{text}");
    store.close().await;
}

/// Runs the adapter with the Web API at `api_base` until it gives up, and returns
/// its error.
async fn start_up_error(api_base: String) -> String {
    let dir = tempfile::tempdir().unwrap();
    let vars = [
        ("SLACK_BOT_TOKEN", prepbot_fake_slack::BOT_TOKEN.to_string()),
        ("SLACK_APP_TOKEN", prepbot_fake_slack::APP_TOKEN.to_string()),
        ("PREPBOT_SLACK_API_BASE", api_base),
        (
            "PREPBOT_DATABASE_URL",
            format!("sqlite://{}", dir.path().join("bot.db").display()),
        ),
    ];
    let config = prepbot_slack::SlackConfig::from_vars(|n| {
        vars.iter().find(|(k, _)| *k == n).map(|(_, v)| v.clone())
    })
    .unwrap();
    let outcome = tokio::time::timeout(
        WAIT,
        prepbot_slack::run(
            config,
            std::sync::Arc::new(prepbot_core::clock::SystemClock),
            std::future::pending(),
        ),
    )
    .await
    .expect("start-up gives up by itself");
    outcome.expect_err("start-up fails").to_string()
}

/// Slack out of reach is not a rejected token: the operator would go and replace a
/// token that is fine.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slack_out_of_reach_at_start_up_is_not_called_a_rejected_token() {
    // A port nothing listens on once the listener is gone: connection refused.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let err = start_up_error(format!("http://127.0.0.1:{port}/api")).await;
    assert_eq!(
        err,
        "Slack could not be reached to check SLACK_BOT_TOKEN (auth.test: the connection failed): check the network, then start again"
    );

    // A token Slack refuses keeps its wording.
    let fake = prepbot_fake_slack::FakeSlack::start().await;
    fake.revoke(prepbot_fake_slack::BOT_TOKEN);
    let err = start_up_error(fake.api_base()).await;
    assert_eq!(
        err,
        "SLACK_BOT_TOKEN was not accepted: Slack refused auth.test: invalid_auth"
    );
}
