//! Each adapter's health as `prepbot status` reads it from the database.

use std::sync::Arc;

use prepbot_core::chat::Platform;
use prepbot_core::clock::ManualClock;
use prepbot_core::health::{AdapterState, HealthRecorder};
use prepbot_core::practice::Practice;
use prepbot_core::process::ProcessIdentity;
use prepbot_testkit::*;

#[tokio::test]
async fn status_shows_what_the_running_bot_recorded_and_calls_out_silence() {
    let (p, _dir) = practice_with(small_bank(3)).await;
    let store = p.store().clone();
    let clock = Arc::new(ManualClock::new(utc("2026-03-02T09:00:00Z")));
    let report = |at: &str| {
        let store = store.clone();
        let at = utc(at);
        async move { prepbot_core::status::report(&store, at).await.unwrap() }
    };
    // Nothing ran on this database yet: no adapters section.
    assert!(!report("2026-03-02T09:00:00Z").await.contains("adapters:"));

    let health = HealthRecorder::new(
        store.clone(),
        &p.process().id,
        Platform::Discord,
        clock.clone(),
    );
    health.set(AdapterState::CatchingUp, None).await;
    clock.set(utc("2026-03-02T09:00:10Z"));
    health.set(AdapterState::Connected, None).await;
    clock.set(utc("2026-03-02T09:30:00Z"));
    health.beat().await;
    // The same state again keeps its `since`.
    health.set(AdapterState::Connected, None).await;
    let text = report("2026-03-02T09:30:20Z").await;
    assert!(
        text.ends_with(
            "adapters:\n  discord: connected since 2026-03-02 09:00 UTC (heartbeat 20 s ago)"
        ),
        "{text}"
    );
    // No heartbeat for 10 minutes while "connected": the process is gone.
    let text = report("2026-03-02T09:40:00Z").await;
    assert!(
        text.contains(
            "discord: no heartbeat since 2026-03-02 09:30 UTC (10 min ago), last connected"
        ),
        "{text}"
    );
    clock.set(utc("2026-03-02T09:45:00Z"));
    health
        .set(
            AdapterState::Stopped,
            Some("Discord rejected the token (401)"),
        )
        .await;
    let text = report("2026-03-02T09:46:00Z").await;
    assert!(
        text.contains(
            "discord: stopped 2026-03-02 09:45 UTC (60 s ago): Discord rejected the token (401)"
        ),
        "{text}"
    );
}

/// Several processes serve one platform (Discord shard ranges): the one that stops
/// does not make `status` say the platform stopped while another still serves it;
/// the last one to stop does, even when the others' rows are still registered
/// (stopping at the same time). Slack's line goes by the processes with Slack
/// connections, not by those serving Discord.
#[tokio::test]
async fn a_process_that_stops_leaves_the_platform_to_one_still_serving_it() {
    let (first, second, _dir) = two_stores_on_one_database().await;
    let bank = Arc::new(small_bank(3));
    let clock = Arc::new(ManualClock::new(utc("2026-03-02T09:00:00Z")));
    let now = utc("2026-03-02T09:00:00Z");
    let a = Practice::new(first.clone(), bank.clone());
    let b = Practice::new(second.clone(), bank)
        .with_process(ProcessIdentity {
            id: "b-process-on-another-host".into(),
            host: "another-host".into(),
            pid: 7,
        })
        .with_slack_connections(1);
    a.register_process(Some("0-1/4"), now).await.unwrap();
    b.register_process(Some("2-3/4"), now).await.unwrap();
    let recorder = |p: &Practice, platform| {
        HealthRecorder::new(p.store().clone(), &p.process().id, platform, clock.clone())
    };
    let (a_discord, b_discord, b_slack) = (
        recorder(&a, Platform::Discord),
        recorder(&b, Platform::Discord),
        recorder(&b, Platform::Slack),
    );
    for h in [&a_discord, &b_discord, &b_slack] {
        h.set(AdapterState::Connected, None).await;
    }
    let report = |at: &str| {
        let store = first.clone();
        let at = utc(at);
        async move { prepbot_core::status::report(&store, at).await.unwrap() }
    };

    // B is stopped (SIGTERM): its row is still there while it finishes.
    // Within the processes' heartbeat lapse (30 s).
    clock.set(utc("2026-03-02T09:00:20Z"));
    b_discord.stopped("shut down").await;
    b_slack.stopped("shut down").await;
    let text = report("2026-03-02T09:00:25Z").await;
    assert!(
        text.contains("\n  discord: connected since 2026-03-02 09:00 UTC"),
        "A still serves Discord:\n{text}"
    );
    assert!(
        text.contains("\n  slack: stopped 2026-03-02 09:00 UTC (5 s ago): shut down"),
        "no one else serves Slack:\n{text}"
    );

    // A stops too, B's row still registered and fresh: the last one records it.
    a_discord.stopped("shut down").await;
    let text = report("2026-03-02T09:00:25Z").await;
    assert!(
        text.contains("\n  discord: stopped 2026-03-02 09:00 UTC (5 s ago): shut down"),
        "{text}"
    );
}
