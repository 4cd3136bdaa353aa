//! Restarts and Discord faults, end to end: the real bot (library entry) against
//! the fake Discord, stopped and started again on the same database while the fake
//! changes underneath it (answers posted, edited and deleted while it was down, a
//! channel deleted, a permission missing, a post whose answer never came back).

use std::time::Duration;

use crate::harness::*;
use prepbot_core::clock::Clock;
use prepbot_core::engine::DropState;
use prepbot_core::store::answers;
use prepbot_fake_discord::fixtures::*;
use prepbot_fake_discord::{CHANNEL_A, CHANNEL_A2, Fault, GUILD_A};
use serde_json::json;

/// `/setup` at 09:00 UTC with the reveal 8 hours later.
async fn set_up_nine_to_five(bot: &Bot, channel: u64) {
    let reply = bot
        .command(
            "setup",
            vec![
                opt("time", json!("09:00")),
                opt("timezone", json!("UTC")),
                opt("reveal_after", json!(8)),
            ],
            &admin(),
            channel,
        )
        .await;
    assert!(reply.text().contains("09:00"), "{}", reply.text());
}

async fn stored(bot: &Bot, message_id: u64) -> Option<answers::StoredAnswer> {
    let store = bot.store().await;
    let mut conn = store.read().await.unwrap();
    answer_row(&mut conn, message_id).await.unwrap()
}

