//! The Slack runner: both tokens checked at start (`auth.test`, then one
//! `apps.connections.open`), the core started, and a Socket Mode session through
//! slack-morphism's `start()`/`shutdown()` under the runtime's cancellation (not
//! `serve()`, which installs its own signal handlers).
//!
//! Envelopes are acknowledged when a callback returns, so callbacks only start work:
//! an answer event is handed to a task the runtime tracks (shutdown waits for it);
//! a lookup command answers in the acknowledgement; a command that changes things
//! (an admin's, or `forget me`) runs in such a task and answers through
//! `response_url`.
//!
//! The process opens `PREPBOT_SLACK_CONNECTIONS` connections (5 s apart, as
//! slack-morphism staggers them); Slack sends each envelope down one connection of
//! the app, whichever process holds it, and answers are applied idempotently, so
//! it does not matter which. The scheduler starts once, after the first
//! connection's catch-up. The other connections' first `hello`s change nothing;
//! every later `hello` is a reconnection that may have missed events, so open
//! threads are caught up on again.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use prepbot_core::acks::AckQueue;
use prepbot_core::catch_up;
use prepbot_core::chat::Platform;
use prepbot_core::clock::Clock;
use prepbot_core::command_budget::CommandBudget;
use prepbot_core::health::{AdapterState, HealthRecorder};
use prepbot_core::runtime::{CoreSettings, Runtime};
use slack_morphism::prelude::*;
use tokio::sync::mpsc;
use tracing::{info, warn};

use crate::api::{ApiError, SlackApi};
use crate::commands::{Commands, Invocation, Reply, invocation_id};
use crate::events::{AnswerSink, change_of};
use crate::history::SlackHistory;
use crate::names::Names;
use crate::outbound::{SlackOutbound, SlackReactions, SlackState};
use crate::{ConfigError, SlackConfig};

/// Why the Slack adapter stopped.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// A setting is missing or wrong (exit 2).
    #[error(transparent)]
    Config(ConfigError),
    /// Startup or the session failed (exit 1).
    #[error("{0:#}")]
    Failed(anyhow::Error),
}

/// How long a changing command's work waits after its callback returned, so the
/// acknowledgement (sent by slack-morphism once the callback returns) goes out
/// before the work's first Web API call.
const AFTER_ACK: Duration = Duration::from_millis(100);

/// How long after a drop was found again its thread is read back: the scheduler
/// records the found post right after finding it.
const RECOVERED_CATCH_UP: Duration = Duration::from_secs(2);

fn reply_content(reply: &Reply) -> SlackCommandEventResponse {
    SlackCommandEventResponse::new(SlackMessageContent::new().with_text(reply.text.clone()))
        .with_response_type(if reply.in_channel {
            SlackMessageResponseType::InChannel
        } else {
            SlackMessageResponseType::Ephemeral
        })
}

/// Posts a reply to a command's `response_url`, refused when it is on another host
/// than the configured API base.
async fn respond(api: &SlackApi, response_url: &str, reply: &Reply) {
    if !api.base().allows(response_url) {
        warn!(
            "a command's response_url is on another host than PREPBOT_SLACK_API_BASE; not answering it"
        );
        return;
    }
    let Ok(url) = url::Url::parse(response_url) else {
        warn!("a command's response_url is not a URL");
        return;
    };
    // A reply through response_url is ephemeral unless it says otherwise; the
    // changing subcommands' replies are all ephemeral.
    let body = SlackApiPostWebhookMessageRequest::new(
        SlackMessageContent::new().with_text(reply.text.clone()),
    );
    let client = api.client();
    let sent = tokio::time::timeout(
        crate::api::CALL_TIMEOUT,
        client.post_webhook_message(&url, &body),
    )
    .await;
    match sent {
        Ok(Ok(_)) => {}
        Ok(Err(e)) => {
            warn!(error = %crate::api::ApiError::from_webhook(e), "could not answer a command")
        }
        Err(_) => warn!("answering a command timed out"),
    }
}

/// Runs the Slack adapter until `shutdown` resolves or Slack rejects its token.
pub async fn run(
    config: SlackConfig,
    clock: Arc<dyn Clock>,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), RunError> {
    let runtime = Runtime::start(
        &CoreSettings {
            bank: &config.bank,
            database_url: &config.database_url,
            claim_lease: config.claim_lease,
            catch_up_grace: config.catch_up_grace,
            shards: None,
            slack_connections: config.connections,
        },
        clock.clone(),
    )
    .await
    .map_err(RunError::Failed)?;
    let outcome = serve(config, &runtime, clock, shutdown, |outbound, ready| {
        runtime.start_scheduler(outbound, ready)
    })
    .await;
    runtime.shut_down().await;
    outcome
}

