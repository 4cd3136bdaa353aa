//! Every Slack Web API call the adapter makes, through one wrapper ([`SlackApi`]):
//! slack-morphism's client over a connector that speaks https with the bundled web
//! PKI roots, or plain http when `PREPBOT_SLACK_API_BASE` points at a local fake.
//! [`METHODS`] names each method with the scope it needs; a test checks that list
//! against the app manifest (`slack/manifest.yml`), so the manifest asks for exactly
//! what the code uses.
//!
//! Responses the adapter reads from other people's messages (history, replies) are
//! decoded into the few fields it needs, not slack-morphism's full message type: one
//! unexpected field in another app's message (a numeric metadata value, a new block
//! type) must not make a whole page unreadable.

use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use slack_morphism::errors::SlackClientError;
use slack_morphism::prelude::*;
use tracing::warn;

/// A Web API method the adapter calls, and the scope its token needs for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Method {
    pub name: &'static str,
    /// The bot scopes that allow it (any one of them), or the app-level scope for
    /// `apps.connections.open`; empty when the method needs none.
    pub scopes: &'static [&'static str],
}

pub const AUTH_TEST: Method = Method {
    name: "auth.test",
    scopes: &[],
};
pub const CONNECTIONS_OPEN: Method = Method {
    name: "apps.connections.open",
    scopes: &["connections:write"],
};
pub const POST_MESSAGE: Method = Method {
    name: "chat.postMessage",
    scopes: &["chat:write"],
};
pub const HISTORY: Method = Method {
    name: "conversations.history",
    scopes: &["channels:history", "groups:history"],
};
pub const REPLIES: Method = Method {
    name: "conversations.replies",
    scopes: &["channels:history", "groups:history"],
};
pub const CONVERSATION_INFO: Method = Method {
    name: "conversations.info",
    scopes: &["channels:read", "groups:read"],
};
pub const REACTIONS_ADD: Method = Method {
    name: "reactions.add",
    scopes: &["reactions:write"],
};
pub const USERS_INFO: Method = Method {
    name: "users.info",
    scopes: &["users:read"],
};

/// Every method the adapter calls: the manifest's scopes must cover exactly these.
pub const METHODS: &[Method] = &[
    AUTH_TEST,
    CONNECTIONS_OPEN,
    POST_MESSAGE,
    HISTORY,
    REPLIES,
    CONVERSATION_INFO,
    REACTIONS_ADD,
    USERS_INFO,
];

/// How long one Web API call may take before its outcome is taken as unknown.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(20);

/// How often slack-morphism's rate control retries a 429 itself (waiting
/// `Retry-After` each time) before the call fails as "retry after N s".
pub const RATE_LIMIT_RETRIES: usize = 2;

