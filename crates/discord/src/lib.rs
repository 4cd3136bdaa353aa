//! The Discord adapter: `prepbot run`. Translates gateway events and slash commands
//! into [`Practice`] calls and the scheduler's output into Discord messages.
//!
//! - [`commands`]: one file per command group, all listed in [`commands::all`].
//! - [`events`]: answers in drop threads (create, edit, delete).
//! - [`limit`]: each member's command budget, checked before every command.
//! - [`outbound`]: drops and reveals as Discord messages, and the paced ✅/🕒 queue.
//! - [`rest`]: the REST calls those make, with their own 429 handling.
//! - [`errors`]: the two tiers of command errors and the `on_error` that shows them.
//! - [`backfill`]: catching up on threads after the bot was away.
//! - [`tracked`]: counts the events being handled, for a graceful shutdown.
//! - [`startup`]: the token check before anything is opened.
//!
//! The scheduler is started once, here, with its own REST client, after the first
//! Ready and the backfill, never from the Ready event itself (Discord sends Ready
//! again after reconnects) nor from poise's setup.

pub mod backfill;
pub mod commands;
// Public for the connection benchmark (`cargo bench --bench connections`).
pub mod connections;
pub mod errors;
pub mod events;
pub mod limit;
mod messages;
pub mod outbound;
pub mod pacer;
pub mod render;
pub mod rest;
pub mod shard_health;
pub mod startup;
pub mod tracked;

use std::future::Future;
use std::sync::Arc;

use anyhow::bail;
use poise::serenity_prelude as serenity;
use serenity::{ClientBuilder, GatewayIntents, GuildId, HttpBuilder};
use tokio::sync::{Notify, oneshot};
use tracing::info;

use prepbot_core::bank::BankSources;
use prepbot_core::chat::Platform;
use prepbot_core::clock::Clock;
use prepbot_core::config::{DEFAULT_DATABASE_URL, vars};
use prepbot_core::health::HealthRecorder;
use prepbot_core::practice::Practice;
use prepbot_core::runtime::{CoreSettings, Runtime};

pub use errors::CommandError;
use outbound::{DiscordOutbound, DiscordReactions};
use prepbot_core::acks::AckQueue;
use rest::Rest;

/// The bot token. Its `Debug` hides it and it has no `Display`; it goes only to
/// Discord (the REST `Authorization` header and the gateway's IDENTIFY).
#[derive(Clone)]
pub struct Token(String);

impl Token {
    /// Takes the token as Discord shows it; a pasted "Bot " prefix is dropped (it is
    /// added where the token is used).
    pub fn new(token: impl Into<String>) -> Self {
        let token = token.into();
        let bare = token
            .trim()
            .strip_prefix("Bot ")
            .unwrap_or(token.trim())
            .trim();
        Token(bare.to_string())
    }

    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token(***)")
    }
}

/// A setting that keeps the bot from starting; the process exits with status 2.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error(
        "DISCORD_TOKEN is not set: copy the bot token from https://discord.com/developers/applications (Bot tab) and run `DISCORD_TOKEN=<token> prepbot run` (see the README)"
    )]
    MissingToken,
    #[error("PREPBOT_DEV_GUILD must be a server id (a number), not `{0}`")]
    BadDevGuild(String),
    #[error("PREPBOT_DISCORD_API_BASE must look like http://host:port, not `{0}`")]
    BadApiBase(String),
    #[error("PREPBOT_CLAIM_LEASE_SECS must be a number of seconds from 2 to 3600, not `{0}`")]
    BadLease(String),
    #[error(
        "PREPBOT_CATCH_UP_GRACE_MINS must be a number of minutes from 1 to 10080 (a week), not `{0}`"
    )]
    BadGrace(String),
    #[error(
        "PREPBOT_DISCORD_RATE must be a number of requests per second from 1 to 10000, not `{0}`"
    )]
    BadRate(String),
    #[error("{0}")]
    BadBank(String),
    #[error(
        "PREPBOT_SHARDS must be FIRST-LAST/TOTAL with FIRST <= LAST < TOTAL <= 1024 (e.g. 0-1/4, or 2/4 for one shard), not `{0}`"
    )]
    BadShards(String),
}

