//! Faults an operator can meet on the database, each injected for real: a read-only
//! file or directory, a full database in the middle of a write, a database left by a
//! newer prepbot, a lock held by another connection. Each must give a clear error and
//! leave the database exactly as it was.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration as StdDuration;

use prepbot_core::engine::DropState;
use prepbot_core::engine::schedule::Days;
use prepbot_core::practice::{IncomingMessage, Practice, PracticeError};
use prepbot_core::store::{Store, StoreError, answers, channels, drops};
use prepbot_testkit::*;
use sqlx::{Connection, SqliteConnection};

/// Every table the migrations create, with sqlx's own.
const TABLES: [&str; 8] = [
    "channels",
    "drops",
    "answers",
    "early_message_events",
    "member_stats",
    "rotations",
    "rotation_used",
    "_sqlx_migrations",
];

async fn row_counts(store: &Store) -> Vec<(&'static str, i64)> {
    let mut conn = store.read().await.unwrap();
    let mut out = Vec::new();
    for table in TABLES {
        // Table names cannot be bound; these are the constants above.
        let n: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}"))
            .fetch_one(conn.as_sqlite().expect("a SQLite store"))
            .await
            .unwrap();
        out.push((table, n));
    }
    out
}

fn count_of(counts: &[(&str, i64)], table: &str) -> i64 {
    counts.iter().find(|(t, _)| *t == table).unwrap().1
}

fn db_path(dir: &tempfile::TempDir) -> PathBuf {
    dir.path().join("prepbot.db")
}

/// A practice over a fresh database with one channel and its first drop posted at
/// 09:00 UTC on 2026-03-02; returns the channel's key and the drop's id and thread.
async fn practice_with_open_drop() -> (Practice, tempfile::TempDir, i64, i64, u64) {
    let (p, dir) = practice_with_sqlite(small_bank(3)).await;
    let (channel, _) = p
        .setup_channel(
            setup("09:00", "UTC", Days::DAILY, 8),
            1,
            utc("2026-03-02T00:00:00Z"),
        )
        .await
        .unwrap();
    let out = Recording::default();
    let (report, _) = out.pass(&p, utc("2026-03-02T09:00:00Z")).await;
    let drop = &report.posted[0];
    let thread = id(drop.thread_id.as_deref().unwrap());
    (p, dir, channel.key, drop.id, thread)
}

fn answer_from(thread: u64, member: u64) -> IncomingMessage {
    IncomingMessage {
        thread: prepbot_testkit::thread(thread),
        message_id: (10_000 + member).to_string(),
        member_id: member.to_string(),
        // Long names and bodies, so the rows a reveal writes need fresh pages.
        member_name: format!("member {member} {}", "n".repeat(400)),
        body: format!("answer {member} {}", "b".repeat(400)),
        posted_at: utc("2026-03-02T12:00:00Z"),
    }
}

// ---- full ---------------------------------------------------------------------

#[tokio::test]
async fn a_full_database_fails_a_whole_reveal_and_saves_nothing_of_it() {
    let (p, dir, key, drop_id, thread) = practice_with_open_drop().await;
    for member in 0..300 {
        p.record_message(answer_from(thread, member)).await.unwrap();
    }
    p.store().close().await;

    // The same database, now unable to grow: SQLite answers SQLITE_FULL as on a full disk.
    let store = Store::open_path_capped(&db_path(&dir), StdDuration::from_secs(5), 1)
        .await
        .unwrap();
    let capped = Practice::new(store.clone(), Arc::new(small_bank(3)));
    let before = row_counts(&store).await;
    assert_eq!(count_of(&before, "answers"), 300);
    assert_eq!(count_of(&before, "member_stats"), 0);

    // One reveal settles 300 streaks in one transaction; the database fills mid-way.
    let err = capped
        .mark_revealed(drop_id, utc("2026-03-02T17:00:00Z"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, PracticeError::Store(StoreError::Full)),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "the database is full (disk or size limit); nothing from this change was saved: free some disk space and try again"
    );
    assert_eq!(row_counts(&store).await, before, "no partial reveal");
    let drop = capped.drop_by_id(drop_id).await.unwrap().unwrap();
    assert_eq!(drop.state, DropState::Posted, "the drop is still open");
    assert_eq!(drop.revealed_at, None);

    // Writes that need no new page still go through, on every pooled connection:
    // none is left stuck in the transaction SQLite rolled back.
    for (i, paused) in [true, false, true, false].into_iter().enumerate() {
        let at = utc("2026-03-02T18:00:00Z") + chrono::Duration::minutes(i as i64);
        let channel = capped.set_paused(key, paused, at).await.unwrap();
        assert_eq!(channel.schedule.paused, paused);
    }
    store.close().await;

    // With room again, the same reveal settles every member.
    let store = Store::open_path(&db_path(&dir)).await.unwrap();
    let roomy = Practice::new(store.clone(), Arc::new(small_bank(3)));
    let settled = roomy
        .mark_revealed(drop_id, utc("2026-03-02T17:00:00Z"))
        .await
        .unwrap();
    assert_eq!(settled.len(), 300);
    assert_eq!(count_of(&row_counts(&store).await, "member_stats"), 300);
    store.close().await;
}

