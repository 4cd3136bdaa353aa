//! The Slack adapter: Socket Mode events and the `/prep` command into [`Practice`]
//! calls, and the scheduler's output into Block Kit messages.
//!
//! - [`api`]: every Web API call, through one wrapper, and its errors.
//! - [`render`]: Block Kit, escaping, the markers that make posts findable.
//! - [`outbound`]: drops and reveals (the core's `Outbound`), reactions.
//! - [`events`]: answers, edits and deletes from `message` events.
//! - [`commands`]: `/prep` and its subcommands.
//! - [`history`]: a drop's thread listed again, for the core's catch-up.
//! - [`names`]: members' display names, cached off the ingest path.
//! - [`socket`]: the Socket Mode session and the runner.
//!
//! [`Practice`]: prepbot_core::practice::Practice

pub mod api;
pub mod commands;
pub mod events;
pub mod history;
pub mod names;
pub mod outbound;
pub mod render;
pub mod socket;

use prepbot_core::bank::BankSources;
use prepbot_core::config::{DEFAULT_DATABASE_URL, vars};

pub use socket::{RunError, run, run_from_env, run_from_env_with_bank};

use api::{ApiBase, Secret};

/// A setting that keeps the Slack adapter from starting; the process exits with 2.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error(
        "SLACK_APP_TOKEN is not set: Slack needs both SLACK_BOT_TOKEN (xoxb-…) and SLACK_APP_TOKEN (xapp-…, with connections:write); see docs/SLACK.md"
    )]
    MissingAppToken,
    #[error(
        "SLACK_BOT_TOKEN is not set: Slack needs both SLACK_BOT_TOKEN (xoxb-…) and SLACK_APP_TOKEN (xapp-…, with connections:write); see docs/SLACK.md"
    )]
    MissingBotToken,
    #[error("PREPBOT_SLACK_API_BASE: {0}")]
    BadApiBase(String),
    #[error("PREPBOT_CLAIM_LEASE_SECS must be a number of seconds from 2 to 3600, not `{0}`")]
    BadLease(String),
    #[error(
        "PREPBOT_CATCH_UP_GRACE_MINS must be a number of minutes from 1 to 10080 (a week), not `{0}`"
    )]
    BadGrace(String),
    #[error(
        "PREPBOT_SLACK_CONNECTIONS must be a number of Socket Mode connections from 1 to {max}, not `{0}`: Slack allows {max} per app, counting every process (processes x connections <= {max})",
        max = MAX_SOCKET_CONNECTIONS
    )]
    BadConnections(String),
    #[error("{0}")]
    BadBank(String),
}

/// Slack's limit on an app's open Socket Mode connections, whichever processes hold
/// them: the app-level token is the app's, so every process serving it counts.
pub const MAX_SOCKET_CONNECTIONS: u32 = prepbot_core::process::SLACK_CONNECTIONS_PER_APP;

/// One connection per process: the most processes (10) can share the app, and
/// every event is applied idempotently, so a connection's refresh costs a retry
/// from Slack (and a catch-up of open threads), not an answer. A lone process may
/// set 2, so that a `/prep` typed during a refresh still reaches it.
pub const DEFAULT_SOCKET_CONNECTIONS: u32 = 1;

/// `PREPBOT_SLACK_CONNECTIONS` read: 1 to [`MAX_SOCKET_CONNECTIONS`], `None` for
/// anything else.
pub fn socket_connections(text: &str) -> Option<u32> {
    text.parse::<u32>()
        .ok()
        .filter(|n| (1..=MAX_SOCKET_CONNECTIONS).contains(n))
}

/// What the Slack adapter reads from the environment.
#[derive(Debug, Clone)]
pub struct SlackConfig {
    pub bot_token: Secret,
    pub app_token: Secret,
    pub api_base: ApiBase,
    /// `PREPBOT_SLACK_ADMINS`: member ids who may run admin subcommands anywhere.
    pub admins: Vec<String>,
    pub database_url: String,
    /// The shipped bank and a team's packs (`PREPBOT_QUESTIONS`, `PREPBOT_SHIPPED_QUESTIONS`).
    pub bank: BankSources,
    pub claim_lease: Option<chrono::Duration>,
    pub catch_up_grace: Option<chrono::Duration>,
    /// `PREPBOT_SLACK_CONNECTIONS`: the Socket Mode connections this process opens.
    pub connections: u32,
}

