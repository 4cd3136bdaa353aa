//! The Slack baseline of the load harness (`cargo bench --bench load -- slack`): a
//! bare slack-morphism Socket Mode bot that answers every slash command with a fixed
//! text and does nothing else.
//!
//! It connects the way `prepbot run` does (`SLACK_BOT_TOKEN`, `SLACK_APP_TOKEN`,
//! `PREPBOT_SLACK_API_BASE`; the same HTTP connector and one Socket Mode
//! connection), so the difference between the two acknowledgements is prepbot's own
//! work. The harness builds it itself (`cargo build --example bare_slack_bot`).

use std::sync::Arc;

use anyhow::Context as _;
use prepbot_slack::api::{ApiBase, Connector, Secret, SlackApi};
use slack_morphism::prelude::*;

async fn on_command(
    _: SlackCommandEvent,
    _: Arc<SlackClient<Connector>>,
    _: SlackClientEventsUserState,
) -> UserCallbackResult<SlackCommandEventResponse> {
    Ok(SlackCommandEventResponse::new(
        SlackMessageContent::new().with_text("pong".into()),
    ))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let var = |name: &str| std::env::var(name).with_context(|| format!("{name} is not set"));
    let base = ApiBase::parse(&var("PREPBOT_SLACK_API_BASE")?).map_err(anyhow::Error::msg)?;
    let api = SlackApi::new(&Secret::new(var("SLACK_BOT_TOKEN")?), base);
    let listener = SlackClientSocketModeListener::new(
        &SlackClientSocketModeConfig::new().with_max_connections_count(1),
        Arc::new(SlackClientEventsListenerEnvironment::new(api.client())),
        SlackSocketModeListenerCallbacks::new().with_command_events(on_command),
    );
    listener
        .listen_for(&SlackApiToken::new(SlackApiTokenValue(var(
            "SLACK_APP_TOKEN",
        )?)))
        .await
        .context("cannot open a Socket Mode session")?;
    listener.start().await;
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    listener.shutdown().await;
    Ok(())
}
