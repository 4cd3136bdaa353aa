//! Start-up and shutdown, for every adapter: the bank, the store and the use cases,
//! the answer writer, the scheduler (started once per process, when the adapter
//! that serves it is connected and caught up), and a shutdown that drains in order:
//! the events being handled finish their writes, the writer commits what they
//! queued, the scheduler stops (a pass in progress completes; a claim cut short is
//! retried at once by the next start), and the database closes last.
//!
//! Every start registers the process ([`crate::process`]) and keeps its heartbeat
//! while it runs, so the claims it leaves behind when killed are finished at once by
//! the next start or by another process sharing the database.
//!
//! An adapter holds a token of [`Runtime::events`] while it handles a platform event
//! and stops taking events when [`Runtime::stop`] is cancelled.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{error, info, warn};

use crate::bank::{BankSources, QuestionBank};
use crate::clock::Clock;
use crate::ingest::{AnswerWriter, WriterTask};
use crate::ports::Outbound;
use crate::practice::Practice;
use crate::process::ProcessIdentity;
use crate::store::Store;
use crate::store::processes::HEARTBEAT_EVERY;

/// How long shutdown waits for events being handled, then for the answer writer,
/// then for the scheduler.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// What the core needs to start, whatever the platform.
#[derive(Debug, Clone)]
pub struct CoreSettings<'a> {
    pub bank: &'a BankSources,
    pub database_url: &'a str,
    pub claim_lease: Option<chrono::Duration>,
    pub catch_up_grace: Option<chrono::Duration>,
    /// The Discord shards this process serves ("FIRST-LAST/TOTAL"), when a range:
    /// shown by `prepbot status` next to the process.
    pub shards: Option<String>,
    /// The Slack Socket Mode connections this process opens (0 without Slack):
    /// registered, so that the processes together stay within Slack's limit.
    pub slack_connections: u32,
}

/// The running core.
pub struct Runtime {
    pub practice: Practice,
    pub clock: Arc<dyn Clock>,
    /// Notified when a schedule changes, so the scheduler looks again at once.
    pub wake: Arc<Notify>,
    /// Where adapters send answer events (group commit).
    pub answers: AnswerWriter,
    /// Cancelled when the process stops.
    pub stop: CancellationToken,
    /// Platform events being handled: shutdown waits for them before the writer stops.
    pub events: TaskTracker,
    writer: WriterTask,
    /// Behind a lock so adapters sharing the runtime (`prepbot run` serving Discord
    /// and Slack at once) can each start it through `&Runtime`; it starts once.
    scheduler: std::sync::Mutex<Option<JoinHandle<()>>>,
    heartbeat: JoinHandle<()>,
    /// On PostgreSQL: wakes the scheduler when another process changes the agenda.
    agenda_listener: Option<JoinHandle<()>>,
    store: Store,
}

impl Runtime {
    /// Loads the bank, opens (and migrates) the database, starts the answer writer.
    pub async fn start(settings: &CoreSettings<'_>, clock: Arc<dyn Clock>) -> anyhow::Result<Self> {
        let bank = QuestionBank::from_sources(settings.bank).map_err(|errors| {
            anyhow::anyhow!(
                "the question bank has {} problem(s):\n{errors}",
                errors.0.len()
            )
        })?;
        for origin in bank.origins() {
            info!(%origin, "reading questions");
        }
        // Warned, not only noted: the question members see is not the shipped one.
        for o in bank.overrides() {
            warn!(id = %o.id, pack = %o.path.display(), "a pack question replaces the shipped question with the same id");
        }
        let store = Store::open_url(settings.database_url).await?;
        let mut practice = Practice::new(store.clone(), Arc::new(bank))
            .with_catch_up_grace(settings.catch_up_grace);
        if let Some(lease) = settings.claim_lease {
            practice = practice.with_lease(lease);
        }
        practice = practice.with_slack_connections(settings.slack_connections);
        let started_at = clock.now();
        let gone = practice
            .register_process(settings.shards.as_deref(), started_at)
            .await?;
        for p in &gone {
            info!(process = %ProcessIdentity::short_id(&p.id), host = %p.host, pid = p.pid, "an earlier process is gone; its claims are finished now");
        }
        info!(process = %ProcessIdentity::short_id(&practice.process().id), pid = practice.process().pid, "registered this process");
        let (answers, writer) = AnswerWriter::start(practice.clone());
        let stop = CancellationToken::new();
        let wake = Arc::new(Notify::new());
        // On PostgreSQL, other processes' changes to the agenda wake this scheduler.
        let agenda_listener = store
            .listen_agenda()
            .await?
            .map(|listener| tokio::spawn(follow_agenda(listener, wake.clone(), stop.clone())));
        let heartbeat = tokio::spawn(heartbeat(
            practice.clone(),
            clock.clone(),
            settings.shards.clone(),
            started_at,
            stop.clone(),
        ));
        Ok(Runtime {
            practice,
            clock,
            wake,
            answers,
            stop,
            events: TaskTracker::new(),
            writer,
            scheduler: std::sync::Mutex::new(None),
            heartbeat,
            agenda_listener,
            store,
        })
    }

