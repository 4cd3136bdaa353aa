//! Runs whatever is due: reveals first, then retries, then new drops, each claimed in
//! the database before it is posted so a restart or a second process posts it once.
//!
//! The platform is behind [`Outbound`]; the clock is the caller's `now`. [`run_due`]
//! is one pass at an instant (the demo drives it with a fast-forwarded clock), and
//! [`drop_now`] is the on-demand drop behind `/drop`.

use std::future::Future;

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use futures_util::stream::{self, StreamExt};
use tokio::sync::Notify;

use crate::clock::Clock;
use tracing::{Instrument, info, info_span, warn};

use crate::engine::DropState;

use crate::chat::ChannelAddress;
use crate::engine::reveal::DropPost;
use crate::ports::{Outbound, OutboundError, RevealAttempt};
use crate::practice::{ClaimedDrop, Leased, Practice, PracticeError, Work};
use crate::store::drops::DropRecord;

/// The longest one platform operation (a post, a thread, a whole reveal) may take:
/// three quarters of the claim lease ([`Practice::lease`]), so an operation still
/// running when its lease ran out is never taken over and done twice. Past this, it
/// counts as a retryable failure (a post Discord did accept is deduplicated on retry).
pub fn outbound_budget(practice: &Practice) -> std::time::Duration {
    (practice.lease() * 3 / 4)
        .to_std()
        .unwrap_or(std::time::Duration::from_secs(1))
        .max(std::time::Duration::from_secs(1))
}

async fn within_budget<T>(
    practice: &Practice,
    what: &str,
    op: impl Future<Output = Result<T, OutboundError>>,
) -> Result<T, OutboundError> {
    let budget = outbound_budget(practice);
    tokio::time::timeout(budget, op).await.unwrap_or_else(|_| {
        Err(OutboundError::unknown(format!(
            "{what} took longer than {} s",
            budget.as_secs_f32()
        )))
    })
}

/// What one pass did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct PassReport {
    pub posted: Vec<DropRecord>,
    pub revealed: Vec<DropRecord>,
    pub failures: usize,
}

/// How many due items one pass works on at once. Posting is network-bound, so a
/// minute where a thousand channels are due must not go one by one. It is about
/// twice the Discord REST client's connections (14): an item spends part of its
/// time in the database (claiming the drop, recording the post), and meanwhile
/// another item has a request ready, so the connections stay busy and a fan-out
/// runs at the rate limit. The REST client bounds the requests in flight on its
/// own side.
pub const PASS_CONCURRENCY: usize = 32;

enum Outcome {
    Posted(DropRecord),
    Revealed(DropRecord),
    Failed,
    Nothing,
    /// Another process was taking the same lease at that instant ([`Leased::Busy`]).
    Busy,
}

/// How soon a pass that skipped a drop another process was leasing at that instant
/// looks again: by then the row names the lease's holder, and the agenda waits for
/// it (or, if the other process let it go, the work is done then).
const BUSY_RETRY: Duration = Duration::seconds(1);

async fn run_item(
    practice: &Practice,
    outbound: &impl Outbound,
    work: Work,
    now: DateTime<Utc>,
) -> Outcome {
    let result: Result<Outcome, PracticeError> = match work {
        Work::OpenThread {
            drop_id,
            channel_id,
            ..
        } => {
            async {
                if let Some(job) = practice.take_thread(drop_id, now).await? {
                    let message_id = job.drop.message_id.clone().unwrap_or_default();
                    open_thread(
                        practice,
                        outbound,
                        drop_id,
                        &job.channel,
                        &message_id,
                        &job.post,
                    )
                    .await?;
                }
                Ok(Outcome::Nothing)
            }
            .instrument(info_span!(
                "open_thread",
                drop = drop_id,
                channel = channel_id
            ))
            .await
        }
        Work::Reveal {
            drop_id,
            channel_id,
            ..
        } => reveal_leased(practice, outbound, drop_id, now)
            .instrument(info_span!("reveal", drop = drop_id, channel = channel_id))
            .await
            .map(|done| match done {
                Leased::Taken(Some(d)) => Outcome::Revealed(d),
                Leased::Taken(None) | Leased::NotNow => Outcome::Failed,
                Leased::Busy => Outcome::Busy,
            }),
        Work::RetryPost {
            drop_id,
            channel_id,
            ..
        } => {
            async {
                Ok(match practice.claim_retry(drop_id, now).await? {
                    Leased::Taken(claimed) => {
                        match post_claimed(practice, outbound, claimed, now).await? {
                            Ok(d) => Outcome::Posted(d),
                            Err(_) => Outcome::Failed,
                        }
                    }
                    Leased::NotNow => Outcome::Nothing,
                    Leased::Busy => Outcome::Busy,
                })
            }
            .instrument(info_span!(
                "retry_post",
                drop = drop_id,
                channel = channel_id
            ))
            .await
        }
        Work::Drop { channel_id, .. } => {
            async {
                Ok(
                    match practice.claim_scheduled_drop(channel_id, now).await? {
                        Some(claimed) => {
                            match post_claimed(practice, outbound, claimed, now).await? {
                                Ok(d) => Outcome::Posted(d),
                                Err(_) => Outcome::Failed,
                            }
                        }
                        None => Outcome::Nothing,
                    },
                )
            }
            .instrument(info_span!("drop", channel = channel_id))
            .await
        }
    };
    result.unwrap_or_else(|e| {
        warn!(error = %e, work = ?work, "scheduled work failed; continuing with the rest");
        Outcome::Failed
    })
}

