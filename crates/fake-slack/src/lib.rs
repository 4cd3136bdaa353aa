//! A fake Slack on 127.0.0.1 for the tests: the Web API methods the bot calls
//! (recorded with their bodies, answered as Slack documents them) and a Socket Mode
//! WebSocket that sends `hello`, then the envelopes a test scripts, and records the
//! bot's acknowledgements. Several sockets may be open at once (one app's
//! connections, from one process or several): each has a number, in the order they
//! opened; an envelope goes to the newest one, to each in turn
//! ([`FakeSlack::spread_round_robin`]), or to the one a test names
//! ([`FakeSlack::message_event_on`], [`FakeSlack::command_on`]), and every
//! acknowledgement records the socket it came back on. It keeps channels, their messages and threads, so a
//! listing (`conversations.history`, `conversations.replies`) returns what was
//! posted; it can misbehave on command (a 429, a 5xx, an error code, a post that
//! goes through but whose answer is lost).
//!
//! Every `chat.postMessage` body is read with slack-morphism's own request type
//! (`SlackApiChatPostMessageRequest`, its blocks included): a body the library's
//! types cannot read is a violation, and [`FakeSlack::assert_payloads_valid`] fails
//! the test with the list.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::ws::{Message as WsMessage, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Map, Value, json};
use tokio::sync::{Notify, mpsc};

pub const TEAM: &str = "T0FAKE";
pub const BOT_USER: &str = "UBOT";
pub const BOT_ID: &str = "BBOT";
pub const BOT_TOKEN: &str = "xoxb-fake-bot-token-0123456789";
pub const APP_TOKEN: &str = "xapp-1-fake-app-token-0123456789";
/// A channel the bot is in, created by [`CREATOR`].
pub const CHANNEL: &str = "C0STUDY";
pub const CHANNEL_NAME: &str = "study";
/// A second channel the bot is in.
pub const CHANNEL_2: &str = "C0OTHER";
/// A channel the bot was never invited to.
pub const CHANNEL_OUTSIDE: &str = "C0OUTSIDE";
pub const ADMIN: &str = "U0ADMIN";
pub const CREATOR: &str = "U0CREATOR";
pub const MEMBER: &str = "U0MEMBER";
pub const MEMBER_2: &str = "U0MEMBER2";

/// One Web API request the bot made.
#[derive(Debug, Clone)]
pub struct Call {
    pub method: String,
    /// The JSON body, or the query/form parameters as an object of strings.
    pub body: Value,
    pub authorization: Option<String>,
    pub at: Instant,
    /// The status the fake answered with.
    pub status: u16,
}

