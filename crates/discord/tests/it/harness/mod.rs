//! The end-to-end harness: the real bot (its library entry, `prepbot_discord::run`)
//! started against the fake Discord on 127.0.0.1 with a clock the test drives, and
//! helpers for what tests do with it (commands, answers, waiting for drops and
//! reveals). Shared by every test binary that drives the bot in-process.
#![allow(dead_code)] // each test binary uses a different subset

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};
use prepbot_core::clock::{Clock, ManualClock};
use prepbot_core::store::Store;
use prepbot_discord::{DiscordConfig, Token};
use serde_json::{Value, json};
use tokio::sync::oneshot;

use prepbot_fake_discord::fixtures::*;
use prepbot_fake_discord::{APP_ID, FakeDiscord, GUILD_A, Recorded};

pub const WAIT: Duration = Duration::from_secs(15);

pub fn utc(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

pub struct Bot {
    pub fake: FakeDiscord,
    pub clock: Arc<ManualClock>,
    pub stop: Option<oneshot::Sender<()>>,
    pub task: BotThread,
    pub db_url: String,
    pub _dir: tempfile::TempDir,
    pub next_id: AtomicU64,
    pub claim_lease: Option<chrono::Duration>,
}

/// A command's reply as it reached the fake: the interaction callback, and for a
/// deferred command the edit of the original response, plus any follow-ups.
#[derive(Debug)]
pub struct Reply {
    pub ephemeral: bool,
    pub texts: Vec<String>,
    pub raw: Vec<Recorded>,
}

impl Reply {
    pub fn text(&self) -> String {
        self.texts.join("\n")
    }
}

/// What a reply message says: its content, then each embed's title and description.
fn message_texts(message: &Value) -> Vec<String> {
    let mut texts = Vec::new();
    if let Some(content) = message["content"].as_str() {
        texts.push(content.to_string());
    }
    for embed in message["embeds"].as_array().into_iter().flatten() {
        for part in ["title", "description"] {
            if let Some(text) = embed[part].as_str() {
                texts.push(text.to_string());
            }
        }
    }
    texts
}

pub fn config(fake: &FakeDiscord, db_url: &str) -> DiscordConfig {
    DiscordConfig {
        token: Token::new("e2e-token-SECRET"),
        database_url: db_url.to_string(),
        bank: prepbot_core::bank::BankSources::default(),
        dev_guild: Some(GUILD_A),
        api_base: Some(fake.base()),
        claim_lease: None,
        catch_up_grace: None,
        discord_rate: None,
        shards: prepbot_discord::Shards::ALL,
    }
}

/// The bot (`prepbot_discord::run`) on a runtime of its own, on a thread of its own.
///
/// Why not `tokio::spawn` on the test's runtime: serenity 0.12.5's shard runner,
/// asked to stop after its connection ended, polls the ended stream in a loop that
/// never yields (`ShardRunner::checked_shutdown`). On the test's runtime that would
/// hold one of its workers for good, and dropping the runtime at the end of the test
/// waits for every worker without a limit: the test binary would hang (one CI run
/// did, at 90% of a core, with no output). Here the bot's runtime is shut down with
/// a bounded wait once `run` returns, as `prepbot run` does, and the test goes on.
pub struct BotThread {
    done: oneshot::Receiver<anyhow::Result<()>>,
}

/// Starts `prepbot_discord::run` on its own runtime (see [`BotThread`]).
pub fn spawn_bot(
    cfg: DiscordConfig,
    clock: Arc<dyn Clock>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> BotThread {
    let (tx, done) = oneshot::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a runtime for the bot");
        let result = runtime.block_on(prepbot_discord::run(cfg, clock, shutdown));
        // Whatever the bot left running is stopped before the test goes on (a
        // restart opens the same database again).
        runtime.shutdown_timeout(Duration::from_secs(2));
        let _ = tx.send(result);
    });
    BotThread { done }
}

impl BotThread {
    /// What `run` returned, once it has (a panic in the bot is a panic here).
    pub async fn stopped(self, within: Duration) -> anyhow::Result<()> {
        tokio::time::timeout(within, self.done)
            .await
            .expect("the bot stops")
            .expect("the bot did not panic")
    }
}

pub async fn start_bot(start: &str) -> Bot {
    start_bot_with(start, None).await
}