/// The Discord shards one process serves (`PREPBOT_SHARDS=FIRST-LAST/TOTAL`): Discord
/// sends each server's events to shard `(server id >> 22) % TOTAL`, so processes that
/// split the shards between them split the servers. Every process runs the scheduler
/// on the shared database, whose claims post each drop once whichever process wins.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shards {
    pub first: u32,
    pub last: u32,
    pub total: u32,
}

impl Shards {
    /// One process serving every server: shard 0 of 1.
    pub const ALL: Shards = Shards {
        first: 0,
        last: 0,
        total: 1,
    };

    /// `FIRST-LAST/TOTAL` for the process list in `prepbot status`; `None` when the
    /// process serves every shard.
    pub fn range_text(&self) -> Option<String> {
        (*self != Shards::ALL).then(|| format!("{}-{}/{}", self.first, self.last, self.total))
    }

    /// Reads `FIRST-LAST/TOTAL` or `N/TOTAL`.
    pub fn parse(text: &str) -> Result<Shards, ConfigError> {
        let bad = || ConfigError::BadShards(text.to_string());
        let (range, total) = text.trim().split_once('/').ok_or_else(bad)?;
        let (first, last) = range.split_once('-').unwrap_or((range, range));
        let number = |s: &str| s.trim().parse::<u32>().map_err(|_| bad());
        let shards = Shards {
            first: number(first)?,
            last: number(last)?,
            total: number(total)?,
        };
        // Discord's own ceiling for a bot is far below 1024 shards without its
        // large-bot sharding; a larger number is a typo.
        if shards.total == 0
            || shards.total > 1024
            || shards.first > shards.last
            || shards.last >= shards.total
        {
            return Err(bad());
        }
        Ok(shards)
    }

    /// Whether a server's events come to this process.
    pub fn serves(&self, guild_id: u64) -> bool {
        let shard = ((guild_id >> 22) % u64::from(self.total)) as u32;
        (self.first..=self.last).contains(&shard)
    }
}

/// What `prepbot run` reads from the environment.
#[derive(Debug, Clone)]
pub struct DiscordConfig {
    pub token: Token,
    pub database_url: String,
    /// The shipped bank and a team's packs (`PREPBOT_QUESTIONS`, `PREPBOT_SHIPPED_QUESTIONS`).
    pub bank: BankSources,
    /// Register commands in this guild only (instant), instead of globally.
    pub dev_guild: Option<u64>,
    /// Send every REST call here (and take the gateway URL from it): a fake Discord
    /// in tests, or an API proxy such as twilight-http-proxy.
    pub api_base: Option<String>,
    /// How long a claim on a drop or a reveal holds ([`prepbot_core::practice::LEASE`] by
    /// default): after a crash, a drop whose post may or may not have gone out is
    /// retried (deduplicated) once its claim runs out.
    pub claim_lease: Option<chrono::Duration>,
    /// How late a drop that fell due while the bot was down may still be posted
    /// (`PREPBOT_CATCH_UP_GRACE_MINS`); `None`: until its reveal time.
    pub catch_up_grace: Option<chrono::Duration>,
    /// Requests per second the bot's own REST client paces itself to
    /// (`PREPBOT_DISCORD_RATE`); `None`: [`rest::DEFAULT_RATE`], Discord's global
    /// limit for a bot.
    pub discord_rate: Option<u32>,
    /// The shards this process serves (`PREPBOT_SHARDS`); all of them by default.
    pub shards: Shards,
}

