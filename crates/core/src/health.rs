//! Each adapter's health, as `prepbot status` shows it: the running bot records its
//! adapter's state in the database ([`HealthRecorder`]) and beats a heartbeat, and
//! `status` (a separate process) reads it back ([`describe`]). A state other than
//! stopped whose heartbeat is old means the process ended without saying.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use tracing::warn;

use crate::chat::Platform;
use crate::clock::Clock;
use crate::store::{Store, adapter_health, processes};

/// How often the running bot says it is still there.
pub const HEARTBEAT: std::time::Duration = std::time::Duration::from_secs(30);

/// A heartbeat older than this (four missed beats) means the process is gone.
pub const STALE_AFTER: Duration = Duration::seconds(120);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdapterState {
    /// Started, not yet connected to the platform.
    Connecting,
    /// Connected, reading what it missed before the scheduler runs.
    CatchingUp,
    Connected,
    Stopped,
}

impl AdapterState {
    pub fn as_str(self) -> &'static str {
        match self {
            AdapterState::Connecting => "connecting",
            AdapterState::CatchingUp => "catching_up",
            AdapterState::Connected => "connected",
            AdapterState::Stopped => "stopped",
        }
    }

    fn words(state: &str) -> &str {
        match state {
            "catching_up" => "catching up",
            other => other,
        }
    }
}

/// Records one adapter's state for `prepbot status`. Never fails the bot: a write
/// that fails is logged (the bot's work does not depend on it).
#[derive(Clone)]
pub struct HealthRecorder {
    store: Store,
    /// This process's id ([`crate::process::ProcessIdentity`]): the row is the
    /// platform's, shared by every process that serves it.
    process: String,
    platform: Platform,
    clock: Arc<dyn Clock>,
}

impl HealthRecorder {
    pub fn new(store: Store, process: &str, platform: Platform, clock: Arc<dyn Clock>) -> Self {
        HealthRecorder {
            store,
            process: process.to_string(),
            platform,
            clock,
        }
    }

    pub async fn set(&self, state: AdapterState, detail: Option<&str>) {
        let now = self.clock.now();
        let written = async {
            let mut tx = self.store.write().await?;
            adapter_health::set(&mut tx, self.platform, state.as_str(), detail, now).await?;
            tx.commit().await.map_err(crate::store::StoreError::from)
        }
        .await;
        if let Err(e) = written {
            warn!(platform = %self.platform, state = state.as_str(), error = %e, "cannot record the adapter's health");
        }
    }

    /// Records that this process's adapter stopped, and why, unless another live
    /// process still serves the platform: there is one row per platform, and a
    /// process stopping beside others (one of several shard ranges) must not make
    /// `status` say the platform stopped. In one write transaction this process first
    /// stops counting as serving it, so of several stopping at once the last records
    /// it stopped.
    pub async fn stopped(&self, why: &str) {
        let now = self.clock.now();
        let written = async {
            let mut tx = self.store.write().await?;
            processes::stop_serving(&mut tx, &self.process, self.platform).await?;
            if !processes::another_serves(&mut tx, &self.process, self.platform, now).await? {
                adapter_health::set(
                    &mut tx,
                    self.platform,
                    AdapterState::Stopped.as_str(),
                    Some(why),
                    now,
                )
                .await?;
            }
            tx.commit().await.map_err(crate::store::StoreError::from)
        }
        .await;
        if let Err(e) = written {
            warn!(platform = %self.platform, error = %e, "cannot record that the adapter stopped");
        }
    }

    /// One heartbeat.
    pub async fn beat(&self) {
        let now = self.clock.now();
        let written = async {
            let mut tx = self.store.write().await?;
            adapter_health::beat(&mut tx, self.platform, now).await?;
            tx.commit().await.map_err(crate::store::StoreError::from)
        }
        .await;
        if let Err(e) = written {
            warn!(platform = %self.platform, error = %e, "cannot record the adapter's heartbeat");
        }
    }