/// [`start_bot`] with a claim lease of its own (`PREPBOT_CLAIM_LEASE_SECS`).
pub async fn start_bot_with(start: &str, claim_lease: Option<chrono::Duration>) -> Bot {
    let clock = Arc::new(ManualClock::new(utc(start)));
    let fake = FakeDiscord::start(clock.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let db_url = format!("sqlite://{}", dir.path().join("bot.db").display());
    launch(fake, clock, dir, db_url, claim_lease).await
}

/// Runs the bot against `fake` and waits until it is connected and registered.
async fn launch(
    fake: FakeDiscord,
    clock: Arc<ManualClock>,
    dir: tempfile::TempDir,
    db_url: String,
    claim_lease: Option<chrono::Duration>,
) -> Bot {
    let identified = fake.identifies();
    let registrations = |fake: &FakeDiscord| {
        fake.requests()
            .iter()
            .filter(|r| {
                r.method == "PUT" && r.path.ends_with(&format!("/guilds/{GUILD_A}/commands"))
            })
            .count()
    };
    let registered = registrations(&fake);
    let mut cfg = config(&fake, &db_url);
    cfg.claim_lease = claim_lease;
    let (stop, stop_rx) = oneshot::channel::<()>();
    let task = spawn_bot(cfg, clock.clone(), async move {
        let _ = stop_rx.await;
    });
    fake.wait_until("the bot identifies", WAIT, || {
        fake.identifies() > identified
    })
    .await;
    fake.wait_until("commands registered in the dev guild", WAIT, || {
        registrations(&fake) > registered
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
        claim_lease,
    }
}

impl Bot {
    pub fn id(&self) -> u64 {
        self.fake.snowflake() + self.next_id.fetch_add(1, Ordering::SeqCst)
    }

    /// Sends a slash command and waits for its answer.
    pub async fn command(
        &self,
        name: &str,
        options: Vec<Value>,
        by: &Person,
        channel: u64,
    ) -> Reply {
        let id = self.id();
        let token = format!("tok{id}");
        self.fake.dispatch(
            "INTERACTION_CREATE",
            slash(id, &token, name, options, by, channel),
        );
        self.reply(id, &token).await
    }

    pub async fn command_with_users(
        &self,
        name: &str,
        options: Vec<Value>,
        users: &[&Person],
        by: &Person,
        channel: u64,
    ) -> Reply {
        let id = self.id();
        let token = format!("tok{id}");
        self.fake.dispatch(
            "INTERACTION_CREATE",
            slash_with_users(id, &token, name, options, users, by, channel),
        );
        self.reply(id, &token).await
    }

    pub async fn reply(&self, id: u64, token: &str) -> Reply {
        let callback_path = format!("/api/v10/interactions/{id}/{token}/callback");
        let callback = self
            .fake
            .wait_for(&format!("the callback of {id}"), WAIT, |r| {
                r.path == callback_path
            })
            .await;
        let mut raw = vec![callback.clone()];
        let mut texts = Vec::new();
        let kind = callback.body["type"].as_u64().unwrap_or(0);
        let ephemeral = callback.body["data"]["flags"].as_u64().unwrap_or(0) & 64 != 0;
        let edit_path = format!("/api/v10/webhooks/{APP_ID}/{token}/messages/@original");
        let followup_path = format!("/api/v10/webhooks/{APP_ID}/{token}");
        if kind == 5 {
            // After a deferral the answer is an edit of the original or, as poise
            // does it, a follow-up (the first follow-up replaces "thinking...").
            self.fake
                .wait_for("the deferred reply", WAIT, |r| {
                    r.path == edit_path || r.path == followup_path
                })
                .await;
        } else {
            texts.extend(message_texts(&callback.body["data"]));
        }
        // Follow-ups (long answers) arrive right after; give them a moment.
        tokio::time::sleep(Duration::from_millis(150)).await;
        for r in self
            .fake
            .requests()
            .into_iter()
            .filter(|r| r.path == followup_path || r.path == edit_path)
        {
            texts.extend(message_texts(&r.body));
            raw.push(r);
        }
        Reply {
            ephemeral,
            texts,
            raw,
        }
    }

    /// Sends an autocomplete interaction and returns the offered choices.
    pub async fn autocomplete(
        &self,
        name: &str,
        options: Vec<Value>,
        by: &Person,
        channel: u64,
    ) -> Vec<String> {
        let id = self.id();
        let token = format!("tok{id}");
        self.fake.dispatch(
            "INTERACTION_CREATE",
            autocomplete(id, &token, name, options, by, channel),
        );
        let path = format!("/api/v10/interactions/{id}/{token}/callback");
        let r = self
            .fake
            .wait_for("autocomplete choices", WAIT, |r| r.path == path)
            .await;
        assert_eq!(r.body["type"], 8, "an autocomplete result");
        r.body["data"]["choices"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["value"].as_str().unwrap_or_default().to_string())
            .collect()
    }

    pub async fn store(&self) -> Store {
        Store::open_url(&self.db_url).await.unwrap()
    }

    pub async fn stop(self) {
        self.shut_down().await;
    }

    /// Stops the bot cleanly and gives back what a restart needs.
    async fn shut_down(
        mut self,
    ) -> (
        FakeDiscord,
        Arc<ManualClock>,
        tempfile::TempDir,
        String,
        Option<chrono::Duration>,
    ) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let result = self.task.stopped(WAIT).await;
        result.expect("the bot stops cleanly");
        // Every request so far must be one Discord's spec accepts (the fake checks
        // again when the test lets go of it, for tests that never stop the bot).
        self.fake.assert_requests_match_spec();
        (
            self.fake,
            self.clock,
            self._dir,
            self.db_url,
            self.claim_lease,
        )
    }

    /// Stops the bot cleanly; returns its database's directory (kept alive) and URL.
    pub async fn stop_keeping_database(self) -> (tempfile::TempDir, String) {
        let (_, _, dir, db_url, _) = self.shut_down().await;
        (dir, db_url)
    }

    /// Stops the bot, lets `while_down` change the world (the clock, the fake's
    /// channels), and starts it again on the same database and fake Discord.
    pub async fn restart(self, while_down: impl FnOnce(&FakeDiscord, &ManualClock)) -> Bot {
        let (fake, clock, dir, db_url, lease) = self.shut_down().await;
        while_down(&fake, &clock);
        launch(fake, clock, dir, db_url, lease).await
    }
}

pub fn admin() -> Person {
    Person::admin(11, "Ada")
}

/// `/setup` by the admin with just a time and a zone.
pub async fn set_up(bot: &Bot, time: &str, zone: &str, channel: u64) -> Reply {
    bot.command(
        "setup",
        vec![opt("time", json!(time)), opt("timezone", json!(zone))],
        &admin(),
        channel,
    )
    .await
}

/// The channel's stored schedule, if any.
pub async fn channel_row(
    bot: &Bot,
    channel: u64,
) -> Option<prepbot_core::store::channels::Channel> {
    let store = bot.store().await;
    let mut conn = store.read().await.unwrap();
    let address = prepbot_core::chat::ChannelAddress::new(
        prepbot_core::chat::Platform::Discord,
        String::new(),
        channel.to_string(),
    );
    prepbot_core::store::channels::find(&mut conn, &address)
        .await
        .unwrap()
}

pub const CHECK: &str = "%E2%9C%85";
pub const CLOCK_EMOJI: &str = "%F0%9F%95%92";

pub fn drop_posts(fake: &FakeDiscord, channel: u64) -> Vec<Recorded> {
    let path = format!("/api/v10/channels/{channel}/messages");
    fake.requests()
        .into_iter()
        .filter(|r| r.method == "POST" && r.path == path && r.body["embeds"].is_array())
        .collect()
}

/// The id of the question a drop post is about (from its embed footer).
pub fn question_of(post: &Recorded) -> String {
    let footer = post.body["embeds"][0]["footer"]["text"].as_str().unwrap();
    footer.rsplit("Question id: ").next().unwrap().to_string()
}

pub fn model_answer(id: &str) -> String {
    let bank = prepbot_core::bank::QuestionBank::load(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("../../questions"),
    )
    .unwrap();
    bank.get(id).unwrap().model_answer.clone()
}

/// Moves the clock and waits for the drop the scheduler posts; returns (post, thread id).
pub async fn expect_drop(bot: &Bot, channel: u64, at: &str, n: usize) -> (Recorded, u64) {
    bot.clock.set(utc(at));
    let embeds_in = |channel: u64| -> Vec<Value> {
        bot.fake
            .posted_messages()
            .into_iter()
            .filter(|(c, m)| *c == channel && m["embeds"].as_array().is_some_and(|e| !e.is_empty()))
            .map(|(_, m)| m)
            .collect()
    };
    bot.fake
        .wait_until(&format!("drop #{n} is posted in {channel}"), WAIT, || {
            embeds_in(channel).len() >= n
        })
        .await;
    let created = embeds_in(channel)[n - 1].clone();
    let message_id: u64 = created["id"].as_str().unwrap().parse().unwrap();
    let path = format!("/api/v10/channels/{channel}/messages");
    // The request that created it. The fake shows a message (in `posted_messages`,
    // in the channel's history, on the gateway) while it is still answering the
    // request that created it, and records the request only once it has answered:
    // wait for the record rather than assume it is there already. An earlier attempt
    // with the same embeds may have been refused: the one that succeeded.
    let post = bot
        .fake
        .wait_for("the request that posted the drop", WAIT, |r| {
            r.method == "POST"
                && r.path == path
                && (200..300).contains(&r.status)
                && r.body["embeds"] == created["embeds"]
        })
        .await;
    let thread = bot
        .fake
        .wait_for("the drop's thread", WAIT, |r| {
            r.path == format!("/api/v10/channels/{channel}/messages/{message_id}/threads")
        })
        .await;
    assert_eq!(
        thread.body["auto_archive_duration"], 10080,
        "a week's auto-archive"
    );
    (post, message_id)
}

/// A member posts in a thread at `at` and the bot acknowledges it with `emoji`.
pub async fn answer(
    bot: &Bot,
    thread: u64,
    guild: u64,
    who: &Person,
    text: &str,
    at: &str,
    emoji: &str,
) -> u64 {
    let id = bot.fake.snowflake();
    bot.fake.dispatch(
        "MESSAGE_CREATE",
        member_message(id, thread, guild, who, text, utc(at)),
    );
    bot.fake
        .wait_for(
            &format!("the reaction to {}'s answer", who.name),
            WAIT,
            |r| {
                r.method == "PUT"
                    && r.path
                        == format!("/api/v10/channels/{thread}/messages/{id}/reactions/{emoji}/@me")
            },
        )
        .await;
    id
}

/// Waits until the drop whose thread is `thread` is closed (revealed) in the bot's
/// database.
pub async fn wait_revealed(bot: &Bot, thread: u64) {
    let store = bot.store().await;
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let mut conn = store.read().await.unwrap();
        let thread_ref = prepbot_core::chat::ThreadRef::new(
            prepbot_core::chat::Platform::Discord,
            thread.to_string(),
        );
        let drop_row = prepbot_core::store::drops::by_thread(&mut conn, &thread_ref)
            .await
            .unwrap();
        drop(conn);
        if drop_row.is_some_and(|d| d.state == prepbot_core::engine::DropState::Revealed) {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the drop of thread {thread} was not revealed"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Moves the clock to a reveal and waits until it is posted and recorded; returns
/// the text posted in the thread.
pub async fn expect_reveal(bot: &Bot, thread: u64, at: &str, n: usize) -> String {
    bot.clock.set(utc(at));
    wait_revealed(bot, thread).await;
    let path = format!("/api/v10/channels/{thread}/messages");
    let posted: Vec<String> = bot
        .fake
        .posted_messages()
        .into_iter()
        .filter(|(c, _)| *c == thread)
        .map(|(_, m)| m["content"].as_str().unwrap_or_default().to_string())
        .collect();
    assert!(
        posted.iter().any(|c| c.contains(&format!("Reveal #{n}"))),
        "reveal #{n} was not posted in {path}"
    );
    posted.join("\n")
}

/// A subcommand whose option is being typed.
pub fn sub_focused(sub_name: &str, option: &str, partial: &str) -> Value {
    json!({"name": sub_name, "type": 1, "options": [focused(option, partial)]})
}

/// The wall clock shifted by an offset the test sets: "now" is the test's, but the
/// waiting is done by the production code (`clock::sleep_until_by`) on tokio's
/// real timer.
pub struct ShiftedClock {
    pub offset_ms: std::sync::atomic::AtomicI64,
}

impl ShiftedClock {
    pub fn at(&self, t: DateTime<Utc>) {
        self.offset_ms
            .store((t - Utc::now()).num_milliseconds(), Ordering::SeqCst);
    }
}

impl Clock for ShiftedClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now() + chrono::Duration::milliseconds(self.offset_ms.load(Ordering::SeqCst))
    }

    fn sleep_until(&self, t: DateTime<Utc>) -> prepbot_core::clock::Sleep<'_> {
        Box::pin(prepbot_core::clock::sleep_until_by(|| self.now(), t))
    }
}

