//! Shared helpers for the integration tests: a fresh store with the real migrations,
//! small hand-made banks, a recording outbound, instants in real zones, and a TCP
//! proxy a test can cut ([`proxy`]) to take a database away from a running bot.
#![allow(dead_code)] // each test binary uses a different subset

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use chrono::{DateTime, NaiveTime, Utc};
use prepbot_core::bank::{Difficulty, Kind, PoolFilter, Question, QuestionBank};
use prepbot_core::chat::{ChannelAddress, Platform, ThreadRef};
use prepbot_core::engine::reveal::{DropPost, RevealContent};
use prepbot_core::engine::schedule::{Days, parse_zone};
use prepbot_core::ports::{Failure, Outbound, OutboundError, PostedDrop};
use prepbot_core::practice::{ChannelSetup, IncomingMessage, Practice};
use prepbot_core::store::Store;

pub fn utc(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .expect("rfc3339")
        .with_timezone(&Utc)
}

pub fn question(id: &str, topic: &str, difficulty: Difficulty) -> Question {
    Question {
        id: id.into(),
        title: format!("Title {id}"),
        topic: topic.into(),
        difficulty,
        kind: Kind::Technical,
        tags: vec![],
        prompt: format!("Prompt {id}"),
        why_asked: None,
        model_answer: format!("Model answer {id}"),
        look_fors: vec!["a".into(), "b".into(), "c".into()],
        mistakes: vec!["x".into(), "y".into()],
        follow_ups: vec![],
        tips: None,
        path: PathBuf::from(format!("{topic}/{id}.md")),
    }
}

/// `n` caching questions (easy) and `n` database questions (hard).
pub fn small_bank(n: usize) -> QuestionBank {
    let mut qs = Vec::new();
    for i in 0..n {
        qs.push(question(&format!("cache-{i}"), "caching", Difficulty::Easy));
        qs.push(question(&format!("db-{i}"), "databases", Difficulty::Hard));
    }
    QuestionBank::from_questions(qs)
}

/// A fresh store with the real migrations: a SQLite file in a new temporary
/// directory, or, with `PREPBOT_TEST_BACKEND=postgres`, a new database on the test
/// PostgreSQL server (the directory is then empty). CI runs the core's tests once
/// per backend this way.
pub async fn fresh_store() -> (Store, tempfile::TempDir) {
    if std::env::var("PREPBOT_TEST_BACKEND").as_deref() == Ok("postgres") {
        let dir = tempfile::tempdir().expect("tempdir");
        let url = postgres::fresh_database()
            .await
            .expect("PREPBOT_TEST_BACKEND=postgres needs PREPBOT_TEST_POSTGRES_URL");
        let store = Store::open_url(&url).await.expect("open PostgreSQL");
        return (store, dir);
    }
    fresh_sqlite_store().await
}

/// Two stores on one fresh database, each with its own connections: two bot
/// processes sharing a database, on the backend under test.
pub async fn two_stores_on_one_database() -> (Store, Store, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = if std::env::var("PREPBOT_TEST_BACKEND").as_deref() == Ok("postgres") {
        postgres::fresh_database()
            .await
            .expect("PREPBOT_TEST_BACKEND=postgres needs PREPBOT_TEST_POSTGRES_URL")
    } else {
        format!("sqlite://{}", dir.path().join("prepbot.db").display())
    };
    let first = Store::open_url(&url).await.expect("open");
    let second = Store::open_url(&url).await.expect("open a second time");
    (first, second, dir)
}

/// A fresh SQLite store, whatever the backend under test: for tests of SQLite's
/// own behaviour (its file, its locks, its query planner, upgrades of old files).
pub async fn fresh_sqlite_store() -> (Store, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open_path(&dir.path().join("prepbot.db"))
        .await
        .expect("open");
    (store, dir)
}

pub async fn practice_with(bank: QuestionBank) -> (Practice, tempfile::TempDir) {
    let (store, dir) = fresh_store().await;
    (Practice::new(store, Arc::new(bank)), dir)
}

/// [`practice_with`] on SQLite whatever the backend under test, for tests of
/// SQLite's own behaviour.
pub async fn practice_with_sqlite(bank: QuestionBank) -> (Practice, tempfile::TempDir) {
    let (store, dir) = fresh_sqlite_store().await;
    (Practice::new(store, Arc::new(bank)), dir)
}

