//! The store on a fresh SQLite file with the real migrations.

use std::time::Duration as StdDuration;

use chrono::NaiveDate;
use prepbot_core::engine::schedule::{Days, Occurrence};
use prepbot_core::store::{Store, StoreError, answers, channels, drops};
use prepbot_testkit::*;

/// A claim taken by a test "process" at `now`, lasting no time (as before holders).
fn lease(now: chrono::DateTime<chrono::Utc>) -> drops::Lease<'static> {
    drops::Lease {
        holder: Some("test"),
        now,
        until: now,
    }
}

#[tokio::test]
async fn migrations_set_up_wal_foreign_keys_and_every_table() {
    let (store, dir) = fresh_sqlite_store().await;
    let mut conn = store.read().await.unwrap();
    let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(conn.as_sqlite().expect("a SQLite store"))
        .await
        .unwrap();
    assert_eq!(mode, "wal");
    let fk: i64 = sqlx::query_scalar("PRAGMA foreign_keys")
        .fetch_one(conn.as_sqlite().expect("a SQLite store"))
        .await
        .unwrap();
    assert_eq!(fk, 1);
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_sqlx%' ORDER BY name",
    )
    .fetch_all(conn.as_sqlite().expect("a SQLite store"))
    .await
    .unwrap();
    assert_eq!(
        tables,
        [
            "adapter_health",
            "answers",
            "channels",
            "command_uses",
            "drops",
            "early_message_events",
            "forgotten_members",
            "member_stats",
            "paces",
            "processes",
            "rotation_used",
            "rotations"
        ]
    );
    drop(conn);
    store.close().await;
    // Reopening applies nothing twice.
    let again = Store::open_path(&dir.path().join("prepbot.db"))
        .await
        .unwrap();
    again.close().await;
}

#[tokio::test]
async fn the_database_file_is_created_if_missing_from_a_url() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("new.db");
    assert!(!path.exists());
    let store = Store::open_url(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    store.close().await;
    assert!(path.exists());
}

#[tokio::test]
async fn bad_urls_and_unopenable_paths_are_clear_errors() {
    let err = Store::open_url("mysql://localhost/prepbot")
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::BadUrl { .. }), "{err}");
    assert!(
        err.to_string()
            .contains("use sqlite://path/to/prepbot.db or postgres://"),
        "{err}"
    );
    // A PostgreSQL server that is not there: one clear line, the password hidden.
    let err = Store::open_url("postgres://prepbot:s3cret@127.0.0.1:1/prepbot")
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Open { .. }), "{err}");
    assert!(
        err.to_string()
            .starts_with("cannot open the database postgres://***@127.0.0.1:1/prepbot: "),
        "{err}"
    );
    assert!(!err.to_string().contains("s3cret"), "{err}");
    let err = Store::open_path(std::path::Path::new("/nonexistent-dir/sub/prepbot.db"))
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "cannot create the database /nonexistent-dir/sub/prepbot.db: the directory /nonexistent-dir/sub does not exist; create it, writable by the user prepbot runs as"
    );
}

#[tokio::test]
async fn a_locked_database_gives_a_clear_error_after_the_busy_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("locked.db");
    let holder = Store::open_path(&path).await.unwrap();
    let waiter = Store::open_path_with(&path, StdDuration::from_millis(200))
        .await
        .unwrap();
    let tx = holder.write().await.unwrap();
    let err = waiter.write().await.unwrap_err();
    assert!(matches!(err, StoreError::Locked), "{err:?}");
    assert!(
        err.to_string()
            .contains("is a second prepbot writing to the same file?")
    );
    drop(tx);
    // Once released, the waiter gets in.
    let tx = waiter.write().await.unwrap();
    tx.commit().await.unwrap();
}