impl DiscordConfig {
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let set = |name: &str| {
            var(name)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let token = set(vars::DISCORD_TOKEN).ok_or(ConfigError::MissingToken)?;
        let dev_guild = set(vars::DEV_GUILD)
            .map(|g| {
                g.parse::<u64>()
                    .ok()
                    .filter(|id| *id > 0)
                    .ok_or(ConfigError::BadDevGuild(g))
            })
            .transpose()?;
        let api_base = set(vars::DISCORD_API_BASE)
            .map(|b| {
                let ok = (b.starts_with("http://") || b.starts_with("https://"))
                    && b.len() > "http://".len();
                if ok {
                    Ok(b.trim_end_matches('/').to_string())
                } else {
                    Err(ConfigError::BadApiBase(b))
                }
            })
            .transpose()?;
        let claim_lease = set(vars::CLAIM_LEASE_SECS)
            .map(|v| prepbot_core::config::claim_lease(&v).ok_or(ConfigError::BadLease(v)))
            .transpose()?;
        let catch_up_grace = set(vars::CATCH_UP_GRACE_MINS)
            .map(|v| prepbot_core::config::catch_up_grace(&v).ok_or(ConfigError::BadGrace(v)))
            .transpose()?;
        let discord_rate = set(vars::DISCORD_RATE)
            .map(|v| {
                v.parse::<u32>()
                    .ok()
                    .filter(|r| (1..=10_000).contains(r))
                    .ok_or(ConfigError::BadRate(v))
            })
            .transpose()?;
        let shards = set(vars::SHARDS)
            .map(|v| Shards::parse(&v))
            .transpose()?
            .unwrap_or(Shards::ALL);
        Ok(DiscordConfig {
            shards,
            token: Token::new(token),
            database_url: set(vars::DATABASE_URL).unwrap_or_else(|| DEFAULT_DATABASE_URL.into()),
            bank: prepbot_core::config::bank_sources(&var).map_err(ConfigError::BadBank)?,
            dev_guild,
            api_base,
            claim_lease,
            catch_up_grace,
            discord_rate,
        })
    }

    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_vars(|name| std::env::var(name).ok())
    }
}

/// Shared by every command and event handler.
pub struct Data {
    pub practice: Practice,
    pub clock: Arc<dyn Clock>,
    /// Wakes the scheduler when a schedule or a drop changed.
    pub wake: Arc<Notify>,
    pub outbound: DiscordOutbound,
    pub acks: AckQueue,
    /// Gateway sessions started (READY received): after the first, a new session
    /// means events may have been missed, so the threads are caught up on again.
    pub sessions: std::sync::atomic::AtomicUsize,
    /// Each member's command budget (see `limit`).
    pub limits: limit::CommandBudget,
    /// Where the adapter's state goes for `prepbot status`: catch-ups and shard
    /// reconnects, decided in one place.
    pub health: Arc<shard_health::ShardHealth>,
}

pub type Context<'a> = poise::Context<'a, Data, CommandError>;

/// Runs the bot until `shutdown` resolves or the gateway connection fails for good.
pub async fn run(
    config: DiscordConfig,
    clock: Arc<dyn Clock>,
    shutdown: impl Future<Output = ()> + Send,
) -> anyhow::Result<()> {
    let runtime = Runtime::start(
        &CoreSettings {
            bank: &config.bank,
            database_url: &config.database_url,
            claim_lease: config.claim_lease,
            catch_up_grace: config.catch_up_grace,
            shards: config.shards.range_text(),
            slack_connections: 0,
        },
        clock.clone(),
    )
    .await?;
    let outcome = serve(config, &runtime, clock, shutdown, |outbound, ready| {
        runtime.start_scheduler(outbound, ready)
    })
    .await;
    runtime.shut_down().await;
    outcome
}

/// One authenticated call before the gateway ([`startup`]): a refused token stops the
/// bot with one line; an unreachable Discord is retried, one line each time (with
/// `PREPBOT_DISCORD_API_BASE`, a fake or a proxy, it is said at once instead).
async fn check_token(config: &DiscordConfig) -> anyhow::Result<()> {
    let base = config.api_base.as_deref().unwrap_or(startup::DISCORD_API);
    let retry = if config.api_base.is_some() {
        startup::Retry::NONE
    } else {
        startup::Retry::DISCORD
    };
    let user = startup::check_token_logged(&http_client()?, base, &config.token, retry).await?;
    info!(user = %user.name, id = %user.id, "Discord accepted the token");
    Ok(())
}

