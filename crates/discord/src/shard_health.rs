//! The Discord adapter's health for `prepbot status` after start-up: serenity
//! reconnects a shard by itself (a resume, or a new session after an invalid one),
//! and while it does, the adapter is not connected.
//!
//! serenity reports stage changes to its event handlers only for changes it sees
//! while reading one gateway event; a shard restarted for a new session goes from
//! connected to a fresh runner and back to connected with a single reported change
//! (identifying to connected). Its shard manager's runner table does show the gap
//! (the runner is gone, then `Disconnected` until the new session is ready), so
//! [`watch`] reads that table every second.
//!
//! One place decides what is written, so a shard going down and a catch-up running
//! at the same time cannot leave "connected" while a shard is down or while answers
//! missed during the gap are still being read back.

use std::collections::BTreeMap;
use std::sync::Arc;

use prepbot_core::health::{AdapterState, HealthRecorder};
use serenity::all::ConnectionStage;
use tokio::sync::Mutex;
use tracing::{info, warn};

/// Which shards are down and whether a catch-up is running, with the recorder.
pub struct ShardHealth {
    health: HealthRecorder,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// Shards away from their connected stage, with the stage they are in.
    down: BTreeMap<u32, ConnectionStage>,
    catch_ups: usize,
    /// False until the start-up catch-up finished: until then the start-up path
    /// records connecting and catching up itself.
    live: bool,
}

impl ShardHealth {
    pub fn new(health: HealthRecorder) -> Arc<Self> {
        Arc::new(ShardHealth {
            health,
            state: Mutex::new(State::default()),
        })
    }

    /// A catch-up on open threads starts (at start-up, or after a new session).
    pub async fn catching_up(&self) {
        let mut state = self.state.lock().await;
        state.catch_ups += 1;
        self.health.set(AdapterState::CatchingUp, None).await;
    }

    /// A catch-up finished: connected, unless a shard is still down or another
    /// catch-up still runs.
    pub async fn caught_up(&self) {
        let mut state = self.state.lock().await;
        state.catch_ups = state.catch_ups.saturating_sub(1);
        state.live = true;
        self.record(&state).await;
    }

    /// A shard changed stage.
    pub async fn stage(&self, shard: u32, stage: ConnectionStage) {
        let mut state = self.state.lock().await;
        if stage == ConnectionStage::Connected {
            if state.down.remove(&shard).is_none() {
                return;
            }
            info!(shard, "Discord shard connected again");
        } else {
            if state.down.insert(shard, stage) == Some(stage) {
                return;
            }
            warn!(shard, stage = %stage, "Discord shard not connected; serenity is reconnecting it");
        }
        if state.live {
            self.record(&state).await;
        }
    }

    async fn record(&self, state: &State) {
        if !state.down.is_empty() {
            let shards: Vec<String> = state
                .down
                .iter()
                .map(|(shard, stage)| format!("shard {shard} {}", words(*stage)))
                .collect();
            let detail = format!("reconnecting: {}", shards.join(", "));
            self.health
                .set(AdapterState::Connecting, Some(&detail))
                .await;
        } else if state.catch_ups > 0 {
            self.health.set(AdapterState::CatchingUp, None).await;
        } else {
            self.health.set(AdapterState::Connected, None).await;
        }
    }
}

fn words(stage: ConnectionStage) -> &'static str {
    match stage {
        ConnectionStage::Connecting => "connecting",
        ConnectionStage::Disconnected => "disconnected",
        ConnectionStage::Handshake => "waiting for Discord's hello",
        ConnectionStage::Identifying => "identifying (a new session)",
        ConnectionStage::Resuming => "resuming its session",
        _ => "reconnecting",
    }
}

/// How often [`watch`] looks at the shard manager's runners.
const WATCH_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

/// Reads each served shard's stage from serenity's shard manager every second
/// until `stop`: a shard without a runner (being restarted) or in any stage but
/// connected is down.
pub async fn watch(
    manager: Arc<serenity::all::ShardManager>,
    shards: std::ops::RangeInclusive<u32>,
    health: Arc<ShardHealth>,
    stop: tokio_util::sync::CancellationToken,
) {
    let mut tick = tokio::time::interval(WATCH_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            () = stop.cancelled() => return,
        }
        let stages: Vec<(u32, ConnectionStage)> = {
            let runners = manager.runners.lock().await;
            shards
                .clone()
                .map(|shard| {
                    let stage = runners
                        .get(&serenity::all::ShardId(shard))
                        .map_or(ConnectionStage::Disconnected, |info| info.stage);
                    (shard, stage)
                })
                .collect()
        };
        for (shard, stage) in stages {
            health.stage(shard, stage).await;
        }
    }
}
