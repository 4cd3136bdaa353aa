//! Each adapter's health as `prepbot status` reads it from the database.

use std::sync::Arc;

use prepbot_core::chat::Platform;
use prepbot_core::clock::ManualClock;
use prepbot_core::health::{AdapterState, HealthRecorder};
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

    let health = HealthRecorder::new(store.clone(), Platform::Discord, clock.clone());
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