/// A token the adapter holds. `Debug` hides it and there is no `Display`: it goes
/// only into the `Authorization` header slack-morphism sets.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    pub fn new(token: impl Into<String>) -> Self {
        Secret(token.into().trim().to_string())
    }

    /// The token as slack-morphism takes it (for the Socket Mode listener).
    pub(crate) fn api_token_for_socket(&self) -> SlackApiToken {
        self.api_token()
    }

    fn api_token(&self) -> SlackApiToken {
        SlackApiToken::new(SlackApiTokenValue(self.0.clone()))
    }

    /// Whether the token starts as Slack's tokens of this kind do (`xoxb-`, `xapp-`).
    pub fn has_prefix(&self, prefix: &str) -> bool {
        self.0.starts_with(prefix)
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// A failed call, as the adapter acts on it. Its text never carries a token: Slack's
/// error code, an HTTP status, or a transport failure in a few words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiError {
    /// `{"ok": false, "error": code}`.
    #[error("Slack refused {method}: {code}")]
    Refused { method: &'static str, code: String },
    /// A 429 slack-morphism's own retries did not outlast.
    #[error("Slack rate-limited {method} (retry after {retry_after:?})")]
    RateLimited {
        method: &'static str,
        retry_after: Option<Duration>,
    },
    /// A 5xx, a timeout, a broken connection or an unreadable answer: the call may
    /// or may not have taken effect.
    #[error("Slack's answer to {method} was lost: {why}")]
    Unknown { method: &'static str, why: String },
}

impl ApiError {
    /// Slack's error code, for a refusal.
    pub fn code(&self) -> Option<&str> {
        match self {
            ApiError::Refused { code, .. } => Some(code),
            _ => None,
        }
    }

    /// The token itself was rejected: the adapter cannot act at all.
    pub fn is_auth(&self) -> bool {
        self.code().is_some_and(|c| {
            matches!(
                c,
                "invalid_auth"
                    | "not_authed"
                    | "token_revoked"
                    | "token_expired"
                    | "account_inactive"
                    | "app_uninstalled"
            )
        })
    }

    /// A failure of a call made outside the wrapper's methods (a `response_url`, the
    /// Socket Mode listener's own `apps.connections.open`).
    pub(crate) fn from_webhook(e: SlackClientError) -> Self {
        Self::from_client("response_url", e)
    }

    fn from_client(method: &'static str, e: SlackClientError) -> Self {
        match e {
            SlackClientError::ApiError(api) => ApiError::Refused {
                method,
                code: api.code,
            },
            SlackClientError::RateLimitError(rl) => ApiError::RateLimited {
                method,
                retry_after: rl.retry_after,
            },
            SlackClientError::HttpError(http) => ApiError::Unknown {
                method,
                why: format!("HTTP {}", http.status_code.as_u16()),
            },
            // Neither carries a URL or a header: a short kind is enough, and safe.
            SlackClientError::ProtocolError(_) => ApiError::Unknown {
                method,
                why: "an answer that is not Slack's JSON".into(),
            },
            SlackClientError::HttpProtocolError(_) => ApiError::Unknown {
                method,
                why: "the connection failed".into(),
            },
            SlackClientError::EndOfStream(_)
            | SlackClientError::SystemError(_)
            | SlackClientError::SocketModeProtocolError(_) => ApiError::Unknown {
                method,
                why: "the client failed".into(),
            },
        }
    }
}

/// The connector every call goes through: https with the bundled web PKI roots, and
/// plain http only for a base the operator set (a local fake).
pub type Connector = SlackClientHyperConnector<
    hyper_rustls::HttpsConnector<hyper_util::client::legacy::connect::HttpConnector>,
>;

/// Where the Web API is: Slack's, or the operator's `PREPBOT_SLACK_API_BASE`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiBase {
    /// Without a trailing slash: methods go to `{base}/{method}`.
    pub url: String,
    /// Set when the operator chose the base: URLs Slack hands out (the Socket Mode
    /// WebSocket, a command's `response_url`) must then be on this host too.
    pub pinned_host: Option<(String, Option<u16>)>,
}

impl ApiBase {
    pub fn slack() -> Self {
        ApiBase {
            url: SlackClientHttpApiUri::SLACK_API_URI_STR.to_string(),
            pinned_host: None,
        }
    }

    /// Parses `PREPBOT_SLACK_API_BASE` (`http(s)://host[:port][/path]`).
    pub fn parse(base: &str) -> Result<Self, String> {
        let url = url::Url::parse(base.trim())
            .map_err(|e| format!("`{base}` is not a URL ({e}); e.g. http://127.0.0.1:8080/api"))?;
        if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
            return Err(format!(
                "`{base}` must be an http(s) URL with a host, e.g. http://127.0.0.1:8080/api"
            ));
        }
        let host = url.host_str().unwrap_or_default().to_string();
        Ok(ApiBase {
            url: url.as_str().trim_end_matches('/').to_string(),
            pinned_host: Some((host, url.port_or_known_default())),
        })
    }

    /// Whether a URL Slack handed out may be used: any on Slack's own service, only
    /// the base's host when a base is set.
    pub fn allows(&self, other: &str) -> bool {
        let Ok(url) = url::Url::parse(other) else {
            return false;
        };
        match &self.pinned_host {
            None => true,
            Some((host, port)) => {
                url.host_str() == Some(host.as_str()) && url.port_or_known_default() == *port
            }
        }
    }
}