/// Serves Slack on a runtime the caller started and shuts down (`prepbot run`
/// serving Discord and Slack shares one runtime and one scheduler): `on_ready` is
/// called once, at the first Socket Mode session, with the outbound and the
/// catch-up the scheduler must wait for. Returns when `shutdown` resolves or Slack
/// rejects the token, after the Socket Mode session has stopped.
pub async fn serve(
    config: SlackConfig,
    runtime: &Runtime,
    clock: Arc<dyn Clock>,
    shutdown: impl Future<Output = ()> + Send,
    on_ready: impl FnOnce(SlackOutbound, std::pin::Pin<Box<dyn Future<Output = ()> + Send>>) + Send,
) -> Result<(), RunError> {
    // `prepbot status` reads this from the database: connecting, catching up,
    // connected, or stopped and why, with a heartbeat that tells a process that
    // ended without saying.
    let health = HealthRecorder::new(
        runtime.practice.store().clone(),
        &runtime.practice.process().id,
        Platform::Slack,
        clock.clone(),
    );
    prepbot_core::health::recorded(
        &health,
        serve_recording(config, runtime, clock, shutdown, &health, on_ready),
    )
    .await
}

/// Why the start-up check of the token named `variable` failed, in one line. Only a
/// refusal is the token's fault: no connection, a 5xx or a timeout says nothing
/// about it, and calling it rejected would send the operator to the wrong fix.
fn token_check_failed(variable: &str, e: ApiError) -> anyhow::Error {
    match e {
        ApiError::Refused { .. } => anyhow::anyhow!("{variable} was not accepted: {e}"),
        ApiError::Unknown { method, why } => anyhow::anyhow!(
            "Slack could not be reached to check {variable} ({method}: {why}): check the network, then start again"
        ),
        ApiError::RateLimited { .. } => {
            anyhow::anyhow!("Slack could not check {variable} now: {e}; start again shortly")
        }
    }
}

