//! Group commit for answers. Every answer event an adapter sees (a message posted,
//! edited or deleted in a thread) goes to one writer task over a bounded channel;
//! the writer takes whatever is queued, applies it in one write transaction with the
//! practice layer's own rules ([`Practice::apply`]), commits, and only then tells
//! each submitter what happened. So nothing is reported stored, and nothing is
//! acknowledged to a member, before it is committed; and one commit carries up to
//! [`MAX_BATCH`] answers instead of one.
//!
//! - [`AnswerWriter`]: the cheap, cloneable handle adapters submit through.
//! - [`WriterTask`]: the task itself; the runner stops it once nothing submits.
//!
//! Events go through one queue and are applied in the order they were queued, so
//! a create, an edit and a delete of one message meet the same rules whether they
//! share a batch or not (the rules make the outcome independent of their order).
//!
//! While the database cannot be reached ([`StoreError::Unavailable`]: PostgreSQL
//! restarting, the network to it down) the writer keeps the batch it holds and
//! tries it again, waiting [`RETRY_FIRST`] and doubling up to [`RETRY_MAX`], for as
//! long as it takes: nothing is dropped and nothing is acknowledged, since no
//! submitter hears anything before the commit. Memory stays bounded meanwhile: one
//! batch of at most [`MAX_BATCH`] events in hand, at most [`QUEUE_CAPACITY`] queued
//! behind it, and beyond that submitters wait for room (the platform's event
//! handlers, each holding its one event). A commit whose reply was lost with the
//! connection may have been applied: trying it again stores nothing twice (a
//! message is stored once by its id), but its answers then read as already stored
//! and get no acknowledgement.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tracing::{debug, info, warn};

use crate::practice::{AnswerEvent, AnswerOutcome, Practice, PracticeError, TransactionReads};
use crate::store::{Conn, StoreError};

/// Events applied in one transaction at most. A batch of 256 short answers
/// commits in a few milliseconds, which is as long as a submitter waits behind it.
pub const MAX_BATCH: usize = 256;

/// Events waiting at most. Submitters wait for room beyond it (backpressure on
/// the event handlers), so a flood costs bounded memory here: a queued answer is
/// about 130 bytes plus its text, against about 4 KB for a gateway event's task
/// waiting for room, so the queue is deep enough to absorb a burst of thousands.
pub const QUEUE_CAPACITY: usize = 4096;

/// Events written since the last time freed memory was given back, before the
/// writer gives it back again once its queue is empty.
const TRIM_AFTER: usize = 2048;

/// Attempts at a write transaction while another process holds the database past
/// the busy timeout, as the event handlers made before there was a writer: an
/// answer must not be lost to a moment of contention.
const LOCKED_ATTEMPTS: u32 = 4;

/// The first wait before trying a batch again while the database is unreachable;
/// each further wait doubles, up to [`RETRY_MAX`].
pub const RETRY_FIRST: Duration = Duration::from_millis(250);

/// The longest wait between two tries while the database is unreachable: how late,
/// at most, the answers held meanwhile are written once it is back.
pub const RETRY_MAX: Duration = Duration::from_secs(5);

struct Job {
    event: AnswerEvent,
    done: Done,
}

/// What becomes of an event's outcome once its batch is committed (or has failed).
enum Done {
    /// A submitter waiting for it ([`AnswerWriter::submit`]).
    Wait(oneshot::Sender<Result<AnswerOutcome, PracticeError>>),
    /// A callback run on the writer task ([`AnswerWriter::queue`]).
    Then(Callback),
}

type Outcome = Result<AnswerOutcome, PracticeError>;

/// A queued event's callback. It runs exactly once: with the outcome, or, if the
/// event is dropped unwritten (the writer task ended), with
/// [`PracticeError::WriterStopped`], as a waiting submitter would hear.
struct Callback(Option<Box<dyn FnOnce(Outcome) + Send>>);

impl Callback {
    fn run(&mut self, outcome: Outcome) {
        if let Some(then) = self.0.take() {
            // A panicking callback must not take the writer (and every later
            // answer) down with it.
            let ran = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| then(outcome)));
            if ran.is_err() {
                warn!("an answer event's callback panicked; the answer was written");
            }
        }
    }
}

impl Drop for Callback {
    fn drop(&mut self) {
        self.run(Err(PracticeError::WriterStopped));
    }
}

impl Done {
    fn send(self, outcome: Outcome) {
        match self {
            Done::Wait(tx) => {
                let _ = tx.send(outcome);
            }
            Done::Then(mut then) => then.run(outcome),
        }
    }
}