/// Serenity's default HTTP client never times out: a server that accepts the
/// connection and never answers would hang startup (the token check, the gateway
/// probe, command registration) forever.
fn http_client() -> reqwest::Result<reqwest::Client> {
    reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(15))
        // One idle connection kept for command replies: with the gateway's and
        // the REST client's, the bot stays within its connection budget
        // (`rest::DEFAULT_CONCURRENCY`).
        .pool_max_idle_per_host(1)
        .build()
}

/// Serves Discord on a runtime the caller started and shuts down (`prepbot run`
/// serving Discord and Slack shares one runtime and one scheduler): `on_ready` is
/// called once, when the gateway is up and commands are registered, with the
/// outbound and the catch-up the scheduler must wait for. Returns when `shutdown`
/// resolves or the connection fails for good, after the gateway has stopped.
pub async fn serve(
    config: DiscordConfig,
    runtime: &Runtime,
    clock: Arc<dyn Clock>,
    shutdown: impl Future<Output = ()> + Send,
    on_ready: impl FnOnce(DiscordOutbound, std::pin::Pin<Box<dyn Future<Output = ()> + Send>>) + Send,
) -> anyhow::Result<()> {
    // `prepbot status` reads this from the database: connecting, catching up,
    // connected, or stopped and why, with a heartbeat that tells a process that ended
    // without saying.
    let health = HealthRecorder::new(
        runtime.practice.store().clone(),
        &runtime.practice.process().id,
        Platform::Discord,
        clock.clone(),
    );
    prepbot_core::health::recorded(
        &health,
        serve_recording(config, runtime, clock, shutdown, &health, on_ready),
    )
    .await
}