/// Runs everything due at `now`: first the threads a dead process left unopened,
/// then every due reveal, then retries and new drops (a drop's thread is there
/// before its reveal, and a channel's reveal always comes before its next drop),
/// each phase working on up
/// to [`PASS_CONCURRENCY`] channels at once. One item's failure is logged and
/// counted, and the pass goes on with the others. Returns the instant the next item
/// falls due.
///
/// Each item runs at `now` plus the time the pass has taken so far (tokio's clock),
/// not at `now`: a pass over thousands of channels at the rate limit takes minutes,
/// longer than a claim's lease, and a claim taken at the pass's first instant would
/// have a lease that ran out before it was taken; another process's pass would then
/// take the drop over while this one is posting it.
pub async fn run_due(
    practice: &Practice,
    outbound: &(impl Outbound + Sync),
    now: DateTime<Utc>,
) -> Result<(PassReport, Option<DateTime<Utc>>), PracticeError> {
    let started = tokio::time::Instant::now();
    let item_now = move || now + Duration::from_std(started.elapsed()).unwrap_or_default();
    // Items of a platform that is not ready (its adapter is not configured, not
    // connected, or still catching up) stay as they are: neither claimed nor failed
    // nor missed, and not waited for.
    let ready = |work: &Work| outbound.ready(work.platform());
    let due: Vec<Work> = practice
        .agenda()
        .await?
        .into_iter()
        .filter(|(at, work)| *at <= now && ready(work))
        .map(|(_, work)| work)
        .collect();
    let (threads, due): (Vec<Work>, Vec<Work>) = due
        .into_iter()
        .partition(|w| matches!(w, Work::OpenThread { .. }));
    let (reveals, posts): (Vec<Work>, Vec<Work>) = due
        .into_iter()
        .partition(|w| matches!(w, Work::Reveal { .. }));
    let mut report = PassReport::default();
    let mut busy = false;
    for phase in [threads, reveals, posts] {
        // Unordered, so one slow item (a channel whose bucket is waiting out a 429)
        // never keeps the next ones from starting; the report keeps the agenda's order.
        let mut outcomes: Vec<(usize, Outcome)> =
            stream::iter(phase.into_iter().enumerate())
                .map(|(i, work)| async move {
                    (i, run_item(practice, outbound, work, item_now()).await)
                })
                .buffer_unordered(PASS_CONCURRENCY)
                .collect()
                .await;
        outcomes.sort_by_key(|(i, _)| *i);
        for (_, outcome) in outcomes {
            match outcome {
                Outcome::Posted(d) => report.posted.push(d),
                Outcome::Revealed(d) => report.revealed.push(d),
                Outcome::Failed => report.failures += 1,
                Outcome::Nothing => {}
                Outcome::Busy => busy = true,
            }
        }
    }
    let next = practice
        .agenda()
        .await?
        .into_iter()
        .filter(|(at, work)| *at > now && ready(work))
        .map(|(at, _)| at)
        .next();
    let next = match (busy, next) {
        (true, next) => Some(next.map_or(now + BUSY_RETRY, |at| at.min(now + BUSY_RETRY))),
        (false, next) => next,
    };
    Ok((report, next))
}

