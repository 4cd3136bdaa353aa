//! The real bot (its library entry, `prepbot_discord::run`) against the fake Discord
//! on 127.0.0.1, with a clock the test drives. Everything asserted is what reached
//! the fake (or, for what the bot stored, the bot's own database).

use std::sync::Arc;
use std::time::Duration;

use crate::harness::*;
use prepbot_core::clock::{Clock, ManualClock};
use prepbot_discord::{DiscordConfig, Token};
use prepbot_fake_discord::fixtures::*;
use prepbot_fake_discord::{
    APP_ID, CHANNEL_A, CHANNEL_A2, CHANNEL_B, FakeDiscord, GUILD_A, Recorded,
};
use serde_json::{Value, json};
use tokio::sync::oneshot;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn startup_registers_every_command_with_descriptions() {
    let bot = start_bot("2026-03-02T08:00:00Z").await;
    let put = bot
        .fake
        .requests()
        .into_iter()
        .find(|r| r.method == "PUT" && r.path.ends_with("/commands"))
        .unwrap();
    assert!(
        put.path
            .contains(&format!("/applications/{APP_ID}/guilds/{GUILD_A}/commands"))
    );
    assert_eq!(put.authorization.as_deref(), Some("Bot e2e-token-SECRET"));
    let commands = put.body.as_array().unwrap();
    let mut names: Vec<&str> = commands
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "drop",
            "forget",
            "help",
            "leaderboard",
            "question",
            "reveal",
            "schedule",
            "setup",
            "streak"
        ]
    );
    for c in commands {
        let name = c["name"].as_str().unwrap();
        let perms = c["default_member_permissions"].as_str();
        match name {
            "setup" | "drop" | "reveal" => {
                assert_eq!(perms, Some("32"), "/{name} needs Manage Server")
            }
            _ => assert_eq!(perms, None, "/{name} is for everyone"),
        }
        fn described(c: &Value) {
            assert!(!c["description"].as_str().unwrap_or("").is_empty(), "{c}");
            for o in c["options"].as_array().into_iter().flatten() {
                described(o);
            }
        }
        described(c);
    }
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn setup_by_an_admin_schedules_and_a_member_is_refused() {
    let bot = start_bot("2026-03-02T08:00:00Z").await;
    let reply = bot
        .command(
            "setup",
            vec![
                opt("time", json!("09:00")),
                opt("timezone", json!("Europe/London")),
                opt("reveal_after", json!(8)),
            ],
            &admin(),
            CHANNEL_A,
        )
        .await;
    assert!(reply.ephemeral);
    let drop_at = utc("2026-03-02T09:00:00Z").timestamp();
    assert!(
        reply
            .text()
            .contains(&format!("Next drop: <t:{drop_at}:F>")),
        "{}",
        reply.text()
    );
    assert!(
        reply
            .text()
            .contains("daily at 09:00 Europe/London, reveal 8 h after each drop")
    );

    // A member without Manage Server: refused, nothing stored for channel A2.
    let ben = Person::member(12, "Ben");
    let reply = bot
        .command(
            "setup",
            vec![opt("time", json!("10:00")), opt("timezone", json!("UTC"))],
            &ben,
            CHANNEL_A2,
        )
        .await;
    assert!(reply.ephemeral);
    assert!(
        reply
            .text()
            .contains("You need the Manage Server permission"),
        "{}",
        reply.text()
    );
    let show = bot
        .command("schedule", vec![sub("show", vec![])], &ben, CHANNEL_A2)
        .await;
    assert!(show.text().contains("no schedule yet"), "{}", show.text());
    assert!(
        channel_row(&bot, CHANNEL_A2).await.is_none(),
        "nothing stored"
    );
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_gets_an_ephemeral_error_and_stores_nothing() {
    let bot = start_bot("2026-03-02T08:00:00Z").await;
    let cases = [
        (
            vec![
                opt("time", json!("09:00")),
                opt("timezone", json!("Z".repeat(2100))),
            ],
            "is not a known IANA time zone",
        ),
        (
            vec![
                opt("time", json!("09:00")),
                opt("timezone", json!("Mars/Olympus")),
            ],
            "is not a known IANA time zone",
        ),
        (
            vec![opt("time", json!("25:61")), opt("timezone", json!("UTC"))],
            "is not a time: use 24-hour HH:MM",
        ),
        (
            vec![
                opt("time", json!("09:00")),
                opt("timezone", json!("UTC")),
                opt("reveal_after", json!(10000)),
            ],
            "reveal delay must be between 1 and 168 hours, not 10000",
        ),
        (
            vec![
                opt("time", json!("09:00")),
                opt("timezone", json!("UTC")),
                opt("reveal_after", json!(0)),
            ],
            "reveal delay must be between 1 and 168 hours, not 0",
        ),
        (
            vec![
                opt("time", json!("09:00")),
                opt("timezone", json!("UTC")),
                opt("topic", json!("astrology")),
            ],
            "There is no topic `astrology`",
        ),
        (
            vec![
                opt("time", json!("09:00")),
                opt("timezone", json!("UTC")),
                opt("days", json!("funday")),
            ],
            "is not a set of days",
        ),
    ];
    for (options, expected) in cases {
        let reply = bot.command("setup", options, &admin(), CHANNEL_A).await;
        assert!(reply.ephemeral);
        assert!(
            reply.text().contains(expected),
            "expected {expected:?} in {:?}",
            reply.text()
        );
    }
    assert!(
        channel_row(&bot, CHANNEL_A).await.is_none(),
        "nothing stored"
    );
    let search = bot
        .command(
            "question",
            vec![sub("search", vec![opt("query", json!("x".repeat(5000)))])],
            &admin(),
            CHANNEL_A,
        )
        .await;
    assert!(
        search.text().contains("Search for 1 to 200 characters"),
        "{}",
        search.text()
    );
    let show = bot
        .command(
            "question",
            vec![sub("show", vec![opt("id", json!("no-such-id"))])],
            &admin(),
            CHANNEL_A,
        )
        .await;
    assert!(
        show.text().contains("No question has the id `no-such-id`"),
        "{}",
        show.text()
    );
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn days_of_drops_answers_reveals_streaks_and_lookups() {
    let bot = start_bot("2026-03-02T08:00:00Z").await;
    let ada = admin();
    let ben = Person::member(12, "Ben");
    let cy = Person::member(13, "Cy");
    let dee = Person::member(14, "Dee");
    bot.command(
        "setup",
        vec![
            opt("time", json!("09:00")),
            opt("timezone", json!("Europe/London")),
            opt("reveal_after", json!(8)),
        ],
        &ada,
        CHANNEL_A,
    )
    .await;
    // A second server with its own schedule: 09:00 in New York is 14:00 UTC.
    let bea = Person::admin(21, "Bea");
    bot.command(
        "setup",
        vec![
            opt("time", json!("09:00")),
            opt("timezone", json!("America/New_York")),
            opt("reveal_after", json!(4)),
        ],
        &bea,
        CHANNEL_B,
    )
    .await;

    // Day 1: the drop goes out at 09:00 with its embed and thread.
    let (post, thread) = expect_drop(&bot, CHANNEL_A, "2026-03-02T09:00:00Z", 1).await;
    let embed = &post.body["embeds"][0];
    assert!(embed["title"].as_str().unwrap().starts_with("Drop #1: "));
    let reveal_at = utc("2026-03-02T17:00:00Z").timestamp();
    let fields = embed["fields"].as_array().unwrap();
    assert!(
        fields
            .iter()
            .any(|f| f["value"] == format!("<t:{reveal_at}:F> (<t:{reveal_at}:R>)"))
    );
    assert!(fields.iter().any(|f| f["name"] == "Topic"));
    assert!(fields.iter().any(|f| f["name"] == "Difficulty"));
    assert_eq!(post.body["allowed_mentions"]["parse"], json!([]));
    let qid = question_of(&post);
    let answer_text = model_answer(&qid);
    let secret = &answer_text[..answer_text.len().min(80)];

    // Lookups while it is open never show its model answer.
    let today = bot
        .command("question", vec![sub("today", vec![])], &ben, CHANNEL_A)
        .await;
    assert!(
        today.text().contains(&format!("`{qid}`")),
        "{}",
        today.text()
    );
    assert!(
        today
            .text()
            .contains(&format!("https://discord.com/channels/{GUILD_A}/{thread}"))
    );
    let show = bot
        .command(
            "question",
            vec![sub("show", vec![opt("id", json!(qid))])],
            &ben,
            CHANNEL_A2,
        )
        .await;
    assert!(
        show.text()
            .contains("its model answer appears at the reveal"),
        "{}",
        show.text()
    );
    let search_words: String = qid.replace('-', " ");
    let search = bot
        .command(
            "question",
            vec![sub("search", vec![opt("query", json!(search_words))])],
            &ben,
            CHANNEL_A,
        )
        .await;
    assert!(
        search.text().contains(&format!("`{qid}`")),
        "{}",
        search.text()
    );
    bot.command("question", vec![sub("random", vec![])], &ben, CHANNEL_A)
        .await;

    // Answers: Ada on time; Ben on time and edits; Cy on time and deletes.
    let ada_msg = answer(
        &bot,
        thread,
        GUILD_A,
        &ada,
        "Ada's answer",
        "2026-03-02T09:30:00Z",
        CHECK,
    )
    .await;
    let ben_msg = answer(
        &bot,
        thread,
        GUILD_A,
        &ben,
        "Ben's first try",
        "2026-03-02T10:00:00Z",
        CHECK,
    )
    .await;
    bot.fake.dispatch(
        "MESSAGE_UPDATE",
        member_edit(
            ben_msg,
            thread,
            GUILD_A,
            &ben,
            "Ben's better answer",
            utc("2026-03-02T10:00:00Z"),
            utc("2026-03-02T10:05:00Z"),
        ),
    );
    bot.fake.dispatch(
        "MESSAGE_UPDATE",
        embed_only_update(ada_msg, thread, GUILD_A),
    );
    let cy_msg = answer(
        &bot,
        thread,
        GUILD_A,
        &cy,
        "Cy's answer",
        "2026-03-02T11:00:00Z",
        CHECK,
    )
    .await;
    bot.fake
        .dispatch("MESSAGE_DELETE", message_delete(cy_msg, thread, GUILD_A));

    // Nothing so far carried the model answer.
    for r in bot.fake.requests() {
        assert!(
            !r.body.to_string().contains(secret),
            "model answer leaked before the reveal in {} {}",
            r.method,
            r.path
        );
    }

    // The other server's drop comes at its own time, numbered on its own.
    let (b_post, _) = expect_drop(&bot, CHANNEL_B, "2026-03-02T14:00:00Z", 1).await;
    assert!(
        b_post.body["embeds"][0]["title"]
            .as_str()
            .unwrap()
            .starts_with("Drop #1: ")
    );

    // The reveal at 17:00, in the thread.
    let reveal = expect_reveal(&bot, thread, "2026-03-02T17:00:00Z", 1).await;
    for part in [
        "**Model answer**",
        "**What interviewers look for**",
        "**Common mistakes**",
    ] {
        assert!(reveal.contains(part), "reveal lacks {part}");
    }
    assert!(
        reveal.contains(secret),
        "the reveal carries the model answer"
    );
    assert!(
        reveal.contains("2 members answered on time: Ada, Ben."),
        "{reveal}"
    );
    assert!(
        !reveal.contains("Milestone"),
        "one drop is no milestone: {reveal}"
    );
    let late = answer(
        &bot,
        thread,
        GUILD_A,
        &dee,
        "Dee, late",
        "2026-03-02T18:00:00Z",
        CLOCK_EMOJI,
    )
    .await;

    // After the reveal the answer may be shown.
    let show = bot
        .command(
            "question",
            vec![sub("show", vec![opt("id", json!(qid))])],
            &ben,
            CHANNEL_A,
        )
        .await;
    assert!(show.text().contains(secret), "shown after the reveal");
    assert_eq!(
        show.raw.len(),
        1,
        "the whole question in one message: the callback, no follow-ups"
    );
    assert!(
        show.raw[0].body["data"]["embeds"]
            .as_array()
            .is_some_and(|e| e.len() >= 4)
    );

    // What the bot stored.
    {
        let store = bot.store().await;
        let mut conn = store.read().await.unwrap();
        let ben_row = answer_row(&mut conn, ben_msg).await.unwrap().unwrap();
        assert_eq!(ben_row.body, "Ben's better answer");
        let ada_row = answer_row(&mut conn, ada_msg).await.unwrap().unwrap();
        assert_eq!(
            ada_row.body, "Ada's answer",
            "a link-preview update changes nothing"
        );
        let cy_row = answer_row(&mut conn, cy_msg).await.unwrap().unwrap();
        assert!(cy_row.withdrawn_at.is_some());
        let dee_row = answer_row(&mut conn, late).await.unwrap().unwrap();
        assert_eq!(dee_row.body, "Dee, late");
    }

    // Days 2 and 3.
    let (_, thread2) = expect_drop(&bot, CHANNEL_A, "2026-03-03T09:00:00Z", 2).await;
    answer(
        &bot,
        thread2,
        GUILD_A,
        &ada,
        "day 2",
        "2026-03-03T09:10:00Z",
        CHECK,
    )
    .await;
    expect_reveal(&bot, thread2, "2026-03-03T17:00:00Z", 2).await;
    let (_, thread3) = expect_drop(&bot, CHANNEL_A, "2026-03-04T09:00:00Z", 3).await;
    answer(
        &bot,
        thread3,
        GUILD_A,
        &ada,
        "day 3",
        "2026-03-04T09:10:00Z",
        CHECK,
    )
    .await;
    answer(
        &bot,
        thread3,
        GUILD_A,
        &ben,
        "day 3",
        "2026-03-04T09:20:00Z",
        CHECK,
    )
    .await;
    let reveal3 = expect_reveal(&bot, thread3, "2026-03-04T17:00:00Z", 3).await;
    assert!(
        reveal3.contains("Milestone: Ada has answered 3 drops in a row."),
        "{reveal3}"
    );

    let streak = bot.command("streak", vec![], &ada, CHANNEL_A).await;
    assert!(!streak.ephemeral, "streaks are shared in the channel");
    assert!(
        streak
            .text()
            .contains("**Ada**: current streak 3, best 3, 3 on-time answers"),
        "{}",
        streak.text()
    );
    let streak = bot
        .command_with_users(
            "streak",
            vec![user_opt("member", &ben)],
            &[&ben],
            &ada,
            CHANNEL_A,
        )
        .await;
    assert!(
        streak
            .text()
            .contains("**Ben**: current streak 1, best 1, 2 on-time answers"),
        "{}",
        streak.text()
    );
    let streak = bot
        .command_with_users(
            "streak",
            vec![user_opt("member", &dee)],
            &[&dee],
            &ada,
            CHANNEL_A,
        )
        .await;
    assert!(
        streak.text().contains("has not answered a drop on time"),
        "{}",
        streak.text()
    );
    let board = bot.command("leaderboard", vec![], &cy, CHANNEL_A).await;
    assert!(
        board
            .text()
            .contains("1. Ada: 3 (best 3, 3 on time)\n2. Ben: 1 (best 1, 2 on time)"),
        "{}",
        board.text()
    );
    let other = bot.command("leaderboard", vec![], &bea, CHANNEL_B).await;
    assert!(
        other.text().contains("Nobody has answered"),
        "streaks are per channel: {}",
        other.text()
    );
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drop_and_reveal_on_demand_and_schedule_controls() {
    let bot = start_bot("2026-03-02T07:00:00Z").await;
    let ada = admin();
    let ben = Person::member(12, "Ben");
    // Nothing set up yet.
    let reply = bot.command("drop", vec![], &ada, CHANNEL_A).await;
    assert!(
        reply.text().contains("no schedule yet: run /setup"),
        "{}",
        reply.text()
    );
    set_up(&bot, "18:00", "UTC", CHANNEL_A).await;

    // A member cannot drop, reveal, pause or resume.
    for (cmd, options) in [
        ("drop", vec![]),
        ("reveal", vec![]),
        ("schedule", vec![sub("pause", vec![])]),
        ("schedule", vec![sub("resume", vec![])]),
    ] {
        let reply = bot.command(cmd, options, &ben, CHANNEL_A).await;
        assert!(reply.ephemeral);
        assert!(
            reply
                .text()
                .contains("You need the Manage Server permission"),
            "/{cmd}: {}",
            reply.text()
        );
    }
    assert!(drop_posts(&bot.fake, CHANNEL_A).is_empty());

    // /drop posts today's drop now; the reply is deferred, then edited.
    let reply = bot.command("drop", vec![], &ada, CHANNEL_A).await;
    assert_eq!(reply.raw[0].body["type"], 5, "deferred first");
    assert!(reply.ephemeral);
    assert!(
        reply
            .text()
            .starts_with("Posted drop #1: https://discord.com/channels/"),
        "{}",
        reply.text()
    );
    assert_eq!(drop_posts(&bot.fake, CHANNEL_A).len(), 1);
    let again = bot.command("drop", vec![], &ada, CHANNEL_A).await;
    assert!(
        again
            .text()
            .contains("Today's drop is already out: https://discord.com/channels/"),
        "{}",
        again.text()
    );
    assert_eq!(
        drop_posts(&bot.fake, CHANNEL_A).len(),
        1,
        "nothing more was posted"
    );

    // /schedule show, for anyone.
    let show = bot
        .command("schedule", vec![sub("show", vec![])], &ben, CHANNEL_A)
        .await;
    assert!(
        show.text().contains("daily at 18:00 UTC"),
        "{}",
        show.text()
    );
    assert!(
        show.text()
            .contains("Open: drop #1 https://discord.com/channels/"),
        "{}",
        show.text()
    );
    // The next drop is tomorrow: today's was brought forward.
    let tomorrow = utc("2026-03-03T18:00:00Z").timestamp();
    assert!(
        show.text()
            .contains(&format!("Next drop: <t:{tomorrow}:F>")),
        "{}",
        show.text()
    );

    // /reveal reveals the open drop now, in its thread.
    let reply = bot.command("reveal", vec![], &ada, CHANNEL_A).await;
    assert!(
        reply
            .text()
            .starts_with("Revealed drop #1 in https://discord.com/channels/"),
        "{}",
        reply.text()
    );
    let message_id = bot
        .fake
        .posted_messages()
        .into_iter()
        .find(|(c, _)| *c == CHANNEL_A)
        .unwrap()
        .1["id"]
        .as_str()
        .unwrap()
        .to_string();
    let in_thread = format!("/api/v10/channels/{message_id}/messages");
    let reveal_posts: Vec<Recorded> = bot
        .fake
        .requests()
        .into_iter()
        .filter(|r| r.path == in_thread)
        .collect();
    assert!(!reveal_posts.is_empty());
    for r in &reveal_posts {
        let content = r.body["content"].as_str().unwrap();
        assert!(
            content.chars().count() <= 2000,
            "every message fits Discord's 2000 characters"
        );
        assert_eq!(
            content.matches("```").count() % 2,
            0,
            "no code block left open"
        );
        assert_eq!(
            r.body["allowed_mentions"]["parse"],
            json!([]),
            "reveals never ping"
        );
    }
    let none = bot.command("reveal", vec![], &ada, CHANNEL_A).await;
    assert!(
        none.text().contains("No drop is open in this channel."),
        "{}",
        none.text()
    );

    // Pause: the 18:00 drop tomorrow does not happen; resume brings the next one back.
    let paused = bot
        .command("schedule", vec![sub("pause", vec![])], &ada, CHANNEL_A)
        .await;
    assert!(paused.text().starts_with("Paused"), "{}", paused.text());
    bot.clock.set(utc("2026-03-03T18:00:00Z"));
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(drop_posts(&bot.fake, CHANNEL_A).len(), 1, "paused: no drop");
    // Resumed after today's 18:00 has passed: the next drop is tomorrow's, and the
    // paused day is skipped, not caught up.
    bot.clock.set(utc("2026-03-03T18:30:00Z"));
    let resumed = bot
        .command("schedule", vec![sub("resume", vec![])], &ada, CHANNEL_A)
        .await;
    let next = utc("2026-03-04T18:00:00Z").timestamp();
    assert!(
        resumed
            .text()
            .contains(&format!("Resumed. Next drop: <t:{next}:F>")),
        "{}",
        resumed.text()
    );
    expect_drop(&bot, CHANNEL_A, "2026-03-04T18:00:00Z", 2).await;
    // By now the scheduler has been past 2026-03-03 18:00 for sure: nothing was
    // posted or recorded for the paused day.
    let store = bot.store().await;
    let mut conn = store.read().await.unwrap();
    let paused_day = chrono::NaiveDate::from_ymd_opt(2026, 3, 3).unwrap();
    let key_a = channel_key(&mut conn, CHANNEL_A).await;
    assert!(
        prepbot_core::store::drops::for_date(&mut conn, key_a, paused_day)
            .await
            .unwrap()
            .is_none()
    );
    drop(conn);
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn autocomplete_offers_at_most_25_matching_choices() {
    let bot = start_bot("2026-03-02T07:00:00Z").await;
    let ada = admin();
    let zones = bot
        .autocomplete(
            "setup",
            vec![opt("time", json!("09:00")), focused("timezone", "lond")],
            &ada,
            CHANNEL_A,
        )
        .await;
    assert_eq!(zones.first().map(String::as_str), Some("Europe/London"));
    let many = bot
        .autocomplete(
            "setup",
            vec![focused("timezone", "america")],
            &ada,
            CHANNEL_A,
        )
        .await;
    assert_eq!(many.len(), 25, "Discord allows at most 25 choices");
    assert!(many.iter().all(|z| z.to_lowercase().contains("america")));
    let topics = bot
        .autocomplete("setup", vec![focused("topic", "data")], &ada, CHANNEL_A)
        .await;
    assert_eq!(topics, ["databases"]);
    let ids = bot
        .autocomplete(
            "question",
            vec![sub_focused("show", "id", "idempot")],
            &ada,
            CHANNEL_A,
        )
        .await;
    assert_eq!(ids.first().map(String::as_str), Some("idempotency"));
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answer_events_in_any_order_give_the_same_outcome() {
    let bot = start_bot("2026-03-02T08:00:00Z").await;
    let ada = admin();
    let ben = Person::member(12, "Ben");
    let cy = Person::member(13, "Cy");
    set_up(&bot, "09:00", "UTC", CHANNEL_A).await;
    let (_, thread) = expect_drop(&bot, CHANNEL_A, "2026-03-02T09:00:00Z", 1).await;

    // Ben's delete arrives before his message: the message is stored withdrawn.
    let ben_msg = bot.fake.snowflake();
    bot.fake
        .dispatch("MESSAGE_DELETE", message_delete(ben_msg, thread, GUILD_A));
    tokio::time::sleep(Duration::from_millis(300)).await;
    bot.fake.dispatch(
        "MESSAGE_CREATE",
        member_message(
            ben_msg,
            thread,
            GUILD_A,
            &ben,
            "oops",
            utc("2026-03-02T09:05:00Z"),
        ),
    );
    // Cy's edit arrives before his message: the edited text wins.
    let cy_msg = bot.fake.snowflake();
    bot.fake.dispatch(
        "MESSAGE_UPDATE",
        member_edit(
            cy_msg,
            thread,
            GUILD_A,
            &cy,
            "edited first",
            utc("2026-03-02T09:06:00Z"),
            utc("2026-03-02T09:07:00Z"),
        ),
    );
    bot.fake
        .wait_for("Cy's acknowledgement", WAIT, |r| {
            r.path.contains(&format!("/messages/{cy_msg}/reactions/"))
        })
        .await;
    bot.fake.dispatch(
        "MESSAGE_CREATE",
        member_message(
            cy_msg,
            thread,
            GUILD_A,
            &cy,
            "original",
            utc("2026-03-02T09:06:00Z"),
        ),
    );
    // Ada posts twice; both are deleted in bulk.
    let a1 = answer(
        &bot,
        thread,
        GUILD_A,
        &ada,
        "one",
        "2026-03-02T09:10:00Z",
        CHECK,
    )
    .await;
    let a2 = answer(
        &bot,
        thread,
        GUILD_A,
        &ada,
        "two",
        "2026-03-02T09:11:00Z",
        CHECK,
    )
    .await;
    bot.fake.dispatch(
        "MESSAGE_DELETE_BULK",
        message_delete_bulk(&[a1, a2], thread, GUILD_A),
    );
    tokio::time::sleep(Duration::from_millis(500)).await;

    let store = bot.store().await;
    let mut conn = store.read().await.unwrap();
    let ben_row = answer_row(&mut conn, ben_msg).await.unwrap().unwrap();
    assert!(
        ben_row.withdrawn_at.is_some(),
        "delete-then-create is a withdrawn answer"
    );
    let cy_row = answer_row(&mut conn, cy_msg).await.unwrap().unwrap();
    assert_eq!(
        cy_row.body, "edited first",
        "edit-then-create keeps the edit"
    );
    for id in [a1, a2] {
        assert!(
            answer_row(&mut conn, id)
                .await
                .unwrap()
                .unwrap()
                .withdrawn_at
                .is_some()
        );
    }
    drop(conn);
    let reveal = expect_reveal(&bot, thread, "2026-03-03T09:00:00Z", 1).await;
    assert!(
        reveal.contains("1 member answered on time: Cy."),
        "{reveal}"
    );
    assert_eq!(
        bot.fake
            .requests()
            .iter()
            .filter(|r| r.path.contains(&format!("/messages/{ben_msg}/reactions/")))
            .count(),
        0,
        "a withdrawn answer gets no acknowledgement"
    );
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_timer_fires_the_drop_at_its_instant() {
    let clock = Arc::new(ShiftedClock {
        offset_ms: std::sync::atomic::AtomicI64::new(0),
    });
    // Three seconds before 09:00: setup happens now, the drop is due in 3 s.
    clock.at(utc("2026-03-02T08:59:57Z"));
    let fake = FakeDiscord::start(clock.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let db_url = format!("sqlite://{}", dir.path().join("bot.db").display());
    let (stop, stop_rx) = oneshot::channel::<()>();
    let task = spawn_bot(config(&fake, &db_url), clock.clone(), async move {
        let _ = stop_rx.await;
    });
    fake.wait_identified(WAIT).await;
    fake.wait_for("commands", WAIT, |r| r.path.ends_with("/commands"))
        .await;
    let id = fake.snowflake();
    fake.dispatch(
        "INTERACTION_CREATE",
        slash(
            id,
            "tok-real",
            "setup",
            vec![opt("time", json!("09:00")), opt("timezone", json!("UTC"))],
            &admin(),
            CHANNEL_A,
        ),
    );
    fake.wait_for("setup reply", WAIT, |r| r.path.ends_with("/tok-real"))
        .await;
    let set_up = std::time::Instant::now();
    let left = (utc("2026-03-02T09:00:00Z") - clock.now())
        .to_std()
        .expect("set up before 09:00");
    let post = fake
        .wait_for("the timed drop", WAIT, |r| {
            r.method == "POST" && r.path == format!("/api/v10/channels/{CHANNEL_A}/messages")
        })
        .await;
    let waited = post.at.duration_since(set_up);
    assert!(
        waited + Duration::from_millis(100) >= left,
        "fired early: {waited:?} of {left:?}"
    );
    assert!(
        waited < left + Duration::from_secs(3),
        "fired late: {waited:?} of {left:?}"
    );
    let _ = stop.send(());
    task.stopped(WAIT).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_command_registration_stops_the_bot_with_a_clear_error() {
    let clock = Arc::new(ManualClock::new(utc("2026-03-02T08:00:00Z")));
    let fake = FakeDiscord::start(clock.clone()).await;
    fake.break_commands_endpoint();
    let dir = tempfile::tempdir().unwrap();
    let db_url = format!("sqlite://{}", dir.path().join("bot.db").display());
    let result = tokio::time::timeout(
        WAIT,
        prepbot_discord::run(config(&fake, &db_url), clock, std::future::pending()),
    )
    .await
    .expect("the bot exits instead of hanging");
    let err = format!("{:#}", result.unwrap_err());
    assert!(
        err.contains("startup failed: registering slash commands failed"),
        "{err}"
    );
    assert!(!err.contains("e2e-token-SECRET"));
    // The database was opened and migrated, then closed on the way out: SQLite removes
    // its -wal and -shm files when the last connection closes.
    let mut left: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    left.sort();
    assert_eq!(
        left,
        ["bot.db"],
        "no stray -wal or -shm after a failed start"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_api_base_is_a_startup_error_not_a_fallback_to_discord() {
    // A port nothing listens on.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let dir = tempfile::tempdir().unwrap();
    let config = DiscordConfig {
        token: Token::new("e2e-token-SECRET"),
        database_url: format!("sqlite://{}", dir.path().join("bot.db").display()),
        bank: prepbot_core::bank::BankSources::default(),
        dev_guild: None,
        api_base: Some(format!("http://127.0.0.1:{port}")),
        claim_lease: None,
        catch_up_grace: None,
        discord_rate: None,
        shards: prepbot_discord::Shards::ALL,
    };
    let clock = Arc::new(ManualClock::new(utc("2026-03-02T08:00:00Z")));
    let result = tokio::time::timeout(
        WAIT,
        prepbot_discord::run(config, clock, std::future::pending()),
    )
    .await
    .expect("fails fast");
    let err = format!("{:#}", result.unwrap_err());
    assert_eq!(
        err,
        format!("cannot reach 127.0.0.1:{port}: connection refused"),
        "the token check says it before anything else"
    );
    let left: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(left, ["bot.db"], "closed again: no -wal, no -shm");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_channels_due_at_once_go_out_through_bounded_requests_and_honour_429() {
    let bot = start_bot("2026-03-02T08:00:00Z").await;
    let channels: Vec<u64> = (0..40).map(|i| 710_000_000_000_000_000 + i).collect();
    for &c in &channels {
        set_up(&bot, "09:00", "UTC", c).await;
    }
    bot.fake.set_message_delay(Duration::from_millis(60));
    // Three of the posts are rate limited; the fake sends retry_after only in the body.
    for &c in &channels[..3] {
        bot.fake.add_fault(
            prepbot_fake_discord::Fault::new("POST", format!("/channels/{c}/messages"), 429)
                .retry_after(0.4),
        );
    }
    bot.clock.set(utc("2026-03-02T09:00:00Z"));
    for &c in &channels {
        bot.fake
            .wait_for(&format!("the drop in {c}"), Duration::from_secs(60), |r| {
                r.method == "POST"
                    && r.path == format!("/api/v10/channels/{c}/messages")
                    && bot.fake.posted_messages().iter().any(|(pc, _)| *pc == c)
            })
            .await;
    }
    // Every channel got exactly one drop, the throttled ones after their wait.
    for &c in &channels {
        let posted = bot
            .fake
            .posted_messages()
            .iter()
            .filter(|(pc, _)| *pc == c)
            .count();
        assert_eq!(posted, 1, "channel {c}");
    }
    for &c in &channels[..3] {
        let tries: Vec<Recorded> = bot
            .fake
            .requests()
            .into_iter()
            .filter(|r| r.method == "POST" && r.path == format!("/api/v10/channels/{c}/messages"))
            .collect();
        assert_eq!(tries.len(), 2, "one 429, one retry");
        let gap = tries[1].at.duration_since(tries[0].at);
        assert!(
            gap >= Duration::from_millis(390),
            "retried after {gap:?}, before retry_after"
        );
    }
    let peak = bot.fake.max_in_flight();
    assert!(
        peak <= prepbot_discord::rest::DEFAULT_CONCURRENCY + 1,
        "peak of {peak} requests in flight"
    );
    assert!(peak >= 2, "requests did run concurrently ({peak})");
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_internal_error_gets_a_short_generic_reply_and_no_internals_reach_the_user() {
    let bot = start_bot("2026-03-02T08:00:00Z").await;
    // Another process holds the database's write lock past the busy timeout.
    let other = bot.store().await;
    let lock = other.write().await.unwrap();
    let reply = set_up(&bot, "09:00", "UTC", CHANNEL_A).await;
    drop(lock);
    assert!(reply.ephemeral);
    assert_eq!(
        reply.raw[0].body["type"], 5,
        "acknowledged before waiting on the database"
    );
    let text = reply.text();
    assert!(text.contains("Something went wrong on our side"), "{text}");
    assert!(
        !text.contains("locked") && !text.contains("database"),
        "internals stay in the log: {text}"
    );
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_acknowledgements_never_hold_up_storing_answers() {
    let bot = start_bot("2026-03-02T08:00:00Z").await;
    set_up(&bot, "09:00", "UTC", CHANNEL_A).await;
    let (_, thread) = expect_drop(&bot, CHANNEL_A, "2026-03-02T09:00:00Z", 1).await;
    // Reactions are rate limited hard: ten 429s of 0.3 s each before any goes through.
    bot.fake.add_fault(
        prepbot_fake_discord::Fault::new("PUT", "/reactions/", 429)
            .retry_after(0.3)
            .times(10),
    );
    let people: Vec<Person> = (0..10).map(|i| Person::member(100 + i, "member")).collect();
    let mut ids = Vec::new();
    let sent = std::time::Instant::now();
    for p in &people {
        let id = bot.fake.snowflake();
        ids.push(id);
        bot.fake.dispatch(
            "MESSAGE_CREATE",
            member_message(
                id,
                thread,
                GUILD_A,
                p,
                "an answer",
                utc("2026-03-02T09:30:00Z"),
            ),
        );
    }
    // All ten are stored long before the acknowledgements can have gone out.
    let store = bot.store().await;
    loop {
        let mut conn = store.read().await.unwrap();
        let mut stored = 0;
        for id in &ids {
            if answer_row(&mut conn, *id).await.unwrap().is_some() {
                stored += 1;
            }
        }
        if stored == ids.len() {
            break;
        }
        assert!(
            sent.elapsed() < Duration::from_secs(3),
            "only {stored} of 10 answers stored after {:?}",
            sent.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let stored_after = sent.elapsed();
    let acks = bot
        .fake
        .wait_count(
            "ten acknowledgements after ten 429s",
            10 + 10,
            Duration::from_secs(60),
            |r| r.path.contains("/reactions/"),
        )
        .await;
    let last_ack = acks.last().unwrap().at.duration_since(sent);
    assert!(
        stored_after < last_ack,
        "stored in {stored_after:?}, acknowledged by {last_ack:?}"
    );
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crafted_interactions_are_checked_on_our_side() {
    let bot = start_bot("2026-03-02T08:00:00Z").await;
    // No `permissions` on the member at all (poise's own check would panic here).
    let id = bot.id();
    let token = format!("tok{id}");
    let mut interaction = slash(
        id,
        &token,
        "setup",
        vec![opt("time", json!("09:00")), opt("timezone", json!("UTC"))],
        &admin(),
        CHANNEL_A,
    );
    interaction["member"]
        .as_object_mut()
        .unwrap()
        .remove("permissions");
    interaction
        .as_object_mut()
        .unwrap()
        .remove("app_permissions");
    bot.fake.dispatch("INTERACTION_CREATE", interaction);
    let reply = bot.reply(id, &token).await;
    assert!(
        reply
            .text()
            .contains("You need the Manage Server permission"),
        "{}",
        reply.text()
    );
    for (cmd, options) in [
        ("drop", vec![]),
        ("reveal", vec![]),
        ("schedule", vec![sub("pause", vec![])]),
        ("schedule", vec![sub("resume", vec![])]),
    ] {
        let id = bot.id();
        let token = format!("tok{id}");
        let mut interaction = slash(id, &token, cmd, options, &admin(), CHANNEL_A);
        interaction["member"]
            .as_object_mut()
            .unwrap()
            .remove("permissions");
        bot.fake.dispatch("INTERACTION_CREATE", interaction);
        let reply = bot.reply(id, &token).await;
        assert!(
            reply
                .text()
                .contains("You need the Manage Server permission"),
            "/{cmd}: {}",
            reply.text()
        );
    }
    // A choice Discord would never offer.
    let reply = bot
        .command(
            "setup",
            vec![
                opt("time", json!("09:00")),
                opt("timezone", json!("UTC")),
                opt("difficulty", json!("brutal")),
            ],
            &admin(),
            CHANNEL_A,
        )
        .await;
    assert!(reply.ephemeral);
    assert!(
        reply
            .text()
            .contains("could not be read; use the values Discord offers"),
        "{}",
        reply.text()
    );
    assert!(
        channel_row(&bot, CHANNEL_A).await.is_none(),
        "nothing stored"
    );
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_answer_to_a_post_never_makes_a_second_message() {
    let bot = start_bot("2026-03-02T08:00:00Z").await;
    set_up(&bot, "09:00", "UTC", CHANNEL_A).await;
    // Discord creates the drop, then the answer is a 502; the bot tries again.
    bot.fake.add_fault(
        prepbot_fake_discord::Fault::new("POST", format!("/channels/{CHANNEL_A}/messages"), 502)
            .after_create(),
    );
    let (post, thread) = expect_drop(&bot, CHANNEL_A, "2026-03-02T09:00:00Z", 1).await;
    let tries: Vec<Recorded> = bot
        .fake
        .requests()
        .into_iter()
        .filter(|r| {
            r.method == "POST" && r.path == format!("/api/v10/channels/{CHANNEL_A}/messages")
        })
        .collect();
    assert_eq!(tries.len(), 2, "the post was retried");
    assert_eq!(
        tries[0].body["nonce"], tries[1].body["nonce"],
        "with the same nonce"
    );
    assert_eq!(post.body["enforce_nonce"], true);
    let in_channel = bot
        .fake
        .posted_messages()
        .into_iter()
        .filter(|(c, _)| *c == CHANNEL_A)
        .count();
    assert_eq!(in_channel, 1, "exactly one question message exists");
    // The reveal's parts carry nonces too, one per part.
    bot.fake.add_fault(
        prepbot_fake_discord::Fault::new("POST", format!("/channels/{thread}/messages"), 500)
            .after_create(),
    );
    expect_reveal(&bot, thread, "2026-03-03T09:00:00Z", 1).await;
    let parts: Vec<Value> = bot
        .fake
        .posted_messages()
        .into_iter()
        .filter(|(c, _)| *c == thread)
        .map(|(_, m)| m)
        .collect();
    let mut contents: Vec<&str> = parts
        .iter()
        .map(|m| m["content"].as_str().unwrap())
        .collect();
    let all = contents.len();
    contents.dedup();
    assert_eq!(contents.len(), all, "no reveal part was posted twice");
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_in_a_drop_thread_are_about_its_channel_and_setup_there_is_refused() {
    let bot = start_bot("2026-03-02T08:00:00Z").await;
    let ada = admin();
    set_up(&bot, "09:00", "UTC", CHANNEL_A).await;
    let (_, thread) = expect_drop(&bot, CHANNEL_A, "2026-03-02T09:00:00Z", 1).await;
    answer(
        &bot,
        thread,
        GUILD_A,
        &ada,
        "mine",
        "2026-03-02T09:10:00Z",
        CHECK,
    )
    .await;

    let run_in_thread = |name: &str, options: Vec<Value>| {
        let id = bot.id();
        let token = format!("tok{id}");
        let interaction = in_thread(
            slash(id, &token, name, options, &ada, thread),
            thread,
            CHANNEL_A,
        );
        bot.fake.dispatch("INTERACTION_CREATE", interaction);
        (id, token)
    };
    let (id, token) = run_in_thread(
        "setup",
        vec![opt("time", json!("10:00")), opt("timezone", json!("UTC"))],
    );
    let reply = bot.reply(id, &token).await;
    assert!(
        reply.text().contains("Run /setup in a text channel"),
        "{}",
        reply.text()
    );
    let (id, token) = run_in_thread("question", vec![sub("today", vec![])]);
    let reply = bot.reply(id, &token).await;
    assert!(reply.text().starts_with("Drop #1: "), "{}", reply.text());
    // Revealing from inside the thread reveals the thread's drop.
    bot.clock.set(utc("2026-03-02T09:30:00Z"));
    let (id, token) = run_in_thread("reveal", vec![]);
    let reply = bot.reply(id, &token).await;
    assert!(
        reply.text().starts_with("Revealed drop #1"),
        "{}",
        reply.text()
    );
    let (id, token) = run_in_thread("streak", vec![]);
    let reply = bot.reply(id, &token).await;
    assert!(
        reply.text().contains("current streak 1"),
        "{}",
        reply.text()
    );
    assert!(channel_row(&bot, thread).await.is_none(), "nothing stored");
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn threads_and_reveals_survive_lost_answers_and_deleted_threads() {
    let bot = start_bot("2026-03-02T08:00:00Z").await;
    let ada = admin();
    set_up(&bot, "09:00", "UTC", CHANNEL_A).await;
    // The thread is created but the answer is lost; the retry hears "already created".
    bot.fake
        .add_fault(prepbot_fake_discord::Fault::new("POST", "/threads", 500).after_create());
    let (_, thread) = expect_drop(&bot, CHANNEL_A, "2026-03-02T09:00:00Z", 1).await;
    bot.fake
        .wait_count("a second thread request", 2, WAIT, |r| {
            r.path.ends_with("/threads")
        })
        .await;
    answer(
        &bot,
        thread,
        GUILD_A,
        &ada,
        "still counted",
        "2026-03-02T09:10:00Z",
        CHECK,
    )
    .await;
    // The thread is deleted before the reveal: the reveal goes to the channel.
    bot.fake.add_fault(
        prepbot_fake_discord::Fault::new("POST", format!("/channels/{thread}/messages"), 404)
            .code(10003),
    );
    bot.clock.set(utc("2026-03-03T09:00:00Z"));
    bot.fake
        .wait_for("the reveal in the channel", WAIT, |r| {
            r.path == format!("/api/v10/channels/{CHANNEL_A}/messages")
                && r.body["content"]
                    .as_str()
                    .is_some_and(|c| c.contains("Reveal #1"))
        })
        .await;
    wait_revealed(&bot, thread).await;
    let streak = bot.command("streak", vec![], &ada, CHANNEL_A).await;
    assert!(
        streak.text().contains("current streak 1"),
        "{}",
        streak.text()
    );
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_with_only_a_retry_after_header_is_honoured() {
    let bot = start_bot("2026-03-02T08:00:00Z").await;
    set_up(&bot, "09:00", "UTC", CHANNEL_A).await;
    bot.fake.add_fault(
        prepbot_fake_discord::Fault::new("POST", format!("/channels/{CHANNEL_A}/messages"), 429)
            .retry_after(0.6)
            .header_only(),
    );
    expect_drop(&bot, CHANNEL_A, "2026-03-02T09:00:00Z", 1).await;
    let tries: Vec<Recorded> = bot
        .fake
        .requests()
        .into_iter()
        .filter(|r| {
            r.method == "POST" && r.path == format!("/api/v10/channels/{CHANNEL_A}/messages")
        })
        .collect();
    assert_eq!(tries.len(), 2);
    let gap = tries[1].at.duration_since(tries[0].at);
    assert!(gap >= Duration::from_millis(590), "retried after {gap:?}");
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partial_edit_before_its_message_is_kept_and_wins_if_later() {
    let bot = start_bot("2026-03-02T08:00:00Z").await;
    let ada = admin();
    set_up(&bot, "09:00", "UTC", CHANNEL_A).await;
    let (_, thread) = expect_drop(&bot, CHANNEL_A, "2026-03-02T09:00:00Z", 1).await;
    let id = bot.fake.snowflake();
    bot.fake.dispatch(
        "MESSAGE_UPDATE",
        partial_edit(id, thread, GUILD_A, "the edit", utc("2026-03-02T09:20:00Z")),
    );
    // An update that is no edit (no edit time) changes nothing.
    bot.fake
        .dispatch("MESSAGE_UPDATE", embed_only_update(id, thread, GUILD_A));
    tokio::time::sleep(Duration::from_millis(300)).await;
    bot.fake.dispatch(
        "MESSAGE_CREATE",
        member_message(
            id,
            thread,
            GUILD_A,
            &ada,
            "the original",
            utc("2026-03-02T09:10:00Z"),
        ),
    );
    bot.fake
        .wait_for("the acknowledgement", WAIT, |r| {
            r.path == format!("/api/v10/channels/{thread}/messages/{id}/reactions/{CHECK}/@me")
        })
        .await;
    let mut conn = bot.store().await.read().await.unwrap();
    let row = answer_row(&mut conn, id).await.unwrap().unwrap();
    assert_eq!(row.body, "the edit");
    assert_eq!(row.edited_at, Some(utc("2026-03-02T09:20:00Z")));
    drop(conn);
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_gateway_session_neither_re_registers_nor_doubles_the_scheduler() {
    let bot = start_bot("2026-03-02T08:00:00Z").await;
    set_up(&bot, "09:00", "UTC", CHANNEL_A).await;
    // Discord invalidates the session: the bot identifies again and gets a new READY.
    bot.fake
        .send_raw(json!({"op": 9, "d": false, "s": null, "t": null}));
    bot.fake
        .wait_until("a second IDENTIFY", Duration::from_secs(30), || {
            bot.fake.identifies() >= 2
        })
        .await;
    let reply = bot
        .command("schedule", vec![sub("show", vec![])], &admin(), CHANNEL_A)
        .await;
    assert!(
        reply.text().contains("daily at 09:00 UTC"),
        "commands still work: {}",
        reply.text()
    );
    expect_drop(&bot, CHANNEL_A, "2026-03-02T09:00:00Z", 1).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let commands = bot
        .fake
        .requests()
        .iter()
        .filter(|r| r.method == "PUT" && r.path.ends_with("/commands"))
        .count();
    assert_eq!(commands, 1, "setup ran once");
    let drops = bot
        .fake
        .posted_messages()
        .iter()
        .filter(|(c, _)| *c == CHANNEL_A)
        .count();
    assert_eq!(drops, 1, "one scheduler, one drop");
    bot.stop().await;
}
