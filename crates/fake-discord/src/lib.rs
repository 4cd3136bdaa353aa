//! A fake Discord on 127.0.0.1 for the end-to-end tests: a REST server that records
//! every request and answers with JSON serenity can read, and a gateway websocket
//! that says HELLO, answers IDENTIFY with READY and GUILD_CREATE, acknowledges
//! heartbeats, then forwards the events a test scripts. Like Discord, it echoes the
//! bot's own messages back as MESSAGE_CREATE. It can misbehave on command (429s,
//! 5xx, a broken commands endpoint).
//!
//! The gateway takes several sessions at once, as Discord does for a sharded bot (one
//! per shard, from one process or several): a session is the shard its IDENTIFY
//! named, `[id, total]`, and gets the READY and GUILD_CREATE of its servers only, and
//! every event of a server goes to the session of shard `(server id >> 22) % total`
//! (events without a server to shard 0). One unsharded session (`[0, 1]`) gets
//! everything, as before; a session that has not identified yet counts as that one.
//!
//! Every REST request is checked against Discord's published OpenAPI spec
//! (`openapi.rs`): a request Discord would reject is a violation, and the fake
//! panics with the list when the test lets go of it (or when the harness stops the
//! bot), so the test that caused it fails.
//!
//! For the load harness (`benches/load.rs`) it also timestamps what it writes to the
//! gateway and each IDENTIFY, counts the TCP connections it holds open, can enforce a
//! global rate limit like Discord's, and can hand each request to an observer
//! instead of keeping them all.
#![allow(dead_code)] // each test binary uses a different subset

pub mod fixtures;
pub mod openapi;

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::ws::{Message as WsMessage, WebSocket, WebSocketUpgrade};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::{DateTime, Utc};
use futures_util::{SinkExt, StreamExt};
use prepbot_core::clock::Clock;
use serde_json::{Value, json};
use tokio::sync::{Notify, mpsc, oneshot};

pub const APP_ID: u64 = 900_000_000_000_000_001;
pub const BOT_ID: u64 = 900_000_000_000_000_002;
pub const GUILD_A: u64 = 800_000_000_000_000_001;
pub const GUILD_B: u64 = 800_000_000_000_000_002;
pub const CHANNEL_A: u64 = 700_000_000_000_000_001;
pub const CHANNEL_A2: u64 = 700_000_000_000_000_003;
pub const CHANNEL_B: u64 = 700_000_000_000_000_002;

/// One request the bot made.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    /// The query string, without the `?`.
    pub query: String,
    pub body: Value,
    pub authorization: Option<String>,
    /// When the fake had read the whole request.
    pub at: Instant,
    /// The status the fake answered with (0 for a request it never answers).
    pub status: u16,
}

/// Called with every request the fake serves (see [`FakeDiscord::observe`]).
pub type Observer = Arc<dyn Fn(&Recorded) + Send + Sync>;

/// A frame for the gateway writer; `written` learns the instant it went to the socket.
struct Outgoing {
    text: String,
    written: Option<oneshot::Sender<Instant>>,
}

impl From<String> for Outgoing {
    fn from(text: String) -> Self {
        Outgoing {
            text,
            written: None,
        }
    }
}

/// A server a test added, with its text channels (id, name).
struct AddedGuild {
    id: u64,
    channels: Vec<(u64, String)>,
}

/// One gateway connection.
struct Session {
    /// In order of connection: the newest session of a shard is the one it serves.
    id: u64,
    tx: mpsc::UnboundedSender<Outgoing>,
    /// `[shard id, total]` from its IDENTIFY; `None` until then.
    shard: Option<[u64; 2]>,
}

impl Session {
    /// Whether events of `guild` (`None`: no server, such as a DM) go to this session.
    /// One that has not identified takes anything, as a single connection always did.
    fn takes(&self, guild: Option<u64>) -> bool {
        match self.shard {
            None => true,
            Some(shard) => match guild {
                Some(guild) => on_shard(guild, shard),
                None => shard[0] == 0,
            },
        }
    }
}

/// Discord's routing: a server's events go to shard `(id >> 22) % total`.
pub fn on_shard(guild: u64, shard: [u64; 2]) -> bool {
    (guild >> 22) % shard[1].max(1) == shard[0]
}

/// The server an event belongs to: its `guild_id`, or the id of a GUILD_CREATE,
/// GUILD_UPDATE or GUILD_DELETE.
fn event_guild(kind: &str, data: &Value) -> Option<u64> {
    let id = |v: &Value| v.as_str().and_then(|s| s.parse().ok());
    id(&data["guild_id"]).or_else(|| {
        matches!(kind, "GUILD_CREATE" | "GUILD_UPDATE" | "GUILD_DELETE")
            .then(|| id(&data["id"]))
            .flatten()
    })
}

/// Discord's global rate limit: at most `per_second` requests in any one-second
/// window; the rest get a 429 with `global: true`.
struct GlobalLimit {
    per_second: usize,
    /// When each request inside the window was let through, oldest first.
    accepted: VecDeque<Instant>,
}

impl GlobalLimit {
    /// Lets a request through at `now`, or says how long until one would be.
    fn admit(&mut self, now: Instant) -> Result<(), Duration> {
        while self
            .accepted
            .front()
            .is_some_and(|t| now.duration_since(*t) >= Duration::from_secs(1))
        {
            self.accepted.pop_front();
        }
        if self.accepted.len() < self.per_second {
            self.accepted.push_back(now);
            return Ok(());
        }
        let oldest = self.accepted.front().copied().unwrap_or(now);
        Err((oldest + Duration::from_secs(1)).saturating_duration_since(now))
    }
}

/// TCP connections the fake holds open (REST and gateway alike).
#[derive(Debug, Default)]
struct Connections {
    open: AtomicUsize,
    peak: AtomicUsize,
    accepted: AtomicUsize,
    /// Whose each open connection is, once it made a request: the client's
    /// User-Agent, or "gateway".
    owners: Mutex<HashMap<std::net::SocketAddr, String>>,
    peak_by_owner: Mutex<HashMap<String, usize>>,
}

