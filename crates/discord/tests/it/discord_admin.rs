//! `/help`, `/schedule remove` and `/forget` through the real bot against the fake
//! Discord: who may run them, the confirmation step, and what the bot's database
//! holds afterwards.

use crate::harness::*;
use prepbot_fake_discord::fixtures::*;
use prepbot_fake_discord::{CHANNEL_A, GUILD_A};
use serde_json::json;

/// `history` is a choice: Discord sends its index (keep 0, delete 1).
const DELETE: u64 = 1;
const KEEP: u64 = 0;

/// Whether an answer is stored, by the channel's key (which outlives a removed
/// schedule whose history was kept).
async fn stored(bot: &Bot, key: i64, message_id: u64) -> bool {
    let store = bot.store().await;
    let mut conn = store.read().await.unwrap();
    prepbot_core::store::answers::get(&mut conn, key, &message_id.to_string())
        .await
        .unwrap()
        .is_some()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn help_lists_every_command_for_anyone() {
    let bot = start_bot("2026-03-02T08:00:00Z").await;
    let ben = Person::member(12, "Ben");
    let help = bot.command("help", vec![], &ben, CHANNEL_A).await;
    assert!(help.ephemeral);
    for c in prepbot_core::command_rules::COMMANDS {
        assert!(
            help.text().contains(&format!("`/{}`", c.path)),
            "{}: {}",
            c.path,
            help.text()
        );
    }
    assert!(help.text().contains("For admins** (Manage Server)"));

    // Ids as people type them: any case, and a slip gets a suggestion.
    let show = |id: &'static str| vec![sub("show", vec![opt("id", json!(id))])];
    let found = bot
        .command("question", show("CAP-Theorem"), &ben, CHANNEL_A)
        .await;
    assert!(found.text().contains("cap-theorem"), "{}", found.text());
    assert!(!found.text().contains("No question has the id"));
    let slip = bot
        .command("question", show("cap-theorm"), &ben, CHANNEL_A)
        .await;
    assert!(
        slip.text()
            .contains("No question has the id `cap-theorm`. Did you mean `cap-theorem`?"),
        "{}",
        slip.text()
    );
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forget_me_asks_then_deletes_only_the_callers_answers() {
    let bot = start_bot("2026-03-02T07:00:00Z").await;
    let ada = admin();
    let ben = Person::member(12, "Ben");
    let cy = Person::member(13, "Cy");
    set_up(&bot, "09:00", "UTC", CHANNEL_A).await;
    let key = channel_row(&bot, CHANNEL_A).await.unwrap().key;
    let (_, thread) = expect_drop(&bot, CHANNEL_A, "2026-03-02T09:00:00Z", 1).await;
    let bens = answer(
        &bot,
        thread,
        GUILD_A,
        &ben,
        "Ben's",
        "2026-03-02T09:30:00Z",
        CHECK,
    )
    .await;
    let cys = answer(
        &bot,
        thread,
        GUILD_A,
        &cy,
        "Cy's",
        "2026-03-02T09:31:00Z",
        CHECK,
    )
    .await;

    let asked = bot
        .command("forget", vec![sub("me", vec![])], &ben, CHANNEL_A)
        .await;
    assert!(asked.ephemeral);
    assert!(
        asked
            .text()
            .contains("This deletes 1 stored answer and the streaks in 1 channel for good"),
        "{}",
        asked.text()
    );
    assert!(
        stored(&bot, key, bens).await,
        "nothing deleted before confirming"
    );

    let done = bot
        .command(
            "forget",
            vec![sub("me", vec![opt("confirm", json!(true))])],
            &ben,
            CHANNEL_A,
        )
        .await;
    assert!(
        done.text().starts_with("Done: 1 stored answer"),
        "{}",
        done.text()
    );
    assert!(!stored(&bot, key, bens).await);
    assert!(stored(&bot, key, cys).await, "only the caller's answers go");

    // A member may not forget someone else; an admin may, by id.
    let refused = bot
        .command(
            "forget",
            vec![sub(
                "member",
                vec![opt("member", json!("13")), opt("confirm", json!(true))],
            )],
            &ben,
            CHANNEL_A,
        )
        .await;
    assert!(
        refused
            .text()
            .contains("You need the Manage Server permission"),
        "{}",
        refused.text()
    );
    assert!(stored(&bot, key, cys).await);
    let by_admin = bot
        .command(
            "forget",
            vec![sub(
                "member",
                vec![opt("member", json!("<@13>")), opt("confirm", json!(true))],
            )],
            &ada,
            CHANNEL_A,
        )
        .await;
    assert!(
        by_admin.text().contains("of member 13 deleted"),
        "{}",
        by_admin.text()
    );
    assert!(!stored(&bot, key, cys).await);
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schedule_remove_needs_an_admin_and_a_confirmation() {
    let bot = start_bot("2026-03-02T07:00:00Z").await;
    let ada = admin();
    let ben = Person::member(12, "Ben");
    set_up(&bot, "09:00", "UTC", CHANNEL_A).await;
    let key = channel_row(&bot, CHANNEL_A).await.unwrap().key;
    let (_, thread) = expect_drop(&bot, CHANNEL_A, "2026-03-02T09:00:00Z", 1).await;
    let bens = answer(
        &bot,
        thread,
        GUILD_A,
        &ben,
        "Ben's",
        "2026-03-02T09:30:00Z",
        CHECK,
    )
    .await;

    let remove = |history: u64, confirm: Option<bool>| {
        let mut options = vec![opt("history", json!(history))];
        if let Some(c) = confirm {
            options.push(opt("confirm", json!(c)));
        }
        vec![sub("remove", options)]
    };
    let refused = bot
        .command("schedule", remove(DELETE, Some(true)), &ben, CHANNEL_A)
        .await;
    assert!(
        refused
            .text()
            .contains("You need the Manage Server permission"),
        "{}",
        refused.text()
    );
    let asked = bot
        .command("schedule", remove(DELETE, None), &ada, CHANNEL_A)
        .await;
    assert!(
        asked
            .text()
            .contains("deletes its history for good: 1 drop and 1 stored answer"),
        "{}",
        asked.text()
    );
    assert!(channel_row(&bot, CHANNEL_A).await.is_some(), "still set up");

    // Kept: no schedule for commands, the answer still stored.
    let kept = bot
        .command("schedule", remove(KEEP, Some(true)), &ada, CHANNEL_A)
        .await;
    assert!(
        kept.text().starts_with("Removed: no more drops here"),
        "{}",
        kept.text()
    );
    assert!(channel_row(&bot, CHANNEL_A).await.is_none());
    assert!(stored(&bot, key, bens).await);
    let show = bot
        .command("schedule", vec![sub("show", vec![])], &ben, CHANNEL_A)
        .await;
    assert!(show.text().contains("no schedule yet"), "{}", show.text());

    // Set up again, then removed with its history: the answer goes too.
    set_up(&bot, "09:00", "UTC", CHANNEL_A).await;
    let deleted = bot
        .command("schedule", remove(DELETE, Some(true)), &ada, CHANNEL_A)
        .await;
    assert!(
        deleted
            .text()
            .starts_with("Removed, with its history: 1 drop and 1 stored answer deleted"),
        "{}",
        deleted.text()
    );
    assert!(!stored(&bot, key, bens).await);
    // No drop the next day.
    bot.clock.set(utc("2026-03-03T09:00:00Z"));
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(drop_posts(&bot.fake, CHANNEL_A).len(), 1);
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bot_records_its_health_for_prepbot_status() {
    let bot = start_bot("2026-03-02T07:00:00Z").await;
    let store = bot.store().await;
    // Connected once the catch-up after the first Ready is done.
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let text = prepbot_core::status::report(&store, utc("2026-03-02T07:00:05Z"))
            .await
            .unwrap();
        if text.contains("discord: connected since 2026-03-02 07:00 UTC") {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{text}");
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    store.close().await;
    let (_dir, db_url) = bot.stop_keeping_database().await;
    let store = prepbot_core::store::Store::open_url(&db_url).await.unwrap();
    let text = prepbot_core::status::report(&store, utc("2026-03-02T07:01:00Z"))
        .await
        .unwrap();
    assert!(
        text.contains("discord: stopped 2026-03-02 07:00 UTC (60 s ago): shut down"),
        "{text}"
    );
    store.close().await;
}

/// serenity reconnects a shard by itself; while its new session waits for Discord,
/// `prepbot status` says the adapter is reconnecting (and which shard), then
/// connected again once the session is back and caught up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_shows_a_shard_reconnecting_by_itself_until_its_session_is_back() {
    let bot = start_bot("2026-03-02T07:00:00Z").await;
    let store = bot.store().await;
    let at = utc("2026-03-02T07:00:05Z");
    let status = || async { prepbot_core::status::report(&store, at).await.unwrap() };
    let wait_for = |what: &'static str| {
        let status = &status;
        async move {
            let deadline = std::time::Instant::now() + WAIT;
            loop {
                let text = status().await;
                if text.contains(what) {
                    return text;
                }
                assert!(
                    std::time::Instant::now() < deadline,
                    "never `{what}`:\n{text}"
                );
                tokio::time::sleep(std::time::Duration::from_millis(25)).await;
            }
        }
    };
    wait_for("discord: connected since").await;

    // Discord invalidates the session and is slow to accept the new one.
    bot.fake.hold_ready(true);
    let identifies = bot.fake.identifies();
    bot.fake
        .send_raw(json!({"op": 9, "d": false, "s": null, "t": null}));
    bot.fake
        .wait_until("a new IDENTIFY", WAIT, || {
            bot.fake.identifies() > identifies
        })
        .await;
    let text = wait_for("discord: connecting since").await;
    assert!(text.contains(": reconnecting: shard 0 "), "{text}");

    // Discord accepts it: connected again, once the catch-up is done.
    bot.fake.hold_ready(false);
    let text = wait_for("discord: connected since").await;
    assert!(!text.contains("reconnecting"), "{text}");
    store.close().await;
    bot.stop().await;
}