/// [`serve`], recording each stage of the session in `health`.
async fn serve_recording(
    config: SlackConfig,
    runtime: &Runtime,
    clock: Arc<dyn Clock>,
    shutdown: impl Future<Output = ()> + Send,
    health: &HealthRecorder,
    on_ready: impl FnOnce(SlackOutbound, std::pin::Pin<Box<dyn Future<Output = ()> + Send>>) + Send,
) -> Result<(), RunError> {
    let failed = |e: anyhow::Error| RunError::Failed(e);
    let api = SlackApi::new(&config.bot_token, config.api_base.clone());
    // Both tokens are checked before anything else: a rejected one is one line and
    // exit 1, not a reconnect loop.
    let me = api
        .auth_test()
        .await
        .map_err(|e| failed(token_check_failed("SLACK_BOT_TOKEN", e)))?;
    api.open_connection(&config.app_token)
        .await
        .map_err(|e| failed(token_check_failed("SLACK_APP_TOKEN", e)))?;
    info!(
        team = me.team_id,
        user = me.user_id,
        "Slack tokens accepted"
    );

    let team = me.team_id.clone();
    let state = Arc::new(SlackState::default());
    let _ = state.me.set(me);
    let names = Names::default();
    let outbound = SlackOutbound::with_names(api.clone(), state.clone(), names.clone());
    let acks = AckQueue::start(SlackReactions {
        api: api.clone(),
        state: state.clone(),
    });
    let sink = AnswerSink {
        team: team.clone(),
        practice: runtime.practice.clone(),
        answers: runtime.answers.clone(),
        acks: acks.clone(),
        clock: clock.clone(),
        api: api.clone(),
        names: names.clone(),
    };
    let commands = Arc::new(Commands {
        practice: runtime.practice.clone(),
        clock: clock.clone(),
        wake: runtime.wake.clone(),
        outbound: outbound.clone(),
        api: api.clone(),
        state: state.clone(),
        names: names.clone(),
        limits: CommandBudget::for_store(runtime.practice.store(), Platform::Slack),
        admins: config.admins.clone(),
    });
    let history = Arc::new(SlackHistory {
        api: api.clone(),
        practice: runtime.practice.clone(),
        state: state.clone(),
        names: names.clone(),
    });

    let (hello_tx, mut hello_rx) = mpsc::unbounded_channel::<Hello>();
    let shared = Arc::new(Shared {
        sink,
        commands,
        events: runtime.events.clone(),
        hello: hello_tx,
        state: state.clone(),
        api: api.clone(),
    });
    let callbacks = SlackSocketModeListenerCallbacks::new()
        .with_hello_events(on_hello)
        .with_push_events(on_push)
        .with_command_events(on_command);
    let environment = Arc::new(
        SlackClientEventsListenerEnvironment::new(api.client())
            .with_error_handler(on_error)
            .with_user_state(shared),
    );
    let listener = SlackClientSocketModeListener::new(
        // Slack may deliver an event again, on this connection or another (of this
        // process or another one) after a missed ack; every event is applied
        // idempotently either way.
        &SlackClientSocketModeConfig::new().with_max_connections_count(config.connections),
        environment,
        callbacks,
    );
    let app_token = config.app_token.api_token_for_socket();
    listener.listen_for(&app_token).await.map_err(|e| {
        failed(anyhow::anyhow!(
            "cannot open a Socket Mode session: {}",
            crate::api::ApiError::from_webhook(e)
        ))
    })?;
    listener.start().await;

    let mut shutdown = std::pin::pin!(shutdown);
    let mut on_ready = Some(on_ready);
    // The first `hello` of each connection this process opens at start: none of
    // them follows a gap in which events could have gone unseen.
    let mut first_hellos = config.connections;
    let outcome = loop {
        tokio::select! {
            hello = hello_rx.recv() => {
                let Some(hello) = hello else {
                    break Err(failed(anyhow::anyhow!("the Socket Mode session ended")));
                };
                log_connection(hello, config.connections);
                let opening = first_hellos > 0;
                first_hellos = first_hellos.saturating_sub(1);
                if opening && on_ready.is_none() {
                    // Another of this process's connections opening beside one
                    // that is up: nothing was missed.
                    continue;
                }
                let (practice, history, acks, clock, state, health) = (
                    runtime.practice.clone(), history.clone(), acks.clone(), clock.clone(), state.clone(),
                    health.clone(),
                );
                let catch = async move {
                    health.set(AdapterState::CatchingUp, None).await;
                    catch_up::run(&practice, history.as_ref(), &acks, clock.now()).await;
                    state.ready.store(true, Ordering::Release);
                    health.set(AdapterState::Connected, None).await;
                };
                if let Some(ready) = on_ready.take() {
                    info!("Slack Socket Mode session up");
                    ready(outbound.clone(), Box::pin(catch));
                } else {
                    // A new session: events may have been missed meanwhile.
                    runtime.events.spawn(catch);
                }
            }
            () = state.recovered.notified() => {
                // A drop found again after an unknown outcome: read the open threads
                // back once the scheduler has recorded it (a moment after finding it).
                let (practice, history, acks, clock) = (
                    runtime.practice.clone(), history.clone(), acks.clone(), clock.clone(),
                );
                runtime.events.spawn(async move {
                    tokio::time::sleep(RECOVERED_CATCH_UP).await;
                    catch_up::run(&practice, history.as_ref(), &acks, clock.now()).await;
                });
            }
            () = state.down.cancelled() => {
                break Err(failed(anyhow::anyhow!("Slack rejected the bot's token or the app was uninstalled; the Slack adapter stopped")));
            }
            () = &mut shutdown => {
                info!("shutting down");
                break Ok(());
            }
        }
    };
    listener.shutdown().await;
    outcome
}

/// A connection's `hello`: Slack's count of the app's open connections, every
/// process's together, this one included (`None` if the frame had none).
#[derive(Debug, Clone, Copy)]
struct Hello {
    app_connections: Option<u64>,
}

/// Says in the log that a connection is up and how many the app has; warns at
/// Slack's limit, where one more connection (another process, or a higher
/// `PREPBOT_SLACK_CONNECTIONS`) is refused.
fn log_connection(hello: Hello, ours: u32) {
    let limit = u64::from(crate::MAX_SOCKET_CONNECTIONS);
    match hello.app_connections {
        Some(n) if n >= limit => warn!(
            app_connections = n,
            this_process = ours,
            limit,
            "the Slack app has as many Socket Mode connections as Slack allows; Slack refuses any more (too_many_websockets), so do not start another process or raise PREPBOT_SLACK_CONNECTIONS"
        ),
        n => info!(
            app_connections = n,
            this_process = ours,
            "Slack Socket Mode connection up"
        ),
    }
}