fn occurrence(date: &str) -> Occurrence {
    let d = NaiveDate::parse_from_str(date, "%Y-%m-%d").unwrap();
    Occurrence {
        local_date: d,
        drop_at: utc(&format!("{date}T09:00:00Z")),
        reveal_at: utc(&format!("{date}T17:00:00Z")),
    }
}

/// Sets up the test channel; returns its key.
async fn with_channel(store: &Store) -> i64 {
    let mut tx = store.write().await.unwrap();
    let mut channel = channels::Channel {
        key: 0,
        address: address(GUILD, CHANNEL),
        name: None,
        schedule: prepbot_core::engine::schedule::Schedule {
            time: chrono::NaiveTime::from_hms_opt(9, 0, 0).unwrap(),
            zone: chrono_tz::Europe::London,
            days: Days::WEEKDAYS,
            reveal_after_hours: 8,
            pool: prepbot_core::bank::PoolFilter {
                topic: Some("caching".into()),
                difficulty: Some(prepbot_core::bank::Difficulty::Hard),
                kind: None,
            },
            paused: false,
        },
        active_from: utc("2026-01-01T00:00:00Z"),
        pause_reason: None,
    };
    channel.key = channels::upsert(&mut tx, &channel, utc("2026-01-01T00:00:00Z"))
        .await
        .unwrap();
    let back = channels::get(&mut tx, channel.key).await.unwrap().unwrap();
    assert_eq!(back, channel, "a channel round-trips whole");
    tx.commit().await.unwrap();
    channel.key
}

#[tokio::test]
async fn a_second_drop_for_the_same_channel_and_date_is_impossible() {
    let (store, _dir) = fresh_sqlite_store().await;
    let key = with_channel(&store).await;
    let mut tx = store.write().await.unwrap();
    let now = utc("2026-01-05T09:00:00Z");
    let occ = occurrence("2026-01-05");
    let first = drops::insert_claimed(&mut tx, key, &occ, "q1", lease(now))
        .await
        .unwrap();
    assert!(first.is_some());
    let second = drops::insert_claimed(&mut tx, key, &occ, "q2", lease(now))
        .await
        .unwrap();
    assert!(second.is_none(), "the helper reports the conflict");
    // Even raw SQL cannot add a second row for that date.
    let raw = sqlx::query(
        "INSERT INTO drops (channel_id, local_date, state, question_id, due_at, reveal_due_at) VALUES (?, '2026-01-05', 'claimed', 'q3', 0, 0)",
    )
    .bind(key)
    .execute(tx.as_sqlite().expect("a SQLite store"))
    .await;
    assert!(raw.is_err());
    // Nor a drop for a channel that does not exist (foreign key).
    let orphan = drops::insert_claimed(&mut tx, 12345, &occ, "q1", lease(now)).await;
    assert!(orphan.is_err());
    tx.commit().await.unwrap();
}

#[tokio::test]
async fn at_most_one_open_drop_per_channel_and_sequence_numbers_are_unique() {
    let (store, _dir) = fresh_sqlite_store().await;
    let key = with_channel(&store).await;
    let mut tx = store.write().await.unwrap();
    let now = utc("2026-01-05T09:00:00Z");
    let a = drops::insert_claimed(&mut tx, key, &occurrence("2026-01-05"), "q1", lease(now))
        .await
        .unwrap()
        .unwrap();
    let b = drops::insert_claimed(&mut tx, key, &occurrence("2026-01-06"), "q2", lease(now))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(drops::next_seq(&mut tx, key).await.unwrap(), 1);
    assert!(
        drops::mark_posted(&mut tx, a, 1, "10", "10", now, None)
            .await
            .unwrap()
    );
    assert!(
        drops::mark_posted(&mut tx, b, 2, "11", "11", now, None)
            .await
            .is_err(),
        "a second open drop is refused"
    );
    assert!(drops::mark_revealed(&mut tx, a, now, None).await.unwrap());
    let dup = sqlx::query(
        "UPDATE drops SET state = 'posted', seq = 1, message_id = '11', thread_id = '11' WHERE id = ?",
    )
    .bind(b)
    .execute(tx.as_sqlite().expect("a SQLite store"))
    .await;
    assert!(dup.is_err(), "sequence numbers are unique per channel");
    assert!(
        drops::mark_posted(&mut tx, b, 2, "11", "11", now, None)
            .await
            .unwrap()
    );
    let progress = drops::progress(&mut tx, key).await.unwrap();
    assert_eq!((progress.latest_seq, progress.latest_open), (2, true));
    tx.commit().await.unwrap();
}