    /// Starts the scheduler once `ready` completes (the adapter is connected and has
    /// caught up on what it missed, so a catch-up reveal counts those answers). Once
    /// per process: a second call does nothing.
    pub fn start_scheduler<O>(&self, outbound: O, ready: impl Future<Output = ()> + Send + 'static)
    where
        O: Outbound + Send + Sync + 'static,
    {
        let mut scheduler = self.scheduler.lock().unwrap_or_else(|e| e.into_inner());
        if scheduler.is_some() {
            return;
        }
        let (practice, clock, wake, stop) = (
            self.practice.clone(),
            self.clock.clone(),
            self.wake.clone(),
            self.stop.clone(),
        );
        *scheduler = Some(tokio::spawn(async move {
            tokio::select! {
                () = ready => {}
                () = stop.cancelled() => return,
            }
            crate::scheduler::run_loop(practice, outbound, clock, wake, stop.cancelled_owned())
                .await;
        }));
    }

    /// Drains and stops everything, in order (see the module's docs). The adapters
    /// have stopped taking events before this is called.
    pub async fn shut_down(self) {
        self.events.close();
        let mut drained = tokio::time::timeout(SHUTDOWN_GRACE, self.events.wait())
            .await
            .is_ok();
        if drained {
            // An event's task spawned by the platform library just before the stop
            // takes its token only once it first runs: give such tasks a moment.
            tokio::time::sleep(Duration::from_millis(50)).await;
            drained = tokio::time::timeout(SHUTDOWN_GRACE, self.events.wait())
                .await
                .is_ok();
        }
        if !drained {
            warn!(
                unfinished = self.events.len(),
                "events still being handled after {} s; stopping anyway",
                SHUTDOWN_GRACE.as_secs()
            );
        }
        if tokio::time::timeout(SHUTDOWN_GRACE, self.writer.stop())
            .await
            .is_err()
        {
            warn!("the answer writer did not finish in time; stopping anyway");
        }
        self.stop.cancel();
        let scheduler = self
            .scheduler
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(mut scheduler) = scheduler {
            match tokio::time::timeout(SHUTDOWN_GRACE, &mut scheduler).await {
                Ok(Err(e)) => error!(error = %e, "the scheduler task ended abnormally"),
                Ok(Ok(())) => {}
                Err(_) => {
                    warn!("the scheduler did not stop in time; the next start finishes its claims");
                    scheduler.abort();
                }
            }
        }
        self.heartbeat.abort();
        if let Some(listener) = &self.agenda_listener {
            listener.abort();
        }
        // Claims cut short are free at once for a restart or another process.
        if let Err(e) = self.practice.retire_process().await {
            warn!(error = %e, "could not remove this process's row; others wait for its heartbeat to lapse");
        }
        self.store.close().await;
    }
}

/// Wakes the scheduler whenever a process sharing the database changes the agenda,
/// and after every reconnect of the listener (changes made meanwhile were not
/// heard). While PostgreSQL is unreachable it retries every few seconds; the
/// scheduler still wakes by itself at its next item.
async fn follow_agenda(
    mut listener: crate::store::notify::AgendaListener,
    wake: Arc<Notify>,
    stop: CancellationToken,
) {
    use crate::store::notify::AgendaEvent;
    loop {
        let heard = tokio::select! {
            heard = listener.next() => heard,
            () = stop.cancelled() => return,
        };
        match heard {
            Ok(AgendaEvent::Changed) => wake.notify_one(),
            Ok(AgendaEvent::Reconnected) => {
                warn!(
                    "the agenda listener lost its connection and is reconnecting; looking at the agenda again"
                );
                wake.notify_one();
            }
            Err(e) => {
                warn!(error = %e, "the agenda listener cannot reach the database; retrying in 5 s");
                tokio::select! {
                    () = tokio::time::sleep(Duration::from_secs(5)) => {}
                    () = stop.cancelled() => return,
                }
            }
        }
    }
}

/// Renews the process's heartbeat every [`HEARTBEAT_EVERY`] of `clock` until `stop`.
/// A failed write is logged and retried at the next beat: three missed beats in a
/// row make other processes take this one's claims ([`crate::store::processes::PROCESS_LAPSE`]).
async fn heartbeat(
    practice: Practice,
    clock: Arc<dyn Clock>,
    shards: Option<String>,
    started_at: chrono::DateTime<chrono::Utc>,
    stop: CancellationToken,
) {
    loop {
        let next = clock.now() + HEARTBEAT_EVERY;
        tokio::select! {
            () = clock.sleep_until(next) => {}
            () = stop.cancelled() => return,
        }
        match practice
            .heartbeat(shards.as_deref(), started_at, clock.now())
            .await
        {
            Ok(false) => {}
            Ok(true) => warn!(
                "this process's row was gone (taken for dead after a stall) and is registered again"
            ),
            Err(e) => warn!(error = %e, "could not renew this process's heartbeat"),
        }
    }
}

/// Resolves on Ctrl-C or SIGTERM: how `prepbot run` is asked to stop, for every
/// adapter (slack-morphism's `serve()` would install its own handlers, so the Slack
/// adapter uses `start()` under this instead).
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            warn!(error = %e, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                warn!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}