impl Connections {
    fn label(&self, peer: std::net::SocketAddr, owner: &str) {
        let mut owners = self.owners.lock().unwrap();
        if owners.get(&peer).is_some_and(|o| o == owner) {
            return;
        }
        owners.insert(peer, owner.to_string());
        let n = owners.values().filter(|o| *o == owner).count();
        let mut peaks = self.peak_by_owner.lock().unwrap();
        let peak = peaks.entry(owner.to_string()).or_default();
        *peak = (*peak).max(n);
    }
}

/// The address a request came from, for telling connections apart.
#[derive(Debug, Clone, Copy)]
struct Peer(std::net::SocketAddr);

impl axum::extract::connect_info::Connected<axum::serve::IncomingStream<'_, CountingListener>>
    for Peer
{
    fn connect_info(stream: axum::serve::IncomingStream<'_, CountingListener>) -> Self {
        Peer(*stream.remote_addr())
    }
}

/// The listener the fake serves on: counts connections while they are open.
struct CountingListener {
    listener: tokio::net::TcpListener,
    connections: Arc<Connections>,
}

/// An accepted connection; closing (dropping) it takes it off the count.
struct Counted {
    stream: tokio::net::TcpStream,
    peer: std::net::SocketAddr,
    connections: Arc<Connections>,
}

impl Drop for Counted {
    fn drop(&mut self) {
        self.connections.open.fetch_sub(1, Ordering::SeqCst);
        self.connections.owners.lock().unwrap().remove(&self.peer);
    }
}

impl axum::serve::Listener for CountingListener {
    type Io = Counted;
    type Addr = std::net::SocketAddr;