#[tokio::test]
async fn platform_ids_above_i64_max_round_trip_through_the_store() {
    let (store, _dir) = fresh_store().await;
    let key = with_channel(&store).await;
    let mut tx = store.write().await.unwrap();
    let now = utc("2026-01-05T09:00:00Z");
    let id = drops::insert_claimed(&mut tx, key, &occurrence("2026-01-05"), "q1", lease(now))
        .await
        .unwrap()
        .unwrap();
    let big = u64::MAX - 5;
    let text = big.to_string();
    drops::mark_posted(&mut tx, id, 1, &text, &text, now, None)
        .await
        .unwrap();
    let d = drops::by_thread(&mut tx, &thread(big))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (d.message_id, d.thread_id),
        (Some(text.clone()), Some(text))
    );
    let a = answers::StoredAnswer {
        channel_id: key,
        message_id: (big - 1).to_string(),
        drop_id: id,
        member_id: (big - 2).to_string(),
        member_name: "Zoë ✨".into(),
        body: "Ünïcödé and emoji 🚀 ".repeat(10_000),
        posted_at: now,
        edited_at: None,
        withdrawn_at: None,
    };
    assert!(answers::insert(&mut tx, &a).await.unwrap());
    assert!(
        !answers::insert(&mut tx, &a).await.unwrap(),
        "the same message is stored once"
    );
    assert_eq!(
        answers::get(&mut tx, key, &(big - 1).to_string())
            .await
            .unwrap()
            .unwrap(),
        a
    );
    assert_eq!(
        answers::for_member(&mut tx, id, &(big - 2).to_string())
            .await
            .unwrap()
            .len(),
        1
    );
    tx.commit().await.unwrap();
}

#[tokio::test]
async fn sql_text_is_bound_never_spliced() {
    let (store, _dir) = fresh_store().await;
    let key = with_channel(&store).await;
    let mut tx = store.write().await.unwrap();
    let now = utc("2026-01-05T09:00:00Z");
    let id = drops::insert_claimed(&mut tx, key, &occurrence("2026-01-05"), "q1", lease(now))
        .await
        .unwrap()
        .unwrap();
    let evil = "x'); DROP TABLE answers; --";
    let a = answers::StoredAnswer {
        channel_id: key,
        message_id: "1".into(),
        drop_id: id,
        member_id: "2".into(),
        member_name: evil.into(),
        body: evil.into(),
        posted_at: now,
        edited_at: None,
        withdrawn_at: None,
    };
    answers::insert(&mut tx, &a).await.unwrap();
    answers::edit(&mut tx, key, "1", evil, now).await.unwrap();
    assert_eq!(answers::for_drop(&mut tx, id).await.unwrap()[0].body, evil);
    tx.commit().await.unwrap();
}