/// [`serve`], recording each stage of the connection in `health`.
async fn serve_recording(
    config: DiscordConfig,
    runtime: &Runtime,
    clock: Arc<dyn Clock>,
    shutdown: impl Future<Output = ()> + Send,
    health: &HealthRecorder,
    on_ready: impl FnOnce(DiscordOutbound, std::pin::Pin<Box<dyn Future<Output = ()> + Send>>) + Send,
) -> anyhow::Result<()> {
    let mut shutdown = std::pin::pin!(shutdown);
    // Every request to Discord waits for a slot of the REST pacing, the start-up's
    // too: the token check, the gateway's URL and the commands' registration go
    // outside the REST client (serenity sends the last two), and with several
    // processes on one database a process starting while the others fan out would
    // otherwise go over the shared rate by those. (Interaction responses are not
    // paced: Discord does not count them against the global limit.)
    let pacer = Arc::new(pacer::Pacer::for_store(
        runtime.practice.store(),
        config.discord_rate.unwrap_or(rest::DEFAULT_RATE),
    ));
    // The token first, before the gateway: a refused one stops with one line.
    // Stopping while the check retries is a clean stop.
    tokio::select! {
        checked = async {
            pacer.wait().await;
            check_token(&config).await
        } => checked?,
        () = &mut shutdown => return Ok(()),
    }
    let practice = runtime.practice.clone();

    let mut http = HttpBuilder::new(config.token.expose())
        .client(http_client()?)
        .default_allowed_mentions(render::no_mentions());
    if let Some(base) = &config.api_base {
        // Serenity honours the proxy only with its ratelimiter off; our own REST client
        // paces the bursts and honours 429s (see `rest`).
        http = http.proxy(base.clone()).ratelimiter_disabled(true);
        // Serenity falls back to the real gateway if this call fails; in proxy mode
        // that must be a startup error instead.
        let probe = HttpBuilder::new(config.token.expose())
            .client(http_client()?)
            .proxy(base.clone())
            .ratelimiter_disabled(true)
            .build();
        pacer.wait().await;
        probe.get_gateway().await.map_err(|e| {
            anyhow::anyhow!(
                "the Discord API at {base} did not answer GET /api/v10/gateway: {}",
                errors::describe_serenity(&e)
            )
        })?;
    }
    let http = http.build();

    let rest = Arc::new(
        Rest::new(
            &config.token,
            config.api_base.as_deref(),
            rest::REST_CONNECTIONS,
        )?
        // Shared with every process on a PostgreSQL database: Discord counts the
        // rate per bot token.
        .with_pacer(pacer.clone()),
    );
    let outbound = DiscordOutbound::new(rest.clone());
    let acks = AckQueue::start(DiscordReactions(rest.clone()));
    let wake = runtime.wake.clone();
    let answer_sink = events::AnswerSink {
        answers: runtime.answers.clone(),
        acks: acks.clone(),
        clock: clock.clone(),
    };
    let shard_health = shard_health::ShardHealth::new(health.clone());
    let data = Data {
        practice: practice.clone(),
        clock: clock.clone(),
        wake: wake.clone(),
        outbound: outbound.clone(),
        acks: acks.clone(),
        sessions: std::sync::atomic::AtomicUsize::new(0),
        limits: limit::CommandBudget::for_store(practice.store(), Platform::Discord),
        health: shard_health.clone(),
    };
    let bot_user = outbound.clone();

    // Setup reports success or failure here; a setup that panics drops the sender,
    // which counts as a failure too.
    let (setup_tx, mut setup_rx) = oneshot::channel::<Result<(), String>>();
    let dev_guild = config.dev_guild.map(GuildId::new);
    let registration_pacer = pacer.clone();
    let framework = poise::Framework::builder()
        .options(commands::options())
        .initialize_owners(false)
        .setup(move |ctx, ready, framework| {
            Box::pin(async move {
                let commands = &framework.options().commands;
                let register = async {
                    registration_pacer.wait().await;
                    match dev_guild {
                        Some(guild) => poise::builtins::register_in_guild(ctx, commands, guild).await,
                        None => poise::builtins::register_globally(ctx, commands).await,
                    }
                    .map_err(|e| errors::describe_serenity(&e))
                };
                let registered = tokio::time::timeout(std::time::Duration::from_secs(30), register)
                    .await
                    .unwrap_or_else(|_| Err("no answer within 30 s".into()));
                if let Err(e) = registered {
                    let why = format!("registering slash commands failed: {e}");
                    // Without this the process would run on with every event waiting
                    // for user data that never comes.
                    let _ = setup_tx.send(Err(why.clone()));
                    return Err(CommandError::Internal(anyhow::anyhow!(why)));
                }
                bot_user.set_bot_user(ready.user.id.get());
                let _ = setup_tx.send(Ok(()));
                info!(user = %ready.user.name, guilds = ready.guilds.len(), dev_guild = ?dev_guild.map(|g| g.get()), "connected; commands registered");
                Ok(data)
            })
        })
        .build();

    let intents =
        GatewayIntents::GUILDS | GatewayIntents::GUILD_MESSAGES | GatewayIntents::MESSAGE_CONTENT;
    let framework = tracked::Tracked {
        inner: framework,
        events: runtime.events.clone(),
        answers: answer_sink,
    };
    // Building the client asks for the gateway's URL.
    pacer.wait().await;
    let mut client = ClientBuilder::new_with_http(http, intents)
        .framework(framework)
        .await
        .map_err(|e| {
            anyhow::anyhow!(
                "cannot build the Discord client: {}",
                errors::describe_serenity(&e)
            )
        })?;
    let ws_url = client.ws_url.lock().await.clone();
    if let Some(base) = &config.api_base {
        check_gateway_url(base, &ws_url)?;
    }

    let shard_manager = client.shard_manager.clone();
    let shards = config.shards;
    if shards != Shards::ALL {
        info!(
            first = shards.first,
            last = shards.last,
            total = shards.total,
            "serving Discord shards {}-{} of {}",
            shards.first,
            shards.last,
            shards.total
        );
    }
    // serenity's `start_shard_range` treats the range's end as the last shard, not
    // one past it.
    #[allow(clippy::range_minus_one)]
    let mut connection =
        std::pin::pin!(client.start_shard_range(shards.first..shards.last, shards.total));
    let mut setup_pending = true;
    let mut on_ready = Some(on_ready);
    let watching = tokio_util::sync::CancellationToken::new();
    let watcher = tokio::spawn(shard_health::watch(
        shard_manager.clone(),
        shards.first..=shards.last,
        shard_health.clone(),
        watching.clone(),
    ));
    let outcome = loop {
        tokio::select! {
            result = &mut connection => {
                break result.map_err(|e| anyhow::anyhow!(connection_failed(&e)));
            }
            setup = &mut setup_rx, if setup_pending => {
                setup_pending = false;
                match setup {
                    Ok(Ok(())) => {
                        // The scheduler starts when the gateway is up (so no answer
                        // posted from now on is missed) and the threads of open drops
                        // are caught up on (so a catch-up reveal counts those answers).
                        let (practice, rest, acks, clock, health) = (
                            practice.clone(),
                            outbound.rest().clone(),
                            acks.clone(),
                            clock.clone(),
                            shard_health.clone(),
                        );
                        if let Some(ready) = on_ready.take() {
                            ready(outbound.clone(), Box::pin(async move {
                                health.catching_up().await;
                                backfill::run(&practice, &rest, &acks, clock.now()).await;
                                health.caught_up().await;
                            }));
                        }
                    }
                    Ok(Err(why)) => break Err(anyhow::anyhow!("startup failed: {why}")),
                    Err(_) => break Err(anyhow::anyhow!("startup failed: the setup step panicked")),
                }
            }
            () = &mut shutdown => {
                info!("shutting down");
                break Ok(());
            }
        }
    };
    watching.cancel();
    let _ = watcher.await;
    // Stop taking events; the caller's runtime drains the rest in order.
    shard_manager.shutdown_all().await;
    outcome
}

