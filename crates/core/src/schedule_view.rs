//! What the bot knows about one channel's schedule, as `/schedule show` (every
//! platform) and `prepbot status` (the operator) report it: one use case, read in
//! one statement, rendered by each caller in its own words.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use crate::chat::ChannelAddress;
use crate::engine::DropState;
use crate::engine::schedule::Occurrence;
use crate::store::channels::{self, Channel, ChannelDrops};
use crate::store::drops::DropRecord;
use crate::store::{Result, Store};

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

    fn new(channel: Channel, drops: ChannelDrops, now: DateTime<Utc>) -> ScheduleView {
        let s = &channel.schedule;
        let next_drop = (!s.paused).then(|| {
            s.next_occurrence(
                drops.latest.as_ref().map(|d| d.local_date),
                now.max(channel.active_from),
            )
        });
        ScheduleView {
            channel,
            next_drop,
            open: drops.open,
            latest: drops.latest,
            counts: drops.counts,
        }
    }
}

/// The view of the channel at `address` at `now`, if it has a schedule: one
/// statement ([`channels::find_with_drops`]).
pub async fn view_at(
    store: &Store,
    address: &ChannelAddress,
    now: DateTime<Utc>,
) -> Result<Option<ScheduleView>> {
    let mut conn = store.read().await?;
    Ok(channels::find_with_drops(&mut conn, address)
        .await?
        .map(|(channel, drops)| ScheduleView::new(channel, drops, now)))
}

/// The views of every configured channel, paused or not, in key order: one
/// statement ([`channels::list_all_with_drops`]).
pub async fn all(store: &Store, now: DateTime<Utc>) -> Result<Vec<ScheduleView>> {
    let mut conn = store.read().await?;
    Ok(channels::list_all_with_drops(&mut conn)
        .await?
        .into_iter()
        .map(|(channel, drops)| ScheduleView::new(channel, drops, now))
        .collect())
}

/// An instant as a reader in `zone` reads it, with the zone's abbreviation
/// ("Mon 2026-03-02 09:00 CET"): `prepbot status` and the console.
pub fn local(t: DateTime<Utc>, zone: Tz) -> String {
    t.with_timezone(&zone)
        .format("%a %Y-%m-%d %H:%M %Z")
        .to_string()
}