#[tokio::test]
async fn pausing_and_resuming_moves_active_from_only_on_resume() {
    let (store, _dir) = fresh_store().await;
    let key = with_channel(&store).await;
    let mut tx = store.write().await.unwrap();
    assert!(
        channels::set_paused(&mut tx, key, true, utc("2026-02-01T00:00:00Z"))
            .await
            .unwrap()
    );
    let c = channels::get(&mut tx, key).await.unwrap().unwrap();
    assert!(c.schedule.paused);
    assert_eq!(c.active_from, utc("2026-01-01T00:00:00Z"));
    assert!(channels::list_active(&mut tx).await.unwrap().is_empty());
    assert!(
        channels::set_paused(&mut tx, key, false, utc("2026-02-03T00:00:00Z"))
            .await
            .unwrap()
    );
    let c = channels::get(&mut tx, key).await.unwrap().unwrap();
    assert_eq!(c.active_from, utc("2026-02-03T00:00:00Z"));
    // Resuming an active channel changes nothing.
    channels::set_paused(&mut tx, key, false, utc("2026-02-05T00:00:00Z"))
        .await
        .unwrap();
    let c = channels::get(&mut tx, key).await.unwrap().unwrap();
    assert_eq!(c.active_from, utc("2026-02-03T00:00:00Z"));
    assert!(
        !channels::set_paused(&mut tx, 4242, true, utc("2026-02-05T00:00:00Z"))
            .await
            .unwrap()
    );
    tx.commit().await.unwrap();
}

#[tokio::test]
async fn reads_do_not_wait_for_a_writer_and_cannot_write() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("busy.db");
    let store = Store::open_path_with(&path, StdDuration::from_secs(3))
        .await
        .unwrap();
    let key = with_channel(&store).await;
    // Another process holds the write lock.
    let other = Store::open_path(&path).await.unwrap();
    let held = other.write().await.unwrap();
    let started = std::time::Instant::now();
    for _ in 0..8 {
        let mut conn = store.read().await.unwrap();
        assert!(channels::get(&mut conn, key).await.unwrap().is_some());
    }
    assert!(
        started.elapsed() < StdDuration::from_secs(2),
        "reads waited {:?}",
        started.elapsed()
    );
    drop(held);
    let mut conn = store.read().await.unwrap();
    let write = sqlx::query("DELETE FROM channels")
        .execute(conn.as_sqlite().expect("a SQLite store"))
        .await;
    assert!(write.is_err(), "read connections are read-only");
}

async fn answer_count(store: &Store) -> i64 {
    let mut conn = store.read().await.unwrap();
    sqlx::query_scalar("SELECT COUNT(*) FROM answers")
        .fetch_one(conn.as_sqlite().expect("a SQLite store"))
        .await
        .unwrap()
}