    async fn accept(&mut self) -> (Counted, std::net::SocketAddr) {
        loop {
            match self.listener.accept().await {
                Ok((stream, addr)) => {
                    // Replies go out as soon as they are written, as from a real server.
                    let _ = stream.set_nodelay(true);
                    let c = &self.connections;
                    let open = c.open.fetch_add(1, Ordering::SeqCst) + 1;
                    c.peak.fetch_max(open, Ordering::SeqCst);
                    c.accepted.fetch_add(1, Ordering::SeqCst);
                    let connections = c.clone();
                    return (
                        Counted {
                            stream,
                            peer: addr,
                            connections,
                        },
                        addr,
                    );
                }
                // Out of file descriptors and the like: wait, as axum's own listener does.
                Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<std::net::SocketAddr> {
        self.listener.local_addr()
    }
}

impl tokio::io::AsyncRead for Counted {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl tokio::io::AsyncWrite for Counted {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::pin::Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::pin::Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

/// A rule that makes the fake fail some requests.
#[derive(Debug, Clone)]
pub struct Fault {
    pub method: &'static str,
    /// The path must contain this.
    pub path_contains: String,
    pub status: u16,
    /// For 429: seconds in the JSON body's `retry_after` (no header, as serenity's
    /// proxy mode would hide it anyway).
    pub retry_after: Option<f64>,
    /// How many matching requests fail; then the rule is spent.
    pub times: usize,
    /// Do the work first (create the message), then answer with the failure: the
    /// answer is lost, not the request.
    pub after_create: bool,
    /// Discord's JSON error code in the body.
    pub code: i64,
    /// For 429: send the wait only in the `Retry-After` header, not in the body.
    pub header_only: bool,
    /// Do the work, then never answer (the bot is killed or times out waiting).
    pub hang: bool,
}

impl Fault {
    pub fn new(method: &'static str, path_contains: impl Into<String>, status: u16) -> Self {
        Fault {
            method,
            path_contains: path_contains.into(),
            status,
            retry_after: None,
            times: 1,
            after_create: false,
            code: 0,
            header_only: false,
            hang: false,
        }
    }

    pub fn hang(mut self) -> Self {
        self.hang = true;
        self
    }

    pub fn header_only(mut self) -> Self {
        self.header_only = true;
        self
    }

    pub fn retry_after(mut self, secs: f64) -> Self {
        self.retry_after = Some(secs);
        self
    }

    pub fn times(mut self, n: usize) -> Self {
        self.times = n;
        self
    }

    pub fn after_create(mut self) -> Self {
        self.after_create = true;
        self
    }

    pub fn code(mut self, code: i64) -> Self {
        self.code = code;
        self
    }
}

struct Inner {
    port: u16,
    clock: Arc<dyn Clock>,
    requests: Mutex<Vec<Recorded>>,
    changed: Notify,
    next_id: AtomicU64,
    seq: AtomicU64,
    /// The gateway sessions open now, oldest first.
    sessions: Mutex<Vec<Session>>,
    next_session: AtomicU64,
    /// Servers added by the test ([`FakeDiscord::add_guild`]), with their channels,
    /// after the two built-in ones.
    guilds: Mutex<Vec<AddedGuild>>,
    /// The server of each channel of an added server.
    channel_guilds: Mutex<HashMap<u64, u64>>,
    identified: Notify,
    identifies: AtomicUsize,
    /// While set, an IDENTIFY gets no READY: the session stays half open, as when
    /// Discord is slow to accept a new session. Held READYs go out on release.
    hold_ready: AtomicBool,
    held_ready: Mutex<Vec<(mpsc::UnboundedSender<Outgoing>, [u64; 2])>>,
    /// When each IDENTIFY arrived.
    identify_times: Mutex<Vec<Instant>>,
    /// The `[shard id, total]` each IDENTIFY named.
    identify_shards: Mutex<Vec<[u64; 2]>>,
    /// Keep every request in `requests` (the tests' default); off under load.
    recording: AtomicBool,
    observer: Mutex<Option<Observer>>,
    global_limit: Mutex<Option<GlobalLimit>>,
    /// Requests answered 429 by the global limit.
    rate_limited: AtomicUsize,
    connections: Arc<Connections>,
    faults: Mutex<Vec<Fault>>,
    /// Requests being served right now, and the most at once.
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
    /// Extra latency per channel-message POST (to make concurrency visible).
    message_delay: Mutex<Duration>,
    /// When true, the commands endpoint answers with something that is not a list.
    break_commands: Mutex<bool>,
    reject_token: AtomicBool,
    /// Thread id -> parent channel id (threads are started from messages).
    threads: Mutex<HashMap<u64, u64>>,
    /// Channel messages the bot posted, by channel id.
    posted: Mutex<Vec<(u64, Value)>>,
    /// Messages by (channel, nonce), for `enforce_nonce` deduplication.
    nonces: Mutex<HashMap<(u64, String), Value>>,
    /// Every channel's messages as `GET /channels/{id}/messages` shows them: the
    /// bot's posts and members' messages, kept up to date by the create, update and
    /// delete events the fake dispatches (or applies while the bot is away).
    history: Mutex<HashMap<u64, Vec<Value>>>,
    /// Interaction token -> the channel it came from, for the messages its webhook
    /// makes (serenity cannot read a message in channel 0).
    interaction_channels: Mutex<HashMap<String, u64>>,
    /// Channels that answer 404 Unknown Channel to everything (deleted).
    deleted: Mutex<Vec<u64>>,
    /// What Discord's OpenAPI spec found wrong with the requests, one line each.
    violations: Mutex<Vec<String>>,
}

#[derive(Clone)]
pub struct FakeDiscord {
    inner: Arc<Inner>,
    /// Shared by every clone: when the last one goes, the spec's verdict is given.
    _verdict: Arc<SpecVerdict>,
}

/// Panics, when the test lets go of the fake, if any request it received broke
/// Discord's spec: the handle lives in the test's own body, so the panic fails that
/// test. Not while the test is already failing (a double panic would abort).
struct SpecVerdict {
    inner: Arc<Inner>,
}

impl Drop for SpecVerdict {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            assert_conforms(&self.inner);
        }
    }
}

fn assert_conforms(inner: &Inner) {
    let violations = std::mem::take(&mut *inner.violations.lock().unwrap());
    assert!(
        violations.is_empty(),
        "the bot sent {} request(s) that Discord's OpenAPI spec (specs/discord-openapi.json) rejects:\n{}",
        violations.len(),
        violations.join("\n")
    );
}

impl FakeDiscord {
    /// Starts the fake on an ephemeral port. Timestamps it hands out come from `clock`.
    pub async fn start(clock: Arc<dyn Clock>) -> FakeDiscord {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1");
        let port = listener.local_addr().unwrap().port();
        let connections = Arc::new(Connections::default());
        let listener = CountingListener {
            listener,
            connections: connections.clone(),
        };
        let inner = Arc::new(Inner {
            port,
            clock,
            requests: Mutex::new(Vec::new()),
            changed: Notify::new(),
            next_id: AtomicU64::new(1),
            seq: AtomicU64::new(0),
            sessions: Mutex::new(Vec::new()),
            next_session: AtomicU64::new(1),
            guilds: Mutex::new(Vec::new()),
            channel_guilds: Mutex::new(HashMap::new()),
            identified: Notify::new(),
            identifies: AtomicUsize::new(0),
            hold_ready: AtomicBool::new(false),
            held_ready: Mutex::new(Vec::new()),
            identify_times: Mutex::new(Vec::new()),
            identify_shards: Mutex::new(Vec::new()),
            recording: AtomicBool::new(true),
            observer: Mutex::new(None),
            global_limit: Mutex::new(None),
            rate_limited: AtomicUsize::new(0),
            connections,
            faults: Mutex::new(Vec::new()),
            in_flight: AtomicUsize::new(0),
            max_in_flight: AtomicUsize::new(0),
            message_delay: Mutex::new(Duration::ZERO),
            break_commands: Mutex::new(false),
            reject_token: AtomicBool::new(false),
            threads: Mutex::new(HashMap::new()),
            posted: Mutex::new(Vec::new()),
            nonces: Mutex::new(HashMap::new()),
            history: Mutex::new(HashMap::new()),
            interaction_channels: Mutex::new(HashMap::new()),
            deleted: Mutex::new(Vec::new()),
            violations: Mutex::new(Vec::new()),
        });
        // Parse the spec now rather than in the first request's answer.
        openapi::check("GET", "/api/v10/gateway", "", "", b"");
        let app = Router::new()
            .route("/gateway-ws", get(gateway))
            .fallback(rest)
            .with_state(inner.clone());
        tokio::spawn(async move {
            axum::serve(listener, app.into_make_service_with_connect_info::<Peer>())
                .await
                .expect("fake discord serves");
        });
        let verdict = Arc::new(SpecVerdict {
            inner: inner.clone(),
        });
        FakeDiscord {
            inner,
            _verdict: verdict,
        }
    }

    /// What Discord's spec found wrong with the requests so far, one line each
    /// (`METHOD path: problem`).
    pub fn spec_violations(&self) -> Vec<String> {
        self.inner.violations.lock().unwrap().clone()
    }

    /// Takes the violations found so far: a test that sends a bad request on
    /// purpose takes what it expects, so that the fake does not fail it.
    pub fn take_spec_violations(&self) -> Vec<String> {
        std::mem::take(&mut *self.inner.violations.lock().unwrap())
    }

    /// Panics with the list if any request so far broke Discord's spec.
    pub fn assert_requests_match_spec(&self) {
        assert_conforms(&self.inner);
    }

    pub fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.inner.port)
    }

    /// A fresh snowflake whose timestamp is the clock's now.
    pub fn snowflake(&self) -> u64 {
        snowflake(&self.inner)
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.inner.clock.now()
    }

    pub fn add_fault(&self, fault: Fault) {
        self.inner.faults.lock().unwrap().push(fault);
    }

    pub fn set_message_delay(&self, d: Duration) {
        *self.inner.message_delay.lock().unwrap() = d;
    }

    /// Answers every request that carries a bot token with Discord's 401, as for a
    /// token that was reset or mistyped.
    pub fn reject_token(&self) {
        self.inner.reject_token.store(true, Ordering::SeqCst);
    }

    pub fn break_commands_endpoint(&self) {
        *self.inner.break_commands.lock().unwrap() = true;
    }

    pub fn max_in_flight(&self) -> usize {
        self.inner.max_in_flight.load(Ordering::SeqCst)
    }

    pub fn identifies(&self) -> usize {
        self.inner.identifies.load(Ordering::SeqCst)
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.inner.requests.lock().unwrap().clone()
    }

    /// Whether to keep every request for [`requests`](Self::requests) (on by
    /// default). A load run turns it off and watches through [`observe`](Self::observe).
    pub fn set_recording(&self, on: bool) {
        self.inner.recording.store(on, Ordering::SeqCst);
    }

    /// Calls `f` with every request from now on, as it is answered.
    pub fn observe(&self, f: impl Fn(&Recorded) + Send + Sync + 'static) {
        *self.inner.observer.lock().unwrap() = Some(Arc::new(f));
    }

    /// Like Discord's global limit: at most `per_second` REST requests in any
    /// one-second window (interaction callbacks and webhooks exempt), the rest
    /// answered 429 with `retry_after` and `global: true`. `None` lifts it.
    pub fn set_global_limit(&self, per_second: Option<usize>) {
        *self.inner.global_limit.lock().unwrap() = per_second.map(|n| GlobalLimit {
            per_second: n.max(1),
            accepted: VecDeque::new(),
        });
    }

    /// Requests the global limit answered with 429 so far.
    pub fn rate_limited(&self) -> usize {
        self.inner.rate_limited.load(Ordering::SeqCst)
    }

    /// TCP connections open to the fake right now.
    pub fn open_connections(&self) -> usize {
        self.inner.connections.open.load(Ordering::SeqCst)
    }

    /// The most connections open at once since the start or the last reset.
    pub fn peak_connections(&self) -> usize {
        self.inner.connections.peak.load(Ordering::SeqCst)
    }

    /// Connections accepted since the start.
    pub fn accepted_connections(&self) -> usize {
        self.inner.connections.accepted.load(Ordering::SeqCst)
    }

    /// The most connections open at once per client (its User-Agent, or "gateway"),
    /// counted from each connection's first request.
    pub fn peak_connections_by_client(&self) -> Vec<(String, usize)> {
        let mut v: Vec<(String, usize)> = self
            .inner
            .connections
            .peak_by_owner
            .lock()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), *v))
            .collect();
        v.sort();
        v
    }

    /// Starts a new peak from the connections open now.
    pub fn reset_peak_connections(&self) {
        let c = &self.inner.connections;
        c.peak
            .store(c.open.load(Ordering::SeqCst), Ordering::SeqCst);
    }

    /// The `[shard id, total]` of each IDENTIFY, in order.
    pub fn identify_shards(&self) -> Vec<[u64; 2]> {
        self.inner.identify_shards.lock().unwrap().clone()
    }

    /// When each IDENTIFY arrived on the gateway, in order.
    pub fn identify_times(&self) -> Vec<Instant> {
        self.inner.identify_times.lock().unwrap().clone()
    }

    /// Waits until the bot identified on the gateway (READY and GUILD_CREATE sent).
    pub async fn wait_identified(&self, timeout: Duration) {
        if self.identifies() > 0 {
            return;
        }
        tokio::time::timeout(timeout, self.inner.identified.notified())
            .await
            .expect("the bot identifies on the gateway");
    }

    /// Waits for a request matching `pred` among those made after `skip` requests.
    pub async fn wait_for(
        &self,
        what: &str,
        timeout: Duration,
        pred: impl Fn(&Recorded) -> bool,
    ) -> Recorded {
        let deadline = Instant::now() + timeout;
        loop {
            let notified = self.inner.changed.notified();
            if let Some(r) = self.requests().into_iter().find(|r| pred(r)) {
                return r;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                let seen: Vec<String> = self
                    .requests()
                    .iter()
                    .map(|r| format!("{} {}", r.method, r.path))
                    .collect();
                panic!(
                    "timed out waiting for {what}; requests so far:\n{}",
                    seen.join("\n")
                );
            }
            let _ = tokio::time::timeout(left, notified).await;
        }
    }

    /// Waits until at least `n` requests match `pred`.
    pub async fn wait_count(
        &self,
        what: &str,
        n: usize,
        timeout: Duration,
        pred: impl Fn(&Recorded) -> bool,
    ) -> Vec<Recorded> {
        let deadline = Instant::now() + timeout;
        loop {
            let notified = self.inner.changed.notified();
            let found: Vec<Recorded> = self.requests().into_iter().filter(|r| pred(r)).collect();
            if found.len() >= n {
                return found;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                panic!("timed out waiting for {n} x {what}; saw {}", found.len());
            }
            let _ = tokio::time::timeout(left, notified).await;
        }
    }

    /// Polls `cond` (after each request the fake serves) until it holds.
    pub async fn wait_until(&self, what: &str, timeout: Duration, cond: impl Fn() -> bool) {
        let deadline = Instant::now() + timeout;
        loop {
            let notified = self.inner.changed.notified();
            if cond() {
                return;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                panic!("timed out waiting until {what}");
            }
            // Also poll on a short timer: the condition may depend on the bot's
            // database, not only on requests.
            let _ = tokio::time::timeout(left.min(Duration::from_millis(50)), notified).await;
        }
    }

    /// While `hold` is set, IDENTIFY gets no READY (the new session stays half
    /// open); clearing it sends the READYs held back.
    pub fn hold_ready(&self, hold: bool) {
        self.inner.hold_ready.store(hold, Ordering::SeqCst);
        if !hold {
            let held = std::mem::take(&mut *self.inner.held_ready.lock().unwrap());
            for (tx, shard) in held {
                send_ready(&self.inner, &tx, shard);
            }
        }
    }

    /// Sends a raw gateway payload (an opcode other than dispatch, say) to the newest
    /// session.
    pub fn send_raw(&self, payload: Value) {
        self.send_outgoing(payload.to_string().into());
    }

    /// Sends a dispatch event (`t`, `d`) down the gateway, to the session of its
    /// server's shard.
    pub fn dispatch(&self, kind: &str, data: Value) {
        dispatch(&self.inner, kind, data);
    }

    /// [`dispatch`](Self::dispatch), and says which shard's session the event went
    /// to (`None`: one that had not identified yet).
    pub fn dispatch_on_shard(&self, kind: &str, data: Value) -> Option<[u64; 2]> {
        dispatch(&self.inner, kind, data)
    }

    /// Adds a server with these text channels (id, name) to the ones the gateway
    /// announces, before the bot connects: sessions of its shard get its
    /// GUILD_CREATE, and its channels' messages and threads name it.
    pub fn add_guild(&self, guild: u64, channels: &[(u64, &str)]) {
        let mut map = self.inner.channel_guilds.lock().unwrap();
        for (channel, _) in channels {
            map.insert(*channel, guild);
        }
        self.inner.guilds.lock().unwrap().push(AddedGuild {
            id: guild,
            channels: channels
                .iter()
                .map(|(id, name)| (*id, name.to_string()))
                .collect(),
        });
    }

    /// The shard (`[id, total]`) of each gateway session open now, oldest first;
    /// `None` for one that has not identified.
    pub fn sessions(&self) -> Vec<Option<[u64; 2]>> {
        self.inner
            .sessions
            .lock()
            .unwrap()
            .iter()
            .map(|s| s.shard)
            .collect()
    }

    /// Sends a dispatch event and tells when its frame went to the socket. Channel
    /// histories are not updated.
    pub fn dispatch_timed(&self, kind: &str, data: Value) -> oneshot::Receiver<Instant> {
        let (written, rx) = oneshot::channel();
        send_dispatch(&self.inner, kind, data, Some(written));
        rx
    }

    /// A dispatch frame ready to send with [`send_frames`](Self::send_frames): a
    /// driver builds a burst first, so building it is not part of what it measures.
    pub fn dispatch_frame(&self, kind: &str, data: Value) -> String {
        frame(&self.inner, kind, data)
    }

    /// Sends frames as fast as the socket takes them, in order; tells when the first
    /// one went to the socket. Channel histories are not updated.
    pub fn send_frames(&self, frames: Vec<String>) -> oneshot::Receiver<Instant> {
        let (written, rx) = oneshot::channel();
        let mut written = Some(written);
        for text in frames {
            self.send_outgoing(Outgoing {
                text,
                written: written.take(),
            });
        }
        rx
    }

    fn send_outgoing(&self, out: Outgoing) {
        let sessions = self.inner.sessions.lock().unwrap();
        let newest = sessions
            .last()
            .expect("the bot is connected to the gateway");
        newest.tx.send(out).expect("gateway connection open");
    }

    /// Applies a message event to the channel histories without sending it: what
    /// members do while the bot is not connected.
    pub fn happen_offline(&self, kind: &str, data: Value) {
        apply_to_history(&self.inner, kind, &data);
    }

    /// Forgets the nonces seen so far, as Discord does after a few minutes.
    pub fn forget_nonces(&self) {
        self.inner.nonces.lock().unwrap().clear();
    }

    /// Deletes a channel: every later request about it gets 404 Unknown Channel.
    pub fn delete_channel(&self, channel: u64) {
        self.inner.deleted.lock().unwrap().push(channel);
    }

    /// A channel's messages as the history endpoint returns them, oldest first.
    pub fn history(&self, channel: u64) -> Vec<Value> {
        let mut h = self
            .inner
            .history
            .lock()
            .unwrap()
            .get(&channel)
            .cloned()
            .unwrap_or_default();
        h.sort_by_key(message_id);
        h
    }

    /// The bot's posted channel messages, in order, with the channel they went to.
    pub fn posted_messages(&self) -> Vec<(u64, Value)> {
        self.inner.posted.lock().unwrap().clone()
    }
}