pub const GUILD: u64 = 900;
pub const CHANNEL: u64 = 901;

/// A Discord channel's address, as the tests' adapters would report it.
pub fn address(guild: u64, channel: u64) -> ChannelAddress {
    ChannelAddress::new(Platform::Discord, guild.to_string(), channel.to_string())
}

/// A Discord thread, as message events name it.
pub fn thread(id: u64) -> ThreadRef {
    ThreadRef::new(Platform::Discord, id.to_string())
}

/// The key of the Discord channel `channel` (set up in any guild); panics if it has
/// no schedule.
pub async fn key(practice: &Practice, channel: u64) -> i64 {
    practice
        .channel_at(&address(0, channel))
        .await
        .expect("read the channel")
        .unwrap_or_else(|| panic!("channel {channel} has no schedule"))
        .key
}

/// A Discord id the core holds as text.
pub fn id(text: &str) -> u64 {
    text.parse().expect("a numeric id")
}

pub fn setup(time: &str, zone: &str, days: Days, hours: u32) -> ChannelSetup {
    let (h, m) = time.split_once(':').expect("HH:MM");
    ChannelSetup {
        address: address(GUILD, CHANNEL),
        name: None,
        time: NaiveTime::from_hms_opt(h.parse().unwrap(), m.parse().unwrap(), 0).unwrap(),
        zone: parse_zone(zone).expect("zone"),
        days,
        reveal_after_hours: hours,
        pool: PoolFilter::default(),
    }
}

pub fn message(thread: u64, id: u64, member: u64, at: DateTime<Utc>) -> IncomingMessage {
    IncomingMessage {
        thread: self::thread(thread),
        message_id: id.to_string(),
        member_id: member.to_string(),
        member_name: format!("member{member}"),
        body: format!("answer {id}"),
        posted_at: at,
    }
}

/// An outbound that records what reached it, at the instant the test's clock says.
#[derive(Default)]
pub struct Recording {
    pub drops: Mutex<Vec<(u64, DropPost)>>,
    pub reveals: Mutex<Vec<(u64, u64, RevealContent)>>,
    /// The drop messages whose threads were opened, in order.
    pub threads: Mutex<Vec<u64>>,
    pub fail_drops: AtomicBool,
    pub fail_permanently: AtomicBool,
    pub fail_reveals: AtomicBool,
    /// Discord is not ready (not connected, or catching up).
    pub platform_down: AtomicBool,
    pub reveal_attempts: AtomicU64,
    pub next_id: AtomicU64,
    pub now: Mutex<Option<DateTime<Utc>>>,
}

impl Recording {
    /// One scheduler pass at `now`, with this outbound's clock set to `now`.
    pub async fn pass(
        &self,
        practice: &Practice,
        now: DateTime<Utc>,
    ) -> (prepbot_core::scheduler::PassReport, Option<DateTime<Utc>>) {
        self.at(now);
        prepbot_core::scheduler::run_due(practice, self, now)
            .await
            .expect("a scheduler pass")
    }

    pub fn at(&self, now: DateTime<Utc>) {
        *self.now.lock().unwrap() = Some(now);
    }
    fn now(&self) -> DateTime<Utc> {
        self.now
            .lock()
            .unwrap()
            .expect("set the recording clock with at()")
    }
    /// What an injected failure is: retryable (an unknown outcome) unless the test
    /// made failures permanent.
    fn failure_kind(&self) -> Failure {
        if self.fail_permanently.load(Ordering::SeqCst) {
            Failure::Permission
        } else {
            Failure::Unknown
        }
    }
    pub fn drop_count(&self) -> usize {
        self.drops.lock().unwrap().len()
    }
    pub fn reveal_count(&self) -> usize {
        self.reveals.lock().unwrap().len()
    }
}

impl Outbound for Recording {
    /// Discord's channels, unless the test took the platform down.
    fn ready(&self, platform: Platform) -> bool {
        platform == Platform::Discord && !self.platform_down.load(Ordering::SeqCst)
    }