/// A stored answer by its Discord message id (unique on Discord, so whichever
/// channel holds it).
pub async fn answer_row(
    conn: &mut prepbot_core::store::Conn,
    message_id: u64,
) -> prepbot_core::store::Result<Option<prepbot_core::store::answers::StoredAnswer>> {
    let id = message_id.to_string();
    for ch in prepbot_core::store::channels::list_all(&mut *conn).await? {
        if let Some(a) = prepbot_core::store::answers::get(&mut *conn, ch.key, &id).await? {
            return Ok(Some(a));
        }
    }
    Ok(None)
}

/// The key of the Discord channel `channel`; panics if it has no schedule.
pub async fn channel_key(conn: &mut prepbot_core::store::Conn, channel: u64) -> i64 {
    let address = prepbot_core::chat::ChannelAddress::new(
        prepbot_core::chat::Platform::Discord,
        String::new(),
        channel.to_string(),
    );
    prepbot_core::store::channels::find(conn, &address)
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("channel {channel} has no schedule"))
        .key
}

/// A Discord thread as the store addresses it.
pub fn thread_ref(thread: u64) -> prepbot_core::chat::ThreadRef {
    prepbot_core::chat::ThreadRef::new(prepbot_core::chat::Platform::Discord, thread.to_string())
}