fn snowflake(inner: &Inner) -> u64 {
    const DISCORD_EPOCH_MS: i64 = 1_420_070_400_000;
    let ms = (inner.clock.now().timestamp_millis() - DISCORD_EPOCH_MS).max(0) as u64;
    (ms << 22) | (inner.next_id.fetch_add(1, Ordering::SeqCst) & 0x3f_ffff)
}

fn frame(inner: &Inner, kind: &str, data: Value) -> String {
    if kind == "INTERACTION_CREATE"
        && let (Some(token), Some(channel)) = (
            data["token"].as_str(),
            data["channel_id"].as_str().and_then(|c| c.parse().ok()),
        )
    {
        inner
            .interaction_channels
            .lock()
            .unwrap()
            .insert(token.to_string(), channel);
    }
    let s = inner.seq.fetch_add(1, Ordering::SeqCst) + 1;
    json!({"op": 0, "t": kind, "s": s, "d": data}).to_string()
}

fn message_id(m: &Value) -> u64 {
    m["id"].as_str().and_then(|s| s.parse().ok()).unwrap_or(0)
}

/// Keeps the channel histories in step with a message event.
fn apply_to_history(inner: &Inner, kind: &str, data: &Value) {
    let channel: u64 = data["channel_id"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let mut history = inner.history.lock().unwrap();
    let messages = history.entry(channel).or_default();
    match kind {
        "MESSAGE_CREATE" => {
            let id = message_id(data);
            if !messages.iter().any(|m| message_id(m) == id) {
                let mut m = data.clone();
                m.as_object_mut().map(|o| o.remove("guild_id"));
                messages.push(m);
            }
        }
        "MESSAGE_UPDATE" => {
            let id = message_id(data);
            if let Some(m) = messages.iter_mut().find(|m| message_id(m) == id) {
                for key in ["content", "edited_timestamp", "attachments", "embeds"] {
                    if let Some(v) = data.get(key) {
                        m[key] = v.clone();
                    }
                }
            }
        }
        "MESSAGE_DELETE" => {
            let id = message_id(data);
            messages.retain(|m| message_id(m) != id);
        }
        _ => {}
    }
}

fn dispatch(inner: &Inner, kind: &str, data: Value) -> Option<[u64; 2]> {
    apply_to_history(inner, kind, &data);
    send_dispatch(inner, kind, data, None)
}

/// Numbers the event and queues it under one lock, so events dispatched at once
/// (echoes of concurrent posts) reach the socket in sequence order. Goes to the
/// newest session that takes the event's server ([`Session::takes`]); returns its
/// shard.
fn send_dispatch(
    inner: &Inner,
    kind: &str,
    data: Value,
    written: Option<oneshot::Sender<Instant>>,
) -> Option<[u64; 2]> {
    let guild = event_guild(kind, &data);
    let sessions = inner.sessions.lock().unwrap();
    let session = sessions
        .iter()
        .rev()
        .find(|s| s.takes(guild))
        .unwrap_or_else(|| {
            panic!("the bot is connected to the gateway with a session for server {guild:?}")
        });
    let text = frame(inner, kind, data);
    session
        .tx
        .send(Outgoing { text, written })
        .expect("gateway connection open");
    session.shard
}

/// Discord's echo of a message the bot posted, if a session takes its server (none
/// may: the bot is stopping, or that shard's process is gone).
fn echo(inner: &Inner, data: Value) {
    let guild = event_guild("MESSAGE_CREATE", &data);
    let sessions = inner.sessions.lock().unwrap();
    if let Some(session) = sessions.iter().rev().find(|s| s.takes(guild)) {
        let text = frame(inner, "MESSAGE_CREATE", data);
        let _ = session.tx.send(text.into());
    }
}

/// The server of a channel: an added server's, else the built-in fixtures'.
fn guild_of(inner: &Inner, channel: u64) -> u64 {
    inner
        .channel_guilds
        .lock()
        .unwrap()
        .get(&channel)
        .copied()
        .unwrap_or_else(|| fixtures::guild_of(channel))
}

async fn gateway(
    ws: WebSocketUpgrade,
    State(inner): State<Arc<Inner>>,
    axum::extract::ConnectInfo(Peer(peer)): axum::extract::ConnectInfo<Peer>,
) -> Response {
    inner.connections.label(peer, "gateway");
    ws.on_upgrade(move |socket| serve_gateway(socket, inner))
}

async fn serve_gateway(socket: WebSocket, inner: Arc<Inner>) {
    let (mut sink, mut stream) = socket.split();
    let (tx, mut rx) = mpsc::unbounded_channel::<Outgoing>();
    let session = inner.next_session.fetch_add(1, Ordering::SeqCst);
    inner.sessions.lock().unwrap().push(Session {
        id: session,
        tx: tx.clone(),
        shard: None,
    });
    // Off the list when the connection ends, however it ends.
    struct Closed<'a>(&'a Inner, u64);
    impl Drop for Closed<'_> {
        fn drop(&mut self) {
            self.0.sessions.lock().unwrap().retain(|s| s.id != self.1);
        }
    }
    let _closed = Closed(&inner, session);
    let hello = json!({"op": 10, "d": {"heartbeat_interval": 41250}, "s": null, "t": null});
    if sink
        .send(WsMessage::Text(hello.to_string().into()))
        .await
        .is_err()
    {
        return;
    }
    let writer = tokio::spawn(async move {
        while let Some(out) = rx.recv().await {
            let at = Instant::now();
            if sink.send(WsMessage::Text(out.text.into())).await.is_err() {
                break;
            }
            if let Some(written) = out.written {
                let _ = written.send(at);
            }
        }
    });
    while let Some(Ok(msg)) = stream.next().await {
        let received = Instant::now();
        let WsMessage::Text(text) = msg else { continue };
        let Ok(payload) = serde_json::from_str::<Value>(&text) else {
            continue;
        };
        match payload["op"].as_u64() {
            Some(1) => {
                let _ = tx.send(
                    json!({"op": 11, "d": null, "s": null, "t": null})
                        .to_string()
                        .into(),
                );
            }
            Some(2) => {
                inner.identify_times.lock().unwrap().push(received);
                // A sharded bot says which shard this session is: [id, total].
                let shard = [
                    payload["d"]["shard"][0].as_u64().unwrap_or(0),
                    payload["d"]["shard"][1].as_u64().unwrap_or(1).max(1),
                ];
                inner.identify_shards.lock().unwrap().push(shard);
                if let Some(s) = inner
                    .sessions
                    .lock()
                    .unwrap()
                    .iter_mut()
                    .find(|s| s.id == session)
                {
                    s.shard = Some(shard);
                }
                if inner.hold_ready.load(Ordering::SeqCst) {
                    inner.held_ready.lock().unwrap().push((tx.clone(), shard));
                } else {
                    send_ready(&inner, &tx, shard);
                }
                inner.identifies.fetch_add(1, Ordering::SeqCst);
                inner.identified.notify_waiters();
            }
            _ => {}
        }
    }
    writer.abort();
}