/// What the fake does with the next matching call instead of answering normally.
#[derive(Debug, Clone)]
pub enum Misbehave {
    /// `{"ok": false, "error": code}` with status 200.
    Error(&'static str),
    /// A 429 with `Retry-After` (seconds).
    RateLimited(u64),
    /// A bare HTTP status (a 5xx).
    Status(u16),
    /// The call takes effect (a post is stored), but the answer is a 503: an unknown
    /// outcome for the bot.
    LostAfterEffect,
    /// The call takes effect, and the answer never comes (the bot may be killed
    /// while it waits).
    HangAfterEffect,
}

#[derive(Debug, Clone)]
struct Fault {
    method: &'static str,
    what: Misbehave,
    /// Calls of the method answered normally before the fault applies.
    skip: usize,
    times: usize,
}

#[derive(Debug, Clone)]
struct ChannelInfo {
    name: String,
    creator: String,
    is_member: bool,
    archived: bool,
    gone: bool,
}

/// One open Socket Mode connection.
struct Socket {
    id: usize,
    out: mpsc::UnboundedSender<String>,
}

#[derive(Default)]
struct Inner {
    calls: Vec<Call>,
    violations: Vec<String>,
    faults: Vec<Fault>,
    /// Messages by channel, oldest first; replies carry `thread_ts`.
    messages: HashMap<String, Vec<Value>>,
    channels: HashMap<String, ChannelInfo>,
    users: HashMap<String, Value>,
    reactions: Vec<(String, String, String)>,
    /// Frames the Socket Mode client sent (acknowledgements), as JSON, with when
    /// the fake read them and the socket they came on.
    acks: Vec<(Instant, usize, Value)>,
    /// Where each envelope's first acknowledgement is in `acks`: the load harness
    /// waits for thousands of acks, one at a time, and a scan per wake-up would put
    /// the fake's own work, growing with the run, into every time it measures.
    first_ack: HashMap<String, usize>,
    /// Envelopes waiting for a Socket Mode connection.
    pending: VecDeque<String>,
    /// The open sockets (closed ones are pruned when looked at), oldest first.
    sockets: Vec<Socket>,
    /// The number the next socket gets.
    next_socket: usize,
    /// Envelopes sent so far while spreading round-robin; `None`: to the newest.
    round_robin: Option<usize>,
    /// Each envelope's id and the socket it was sent on.
    delivered: Vec<(String, usize)>,
    connections_opened: usize,
    bad_tokens: Vec<String>,
    /// Slack may return fewer messages than asked for: at most this many a page.
    max_page: Option<usize>,
}

/// The fake Slack.
#[derive(Clone)]
pub struct FakeSlack {
    inner: Arc<Mutex<Inner>>,
    changed: Arc<Notify>,
    ts: Arc<AtomicU64>,
    envelope: Arc<AtomicU64>,
    addr: std::net::SocketAddr,
    /// The host name the Socket Mode URL points at (a test may point it elsewhere).
    socket_host: Arc<Mutex<String>>,
}

fn user(id: &str, name: &str, admin: bool, owner: bool) -> Value {
    json!({
        "id": id, "team_id": TEAM, "name": name.to_lowercase(), "is_admin": admin,
        "is_owner": owner, "is_bot": false, "deleted": false,
        "profile": { "display_name": name, "real_name": format!("{name} Real") }
    })
}

impl FakeSlack {
    pub async fn start() -> FakeSlack {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1");
        let addr = listener.local_addr().expect("local addr");
        let mut inner = Inner::default();
        for (id, name, creator, member) in [
            (CHANNEL, CHANNEL_NAME, CREATOR, true),
            (CHANNEL_2, "other", ADMIN, true),
            (CHANNEL_OUTSIDE, "outside", ADMIN, false),
        ] {
            inner.channels.insert(
                id.into(),
                ChannelInfo {
                    name: name.into(),
                    creator: creator.into(),
                    is_member: member,
                    archived: false,
                    gone: false,
                },
            );
        }
        for (id, name, admin, owner) in [
            (ADMIN, "Ada", true, false),
            (CREATOR, "Cy", false, false),
            (MEMBER, "Mo", false, false),
            (MEMBER_2, "Nell <!channel>", false, false),
        ] {
            inner.users.insert(id.into(), user(id, name, admin, owner));
        }
        let fake = FakeSlack {
            inner: Arc::new(Mutex::new(inner)),
            changed: Arc::new(Notify::new()),
            // Slack's ts: seconds since the epoch, with microseconds that keep each
            // message distinct.
            ts: Arc::new(AtomicU64::new(0)),
            envelope: Arc::new(AtomicU64::new(0)),
            addr,
            socket_host: Arc::new(Mutex::new(format!("127.0.0.1:{}", addr.port()))),
        };
        let app = Router::new()
            .route("/api/{method}", any(web_api))
            .route("/socket", get(socket))
            .with_state(fake.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        fake
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// `PREPBOT_SLACK_API_BASE` for the bot.
    pub fn api_base(&self) -> String {
        format!("http://{}/api", self.addr)
    }

    /// Points the Socket Mode URL `apps.connections.open` hands out at another host.
    pub fn set_socket_host(&self, host: &str) {
        *self.socket_host.lock().unwrap_or_else(|e| e.into_inner()) = host.to_string();
    }

    /// A new message `ts`, later than every earlier one.
    pub fn next_ts(&self) -> String {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        let micros = now.as_micros() as u64;
        let mut last = self.ts.load(Ordering::SeqCst);
        loop {
            let next = micros.max(last + 1);
            match self
                .ts
                .compare_exchange(last, next, Ordering::SeqCst, Ordering::SeqCst)
            {
                Ok(_) => return format!("{}.{:06}", next / 1_000_000, next % 1_000_000),
                Err(actual) => last = actual,
            }
        }
    }

    /// Makes the next `times` calls of `method` misbehave.
    pub fn fail(&self, method: &'static str, what: Misbehave, times: usize) {
        self.fail_after(method, 0, what, times);
    }

    /// Answers the next `skip` calls of `method` normally, then misbehaves `times`.
    pub fn fail_after(&self, method: &'static str, skip: usize, what: Misbehave, times: usize) {
        self.lock().faults.push(Fault {
            method,
            what,
            skip,
            times,
        });
    }

    /// Returns at most `n` messages a page from `conversations.replies`.
    pub fn set_max_page(&self, n: usize) {
        self.lock().max_page = Some(n);
    }

    /// Rejects `token` from now on (`invalid_auth`).
    pub fn revoke(&self, token: &str) {
        self.lock().bad_tokens.push(token.to_string());
    }

    pub fn archive(&self, channel: &str) {
        if let Some(c) = self.lock().channels.get_mut(channel) {
            c.archived = true;
        }
    }

    pub fn delete_channel(&self, channel: &str) {
        if let Some(c) = self.lock().channels.get_mut(channel) {
            c.gone = true;
        }
    }

    pub fn set_member(&self, channel: &str, member: bool) {
        if let Some(c) = self.lock().channels.get_mut(channel) {
            c.is_member = member;
        }
    }

    /// Every call so far.
    pub fn calls(&self) -> Vec<Call> {
        self.lock().calls.clone()
    }

    /// The bodies of every call of `method`.
    pub fn calls_of(&self, method: &str) -> Vec<Value> {
        self.lock()
            .calls
            .iter()
            .filter(|c| c.method == method)
            .map(|c| c.body.clone())
            .collect()
    }

    /// Payloads slack-morphism's own types could not read.
    pub fn violations(&self) -> Vec<String> {
        self.lock().violations.clone()
    }

    pub fn assert_payloads_valid(&self) {
        let v = self.violations();
        assert!(v.is_empty(), "payloads Slack's types reject: {v:#?}");
    }

    /// Messages in a channel (top level and replies), oldest first.
    pub fn messages(&self, channel: &str) -> Vec<Value> {
        self.lock()
            .messages
            .get(channel)
            .cloned()
            .unwrap_or_default()
    }

    /// The bot's top-level posts in a channel.
    pub fn top_level_posts(&self, channel: &str) -> Vec<Value> {
        self.messages(channel)
            .into_iter()
            .filter(|m| m.get("thread_ts").is_none() && m["user"] == BOT_USER)
            .collect()
    }

    /// The bot's replies in a thread.
    pub fn bot_replies(&self, channel: &str, thread_ts: &str) -> Vec<Value> {
        self.messages(channel)
            .into_iter()
            .filter(|m| {
                m["thread_ts"] == thread_ts && m["ts"] != thread_ts && m["user"] == BOT_USER
            })
            .collect()
    }

    /// Reactions added: (channel, ts, name).
    pub fn reactions(&self) -> Vec<(String, String, String)> {
        self.lock().reactions.clone()
    }

    /// Adds a member's message as Slack would store it (no event is sent).
    pub fn add_message(
        &self,
        channel: &str,
        thread_ts: Option<&str>,
        user: &str,
        text: &str,
    ) -> Value {
        let ts = self.next_ts();
        let mut m =
            json!({ "type": "message", "user": user, "text": text, "ts": ts, "team": TEAM });
        if let Some(t) = thread_ts {
            m["thread_ts"] = json!(t);
        }
        self.store_message(channel, m.clone());
        m
    }

    /// Adds another app's message (`subtype: bot_message`, a `bot_id`, no `user`).
    pub fn add_bot_message(
        &self,
        channel: &str,
        thread_ts: Option<&str>,
        bot_id: &str,
        text: &str,
    ) -> Value {
        let ts = self.next_ts();
        let mut m = json!({ "type": "message", "subtype": "bot_message", "bot_id": bot_id, "text": text, "ts": ts });
        if let Some(t) = thread_ts {
            m["thread_ts"] = json!(t);
        }
        self.store_message(channel, m.clone());
        m
    }

    /// Edits a stored message as Slack would (`edited` set); returns the edit's ts.
    pub fn edit_message(&self, channel: &str, ts: &str, text: &str) -> String {
        let edit = self.next_ts();
        let mut inner = self.lock();
        if let Some(m) = inner
            .messages
            .get_mut(channel)
            .and_then(|ms| ms.iter_mut().find(|m| m["ts"] == ts))
        {
            m["text"] = json!(text);
            m["edited"] = json!({ "user": m["user"].clone(), "ts": edit });
        }
        edit
    }

    pub fn remove_message(&self, channel: &str, ts: &str) {
        if let Some(ms) = self.lock().messages.get_mut(channel) {
            ms.retain(|m| m["ts"] != ts);
        }
    }

    fn store_message(&self, channel: &str, m: Value) {
        self.lock()
            .messages
            .entry(channel.to_string())
            .or_default()
            .push(m);
        self.changed.notify_waiters();
    }

    /// Waits until `cond` holds, re-checking after every call the fake serves.
    pub async fn wait_until(
        &self,
        what: &str,
        timeout: Duration,
        cond: impl Fn(&FakeSlack) -> bool,
    ) {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let changed = self.changed.notified();
            if cond(self) {
                return;
            }
            if tokio::time::timeout_at(deadline, changed).await.is_err() && !cond(self) {
                panic!("timed out waiting for {what}; calls: {:#?}", self.methods());
            }
        }
    }

    /// The methods called, in order.
    pub fn methods(&self) -> Vec<String> {
        self.lock().calls.iter().map(|c| c.method.clone()).collect()
    }

    // --- Socket Mode ---

    /// Sends an envelope to the connected client (or to the next one to connect);
    /// returns its `envelope_id`.
    pub fn send_envelope(
        &self,
        kind: &str,
        payload: Value,
        accepts_response_payload: bool,
    ) -> String {
        self.envelope_to(None, kind, payload, accepts_response_payload)
    }

    /// Sends an envelope on socket `socket` (`None`: as [`FakeSlack::send_frame`]
    /// routes it); returns its `envelope_id`.
    fn envelope_to(
        &self,
        socket: Option<usize>,
        kind: &str,
        payload: Value,
        accepts_response_payload: bool,
    ) -> String {
        let id = format!("env-{}", self.envelope.fetch_add(1, Ordering::SeqCst) + 1);
        let frame = json!({
            "envelope_id": id, "type": kind, "payload": payload,
            "accepts_response_payload": accepts_response_payload, "retry_attempt": 0,
            "retry_reason": ""
        })
        .to_string();
        let sent_on = match socket {
            Some(s) => {
                self.send_frame_on(s, frame);
                Some(s)
            }
            None => self.route(frame),
        };
        if let Some(s) = sent_on {
            self.lock().delivered.push((id.clone(), s));
        }
        id
    }

    /// Sends a raw frame (a `disconnect`, a redelivery) to the newest open socket,
    /// or to each open socket in turn after [`FakeSlack::spread_round_robin`]; with
    /// none open, to the next one to connect.
    pub fn send_frame(&self, frame: String) {
        self.route(frame);
    }

    /// [`FakeSlack::send_frame`], returning the socket the frame went to (`None`:
    /// kept for the next one to connect).
    fn route(&self, frame: String) -> Option<usize> {
        let mut guard = self.lock();
        let inner = &mut *guard;
        inner.sockets.retain(|s| !s.out.is_closed());
        let at = match inner.round_robin.as_mut() {
            Some(turn) if !inner.sockets.is_empty() => {
                let at = *turn % inner.sockets.len();
                *turn += 1;
                at
            }
            _ => match inner.sockets.len() {
                0 => {
                    inner.pending.push_back(frame);
                    return None;
                }
                n => n - 1,
            },
        };
        let socket = &inner.sockets[at];
        let _ = socket.out.send(frame);
        Some(socket.id)
    }

    /// Sends a raw frame on socket `socket` (see [`FakeSlack::socket_ids`]).
    ///
    /// # Panics
    /// If that socket is not open: the test meant a connection that is gone.
    pub fn send_frame_on(&self, socket: usize, frame: String) {
        let mut inner = self.lock();
        inner.sockets.retain(|s| !s.out.is_closed());
        let Some(s) = inner.sockets.iter().find(|s| s.id == socket) else {
            let open: Vec<usize> = inner.sockets.iter().map(|s| s.id).collect();
            drop(inner);
            panic!("socket {socket} is not open (open: {open:?})");
        };
        let _ = s.out.send(frame);
    }

    /// From now on, envelopes sent without a socket go to each open socket in
    /// turn, as Slack spreads them over an app's connections (by default they go
    /// to the newest).
    pub fn spread_round_robin(&self) {
        self.lock().round_robin = Some(0);
    }

    /// The numbers of the open sockets, oldest first. Sockets are numbered from 0
    /// in the order they opened; a reconnection gets a new number.
    pub fn socket_ids(&self) -> Vec<usize> {
        let mut inner = self.lock();
        inner.sockets.retain(|s| !s.out.is_closed());
        inner.sockets.iter().map(|s| s.id).collect()
    }

    /// The socket an envelope was sent on (`None` while it waits for one to open).
    pub fn delivered_on(&self, envelope_id: &str) -> Option<usize> {
        self.lock()
            .delivered
            .iter()
            .find(|(id, _)| id == envelope_id)
            .map(|(_, s)| *s)
    }

    /// The sockets each acknowledgement of an envelope came back on, one entry per
    /// acknowledgement.
    pub fn ack_sockets(&self, envelope_id: &str) -> Vec<usize> {
        self.lock()
            .acks
            .iter()
            .filter(|(_, _, v)| v["envelope_id"] == envelope_id)
            .map(|(_, s, _)| *s)
            .collect()
    }

    /// An `events_api` envelope with a message event, as Slack sends it.
    pub fn message_event(&self, event: Value) -> String {
        let payload = self.event_payload(event);
        self.send_envelope("events_api", payload, false)
    }

    /// [`FakeSlack::message_event`] on socket `socket`.
    pub fn message_event_on(&self, socket: usize, event: Value) -> String {
        let payload = self.event_payload(event);
        self.envelope_to(Some(socket), "events_api", payload, false)
    }

    fn event_payload(&self, event: Value) -> Value {
        json!({
            "token": "verification", "team_id": TEAM, "api_app_id": "A0FAKE",
            "event": event, "type": "event_callback",
            "event_id": format!("Ev{}", self.envelope.load(Ordering::SeqCst) + 1),
            "event_time": 1_700_000_000, "authorizations": [
                { "team_id": TEAM, "user_id": BOT_USER, "is_bot": true }
            ]
        })
    }

    /// A `slash_commands` envelope for `/prep text` by `user` in `channel`.
    pub fn command(&self, channel: &str, user: &str, text: &str) -> String {
        let payload = self.command_payload(channel, user, text);
        self.send_envelope("slash_commands", payload, true)
    }

    /// [`FakeSlack::command`] on socket `socket`.
    pub fn command_on(&self, socket: usize, channel: &str, user: &str, text: &str) -> String {
        let payload = self.command_payload(channel, user, text);
        self.envelope_to(Some(socket), "slash_commands", payload, true)
    }

    fn command_payload(&self, channel: &str, user: &str, text: &str) -> Value {
        json!({
            "token": "verification", "team_id": TEAM, "team_domain": "fake",
            "channel_id": channel, "channel_name": CHANNEL_NAME, "user_id": user,
            "user_name": user.to_lowercase(), "command": "/prep", "text": text,
            "api_app_id": "A0FAKE", "is_enterprise_install": "false",
            "response_url": format!("http://{}/api/response_url", self.addr),
            "trigger_id": "1.2.3"
        })
    }

    /// Frames the client sent (acknowledgements), as JSON.
    pub fn acks(&self) -> Vec<Value> {
        self.lock().acks.iter().map(|(_, _, v)| v.clone()).collect()
    }

    /// When the acknowledgement of an envelope arrived.
    pub fn ack_time(&self, envelope_id: &str) -> Option<Instant> {
        let inner = self.lock();
        let i = *inner.first_ack.get(envelope_id)?;
        Some(inner.acks[i].0)
    }

    /// The calls of `method` made after `since`, with when the fake read them.
    pub fn calls_since(&self, since: Instant) -> Vec<Call> {
        self.lock()
            .calls
            .iter()
            .filter(|c| c.at >= since)
            .cloned()
            .collect()
    }

    /// The first acknowledgement of an envelope.
    pub fn ack_of(&self, envelope_id: &str) -> Option<Value> {
        let inner = self.lock();
        let i = *inner.first_ack.get(envelope_id)?;
        Some(inner.acks[i].2.clone())
    }

    pub fn connections_opened(&self) -> usize {
        self.lock().connections_opened
    }

    pub fn open_sockets(&self) -> usize {
        let mut inner = self.lock();
        inner.sockets.retain(|s| !s.out.is_closed());
        inner.sockets.len()
    }
}

fn params(query: Option<&str>, headers: &HeaderMap, body: &Bytes) -> Value {
    let json = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if json && !body.is_empty() {
        return serde_json::from_slice(body).unwrap_or(Value::Null);
    }
    let mut out = Map::new();
    let form = String::from_utf8_lossy(body);
    for source in [query.unwrap_or_default(), form.as_ref()] {
        for (k, v) in url_pairs(source) {
            out.insert(k, Value::String(v));
        }
    }
    Value::Object(out)
}

fn url_pairs(s: &str) -> Vec<(String, String)> {
    s.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k), decode(v))
        })
        .collect()
}

fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                match u8::from_str_radix(hex, 16) {
                    Ok(b) => {
                        out.push(b);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn ok(mut body: Value) -> Response {
    body["ok"] = json!(true);
    (StatusCode::OK, axum::Json(body)).into_response()
}

fn error(code: &str) -> Response {
    (
        StatusCode::OK,
        axum::Json(json!({ "ok": false, "error": code })),
    )
        .into_response()
}

async fn web_api(
    State(fake): State<FakeSlack>,
    Path(method): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let body = params(query.as_deref(), &headers, &body);
    let authorization = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let (response, hang) = answer(&fake, &method, &body, authorization.as_deref());
    fake.lock().calls.push(Call {
        method,
        body,
        authorization,
        at: Instant::now(),
        status: response.status().as_u16(),
    });
    fake.changed.notify_waiters();
    if hang {
        std::future::pending::<()>().await;
    }
    response
}

fn answer(fake: &FakeSlack, method: &str, body: &Value, auth: Option<&str>) -> (Response, bool) {
    let mut hang = false;
    let response = respond(fake, method, body, auth, &mut hang);
    (response, hang)
}

fn respond(
    fake: &FakeSlack,
    method: &str,
    body: &Value,
    auth: Option<&str>,
    hang: &mut bool,
) -> Response {
    let token = auth
        .and_then(|a| a.strip_prefix("Bearer "))
        .unwrap_or_default();
    if method == "response_url" {
        return ok(json!({}));
    }
    let wanted = if method == "apps.connections.open" {
        APP_TOKEN
    } else {
        BOT_TOKEN
    };
    if token.is_empty() {
        return error("not_authed");
    }
    if token != wanted || fake.lock().bad_tokens.iter().any(|b| b == token) {
        return error("invalid_auth");
    }
    let fault = {
        let mut inner = fake.lock();
        let at = inner
            .faults
            .iter()
            .position(|f| f.method == method && f.times > 0);
        match at {
            Some(i) if inner.faults[i].skip > 0 => {
                inner.faults[i].skip -= 1;
                None
            }
            Some(i) => {
                inner.faults[i].times -= 1;
                Some(inner.faults[i].what.clone())
            }
            None => None,
        }
    };
    let mut lost = false;
    match fault {
        Some(Misbehave::Error(code)) => return error(code),
        Some(Misbehave::RateLimited(secs)) => {
            return (
                StatusCode::TOO_MANY_REQUESTS,
                [("retry-after", secs.to_string())],
                axum::Json(json!({ "ok": false, "error": "ratelimited" })),
            )
                .into_response();
        }
        Some(Misbehave::Status(s)) => {
            return StatusCode::from_u16(s)
                .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
                .into_response();
        }
        Some(Misbehave::LostAfterEffect) => lost = true,
        Some(Misbehave::HangAfterEffect) => *hang = true,
        None => {}
    }
    let s = |k: &str| {
        body.get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let response = match method {
        "auth.test" => ok(json!({
            "url": "https://fake.slack.com/", "team": "Fake", "user": "prepbot",
            "team_id": TEAM, "user_id": BOT_USER, "bot_id": BOT_ID, "is_enterprise_install": false
        })),
        "apps.connections.open" => {
            fake.lock().connections_opened += 1;
            let host = fake
                .socket_host
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone();
            ok(json!({ "url": format!("ws://{host}/socket?ticket=secret-ticket") }))
        }
        "chat.postMessage" => {
            if let Err(e) = serde_json::from_value::<
                slack_morphism::api::SlackApiChatPostMessageRequest,
            >(body.clone())
            {
                fake.lock()
                    .violations
                    .push(format!("chat.postMessage: {e}: {body}"));
                return error("invalid_blocks");
            }
            let channel = s("channel");
            if let Some(r) = channel_refusal(fake, &channel, true) {
                return r;
            }
            let ts = fake.next_ts();
            let mut m = json!({
                "type": "message", "user": BOT_USER, "bot_id": BOT_ID, "ts": ts,
                "text": body["text"].clone(), "blocks": body["blocks"].clone(), "team": TEAM
            });
            if let Some(t) = body.get("thread_ts").and_then(Value::as_str) {
                m["thread_ts"] = json!(t);
            }
            fake.store_message(&channel, m.clone());
            ok(json!({ "channel": channel, "ts": ts, "message": m }))
        }
        "conversations.history" => {
            let channel = s("channel");
            if let Some(r) = channel_refusal(fake, &channel, true) {
                return r;
            }
            let limit: usize = s("limit").parse().unwrap_or(100);
            let mut top: Vec<Value> = fake
                .messages(&channel)
                .into_iter()
                .filter(|m| m.get("thread_ts").is_none() || m["thread_ts"] == m["ts"])
                .collect();
            top.reverse();
            top.truncate(limit);
            ok(json!({ "messages": top, "has_more": false }))
        }
        "conversations.replies" => {
            let channel = s("channel");
            if let Some(r) = channel_refusal(fake, &channel, true) {
                return r;
            }
            let ts = s("ts");
            let all = fake.messages(&channel);
            let Some(parent) = all.iter().find(|m| m["ts"] == ts.as_str()).cloned() else {
                return error("thread_not_found");
            };
            let mut thread = vec![parent];
            thread.extend(
                all.into_iter()
                    .filter(|m| m["thread_ts"] == ts.as_str() && m["ts"] != ts.as_str()),
            );
            let max = fake.lock().max_page.unwrap_or(1000);
            let limit: usize = s("limit").parse().unwrap_or(1000).clamp(1, max);
            let start: usize = s("cursor").parse().unwrap_or(0);
            let page: Vec<Value> = thread.iter().skip(start).take(limit).cloned().collect();
            let next = if start + limit < thread.len() {
                (start + limit).to_string()
            } else {
                String::new()
            };
            ok(json!({
                "messages": page, "has_more": !next.is_empty(),
                "response_metadata": { "next_cursor": next }
            }))
        }
        "conversations.info" => {
            let channel = s("channel");
            let info = fake.lock().channels.get(&channel).cloned();
            match info {
                Some(c) if !c.gone => ok(json!({ "channel": {
                    "id": channel, "name": c.name, "is_channel": true, "creator": c.creator,
                    "is_member": c.is_member, "is_archived": c.archived, "created": 1_600_000_000
                }})),
                _ => error("channel_not_found"),
            }
        }
        "users.info" => match fake.lock().users.get(&s("user")) {
            Some(u) => ok(json!({ "user": u })),
            None => error("user_not_found"),
        },
        "reactions.add" => {
            let entry = (s("channel"), s("timestamp"), s("name"));
            let mut inner = fake.lock();
            if inner.reactions.contains(&entry) {
                error("already_reacted")
            } else {
                inner.reactions.push(entry);
                ok(json!({}))
            }
        }
        _ => error("unknown_method"),
    };
    if lost {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    response
}

fn channel_refusal(fake: &FakeSlack, channel: &str, needs_member: bool) -> Option<Response> {
    let info = fake.lock().channels.get(channel).cloned();
    match info {
        None => Some(error("channel_not_found")),
        Some(c) if c.gone => Some(error("channel_not_found")),
        Some(c) if c.archived => Some(error("is_archived")),
        Some(c) if needs_member && !c.is_member => Some(error("not_in_channel")),
        Some(_) => None,
    }
}

async fn socket(State(fake): State<FakeSlack>, ws: WebSocketUpgrade) -> Response {
    ws.on_upgrade(move |socket| serve_socket(fake, socket))
}

async fn serve_socket(fake: FakeSlack, socket: WebSocket) {
    let (mut tx, mut rx) = socket.split();
    let (out, mut outgoing) = mpsc::unbounded_channel::<String>();
    // Slack's count of the app's open connections, this one included.
    let open = {
        let mut inner = fake.lock();
        inner.sockets.retain(|s| !s.out.is_closed());
        inner.sockets.len() + 1
    };
    let hello = json!({
        "type": "hello", "num_connections": open,
        "debug_info": { "host": "fake", "build_number": 1, "approximate_connection_time": 3600 },
        "connection_info": { "app_id": "A0FAKE" }
    });
    if tx
        .send(WsMessage::Text(hello.to_string().into()))
        .await
        .is_err()
    {
        return;
    }
    let id = {
        let mut inner = fake.lock();
        let id = inner.next_socket;
        inner.next_socket += 1;
        while let Some(frame) = inner.pending.pop_front() {
            let envelope = serde_json::from_str::<Value>(&frame)
                .ok()
                .and_then(|v| v["envelope_id"].as_str().map(str::to_string));
            if let Some(envelope) = envelope {
                inner.delivered.push((envelope, id));
            }
            let _ = out.send(frame);
        }
        inner.sockets.push(Socket { id, out });
        id
    };
    fake.changed.notify_waiters();
    loop {
        tokio::select! {
            frame = outgoing.recv() => match frame {
                Some(f) => if tx.send(WsMessage::Text(f.into())).await.is_err() { break },
                None => break,
            },
            incoming = rx.next() => match incoming {
                Some(Ok(WsMessage::Text(t))) => {
                    let v: Value = serde_json::from_str(t.as_str()).unwrap_or(Value::Null);
                    let at = Instant::now();
                    let mut inner = fake.lock();
                    let index = inner.acks.len();
                    if let Some(envelope) = v["envelope_id"].as_str() {
                        inner.first_ack.entry(envelope.to_string()).or_insert(index);
                    }
                    inner.acks.push((at, id, v));
                    drop(inner);
                    fake.changed.notify_waiters();
                }
                Some(Ok(WsMessage::Ping(p))) => { let _ = tx.send(WsMessage::Pong(p)).await; }
                Some(Ok(WsMessage::Close(_))) | None | Some(Err(_)) => break,
                Some(Ok(_)) => {}
            }
        }
    }
    fake.changed.notify_waiters();
}