/// Checks a backup: intact, fully migrated, and holding whole transactions of the
/// writer (pairs of answers 0, 1, 2, ... with none missing), between `before` and `after`.
async fn check_backup(copy: &std::path::Path, key: i64, before: i64, after: i64, migrations: i64) {
    let store = Store::open_path(copy).await.unwrap();
    let mut conn = store.read().await.unwrap();
    let integrity: String = sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_one(conn.as_sqlite().expect("a SQLite store"))
        .await
        .unwrap();
    assert_eq!(integrity, "ok");
    let applied: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations WHERE success")
        .fetch_one(conn.as_sqlite().expect("a SQLite store"))
        .await
        .unwrap();
    assert_eq!(applied, migrations, "every migration is in the copy");
    // Message ids are platform text; these are decimal, written in numeric order.
    let ids: Vec<String> = sqlx::query_scalar("SELECT message_id FROM answers")
        .fetch_all(conn.as_sqlite().expect("a SQLite store"))
        .await
        .unwrap();
    let mut ids: Vec<i64> = ids.iter().map(|m| m.parse().unwrap()).collect();
    ids.sort();
    let n = ids.len() as i64;
    assert!(before <= n && n <= after, "{before} <= {n} <= {after}");
    assert_eq!(n % 2, 0, "whole transactions only");
    assert!(ids.iter().copied().eq(0..n), "a prefix of what was written");
    assert!(channels::get(&mut conn, key).await.unwrap().is_some());
    drop(conn);
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_taken_while_another_connection_writes_is_a_consistent_copy() {
    let (store, dir) = fresh_sqlite_store().await;
    let key = with_channel(&store).await;
    let now = utc("2026-01-05T09:00:00Z");
    let drop_id = {
        let mut tx = store.write().await.unwrap();
        let id = drops::insert_claimed(&mut tx, key, &occurrence("2026-01-05"), "q1", lease(now))
            .await
            .unwrap()
            .unwrap();
        tx.commit().await.unwrap();
        id
    };
    let path = dir.path().join("prepbot.db");

    // The running bot: another pool on the same file, two answers per transaction.
    let bot = Store::open_path(&path).await.unwrap();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = tokio::spawn({
        let (bot, stop) = (bot.clone(), stop.clone());
        async move {
            let mut next = 0u64;
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                let mut tx = bot.write().await.unwrap();
                for id in [next, next + 1] {
                    let a = answers::StoredAnswer {
                        channel_id: key,
                        message_id: id.to_string(),
                        drop_id,
                        member_id: "7".into(),
                        member_name: "writer".into(),
                        body: format!("answer {id} {}", "x".repeat(500)),
                        posted_at: now,
                        edited_at: None,
                        withdrawn_at: None,
                    };
                    assert!(answers::insert(&mut tx, &a).await.unwrap());
                }
                tx.commit().await.unwrap();
                next += 2;
            }
        }
    });
    while answer_count(&store).await < 40 {
        tokio::time::sleep(StdDuration::from_millis(5)).await;
    }

    let before = answer_count(&store).await;
    let through_store = store
        .backup_to(&dir.path().join("copy-1.db"))
        .await
        .unwrap();
    let url = format!("sqlite://{}", path.display());
    let through_url = prepbot_core::store::backup_url(&url, &dir.path().join("copy-2.db"))
        .await
        .unwrap();
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    writer.await.unwrap();
    let after = answer_count(&store).await;
    assert!(after > before, "the writer kept writing during the backups");

    let mut conn = store.read().await.unwrap();
    let migrations: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations")
        .fetch_one(conn.as_sqlite().expect("a SQLite store"))
        .await
        .unwrap();
    drop(conn);
    assert_eq!(through_store, dir.path().join("copy-1.db"));
    for copy in [&through_store, &through_url] {
        check_backup(copy, key, before, after, migrations).await;
    }
    bot.close().await;
    store.close().await;
}

#[tokio::test]
async fn a_backup_never_overwrites_a_file_and_needs_its_directory() {
    let (store, dir) = fresh_sqlite_store().await;
    let existing = dir.path().join("existing.db");
    std::fs::write(&existing, "keep me").unwrap();
    for target in [existing.clone(), dir.path().join("empty.db")] {
        if target.ends_with("empty.db") {
            std::fs::write(&target, "").unwrap();
        }
        let err = store.backup_to(&target).await.unwrap_err();
        assert!(matches!(err, StoreError::Backup { .. }), "{err:?}");
        assert_eq!(
            err.to_string(),
            format!(
                "cannot back up to {}: it already exists, and a backup never overwrites anything: choose a new file name",
                target.display()
            )
        );
    }
    assert_eq!(std::fs::read_to_string(&existing).unwrap(), "keep me");
    assert_eq!(std::fs::read(dir.path().join("empty.db")).unwrap(), b"");

    let nowhere = dir.path().join("no-such-dir").join("copy.db");
    let err = store.backup_to(&nowhere).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "cannot back up to {}: the directory {} does not exist",
            nowhere.display(),
            dir.path().join("no-such-dir").display()
        )
    );
    assert!(!dir.path().join("no-such-dir").exists());

    let missing = format!("sqlite://{}", dir.path().join("missing.db").display());
    let err = prepbot_core::store::backup_url(&missing, &dir.path().join("copy.db"))
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("cannot open the database {missing}: there is no database file there to back up")
    );
    assert!(!dir.path().join("copy.db").exists(), "no empty copy left");
    assert!(!dir.path().join("missing.db").exists(), "nothing created");
    store.close().await;
}