fn connector(base: &ApiBase) -> Connector {
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_webpki_roots()
        .https_or_http()
        .enable_http1()
        .build();
    with_rate_control(base, https)
}

fn with_rate_control(
    base: &ApiBase,
    https: hyper_rustls::HttpsConnector<hyper_util::client::legacy::connect::HttpConnector>,
) -> Connector {
    SlackClientHyperConnector::with_connector(https)
        .with_slack_api_url(&base.url)
        .with_rate_control(
            SlackApiRateControlConfig::new()
                .with_max_retries(RATE_LIMIT_RETRIES)
                // A wait longer than this fails the call ("retry after"), so the
                // scheduler, not a held task, waits it out.
                .with_max_delay_timeout(Duration::from_secs(30)),
        )
}

/// Who the bot is, from `auth.test`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub user_id: String,
    pub team_id: String,
    pub bot_id: Option<String>,
}

/// One message from a history or a thread listing: the fields the adapter reads.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ListedMessage {
    pub ts: String,
    #[serde(default)]
    pub user: Option<String>,
    #[serde(default)]
    pub bot_id: Option<String>,
    #[serde(default)]
    pub subtype: Option<String>,
    #[serde(default)]
    pub text: Option<String>,
    #[serde(default)]
    pub thread_ts: Option<String>,
    #[serde(default)]
    pub edited: Option<Edited>,
    /// Only each block's `block_id` is read: the marker of a post of the bot's own.
    #[serde(default)]
    pub blocks: Vec<BlockId>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct Edited {
    #[serde(default)]
    pub user: Option<String>,
    pub ts: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct BlockId {
    #[serde(default)]
    pub block_id: Option<String>,
}

impl ListedMessage {
    pub fn has_block(&self, block_id: &str) -> bool {
        self.blocks
            .iter()
            .any(|b| b.block_id.as_deref() == Some(block_id))
    }
}

/// One page of a listing and the cursor of the next, if any.
#[derive(Debug, Clone, Default)]
pub struct Page {
    pub messages: Vec<ListedMessage>,
    pub next_cursor: Option<String>,
}

#[derive(Deserialize)]
struct PageBody {
    #[serde(default)]
    messages: Vec<Value>,
    #[serde(default)]
    response_metadata: Option<Cursor>,
}

#[derive(Deserialize)]
struct Cursor {
    #[serde(default)]
    next_cursor: Option<String>,
}

/// A conversation as `conversations.info` describes it.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Conversation {
    pub id: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub creator: Option<String>,
    #[serde(default)]
    pub is_member: Option<bool>,
    #[serde(default)]
    pub is_archived: Option<bool>,
}

/// A member as `users.info` describes them.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct User {
    pub id: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub is_admin: Option<bool>,
    #[serde(default)]
    pub is_owner: Option<bool>,
    #[serde(default)]
    pub is_bot: Option<bool>,
    #[serde(default)]
    pub profile: Option<Profile>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct Profile {
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(default)]
    pub real_name: Option<String>,
}

impl User {
    /// The name people see: the display name, else the real name, else the handle.
    pub fn display_name(&self) -> String {
        let profile = self.profile.as_ref();
        [
            profile.and_then(|p| p.display_name.clone()),
            profile.and_then(|p| p.real_name.clone()),
            self.name.clone(),
        ]
        .into_iter()
        .flatten()
        .find(|n| !n.trim().is_empty())
        .unwrap_or_else(|| self.id.clone())
    }
}

/// The Web API with the bot's token (and the app token, for Socket Mode).
#[derive(Clone)]
pub struct SlackApi {
    client: Arc<SlackClient<Connector>>,
    bot: SlackApiToken,
    base: ApiBase,
}

impl std::fmt::Debug for SlackApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SlackApi")
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

