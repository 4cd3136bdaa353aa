//! Graceful shutdown needs to know what is still running. Serenity hands every
//! gateway event (a command, an answer, an edit) to the framework in a task of its
//! own and never waits for it, so [`Tracked`] wraps poise's framework and counts
//! the events being handled; on shutdown the runner stops the gateway, then waits
//! ([`InFlight::idle`]) until those events are queued for the answer writer or
//! handled, and the writer then commits what is queued before the database closes.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use poise::serenity_prelude as serenity;
use tokio::sync::Notify;

use super::events::{self, AnswerSink};

/// A count of events being handled.
#[derive(Debug, Clone, Default)]
pub struct InFlight(Arc<Counter>);

#[derive(Debug, Default)]
struct Counter {
    running: AtomicUsize,
    idle: Notify,
}

/// Held while one event is handled.
pub struct Guard(Arc<Counter>);

impl Drop for Guard {
    fn drop(&mut self) {
        if self.0.running.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.0.idle.notify_waiters();
        }
    }
}

impl InFlight {
    pub fn enter(&self) -> Guard {
        self.0.running.fetch_add(1, Ordering::SeqCst);
        Guard(self.0.clone())
    }

    pub fn running(&self) -> usize {
        self.0.running.load(Ordering::SeqCst)
    }

    /// Waits until nothing is running, or `limit` passed. Returns how many were
    /// still running (0 when all finished).
    pub async fn idle(&self, limit: Duration) -> usize {
        let wait = async {
            loop {
                let notified = self.0.idle.notified();
                if self.running() == 0 {
                    return;
                }
                notified.await;
            }
        };
        let _ = tokio::time::timeout(limit, wait).await;
        self.running()
    }
}

/// Poise's framework, with every event counted while it is handled, and answer
/// events routed straight to the answer writer (see [`super::events`]).
pub struct Tracked<F> {
    pub inner: F,
    pub in_flight: InFlight,
    pub answers: AnswerSink,
}

#[async_trait::async_trait]
impl<F: serenity::Framework> serenity::Framework for Tracked<F> {
    async fn init(&mut self, client: &serenity::Client) {
        self.inner.init(client).await;
    }

    // Written out rather than as an `async fn`: a gateway event is about 4 KB, and
    // an async body would keep room for a second copy of it in the future we return
    // while answers wait for the writer. The answers are taken out here, before
    // that future exists, and the event's contents are dropped. (Serenity's own
    // task still reserves room for the event until it ends.)
    fn dispatch<'life0, 'async_trait>(
        &'life0 self,
        ctx: serenity::Context,
        event: serenity::FullEvent,
    ) -> Pin<Box<dyn Future<Output = ()> + Send + 'async_trait>>
    where
        'life0: 'async_trait,
        Self: 'async_trait,
    {
        let guard = self.in_flight.enter();
        match events::answer_events(&event, self.answers.clock.now()) {
            Some(answers) => {
                drop(event);
                drop(ctx);
                Box::pin(async move {
                    events::queue(&self.answers, answers).await;
                    drop(guard);
                })
            }
            None => {
                let handled = self.inner.dispatch(ctx, event);
                Box::pin(async move {
                    handled.await;
                    drop(guard);
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn idle_waits_for_every_guard() {
        let in_flight = InFlight::default();
        assert_eq!(in_flight.idle(Duration::from_millis(10)).await, 0);
        let a = in_flight.enter();
        let b = in_flight.enter();
        assert_eq!(in_flight.idle(Duration::from_millis(20)).await, 2);
        let waiter = tokio::spawn({
            let in_flight = in_flight.clone();
            async move { in_flight.idle(Duration::from_secs(5)).await }
        });
        drop(a);
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!waiter.is_finished(), "one is still running");
        drop(b);
        assert_eq!(waiter.await.unwrap(), 0);
    }
}