/// Posts a claimed drop and records the outcome. The outer error is the store's; the
/// inner one says why the drop did not end up posted (already recorded for a retry
/// or as a failure).
async fn post_claimed(
    practice: &Practice,
    outbound: &impl Outbound,
    claimed: ClaimedDrop,
    now: DateTime<Utc>,
) -> Result<Result<DropRecord, String>, PracticeError> {
    let drop = &claimed.drop;
    let key = format!("d{}", drop.id);
    // A retry: the first attempt may have reached the platform after all. Within the
    // platform's own deduplication window the same key cannot post twice; past it,
    // or on a platform with none (Slack), look for the post before posting again.
    let stale = drop.attempts > 1
        && match outbound.dedup_window() {
            Some(window) => drop.claimed_at.is_none_or(|at| now - at >= window),
            None => true,
        };
    let found = if stale {
        match within_budget(
            practice,
            "looking for an earlier post",
            outbound.find_drop(&claimed.channel, &key),
        )
        .await
        {
            Ok(found) => found,
            Err(e) => {
                // Not knowing is not the same as not posted: try again later.
                let e = OutboundError::unknown(format!(
                    "could not check for an earlier post: {}",
                    e.message
                ));
                practice.post_failed(drop.id, &e, now).await?;
                return Ok(Err(e.message));
            }
        }
    } else {
        None
    };
    if let Some(found) = &found {
        info!(
            drop = drop.id,
            message = %found.message_id,
            "found the drop's earlier post; not posting again"
        );
    }
    let posted = match found {
        Some(found) => Ok(found),
        None => {
            within_budget(
                practice,
                "posting the drop",
                outbound.post_drop(&claimed.channel, &key, &claimed.post),
            )
            .await
        }
    };
    match posted {
        Ok(posted) => {
            // Record the drop with its future thread id before opening the thread.
            let recorded = practice
                .mark_posted(
                    drop.id,
                    &posted.message_id,
                    &posted.message_id,
                    posted.posted_at,
                )
                .await?;
            if recorded.state != DropState::Posted {
                return Ok(Err(recorded
                    .failure
                    .unwrap_or_else(|| "the drop was not recorded as posted".into())));
            }
            open_thread(
                practice,
                outbound,
                drop.id,
                &claimed.channel,
                &posted.message_id,
                &claimed.post,
            )
            .await?;
            Ok(Ok(practice.drop_by_id(drop.id).await?.unwrap_or(recorded)))
        }
        Err(e) => {
            practice.post_failed(drop.id, &e, now).await?;
            if e.is_conversation_gone() {
                practice
                    .channel_gone(drop.channel_id, &e.message, now)
                    .await?;
            }
            Ok(Err(e.message))
        }
    }
}

/// Opens a posted drop's thread and records it open. The drop was recorded as posted
/// with this process as its thread's opener first, so a process that dies before
/// this leaves the thread to whoever sees it dead ([`Work::OpenThread`]). Opening
/// again is harmless: a platform that already has the thread answers with it.
async fn open_thread(
    practice: &Practice,
    outbound: &impl Outbound,
    drop_id: i64,
    channel: &ChannelAddress,
    message_id: &str,
    post: &DropPost,
) -> Result<(), PracticeError> {
    let thread = outbound.open_thread(channel, message_id, post);
    match within_budget(practice, "opening the thread", thread).await {
        Ok(thread_id) => {
            let own_id = (thread_id != message_id).then_some(thread_id.as_str());
            practice.thread_opened(drop_id, own_id).await?;
        }
        // The question is out, so this is not retried (that would post it twice);
        // the reveal still goes out, and members can answer once an admin opens the
        // thread by hand.
        Err(e) => {
            warn!(drop = drop_id, error = %e, "the drop was posted but its thread could not be opened");
            practice.thread_opened(drop_id, None).await?;
        }
    }
    Ok(())
}

/// Reveals an open drop now. Returns the closed drop, revealed or (after a reveal
/// that cannot be posted) closed without it; `None` if another process holds its
/// lease or the post failed and will be retried.
pub async fn reveal_one(
    practice: &Practice,
    outbound: &impl Outbound,
    drop_id: i64,
    now: DateTime<Utc>,
) -> Result<Option<DropRecord>, PracticeError> {
    Ok(
        match reveal_leased(practice, outbound, drop_id, now).await? {
            Leased::Taken(closed) => closed,
            Leased::NotNow | Leased::Busy => None,
        },
    )
}