fn tier(method: Method) -> Option<&'static SlackApiMethodRateControlConfig> {
    // Slack's documented tiers; `chat.postMessage` is "special" (about one a second
    // per channel), left to Slack's 429 and the scheduler's pacing.
    Some(match method.name {
        "auth.test" | "apps.connections.open" => &SLACK_TIER1_METHOD_CONFIG,
        "conversations.history" | "conversations.replies" | "conversations.info" => {
            &SLACK_TIER3_METHOD_CONFIG
        }
        "reactions.add" => &SLACK_TIER3_METHOD_CONFIG,
        "users.info" => &SLACK_TIER4_METHOD_CONFIG,
        _ => return None,
    })
}

impl SlackApi {
    pub fn new(bot_token: &Secret, base: ApiBase) -> Self {
        SlackApi {
            client: Arc::new(SlackClient::new(connector(&base))),
            bot: bot_token.api_token(),
            base,
        }
    }

    /// With a TLS configuration of the caller's (a test's own certificate
    /// authority), instead of the bundled web PKI roots.
    #[cfg(test)]
    fn with_tls(
        bot_token: &Secret,
        base: ApiBase,
        tls: tokio_rustls::rustls::ClientConfig,
    ) -> Self {
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .build();
        SlackApi {
            client: Arc::new(SlackClient::new(with_rate_control(&base, https))),
            bot: bot_token.api_token(),
            base,
        }
    }

    pub fn base(&self) -> &ApiBase {
        &self.base
    }

    /// slack-morphism's client, for its Socket Mode listener.
    pub fn client(&self) -> Arc<SlackClient<Connector>> {
        self.client.clone()
    }

    async fn get<RS: DeserializeOwned + Send>(
        &self,
        method: Method,
        params: &[(&str, Option<&str>)],
    ) -> Result<RS, ApiError> {
        let session = self.client.open_session(&self.bot);
        let params: Vec<(&str, Option<&str>)> = params.to_vec();
        match tokio::time::timeout(
            CALL_TIMEOUT,
            session
                .http_session_api
                .http_get::<RS, _, _>(method.name, &params, tier(method)),
        )
        .await
        {
            Ok(r) => r.map_err(|e| ApiError::from_client(method.name, e)),
            Err(_) => Err(ApiError::Unknown {
                method: method.name,
                why: "timed out".into(),
            }),
        }
    }

    async fn post<RQ, RS>(&self, method: Method, body: &RQ) -> Result<RS, ApiError>
    where
        RQ: serde::Serialize + Send + Sync,
        RS: DeserializeOwned + Send,
    {
        let session = self.client.open_session(&self.bot);
        match tokio::time::timeout(
            CALL_TIMEOUT,
            session
                .http_session_api
                .http_post::<RQ, RS>(method.name, body, tier(method)),
        )
        .await
        {
            Ok(r) => r.map_err(|e| ApiError::from_client(method.name, e)),
            Err(_) => Err(ApiError::Unknown {
                method: method.name,
                why: "timed out".into(),
            }),
        }
    }

    /// `auth.test`: who the bot is; fails on a rejected token.
    pub async fn auth_test(&self) -> Result<Identity, ApiError> {
        #[derive(Deserialize)]
        struct Body {
            user_id: String,
            team_id: String,
            #[serde(default)]
            bot_id: Option<String>,
        }
        let b: Body = self.post(AUTH_TEST, &serde_json::json!({})).await?;
        Ok(Identity {
            user_id: b.user_id,
            team_id: b.team_id,
            bot_id: b.bot_id,
        })
    }

    /// `apps.connections.open` with the app-level token: a Socket Mode URL, checked
    /// against the pinned host. Used once at start to check the app token; the
    /// listener opens its own connections.
    pub async fn open_connection(&self, app_token: &Secret) -> Result<String, ApiError> {
        let token = app_token.api_token();
        let session = self.client.open_session(&token);
        let request = SlackApiAppsConnectionOpenRequest::new();
        let call = session.apps_connections_open(&request);
        let url = match tokio::time::timeout(CALL_TIMEOUT, call).await {
            Ok(r) => r.map_err(|e| ApiError::from_client(CONNECTIONS_OPEN.name, e))?,
            Err(_) => {
                return Err(ApiError::Unknown {
                    method: CONNECTIONS_OPEN.name,
                    why: "timed out".into(),
                });
            }
        };
        let url = url.url.0.to_string();
        if !self.base.allows(&url) {
            return Err(ApiError::Refused {
                method: CONNECTIONS_OPEN.name,
                code: "a Socket Mode URL on another host than PREPBOT_SLACK_API_BASE".into(),
            });
        }
        Ok(url)
    }