/// READY for a session on `shard`, then its servers' GUILD_CREATEs.
fn send_ready(inner: &Inner, tx: &mpsc::UnboundedSender<Outgoing>, shard: [u64; 2]) {
    // As Discord does: each server to the shard (id >> 22) % total only.
    let mut guilds: Vec<Value> = [GUILD_A, GUILD_B]
        .into_iter()
        .map(fixtures::guild_create)
        .collect();
    guilds.extend(inner.guilds.lock().unwrap().iter().map(|guild| {
        let channels: Vec<(u64, &str)> = guild
            .channels
            .iter()
            .map(|(c, n)| (*c, n.as_str()))
            .collect();
        fixtures::guild_create_with(guild.id, &channels)
    }));
    guilds.retain(|g| event_guild("GUILD_CREATE", g).is_some_and(|id| on_shard(id, shard)));
    let mut ready = fixtures::ready(inner.port);
    ready["shard"] = json!(shard);
    ready["guilds"] = guilds
        .iter()
        .map(|g| json!({"id": g["id"], "unavailable": true}))
        .collect();
    let _ = tx.send(frame(inner, "READY", ready).into());
    for guild in guilds {
        let _ = tx.send(frame(inner, "GUILD_CREATE", guild).into());
    }
}

fn take_fault(inner: &Inner, method: &str, path: &str) -> Option<Fault> {
    let mut faults = inner.faults.lock().unwrap();
    let i = faults
        .iter()
        .position(|f| f.times > 0 && f.method == method && path.contains(&f.path_contains))?;
    faults[i].times -= 1;
    let fault = faults[i].clone();
    if faults[i].times == 0 {
        faults.remove(i);
    }
    Some(fault)
}