/// How long shutdown waits for events being handled, and then for the scheduler.
pub use prepbot_core::runtime::SHUTDOWN_GRACE;

/// Why the gateway connection ended, in one line. Discord closes it when the bot asks
/// for the Message Content intent while the switch is off in the Developer Portal:
/// say which switch, rather than serenity's "Disallowed gateway intents".
fn connection_failed(e: &serenity::Error) -> String {
    use serenity::GatewayError;
    match e {
        serenity::Error::Gateway(GatewayError::DisallowedGatewayIntents) => {
            "Discord refused the Message Content intent: turn on Message Content Intent (Developer Portal, your application, Bot, Privileged Gateway Intents) and start the bot again".into()
        }
        serenity::Error::Gateway(GatewayError::InvalidAuthentication) => {
            "Discord rejected the token on the gateway: copy the token again from https://discord.com/developers/applications (Bot tab, Reset Token) into DISCORD_TOKEN".into()
        }
        other => format!(
            "the Discord connection failed: {}",
            errors::describe_serenity(other)
        ),
    }
}

/// In proxy mode the gateway must be the proxy's, never Discord's.
fn check_gateway_url(api_base: &str, ws_url: &str) -> anyhow::Result<()> {
    let host = |url: &str| -> Option<String> {
        let rest = url.split_once("://")?.1;
        Some(rest.split(['/', '?']).next()?.to_ascii_lowercase())
    };
    let (Some(api_host), Some(ws_host)) = (host(api_base), host(ws_url)) else {
        bail!("cannot read the gateway URL `{ws_url}`");
    };
    if ws_url.contains("discord.gg") || api_host != ws_host {
        bail!(
            "PREPBOT_DISCORD_API_BASE is {api_base} but the gateway URL is {ws_url}: refusing to connect anywhere else"
        );
    }
    Ok(())
}

/// Entry for `prepbot run`: the environment, the wall clock, Ctrl-C and SIGTERM.
pub async fn run_from_env() -> Result<(), RunError> {
    let config = DiscordConfig::from_env().map_err(RunError::Config)?;
    run_with(config).await
}