#[tokio::test]
async fn a_full_database_rolls_back_a_multi_row_store_transaction() {
    let (p, dir, key, drop_id, _) = practice_with_open_drop().await;
    p.store().close().await;
    let store = Store::open_path_capped(&db_path(&dir), StdDuration::from_secs(5), 1)
        .await
        .unwrap();
    let before = row_counts(&store).await;

    let mut tx = store.write().await.unwrap();
    let mut failure = None;
    for i in 0..500u64 {
        let a = answers::StoredAnswer {
            channel_id: key,
            message_id: (50_000 + i).to_string(),
            drop_id,
            member_id: (70 + i).to_string(),
            member_name: format!("member {i}"),
            body: "x".repeat(2_000),
            posted_at: utc("2026-03-02T10:00:00Z"),
            edited_at: None,
            withdrawn_at: None,
        };
        if let Err(e) = answers::insert(&mut tx, &a).await {
            failure = Some((i, e));
            break;
        }
    }
    let (at, err) = failure.expect("the capped database fills up");
    assert!(at > 0, "some rows went in before it filled up");
    assert!(matches!(err, StoreError::Full), "{err:?}");
    drop(tx);
    assert_eq!(
        row_counts(&store).await,
        before,
        "none of the {at} rows stayed"
    );

    for _ in 0..4 {
        let mut tx = store.write().await.unwrap();
        assert!(
            channels::set_paused(&mut tx, key, true, utc("2026-03-03T00:00:00Z"))
                .await
                .unwrap()
        );
        tx.commit().await.unwrap();
    }
    store.close().await;
}

// ---- newer version --------------------------------------------------------------

/// Records a migration this build does not have, as a newer prepbot would.
async fn mark_as_newer(path: &Path, version: i64) {
    let mut conn = SqliteConnection::connect(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
         VALUES (?, ?, ?, ?, ?)",
    )
    .bind(version)
    .bind("from the future")
    .bind(true)
    .bind(vec![0u8; 48])
    .bind(1_i64)
    .execute(&mut conn)
    .await
    .unwrap();
    conn.close().await.unwrap();
}

/// The newest migration in `migrations/`, the version this build knows up to.
fn newest_migration() -> i64 {
    fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/sqlite"))
        .unwrap()
        .filter_map(|e| {
            let name = e.unwrap().file_name().to_string_lossy().into_owned();
            name.split('_').next().and_then(|v| v.parse::<i64>().ok())
        })
        .max()
        .unwrap()
}

fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[tokio::test]
async fn a_database_from_a_newer_prepbot_is_refused_and_left_untouched() {
    let (p, dir, _, _, _) = practice_with_open_drop().await;
    p.store().close().await;
    let path = db_path(&dir);
    mark_as_newer(&path, 20_990_101).await;
    let bytes = fs::read(&path).unwrap();
    let files = listing(dir.path());

    let known = newest_migration();
    let err = Store::open_path(&path).await.unwrap_err();
    assert!(
        matches!(err, StoreError::NewerVersion { found: 20_990_101, known: k, .. } if k == known),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        format!(
            "the database {} was created by a newer prepbot (schema version 20990101, this build knows up to {known}); upgrade prepbot or use a backup",
            path.display()
        )
    );
    let err = Store::open_url(&format!("sqlite://{}", path.display()))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NewerVersion { .. }), "{err:?}");

    assert!(fs::read(&path).unwrap() == bytes, "the file is unchanged");
    assert_eq!(listing(dir.path()), files, "nothing left beside it");
}

// ---- locked ---------------------------------------------------------------------