struct InFlight<'a>(&'a Inner);

impl<'a> InFlight<'a> {
    fn enter(inner: &'a Inner) -> Self {
        let now = inner.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        inner.max_in_flight.fetch_max(now, Ordering::SeqCst);
        InFlight(inner)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

async fn rest(
    State(inner): State<Arc<Inner>>,
    axum::extract::ConnectInfo(Peer(peer)): axum::extract::ConnectInfo<Peer>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let _guard = InFlight::enter(&inner);
    let client = headers
        .get("user-agent")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("(no User-Agent)");
    inner.connections.label(peer, client);
    let path = uri.path().to_string();
    let query = uri.query().unwrap_or_default().to_string();
    let content_type = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let raw_body = body;
    let body: Value = if raw_body.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&raw_body)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&raw_body).into_owned()))
    };
    let mut recorded = Recorded {
        method: method.to_string(),
        path: path.clone(),
        query: query.clone(),
        body: body.clone(),
        authorization: headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .map(String::from),
        at: Instant::now(),
        status: 0,
    };
    // Every request, whatever the fake answers it (a 429 or an injected fault too).
    let problems = openapi::check(method.as_str(), &path, &query, content_type, &raw_body);
    if !problems.is_empty() {
        let shown = if query.is_empty() {
            path.clone()
        } else {
            format!("{path}?{query}")
        };
        let mut violations = inner.violations.lock().unwrap();
        violations.extend(
            problems
                .into_iter()
                .map(|p| format!("{method} {shown}: {p}")),
        );
    }
    if let Err(wait) = admit(&inner, &path, recorded.at) {
        inner.rate_limited.fetch_add(1, Ordering::SeqCst);
        recorded.status = 429;
        record(&inner, recorded);
        // Discord's global 429: the wait in the body and in the headers.
        let secs = wait.as_secs_f64().max(0.001);
        let body =
            json!({"message": "You are being rate limited.", "retry_after": secs, "global": true});
        let mut response = (StatusCode::TOO_MANY_REQUESTS, axum::Json(body)).into_response();
        let headers = response.headers_mut();
        headers.insert("retry-after", format!("{secs:.3}").parse().unwrap());
        headers.insert("x-ratelimit-global", "true".parse().unwrap());
        headers.insert("x-ratelimit-scope", "global".parse().unwrap());
        return response;
    }
    if inner.reject_token.load(Ordering::SeqCst) && recorded.authorization.is_some() {
        recorded.status = 401;
        record(&inner, recorded);
        // Discord's own answer to a bad token.
        let body = json!({"message": "401: Unauthorized", "code": 0});
        return (StatusCode::UNAUTHORIZED, axum::Json(body)).into_response();
    }
    if let Some(fault) = take_fault(&inner, method.as_str(), &path) {
        if fault.after_create || fault.hang {
            let _ = answer(&inner, &method, &path, &query, &body).await;
        }
        recorded.status = fault.status;
        if fault.hang {
            recorded.status = 0;
            record(&inner, recorded);
            tokio::time::sleep(Duration::from_secs(3600)).await;
            return StatusCode::GATEWAY_TIMEOUT.into_response();
        }
        record(&inner, recorded);
        let status = StatusCode::from_u16(fault.status).unwrap();
        let body = match fault.retry_after {
            Some(_) if fault.header_only => {
                json!({"message": "You are being rate limited.", "global": false})
            }
            Some(secs) => {
                json!({"message": "You are being rate limited.", "retry_after": secs, "global": false})
            }
            None => json!({"message": format!("injected {}", fault.status), "code": fault.code}),
        };
        let mut response = (status, axum::Json(body)).into_response();
        if let (Some(secs), true) = (fault.retry_after, fault.header_only) {
            response
                .headers_mut()
                .insert("retry-after", secs.to_string().parse().unwrap());
        }
        return response;
    }
    let response = answer(&inner, &method, &path, &query, &body).await;
    recorded.status = response.status().as_u16();
    record(&inner, recorded);
    response
}