/// How long a second writer is given to (wrongly) start while the first holds its
/// write transaction.
const WAITS_AT_LEAST: StdDuration = StdDuration::from_millis(300);

/// The next sequence number is `MAX(seq) + 1` read, then written. Two processes
/// doing it at once (two stores, each its own connections) get two numbers: the
/// second writer waits for the first (SQLite's `BEGIN IMMEDIATE`; on PostgreSQL
/// the advisory write lock every write transaction takes), then reads the
/// first's commit. Without that wait both would read 0 and the second would fail
/// on the unique (channel, seq).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_writers_taking_the_next_sequence_number_at_once_get_one_each() {
    let (a, b, _dir) = two_stores_on_one_database().await;
    let key = with_channel(&a).await;
    let now = utc("2026-01-05T09:00:00Z");
    let (d1, d2) = {
        let mut tx = a.write().await.unwrap();
        let d1 = drops::insert_claimed(&mut tx, key, &occurrence("2026-01-05"), "q1", lease(now))
            .await
            .unwrap()
            .unwrap();
        let d2 = drops::insert_claimed(&mut tx, key, &occurrence("2026-01-06"), "q2", lease(now))
            .await
            .unwrap()
            .unwrap();
        tx.commit().await.unwrap();
        (d1, d2)
    };
    let mut first = a.write().await.unwrap();
    let seq1 = drops::next_seq(&mut first, key).await.unwrap();
    let (started, mut second_started) = tokio::sync::oneshot::channel();
    let second = tokio::spawn(async move {
        let mut tx = b.write().await.unwrap();
        let _ = started.send(());
        let seq = drops::next_seq(&mut tx, key).await.unwrap();
        assert!(
            drops::mark_posted(&mut tx, d2, seq, "m2", "t2", now, None)
                .await
                .unwrap()
        );
        tx.commit().await.unwrap();
        seq
    });
    assert!(
        tokio::time::timeout(WAITS_AT_LEAST, &mut second_started)
            .await
            .is_err(),
        "a second writer began while the first held its transaction"
    );
    assert!(
        drops::mark_posted(&mut first, d1, seq1, "m1", "t1", now, None)
            .await
            .unwrap()
    );
    assert!(
        drops::mark_revealed(&mut first, d1, now, None)
            .await
            .unwrap()
    );
    first.commit().await.unwrap();
    assert_eq!((seq1, second.await.unwrap()), (1, 2));
}

/// Settling a streak reads the member's stats and writes them back. Two processes
/// settling the same member at once (two drops' late answers, say) each build on
/// the other's result: the second waits, then reads the first's commit, so no
/// settlement is lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_writers_settling_one_members_streak_at_once_lose_neither() {
    use prepbot_core::engine::streak::settle;
    use prepbot_core::store::member_stats::{self, MemberStats};
    let (a, b, _dir) = two_stores_on_one_database().await;
    let key = with_channel(&a).await;
    let at = utc("2026-01-05T10:00:00Z");
    let settle_in = move |seq: u32| {
        move |prev: Option<MemberStats>| MemberStats {
            channel_id: key,
            member_id: "42".into(),
            member_name: "Ada".into(),
            streak: settle(prev.as_ref().map(|p| &p.streak), seq, at),
        }
    };
    let mut first = a.write().await.unwrap();
    let prev = member_stats::get(&mut first, key, "42").await.unwrap();
    let (started, mut second_started) = tokio::sync::oneshot::channel();
    let second = tokio::spawn(async move {
        let mut tx = b.write().await.unwrap();
        let _ = started.send(());
        let prev = member_stats::get(&mut tx, key, "42").await.unwrap();
        member_stats::upsert(&mut tx, &settle_in(2)(prev))
            .await
            .unwrap();
        tx.commit().await.unwrap();
    });
    assert!(
        tokio::time::timeout(WAITS_AT_LEAST, &mut second_started)
            .await
            .is_err(),
        "a second writer began while the first held its transaction"
    );
    member_stats::upsert(&mut first, &settle_in(1)(prev))
        .await
        .unwrap();
    first.commit().await.unwrap();
    second.await.unwrap();
    let mut conn = a.read().await.unwrap();
    let stored = member_stats::get(&mut conn, key, "42")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (
            stored.streak.total_on_time,
            stored.streak.current,
            stored.streak.last_seq
        ),
        (2, 2, 2),
        "both drops counted"
    );
}

