//! The check before anything is opened: one authenticated call (`GET /users/@me`), so a
//! token Discord refuses stops the bot at once with one line, and a Discord the machine
//! cannot reach (no network yet at boot, DNS, a firewall) is said in words, once per
//! retry, instead of surfacing later as a gateway error's debug text.
//!
//! It runs before the database is opened, so a start that fails here leaves no file.

use std::time::Duration;

use tracing::warn;

use crate::Token;

/// Discord's API when `PREPBOT_DISCORD_API_BASE` is not set.
pub const DISCORD_API: &str = "https://discord.com";

/// Why the bot cannot start talking to Discord. Each is one line for the operator, with
/// no token and no URL path in it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StartError {
    #[error(
        "Discord rejected the token ({status}): {message}; copy the token again from https://discord.com/developers/applications (Bot tab, Reset Token) into DISCORD_TOKEN"
    )]
    Rejected { status: u16, message: String },
    #[error("cannot reach {host}: {reason}")]
    Unreachable { host: String, reason: String },
    #[error("{host} answered the token check with HTTP {status}: {message}")]
    Refused {
        host: String,
        status: u16,
        message: String,
    },
}

impl StartError {
    /// Worth another try: the network or Discord itself, not the token.
    fn transient(&self) -> bool {
        match self {
            StartError::Unreachable { .. } => true,
            StartError::Refused { status, .. } => *status >= 500 || *status == 429,
            StartError::Rejected { .. } => false,
        }
    }
}

/// How often to try again after a transient failure.
#[derive(Debug, Clone, Copy)]
pub struct Retry {
    pub first: Duration,
    pub max: Duration,
    /// Retries after the first attempt; `None`: until it works or the bot is stopped.
    pub attempts: Option<u32>,
}

impl Retry {
    /// For Discord itself: at boot the network may come up after the bot, and
    /// systemd restarting a bot that gave up would only add noise.
    pub const DISCORD: Retry = Retry {
        first: Duration::from_secs(5),
        max: Duration::from_secs(60),
        attempts: None,
    };
    /// For `PREPBOT_DISCORD_API_BASE` (a fake or a proxy): not answering is a setting
    /// to fix, said at once.
    pub const NONE: Retry = Retry {
        first: Duration::ZERO,
        max: Duration::ZERO,
        attempts: Some(0),
    };
}

/// The bot's own user, as Discord knows it from the token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BotUser {
    pub id: String,
    pub name: String,
}

/// `GET {base}/api/v10/users/@me` with the token, retried per `retry` while the
/// failure is transient; `on_retry` hears each line a retry is logged with.
pub async fn check_token(
    client: &reqwest::Client,
    base: &str,
    token: &Token,
    retry: Retry,
    mut on_retry: impl FnMut(&str),
) -> Result<BotUser, StartError> {
    let mut delay = retry.first;
    let mut retried = 0u32;
    loop {
        match check_once(client, base, token).await {
            Ok(user) => return Ok(user),
            Err(e) if e.transient() && retry.attempts.is_none_or(|n| retried < n) => {
                let line = format!("{e}; retrying in {} s", delay.as_secs_f64().ceil());
                on_retry(&line);
                tokio::time::sleep(delay).await;
                retried += 1;
                delay = (delay * 2).min(retry.max);
            }
            Err(e) => return Err(e),
        }
    }
}

/// [`check_token`] as `prepbot run` calls it: retries logged as warnings.
pub async fn check_token_logged(
    client: &reqwest::Client,
    base: &str,
    token: &Token,
    retry: Retry,
) -> Result<BotUser, StartError> {
    check_token(client, base, token, retry, |line| warn!("{line}")).await
}