/// What the writer has done since it started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WriterStats {
    /// Transactions committed holding a batch of events.
    pub batches: u64,
    /// Events committed in those batches.
    pub batched_events: u64,
    /// The largest batch committed.
    pub largest_batch: usize,
    /// Batches that failed and were applied again one event per transaction.
    pub split_batches: u64,
}

#[derive(Debug, Default)]
struct Counters {
    batches: AtomicU64,
    batched_events: AtomicU64,
    largest_batch: AtomicUsize,
    split_batches: AtomicU64,
}

/// Submits answer events to the writer. Cheap to clone.
#[derive(Debug, Clone)]
pub struct AnswerWriter {
    tx: mpsc::Sender<Job>,
    counters: Arc<Counters>,
}

/// A place held in the writer's queue ([`AnswerWriter::reserve`]). Dropped unused,
/// it gives the place back.
pub struct QueueSlot<'a> {
    permit: mpsc::Permit<'a, Job>,
}

impl QueueSlot<'_> {
    /// Queues `event` in this place, without waiting; `then` as for
    /// [`AnswerWriter::queue`].
    pub fn queue(
        self,
        event: AnswerEvent,
        then: impl FnOnce(Result<AnswerOutcome, PracticeError>) + Send + 'static,
    ) {
        self.permit.send(Job {
            event,
            done: Done::Then(Callback(Some(Box::new(then)))),
        });
    }
}

/// The writer task. [`WriterTask::stop`] lets it finish what is queued and end;
/// dropping it leaves the task running until every [`AnswerWriter`] is dropped.
pub struct WriterTask {
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

impl AnswerWriter {
    /// Starts the writer task with the default batch size and queue capacity.
    pub fn start(practice: Practice) -> (AnswerWriter, WriterTask) {
        Self::start_with(practice, MAX_BATCH, QUEUE_CAPACITY)
    }

    pub fn start_with(
        practice: Practice,
        max_batch: usize,
        capacity: usize,
    ) -> (AnswerWriter, WriterTask) {
        let (tx, rx) = mpsc::channel(capacity.max(1));
        let (stop, stop_rx) = oneshot::channel();
        let counters = Arc::new(Counters::default());
        let task = tokio::spawn(run(
            practice,
            rx,
            stop_rx,
            counters.clone(),
            max_batch.max(1),
        ));
        (AnswerWriter { tx, counters }, WriterTask { stop, task })
    }

    /// Queues an event (waiting for room if the queue is full) and waits until it is
    /// committed; returns what it did. [`PracticeError::WriterStopped`] once the
    /// writer has stopped.
    pub async fn submit(&self, event: AnswerEvent) -> Result<AnswerOutcome, PracticeError> {
        let (done, outcome) = oneshot::channel();
        self.tx
            .send(Job {
                event,
                done: Done::Wait(done),
            })
            .await
            .map_err(|_| PracticeError::WriterStopped)?;
        outcome.await.map_err(|_| PracticeError::WriterStopped)?
    }

    /// Queues an event (waiting for room if the queue is full) and returns; once the
    /// event is committed (or has failed), the writer task runs `then` with what it
    /// did. `then` runs on the writer, between batches: it must be quick and must
    /// not wait. A caller that only needs to react to the outcome (an adapter's
    /// acknowledgement) holds nothing while the event waits to be written, which
    /// keeps a flood of events small in memory. [`PracticeError::WriterStopped`]
    /// (and `then` is dropped unrun) once the writer has stopped; if the writer
    /// ends with the event still queued, `then` hears `WriterStopped`. A panic in
    /// `then` is caught and logged.
    pub async fn queue(
        &self,
        event: AnswerEvent,
        then: impl FnOnce(Result<AnswerOutcome, PracticeError>) + Send + 'static,
    ) -> Result<(), PracticeError> {
        self.reserve().await?.queue(event, then);
        Ok(())
    }

    /// Waits for room in the queue and holds it, for [`QueueSlot::queue`].
    ///
    /// For a caller with many waiting events: each waits as a future, and a future
    /// given its event before it waits (as [`AnswerWriter::queue`]'s is) holds the
    /// event for the whole wait. Before this existed, the Discord adapter's future
    /// held each event twice (its own copy and the channel send's): in a burst of
    /// 20,000 answers, 1 KB for each event still waiting, 20 MB at the peak
    /// (heaptrack, BENCHMARKS.md "Resident memory against the release before the
    /// core work"). Reserving first lets the caller keep its events where they are
    /// and take each only once it has its place.
    /// [`PracticeError::WriterStopped`] once the writer has stopped.
    pub async fn reserve(&self) -> Result<QueueSlot<'_>, PracticeError> {
        self.tx
            .reserve()
            .await
            .map(|permit| QueueSlot { permit })
            .map_err(|_| PracticeError::WriterStopped)
    }

