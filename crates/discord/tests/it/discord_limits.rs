//! Limits on what members can ask of the bot, end to end against the fake Discord:
//! the per-member command budget (5 per 10 s, on the test's clock, never on a real
//! timer) and the slash-argument checks, whose errors say what is accepted.

use crate::harness::*;
use chrono::TimeDelta;
use prepbot_fake_discord::CHANNEL_A;
use prepbot_fake_discord::fixtures::*;
use serde_json::{Value, json};

const REFUSED: &str = "You're going a bit fast: 5 commands per 10 seconds.";

/// A command that does work, by index: different commands share one budget.
fn work(i: usize) -> (&'static str, Vec<Value>) {
    match i % 4 {
        0 => ("streak", vec![]),
        1 => (
            "question",
            vec![sub("search", vec![opt("query", json!("cache"))])],
        ),
        2 => ("leaderboard", vec![]),
        _ => ("question", vec![sub("today", vec![])]),
    }
}

fn assert_served(reply: &Reply, what: &str) {
    assert!(
        !reply.text().contains(REFUSED),
        "{what} was refused: {}",
        reply.text()
    );
}

/// Refused ephemerally, with the wait, and nothing else was sent for it.
fn assert_refused(reply: &Reply, wait_secs: u64) {
    assert!(reply.ephemeral, "the refusal is ephemeral");
    assert_eq!(
        reply.text(),
        format!("{REFUSED} Try again in {wait_secs} s."),
        "the refusal and nothing else"
    );
    assert_eq!(
        reply.raw.len(),
        1,
        "no deferral, edit or follow-up: the command did not run"
    );
    assert_eq!(reply.raw[0].body["type"], 4, "answered at once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_over_budget_is_asked_to_wait_and_others_are_served() {
    let bot = start_bot("2026-03-02T08:00:00Z").await;
    set_up(&bot, "09:00", "UTC", CHANNEL_A).await;
    let ben = Person::member(12, "Ben");
    let cy = Person::member(13, "Cy");

    // Five different commands, one a second: all served. /question counts once per
    // invocation although poise checks it at two levels (`question`, then `search`).
    for i in 0..5 {
        let (name, options) = work(i);
        let reply = bot.command(name, options, &ben, CHANNEL_A).await;
        assert_served(&reply, &format!("/{name} #{}", i + 1));
        bot.clock.advance(TimeDelta::seconds(1));
    }
    // The sixth, at 6 s: the first leaves the window at 10 s, in 4 s.
    bot.clock.advance(TimeDelta::seconds(1));
    let sixth = bot.command("leaderboard", vec![], &ben, CHANNEL_A).await;
    assert_refused(&sixth, 4);
    assert!(
        !sixth.text().contains("Leaderboard") && !sixth.text().contains("Nobody"),
        "the leaderboard was not computed: {}",
        sixth.text()
    );

    // Another member at the same instant is unaffected.
    let other = bot.command("leaderboard", vec![], &cy, CHANNEL_A).await;
    assert!(!other.ephemeral, "/leaderboard is public");
    assert!(
        other.text().contains("Nobody has answered"),
        "{}",
        other.text()
    );

    // Autocomplete still answers Ben while he is over budget, and it never charges
    // him: after twenty keystrokes in a fresh window he still has five commands.
    let keystroke = |i: usize| -> (&'static str, Vec<Value>) {
        match i % 3 {
            0 => ("question", vec![sub_focused("show", "id", "cach")]),
            1 => (
                "setup",
                vec![opt("time", json!("09:00")), focused("timezone", "euro")],
            ),
            _ => ("question", vec![sub_focused("random", "topic", "data")]),
        }
    };
    let (name, options) = keystroke(0);
    assert!(
        !bot.autocomplete(name, options, &ben, CHANNEL_A)
            .await
            .is_empty()
    );
    bot.clock.advance(TimeDelta::seconds(20));
    for i in 0..20 {
        let (name, options) = keystroke(i);
        let choices = bot.autocomplete(name, options, &ben, CHANNEL_A).await;
        assert!(!choices.is_empty(), "keystroke {i} got choices");
    }
    for i in 0..5 {
        let (name, options) = work(i);
        let reply = bot.command(name, options, &ben, CHANNEL_A).await;
        assert_served(&reply, &format!("/{name} after the keystrokes"));
    }
    let refused = bot.command("streak", vec![], &ben, CHANNEL_A).await;
    assert_refused(&refused, 10);

    // Ten seconds on, Ben is served again.
    bot.clock.advance(TimeDelta::seconds(10));
    let again = bot.command("streak", vec![], &ben, CHANNEL_A).await;
    assert!(
        again
            .text()
            .contains("**Ben** has not answered a drop on time"),
        "{}",
        again.text()
    );
    bot.stop().await;
}

/// Every lookup is charged (alongside its reads: `limit::lookup`) and refused over
/// budget with nothing of its answer, and every lookup is in the list of them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_lookup_is_charged_and_refused_over_budget() {
    let bot = start_bot("2026-03-02T08:00:00Z").await;
    set_up(&bot, "09:00", "UTC", CHANNEL_A).await;
    let ben = Person::member(12, "Ben");
    let bank = prepbot_core::bank::QuestionBank::load(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../questions"),
    )
    .unwrap();
    let id = bank.all()[0].id.clone();
    let lookups: Vec<(&str, &str, Vec<Value>)> = vec![
        ("help", "help", vec![]),
        ("question today", "question", vec![sub("today", vec![])]),
        (
            "question show",
            "question",
            vec![sub("show", vec![opt("id", json!(id))])],
        ),
        ("question random", "question", vec![sub("random", vec![])]),
        (
            "question search",
            "question",
            vec![sub("search", vec![opt("query", json!("cache"))])],
        ),
        ("streak", "streak", vec![]),
        ("leaderboard", "leaderboard", vec![]),
        ("schedule show", "schedule", vec![sub("show", vec![])]),
    ];
    let listed: Vec<&str> = lookups.iter().map(|(path, _, _)| *path).collect();
    assert_eq!(
        listed,
        prepbot_discord::limit::LOOKUPS,
        "every lookup, tried"
    );
    for (path, name, options) in lookups {
        // A fresh window for each.
        bot.clock.advance(TimeDelta::seconds(20));
        for i in 0..5 {
            let reply = bot.command(name, options.clone(), &ben, CHANNEL_A).await;
            assert_served(&reply, &format!("/{path} #{}", i + 1));
        }
        let sixth = bot.command(name, options, &ben, CHANNEL_A).await;
        assert_refused(&sixth, 10);
    }
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_manage_server_commands_do_not_use_the_budget() {
    let bot = start_bot("2026-03-02T08:00:00Z").await;
    let ada = admin();
    let ben = Person::member(12, "Ben");
    // An admin correcting the schedule several times in a row is not held up...
    for time in ["9:00", "09:00", "10:00", "10:30", "11:00", "11:30", "12:00"] {
        let reply = set_up(&bot, time, "UTC", CHANNEL_A).await;
        assert_served(&reply, &format!("/setup {time}"));
    }
    let row = channel_row(&bot, CHANNEL_A).await.unwrap();
    assert_eq!(row.schedule.time.format("%H:%M").to_string(), "12:00");
    // ... and still has the whole budget for everything else.
    for i in 0..5 {
        let (name, options) = work(i);
        assert_served(&bot.command(name, options, &ada, CHANNEL_A).await, name);
    }
    assert_refused(&bot.command("streak", vec![], &ada, CHANNEL_A).await, 10);
    // A member trying admin commands is refused for the permission every time, which
    // costs no more than a rate-limit refusal would.
    for _ in 0..8 {
        let reply = bot.command("drop", vec![], &ben, CHANNEL_A).await;
        assert!(
            reply
                .text()
                .contains("You need the Manage Server permission"),
            "{}",
            reply.text()
        );
    }
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slash_argument_errors_say_what_is_accepted_and_store_nothing() {
    let bot = start_bot("2026-03-02T08:00:00Z").await;
    let setup_cases = [
        (
            vec![opt("time", json!("25:61")), opt("timezone", json!("UTC"))],
            "`25:61` is not a time: use 24-hour HH:MM, for example 09:30 or 18:00",
        ),
        (
            vec![
                opt("time", json!("09:00")),
                opt("timezone", json!("Mars/Olympus")),
            ],
            "`Mars/Olympus` is not a known IANA time zone: use a name like Europe/London",
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
                opt("reveal_after", json!(10000)),
            ],
            "reveal delay must be between 1 and 168 hours, not 10000",
        ),
        (
            vec![
                opt("time", json!("09:00")),
                opt("timezone", json!("UTC")),
                opt("topic", json!("astrology")),
            ],
            "There is no topic `astrology`. Topics: ",
        ),
    ];
    for (options, expected) in setup_cases {
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

    // Lookups, spread over members so the budget is not what refuses them.
    let search = |query: String| {
        (
            "question",
            vec![sub("search", vec![opt("query", json!(query))])],
        )
    };
    let lookups = [
        (
            search(String::new()),
            "Search for 1 to 200 characters of text",
        ),
        (
            search("   ".into()),
            "Search for 1 to 200 characters of text",
        ),
        (
            search("x".repeat(5000)),
            "Search for 1 to 200 characters of text",
        ),
        (
            (
                "question",
                vec![sub("show", vec![opt("id", json!("no-such-id"))])],
            ),
            "No question has the id `no-such-id`. Try /question search.",
        ),
        (
            (
                "question",
                vec![sub("random", vec![opt("topic", json!("astrology"))])],
            ),
            "There is no topic `astrology`. Topics: ",
        ),
    ];
    for (i, ((name, options), expected)) in lookups.into_iter().enumerate() {
        let who = Person::member(100 + i as u64, "Asker");
        let reply = bot.command(name, options, &who, CHANNEL_A).await;
        assert!(reply.ephemeral);
        assert!(
            reply.text().contains(expected),
            "expected {expected:?} in {:?}",
            reply.text()
        );
        if expected.starts_with("There is no topic") {
            assert!(
                reply.text().contains("databases"),
                "the topics are listed: {}",
                reply.text()
            );
        }
    }
    bot.stop().await;
}
