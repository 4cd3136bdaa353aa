//! The Slack load harness: command acknowledgement latency (envelope written by the
//! fake → acknowledgement read by the fake) for prepbot's `/prep leaderboard` next
//! to a bare slack-morphism bot that answers every command with a fixed text, both
//! against the fake Slack on 127.0.0.1 in this process; then answer events per
//! second through Socket Mode into committed storage; then this process's RSS.
//! The fake runs in the same process, so its cost is in every figure, the bare
//! bot's included.

use std::sync::Arc;
use std::time::{Duration, Instant};

use prepbot_core::store::Store;
use prepbot_fake_slack::{ADMIN, APP_TOKEN, BOT_TOKEN, CHANNEL, CREATOR, FakeSlack};
use prepbot_slack::SlackConfig;
use prepbot_slack::api::{ApiBase, Secret, SlackApi};
use serde_json::json;
use slack_morphism::prelude::*;

const COMMANDS: usize = 500;
const ANSWERS: usize = 20_000;
const WAIT: Duration = Duration::from_secs(60);

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

async fn ack_latencies(fake: &FakeSlack, text: &str) -> Vec<Duration> {
    let mut out = Vec::with_capacity(COMMANDS);
    for i in 0..COMMANDS {
        // A different member each time: each member's command budget (5 in 10 s)
        // would otherwise answer most of them with a refusal.
        let member = format!("UCMD{i:05}");
        let sent = Instant::now();
        let id = fake.command(CHANNEL, &member, text);
        let want = id.clone();
        fake.wait_until("an ack", WAIT, move |f| f.ack_of(&want).is_some())
            .await;
        out.push(fake.ack_time(&id).expect("acked") - sent);
    }
    out.sort();
    out
}

async fn bare_command(
    _: SlackCommandEvent,
    _: Arc<SlackClient<prepbot_slack::api::Connector>>,
    _: SlackClientEventsUserState,
) -> UserCallbackResult<SlackCommandEventResponse> {
    Ok(SlackCommandEventResponse::new(
        SlackMessageContent::new().with_text("pong".into()),
    ))
}

fn rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

fn report(name: &str, l: &[Duration]) {
    println!(
        "{name:<28} p50 {:>8.3} ms  p99 {:>8.3} ms  (n={})",
        percentile(l, 0.5).as_secs_f64() * 1000.0,
        percentile(l, 0.99).as_secs_f64() * 1000.0,
        l.len()
    );
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    rt.block_on(async {
        // The bare bot.
        let bare_fake = FakeSlack::start().await;
        let api = SlackApi::new(
            &Secret::new(BOT_TOKEN),
            ApiBase::parse(&bare_fake.api_base()).expect("base"),
        );
        let listener = SlackClientSocketModeListener::new(
            &SlackClientSocketModeConfig::new().with_max_connections_count(1),
            Arc::new(SlackClientEventsListenerEnvironment::new(api.client())),
            SlackSocketModeListenerCallbacks::new().with_command_events(bare_command),
        );
        listener
            .listen_for(&SlackApiToken::new(SlackApiTokenValue(APP_TOKEN.into())))
            .await
            .expect("listen");
        listener.start().await;
        bare_fake
            .wait_until("the bare bot's session", WAIT, |f| f.open_sockets() == 1)
            .await;
        let bare = ack_latencies(&bare_fake, "ping").await;
        listener.shutdown().await;

        // prepbot.
        let fake = FakeSlack::start().await;
        let dir = tempfile::tempdir().expect("a temp dir");
        let db = format!("sqlite://{}", dir.path().join("bench.db").display());
        let vars = [
            ("SLACK_BOT_TOKEN", BOT_TOKEN.to_string()),
            ("SLACK_APP_TOKEN", APP_TOKEN.to_string()),
            ("PREPBOT_SLACK_API_BASE", fake.api_base()),
            ("PREPBOT_DATABASE_URL", db.clone()),
            (
                "PREPBOT_QUESTIONS",
                concat!(env!("CARGO_MANIFEST_DIR"), "/../../questions").to_string(),
            ),
        ];
        let config = SlackConfig::from_vars(|n| {
            vars.iter().find(|(k, _)| *k == n).map(|(_, v)| v.clone())
        })
        .expect("config");
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let bot = tokio::spawn(prepbot_slack::run(
            config,
            Arc::new(prepbot_core::clock::SystemClock),
            async move {
                let _ = stopped.await;
            },
        ));
        fake.wait_until("prepbot's session", WAIT, |f| f.open_sockets() == 1)
            .await;
        let rss_start = rss_mb();
        for (who, text) in [(CREATOR, "setup 09:00 UTC"), (ADMIN, "drop")] {
            let before = fake.calls_of("response_url").len();
            fake.command(CHANNEL, who, text);
            fake.wait_until("the answer", WAIT, |f| {
                f.calls_of("response_url").len() > before
            })
            .await;
        }
        let thread = fake.top_level_posts(CHANNEL)[0]["ts"]
            .as_str()
            .expect("the drop")
            .to_string();
        let prep = ack_latencies(&fake, "leaderboard").await;

        // Answer events back to back into the drop's thread.
        let started = Instant::now();
        for i in 0..ANSWERS {
            let ts = fake.next_ts();
            fake.message_event(json!({"type": "message", "channel": CHANNEL,
                "user": format!("U{:07}", i % 500), "text": format!("answer {i}"),
                "ts": ts, "thread_ts": thread}));
        }
        let store = Store::open_url(&db).await.expect("the bench database");
        loop {
            let mut conn = store.read().await.expect("a read");
            let n = prepbot_core::store::answers::for_drop(&mut conn, 1)
                .await
                .expect("answers")
                .len();
            drop(conn);
            if n >= ANSWERS {
                break;
            }
            assert!(started.elapsed() < Duration::from_secs(300), "stored {n}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let elapsed = started.elapsed();
        let rss_after = rss_mb();
        let _ = stop.send(());
        let _ = bot.await;

        println!("Slack load harness (in-process, fake Slack on 127.0.0.1)");
        report("bare slack-morphism bot", &bare);
        report("prepbot /prep leaderboard", &prep);
        println!(
            "p99 ratio                    {:.2} (budget ≤ 2)",
            percentile(&prep, 0.99).as_secs_f64() / percentile(&bare, 0.99).as_secs_f64()
        );
        println!(
            "ingestion                    {ANSWERS} answers in {:.2} s: {:.0}/s (budget ≥ 5,000/s)",
            elapsed.as_secs_f64(),
            ANSWERS as f64 / elapsed.as_secs_f64()
        );
        println!(
            "RSS (whole process, fake included): {rss_start:.1} MB after start, {rss_after:.1} MB after ingestion"
        );
    });
}