/// A claim reads the channel's rotation, picks, and records the pick, starting a
/// new cycle when the old one is used up. Two processes claiming at once (two
/// channels' drops are independent; this is two claims of one channel, as an
/// on-demand drop beside the scheduled one) must not both start the new cycle with
/// the same question: the second waits and sees the first's cycle and pick.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_writers_turning_a_rotation_over_at_once_see_each_others_pick() {
    use prepbot_core::engine::rotation::Pick;
    use prepbot_core::store::rotation;
    let (a, b, _dir) = two_stores_on_one_database().await;
    let key = with_channel(&a).await;
    let at = utc("2026-01-05T09:00:00Z");
    {
        // Cycle 0 with both questions of a two-question pool used.
        let mut tx = a.write().await.unwrap();
        rotation::ensure(&mut tx, key, 7).await.unwrap();
        for q in ["q1", "q2"] {
            let pick = Pick {
                question_id: q.into(),
                cycle: 0,
                new_cycle: false,
            };
            rotation::record(&mut tx, key, &pick, at).await.unwrap();
        }
        tx.commit().await.unwrap();
    }
    let mut first = a.write().await.unwrap();
    let seen_first = rotation::load(&mut first, key).await.unwrap().unwrap();
    assert_eq!((seen_first.cycle, seen_first.used.len()), (0, 2), "used up");
    let (started, mut second_started) = tokio::sync::oneshot::channel();
    let second = tokio::spawn(async move {
        let mut tx = b.write().await.unwrap();
        let _ = started.send(());
        let seen = rotation::load(&mut tx, key).await.unwrap().unwrap();
        tx.commit().await.unwrap();
        seen
    });
    assert!(
        tokio::time::timeout(WAITS_AT_LEAST, &mut second_started)
            .await
            .is_err(),
        "a second writer began while the first held its transaction"
    );
    let turn = Pick {
        question_id: "q1".into(),
        cycle: 1,
        new_cycle: true,
    };
    rotation::record(&mut first, key, &turn, at).await.unwrap();
    first.commit().await.unwrap();
    let seen_second = second.await.unwrap();
    assert_eq!(seen_second.cycle, 1, "the second sees the new cycle");
    assert_eq!(
        seen_second.used.into_iter().collect::<Vec<_>>(),
        ["q1"],
        "and the first's pick in it, so it picks another"
    );
}

/// Long enough for anything that does not wait for a lock, on a loaded machine;
/// what does wait would wait forever (the lock's holder lets go only afterwards).
const NEVER_WAITS: StdDuration = StdDuration::from_secs(10);

/// A posted drop, open for its reveal, with no lease: its id.
async fn open_drop(store: &Store, key: i64, now: chrono::DateTime<chrono::Utc>) -> i64 {
    let mut tx = store.write().await.unwrap();
    let id = drops::insert_claimed(&mut tx, key, &occurrence("2026-01-05"), "q1", lease(now))
        .await
        .unwrap()
        .unwrap();
    assert!(
        drops::mark_posted(&mut tx, id, 1, "m1", "m1", now, None)
            .await
            .unwrap()
    );
    tx.commit().await.unwrap();
    id
}