#[tokio::test]
async fn a_locked_database_fails_a_practice_write_whole_and_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_path(&dir);
    let store = Store::open_path_with(&path, StdDuration::from_millis(200))
        .await
        .unwrap();
    let p = Practice::new(store.clone(), Arc::new(small_bank(3)));
    let before = row_counts(&store).await;

    // Another process holds the write lock.
    let mut holder = SqliteConnection::connect(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    sqlx::query("BEGIN EXCLUSIVE")
        .execute(&mut holder)
        .await
        .unwrap();
    let started = std::time::Instant::now();
    let err = p
        .setup_channel(
            setup("09:00", "UTC", Days::DAILY, 8),
            1,
            utc("2026-03-02T00:00:00Z"),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, PracticeError::Store(StoreError::Locked)),
        "{err:?}"
    );
    assert!(
        err.to_string().contains(
            "stayed locked past the busy timeout; is a second prepbot writing to the same file?"
        ),
        "{err}"
    );
    assert!(
        started.elapsed() < StdDuration::from_secs(3),
        "gave up on the busy timeout"
    );
    assert_eq!(row_counts(&store).await, before, "nothing of the setup");
    sqlx::query("ROLLBACK").execute(&mut holder).await.unwrap();
    holder.close().await.unwrap();

    p.setup_channel(
        setup("09:00", "UTC", Days::DAILY, 8),
        1,
        utc("2026-03-02T00:00:00Z"),
    )
    .await
    .unwrap();
    let after = row_counts(&store).await;
    assert_eq!(count_of(&after, "channels"), 1);
    assert_eq!(count_of(&after, "rotations"), 1);
    store.close().await;
}

// ---- read-only ------------------------------------------------------------------

/// Root ignores permission bits: as root, [`ReadOnlyFile`] also sets the immutable
/// attribute so a read-only file is read-only for real.
fn set_mode(path: &Path, mode: u32) {
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
}

fn can_write(file: &Path) -> bool {
    fs::OpenOptions::new().append(true).open(file).is_ok()
}

/// Makes a file read-only for this very process until dropped: mode 0444, and as root
/// (for whom the mode means nothing) the immutable attribute as well.
struct ReadOnlyFile {
    path: PathBuf,
    immutable: bool,
}

impl ReadOnlyFile {
    fn make(path: &Path) -> ReadOnlyFile {
        set_mode(path, 0o444);
        let mut guard = ReadOnlyFile {
            path: path.to_path_buf(),
            immutable: false,
        };
        if can_write(path) {
            let status = Command::new("chattr").arg("+i").arg(path).status();
            assert!(
                status.is_ok_and(|s| s.success()),
                "running as root, and `chattr +i {}` failed: install e2fsprogs, or set TMPDIR to a file system with the immutable attribute (ext4, xfs, btrfs)",
                path.display()
            );
            guard.immutable = true;
        }
        assert!(!can_write(path), "{} is still writable", path.display());
        guard
    }
}

impl Drop for ReadOnlyFile {
    fn drop(&mut self) {
        if self.immutable {
            let _ = Command::new("chattr").arg("-i").arg(&self.path).status();
        }
        let _ = fs::set_permissions(&self.path, fs::Permissions::from_mode(0o644));
    }
}

#[tokio::test]
async fn a_read_only_database_file_is_refused_at_open_naming_the_path() {
    let (p, dir, key, _, _) = practice_with_open_drop().await;
    p.store().close().await;
    let path = db_path(&dir);
    let bytes = fs::read(&path).unwrap();
    {
        let _read_only = ReadOnlyFile::make(&path);
        let err = Store::open_path(&path).await.unwrap_err();
        assert!(matches!(err, StoreError::ReadOnly { .. }), "{err:?}");
        assert_eq!(
            err.to_string(),
            format!(
                "the database {} is read-only for prepbot: make the file and its directory writable by the user prepbot runs as (SQLite writes -wal and -shm files beside it)",
                path.display()
            )
        );
        let url = format!("sqlite://{}", path.display());
        let err = Store::open_url(&url).await.unwrap_err();
        assert!(
            err.to_string()
                .starts_with(&format!("the database {url} is read-only for prepbot")),
            "{err}"
        );
    }
    assert!(fs::read(&path).unwrap() == bytes, "the file is unchanged");
    // Writable again, it opens and takes writes.
    let store = Store::open_path(&path).await.unwrap();
    let mut tx = store.write().await.unwrap();
    drops::insert_missed(
        &mut tx,
        key,
        &prepbot_core::engine::schedule::Occurrence {
            local_date: chrono::NaiveDate::from_ymd_opt(2026, 3, 1).unwrap(),
            drop_at: utc("2026-03-01T09:00:00Z"),
            reveal_at: utc("2026-03-01T17:00:00Z"),
        },
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    store.close().await;
}