    /// `chat.postMessage`; returns the message's `ts`.
    pub async fn post_message(&self, message: &Value) -> Result<String, ApiError> {
        #[derive(Deserialize)]
        struct Body {
            ts: String,
        }
        let b: Body = self.post(POST_MESSAGE, message).await?;
        Ok(b.ts)
    }

    fn page(method: &'static str, body: PageBody) -> Page {
        let messages = body
            .messages
            .into_iter()
            .filter_map(|m| match serde_json::from_value::<ListedMessage>(m) {
                Ok(m) => Some(m),
                Err(e) => {
                    // One odd message must not hide the others.
                    warn!(method, error = %e, "skipping a message Slack listed that could not be read");
                    None
                }
            })
            .collect();
        Page {
            messages,
            next_cursor: body
                .response_metadata
                .and_then(|c| c.next_cursor)
                .filter(|c| !c.is_empty()),
        }
    }

    /// `conversations.history`: the channel's latest top-level messages.
    pub async fn history(&self, channel: &str, limit: u32) -> Result<Page, ApiError> {
        let limit = limit.to_string();
        let body: PageBody = self
            .get(
                HISTORY,
                &[("channel", Some(channel)), ("limit", Some(&limit))],
            )
            .await?;
        Ok(Self::page(HISTORY.name, body))
    }

    /// `conversations.replies`: one page of a thread, its parent first.
    pub async fn replies(
        &self,
        channel: &str,
        thread_ts: &str,
        cursor: Option<&str>,
        limit: u32,
    ) -> Result<Page, ApiError> {
        let limit = limit.to_string();
        let body: PageBody = self
            .get(
                REPLIES,
                &[
                    ("channel", Some(channel)),
                    ("ts", Some(thread_ts)),
                    ("cursor", cursor),
                    ("limit", Some(&limit)),
                ],
            )
            .await?;
        Ok(Self::page(REPLIES.name, body))
    }

    /// `conversations.info`.
    pub async fn conversation(&self, channel: &str) -> Result<Conversation, ApiError> {
        #[derive(Deserialize)]
        struct Body {
            channel: Conversation,
        }
        let b: Body = self
            .get(CONVERSATION_INFO, &[("channel", Some(channel))])
            .await?;
        Ok(b.channel)
    }

    /// `users.info`.
    pub async fn user(&self, user: &str) -> Result<User, ApiError> {
        #[derive(Deserialize)]
        struct Body {
            user: User,
        }
        let b: Body = self.get(USERS_INFO, &[("user", Some(user))]).await?;
        Ok(b.user)
    }