/// A reveal's lease (and a lapsed claim's, the same statement) taken by two
/// processes at once: one takes it. On PostgreSQL the other skips the locked row
/// at once (`SKIP LOCKED`) rather than waiting for the first to commit, and its
/// scheduler looks again a second later, when the row names the holder; on SQLite
/// the second waits its turn (one writer at a time) and finds the lease taken.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_taking_one_reveal_lease_at_once_get_it_once() {
    let (a, b, _dir) = two_stores_on_one_database().await;
    let key = with_channel(&a).await;
    let now = utc("2026-01-05T17:00:00Z");
    let id = open_drop(&a, key, now).await;
    // Both alive: a lease of a dead process is anyone's.
    {
        let mut tx = a.write().await.unwrap();
        for id in ["a", "b"] {
            let alive = prepbot_core::store::processes::ProcessRow {
                id: id.into(),
                host: "h".into(),
                pid: 1,
                shards: None,
                slack_connections: 0,
                started_at: now,
                heard_at: now,
            };
            prepbot_core::store::processes::register(&mut tx, &alive)
                .await
                .unwrap();
        }
        tx.commit().await.unwrap();
    }
    let taking = move |holder: &'static str| drops::Lease {
        holder: Some(holder),
        now,
        until: now + chrono::Duration::minutes(2),
    };
    let mut first = a.lease_write().await.unwrap();
    assert_eq!(
        drops::lease_reveal(&mut first, id, taking("a"))
            .await
            .unwrap(),
        drops::LeaseTake::Taken
    );
    let postgres = b.is_postgres();
    let second = tokio::spawn(async move {
        let mut tx = b.lease_write().await.unwrap();
        let took = drops::lease_reveal(&mut tx, id, taking("b")).await.unwrap();
        tx.commit().await.unwrap();
        took
    });
    if postgres {
        // Answered while the first still holds its transaction: it did not wait
        // (waiting, it would not finish until the first commits, below).
        let took = tokio::time::timeout(NEVER_WAITS, second)
            .await
            .expect("the second process waited for the first's transaction")
            .unwrap();
        assert_eq!(took, drops::LeaseTake::Busy);
        first.commit().await.unwrap();
    } else {
        tokio::time::sleep(WAITS_AT_LEAST).await;
        assert!(!second.is_finished(), "SQLite has one writer at a time");
        first.commit().await.unwrap();
        assert_eq!(second.await.unwrap(), drops::LeaseTake::NotFree);
    }
    let mut conn = a.read().await.unwrap();
    let d = drops::by_id(&mut conn, id).await.unwrap().unwrap();
    assert_eq!((d.holder.as_deref(), d.attempts), (Some("a"), 1));
}

/// On PostgreSQL a reveal's lease waits for no other writer: not for the store's
/// write lock an answer batch holds, nor for the lock that batch's answers hold on
/// their drop's row through their foreign key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_postgresql_a_reveal_lease_does_not_wait_for_an_answer_batch() {
    let (a, b, _dir) = two_stores_on_one_database().await;
    if !a.is_postgres() {
        // SQLite admits one writer at a time, leases included: nothing to show.
        return;
    }
    let key = with_channel(&a).await;
    let now = utc("2026-01-05T17:00:00Z");
    let id = open_drop(&a, key, now).await;
    let mut batch = a.write().await.unwrap();
    let answer = answers::StoredAnswer {
        channel_id: key,
        message_id: "900".into(),
        drop_id: id,
        member_id: "7".into(),
        member_name: "Ada".into(),
        body: "an answer".into(),
        posted_at: now,
        edited_at: None,
        withdrawn_at: None,
    };
    assert!(answers::insert(&mut batch, &answer).await.unwrap());
    let lease = tokio::time::timeout(NEVER_WAITS, async {
        let mut tx = b.lease_write().await.unwrap();
        let took = drops::lease_reveal(
            &mut tx,
            id,
            drops::Lease {
                holder: Some("b"),
                now,
                until: now + chrono::Duration::minutes(2),
            },
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
        took
    })
    .await
    .expect("the lease waited for the answer batch");
    assert_eq!(lease, drops::LeaseTake::Taken);
    batch.commit().await.unwrap();
}