async fn drop_of_thread(bot: &Bot, thread: u64) -> prepbot_core::store::drops::DropRecord {
    let store = bot.store().await;
    let mut conn = store.read().await.unwrap();
    prepbot_core::store::drops::by_thread(&mut conn, &thread_ref(thread))
        .await
        .unwrap()
        .expect("the drop is stored")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_edits_and_deletes_made_while_down_are_caught_up_before_the_catch_up_reveal() {
    let bot = start_bot("2026-03-02T08:00:00Z").await;
    set_up_nine_to_five(&bot, CHANNEL_A).await;
    let (_, thread) = expect_drop(&bot, CHANNEL_A, "2026-03-02T09:00:00Z", 1).await;
    let (ada, ben, cy, dee) = (
        Person::member(21, "Ada"),
        Person::member(22, "Ben"),
        Person::member(23, "Cy"),
        Person::member(24, "Dee"),
    );
    bot.clock.set(utc("2026-03-02T10:00:00Z"));
    let ada_msg = answer(
        &bot,
        thread,
        GUILD_A,
        &ada,
        "Ada's first take",
        "2026-03-02T10:00:00Z",
        CHECK,
    )
    .await;
    let ben_msg = answer(
        &bot,
        thread,
        GUILD_A,
        &ben,
        "Ben's answer, deleted later",
        "2026-03-02T10:05:00Z",
        CHECK,
    )
    .await;

    // The bot is down from 11:00 to 18:00, past the 17:00 reveal. Meanwhile Ada
    // edits, Ben deletes, Cy answers (and chats: more than a page of messages),
    // and Dee answers at 17:30, after the reveal was due.
    let mut cy_msgs = Vec::new();
    let mut dee_msg = 0;
    let bot = bot
        .restart(|fake, clock| {
            clock.set(utc("2026-03-02T12:00:00Z"));
            fake.happen_offline(
                "MESSAGE_UPDATE",
                member_edit(
                    ada_msg,
                    thread,
                    GUILD_A,
                    &ada,
                    "Ada's edited take, with numbers",
                    utc("2026-03-02T10:00:00Z"),
                    utc("2026-03-02T12:00:00Z"),
                ),
            );
            fake.happen_offline("MESSAGE_DELETE", message_delete(ben_msg, thread, GUILD_A));
            for i in 0..120 {
                clock.set(utc("2026-03-02T13:00:00Z") + chrono::Duration::seconds(i));
                let id = fake.snowflake();
                let at = clock.now();
                fake.happen_offline(
                    "MESSAGE_CREATE",
                    member_message(id, thread, GUILD_A, &cy, &format!("Cy, part {i}"), at),
                );
                cy_msgs.push(id);
            }
            clock.set(utc("2026-03-02T17:30:00Z"));
            dee_msg = fake.snowflake();
            fake.happen_offline(
                "MESSAGE_CREATE",
                member_message(
                    dee_msg,
                    thread,
                    GUILD_A,
                    &dee,
                    "Dee, before the reveal came out",
                    utc("2026-03-02T17:30:00Z"),
                ),
            );
            clock.set(utc("2026-03-02T18:00:00Z"));
        })
        .await;

    wait_revealed(&bot, thread).await;
    let requests = bot.fake.requests();
    let listings: Vec<usize> = requests
        .iter()
        .enumerate()
        .filter(|(_, r)| {
            r.method == "GET" && r.path == format!("/api/v10/channels/{thread}/messages")
        })
        .map(|(i, _)| i)
        .collect();
    assert!(
        listings.len() >= 2,
        "121 messages take two pages of 100: {listings:?}"
    );
    assert!(
        requests
            .iter()
            .filter(
                |r| r.path.ends_with(&format!("/channels/{thread}/messages")) && r.method == "GET"
            )
            .all(|r| r.query.contains("after=") && r.query.contains("limit=100")),
        "listed page by page with `after`"
    );
    let reveal_post = requests
        .iter()
        .position(|r| {
            r.method == "POST"
                && r.path == format!("/api/v10/channels/{thread}/messages")
                && r.body["content"]
                    .as_str()
                    .is_some_and(|c| c.contains("Reveal #1"))
        })
        .expect("the catch-up reveal was posted");
    assert!(
        listings.iter().all(|i| *i < reveal_post),
        "the backfill ran before the catch-up reveal"
    );

    // The database matches the thread as it is now.
    let ada_row = stored(&bot, ada_msg).await.unwrap();
    assert_eq!(ada_row.body, "Ada's edited take, with numbers");
    assert_eq!(ada_row.edited_at, Some(utc("2026-03-02T12:00:00Z")));
    assert!(
        stored(&bot, ben_msg).await.unwrap().withdrawn_at.is_some(),
        "a message deleted while down is withdrawn"
    );
    for (i, id) in cy_msgs.iter().enumerate() {
        let row = stored(&bot, *id).await.expect("every page was read");
        assert_eq!(row.body, format!("Cy, part {i}"));
    }
    assert!(stored(&bot, dee_msg).await.is_some());

    // The reveal counts everyone who answered before it came out, and not Ben.
    let reveal: String = bot
        .fake
        .posted_messages()
        .into_iter()
        .filter(|(c, _)| *c == thread)
        .map(|(_, m)| m["content"].as_str().unwrap_or_default().to_string())
        .collect::<Vec<_>>()
        .join("\n");
    for name in ["Ada", "Cy", "Dee"] {
        assert!(reveal.contains(name), "{name} is in the reveal:\n{reveal}");
    }
    assert!(!reveal.contains("Ben"), "Ben withdrew:\n{reveal}");
    // Answers caught up on are acknowledged like live ones.
    bot.fake
        .wait_for("Cy's acknowledgement", WAIT, |r| {
            r.method == "PUT"
                && r.path
                    .contains(&format!("/messages/{}/reactions/", cy_msgs[0]))
        })
        .await;
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_gateway_session_catches_up_on_what_it_missed() {
    let bot = start_bot("2026-03-02T08:00:00Z").await;
    set_up_nine_to_five(&bot, CHANNEL_A).await;
    let (_, thread) = expect_drop(&bot, CHANNEL_A, "2026-03-02T09:00:00Z", 1).await;
    let ada = Person::member(21, "Ada");
    bot.clock.set(utc("2026-03-02T10:00:00Z"));
    let missed = bot.fake.snowflake();
    // Posted while the session was gone: Discord never sends it.
    bot.fake.happen_offline(
        "MESSAGE_CREATE",
        member_message(
            missed,
            thread,
            GUILD_A,
            &ada,
            "Ada, while the bot reconnected",
            utc("2026-03-02T10:00:00Z"),
        ),
    );
    let identifies = bot.fake.identifies();
    bot.fake
        .send_raw(json!({"op": 9, "d": false, "s": null, "t": null}));
    bot.fake
        .wait_until("a new session", WAIT, || bot.fake.identifies() > identifies)
        .await;
    let deadline = std::time::Instant::now() + WAIT;
    while stored(&bot, missed).await.is_none() {
        assert!(
            std::time::Instant::now() < deadline,
            "the missed answer was never stored"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(stored(&bot, missed).await.unwrap().member_name, "Ada");
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_drop_retried_after_the_nonce_window_finds_its_own_post_instead_of_posting_twice() {
    // A 4 s lease makes the bot give up waiting for the post after 3 s.
    let bot = start_bot_with("2026-03-02T08:00:00Z", Some(chrono::Duration::seconds(4))).await;
    set_up_nine_to_five(&bot, CHANNEL_A).await;
    let drops_path = format!("/api/v10/channels/{CHANNEL_A}/messages");
    // Discord creates the message, but its answer never arrives.
    bot.fake
        .add_fault(Fault::new("POST", drops_path.clone(), 200).hang());
    bot.clock.set(utc("2026-03-02T09:00:00Z"));
    let first = bot
        .fake
        .wait_for("the drop post", WAIT, |r| {
            r.method == "POST" && r.path == drops_path
        })
        .await;
    // The bot times out and records a failure to retry.
    let store = bot.store().await;
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let mut conn = store.read().await.unwrap();
        let key_a = channel_key(&mut conn, CHANNEL_A).await;
        let d = prepbot_core::store::drops::latest(&mut conn, key_a)
            .await
            .unwrap()
            .unwrap();
        drop(conn);
        if d.failure.is_some() {
            assert_eq!(d.state, DropState::Claimed, "still to be retried");
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the post never timed out"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Ten minutes later Discord has forgotten the nonce.
    bot.fake.forget_nonces();
    bot.clock.set(utc("2026-03-02T09:10:00Z"));
    let thread = bot
        .fake
        .wait_for("the thread under the one drop message", WAIT, |r| {
            r.method == "POST"
                && r.path.starts_with(&format!("{drops_path}/"))
                && r.path.ends_with("/threads")
        })
        .await;
    let posts: Vec<_> = bot
        .fake
        .requests()
        .into_iter()
        .filter(|r| r.method == "POST" && r.path == drops_path)
        .collect();
    assert_eq!(posts.len(), 1, "no second post: {posts:?}");
    assert_eq!(posts[0].body["nonce"], first.body["nonce"]);
    assert!(
        bot.fake
            .requests()
            .iter()
            .any(|r| r.method == "GET" && r.path == drops_path),
        "it looked at the channel's recent messages"
    );
    let messages: Vec<_> = bot
        .fake
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
    let d = drop_of_thread(&bot, message_id).await;
    assert_eq!(d.state, DropState::Posted);
    assert_eq!(d.message_id, Some(message_id.to_string()));
    bot.stop().await;
}

/// The same for a reveal, whose parts are several messages: the first part is
/// created but its answer never arrives; retried after Discord forgot the
/// nonces, the reveal finds that part by its `Ref` line and posts only the rest.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reveal_retried_after_the_nonce_window_posts_only_the_missing_parts() {
    let bot = start_bot_with("2026-03-02T08:00:00Z", Some(chrono::Duration::seconds(4))).await;
    set_up_nine_to_five(&bot, CHANNEL_A).await;
    bot.clock.set(utc("2026-03-02T09:00:00Z"));
    let thread_made = bot
        .fake
        .wait_for("the drop's thread", WAIT, |r| {
            r.method == "POST" && r.path.ends_with("/threads")
        })
        .await;
    let thread: u64 = thread_made.path.split('/').nth(6).unwrap().parse().unwrap();
    let parts_path = format!("/api/v10/channels/{thread}/messages");
    bot.fake
        .add_fault(Fault::new("POST", parts_path.clone(), 200).hang());
    bot.clock.set(utc("2026-03-02T17:00:00Z"));
    bot.fake
        .wait_for("the first part", WAIT, |r| {
            r.method == "POST" && r.path == parts_path
        })
        .await;
    // The bot times out and records a failure to retry.
    let store = bot.store().await;
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let d = drop_of_thread(&bot, thread).await;
        if d.failure.is_some() {
            assert_eq!(d.state, DropState::Posted, "still to be revealed");
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the reveal never timed out"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    drop(store);
    // Ten minutes later Discord has forgotten the nonces.
    bot.fake.forget_nonces();
    bot.clock.set(utc("2026-03-02T17:10:00Z"));
    let deadline = std::time::Instant::now() + WAIT;
    while drop_of_thread(&bot, thread).await.state != DropState::Revealed {
        assert!(std::time::Instant::now() < deadline, "never revealed");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let markers: Vec<String> = bot
        .fake
        .posted_messages()
        .into_iter()
        .filter(|(c, _)| *c == thread)
        .filter_map(|(_, m)| m["content"].as_str()?.lines().last().map(String::from))
        .collect();
    let n = markers.len();
    assert!(n >= 2, "a reveal of several parts: {markers:?}");
    let mut unique = markers.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), n, "no part posted twice: {markers:?}");
    for (i, m) in markers.iter().enumerate() {
        assert!(
            m.ends_with(&format!("part {} of {n}", i + 1)),
            "{markers:?}"
        );
    }
    assert!(
        bot.fake
            .requests()
            .iter()
            .any(|r| r.method == "GET" && r.path.starts_with(&parts_path)),
        "the retry looked in the thread first"
    );
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_permission_fails_the_drop_once_and_shows_in_schedule_show() {
    let bot = start_bot("2026-03-02T08:00:00Z").await;
    set_up_nine_to_five(&bot, CHANNEL_A).await;
    let drops_path = format!("/api/v10/channels/{CHANNEL_A}/messages");
    bot.fake
        .add_fault(Fault::new("POST", drops_path.clone(), 403).code(50013));
    bot.clock.set(utc("2026-03-02T09:00:00Z"));
    bot.fake
        .wait_for("the refused drop", WAIT, |r| {
            r.method == "POST" && r.path == drops_path
        })
        .await;
    let store = bot.store().await;
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let mut conn = store.read().await.unwrap();
        let key_a = channel_key(&mut conn, CHANNEL_A).await;
        let d = prepbot_core::store::drops::latest(&mut conn, key_a)
            .await
            .unwrap()
            .unwrap();
        drop(conn);
        if d.state == DropState::Failed {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the drop was not failed"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    // No spinning: later in the day nothing is retried.
    bot.clock.set(utc("2026-03-02T12:00:00Z"));
    tokio::time::sleep(Duration::from_millis(300)).await;
    let posts = |bot: &Bot| {
        bot.fake
            .requests()
            .iter()
            .filter(|r| r.method == "POST" && r.path == drops_path)
            .count()
    };
    assert_eq!(posts(&bot), 1, "a 403 is not retried");
    let show = bot
        .command(
            "schedule",
            vec![sub("show", vec![])],
            &Person::member(30, "Eve"),
            CHANNEL_A,
        )
        .await;
    assert!(show.ephemeral);
    assert!(
        show.text().contains("Last drop failed")
            && show
                .text()
                .contains(&format!("lacks permission to post in <#{CHANNEL_A}>"))
            && show.text().contains("Send Messages"),
        "{}",
        show.text()
    );
    assert!(!channel_row(&bot, CHANNEL_A).await.unwrap().schedule.paused);
    // Once the permission is back, the next day's drop goes out.
    expect_drop(&bot, CHANNEL_A, "2026-03-03T09:00:00Z", 1).await;
    let show = bot
        .command(
            "schedule",
            vec![sub("show", vec![])],
            &Person::member(30, "Eve"),
            CHANNEL_A,
        )
        .await;
    assert!(!show.text().contains("Last drop failed"), "{}", show.text());
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_channel_pauses_its_schedule_and_keeps_it() {
    let bot = start_bot("2026-03-02T08:00:00Z").await;
    set_up_nine_to_five(&bot, CHANNEL_A2).await;
    bot.fake.delete_channel(CHANNEL_A2);
    bot.clock.set(utc("2026-03-02T09:00:00Z"));
    let drops_path = format!("/api/v10/channels/{CHANNEL_A2}/messages");
    bot.fake
        .wait_for("the drop into the deleted channel", WAIT, |r| {
            r.method == "POST" && r.path == drops_path
        })
        .await;
    let deadline = std::time::Instant::now() + WAIT;
    let row = loop {
        let row = channel_row(&bot, CHANNEL_A2)
            .await
            .expect("the schedule is kept");
        if row.schedule.paused {
            break row;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the schedule was not paused"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    };
    assert!(
        row.pause_reason
            .as_deref()
            .is_some_and(|r| r.contains("no longer exists")),
        "{row:?}"
    );
    assert_eq!(row.schedule.time.format("%H:%M").to_string(), "09:00");
    let status = prepbot_core::status::report(&bot.store().await, utc("2026-03-02T10:00:00Z"))
        .await
        .unwrap();
    assert!(
        status.contains(&format!("channel {CHANNEL_A2}"))
            && status.contains("paused by the bot: the channel")
            && status.contains("no longer exists"),
        "{status}"
    );
    // Days pass; nothing more is sent there.
    bot.clock.set(utc("2026-03-04T09:30:00Z"));
    tokio::time::sleep(Duration::from_millis(300)).await;
    let posts = bot
        .fake
        .requests()
        .iter()
        .filter(|r| r.method == "POST" && r.path == drops_path)
        .count();
    assert_eq!(posts, 1);
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_waits_for_answers_being_stored() {
    use sqlx::Connection;
    let bot = start_bot("2026-03-02T08:00:00Z").await;
    set_up_nine_to_five(&bot, CHANNEL_A).await;
    let (_, thread) = expect_drop(&bot, CHANNEL_A, "2026-03-02T09:00:00Z", 1).await;
    bot.clock.set(utc("2026-03-02T10:00:00Z"));
    // Another process holds the database's write lock, so the answers below are
    // still being written when the stop comes.
    let mut other = sqlx::SqliteConnection::connect(&bot.db_url).await.unwrap();
    sqlx::query("BEGIN IMMEDIATE")
        .execute(&mut other)
        .await
        .unwrap();
    let people = [
        Person::member(21, "Ada"),
        Person::member(22, "Ben"),
        Person::member(23, "Cy"),
    ];
    let mut ids = Vec::new();
    for p in &people {
        let id = bot.fake.snowflake();
        bot.fake.dispatch(
            "MESSAGE_CREATE",
            member_message(
                id,
                thread,
                GUILD_A,
                p,
                &format!("{} answers", p.name),
                utc("2026-03-02T10:00:00Z"),
            ),
        );
        ids.push(id);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let stopping = tokio::spawn(bot.stop_keeping_database());
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!stopping.is_finished(), "the stop waits for the writes");
    sqlx::query("ROLLBACK").execute(&mut other).await.unwrap();
    drop(other);
    let (_dir, db_url) = tokio::time::timeout(WAIT, stopping).await.unwrap().unwrap();
    let store = prepbot_core::store::Store::open_url(&db_url).await.unwrap();
    let mut conn = store.read().await.unwrap();
    for (p, id) in people.iter().zip(ids) {
        let a = answer_row(&mut conn, id).await.unwrap();
        assert_eq!(
            a.map(|a| a.body),
            Some(format!("{} answers", p.name)),
            "{}'s answer was stored before the bot stopped",
            p.name
        );
    }
}

/// The POSTs of drops to `channel`, in order.
fn drop_posts_to(bot: &Bot, channel: u64) -> Vec<prepbot_fake_discord::Recorded> {
    let path = format!("/api/v10/channels/{channel}/messages");
    bot.fake
        .requests()
        .into_iter()
        .filter(|r| r.method == "POST" && r.path == path)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_is_waited_out_for_as_long_as_discord_says_not_a_fixed_time() {
    let bot = start_bot("2026-03-02T08:00:00Z").await;
    set_up_nine_to_five(&bot, CHANNEL_A).await;
    set_up_nine_to_five(&bot, CHANNEL_A2).await;
    // Two different waits: no fixed sleep satisfies both bounds below.
    for (channel, secs) in [(CHANNEL_A, 0.1), (CHANNEL_A2, 1.5)] {
        bot.fake.add_fault(
            Fault::new("POST", format!("/channels/{channel}/messages"), 429).retry_after(secs),
        );
    }
    bot.clock.set(utc("2026-03-02T09:00:00Z"));
    for channel in [CHANNEL_A, CHANNEL_A2] {
        bot.fake
            .wait_until("the drop after its 429", WAIT, || {
                drop_posts_to(&bot, channel).len() >= 2
            })
            .await;
    }
    let gap = |channel| {
        let posts = drop_posts_to(&bot, channel);
        assert_eq!(posts.len(), 2, "one 429, one retry");
        posts[1].at.duration_since(posts[0].at)
    };
    let short = gap(CHANNEL_A);
    let long = gap(CHANNEL_A2);
    assert!(
        short >= Duration::from_millis(95) && short < Duration::from_millis(1000),
        "retry_after 0.1 s, retried after {short:?}"
    );
    assert!(
        long >= Duration::from_millis(1490),
        "retry_after 1.5 s, retried after {long:?}"
    );
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_error_on_a_drop_is_retried_after_a_backoff() {
    let bot = start_bot("2026-03-02T08:00:00Z").await;
    set_up_nine_to_five(&bot, CHANNEL_A).await;
    bot.fake.add_fault(Fault::new(
        "POST",
        format!("/channels/{CHANNEL_A}/messages"),
        503,
    ));
    let (_, thread) = expect_drop(&bot, CHANNEL_A, "2026-03-02T09:00:00Z", 1).await;
    let posts = drop_posts_to(&bot, CHANNEL_A);
    assert_eq!(posts.len(), 2, "one 503, one retry");
    let gap = posts[1].at.duration_since(posts[0].at);
    assert!(gap >= Duration::from_millis(990), "backed off {gap:?}");
    assert_eq!(posts[0].body["nonce"], posts[1].body["nonce"]);
    assert_eq!(drop_of_thread(&bot, thread).await.state, DropState::Posted);
    bot.stop().await;
}

/// Answers bypass poise, so they are stored and acknowledged from the first event
/// on, even while poise's setup (registering the commands) is still waiting.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_are_taken_while_the_commands_are_still_being_registered() {
    let bot = start_bot("2026-03-02T08:00:00Z").await;
    set_up_nine_to_five(&bot, CHANNEL_A).await;
    let (_, thread) = expect_drop(&bot, CHANNEL_A, "2026-03-02T09:00:00Z", 1).await;
    // The registration is received and never answered: setup cannot finish.
    let bot = bot
        .restart(|fake, clock| {
            fake.add_fault(
                Fault::new("PUT", format!("/guilds/{GUILD_A}/commands"), 200)
                    .hang()
                    .times(5),
            );
            clock.set(utc("2026-03-02T10:00:00Z"));
        })
        .await;
    let registered_at = bot.fake.requests().len();
    let grace = Person::member(22, "Grace");
    let id = answer(
        &bot,
        thread,
        GUILD_A,
        &grace,
        "Grace, while the bot registers its commands",
        "2026-03-02T10:00:00Z",
        CHECK,
    )
    .await;
    let row = stored(&bot, id)
        .await
        .expect("stored before setup finished");
    assert_eq!(row.body, "Grace, while the bot registers its commands");
    // Nothing after the registration was answered: no drop or reveal went out, so
    // the scheduler (started only once setup succeeds) had not started.
    assert!(
        bot.fake.requests()[registered_at..]
            .iter()
            .all(|r| r.method == "PUT" && r.path.contains("/reactions/")),
        "{:?}",
        bot.fake.requests()[registered_at..]
            .iter()
            .map(|r| format!("{} {}", r.method, r.path))
            .collect::<Vec<_>>()
    );
    // The setup never finishes, so the bot is not stopped cleanly here; the
    // runtime ends it with the test.
}
