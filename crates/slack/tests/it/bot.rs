//! The whole adapter in-process (`prepbot_slack::run`) against the fake Slack, as
//! the Socket Mode and command tests drive it: started on a fresh database or again
//! on a stopped one's, `/prep` sent and its acknowledgement and answer read back.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use prepbot_fake_slack::{APP_TOKEN, BOT_TOKEN, CHANNEL, FakeSlack};
use prepbot_slack::SlackConfig;
use serde_json::{Value, json};
use tokio::sync::oneshot;

pub const WAIT: Duration = Duration::from_secs(15);

pub struct Bot {
    pub fake: FakeSlack,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<Result<(), prepbot_slack::RunError>>,
    db: String,
    _dir: tempfile::TempDir,
}

pub async fn start() -> Bot {
    start_in(FakeSlack::start().await, tempfile::tempdir().unwrap(), 1).await
}

/// Starts the bot with `PREPBOT_SLACK_CONNECTIONS=connections` and waits until all
/// of them are open (slack-morphism opens them 5 s apart).
pub async fn start_with_connections(connections: usize) -> Bot {
    start_in(
        FakeSlack::start().await,
        tempfile::tempdir().unwrap(),
        connections,
    )
    .await
}

/// Starts the bot again on the database a stopped one left ([`Bot::stop`]).
pub async fn restart(fake: FakeSlack, dir: tempfile::TempDir) -> Bot {
    start_in(fake, dir, 1).await
}

async fn start_in(fake: FakeSlack, dir: tempfile::TempDir, connections: usize) -> Bot {
    let db = format!("sqlite://{}", dir.path().join("bot.db").display());
    let mut vars = vec![
        ("SLACK_BOT_TOKEN", BOT_TOKEN.to_string()),
        ("SLACK_APP_TOKEN", APP_TOKEN.to_string()),
        ("PREPBOT_SLACK_API_BASE", fake.api_base()),
        ("PREPBOT_DATABASE_URL", db.clone()),
        ("PREPBOT_CLAIM_LEASE_SECS", "3".to_string()),
        (
            "PREPBOT_QUESTIONS",
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../../questions")
                .display()
                .to_string(),
        ),
    ];
    if connections != 1 {
        vars.push(("PREPBOT_SLACK_CONNECTIONS", connections.to_string()));
    }
    let config =
        SlackConfig::from_vars(|n| vars.iter().find(|(k, _)| *k == n).map(|(_, v)| v.clone()))
            .unwrap();
    let opened = fake.connections_opened();
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(prepbot_slack::run(
        config,
        Arc::new(prepbot_core::clock::SystemClock),
        async move {
            let _ = stopped.await;
        },
    ));
    // This bot's own session (after a restart, not the one before it).
    let stagger = Duration::from_secs(5) * (connections as u32 - 1);
    fake.wait_until("a Socket Mode session", WAIT + stagger, |f| {
        f.connections_opened() > opened && f.open_sockets() == connections
    })
    .await;
    Bot {
        fake,
        stop: Some(stop),
        task,
        db,
        _dir: dir,
    }
}

impl Bot {
    /// Sends `/prep text` and waits for its acknowledgement.
    pub async fn command(&self, user: &str, text: &str) -> (String, Value, Instant) {
        let sent = Instant::now();
        let id = self.fake.command(CHANNEL, user, text);
        let want = id.clone();
        self.fake
            .wait_until("the command's acknowledgement", WAIT, move |f| {
                f.ack_of(&want).is_some()
            })
            .await;
        (id.clone(), self.fake.ack_of(&id).unwrap(), sent)
    }

    /// An admin command: acknowledged, then answered through response_url; checks the
    /// acknowledgement came before the first Web API call made for it.
    pub async fn admin(&self, user: &str, text: &str) -> String {
        let (id, sent, answer) = self.deferred(user, text).await;
        let acked = self.fake.ack_time(&id).unwrap();
        let first_call = self
            .fake
            .calls_since(sent)
            .into_iter()
            .find(|c| c.method != "response_url")
            .expect("a Web API call for the command");
        assert!(
            acked <= first_call.at,
            "{text}: acknowledged after the bot's first Web API call ({})",
            first_call.method
        );
        answer
    }

    /// A command that changes things but needs no admin (`forget me`): acknowledged
    /// ephemerally, then answered through response_url.
    pub async fn changes(&self, user: &str, text: &str) -> String {
        let (id, _, answer) = self.deferred(user, text).await;
        let ack = self.fake.ack_of(&id).unwrap();
        assert!(
            ack["payload"]["text"]
                .as_str()
                .is_some_and(|t| t.starts_with("Working on `")),
            "{text}: {ack}"
        );
        answer
    }

    /// Sends `/prep text`, checks its acknowledgement is ephemeral and returns its
    /// envelope id, when it was sent and the answer that came through response_url.
    async fn deferred(&self, user: &str, text: &str) -> (String, Instant, String) {
        let before = self.fake.calls_of("response_url").len();
        let (id, ack, sent) = self.command(user, text).await;
        assert_eq!(ack["payload"]["response_type"], "ephemeral", "{ack}");
        self.fake
            .wait_until("the command's answer", WAIT, |f| {
                f.calls_of("response_url").len() > before
            })
            .await;
        let answer = self.fake.calls_of("response_url")[before].clone();
        (
            id,
            sent,
            answer["text"].as_str().unwrap_or_default().to_string(),
        )
    }

    /// The bot's database, as `PREPBOT_DATABASE_URL` gave it.
    pub fn db_url(&self) -> &str {
        &self.db
    }

    /// Stops the bot; the database stays until the returned directory is dropped.
    pub async fn stop(mut self) -> (FakeSlack, String, tempfile::TempDir) {
        let _ = self.stop.take().unwrap().send(());
        let result = tokio::time::timeout(WAIT, self.task).await.expect("stops");
        result.unwrap().expect("a clean stop");
        (self.fake, self.db, self._dir)
    }
}

pub fn reply_event(fake: &FakeSlack, thread: &str, user: &str, text: &str) -> Value {
    let m = fake.add_message(CHANNEL, Some(thread), user, text);
    json!({"type": "message", "channel": CHANNEL, "user": user, "text": text,
        "ts": m["ts"], "thread_ts": thread, "channel_type": "channel"})
}