async fn check_once(
    client: &reqwest::Client,
    base: &str,
    token: &Token,
) -> Result<BotUser, StartError> {
    let host = host_of(base);
    let response = client
        .get(format!("{base}/api/v10/users/@me"))
        .header(
            reqwest::header::AUTHORIZATION,
            format!("Bot {}", token.expose()),
        )
        .header(reqwest::header::USER_AGENT, crate::rest::USER_AGENT)
        .send()
        .await
        .map_err(|e| StartError::Unreachable {
            host: host.clone(),
            reason: describe_network_error(&e),
        })?;
    let status = response.status().as_u16();
    let body: serde_json::Value = response.json().await.unwrap_or_default();
    let message = body["message"]
        .as_str()
        .unwrap_or("no message")
        .chars()
        .take(200)
        .collect::<String>();
    match status {
        200..=299 => Ok(BotUser {
            id: body["id"].as_str().unwrap_or_default().to_string(),
            name: body["username"].as_str().unwrap_or_default().to_string(),
        }),
        401 => Err(StartError::Rejected { status, message }),
        _ => Err(StartError::Refused {
            host,
            status,
            message,
        }),
    }
}

/// `discord.com` from `https://discord.com`, `127.0.0.1:4000` from `http://127.0.0.1:4000/`.
fn host_of(base: &str) -> String {
    let rest = base.split_once("://").map_or(base, |(_, r)| r);
    rest.split(['/', '?']).next().unwrap_or(rest).to_string()
}

/// A failed request in a few words: what an operator can act on, not the error's
/// debug text (`hyper_util::client::legacy::Error(Connect, ConnectError(...))`).
pub fn describe_network_error(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        return "no answer in time".into();
    }
    let mut innermost = e.to_string();
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(s) = source {
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            use std::io::ErrorKind::*;
            let said = match io.kind() {
                ConnectionRefused => Some("connection refused"),
                ConnectionReset | ConnectionAborted => Some("the connection was cut"),
                HostUnreachable => Some("no route to host"),
                NetworkUnreachable => Some("the network is unreachable"),
                TimedOut => Some("the connection timed out"),
                _ => None,
            };
            if let Some(said) = said {
                return said.into();
            }
        }
        let text = s.to_string();
        // hyper-util's resolver error reads "dns error"; its cause, "failed to lookup
        // address information: ...", varies by system.
        if text.contains("dns error") || text.contains("failed to lookup address") {
            return "DNS lookup failed".into();
        }
        innermost = text;
        source = s.source();
    }
    innermost
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dead_port() -> u16 {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    }

    #[tokio::test]
    async fn an_unreachable_api_is_one_readable_line_per_retry() {
        let port = dead_port();
        let client = reqwest::Client::new();
        let mut lines = Vec::new();
        let retry = Retry {
            first: Duration::from_millis(10),
            max: Duration::from_millis(20),
            attempts: Some(2),
        };
        let err = check_token(
            &client,
            &format!("http://127.0.0.1:{port}"),
            &Token::new("secret-token"),
            retry,
            |l| lines.push(l.to_string()),
        )
        .await
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("cannot reach 127.0.0.1:{port}: connection refused")
        );
        assert_eq!(
            lines,
            [
                format!("cannot reach 127.0.0.1:{port}: connection refused; retrying in 1 s"),
                format!("cannot reach 127.0.0.1:{port}: connection refused; retrying in 1 s"),
            ],
            "two retries, then the error"
        );
    }

    #[tokio::test]
    async fn a_name_that_does_not_resolve_says_dns() {
        let client = reqwest::Client::new();
        // `.invalid` never resolves (RFC 2606), with or without a network.
        let err = check_token(
            &client,
            "http://prepbot-check.invalid",
            &Token::new("secret-token"),
            Retry::NONE,
            |_| panic!("no retry"),
        )
        .await
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "cannot reach prepbot-check.invalid: DNS lookup failed"
        );
    }

    #[test]
    fn hosts_are_named_without_paths() {
        assert_eq!(host_of("https://discord.com"), "discord.com");
        assert_eq!(host_of("http://127.0.0.1:4000/"), "127.0.0.1:4000");
    }
}
