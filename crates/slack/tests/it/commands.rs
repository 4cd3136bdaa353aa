//! `/prep help`, `/prep remove` and `/prep forget` through the whole adapter against
//! the fake Slack: who may run them, the confirmation step with its counts, one
//! clear line for a bad argument, and what the bot's database holds afterwards,
//! including after a restart's catch-up has read the thread again.

use std::time::Duration;

use prepbot_core::command_rules::COMMANDS;
use prepbot_core::store::Store;
use prepbot_core::store::answers::{self, StoredAnswer};
use prepbot_fake_slack::{ADMIN, CHANNEL, CREATOR, FakeSlack, MEMBER, MEMBER_2};
use prepbot_slack::commands::SLACK_COMMANDS;

use crate::bot::{Bot, WAIT, reply_event, restart, start};

/// Sets the channel up, posts drop #1 and has each of `members` answer in its
/// thread; returns the thread and the answers' ts, in order.
async fn drop_with_answers(bot: &Bot, members: &[&str]) -> (String, Vec<String>) {
    let fake = &bot.fake;
    let setup = bot.admin(CREATOR, "setup 09:00 UTC").await;
    assert!(setup.starts_with("Scheduled"), "{setup}");
    let posted = bot.admin(ADMIN, "drop").await;
    assert!(posted.starts_with("Posted drop #1"), "{posted}");
    let thread = fake.top_level_posts(CHANNEL)[0]["ts"]
        .as_str()
        .unwrap()
        .to_string();
    let mut ts = Vec::new();
    for member in members {
        let event = reply_event(fake, &thread, member, &format!("{member}'s answer"));
        let t = event["ts"].as_str().unwrap().to_string();
        fake.message_event(event);
        let want = t.clone();
        fake.wait_until("the answer acknowledged", WAIT, move |f| {
            f.reactions().iter().any(|r| r.1 == want)
        })
        .await;
        ts.push(t);
    }
    (thread, ts)
}

/// What the stopped bot's database holds for drop #1.
async fn stored_answers(db: &str) -> Vec<StoredAnswer> {
    let store = Store::open_url(db).await.unwrap();
    let mut conn = store.read().await.unwrap();
    answers::for_drop(&mut conn, 1).await.unwrap()
}