impl SlackConfig {
    /// Whether either Slack token is set (the adapter is wanted at all).
    pub fn wanted(var: &impl Fn(&str) -> Option<String>) -> bool {
        [vars::SLACK_BOT_TOKEN, vars::SLACK_APP_TOKEN]
            .iter()
            .any(|n| var(n).is_some_and(|v| !v.trim().is_empty()))
    }

    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let set = |name: &str| {
            var(name)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let bot = set(vars::SLACK_BOT_TOKEN);
        let app = set(vars::SLACK_APP_TOKEN);
        let (bot, app) = match (bot, app) {
            (Some(b), Some(a)) => (b, a),
            (Some(_), None) => return Err(ConfigError::MissingAppToken),
            (None, _) => return Err(ConfigError::MissingBotToken),
        };
        let api_base = match set(vars::SLACK_API_BASE) {
            Some(b) => ApiBase::parse(&b).map_err(ConfigError::BadApiBase)?,
            None => ApiBase::slack(),
        };
        let claim_lease = set(vars::CLAIM_LEASE_SECS)
            .map(|v| prepbot_core::config::claim_lease(&v).ok_or(ConfigError::BadLease(v)))
            .transpose()?;
        let catch_up_grace = set(vars::CATCH_UP_GRACE_MINS)
            .map(|v| prepbot_core::config::catch_up_grace(&v).ok_or(ConfigError::BadGrace(v)))
            .transpose()?;
        let connections = match set(vars::SLACK_CONNECTIONS) {
            Some(v) => socket_connections(&v).ok_or(ConfigError::BadConnections(v))?,
            None => DEFAULT_SOCKET_CONNECTIONS,
        };
        Ok(SlackConfig {
            bot_token: Secret::new(bot),
            app_token: Secret::new(app),
            api_base,
            admins: set(vars::SLACK_ADMINS)
                .map(|a| {
                    a.split(',')
                        .map(|s| s.trim().to_string())
                        .filter(|s| !s.is_empty())
                        .collect()
                })
                .unwrap_or_default(),
            database_url: set(vars::DATABASE_URL).unwrap_or_else(|| DEFAULT_DATABASE_URL.into()),
            bank: prepbot_core::config::bank_sources(&var).map_err(ConfigError::BadBank)?,
            claim_lease,
            catch_up_grace,
            connections,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn both_tokens_are_needed_and_the_missing_one_is_named() {
        let only_bot = SlackConfig::from_vars(vars(&[("SLACK_BOT_TOKEN", "xoxb-1")]));
        assert_eq!(only_bot.unwrap_err(), ConfigError::MissingAppToken);
        let only_app = SlackConfig::from_vars(vars(&[("SLACK_APP_TOKEN", "xapp-1")]));
        assert_eq!(only_app.unwrap_err(), ConfigError::MissingBotToken);
        assert!(
            ConfigError::MissingAppToken
                .to_string()
                .starts_with("SLACK_APP_TOKEN")
        );
        assert!(!SlackConfig::wanted(&vars(&[("SLACK_BOT_TOKEN", " ")])));
        assert!(SlackConfig::wanted(&vars(&[("SLACK_APP_TOKEN", "xapp-1")])));
        let c = SlackConfig::from_vars(vars(&[
            ("SLACK_BOT_TOKEN", "xoxb-secret"),
            ("SLACK_APP_TOKEN", "xapp-secret"),
            ("PREPBOT_SLACK_ADMINS", "U1, U2,,"),
            ("PREPBOT_SLACK_API_BASE", "http://127.0.0.1:9/api"),
        ]))
        .unwrap();
        assert_eq!(c.admins, ["U1", "U2"]);
        assert!(!format!("{c:?}").contains("secret"));
        let bad = SlackConfig::from_vars(vars(&[
            ("SLACK_BOT_TOKEN", "xoxb-1"),
            ("SLACK_APP_TOKEN", "xapp-1"),
            ("PREPBOT_SLACK_API_BASE", "slack.com"),
        ]));
        assert!(matches!(bad.unwrap_err(), ConfigError::BadApiBase(_)));
    }

    #[test]
    fn socket_connections_are_1_to_10_and_a_bad_count_names_the_variable_and_the_limit() {
        let with = |n: &'static str| {
            SlackConfig::from_vars(vars(&[
                ("SLACK_BOT_TOKEN", "xoxb-1"),
                ("SLACK_APP_TOKEN", "xapp-1"),
                ("PREPBOT_SLACK_CONNECTIONS", n),
            ]))
        };
        let default = SlackConfig::from_vars(vars(&[
            ("SLACK_BOT_TOKEN", "xoxb-1"),
            ("SLACK_APP_TOKEN", "xapp-1"),
        ]))
        .unwrap();
        assert_eq!(default.connections, 1);
        assert_eq!(with("1").unwrap().connections, 1);
        assert_eq!(with(" 2 ").unwrap().connections, 2);
        assert_eq!(with("10").unwrap().connections, 10);
        for bad in ["0", "11", "-1", "two", "2.5", "4294967296"] {
            let err = with(bad).unwrap_err();
            assert_eq!(err, ConfigError::BadConnections(bad.into()), "{bad}");
            let line = err.to_string();
            assert!(
                line.starts_with("PREPBOT_SLACK_CONNECTIONS must be")
                    && line.contains("from 1 to 10")
                    && line.contains(&format!("`{bad}`"))
                    && line.contains("processes x connections <= 10")
                    && !line.contains('\n'),
                "{line}"
            );
        }
    }
}
