//! What the bot knows about one channel's schedule, as `/schedule show` (every
//! platform) and `prepbot status` (the operator) report it: one use case, read in
//! one connection, rendered by each caller in its own words.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use crate::engine::DropState;
use crate::engine::schedule::Occurrence;
use crate::store::channels::Channel;
use crate::store::drops::DropRecord;
use crate::store::{Result, Store, channels, drops};

#[derive(Debug, Clone)]
pub struct ScheduleView {
    pub channel: Channel,
    /// The next scheduled drop; `None` while paused.
    pub next_drop: Option<Occurrence>,
    /// The drop posted and not yet revealed.
    pub open: Option<DropRecord>,
    /// The drop with the latest local date, whatever its state.
    pub latest: Option<DropRecord>,
    /// How many drops of each state the channel has.
    pub counts: Vec<(DropState, u32)>,
}

/// A drop that failed, with why: what "last drop failed" reports.
pub fn is_failed(d: &DropRecord) -> bool {
    d.state == DropState::Failed && d.failure.is_some()
}

impl ScheduleView {
    /// The latest drop, if it failed (with why): "last drop failed".
    pub fn failed_drop(&self) -> Option<&DropRecord> {
        self.latest.as_ref().filter(|d| is_failed(d))
    }

    /// The latest drop, if anything went wrong with it: a failed post, or a reveal
    /// that could not be posted and was closed anyway.
    pub fn latest_problem(&self) -> Option<&DropRecord> {
        self.latest.as_ref().filter(|d| d.failure.is_some())
    }
}

/// The view of one channel at `now`.
pub async fn view(store: &Store, channel: Channel, now: DateTime<Utc>) -> Result<ScheduleView> {
    let mut conn = store.read().await?;
    let latest = drops::latest(&mut conn, channel.key).await?;
    let s = &channel.schedule;
    let next_drop = (!s.paused).then(|| {
        s.next_occurrence(
            latest.as_ref().map(|d| d.local_date),
            now.max(channel.active_from),
        )
    });
    let open = drops::open(&mut conn, channel.key).await?;
    let counts = drops::count_by_state(&mut conn, channel.key).await?;
    Ok(ScheduleView {
        channel,
        next_drop,
        open,
        latest,
        counts,
    })
}

/// The views of every configured channel, paused or not, in key order.
pub async fn all(store: &Store, now: DateTime<Utc>) -> Result<Vec<ScheduleView>> {
    let all = {
        let mut conn = store.read().await?;
        channels::list_all(&mut conn).await?
    };
    let mut views = Vec::with_capacity(all.len());
    for channel in all {
        views.push(view(store, channel, now).await?);
    }
    Ok(views)
}

/// An instant as a reader in `zone` reads it, with the zone's abbreviation
/// ("Mon 2026-03-02 09:00 CET"): `prepbot status` and the console.
pub fn local(t: DateTime<Utc>, zone: Tz) -> String {
    t.with_timezone(&zone)
        .format("%a %Y-%m-%d %H:%M %Z")
        .to_string()
}
