//! `prepbot run` with Discord and Slack both configured: one process, one database,
//! one runtime and one scheduler. Each adapter serves on the shared runtime and hands
//! its outbound to the scheduler (through [`Routed`]) once it is connected and
//! caught up; until then its platform's items wait. One adapter stopping (Slack
//! rejecting its token later) leaves the other running.

use std::process::ExitCode;
use std::sync::Arc;

use prepbot_core::chat::Platform;
use prepbot_core::clock::{Clock, SystemClock};
use prepbot_core::ports::Routed;
use prepbot_core::runtime::{CoreSettings, Runtime, shutdown_signal};
use prepbot_discord::DiscordConfig;
use prepbot_discord::outbound::DiscordOutbound;
use prepbot_slack::SlackConfig;
use prepbot_slack::outbound::SlackOutbound;

/// Serves both platforms until Ctrl-C or SIGTERM; exit 2 for a setting to fix, 1 if
/// an adapter failed.
pub async fn run_both(bank: prepbot_core::bank::BankSources) -> ExitCode {
    let mut discord = match DiscordConfig::from_env() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let slack = match SlackConfig::from_vars(|n| std::env::var(n).ok()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    // The banks the command line chose (`--questions`, falling back to the variables).
    discord.bank = bank;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let runtime = match Runtime::start(
        &CoreSettings {
            bank: &discord.bank,
            database_url: &discord.database_url,
            claim_lease: discord.claim_lease,
            catch_up_grace: discord.catch_up_grace,
            shards: discord.shards.range_text(),
            slack_connections: slack.connections,
        },
        clock.clone(),
    )
    .await
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e:#}");
            return ExitCode::from(1);
        }
    };
    let routed = Arc::new(Routed::<DiscordOutbound, SlackOutbound>::new(
        Platform::Discord,
        Platform::Slack,
    ));
    // One scheduler, started now: a platform's items wait until its adapter is ready.
    runtime.start_scheduler(routed.clone(), async {});
    let quit = tokio_util::sync::CancellationToken::new();
    let signal = quit.clone();
    tokio::spawn(async move {
        shutdown_signal().await;
        signal.cancel();
    });
    let (on_discord, on_slack) = (routed.clone(), routed);
    let (wake_d, wake_s) = (runtime.wake.clone(), runtime.wake.clone());
    let served_discord = prepbot_discord::serve(
        discord,
        &runtime,
        clock.clone(),
        quit.clone().cancelled_owned(),
        move |outbound, ready| {
            tokio::spawn(async move {
                ready.await;
                on_discord.set_first(outbound);
                wake_d.notify_one();
            });
        },
    );
    let served_slack = async {
        let served = prepbot_slack::socket::serve(
            slack,
            &runtime,
            clock.clone(),
            quit.clone().cancelled_owned(),
            move |outbound, ready| {
                tokio::spawn(async move {
                    ready.await;
                    on_slack.set_second(outbound);
                    wake_s.notify_one();
                });
            },
        )
        .await;
        if let Err(e) = &served {
            // Discord keeps running: the operator reads why Slack stopped.
            eprintln!("error: the Slack adapter stopped: {e}");
        }
        served
    };
    let (discord, slack) = tokio::join!(served_discord, served_slack);
    if let Err(e) = &discord {
        eprintln!("error: the Discord adapter stopped: {e:#}");
    }
    runtime.shut_down().await;
    if discord.is_ok() && slack.is_ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
