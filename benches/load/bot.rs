//! The processes under test: `prepbot run` (release) and the bare poise bot
//! (`examples/bare_bot.rs`), spawned on their own CPU with their logs in a file, read
//! for memory through `/proc`, and stopped with SIGTERM. Also the waits every
//! scenario shares: for the bot to be up, and for the traffic to settle.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};

use prepbot_fake_discord::{FakeDiscord, GUILD_A, Recorded};

/// The harness and the fake Discord run here.
pub const DRIVER_CPU: usize = 0;
/// Every bot under test runs here.
pub const BOT_CPU: usize = 1;

const TOKEN: &str = "load-harness-token";

static PINNED: AtomicBool = AtomicBool::new(false);

pub fn set_pinning(on: bool) {
    PINNED.store(on, Ordering::SeqCst);
}

/// Pins this process, every thread of it, to `cpu`; before the runtime starts, so
/// its threads inherit it.
pub fn pin_self(cpu: usize) -> bool {
    Command::new("taskset")
        .args([
            "-a",
            "-cp",
            &cpu.to_string(),
            &std::process::id().to_string(),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

pub fn manifest_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The release binary cargo built for this bench.
pub fn prepbot_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_prepbot"))
}

/// `target/` (or `CARGO_TARGET_DIR`): the directory holding the profile directories.
pub fn target_dir() -> PathBuf {
    let bin = prepbot_bin();
    bin.parent()
        .and_then(Path::parent)
        .map_or_else(|| manifest_dir().join("target"), Path::to_path_buf)
}

/// Builds `examples/bare_bot.rs` with the bench's profile (once per invocation).
pub fn bare_bot_bin() -> anyhow::Result<PathBuf> {
    Ok(bare_examples()?.join("bare_bot"))
}

/// The bare slack-morphism bot (`examples/bare_slack_bot.rs`), built with
/// [`bare_bot_bin`]'s.
pub fn bare_slack_bot_bin() -> anyhow::Result<PathBuf> {
    Ok(bare_examples()?.join("bare_slack_bot"))
}

/// Builds both baselines in one cargo call; returns their directory.
fn bare_examples() -> anyhow::Result<PathBuf> {
    static BUILT: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    BUILT
        .get_or_init(|| {
            let profile_dir = prepbot_bin()
                .parent()
                .map(Path::to_path_buf)
                .ok_or("no profile directory")?;
            // The profile this harness was built with: were it built with `release`
            // instead of `bench`, cargo would rebuild the shared dependencies each time.
            let profile = if cfg!(debug_assertions) {
                "dev"
            } else {
                "bench"
            };
            eprintln!("building examples/bare_bot and bare_slack_bot ({profile} profile)");
            let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
            let mut cmd = Command::new(cargo);
            // Cargo gives this process the package's variables (CARGO_PKG_NAME...);
            // some build scripts rerun when those change, so a build that saw them
            // would make the next `cargo bench` rebuild the dependencies.
            for (name, _) in std::env::vars_os() {
                let name = name.to_string_lossy();
                if name.starts_with("CARGO_PKG_")
                    || name.starts_with("CARGO_MANIFEST_")
                    || [
                        "CARGO_CRATE_NAME",
                        "CARGO_BIN_NAME",
                        "CARGO_PRIMARY_PACKAGE",
                        "CARGO_TARGET_TMPDIR",
                        "CARGO_RUSTC_CURRENT_DIR",
                        "OUT_DIR",
                    ]
                    .contains(&name.as_ref())
                {
                    cmd.env_remove(name.as_ref());
                }
            }
            let status = cmd
                .args([
                    "build",
                    "--example",
                    "bare_bot",
                    "--example",
                    "bare_slack_bot",
                    "-j2",
                    "--profile",
                    profile,
                ])
                .arg("--manifest-path")
                .arg(manifest_dir().join("Cargo.toml"))
                .status()
                .map_err(|e| format!("cannot run cargo: {e}"))?;
            if !status.success() {
                return Err("cargo build of the bare bots (examples/) failed".into());
            }
            Ok(profile_dir.join("examples"))
        })
        .clone()
        .map_err(|e| anyhow::anyhow!(e))
}

/// A process under test. Killed if still running when dropped.
pub struct Proc {
    child: Child,
    pub spawned: Instant,
    pub log: PathBuf,
}

impl Proc {
    /// Starts `bin args` on the bot CPU, logging stdout and stderr to `log`.
    pub fn spawn(
        bin: &Path,
        args: &[&str],
        envs: &[(&str, String)],
        log: &Path,
    ) -> anyhow::Result<Proc> {
        let file =
            std::fs::File::create(log).with_context(|| format!("create {}", log.display()))?;
        let mut cmd = if PINNED.load(Ordering::SeqCst) {
            let mut c = Command::new("taskset");
            c.args(["-c", &BOT_CPU.to_string()]).arg(bin);
            c
        } else {
            Command::new(bin)
        };
        cmd.args(args)
            .current_dir(manifest_dir())
            .env("RUST_LOG", "warn")
            .envs(envs.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::from(file.try_clone()?))
            .stderr(Stdio::from(file));
        let spawned = Instant::now();
        let child = cmd
            .spawn()
            .with_context(|| format!("spawn {}", bin.display()))?;
        Ok(Proc {
            child,
            spawned,
            log: log.to_path_buf(),
        })
    }

    /// `taskset` execs the program, so this is the bot's own pid.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// A `/proc/<pid>/status` field in kB (`VmRSS`, `VmHWM`).
    pub fn status_kb(&self, field: &str) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).ok()?;
        status
            .lines()
            .find(|l| l.starts_with(field) && l[field.len()..].starts_with(':'))
            .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
    }

    pub fn rss_kb(&self) -> u64 {
        self.status_kb("VmRSS").unwrap_or(0)
    }

    pub fn hwm_kb(&self) -> u64 {
        self.status_kb("VmHWM").unwrap_or(0)
    }

    pub fn try_wait(&mut self) -> std::io::Result<Option<std::process::ExitStatus>> {
        self.child.try_wait()
    }

    /// Fails with the end of the log if the process has exited.
    pub fn check_alive(&mut self) -> anyhow::Result<()> {
        if let Some(status) = self.child.try_wait()? {
            bail!(
                "the bot exited ({status}); its log ends:\n{}",
                self.log_tail(20)
            );
        }
        Ok(())
    }

    pub fn log_tail(&self, lines: usize) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }

    /// Lines of the log containing `needle`.
    /// The sum of a numeric field (`name=N`) over the log lines containing `needle`.
    pub fn log_sum(&self, needle: &str, name: &str) -> u64 {
        let key = format!("{name}=");
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .filter(|l| l.contains(needle))
            .filter_map(|l| {
                let value = &l[l.find(&key)? + key.len()..];
                let digits: String = value.chars().take_while(char::is_ascii_digit).collect();
                digits.parse::<u64>().ok()
            })
            .sum()
    }

    pub fn log_count(&self, needle: &str) -> usize {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .filter(|l| l.contains(needle))
            .count()
    }

    /// SIGTERM, then SIGKILL if it has not stopped within 15 s.
    pub async fn stop(mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        eprintln!("the bot did not stop within 15 s of SIGTERM; killing it");
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The environment `prepbot run` and the bare bot read.
pub fn bot_env(
    fake: &FakeDiscord,
    db: Option<&Path>,
    questions: &Path,
) -> Vec<(&'static str, String)> {
    let mut env = vec![
        ("DISCORD_TOKEN", TOKEN.to_string()),
        ("PREPBOT_DISCORD_API_BASE", fake.base()),
        ("PREPBOT_DEV_GUILD", GUILD_A.to_string()),
        ("PREPBOT_QUESTIONS", questions.display().to_string()),
        // The harness's bank alone, as before the shipped bank was built in: the
        // scenarios count on its size.
        ("PREPBOT_SHIPPED_QUESTIONS", "off".to_string()),
    ];
    if let Some(db) = db {
        env.push(("PREPBOT_DATABASE_URL", sqlite_url(db)));
    }
    env
}

/// The database URL of the SQLite file `db`.
pub fn sqlite_url(db: &Path) -> String {
    format!("sqlite://{}", db.display())
}

/// Starts `prepbot run` against `fake` on the database at `db`, its REST client
/// paced to `rate` requests per second (`PREPBOT_DISCORD_RATE`): the limit the
/// fake enforces, as an operator sets it to what Discord grants the bot.
pub fn spawn_prepbot(
    fake: &FakeDiscord,
    db: &Path,
    questions: &Path,
    rate: usize,
    log: &Path,
) -> anyhow::Result<Proc> {
    spawn_prepbot_on(fake, &sqlite_url(db), questions, rate, &[], log)
}

/// [`spawn_prepbot`] on the database at `url` (SQLite or PostgreSQL), with more
/// variables (`PREPBOT_SHARDS`, `RUST_LOG`) set last.
pub fn spawn_prepbot_on(
    fake: &FakeDiscord,
    url: &str,
    questions: &Path,
    rate: usize,
    more: &[(&'static str, String)],
    log: &Path,
) -> anyhow::Result<Proc> {
    let mut env = bot_env(fake, None, questions);
    env.push(("PREPBOT_DATABASE_URL", url.to_string()));
    env.push(("PREPBOT_DISCORD_RATE", rate.to_string()));
    env.extend(more.iter().cloned());
    Proc::spawn(&prepbot_bin(), &["run"], &env, log)
}

/// Starts the bare bot against `fake`; it posts "done" after `expect` messages.
pub fn spawn_bare(fake: &FakeDiscord, expect: Option<usize>, log: &Path) -> anyhow::Result<Proc> {
    let mut env = bot_env(fake, None, &manifest_dir().join("questions"));
    if let Some(n) = expect {
        env.push(("BARE_BOT_EXPECT", n.to_string()));
    }
    Proc::spawn(&bare_bot_bin()?, &[], &env, log)
}

/// Counts what the fake serves and passes each request on to `then`. Recording is
/// turned off: under load the fake keeps nothing it is not asked to.
#[derive(Debug, Default)]
pub struct Traffic {
    pub requests: AtomicUsize,
    last: std::sync::Mutex<Option<Instant>>,
}

impl Traffic {
    pub fn watch(
        fake: &FakeDiscord,
        then: impl Fn(&Recorded) + Send + Sync + 'static,
    ) -> Arc<Traffic> {
        let traffic = Arc::new(Traffic::default());
        let t = traffic.clone();
        fake.set_recording(false);
        fake.observe(move |r| {
            t.requests.fetch_add(1, Ordering::SeqCst);
            *t.last.lock().unwrap() = Some(r.at);
            then(r);
        });
        traffic
    }

    fn since_last(&self) -> Option<Duration> {
        self.last.lock().unwrap().map(|t| t.elapsed())
    }
}

/// Waits until the bot identified on the gateway and then made no request for
/// `calm` (commands registered, threads caught up on, overdue reveals posted).
pub async fn ready(
    fake: &FakeDiscord,
    traffic: &Traffic,
    bot: &mut Proc,
    calm: Duration,
) -> anyhow::Result<()> {
    ready_all(fake, traffic, std::slice::from_mut(bot), 1, calm).await
}

/// [`ready`] for several processes: `sessions` IDENTIFYs at the fake in all (one per
/// shard), then no request for `calm`.
pub async fn ready_all(
    fake: &FakeDiscord,
    traffic: &Traffic,
    bots: &mut [Proc],
    sessions: usize,
    calm: Duration,
) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(180);
    while fake.identify_times().len() < sessions {
        for bot in bots.iter_mut() {
            bot.check_alive()?;
        }
        if Instant::now() > deadline {
            let tails: Vec<String> = bots.iter().map(|b| b.log_tail(20)).collect();
            bail!(
                "{} of {sessions} sessions identified; the logs end:\n{}",
                fake.identify_times().len(),
                tails.join("\n--\n")
            );
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    loop {
        for bot in bots.iter_mut() {
            bot.check_alive()?;
        }
        if traffic.requests.load(Ordering::SeqCst) > 0
            && traffic.since_last().is_some_and(|d| d >= calm)
        {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("the bot's traffic did not settle");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
