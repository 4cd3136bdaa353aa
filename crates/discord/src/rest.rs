//! The REST calls the scheduler and the acknowledgement queue make, with their own
//! rate-limit handling: a bounded number of requests in flight, each on a connection
//! of its own that no other request shares meanwhile (`connections.rs`: never
//! more connections than that), requests paced to the global limit before they are sent
//! (`Pacer`: a drop fan-out over thousands of channels runs at the limit instead
//! of hitting it), and a 429 answered by waiting the `retry_after` Discord sends (in
//! the body, or the `Retry-After` header; the whole client for a `global` one) and
//! trying again. Serenity cannot do that in proxy mode: with its ratelimiter off
//! it surfaces a 429 as an error without headers or `retry_after`.

use std::sync::Arc;
use std::time::Duration;

use hyper::{Method, StatusCode};
use serde::de::DeserializeOwned;
use serenity::all::{ChannelId, CreateMessage, CreateThread, Message, MessageId, Timestamp};
use tracing::{debug, warn};

use super::Token;
use super::connections::Connections;
use super::pacer::Pacer;

/// Discord's own API host, used unless `PREPBOT_DISCORD_API_BASE` says otherwise.
pub const DISCORD_API: &str = "https://discord.com";

/// The bot's budget of TCP connections to Discord, all of them together: the
/// gateway's, serenity's client's (command replies, registration) and this client's.
/// Enough to post a burst of drops quickly, few enough that a thousand due channels
/// do not open a thousand connections.
pub const DEFAULT_CONCURRENCY: usize = 16;

/// This client's share of the budget: requests in flight at once, each on a
/// connection of its own, and never more connections than that. The other two are
/// the gateway's and the one serenity's client keeps for command replies.
pub const REST_CONNECTIONS: usize = DEFAULT_CONCURRENCY - 2;

/// How long one request may take, its answer read whole: well inside the
/// scheduler's claim lease, so a hung call never outlives it.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(20);

pub(crate) const USER_AGENT: &str = concat!(
    "DiscordBot (https://github.com/prepbot, ",
    env!("CARGO_PKG_VERSION"),
    ")"
);

/// Requests per second by default (`PREPBOT_DISCORD_RATE`): Discord's documented
/// global limit for a bot.
pub const DEFAULT_RATE: u32 = 50;

/// The parts of a created message the bot needs. Reading only these keeps a
/// successful post from counting as a failure when Discord adds or changes fields.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct CreatedMessage {
    pub id: MessageId,
    pub timestamp: Timestamp,
}

/// The part of a created thread the bot needs.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct CreatedThread {
    pub id: ChannelId,
}

/// A failed call. Never contains the token (it travels only in a header).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{method} {path}: {reason}")]
pub struct RestError {
    pub method: String,
    pub path: String,
    /// The HTTP status, `None` for transport failures (timeout, refused).
    pub status: Option<u16>,
    /// Discord's JSON error code (10003 Unknown Channel, 160004 thread already
    /// created...), when it sent one.
    pub code: Option<i64>,
    pub reason: String,
}

impl RestError {
    /// Whether trying again later may help: transport failures, 429 and 5xx.
    pub fn retryable(&self) -> bool {
        match self.status {
            None => true,
            Some(s) => s == 429 || s >= 500,
        }
    }
}

pub struct Rest {
    /// One lane per request in flight, each with its own connection, held from
    /// before the request is sent until its answer is read: no request beyond
    /// them ever opens a connection.
    connections: Connections,
    base: String,
    auth: String,
    pacer: Arc<Pacer>,
    limits: Limits,
    /// Attempts per call for 5xx answers and transport errors.
    max_attempts: u32,
    /// Waits per call for 429 answers: Discord says exactly how long to wait, so
    /// these are counted apart, and bounded so a call never waits forever.
    max_rate_limited: u32,
}

impl std::fmt::Debug for Rest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rest")
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

/// A route's rate-limit bucket, approximated by its major parameter (the channel)
/// and the kind of call: Discord limits message creation, reactions and threads per
/// channel.
fn bucket_of(path: &str) -> String {
    let path = path.split('?').next().unwrap_or(path);
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match parts.as_slice() {
        ["channels", channel, "messages", _, "reactions", ..] => format!("reactions:{channel}"),
        ["channels", channel, "messages", _, "threads"] => format!("threads:{channel}"),
        ["channels", channel, rest @ ..] => format!("{}:{channel}", rest.first().unwrap_or(&"")),
        _ => path.to_string(),
    }
}