/// What the callbacks share: slack-morphism's callbacks are plain functions, so
/// this goes in the listener's user state.
struct Shared {
    sink: AnswerSink,
    commands: Arc<Commands>,
    events: tokio_util::task::TaskTracker,
    hello: mpsc::UnboundedSender<Hello>,
    state: Arc<SlackState>,
    api: SlackApi,
}

async fn shared(states: &SlackClientEventsUserState) -> Option<Arc<Shared>> {
    states.read().await.get_user_state::<Arc<Shared>>().cloned()
}

/// Generic over the event: slack-morphism does not export its hello event's type,
/// so its `num_connections` is read back from its JSON.
async fn on_hello<Event: serde::Serialize>(
    event: Event,
    _client: Arc<SlackClient<crate::api::Connector>>,
    states: SlackClientEventsUserState,
) {
    let app_connections = serde_json::to_value(&event)
        .ok()
        .and_then(|v| v["num_connections"].as_u64());
    if let Some(shared) = shared(&states).await {
        let _ = shared.hello.send(Hello { app_connections });
    }
}

async fn on_push(
    event: SlackPushEventCallback,
    _client: Arc<SlackClient<crate::api::Connector>>,
    states: SlackClientEventsUserState,
) -> UserCallbackResult<()> {
    let Some(shared) = shared(&states).await else {
        return Ok(());
    };
    let change = match &event.event {
        SlackEventCallbackBody::Message(m) => change_of(m, &shared.state),
        SlackEventCallbackBody::AppUninstalled(_) => {
            warn!("the Slack app was uninstalled; the Slack adapter stops");
            shared.state.down.cancel();
            None
        }
        _ => None,
    };
    if let Some(change) = change {
        let sink = shared.sink.clone();
        // Tracked, so shutdown waits for its write; the ack goes out meanwhile.
        shared.events.spawn(async move { sink.apply(change).await });
    }
    Ok(())
}

async fn on_command(
    event: SlackCommandEvent,
    _client: Arc<SlackClient<crate::api::Connector>>,
    states: SlackClientEventsUserState,
) -> UserCallbackResult<SlackCommandEventResponse> {
    let Some(shared) = shared(&states).await else {
        return Ok(reply_content(&Reply {
            text: "prepbot is starting; try again in a moment.".into(),
            in_channel: false,
        }));
    };
    let inv = Invocation {
        team: event.team_id.0.clone(),
        channel: event.channel_id.0.clone(),
        channel_name: event.channel_name.clone(),
        user: event.user_id.0.clone(),
        text: event.text.clone().unwrap_or_default(),
        response_url: event.response_url.0.to_string(),
        id: invocation_id(&event.trigger_id.0, &event.user_id.0),
    };
    let (ack, follow_up) = shared.commands.acknowledge(&inv).await;
    if follow_up {
        let work = shared.clone();
        shared.events.spawn(async move {
            tokio::time::sleep(AFTER_ACK).await;
            let reply = work.commands.administer(&inv).await;
            respond(&work.api, &inv.response_url, &reply).await;
        });
    }
    Ok(reply_content(&ack))
}

fn on_error(
    error: Box<dyn std::error::Error + Send + Sync>,
    _client: Arc<SlackClient<crate::api::Connector>>,
    _state: SlackClientEventsUserState,
) -> HttpStatusCode {
    // Decoding failures name the field, not a token; the Socket Mode URL (with its
    // ticket) never reaches here.
    warn!(error = %error, "a Slack event could not be handled");
    HttpStatusCode::OK
}

/// Entry for `prepbot run` with Slack configured: the environment, the wall clock,
/// Ctrl-C and SIGTERM.
pub async fn run_from_env() -> Result<(), RunError> {
    let config = SlackConfig::from_vars(|n| std::env::var(n).ok()).map_err(RunError::Config)?;
    run_config(config).await
}

/// [`run_from_env`] with the question banks the command line chose (`prepbot run
/// --questions DIR`, which itself falls back to `PREPBOT_QUESTIONS`).
pub async fn run_from_env_with_bank(bank: prepbot_core::bank::BankSources) -> Result<(), RunError> {
    let mut config = SlackConfig::from_vars(|n| std::env::var(n).ok()).map_err(RunError::Config)?;
    config.bank = bank;
    run_config(config).await
}

async fn run_config(config: SlackConfig) -> Result<(), RunError> {
    run(
        config,
        Arc::new(prepbot_core::clock::SystemClock),
        prepbot_core::runtime::shutdown_signal(),
    )
    .await
}