/// How often the bot asked to react to a message (the fake keeps one reaction per
/// message and emoji, and refuses a repeat, so its list cannot tell).
fn reactions_asked(fake: &FakeSlack, ts: &str) -> usize {
    fake.calls_of("reactions.add")
        .iter()
        .filter(|b| b["timestamp"] == ts)
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn help_lists_every_core_command_in_slack_syntax() {
    let bot = start().await;
    for text in ["help", "", "frobnicate <!channel>"] {
        let (_, ack, _) = bot.command(MEMBER, text).await;
        assert_eq!(ack["payload"]["response_type"], "ephemeral", "{ack}");
        let help = ack["payload"]["text"].as_str().unwrap();
        assert_eq!(SLACK_COMMANDS.len(), COMMANDS.len());
        for c in SLACK_COMMANDS {
            assert!(
                help.contains(&format!("• `{}`: ", c.usage())),
                "`{text}` lacks {}: {help}",
                c.path
            );
        }
        for c in COMMANDS {
            let what = c.what.replace("this server", "this workspace");
            assert!(help.contains(&what), "`{text}` lacks {}: {help}", c.path);
        }
        assert!(!help.contains("<!channel>"), "{help}");
    }
    // `forget` alone names the two subcommands it starts.
    let (_, ack, _) = bot.command(MEMBER, "forget").await;
    let text = ack["payload"]["text"].as_str().unwrap();
    assert_eq!(
        text,
        "Say which: `/prep forget me [confirm]` or `/prep forget member @member|ID [confirm]`."
    );
    let _ = bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remove_needs_an_admin_and_a_confirmation_and_keeps_or_deletes_the_history() {
    let bot = start().await;
    let none = bot.admin(ADMIN, "remove keep confirm").await;
    assert_eq!(
        none,
        "this channel has no schedule yet: run /prep setup here first"
    );
    let (_, answers) = drop_with_answers(&bot, &[MEMBER]).await;
    assert_eq!(answers.len(), 1);

    // A member may not, confirmed or not.
    let refused = bot.admin(MEMBER, "remove delete confirm").await;
    assert!(refused.contains("PREPBOT_SLACK_ADMINS"), "{refused}");
    // Bad arguments: one line with an example, and nothing changes.
    let missing = bot.admin(ADMIN, "remove").await;
    assert!(
        missing.starts_with(
            "Say whether this channel's history is kept or deleted: `/prep remove keep`"
        ),
        "{missing}"
    );
    let unknown = bot.admin(ADMIN, "remove <!channel> confirm").await;
    assert!(
        unknown.starts_with(
            "`/prep remove` takes keep or delete, and confirm to go ahead, not `&lt;!channel&gt;`"
        ),
        "{unknown}"
    );
    for line in [&missing, &unknown] {
        assert_eq!(line.lines().count(), 1, "{line}");
    }

    // Asked first, with what would go.
    let asked = bot.admin(ADMIN, "remove delete").await;
    assert_eq!(
        asked,
        "This removes the schedule and deletes its history for good: 1 drop and 1 stored answer, and every streak here. Run `/prep remove delete confirm` to do it."
    );
    let asked = bot.admin(CREATOR, "remove KEEP").await;
    assert!(
        asked.contains("Its history (1 drop and 1 stored answer) is kept")
            && asked.ends_with("Run `/prep remove keep confirm` to remove it."),
        "{asked}"
    );
    let (_, ack, _) = bot.command(MEMBER, "schedule").await;
    let schedule = ack["payload"]["text"].as_str().unwrap();
    assert!(
        schedule.starts_with("This channel: daily at 09:00 UTC"),
        "{schedule}"
    );

    // Kept: no schedule for commands, the history still counted.
    let kept = bot.admin(CREATOR, "remove keep confirm").await;
    assert!(
        kept.starts_with(
            "Removed: no more drops here. The history (1 drop and 1 stored answer) is kept"
        ),
        "{kept}"
    );
    let (_, ack, _) = bot.command(MEMBER, "schedule").await;
    let schedule = ack["payload"]["text"].as_str().unwrap();
    assert!(schedule.contains("no schedule yet"), "{schedule}");

    // Set up again, it carries on from the kept history; removed with it, all goes.
    assert!(
        bot.admin(CREATOR, "setup 10:00 UTC")
            .await
            .starts_with("Scheduled")
    );
    let deleted = bot.admin(ADMIN, "remove confirm delete").await;
    assert_eq!(
        deleted,
        "Removed, with its history: 1 drop and 1 stored answer deleted. Threads already posted stay in the channel."
    );
    let (_, ack, _) = bot.command(MEMBER, "schedule").await;
    assert!(
        ack["payload"]["text"]
            .as_str()
            .unwrap()
            .contains("no schedule yet")
    );
    let again = bot.admin(ADMIN, "remove delete confirm").await;
    assert!(again.contains("no schedule yet"), "{again}");
    let (_, db, _dir) = bot.stop().await;
    assert!(stored_answers(&db).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forget_me_and_forget_member_ask_then_delete_and_a_restart_does_not_bring_them_back() {
    let bot = start().await;
    let (thread, answers) = drop_with_answers(&bot, &[MEMBER, MEMBER_2]).await;
    let (mine, nells) = (answers[0].clone(), answers[1].clone());

    // Anyone may ask about themselves; nothing goes until confirmed.
    let nothing = bot.changes(CREATOR, "forget me").await;
    assert_eq!(
        nothing,
        "The bot stores no answers or streaks of yours in this workspace."
    );
    let asked = bot.changes(MEMBER, "forget me").await;
    assert_eq!(
        asked,
        "This deletes 1 stored answer and the streaks in 1 channel for good. Run `/prep forget me confirm` to do it."
    );
    let bad = bot.changes(MEMBER, "forget me please").await;
    assert_eq!(
        bad,
        "`/prep forget me` takes only confirm, not `please`: e.g. `/prep forget me confirm`."
    );
    let done = bot.changes(MEMBER, "forget me confirm").await;
    assert_eq!(
        done,
        "Done: 1 stored answer and the streaks in 1 channel deleted. Messages you post from now on are stored as usual; reveals already posted stay as they are."
    );
    let gone = bot.changes(MEMBER, "forget me").await;
    assert_eq!(
        gone,
        "The bot stores no answers or streaks of yours in this workspace."
    );

    // Someone else: admins only, named by mention (as Slack escapes it) or id.
    let refused = bot
        .admin(MEMBER, &format!("forget member <@{MEMBER_2}|nell> confirm"))
        .await;
    assert!(refused.contains("PREPBOT_SLACK_ADMINS"), "{refused}");
    let missing = bot.admin(ADMIN, "forget member").await;
    assert!(missing.starts_with("Say which member."), "{missing}");
    let asked = bot
        .admin(ADMIN, &format!("forget member <@{MEMBER_2}|nell>"))
        .await;
    assert_eq!(
        asked,
        format!(
            "This deletes 1 stored answer and the streaks in 1 channel of member {MEMBER_2} for good. Run `/prep forget member {MEMBER_2} confirm` to do it."
        )
    );
    let done = bot
        .admin(ADMIN, &format!("forget member {MEMBER_2} confirm"))
        .await;
    assert_eq!(
        done,
        format!("Done: 1 stored answer and the streaks in 1 channel of member {MEMBER_2} deleted.")
    );

    // A restart: the new session's catch-up lists the thread again, the forgotten
    // answers with it. Only the one posted while the bot was down is stored.
    let (fake, _, dir) = bot.stop().await;
    let later = fake.add_message(CHANNEL, Some(&thread), CREATOR, "posted while down");
    let later = later["ts"].as_str().unwrap().to_string();
    let bot = restart(fake.clone(), dir).await;
    fake.wait_until("the answer posted while down, acknowledged", WAIT, |f| {
        reactions_asked(f, &later) == 1
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        reactions_asked(&fake, &mine),
        1,
        "acknowledged once, before"
    );
    assert_eq!(
        reactions_asked(&fake, &nells),
        1,
        "acknowledged once, before"
    );
    let (_, db, _dir) = bot.stop().await;
    let stored = stored_answers(&db).await;
    let who: Vec<&str> = stored.iter().map(|a| a.member_id.as_str()).collect();
    assert_eq!(who, [CREATOR], "{stored:?}");
}

#[test]
fn docs_slack_md_lists_every_subcommand() {
    let doc = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/SLACK.md"),
    )
    .expect("docs/SLACK.md")
    // A `|` in a table cell is written `\|`.
    .replace("\\|", "|");
    for c in SLACK_COMMANDS {
        assert!(
            doc.contains(&format!("`/prep {}`", c.usage())),
            "docs/SLACK.md lacks `/prep {}`",
            c.usage()
        );
    }
}