    pub fn stats(&self) -> WriterStats {
        let c = &self.counters;
        WriterStats {
            batches: c.batches.load(Ordering::Relaxed),
            batched_events: c.batched_events.load(Ordering::Relaxed),
            largest_batch: c.largest_batch.load(Ordering::Relaxed),
            split_batches: c.split_batches.load(Ordering::Relaxed),
        }
    }
}

impl WriterTask {
    /// Stops taking events, writes every event already queued, and waits for the
    /// task to end. Submissions after this fail with [`PracticeError::WriterStopped`].
    pub async fn stop(self) {
        let _ = self.stop.send(());
        if let Err(e) = self.task.await {
            warn!(error = %e, "the answer writer ended abnormally");
        }
    }
}

async fn run(
    practice: Practice,
    mut rx: mpsc::Receiver<Job>,
    mut stop: oneshot::Receiver<()>,
    counters: Arc<Counters>,
    max_batch: usize,
) {
    // Until stopped, wait for either an event or the stop; once stopped (or once the
    // `WriterTask` is dropped without stopping), only for events.
    let mut watching = true;
    let mut written = 0;
    loop {
        let first = if watching {
            tokio::select! {
                job = rx.recv() => job,
                stopped = &mut stop => {
                    watching = false;
                    if stopped.is_ok() {
                        // Refuse new events; `recv` still yields the queued ones, then None.
                        rx.close();
                    }
                    continue;
                }
            }
        } else {
            rx.recv().await
        };
        let Some(first) = first else { break };
        written += write_batch(&practice, &mut rx, first, max_batch, &counters).await;
        // A burst is over: give back what holding it took (see `crate::memory`).
        if written >= TRIM_AFTER && rx.is_empty() {
            written = 0;
            tokio::task::spawn_blocking(crate::memory::release_free_memory);
        }
    }
    debug!("answer writer stopped");
}

/// Opens a write transaction, trying again while another process holds the lock.
async fn begin(practice: &Practice) -> Result<crate::store::WriteTx, PracticeError> {
    let mut attempt = 1;
    loop {
        match practice.store().write().await {
            Ok(tx) => return Ok(tx),
            Err(StoreError::Locked) if attempt < LOCKED_ATTEMPTS => {
                warn!(attempt, "database locked while storing answers; retrying");
                tokio::time::sleep(Duration::from_millis(250 * u64::from(attempt))).await;
                attempt += 1;
            }
            Err(e) => return Err(e.into()),
        }
    }
}

async fn write_batch(
    practice: &Practice,
    rx: &mut mpsc::Receiver<Job>,
    first: Job,
    max_batch: usize,
    counters: &Counters,
) -> usize {
    let mut jobs = vec![first];
    let mut outage = Outage::default();
    loop {
        // Take the lock first, then everything queued meanwhile: events pile up while
        // the lock is busy (or the database is away), and they all go into this commit.
        let tx = begin(practice).await;
        while jobs.len() < max_batch {
            match rx.try_recv() {
                Ok(job) => jobs.push(job),
                Err(_) => break,
            }
        }
        let mut tx = match tx {
            Ok(tx) => tx,
            Err(PracticeError::Store(StoreError::Unavailable(cause))) => {
                outage.wait(jobs.len(), &cause).await;
                continue;
            }
            Err(PracticeError::Store(StoreError::Locked)) => {
                // Another process held the database through every attempt: nothing was
                // written, and each submitter hears so (as each handler did on its own
                // before there was a writer).
                warn!(
                    events = jobs.len(),
                    "database still locked; answer events not stored"
                );
                let count = jobs.len();
                for job in jobs {
                    job.done.send(Err(StoreError::Locked.into()));
                }
                return count;
            }
            Err(e) => {
                // Not a lock: let each event try on its own, and report its own error.
                warn!(events = jobs.len(), error = %e, "cannot open a write transaction for answers; storing them one by one");
                return split(practice, jobs, counters).await;
            }
        };
        let events: Vec<&AnswerEvent> = jobs.iter().map(|job| &job.event).collect();
        let applied = apply(practice, &mut tx, &events).await;
        let committed = match applied {
            // After a failed statement SQLite may have rolled the transaction back on
            // its own; nothing more is run in it.
            Err(e) => {
                let _ = tx.rollback().await;
                Err(e)
            }
            Ok(outcomes) => tx
                .commit()
                .await
                .map(|()| outcomes)
                .map_err(|e| StoreError::from(e).into()),
        };
        return match committed {
            Ok(outcomes) => {
                outage.over(jobs.len());
                counters.batches.fetch_add(1, Ordering::Relaxed);
                counters
                    .batched_events
                    .fetch_add(jobs.len() as u64, Ordering::Relaxed);
                counters
                    .largest_batch
                    .fetch_max(jobs.len(), Ordering::Relaxed);
                debug!(events = jobs.len(), "answer batch committed");
                let count = jobs.len();
                for (job, outcome) in jobs.into_iter().zip(outcomes) {
                    job.done.send(Ok(outcome));
                }
                count
            }
            Err(PracticeError::Store(StoreError::Unavailable(cause))) => {
                // The connection went away mid-batch: nothing of it was committed (or,
                // if the commit's reply was what got lost, trying again changes
                // nothing). Keep the whole batch and try it again.
                outage.wait(jobs.len(), &cause).await;
                continue;
            }
            Err(e) => {
                // One event's failure (or a failed commit) must not cost the others:
                // nothing of the batch was committed, so apply each event alone and give
                // each submitter its own result.
                warn!(events = jobs.len(), error = %e, "an answer batch failed; storing its events one by one");
                split(practice, jobs, counters).await
            }
        };
    }
}