/// When each bucket (and the global limit, under the key "") may be used again.
#[derive(Debug, Default)]
struct Limits {
    until: std::sync::Mutex<std::collections::HashMap<String, tokio::time::Instant>>,
}

impl Limits {
    fn block(&self, bucket: &str, for_: Duration) {
        let until = tokio::time::Instant::now() + for_;
        let mut map = self.until.lock().unwrap_or_else(|p| p.into_inner());
        let slot = map.entry(bucket.to_string()).or_insert(until);
        *slot = (*slot).max(until);
    }

    async fn wait(&self, bucket: &str) {
        let until = {
            let map = self.until.lock().unwrap_or_else(|p| p.into_inner());
            [map.get(""), map.get(bucket)]
                .into_iter()
                .flatten()
                .max()
                .copied()
        };
        if let Some(until) = until {
            tokio::time::sleep_until(until).await;
        }
    }

    /// Whether the bucket (or everything) must wait before another request.
    fn is_blocked(&self, bucket: &str) -> bool {
        let now = tokio::time::Instant::now();
        let map = self.until.lock().unwrap_or_else(|p| p.into_inner());
        [map.get(""), map.get(bucket)]
            .into_iter()
            .flatten()
            .any(|until| *until > now)
    }

    /// `X-RateLimit-Remaining: 0` with `X-RateLimit-Reset-After` says the bucket is
    /// empty until then.
    fn note_headers(&self, bucket: &str, headers: &hyper::header::HeaderMap) {
        let get = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        let remaining = get("x-ratelimit-remaining").and_then(|v| v.parse::<f64>().ok());
        let reset_after = get("x-ratelimit-reset-after").and_then(|v| v.parse::<f64>().ok());
        if let (Some(remaining), Some(reset)) = (remaining, reset_after)
            && remaining <= 0.0
        {
            self.block(bucket, Duration::from_secs_f64(reset.clamp(0.0, 60.0)));
        }
    }
}

