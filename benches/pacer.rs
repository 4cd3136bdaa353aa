//! The REST client's pacer against `governor`, the well-kept crate the issue names
//! for it, on the job the pacer does: W tasks waiting at once for the next request
//! slot at the global rate (the REST client lets at most 14 wait, one per
//! connection; the larger W shows the trend). Real time, tokio's multi-thread
//! runtime with 2 workers, as the bot runs.
//!
//! Reported per variant: requests per second achieved, the most requests in any
//! one-second window (above the rate, Discord answers 429 and stops every request),
//! how often the waiting futures were polled per request (each poll beyond the first
//! is a wake-up that found no slot), and the process CPU time spent. The baseline is
//! the rate itself: what an ideal pacer would achieve, and nothing above it.
//!
//! `cargo bench --bench pacer` (about 40 s). Not a test: figures go to BENCHMARKS.md.

use std::future::Future;
use std::num::NonZeroU32;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use governor::{Quota, RateLimiter};
use prepbot_discord::pacer::Pacer;

/// Requests per second, as `PREPBOT_DISCORD_RATE` would set it.
const RATE: u32 = 200;
/// Requests per run: five seconds at the rate.
const REQUESTS: u64 = 1_000;

/// Counts the polls of a future.
struct Counted<F> {
    inner: Pin<Box<F>>,
    polls: Arc<AtomicU64>,
}

impl<F: Future> Future for Counted<F> {
    type Output = F::Output;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        self.polls.fetch_add(1, Ordering::Relaxed);
        self.inner.as_mut().poll(cx)
    }
}

/// User plus system CPU time of this process so far (`/proc/self/stat`, in clock
/// ticks of 10 ms).
fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // The fields after the command name, which is in parentheses.
    let fields: Vec<&str> = stat
        .rsplit_once(") ")
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
    Duration::from_millis((ticks(11) + ticks(12)) * 10)
}

struct Outcome {
    per_second: f64,
    most_in_a_second: usize,
    polls_per_request: f64,
    cpu: Duration,
}

async fn run<F, W>(waiters: usize, wait: W) -> Outcome
where
    W: Fn() -> F + Send + Sync + 'static,
    F: Future<Output = ()> + Send + 'static,
{
    let wait = Arc::new(wait);
    let taken = Arc::new(AtomicU64::new(0));
    let polls = Arc::new(AtomicU64::new(0));
    let times = Arc::new(std::sync::Mutex::new(Vec::with_capacity(REQUESTS as usize)));
    let cpu_before = cpu_time();
    let start = Instant::now();
    let tasks: Vec<_> = (0..waiters)
        .map(|_| {
            let (wait, taken, polls, times) =
                (wait.clone(), taken.clone(), polls.clone(), times.clone());
            tokio::spawn(async move {
                while taken.fetch_add(1, Ordering::Relaxed) < REQUESTS {
                    Counted {
                        inner: Box::pin(wait()),
                        polls: polls.clone(),
                    }
                    .await;
                    times.lock().unwrap().push(Instant::now());
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    let elapsed = start.elapsed();
    let cpu = cpu_time().saturating_sub(cpu_before);
    let mut times = times.lock().unwrap().clone();
    times.sort();
    let mut most = 0;
    let mut end = 0;
    for begin in 0..times.len() {
        while end < times.len() && times[end] - times[begin] < Duration::from_secs(1) {
            end += 1;
        }
        most = most.max(end - begin);
    }
    Outcome {
        per_second: times.len() as f64 / elapsed.as_secs_f64(),
        most_in_a_second: most,
        polls_per_request: polls.load(Ordering::Relaxed) as f64 / times.len() as f64,
        cpu,
    }
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    println!(
        "| waiters | pacer | requests/s (rate {RATE}) | most in any 1 s | polls per request | CPU time |"
    );
    println!("| --- | --- | --- | --- | --- | --- |");
    for waiters in [14usize, 256] {
        let pacer = Arc::new(Pacer::new(RATE));
        let ours = runtime.block_on(run(waiters, move || {
            let pacer = pacer.clone();
            async move { pacer.wait().await }
        }));
        // The same spacing as the pacer: (1 s + 20 ms) / rate, no burst.
        let period = (Duration::from_secs(1) + Duration::from_millis(20)) / RATE;
        let limiter = Arc::new(RateLimiter::direct(
            Quota::with_period(period)
                .expect("a period")
                .allow_burst(NonZeroU32::MIN),
        ));
        let theirs = runtime.block_on(run(waiters, move || {
            let limiter = limiter.clone();
            async move { limiter.until_ready().await }
        }));
        for (name, o) in [("prepbot Pacer", ours), ("governor until_ready", theirs)] {
            println!(
                "| {waiters} | {name} | {:.1} | {} | {:.2} | {} ms |",
                o.per_second,
                o.most_in_a_second,
                o.polls_per_request,
                o.cpu.as_millis()
            );
        }
    }
}