    async fn post_drop(
        &self,
        channel: &ChannelAddress,
        _key: &str,
        post: &DropPost,
    ) -> Result<PostedDrop, OutboundError> {
        if self.fail_drops.load(Ordering::SeqCst) {
            return Err(OutboundError::new(
                self.failure_kind(),
                "HTTP 503 from the platform",
            ));
        }
        self.drops
            .lock()
            .unwrap()
            .push((id(&channel.conversation), post.clone()));
        let message = 5_000 + self.next_id.fetch_add(1, Ordering::SeqCst);
        Ok(PostedDrop {
            message_id: message.to_string(),
            posted_at: self.now(),
        })
    }

    async fn open_thread(
        &self,
        _channel: &ChannelAddress,
        message_id: &str,
        _post: &DropPost,
    ) -> Result<String, OutboundError> {
        self.threads.lock().unwrap().push(id(message_id));
        Ok(message_id.to_string())
    }

    async fn post_reveal(
        &self,
        channel: &ChannelAddress,
        thread_id: &str,
        _key: &str,
        reveal: &RevealContent,
        _attempt: prepbot_core::ports::RevealAttempt,
    ) -> Result<DateTime<Utc>, OutboundError> {
        self.reveal_attempts.fetch_add(1, Ordering::SeqCst);
        if self.fail_reveals.load(Ordering::SeqCst) {
            return Err(OutboundError::new(
                self.failure_kind(),
                "HTTP 404: Unknown Channel",
            ));
        }
        self.reveals.lock().unwrap().push((
            id(&channel.conversation),
            id(thread_id),
            reveal.clone(),
        ));
        Ok(self.now())
    }
}

/// A PostgreSQL database of its own for one test.
pub mod postgres {
    use std::sync::atomic::{AtomicU64, Ordering};

    use sqlx::Connection;

    /// The server the tests use: an admin URL such as `.ci/postgres.sh` prints.
    pub const URL_VARIABLE: &str = "PREPBOT_TEST_POSTGRES_URL";

    /// A new, empty database on the test server, as a URL, or `None` when no
    /// server is configured and this is not CI (a developer without PostgreSQL
    /// still runs every SQLite test). Under `CI=true` a missing server fails the
    /// test: CI never skips the PostgreSQL half.
    pub async fn fresh_database() -> Option<String> {
        let Ok(admin) = std::env::var(URL_VARIABLE) else {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "CI=true but {URL_VARIABLE} is not set: .ci/run starts a PostgreSQL cluster and sets it"
            );
            eprintln!("{URL_VARIABLE} is not set: the PostgreSQL half of this test did not run");
            return None;
        };
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let name = format!(
            "prepbot_test_{}_{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.subsec_nanos())
                .unwrap_or(0)
        );
        let mut conn = sqlx::PgConnection::connect(&admin)
            .await
            .unwrap_or_else(|e| panic!("cannot reach the test PostgreSQL at {admin}: {e}"));
        // A name made here of digits and letters: nothing to bind or escape.
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut conn)
            .await
            .expect("create a test database");
        let (base, _) = admin.rsplit_once('/').expect("a URL with a database name");
        Some(format!("{base}/{name}"))
    }

    /// The server's address in a test URL (`postgres://user@127.0.0.1:port/db`).
    pub fn server(url: &str) -> std::net::SocketAddr {
        let (_, rest) = url.split_once('@').expect("a user in the test URL");
        let (host, _) = rest.split_once('/').expect("a database in the test URL");
        host.parse().expect("host:port in the test URL")
    }

    /// The same database reached at `addr` (a [`crate::proxy::CuttableProxy`]) as
    /// `user` with `password`.
    pub fn via(url: &str, addr: std::net::SocketAddr, user: &str, password: &str) -> String {
        let (_, db) = url.rsplit_once('/').expect("a database in the test URL");
        format!("postgres://{user}:{password}@{addr}/{db}")
    }

    /// The user in a test URL.
    pub fn user(url: &str) -> &str {
        let (_, rest) = url.split_once("://").expect("a URL");
        rest.split_once('@').expect("a user in the test URL").0
    }
}

/// A certificate authority of the test's own and a `localhost` certificate it
/// signed, with its key: for the adapters' one real-TLS test each (their clients
/// trust the bundled public roots, so a test server needs a CA the test adds).
pub fn test_pki() -> (
    tokio_rustls::rustls::pki_types::CertificateDer<'static>,
    tokio_rustls::rustls::pki_types::CertificateDer<'static>,
    tokio_rustls::rustls::pki_types::PrivateKeyDer<'static>,
) {
    let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca = rcgen::CertifiedIssuer::self_signed(ca, rcgen::KeyPair::generate().unwrap()).unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let leaf = rcgen::CertificateParams::new(vec!["localhost".to_string()])
        .unwrap()
        .signed_by(&key, &ca)
        .unwrap();
    (
        ca.der().clone(),
        leaf.der().clone(),
        tokio_rustls::rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()),
    )
}

