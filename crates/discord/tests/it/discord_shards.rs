//! `PREPBOT_SHARDS`: a process identifies on the gateway as the shards it was given,
//! and Discord (the fake, as Discord does) sends it only the servers of those shards
//! and their events.

use std::sync::Arc;

use prepbot_core::chat::{ChannelAddress, Platform};
use prepbot_core::clock::ManualClock;
use prepbot_core::store::Store;
use prepbot_discord::Shards;
use prepbot_fake_discord::fixtures::{Person, in_guild, opt, slash};
use prepbot_fake_discord::{FakeDiscord, GUILD_A, GUILD_B};
use serde_json::json;
use tokio::sync::oneshot;

use crate::harness::{WAIT, config, spawn_bot, utc};

/// Runs the adapter as `shards` until it identified; returns what it identified as.
async fn identify_as(shards: Shards) -> (Vec<[u64; 2]>, bool) {
    let clock = Arc::new(ManualClock::new(utc("2026-03-02T08:00:00Z")));
    let fake = FakeDiscord::start(clock.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let db_url = format!("sqlite://{}", dir.path().join("bot.db").display());
    let mut cfg = config(&fake, &db_url);
    cfg.shards = shards;
    let (stop, stop_rx) = oneshot::channel::<()>();
    let task = spawn_bot(cfg, clock, async move {
        let _ = stop_rx.await;
    });
    fake.wait_until("the bot identifies", WAIT, || fake.identifies() > 0)
        .await;
    let identified = fake.identify_shards();
    let _ = stop.send(());
    let result = task.stopped(WAIT).await;
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

/// Two processes on shards 0 and 1 of 2, each with a database of its own (so what
/// each one stored tells which events reached it), against one fake Discord: each
/// session gets the servers of its shard, and a server's `/setup` reaches the
/// process of its shard only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_servers_events_reach_the_process_of_its_shard_only() {
    let clock = Arc::new(ManualClock::new(utc("2026-03-02T08:00:00Z")));
    let fake = FakeDiscord::start(clock.clone()).await;
    // A server on each shard: bit 22 of the first is clear.
    let first = 860_000_000_000_000_000 & !((1u64 << 23) - 1);
    let guilds = [first, first + (1 << 22)];
    let channels = [861_000_000_000_000_001, 861_000_000_000_000_002];
    for (guild, channel) in guilds.iter().zip(channels) {
        fake.add_guild(*guild, &[(channel, "study")]);
    }
    let mut running = Vec::new();
    for shard in 0..2u32 {
        let dir = tempfile::tempdir().unwrap();
        let db_url = format!("sqlite://{}", dir.path().join("bot.db").display());
        let mut cfg = config(&fake, &db_url);
        cfg.shards = Shards {
            first: shard,
            last: shard,
            total: 2,
        };
        let (stop, stop_rx) = oneshot::channel::<()>();
        let task = spawn_bot(cfg, clock.clone(), async move {
            let _ = stop_rx.await;
        });
        running.push((dir, db_url, stop, task));
    }
    fake.wait_until("a session on each shard", WAIT, || {
        let mut sessions = fake.sessions();
        sessions.sort();
        sessions == [Some([0, 2]), Some([1, 2])]
    })
    .await;
    fake.wait_count("both processes' commands", 2, WAIT, |r| {
        r.method == "PUT" && r.path.ends_with("/commands")
    })
    .await;

    let admin = Person::admin(1, "Ada");
    for (shard, (guild, channel)) in guilds.iter().zip(channels).enumerate() {
        let token = format!("tok-shard-{shard}");
        let setup = in_guild(
            slash(
                fake.snowflake(),
                &token,
                "setup",
                vec![opt("time", json!("09:00")), opt("timezone", json!("UTC"))],
                &admin,
                channel,
            ),
            *guild,
        );
        assert_eq!(
            fake.dispatch_on_shard("INTERACTION_CREATE", setup),
            Some([shard as u64, 2])
        );
        fake.wait_for("the setup's reply", WAIT, |r| r.path.ends_with(&token))
            .await;
    }
    for (shard, (_, db_url, _, _)) in running.iter().enumerate() {
        let store = Store::open_url(db_url).await.unwrap();
        let mut conn = store.read().await.unwrap();
        for (other, channel) in channels.iter().enumerate() {
            let address = ChannelAddress::new(
                Platform::Discord,
                guilds[other].to_string(),
                channel.to_string(),
            );
            let found = prepbot_core::store::channels::find(&mut conn, &address)
                .await
                .unwrap();
            assert_eq!(
                found.is_some(),
                other == shard,
                "process {shard} and the channel of server {other}"
            );
        }
        drop(conn);
        store.close().await;
    }
    for (_dir, _, stop, task) in running {
        let _ = stop.send(());
        let result = task.stopped(WAIT).await;
        assert!(result.is_ok(), "{result:?}");
    }
}
