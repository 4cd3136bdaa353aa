//! The REST client paced to a rate, against a small local server that answers drop
//! posts and threads like Discord and counts its TCP connections.
//!
//! Every request must also be one Discord's OpenAPI spec accepts (the fake
//! Discord's check, `fake_discord/openapi.rs`).
//!
//! The tests assert counts, order, connections and the spacing the pacing promises,
//! never a throughput. The rate a fan-out achieves against a limit is measured by the
//! load harness (`cargo bench --bench load -- fanout`; figures in BENCHMARKS.md).

use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use prepbot_core::engine::schedule::Days;
use prepbot_core::practice::Practice;
use prepbot_discord::Token;
use prepbot_discord::outbound::DiscordOutbound;
use prepbot_discord::rest::{REST_CONNECTIONS, Rest};
use prepbot_testkit::*;
use serde_json::json;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

#[derive(Debug, Clone)]
struct Seen {
    at: Instant,
    method: Method,
    path: String,
}

#[derive(Default)]
struct Server {
    seen: Mutex<Vec<Seen>>,
    next_id: AtomicU64,
    accepted: AtomicUsize,
    open: AtomicUsize,
    most_open: AtomicUsize,
    /// What Discord's spec found wrong with the requests, one line each.
    violations: Mutex<Vec<String>>,
}

impl Server {
    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

async fn answer(
    State(server): State<Arc<Server>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().to_string();
    server.seen.lock().unwrap().push(Seen {
        at: Instant::now(),
        method: method.clone(),
        path: path.clone(),
    });
    let content_type = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let query = uri.query().unwrap_or_default();
    for problem in
        prepbot_fake_discord::openapi::check(method.as_str(), &path, query, content_type, &body)
    {
        let line = format!("{method} {path}: {problem}");
        server.violations.lock().unwrap().push(line);
    }
    let parts: Vec<&str> = path.trim_start_matches("/api/v10/").split('/').collect();
    match (method.as_str(), parts.as_slice()) {
        ("POST", ["channels", channel, "messages"]) => {
            let id = 900_000_000_000 + server.next_id.fetch_add(1, Ordering::SeqCst);
            axum::Json(json!({
                "id": id.to_string(),
                "channel_id": channel,
                "timestamp": "2026-03-02T09:00:00.000000+00:00",
            }))
            .into_response()
        }
        ("POST", ["channels", _, "messages", message, "threads"]) => {
            axum::Json(json!({ "id": message })).into_response()
        }
        _ => StatusCode::NOT_FOUND.into_response(),
    }
}

/// A listener that counts connections: accepted in all, open now, most open at once.
struct Counting {
    inner: TcpListener,
    server: Arc<Server>,
}

struct Counted {
    stream: TcpStream,
    server: Arc<Server>,
}

impl Drop for Counted {
    fn drop(&mut self) {
        self.server.open.fetch_sub(1, Ordering::SeqCst);
    }
}

impl AsyncRead for Counted {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for Counted {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

impl axum::serve::Listener for Counting {
    type Io = Counted;
    type Addr = std::net::SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            if let Ok((stream, addr)) = self.inner.accept().await {
                let _ = stream.set_nodelay(true);
                self.server.accepted.fetch_add(1, Ordering::SeqCst);
                let open = self.server.open.fetch_add(1, Ordering::SeqCst) + 1;
                self.server.most_open.fetch_max(open, Ordering::SeqCst);
                let server = self.server.clone();
                return (Counted { stream, server }, addr);
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.inner.local_addr()
    }
}

async fn start_server(server: Server) -> (Arc<Server>, String) {
    let server = Arc::new(server);
    let inner = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", inner.local_addr().unwrap());
    let app = Router::new().fallback(answer).with_state(server.clone());
    let listener = Counting {
        inner,
        server: server.clone(),
    };
    tokio::spawn(async move { axum::serve(listener, app).await });
    (server, base)
}

const FIRST_CHANNEL: u64 = 1_000;

/// `channels` channels with a drop due at 09:00 UTC on 2026-03-02.
async fn due_channels(channels: u64) -> (Practice, tempfile::TempDir) {
    let (p, dir) = practice_with(small_bank(5)).await;
    for c in 0..channels {
        let mut s = setup("09:00", "UTC", Days::DAILY, 8);
        s.address = address(GUILD, FIRST_CHANNEL + c);
        p.setup_channel(s, c, utc("2026-03-02T00:00:00Z"))
            .await
            .unwrap();
    }
    (p, dir)
}

fn outbound(base: &str, rate: u32) -> DiscordOutbound {
    let rest = Rest::new(&Token::new("pacing-test"), Some(base), REST_CONNECTIONS)
        .unwrap()
        .with_rate(rate);
    DiscordOutbound::new(Arc::new(rest))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fan_out_is_paced_in_order_over_the_clients_connections_only() {
    let channels = 40u64;
    let rate = 100;
    let (p, _dir) = due_channels(channels).await;
    let (server, base) = start_server(Server::default()).await;
    let out = outbound(&base, rate);
    let (report, _) = prepbot_core::scheduler::run_due(&p, &out, utc("2026-03-02T09:00:00Z"))
        .await
        .unwrap();
    assert_eq!(report.posted.len(), channels as usize);
    assert_eq!(report.failures, 0);

    let seen = server.seen();
    // Exactly one post and one thread per channel, each thread after its post.
    assert_eq!(seen.len(), 2 * channels as usize, "no retries, no extras");
    for c in FIRST_CHANNEL..FIRST_CHANNEL + channels {
        let post = format!("/api/v10/channels/{c}/messages");
        let thread = format!("/api/v10/channels/{c}/messages/");
        let posts: Vec<usize> = (0..seen.len())
            .filter(|&i| seen[i].method == Method::POST && seen[i].path == post)
            .collect();
        let threads: Vec<usize> = (0..seen.len())
            .filter(|&i| seen[i].path.starts_with(&thread) && seen[i].path.ends_with("/threads"))
            .collect();
        assert_eq!((posts.len(), threads.len()), (1, 1), "channel {c}");
        assert!(
            posts[0] < threads[0],
            "channel {c}: the thread comes second"
        );
    }
    // Paced: on average at least 1/rate apart (the pacer's own margin makes it
    // 2% more; the bound is generous for a busy machine, where arrivals bunch).
    let span = seen.last().unwrap().at - seen[0].at;
    let least = Duration::from_secs(1) / rate * (seen.len() as u32 - 1);
    assert!(
        span >= least.mul_f64(0.9),
        "{} requests in {span:?}, at most {rate}/s means at least {least:?}",
        seen.len()
    );
    // In any window of `rate` consecutive requests, at least nearly a second.
    for w in seen.windows(rate as usize + 1) {
        let took = w[rate as usize].at - w[0].at;
        assert!(
            took >= Duration::from_millis(900),
            "{rate} requests in {took:?}"
        );
    }
    // Requests waiting for a permit never open a connection of their own.
    let (accepted, most_open) = (
        server.accepted.load(Ordering::SeqCst),
        server.most_open.load(Ordering::SeqCst),
    );
    assert!(most_open <= REST_CONNECTIONS, "{most_open} open at once");
    assert!(
        accepted <= REST_CONNECTIONS,
        "{accepted} connections opened in all"
    );
    let violations = server.violations.lock().unwrap().clone();
    assert!(
        violations.is_empty(),
        "requests Discord's OpenAPI spec rejects:\n{}",
        violations.join("\n")
    );
}
