//! `PREPBOT_SHARDS`: a process identifies on the gateway as the shards it was given,
//! and Discord (the fake, as Discord does) sends it only the servers of those shards.

use std::sync::Arc;

use prepbot_core::clock::ManualClock;
use prepbot_discord::Shards;
use prepbot_fake_discord::{FakeDiscord, GUILD_A, GUILD_B};
use tokio::sync::oneshot;

use crate::harness::{WAIT, config, utc};

/// Runs the adapter as `shards` until it identified; returns what it identified as.
async fn identify_as(shards: Shards) -> (Vec<[u64; 2]>, bool) {
    let clock = Arc::new(ManualClock::new(utc("2026-03-02T08:00:00Z")));
    let fake = FakeDiscord::start(clock.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let db_url = format!("sqlite://{}", dir.path().join("bot.db").display());
    let mut cfg = config(&fake, &db_url);
    cfg.shards = shards;
    let (stop, stop_rx) = oneshot::channel::<()>();
    let task = tokio::spawn(prepbot_discord::run(cfg, clock, async move {
        let _ = stop_rx.await;
    }));
    fake.wait_until("the bot identifies", WAIT, || fake.identifies() > 0)
        .await;
    let identified = fake.identify_shards();
    let _ = stop.send(());
    let result = tokio::time::timeout(WAIT, task)
        .await
        .expect("the bot stops")
        .expect("the bot task");
    (identified, result.is_ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_process_identifies_as_the_shards_it_serves() {
    // Both test servers are on shard (id >> 22) % 2.
    let theirs = ((GUILD_A >> 22) % 2) as u32;
    assert_eq!(theirs, ((GUILD_B >> 22) % 2) as u32);
    let served = Shards {
        first: theirs,
        last: theirs,
        total: 2,
    };
    let (identified, clean) = identify_as(served).await;
    assert_eq!(identified, vec![[u64::from(theirs), 2]]);
    assert!(clean, "a clean stop");
    assert!(served.serves(GUILD_A) && served.serves(GUILD_B));

    // The other shard's process is given neither server, and still runs and stops.
    let other = Shards {
        first: 1 - theirs,
        last: 1 - theirs,
        total: 2,
    };
    assert!(!other.serves(GUILD_A));
    let (identified, clean) = identify_as(other).await;
    assert_eq!(identified, vec![[u64::from(1 - theirs), 2]]);
    assert!(clean, "a clean stop");

    // The default is one shard of one: every server.
    let (identified, _) = identify_as(Shards::ALL).await;
    assert_eq!(identified, vec![[0, 1]]);
}