/// [`reveal_one`], saying whether the lease was taken: `Taken(None)` when the post
/// failed and will be retried.
async fn reveal_leased(
    practice: &Practice,
    outbound: &impl Outbound,
    drop_id: i64,
    now: DateTime<Utc>,
) -> Result<Leased<Option<DropRecord>>, PracticeError> {
    let job = match practice.claim_reveal(drop_id, now).await? {
        Leased::Taken(job) => job,
        Leased::NotNow => return Ok(Leased::NotNow),
        Leased::Busy => return Ok(Leased::Busy),
    };
    // A drop whose thread was never opened is revealed in reply to its message.
    let thread = job
        .drop
        .thread_id
        .clone()
        .or_else(|| job.drop.message_id.clone())
        .unwrap_or_else(|| job.channel.conversation.clone());
    let key = format!("r{drop_id}");
    // Taking the lease counts an attempt: more than one means an earlier attempt
    // (here or in a process that died) may have posted some parts.
    let attempt = if job.drop.attempts > 1 {
        RevealAttempt::Retry
    } else {
        RevealAttempt::First
    };
    let reveal = outbound.post_reveal(&job.channel, &thread, &key, &job.content, attempt);
    let closed_at = match within_budget(practice, "posting the reveal", reveal).await {
        Ok(at) => {
            practice.mark_revealed(drop_id, at).await?;
            at
        }
        Err(e) => {
            let closed = practice.reveal_failed(drop_id, &e, now).await?;
            if e.is_conversation_gone() {
                practice
                    .channel_gone(job.drop.channel_id, &e.message, now)
                    .await?;
            }
            if !closed {
                return Ok(Leased::Taken(None));
            }
            now
        }
    };
    let mut drop = job.drop;
    drop.revealed_at = Some(closed_at);
    drop.state = DropState::Revealed;
    Ok(Leased::Taken(Some(drop)))
}

/// Posts today's drop for a channel now (`/drop`): reveals an older open drop first,
/// refuses when today's drop is already out.
pub async fn drop_now(
    practice: &Practice,
    outbound: &impl Outbound,
    channel_id: i64,
    now: DateTime<Utc>,
) -> Result<DropRecord, PracticeError> {
    let channel = practice
        .channel(channel_id)
        .await?
        .ok_or(PracticeError::NotConfigured)?;
    if let Some(open) = practice.open_drop(channel_id).await? {
        if open.local_date >= channel.schedule.local_date(now) {
            return Err(PracticeError::AlreadyOut(Box::new(open)));
        }
        if reveal_one(practice, outbound, open.id, now)
            .await?
            .is_none()
        {
            return Err(PracticeError::Busy);
        }
    }
    let claimed = practice.claim_early_drop(channel_id, now).await?;
    post_claimed(practice, outbound, claimed, now)
        .await?
        .map_err(PracticeError::PostFailed)
}

/// Drops posted and reveals made in one pass before the loop gives freed memory back.
const TRIM_AFTER_ITEMS: usize = 256;

/// Runs the scheduler until `shutdown` resolves: a pass over whatever is due, then a
/// sleep until the next item or until `wake` is notified (a schedule changed).
/// Started once per process by the runner, never from a gateway event.
pub async fn run_loop(
    practice: Practice,
    outbound: impl Outbound + Sync,
    clock: Arc<dyn Clock>,
    wake: Arc<Notify>,
    shutdown: impl Future<Output = ()>,
) {
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let now = clock.now();
        let next = match run_due(&practice, &outbound, now).await {
            Ok((report, next)) => {
                if !report.posted.is_empty() || !report.revealed.is_empty() || report.failures > 0 {
                    info!(
                        posted = report.posted.len(),
                        revealed = report.revealed.len(),
                        failures = report.failures,
                        "scheduler pass"
                    );
                }
                // A big minute (hundreds of channels at once) is over: give back
                // what its requests took (see `crate::memory`).
                if report.posted.len() + report.revealed.len() >= TRIM_AFTER_ITEMS {
                    tokio::task::spawn_blocking(crate::memory::release_free_memory);
                }
                // Nothing pending at all (no channel set up): look again in an hour, or
                // as soon as a schedule changes.
                next.unwrap_or(now + Duration::hours(1))
            }
            Err(e) => {
                // The store is unavailable (locked, disk full, the database cannot be
                // reached): try again shortly. What fell due meanwhile is still due.
                let cause = std::error::Error::source(&e).map(ToString::to_string);
                warn!(error = %e, cause, "scheduler pass failed; retrying in 10 s");
                now + Duration::seconds(10)
            }
        };
        tokio::select! {
            _ = clock.sleep_until(next) => {}
            _ = wake.notified() => {}
            _ = &mut shutdown => break,
        }
    }
    info!("scheduler stopped");
}
