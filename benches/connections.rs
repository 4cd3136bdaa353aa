//! The REST client's connection lanes (`prepbot_discord::connections`) against the
//! alternative the issue names, `reqwest` behind a semaphore, on what the lanes exist
//! for: never holding more connections to Discord than the budget allows (14 for the
//! REST client; with the gateway's and serenity's, 16). Both send the same requests
//! with at most 14 in flight to a local HTTP/1.1 server that counts the connections
//! it accepts and the most open at once. The baseline is the budget itself.
//!
//! `cargo bench --bench connections` (under a minute). Not a test: figures go to
//! BENCHMARKS.md.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use http_body_util::Full;
use hyper::body::Bytes;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Response};
use hyper_util::rt::TokioIo;
use prepbot_discord::connections::Connections;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

const IN_FLIGHT: usize = 14;
const REQUESTS: usize = 20_000;
/// Concurrent callers, more than the lanes, as when a drop fan-out and the
/// acknowledgement queue both send.
const CALLERS: usize = 64;

#[derive(Default)]
struct Counts {
    opened: AtomicUsize,
    open: AtomicUsize,
    most_open: AtomicUsize,
}

async fn serve(delay: Duration) -> (String, Arc<Counts>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("address"));
    let counts = Arc::new(Counts::default());
    let c = counts.clone();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            c.opened.fetch_add(1, Ordering::Relaxed);
            let now_open = c.open.fetch_add(1, Ordering::Relaxed) + 1;
            c.most_open.fetch_max(now_open, Ordering::Relaxed);
            let c = c.clone();
            tokio::spawn(async move {
                let service = service_fn(move |_req| async move {
                    if !delay.is_zero() {
                        tokio::time::sleep(delay).await;
                    }
                    Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(
                        b"{\"id\":\"1\"}",
                    ))))
                });
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
                c.open.fetch_sub(1, Ordering::Relaxed);
            });
        }
    });
    (base, counts)
}

struct Outcome {
    per_second: f64,
    opened: usize,
    most_open: usize,
}

async fn lanes(delay: Duration) -> Outcome {
    let (base, counts) = serve(delay).await;
    let connections = Arc::new(Connections::new(&base, IN_FLIGHT, "bench").expect("lanes"));
    let left = Arc::new(AtomicUsize::new(REQUESTS));
    let start = Instant::now();
    let callers: Vec<_> = (0..CALLERS)
        .map(|_| {
            let (connections, left) = (connections.clone(), left.clone());
            tokio::spawn(async move {
                while left
                    .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
                    .is_ok()
                {
                    let mut lane = connections.lane().await.expect("a lane");
                    let answer = lane
                        .send(
                            &Method::POST,
                            "/api/v10/channels/1/messages",
                            &[],
                            Some(b"{}".to_vec()),
                        )
                        .await
                        .expect("an answer");
                    assert_eq!(answer.status.as_u16(), 200);
                }
            })
        })
        .collect();
    for c in callers {
        c.await.expect("caller");
    }
    outcome(start, &counts)
}

async fn reqwest_with_semaphore(delay: Duration) -> Outcome {
    let (base, counts) = serve(delay).await;
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(IN_FLIGHT)
        .http1_only()
        .build()
        .expect("client");
    let permits = Arc::new(Semaphore::new(IN_FLIGHT));
    let url = format!("{base}/api/v10/channels/1/messages");
    let left = Arc::new(AtomicUsize::new(REQUESTS));
    let start = Instant::now();
    let callers: Vec<_> = (0..CALLERS)
        .map(|_| {
            let (client, permits, url, left) =
                (client.clone(), permits.clone(), url.clone(), left.clone());
            tokio::spawn(async move {
                while left
                    .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
                    .is_ok()
                {
                    // The permit is held until the whole answer is read, as the
                    // lanes hold theirs.
                    let _permit = permits.acquire().await.expect("permit");
                    let answer = client.post(&url).body("{}").send().await.expect("sent");
                    assert_eq!(answer.status().as_u16(), 200);
                    answer.bytes().await.expect("body");
                }
            })
        })
        .collect();
    for c in callers {
        c.await.expect("caller");
    }
    outcome(start, &counts)
}

fn outcome(start: Instant, counts: &Counts) -> Outcome {
    Outcome {
        per_second: REQUESTS as f64 / start.elapsed().as_secs_f64(),
        opened: counts.opened.load(Ordering::Relaxed),
        most_open: counts.most_open.load(Ordering::Relaxed),
    }
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    println!(
        "| server delay | client | requests/s | connections opened | most open at once (budget {IN_FLIGHT}) |"
    );
    println!("| --- | --- | ---: | ---: | ---: |");
    for delay in [Duration::ZERO, Duration::from_millis(2)] {
        for round in 0..3 {
            let ours = runtime.block_on(lanes(delay));
            let theirs = runtime.block_on(reqwest_with_semaphore(delay));
            for (name, o) in [("lanes", ours), ("reqwest + semaphore", theirs)] {
                println!(
                    "| {} ms (run {}) | {name} | {:.0} | {} | {} |",
                    delay.as_millis(),
                    round + 1,
                    o.per_second,
                    o.opened,
                    o.most_open
                );
            }
        }
    }
}