/// Applies each job's event in a transaction of its own and tells its submitter.
async fn split(practice: &Practice, jobs: Vec<Job>, counters: &Counters) -> usize {
    counters.split_batches.fetch_add(1, Ordering::Relaxed);
    let count = jobs.len();
    for job in jobs {
        let outcome = apply_alone(practice, &job.event).await;
        job.done.send(outcome);
    }
    count
}

/// The writer's view of one time the database could not be reached: how long to
/// wait before the next try, and what to log (once when it starts, once when it
/// is over, not once per try).
#[derive(Default)]
struct Outage {
    tries: u32,
    started: Option<std::time::Instant>,
}

impl Outage {
    async fn wait(&mut self, held: usize, cause: &sqlx::Error) {
        if self.started.is_none() {
            self.started = Some(std::time::Instant::now());
            warn!(events = held, cause = %cause, "the database is unavailable; answer events are kept and written once it is back");
        } else {
            debug!(events = held, tries = self.tries, cause = %cause, "the database is still unavailable");
        }
        tokio::time::sleep(retry_wait(self.tries)).await;
        self.tries += 1;
    }

    fn over(&self, written: usize) {
        if let Some(started) = self.started {
            info!(
                events = written,
                after_secs = started.elapsed().as_secs(),
                "the database is back; answer events held meanwhile are written"
            );
        }
    }
}

/// The wait before try `tries + 1` while the database is unreachable.
fn retry_wait(tries: u32) -> Duration {
    RETRY_FIRST
        .saturating_mul(2u32.saturating_pow(tries))
        .min(RETRY_MAX)
}

/// Applies a batch's events in one transaction, in order (the caller commits).
async fn apply(
    practice: &Practice,
    tx: &mut Conn,
    events: &[&AnswerEvent],
) -> Result<Vec<AnswerOutcome>, PracticeError> {
    let mut reads = TransactionReads::default();
    // The early edits and deletes of every message created in the batch, in one
    // query per channel rather than one per message.
    let created: Vec<&crate::practice::IncomingMessage> = events
        .iter()
        .filter_map(|e| e.message().map(|(m, _)| m))
        .collect();
    reads.read_early_events(tx, &created).await?;
    practice.apply_all_in(tx, events, &mut reads).await
}

/// One event in a transaction of its own, trying again while the database is locked,
/// and for as long as it cannot be reached.
async fn apply_alone(
    practice: &Practice,
    event: &AnswerEvent,
) -> Result<AnswerOutcome, PracticeError> {
    let mut attempt = 1;
    let mut outage = Outage::default();
    loop {
        match practice.apply(event).await {
            Err(PracticeError::Store(StoreError::Locked)) if attempt < LOCKED_ATTEMPTS => {
                tokio::time::sleep(Duration::from_millis(250 * u64::from(attempt))).await;
                attempt += 1;
            }
            Err(PracticeError::Store(StoreError::Unavailable(cause))) => {
                outage.wait(1, &cause).await;
            }
            other => {
                if other.is_ok() {
                    outage.over(1);
                }
                return other;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_wait_longer_each_time_up_to_the_cap() {
        let waits: Vec<u128> = (0..8).map(|t| retry_wait(t).as_millis()).collect();
        assert_eq!(waits, [250, 500, 1000, 2000, 4000, 5000, 5000, 5000]);
        assert_eq!(retry_wait(u32::MAX), RETRY_MAX);
    }
}
