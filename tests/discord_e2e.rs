//! The real bot (its library entry, `prepbot::discord::run`) against the fake Discord
//! on 127.0.0.1, with a clock the test drives. Everything asserted is what reached
//! the fake (or, for what the bot stored, the bot's own database).

mod fake_discord;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};
use fake_discord::fixtures::*;
use fake_discord::{APP_ID, CHANNEL_A, CHANNEL_A2, CHANNEL_B, FakeDiscord, GUILD_A, GUILD_B, Recorded};
use prepbot::clock::{Clock, ManualClock};
use prepbot::discord::{DiscordConfig, Token};
use prepbot::store::Store;
use serde_json::{Value, json};
use tokio::sync::oneshot;

const WAIT: Duration = Duration::from_secs(15);

fn utc(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

struct Bot {
    fake: FakeDiscord,
    clock: Arc<ManualClock>,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
    db_url: String,
    _dir: tempfile::TempDir,
    next_id: AtomicU64,
}

/// A command's reply as it reached the fake: the interaction callback, and for a
/// deferred command the edit of the original response, plus any follow-ups.
#[derive(Debug)]
struct Reply {
    ephemeral: bool,
    texts: Vec<String>,
    raw: Vec<Recorded>,
}

impl Reply {
    fn text(&self) -> String {
        self.texts.join("\n")
    }
}

fn config(fake: &FakeDiscord, db_url: &str) -> DiscordConfig {
    DiscordConfig {
        token: Token::new("e2e-token-SECRET"),
        database_url: db_url.to_string(),
        questions: Path::new(env!("CARGO_MANIFEST_DIR")).join("questions"),
        dev_guild: Some(GUILD_A),
        api_base: Some(fake.base()),
    }
}

async fn start_bot(start: &str) -> Bot {
    let clock = Arc::new(ManualClock::new(utc(start)));
    let fake = FakeDiscord::start(clock.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let db_url = format!("sqlite://{}", dir.path().join("bot.db").display());
    let (stop, stop_rx) = oneshot::channel::<()>();
    let task = tokio::spawn(prepbot::discord::run(config(&fake, &db_url), clock.clone(), async move {
        let _ = stop_rx.await;
    }));
    fake.wait_identified(WAIT).await;
    fake.wait_for("commands registered in the dev guild", WAIT, |r| {
        r.method == "PUT" && r.path.ends_with(&format!("/guilds/{GUILD_A}/commands"))
    })
    .await;
    Bot {
        fake,
        clock,
        stop: Some(stop),
        task,
        db_url,
        _dir: dir,
        next_id: AtomicU64::new(1),
    }
}

impl Bot {
    fn id(&self) -> u64 {
        self.fake.snowflake() + self.next_id.fetch_add(1, Ordering::SeqCst)
    }

    /// Sends a slash command and waits for its answer.
    async fn command(&self, name: &str, options: Vec<Value>, by: &Person, channel: u64) -> Reply {
        let id = self.id();
        let token = format!("tok{id}");
        self.fake.dispatch("INTERACTION_CREATE", slash(id, &token, name, options, by, channel));
        self.reply(id, &token).await
    }

    async fn command_with_users(&self, name: &str, options: Vec<Value>, users: &[&Person], by: &Person, channel: u64) -> Reply {
        let id = self.id();
        let token = format!("tok{id}");
        self.fake
            .dispatch("INTERACTION_CREATE", slash_with_users(id, &token, name, options, users, by, channel));
        self.reply(id, &token).await
    }

    async fn reply(&self, id: u64, token: &str) -> Reply {
        let callback_path = format!("/api/v10/interactions/{id}/{token}/callback");
        let callback = self.fake.wait_for(&format!("the callback of {id}"), WAIT, |r| r.path == callback_path).await;
        let mut raw = vec![callback.clone()];
        let mut texts = Vec::new();
        let kind = callback.body["type"].as_u64().unwrap_or(0);
        let ephemeral = callback.body["data"]["flags"].as_u64().unwrap_or(0) & 64 != 0;
        if kind == 5 {
            let edit_path = format!("/api/v10/webhooks/{APP_ID}/{token}/messages/@original");
            let edit = self.fake.wait_for("the deferred reply", WAIT, |r| r.path == edit_path).await;
            texts.push(edit.body["content"].as_str().unwrap_or_default().to_string());
            raw.push(edit);
        } else if let Some(content) = callback.body["data"]["content"].as_str() {
            texts.push(content.to_string());
        }
        // Follow-ups (long answers) arrive right after; give them a moment.
        tokio::time::sleep(Duration::from_millis(150)).await;
        let followup_path = format!("/api/v10/webhooks/{APP_ID}/{token}");
        for r in self.fake.requests().into_iter().filter(|r| r.path == followup_path) {
            texts.push(r.body["content"].as_str().unwrap_or_default().to_string());
            raw.push(r);
        }
        Reply { ephemeral, texts, raw }
    }

    /// Sends an autocomplete interaction and returns the offered choices.
    async fn autocomplete(&self, name: &str, options: Vec<Value>, by: &Person, channel: u64) -> Vec<String> {
        let id = self.id();
        let token = format!("tok{id}");
        self.fake.dispatch("INTERACTION_CREATE", autocomplete(id, &token, name, options, by, channel));
        let path = format!("/api/v10/interactions/{id}/{token}/callback");
        let r = self.fake.wait_for("autocomplete choices", WAIT, |r| r.path == path).await;
        assert_eq!(r.body["type"], 8, "an autocomplete result");
        r.body["data"]["choices"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["value"].as_str().unwrap_or_default().to_string())
            .collect()
    }

    async fn store(&self) -> Store {
        Store::open_url(&self.db_url).await.unwrap()
    }

    async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let result = tokio::time::timeout(WAIT, self.task).await.expect("the bot stops").expect("no panic");
        result.expect("the bot stops cleanly");
    }
}

fn admin() -> Person {
    Person::admin(11, "Ada")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn startup_registers_every_command_with_descriptions() {
    let bot = start_bot("2026-03-02T08:00:00Z").await;
    let put = bot
        .fake
        .requests()
        .into_iter()
        .find(|r| r.method == "PUT" && r.path.ends_with("/commands"))
        .unwrap();
    assert!(put.path.contains(&format!("/applications/{APP_ID}/guilds/{GUILD_A}/commands")));
    assert_eq!(put.authorization.as_deref(), Some("Bot e2e-token-SECRET"));
    let commands = put.body.as_array().unwrap();
    let mut names: Vec<&str> = commands.iter().map(|c| c["name"].as_str().unwrap()).collect();
    names.sort();
    assert_eq!(names, ["drop", "leaderboard", "question", "reveal", "schedule", "setup", "streak"]);
    for c in commands {
        let name = c["name"].as_str().unwrap();
        let perms = c["default_member_permissions"].as_str();
        match name {
            "setup" | "drop" | "reveal" => assert_eq!(perms, Some("32"), "/{name} needs Manage Server"),
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
            vec![opt("time", json!("09:00")), opt("timezone", json!("Europe/London")), opt("reveal_after", json!(8))],
            &admin(),
            CHANNEL_A,
        )
        .await;
    assert!(reply.ephemeral);
    let drop_at = utc("2026-03-02T09:00:00Z").timestamp();
    assert!(reply.text().contains(&format!("Next drop: <t:{drop_at}:F>")), "{}", reply.text());
    assert!(reply.text().contains("daily at 09:00 Europe/London, reveal 8 h after each drop"));

    // A member without Manage Server: refused, nothing stored for channel A2.
    let ben = Person::member(12, "Ben");
    let reply = bot
        .command("setup", vec![opt("time", json!("10:00")), opt("timezone", json!("UTC"))], &ben, CHANNEL_A2)
        .await;
    assert!(reply.ephemeral);
    assert!(reply.text().contains("You need the Manage Server permission"), "{}", reply.text());
    let show = bot.command("schedule", vec![sub("show", vec![])], &ben, CHANNEL_A2).await;
    assert!(show.text().contains("no schedule yet"), "{}", show.text());
    let mut conn = bot.store().await.read().await.unwrap();
    assert!(prepbot::store::channels::get(&mut conn, CHANNEL_A2).await.unwrap().is_none());
    drop(conn);
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_gets_an_ephemeral_error_and_stores_nothing() {
    let bot = start_bot("2026-03-02T08:00:00Z").await;
    let cases = [
        (vec![opt("time", json!("09:00")), opt("timezone", json!("Mars/Olympus"))], "is not a known IANA time zone"),
        (vec![opt("time", json!("25:61")), opt("timezone", json!("UTC"))], "is not a time: use 24-hour HH:MM"),
        (
            vec![opt("time", json!("09:00")), opt("timezone", json!("UTC")), opt("reveal_after", json!(10000))],
            "reveal delay must be between 1 and 168 hours, not 10000",
        ),
        (
            vec![opt("time", json!("09:00")), opt("timezone", json!("UTC")), opt("reveal_after", json!(0))],
            "reveal delay must be between 1 and 168 hours, not 0",
        ),
        (
            vec![opt("time", json!("09:00")), opt("timezone", json!("UTC")), opt("topic", json!("astrology"))],
            "There is no topic `astrology`",
        ),
        (
            vec![opt("time", json!("09:00")), opt("timezone", json!("UTC")), opt("days", json!("funday"))],
            "is not a set of days",
        ),
    ];
    for (options, expected) in cases {
        let reply = bot.command("setup", options, &admin(), CHANNEL_A).await;
        assert!(reply.ephemeral);
        assert!(reply.text().contains(expected), "expected {expected:?} in {:?}", reply.text());
    }
    let mut conn = bot.store().await.read().await.unwrap();
    assert!(prepbot::store::channels::get(&mut conn, CHANNEL_A).await.unwrap().is_none());
    drop(conn);
    let search = bot.command("question", vec![sub("search", vec![opt("query", json!("x".repeat(5000)))])], &admin(), CHANNEL_A).await;
    assert!(search.text().contains("Search for 1 to 200 characters"), "{}", search.text());
    let show = bot.command("question", vec![sub("show", vec![opt("id", json!("no-such-id"))])], &admin(), CHANNEL_A).await;
    assert!(show.text().contains("No question has the id `no-such-id`"), "{}", show.text());
    bot.stop().await;
}