/// [`run_from_env`] with the question banks the command line chose (`prepbot run
/// --questions DIR`, which itself falls back to `PREPBOT_QUESTIONS`).
pub async fn run_from_env_with_bank(bank: prepbot_core::bank::BankSources) -> Result<(), RunError> {
    let mut config = DiscordConfig::from_env().map_err(RunError::Config)?;
    config.bank = bank;
    run_with(config).await
}

async fn run_with(config: DiscordConfig) -> Result<(), RunError> {
    run(
        config,
        Arc::new(prepbot_core::clock::SystemClock),
        prepbot_core::runtime::shutdown_signal(),
    )
    .await
    .map_err(RunError::Failed)
}

/// Why `prepbot run` stopped.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// A setting is missing or wrong (exit 2).
    #[error(transparent)]
    Config(ConfigError),
    /// Startup or the connection failed (exit 1).
    #[error("{0:#}")]
    Failed(anyhow::Error),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refused_intent_names_the_switch_to_turn_on() {
        let refused = serenity::Error::Gateway(serenity::GatewayError::DisallowedGatewayIntents);
        assert!(
            connection_failed(&refused)
                .starts_with("Discord refused the Message Content intent: turn on"),
            "{}",
            connection_failed(&refused)
        );
        let other = serenity::Error::Gateway(serenity::GatewayError::ReconnectFailure);
        assert_eq!(
            connection_failed(&other),
            "the Discord connection failed: Failed to Reconnect"
        );
    }

    fn vars<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn a_missing_or_blank_token_is_a_config_error_that_says_how_to_fix_it() {
        assert_eq!(
            DiscordConfig::from_vars(vars(&[])).unwrap_err(),
            ConfigError::MissingToken
        );
        let err = DiscordConfig::from_vars(vars(&[("DISCORD_TOKEN", "   ")])).unwrap_err();
        assert_eq!(err, ConfigError::MissingToken);
        assert!(
            err.to_string()
                .contains("DISCORD_TOKEN=<token> prepbot run")
        );
    }

    #[test]
    fn settings_are_read_and_checked() {
        let c = DiscordConfig::from_vars(vars(&[
            ("DISCORD_TOKEN", "abc.def"),
            ("PREPBOT_DEV_GUILD", "123"),
            ("PREPBOT_DISCORD_API_BASE", "http://127.0.0.1:5000/"),
        ]))
        .unwrap();
        assert_eq!(c.dev_guild, Some(123));
        assert_eq!(c.api_base.as_deref(), Some("http://127.0.0.1:5000"));
        assert_eq!(c.database_url, "sqlite://prepbot.db");
        assert_eq!(format!("{:?}", c.token), "Token(***)");
        assert!(
            !format!("{c:?}").contains("abc.def"),
            "the token never shows in Debug"
        );
        let bad = DiscordConfig::from_vars(vars(&[
            ("DISCORD_TOKEN", "t"),
            ("PREPBOT_DEV_GUILD", "my-server"),
        ]));
        assert_eq!(
            bad.unwrap_err(),
            ConfigError::BadDevGuild("my-server".into())
        );
        let bad = DiscordConfig::from_vars(vars(&[
            ("DISCORD_TOKEN", "t"),
            ("PREPBOT_DISCORD_API_BASE", "127.0.0.1:5000"),
        ]));
        assert!(matches!(bad.unwrap_err(), ConfigError::BadApiBase(_)));
    }

    #[test]
    fn the_lease_the_catch_up_grace_and_the_rate_are_bounded() {
        let c = DiscordConfig::from_vars(vars(&[
            ("DISCORD_TOKEN", "t"),
            ("PREPBOT_CLAIM_LEASE_SECS", "30"),
            ("PREPBOT_CATCH_UP_GRACE_MINS", "90"),
        ]))
        .unwrap();
        assert_eq!(c.claim_lease, Some(chrono::Duration::seconds(30)));
        assert_eq!(c.catch_up_grace, Some(chrono::Duration::minutes(90)));
        let c = DiscordConfig::from_vars(vars(&[("DISCORD_TOKEN", "t")])).unwrap();
        assert_eq!((c.claim_lease, c.catch_up_grace), (None, None));
        assert_eq!(c.discord_rate, None);
        for (value, rate) in [("1", 1), ("50", 50), (" 250 ", 250), ("10000", 10_000)] {
            let c = DiscordConfig::from_vars(vars(&[
                ("DISCORD_TOKEN", "t"),
                ("PREPBOT_DISCORD_RATE", value),
            ]))
            .unwrap();
            assert_eq!(c.discord_rate, Some(rate));
        }
        for (name, value) in [
            ("PREPBOT_CLAIM_LEASE_SECS", "1"),
            ("PREPBOT_CLAIM_LEASE_SECS", "two"),
            ("PREPBOT_CATCH_UP_GRACE_MINS", "0"),
            ("PREPBOT_CATCH_UP_GRACE_MINS", "10081"),
            ("PREPBOT_DISCORD_RATE", "0"),
            ("PREPBOT_DISCORD_RATE", "10001"),
            ("PREPBOT_DISCORD_RATE", "fast"),
            ("PREPBOT_DISCORD_RATE", "-5"),
        ] {
            let err = DiscordConfig::from_vars(vars(&[("DISCORD_TOKEN", "t"), (name, value)]))
                .unwrap_err();
            assert!(err.to_string().starts_with(name), "{err}");
            assert!(err.to_string().contains(value), "{err}");
        }
    }

    #[test]
    fn a_pasted_bot_prefix_is_dropped() {
        assert_eq!(Token::new("Bot abc.def").expose(), "abc.def");
        assert_eq!(Token::new("  abc.def ").expose(), "abc.def");
    }

    #[test]
    fn the_gateway_must_be_the_proxy_in_proxy_mode() {
        assert!(check_gateway_url("http://127.0.0.1:5000", "ws://127.0.0.1:5000/gateway").is_ok());
        assert!(check_gateway_url("http://127.0.0.1:5000", "wss://gateway.discord.gg").is_err());
        assert!(check_gateway_url("http://127.0.0.1:5000", "ws://10.0.0.1:5000").is_err());
    }
}