/// Applies the global rate limit, if one is set, to a request that counts towards it.
fn admit(inner: &Inner, path: &str, now: Instant) -> Result<(), Duration> {
    let exempt =
        path.starts_with("/api/v10/interactions/") || path.starts_with("/api/v10/webhooks/");
    let mut limit = inner.global_limit.lock().unwrap();
    match limit.as_mut() {
        Some(limit) if !exempt => limit.admit(now),
        _ => Ok(()),
    }
}

/// Hands a served request to the observer and, unless recording is off, keeps it.
fn record(inner: &Inner, recorded: Recorded) {
    let observer = inner.observer.lock().unwrap().clone();
    if let Some(observe) = observer {
        observe(&recorded);
    }
    if inner.recording.load(Ordering::SeqCst) {
        inner.requests.lock().unwrap().push(recorded);
    }
    inner.changed.notify_waiters();
}

async fn answer(inner: &Inner, method: &Method, path: &str, query: &str, body: &Value) -> Response {
    let parts: Vec<&str> = path.trim_start_matches("/api/v10/").split('/').collect();
    let json_ok = |v: Value| (StatusCode::OK, axum::Json(v)).into_response();
    if let ["channels", channel, ..] = parts.as_slice() {
        let channel: u64 = channel.parse().unwrap_or(0);
        if inner.deleted.lock().unwrap().contains(&channel) {
            return (
                StatusCode::NOT_FOUND,
                axum::Json(json!({"message": "Unknown Channel", "code": 10003})),
            )
                .into_response();
        }
    }
    match (method.as_str(), parts.as_slice()) {
        ("GET", ["channels", channel, "messages"]) => {
            // Like Discord: newest first; `after` gives the oldest `limit` messages
            // after that id, `before` the newest before it; at most 100.
            let channel: u64 = channel.parse().unwrap_or(0);
            let param = |name: &str| -> Option<u64> {
                query
                    .split('&')
                    .filter_map(|kv| kv.split_once('='))
                    .find(|(k, _)| *k == name)
                    .and_then(|(_, v)| v.parse().ok())
            };
            let limit = param("limit").unwrap_or(50).clamp(1, 100) as usize;
            let mut messages = inner
                .history
                .lock()
                .unwrap()
                .get(&channel)
                .cloned()
                .unwrap_or_default();
            messages.sort_by_key(message_id);
            let page: Vec<Value> = if let Some(after) = param("after") {
                messages.into_iter().filter(|m| message_id(m) > after).take(limit).collect()
            } else {
                let before = param("before").unwrap_or(u64::MAX);
                let older: Vec<Value> = messages.into_iter().filter(|m| message_id(m) < before).collect();
                older[older.len().saturating_sub(limit)..].to_vec()
            };
            json_ok(Value::Array(page.into_iter().rev().collect()))
        }
        ("GET", ["users", "@me"]) => json_ok(fixtures::bot_user()),
        ("GET", ["gateway"]) => json_ok(json!({"url": format!("ws://127.0.0.1:{}/gateway-ws", inner.port)})),
        ("PUT", ["applications", _, "commands"]) | ("PUT", ["applications", _, "guilds", _, "commands"]) => {
            if *inner.break_commands.lock().unwrap() {
                return json_ok(json!({"message": "not a list"}));
            }
            let guild = parts.get(3).copied();
            let commands: Vec<Value> = body
                .as_array()
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .map(|c| fixtures::registered_command(c, snowflake(inner), guild))
                .collect();
            json_ok(Value::Array(commands))
        }
        ("POST", ["interactions", _, _, "callback"]) => StatusCode::NO_CONTENT.into_response(),
        ("PATCH", ["webhooks", _, token, "messages", "@original"]) | ("POST", ["webhooks", _, token]) => {
            let id = snowflake(inner);
            let channel = inner.interaction_channels.lock().unwrap().get(*token).copied().unwrap_or(CHANNEL_A);
            json_ok(fixtures::message(id, channel, fixtures::bot_user(), body, inner.clock.now()))
        }
        ("POST", ["channels", channel, "messages"]) => {
            let delay = *inner.message_delay.lock().unwrap();
            if !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            let channel: u64 = channel.parse().unwrap_or(0);
            // Like Discord: with enforce_nonce, a nonce seen before returns that message.
            let nonce = body["nonce"].as_str().filter(|_| body["enforce_nonce"] == json!(true));
            if let Some(nonce) = nonce
                && let Some(existing) = inner.nonces.lock().unwrap().get(&(channel, nonce.to_string())) {
                    return json_ok(existing.clone());
                }
            let id = snowflake(inner);
            let message = fixtures::message(id, channel, fixtures::bot_user(), body, inner.clock.now());
            if let Some(nonce) = nonce {
                inner.nonces.lock().unwrap().insert((channel, nonce.to_string()), message.clone());
            }
            inner.posted.lock().unwrap().push((channel, message.clone()));
            apply_to_history(inner, "MESSAGE_CREATE", &message);
            // Discord echoes every message, the bot's own included, on the gateway.
            let mut echoed = message.clone();
            let parent = inner.threads.lock().unwrap().get(&channel).copied();
            echoed["guild_id"] = json!(guild_of(inner, parent.unwrap_or(channel)).to_string());
            echo(inner, echoed);
            json_ok(message)
        }
        ("POST", ["channels", channel, "messages", message, "threads"]) => {
            let channel: u64 = channel.parse().unwrap_or(0);
            let message: u64 = message.parse().unwrap_or(0);
            if inner.threads.lock().unwrap().contains_key(&message) {
                // Like Discord: one thread per message.
                return (
                    StatusCode::BAD_REQUEST,
                    axum::Json(json!({
                        "message": "A thread has already been created for this message",
                        "code": 160004
                    })),
                )
                    .into_response();
            }
            inner.threads.lock().unwrap().insert(message, channel);
            let mut thread = fixtures::thread(message, channel, body["name"].as_str().unwrap_or("thread"));
            thread["guild_id"] = json!(guild_of(inner, channel).to_string());
            json_ok(thread)
        }
        ("PUT", ["channels", _, "messages", _, "reactions", _, "@me"]) => StatusCode::NO_CONTENT.into_response(),
        _ => (
            StatusCode::NOT_FOUND,
            axum::Json(json!({"message": format!("fake discord has no route for {method} {path}"), "code": 0})),
        )
            .into_response(),
    }
}