    /// `reactions.add`; `already_reacted` counts as done (a retried acknowledgement).
    pub async fn react(&self, channel: &str, ts: &str, emoji: &str) -> Result<(), ApiError> {
        let body = serde_json::json!({ "channel": channel, "timestamp": ts, "name": emoji });
        match self.post::<_, Value>(REACTIONS_ADD, &body).await {
            Ok(_) => Ok(()),
            Err(e) if e.code() == Some("already_reacted") => Ok(()),
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pinned_base_allows_only_its_own_host_and_port() {
        let base = ApiBase::parse("http://127.0.0.1:8080/api/").unwrap();
        assert_eq!(base.url, "http://127.0.0.1:8080/api");
        assert!(base.allows("ws://127.0.0.1:8080/link?ticket=1"));
        assert!(!base.allows("wss://wss-primary.slack.com/link"));
        assert!(!base.allows("ws://127.0.0.1:9090/link"));
        assert!(!base.allows("not a url"));
        assert!(ApiBase::slack().allows("wss://wss-primary.slack.com/link"));
        assert!(ApiBase::parse("ftp://x").is_err());
        assert!(ApiBase::parse("127.0.0.1:80").is_err());
    }

    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio_rustls::rustls;
    use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};

    use prepbot_testkit::test_pki;

    /// A TLS server on 127.0.0.1 answering one `auth.test`; sends what it saw (the
    /// server name and the request head), or `None` for a failed handshake.
    async fn tls_server(
        cert: CertificateDer<'static>,
        key: PrivateKeyDer<'static>,
    ) -> (
        u16,
        tokio::sync::mpsc::UnboundedReceiver<Option<(String, String)>>,
    ) {
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert], key)
        .unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let (acceptor, tx) = (acceptor.clone(), tx.clone());
                tokio::spawn(async move {
                    let Ok(mut tls) = acceptor.accept(tcp).await else {
                        let _ = tx.send(None);
                        return;
                    };
                    let sni = tls
                        .get_ref()
                        .1
                        .server_name()
                        .unwrap_or_default()
                        .to_string();
                    let mut seen = Vec::new();
                    let mut buf = [0u8; 4096];
                    while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
                        match tls.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => seen.extend_from_slice(&buf[..n]),
                        }
                    }
                    let _ = tx.send(Some((sni, String::from_utf8_lossy(&seen).into_owned())));
                    let body = r#"{"ok":true,"user_id":"UBOT","team_id":"T1","bot_id":"B1"}"#;
                    let answer = format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = tls.write_all(answer.as_bytes()).await;
                    let _ = tls.flush().await;
                    let _ = tls.read(&mut buf).await;
                });
            }
        });
        (port, rx)
    }

    #[tokio::test]
    async fn https_checks_the_certificate_and_carries_the_token_only_in_its_header() {
        let (ca, cert, key) = test_pki();
        let (port, mut seen) = tls_server(cert, key).await;
        let mut roots = rustls::RootCertStore::empty();
        roots.add(ca).unwrap();
        let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
        let base = ApiBase::parse(&format!("https://localhost:{port}/api")).unwrap();
        let api = SlackApi::with_tls(&Secret::new("xoxb-tls-test"), base, tls);
        let me = api.auth_test().await.expect("auth.test over TLS");
        assert_eq!(me.user_id, "UBOT");
        let Some(Some((sni, head))) = seen.recv().await else {
            panic!("no request reached the server");
        };
        assert_eq!(sni, "localhost");
        assert!(
            head.starts_with("POST /api/auth.test HTTP/1.1\r\n"),
            "{head}"
        );
        assert!(
            head.to_ascii_lowercase()
                .contains("\r\nauthorization: bearer xoxb-tls-test\r\n"),
            "{head}"
        );
    }

    #[tokio::test]
    async fn the_bundled_roots_refuse_a_certificate_no_public_authority_signed() {
        let (_ca, cert, key) = test_pki();
        let (port, mut seen) = tls_server(cert, key).await;
        let base = ApiBase::parse(&format!("https://localhost:{port}/api")).unwrap();
        let api = SlackApi::new(&Secret::new("xoxb-tls-test"), base);
        let e = api.auth_test().await.expect_err("an unknown authority");
        assert!(matches!(e, ApiError::Unknown { .. }), "{e}");
        assert!(!e.to_string().contains("xoxb-tls-test"));
        assert!(
            matches!(seen.recv().await, Some(None)),
            "the handshake failed"
        );
    }

    #[test]
    fn a_secret_never_shows_in_debug() {
        let s = Secret::new("xoxb-123-secret");
        assert_eq!(format!("{s:?}"), "Secret(***)");
        assert!(s.has_prefix("xoxb-"));
    }

    #[test]
    fn a_listed_message_reads_only_what_it_needs() {
        let m: ListedMessage = serde_json::from_value(serde_json::json!({
            "ts": "1.000100", "user": "U1", "text": "hi",
            "metadata": { "event_type": "x", "event_payload": { "n": 1 } },
            "blocks": [{ "type": "future_block", "block_id": "prepbot-d1" }]
        }))
        .unwrap();
        assert!(m.has_block("prepbot-d1"));
        assert!(!m.has_block("prepbot-d2"));
    }
}
