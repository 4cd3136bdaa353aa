//! Graceful shutdown needs to know what is still running. Serenity hands every
//! gateway event (a command, an answer, an edit) to the framework in a task of its
//! own and never waits for it, so [`Tracked`] wraps poise's framework and holds a
//! token of the runtime's event tracker while each event is handled; on shutdown
//! the runner stops the gateway and the runtime waits until those events are queued
//! for the answer writer or handled, and the writer then commits what is queued
//! before the database closes.

use std::future::Future;
use std::pin::Pin;

use poise::serenity_prelude as serenity;
use tokio_util::task::TaskTracker;

use super::events::{self, AnswerSink};

/// Poise's framework, with every event counted while it is handled, and answer
/// events routed straight to the answer writer (see [`super::events`]).
pub struct Tracked<F> {
    pub inner: F,
    /// The runtime's tracker of events being handled ([`prepbot_core::runtime::Runtime::events`]).
    pub events: TaskTracker,
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
        let guard = self.events.token();
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