/// A TCP proxy on 127.0.0.1 in front of a server (PostgreSQL, for the tests of a
/// database going away under a running bot), which the test can cut and restore.
pub mod proxy {
    use std::net::SocketAddr;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use tokio::net::{TcpListener, TcpSocket, TcpStream};
    use tokio::sync::Mutex;
    use tokio::task::JoinHandle;

    /// Forwards every connection made to [`CuttableProxy::addr`] to the target.
    /// [`CuttableProxy::cut`] is what a server restart looks like from the client:
    /// every open connection closes, and new ones are refused (the port listens no
    /// more) until [`CuttableProxy::restore`].
    pub struct CuttableProxy {
        addr: SocketAddr,
        target: SocketAddr,
        state: Arc<Mutex<State>>,
        accepted: Arc<AtomicUsize>,
    }

    #[derive(Default)]
    struct State {
        listener: Option<JoinHandle<()>>,
        connections: Vec<JoinHandle<()>>,
    }

    fn listen(addr: SocketAddr) -> std::io::Result<TcpListener> {
        let socket = TcpSocket::new_v4()?;
        // The same port again after a cut, with the cut connections in TIME_WAIT.
        socket.set_reuseaddr(true)?;
        socket.bind(addr)?;
        socket.listen(64)
    }

    async fn forward(mut client: TcpStream, target: SocketAddr) {
        let Ok(mut server) = TcpStream::connect(target).await else {
            return;
        };
        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
    }

    impl CuttableProxy {
        /// Starts forwarding to `target` from a free port on 127.0.0.1.
        pub async fn start(target: SocketAddr) -> CuttableProxy {
            let listener =
                listen("127.0.0.1:0".parse().expect("an address")).expect("bind the proxy");
            let addr = listener.local_addr().expect("the proxy's address");
            let proxy = CuttableProxy {
                addr,
                target,
                state: Arc::new(Mutex::new(State::default())),
                accepted: Arc::new(AtomicUsize::new(0)),
            };
            proxy.serve(listener).await;
            proxy
        }

        pub fn addr(&self) -> SocketAddr {
            self.addr
        }

        /// Connections accepted since the start.
        pub fn accepted(&self) -> usize {
            self.accepted.load(Ordering::SeqCst)
        }

        async fn serve(&self, listener: TcpListener) {
            let (state, target, accepted) =
                (self.state.clone(), self.target, self.accepted.clone());
            let task = tokio::spawn(async move {
                loop {
                    let Ok((client, _)) = listener.accept().await else {
                        continue;
                    };
                    accepted.fetch_add(1, Ordering::SeqCst);
                    // Spawned under the lock, so a cut either sees the connection or
                    // cancels this task while it waits (dropping the client's socket).
                    let mut state = state.lock().await;
                    state.connections.retain(|c| !c.is_finished());
                    state
                        .connections
                        .push(tokio::spawn(forward(client, target)));
                }
            });
            self.state.lock().await.listener = Some(task);
        }

        /// Closes every open connection and stops listening: a client's next
        /// connection is refused. Returns once all of that is done.
        pub async fn cut(&self) {
            let mut state = self.state.lock().await;
            let tasks = state
                .listener
                .take()
                .into_iter()
                .chain(state.connections.drain(..));
            for task in tasks {
                task.abort();
                // Cancelled: the task's sockets are dropped, so closed, by now.
                let _ = task.await;
            }
        }

        /// Listens again on the same port, forwarding as before.
        pub async fn restore(&self) {
            let listener = listen(self.addr).expect("listen again on the proxy's port");
            self.serve(listener).await;
        }
    }

    impl Drop for CuttableProxy {
        fn drop(&mut self) {
            if let Ok(mut state) = self.state.try_lock() {
                for task in state
                    .listener
                    .take()
                    .into_iter()
                    .chain(state.connections.drain(..))
                {
                    task.abort();
                }
            }
        }
    }
}
