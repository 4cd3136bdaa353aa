//! Whatever members post in a drop's thread is stored whole, and nothing the bot
//! posts can ping anyone, whatever the members wrote or are called. End to end
//! against the fake Discord; the stored text is read from the bot's own database.

use crate::harness::*;
use prepbot_fake_discord::fixtures::*;
use prepbot_fake_discord::{CHANNEL_A, FakeDiscord, GUILD_A};
use serde_json::{Value, json};

const DIAGRAM_URL: &str = "https://cdn.discordapp.com/attachments/700000000000000001/1/diagram.png";

/// A 4000-character answer (Discord's limit with Nitro), multibyte characters and
/// line breaks included.
fn long_answer() -> String {
    let line = "Shard by tenant, replicate 3×, read from the nearest replica — ✅ p99 < 50 ms.\n";
    let s: String = line.chars().cycle().take(4000).collect();
    assert_eq!(s.chars().count(), 4000);
    s
}

/// Zalgo: every letter buried under combining marks.
fn zalgo() -> String {
    let marks: Vec<char> = (0x0300..=0x036F).filter_map(char::from_u32).collect();
    let mut s = String::new();
    for (i, c) in "consistent hashing".chars().enumerate() {
        s.push(c);
        s.extend((0..12).map(|k| marks[(i * 7 + k * 5) % marks.len()]));
    }
    s
}

const CODE: &str = "Here is mine:\n```rust\nfn backoff(attempt: u32) -> u64 {\n    // `1 << n` ms, capped\n    (1u64 << attempt.min(10)).min(30_000)\n}\n```\nand *that* is it.";

const PINGS: &str = "@everyone @here <@&123> and <@11>, look at this: @everyone";

/// Posts a gateway message and waits for the bot's ✅ on it.
async fn post(bot: &Bot, thread: u64, id: u64, payload: Value) {
    bot.fake.dispatch("MESSAGE_CREATE", payload);
    bot.fake
        .wait_for(&format!("the acknowledgement of {id}"), WAIT, |r| {
            r.method == "PUT"
                && r.path
                    == format!("/api/v10/channels/{thread}/messages/{id}/reactions/{CHECK}/@me")
        })
        .await;
}

/// Every message the bot sent the fake (channel posts, interaction callbacks,
/// follow-ups and edits) that has text or embeds must allow no pings at all.
/// Returns the paths checked.
fn assert_nothing_can_ping(fake: &FakeDiscord) -> Vec<String> {
    let mut checked = Vec::new();
    for r in fake.requests() {
        if r.method != "POST" && r.method != "PATCH" {
            continue;
        }
        let payload = if r.path.ends_with("/callback") {
            &r.body["data"]
        } else {
            &r.body
        };
        let has_text = payload["content"].as_str().is_some_and(|c| !c.is_empty())
            || payload["embeds"].as_array().is_some_and(|e| !e.is_empty());
        if !has_text {
            continue;
        }
        let where_ = format!("{} {}", r.method, r.path);
        let allowed = &payload["allowed_mentions"];
        assert!(allowed.is_object(), "{where_} has no allowed_mentions");
        assert_eq!(allowed["parse"], json!([]), "{where_}: {allowed}");
        for key in ["roles", "users"] {
            assert!(
                allowed[key].is_null() || allowed[key] == json!([]),
                "{where_}: {key} in {allowed}"
            );
        }
        assert_ne!(allowed["replied_user"], json!(true), "{where_}");
        checked.push(r.path);
    }
    checked
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_of_any_size_and_content_are_stored_whole_and_nothing_pings() {
    let bot = start_bot("2026-03-02T08:00:00Z").await;
    set_up(&bot, "09:00", "UTC", CHANNEL_A).await;
    let (_, thread) = expect_drop(&bot, CHANNEL_A, "2026-03-02T09:00:00Z", 1).await;
    let at = utc("2026-03-02T09:30:00Z");

    let dia = Person::member(21, "Dia");
    let lon = Person::member(22, "Lon");
    let zal = Person::member(23, "Zal");
    let cod = Person::member(24, "Cod");
    let everyone = Person::member(25, "@everyone");

    // A diagram posted on its own: no text at all, only the attachment.
    let diagram = bot.fake.snowflake();
    post(
        &bot,
        thread,
        diagram,
        member_message_with_attachments(
            diagram,
            thread,
            GUILD_A,
            &dia,
            "",
            &[("diagram.png", DIAGRAM_URL)],
            at,
        ),
    )
    .await;
    let texts = [
        (&lon, long_answer()),
        (&zal, zalgo()),
        (&cod, CODE.to_string()),
        (&everyone, PINGS.to_string()),
    ];
    let mut ids = Vec::new();
    for (who, text) in &texts {
        let id = bot.fake.snowflake();
        post(
            &bot,
            thread,
            id,
            member_message(id, thread, GUILD_A, who, text, at),
        )
        .await;
        ids.push(id);
    }

    // Stored byte for byte; the attachment-only message as its URL, which names the
    // file and lets anyone open it.
    {
        let store = bot.store().await;
        let mut conn = store.read().await.unwrap();
        let row = answer_row(&mut conn, diagram)
            .await
            .unwrap()
            .expect("the attachment-only message is stored");
        assert_eq!(row.body, DIAGRAM_URL);
        assert!(row.withdrawn_at.is_none());
        for (id, (who, text)) in ids.iter().zip(&texts) {
            let row = answer_row(&mut conn, *id)
                .await
                .unwrap()
                .unwrap_or_else(|| panic!("{}'s answer is stored", who.name));
            assert_eq!(
                row.body.as_bytes(),
                text.as_bytes(),
                "{}'s answer",
                who.name
            );
            assert_eq!(row.member_name, who.name);
        }
    }

    // All five count, the diagram included, and the reveal names them, "@everyone"
    // among them, without pinging anyone.
    let reveal = expect_reveal(&bot, thread, "2026-03-03T09:00:00Z", 1).await;
    assert!(
        reveal.contains("5 members answered on time: @everyone, Cod, Dia, Lon, Zal."),
        "{reveal}"
    );
    let streak = bot.command("streak", vec![], &dia, CHANNEL_A).await;
    assert!(
        streak
            .text()
            .contains("**Dia**: current streak 1, best 1, 1 on-time answer "),
        "{}",
        streak.text()
    );
    // Public replies that carry the name too.
    let streak = bot.command("streak", vec![], &everyone, CHANNEL_A).await;
    assert!(
        streak.text().contains("**@everyone**: current streak 1"),
        "{}",
        streak.text()
    );
    let board = bot.command("leaderboard", vec![], &lon, CHANNEL_A).await;
    assert!(board.text().contains("@everyone: 1"), "{}", board.text());

    let checked = assert_nothing_can_ping(&bot.fake);
    // The drop and the reveal's parts, the deferred /setup's follow-up, and the
    // replies to /streak and /leaderboard.
    let drop_and_reveal = checked.iter().filter(|p| p.contains("/channels/")).count();
    assert!(drop_and_reveal >= 2, "{checked:?}");
    assert!(
        checked.iter().any(|p| p.contains("/webhooks/")),
        "{checked:?}"
    );
    assert_eq!(
        checked.iter().filter(|p| p.ends_with("/callback")).count(),
        3,
        "{checked:?}"
    );
    bot.stop().await;
}