/// Percent-encodes a path segment (an emoji, say).
fn encode_segment(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A little jitter (0-250 ms) from the clock's sub-second digits; enough to keep
/// retries of a burst from landing together, no RNG needed.
fn jitter() -> Duration {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    Duration::from_millis(u64::from(nanos % 250))
}

/// One request and its whole answer, read while the request's permit was held.
enum Exchange {
    Answered {
        status: StatusCode,
        /// The `Retry-After` header, in seconds.
        retry_after: Option<f64>,
        body: hyper::body::Bytes,
    },
    /// A 429 elsewhere blocked this request's bucket while it waited for its slot:
    /// not sent.
    Blocked,
}

impl Rest {
    /// `api_base` is the proxy base (`http://host:port`) or `None` for Discord itself.
    /// Requests are paced to [`DEFAULT_RATE`] per second unless [`Rest::with_rate`]
    /// says otherwise.
    pub fn new(token: &Token, api_base: Option<&str>, concurrency: usize) -> anyhow::Result<Rest> {
        let base = api_base
            .unwrap_or(DISCORD_API)
            .trim_end_matches('/')
            .to_string();
        Ok(Rest {
            connections: Connections::new(&base, concurrency, USER_AGENT)?,
            base,
            auth: format!("Bot {}", token.expose()),
            pacer: Arc::new(Pacer::new(DEFAULT_RATE)),
            limits: Limits::default(),
            max_attempts: 5,
            max_rate_limited: 10,
        })
    }

    /// Paces requests to `per_second` (at least 1) instead of [`DEFAULT_RATE`].
    pub fn with_rate(mut self, per_second: u32) -> Self {
        self.pacer = Arc::new(Pacer::new(per_second));
        self
    }

    /// Paces requests with `pacer`: on PostgreSQL, one whose rate every process
    /// shares ([`Pacer::for_store`]). The adapter's start-up requests, which go
    /// outside this client, wait on the same pacer.
    pub fn with_pacer(mut self, pacer: Arc<Pacer>) -> Self {
        self.pacer = pacer;
        self
    }

    /// Sends one request and reads its whole answer on a lane of its own, which it
    /// holds throughout (the connection is busy until the answer is read). A
    /// transport failure is `Err` with its reason.
    async fn exchange(
        &self,
        method: &Method,
        path: &str,
        bucket: &str,
        body: Option<&serde_json::Value>,
    ) -> Result<Exchange, String> {
        let body = body
            .map(serde_json::to_vec)
            .transpose()
            .map_err(|e| format!("cannot encode the request: {e}"))?;
        let mut lane = self.connections.lane().await?;
        self.pacer.wait().await;
        if self.limits.is_blocked(bucket) {
            return Ok(Exchange::Blocked);
        }
        let mut headers = vec![("authorization", self.auth.as_str())];
        if body.is_some() {
            headers.push(("content-type", "application/json"));
        }
        let answer = tokio::time::timeout(
            REQUEST_TIMEOUT,
            lane.send(method, &format!("/api/v10{path}"), &headers, body),
        )
        .await
        .map_err(|_| format!("no answer within {} s", REQUEST_TIMEOUT.as_secs()))??;
        debug!(%method, path, status = answer.status.as_u16(), "discord");
        self.limits.note_headers(bucket, &answer.headers);
        let retry_after = answer
            .headers
            .get(hyper::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<f64>().ok());
        Ok(Exchange::Answered {
            status: answer.status,
            retry_after,
            body: answer.body,
        })
    }

    async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&serde_json::Value>,
    ) -> Result<Option<T>, RestError> {
        let fail = |status: Option<u16>, reason: String| RestError {
            method: method.to_string(),
            path: path.to_string(),
            status,
            code: None,
            reason,
        };
        let bucket = bucket_of(path);
        let mut attempt = 0;
        let mut rate_limited = 0;
        loop {
            attempt += 1;
            // Wait out a global limit, or this route's bucket if Discord said it is
            // empty: better than sending a request certain to get a 429. No permit is
            // held while waiting, here or in any retry wait below.
            self.limits.wait(&bucket).await;
            let (status, header_wait, bytes) =
                match self.exchange(&method, path, &bucket, body).await {
                    Ok(Exchange::Answered {
                        status,
                        retry_after,
                        body,
                    }) => (status, retry_after, body),
                    Ok(Exchange::Blocked) => {
                        attempt -= 1;
                        continue;
                    }
                    Err(e) if attempt < self.max_attempts => {
                        let wait = Duration::from_millis(500 << attempt.min(5)) + jitter();
                        warn!(%method, path, error = %e, attempt, "request failed; retrying");
                        tokio::time::sleep(wait).await;
                        continue;
                    }
                    Err(e) => return Err(fail(None, e)),
                };
            if status.is_success() {
                if status == StatusCode::NO_CONTENT || bytes.is_empty() {
                    return Ok(None);
                }
                return serde_json::from_slice(&bytes)
                    .map(Some)
                    .map_err(|e| fail(Some(status.as_u16()), format!("unreadable response: {e}")));
            }
            let text = String::from_utf8_lossy(&bytes).into_owned();
            let json: Option<serde_json::Value> = serde_json::from_str(&text).ok();
            let message = json
                .as_ref()
                .and_then(|j| j.get("message"))
                .and_then(|m| m.as_str())
                .unwrap_or(text.as_str())
                .chars()
                .take(300)
                .collect::<String>();
            if status == StatusCode::TOO_MANY_REQUESTS && rate_limited < self.max_rate_limited {
                rate_limited += 1;
                // A 429 is not a failed attempt: the request is simply early.
                attempt -= 1;
                let body_wait = json
                    .as_ref()
                    .and_then(|j| j.get("retry_after"))
                    .and_then(|v| v.as_f64());
                let secs = body_wait.or(header_wait).unwrap_or(1.0).clamp(0.0, 60.0);
                let global = json
                    .as_ref()
                    .and_then(|j| j.get("global"))
                    .and_then(|g| g.as_bool())
                    .unwrap_or(false);
                warn!(%method, path, retry_after = secs, global, "rate limited; waiting");
                // Everyone sharing the bucket (or, for a global limit, every call)
                // waits, not just this request.
                self.limits.block(
                    if global { "" } else { &bucket },
                    Duration::from_secs_f64(secs),
                );
                continue;
            }
            if status.is_server_error() && attempt < self.max_attempts {
                warn!(%method, path, status = status.as_u16(), attempt, "server error; retrying");
                tokio::time::sleep(Duration::from_millis(500 << attempt.min(5)) + jitter()).await;
                continue;
            }
            let mut error = fail(
                Some(status.as_u16()),
                format!("HTTP {}: {message}", status.as_u16()),
            );
            error.code = json
                .as_ref()
                .and_then(|j| j.get("code"))
                .and_then(|c| c.as_i64());
            return Err(error);
        }
    }

    /// POSTs a serialisable body and reads the JSON answer.
    async fn post<T: DeserializeOwned>(
        &self,
        path: String,
        body: &impl serde::Serialize,
    ) -> Result<T, RestError> {
        let fail = |reason: String| RestError {
            method: "POST".into(),
            path: path.clone(),
            status: None,
            code: None,
            reason,
        };
        let body = serde_json::to_value(body).map_err(|e| fail(e.to_string()))?;
        self.call(Method::POST, &path, Some(&body))
            .await?
            .ok_or_else(|| fail("empty response".into()))
    }

    pub async fn create_message(
        &self,
        channel_id: u64,
        message: &CreateMessage,
    ) -> Result<CreatedMessage, RestError> {
        self.post(format!("/channels/{channel_id}/messages"), message)
            .await
    }

    /// Starts a public thread from a message; its id equals the message's.
    pub async fn start_thread(
        &self,
        channel_id: u64,
        message_id: u64,
        thread: &CreateThread<'_>,
    ) -> Result<CreatedThread, RestError> {
        self.post(
            format!("/channels/{channel_id}/messages/{message_id}/threads"),
            thread,
        )
        .await
    }

    /// Up to `limit` (at most 100) messages of a channel: the oldest ones after
    /// `after` when given, else the newest. Discord lists them newest first.
    pub async fn messages(
        &self,
        channel_id: u64,
        after: Option<u64>,
        limit: u8,
    ) -> Result<Vec<Message>, RestError> {
        let limit = limit.clamp(1, 100);
        let path = match after {
            Some(after) => format!("/channels/{channel_id}/messages?after={after}&limit={limit}"),
            None => format!("/channels/{channel_id}/messages?limit={limit}"),
        };
        Ok(self
            .call::<Vec<Message>>(Method::GET, &path, None)
            .await?
            .unwrap_or_default())
    }

    pub async fn add_reaction(
        &self,
        channel_id: u64,
        message_id: u64,
        emoji: &str,
    ) -> Result<(), RestError> {
        let path = format!(
            "/channels/{channel_id}/messages/{message_id}/reactions/{}/@me",
            encode_segment(emoji)
        );
        self.call::<serde_json::Value>(Method::PUT, &path, None)
            .await
            .map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emoji_are_percent_encoded_for_paths() {
        assert_eq!(encode_segment("✅"), "%E2%9C%85");
        assert_eq!(encode_segment("🕒"), "%F0%9F%95%92");
        assert_eq!(encode_segment("ok-1"), "ok-1");
    }

    #[test]
    fn buckets_follow_the_channel_and_the_kind_of_call() {
        assert_eq!(bucket_of("/channels/5/messages"), "messages:5");
        assert_eq!(
            bucket_of("/channels/5/messages/9/reactions/%E2%9C%85/@me"),
            "reactions:5"
        );
        assert_eq!(bucket_of("/channels/5/messages/9/threads"), "threads:5");
        assert_ne!(
            bucket_of("/channels/5/messages"),
            bucket_of("/channels/6/messages")
        );
    }

    #[tokio::test]
    async fn an_empty_bucket_makes_the_next_call_wait() {
        let limits = Limits::default();
        let mut headers = hyper::header::HeaderMap::new();
        headers.insert("x-ratelimit-remaining", "0".parse().unwrap());
        headers.insert("x-ratelimit-reset-after", "0.2".parse().unwrap());
        limits.note_headers("messages:5", &headers);
        let t = std::time::Instant::now();
        limits.wait("messages:6").await;
        assert!(
            t.elapsed() < Duration::from_millis(100),
            "other buckets are free"
        );
        limits.wait("messages:5").await;
        assert!(
            t.elapsed() >= Duration::from_millis(190),
            "{:?}",
            t.elapsed()
        );
        limits.block("", Duration::from_millis(150));
        let t = std::time::Instant::now();
        limits.wait("anything").await;
        assert!(
            t.elapsed() >= Duration::from_millis(140),
            "a global limit stops every call"
        );
    }

    #[test]
    fn which_failures_are_worth_retrying() {
        let e = |status| RestError {
            method: "POST".into(),
            path: "/x".into(),
            status,
            code: None,
            reason: String::new(),
        };
        assert!(e(None).retryable());
        assert!(e(Some(429)).retryable());
        assert!(e(Some(502)).retryable());
        assert!(!e(Some(403)).retryable());
        assert!(!e(Some(404)).retryable());
    }

    #[test]
    fn the_token_never_shows_in_debug_output() {
        let rest = Rest::new(
            &Token::new("super-secret-token"),
            Some("http://127.0.0.1:9"),
            2,
        )
        .unwrap();
        assert!(!format!("{rest:?}").contains("super-secret"));
    }
}