#[cfg(test)]
mod shard_tests {
    use super::{ConfigError, Shards};

    #[test]
    fn shard_ranges_are_read_and_impossible_ones_refused() {
        assert_eq!(
            Shards::parse("0-1/4").unwrap(),
            Shards {
                first: 0,
                last: 1,
                total: 4
            }
        );
        assert_eq!(
            Shards::parse(" 3/4 ").unwrap(),
            Shards {
                first: 3,
                last: 3,
                total: 4
            }
        );
        for bad in [
            "", "4", "0-4/4", "2-1/4", "0/0", "a-b/c", "0-1/", "1-2/2000", "-1/2",
        ] {
            assert!(
                matches!(Shards::parse(bad), Err(ConfigError::BadShards(_))),
                "`{bad}` is refused"
            );
        }
        let err = Shards::parse("0-4/4").unwrap_err().to_string();
        assert!(
            err.starts_with("PREPBOT_SHARDS must be FIRST-LAST/TOTAL"),
            "{err}"
        );
    }

    #[test]
    fn a_server_belongs_to_the_shard_discord_computes() {
        // Discord: shard_id = (guild_id >> 22) % num_shards.
        let guild = (7u64 << 22) | 12345;
        let all = Shards::ALL;
        assert!(all.serves(guild));
        let first_half = Shards::parse("0-1/4").unwrap();
        let second_half = Shards::parse("2-3/4").unwrap();
        // 7 % 4 == 3: the second half's.
        assert!(!first_half.serves(guild));
        assert!(second_half.serves(guild));
        // Every server is served by exactly one of the two.
        for g in (0..1000u64).map(|i| (i * 7919) << 22) {
            assert!(first_half.serves(g) != second_half.serves(g));
        }
    }
}