    /// Beats every [`HEARTBEAT`] until `stop` is cancelled.
    pub async fn beat_until(&self, stop: tokio_util::sync::CancellationToken) {
        let mut every = tokio::time::interval(HEARTBEAT);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = every.tick() => self.beat().await,
                () = stop.cancelled() => return,
            }
        }
    }
}

/// Runs an adapter's `serve` with its health recorded around it, the same way for
/// every platform: connecting at the start, a heartbeat while it runs, and stopped
/// at the end with why (the error's first line: the words the operator saw on
/// stderr, or "shut down"). `serve` records the stages in between itself.
pub async fn recorded<T, E: std::fmt::Display>(
    health: &HealthRecorder,
    serve: impl std::future::Future<Output = Result<T, E>>,
) -> Result<T, E> {
    health.set(AdapterState::Connecting, None).await;
    let beating = tokio_util::sync::CancellationToken::new();
    let heartbeat = tokio::spawn({
        let (health, beating) = (health.clone(), beating.clone());
        async move { health.beat_until(beating).await }
    });
    let outcome = serve.await;
    beating.cancel();
    let _ = heartbeat.await;
    let why = match &outcome {
        Ok(_) => "shut down".to_string(),
        Err(e) => e.to_string().lines().next().unwrap_or_default().to_string(),
    };
    health.stopped(&why).await;
    outcome
}

/// One adapter's health in a line of `prepbot status`.
pub fn describe(h: &adapter_health::Stored, now: DateTime<Utc>) -> String {
    let ago = |t: DateTime<Utc>| {
        let s = (now - t).num_seconds().max(0);
        match s {
            0..120 => format!("{s} s ago"),
            120..7200 => format!("{} min ago", s / 60),
            _ => format!("{} h ago", s / 3600),
        }
    };
    let since = h.since.format("%Y-%m-%d %H:%M UTC");
    if h.state == AdapterState::Stopped.as_str() {
        return match &h.detail {
            Some(why) => format!("{}: stopped {since} ({}): {why}", h.platform, ago(h.since)),
            None => format!("{}: stopped {since} ({})", h.platform, ago(h.since)),
        };
    }
    if now - h.heard_at > STALE_AFTER {
        return format!(
            "{}: no heartbeat since {} ({}), last {}: the process ended without saying (killed, crashed, or the machine went down)",
            h.platform,
            h.heard_at.format("%Y-%m-%d %H:%M UTC"),
            ago(h.heard_at),
            AdapterState::words(&h.state)
        );
    }
    format!(
        "{}: {} since {since} (heartbeat {}){}",
        h.platform,
        AdapterState::words(&h.state),
        ago(h.heard_at),
        h.detail
            .as_deref()
            .map(|d| format!(": {d}"))
            .unwrap_or_default()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn row(state: &str, detail: Option<&str>, heard: &str) -> adapter_health::Stored {
        adapter_health::Stored {
            platform: Platform::Discord,
            state: state.into(),
            detail: detail.map(Into::into),
            since: at("2026-03-02T09:00:00Z"),
            heard_at: at(heard),
        }
    }

    #[test]
    fn each_state_reads_in_words_and_a_silent_process_is_called_out() {
        let now = at("2026-03-02T10:00:00Z");
        assert_eq!(
            describe(&row("connected", None, "2026-03-02T09:59:40Z"), now),
            "discord: connected since 2026-03-02 09:00 UTC (heartbeat 20 s ago)"
        );
        assert_eq!(
            describe(&row("catching_up", None, "2026-03-02T09:59:40Z"), now),
            "discord: catching up since 2026-03-02 09:00 UTC (heartbeat 20 s ago)"
        );
        assert_eq!(
            describe(
                &row(
                    "stopped",
                    Some("shut down (signal)"),
                    "2026-03-02T09:00:00Z"
                ),
                now
            ),
            "discord: stopped 2026-03-02 09:00 UTC (60 min ago): shut down (signal)"
        );
        assert!(
            describe(&row("connected", None, "2026-03-02T09:50:00Z"), now).starts_with(
                "discord: no heartbeat since 2026-03-02 09:50 UTC (10 min ago), last connected: the process ended without saying"
            )
        );
    }
}
