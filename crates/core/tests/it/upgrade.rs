//! Upgrading a database written by the release before neutral identity (schema 8,
//! Discord ids as SQLite integers) in place: nothing lost, the same streaks,
//! leaderboards, rotation order, open drops and status as that release read out
//! (`tests/fixtures/pre_identity.before.txt`), a copy taken first, and a failed
//! upgrade leaves the old database as it was.

use std::fmt::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{TimeZone, Utc};
use prepbot_core::engine::rotation::pick_next;
use prepbot_core::practice::Practice;
use prepbot_core::store::{Store, StoreError, answers, drops, rotation};
use prepbot_testkit::address;
use sqlx::{Connection, SqliteConnection};

const DUMP: &str = include_str!("../fixtures/pre_identity.sql");
const BEFORE: &str = include_str!("../fixtures/pre_identity.before.txt");

/// The old release's database, written to a new file.
async fn old_database(dir: &Path) -> PathBuf {
    let path = dir.join("prepbot.db");
    let options = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(&path)
        .create_if_missing(true);
    let mut conn = SqliteConnection::connect_with(&options).await.unwrap();
    sqlx::raw_sql(DUMP).execute(&mut conn).await.unwrap();
    conn.close().await.unwrap();
    path
}

async fn raw(path: &Path) -> SqliteConnection {
    SqliteConnection::connect(&format!("sqlite://{}", path.display()))
        .await
        .unwrap()
}

/// Rows in every table.
async fn counts(conn: &mut SqliteConnection) -> Vec<(&'static str, i64)> {
    let mut n = Vec::new();
    for t in [
        "channels",
        "drops",
        "answers",
        "early_message_events",
        "member_stats",
        "rotations",
        "rotation_used",
    ] {
        let c: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {t}"))
            .fetch_one(&mut *conn)
            .await
            .unwrap();
        n.push((t, c));
    }
    n
}

async fn schema_version(conn: &mut SqliteConnection) -> i64 {
    sqlx::query_scalar("SELECT MAX(version) FROM _sqlx_migrations")
        .fetch_one(conn)
        .await
        .unwrap()
}

/// What the fixture's README says the old release printed, read out by this one
/// in the same order and format.
async fn read_out(store: &Store) -> String {
    let bank = Arc::new(
        prepbot_core::bank::QuestionBank::load(
            &Path::new(env!("CARGO_MANIFEST_DIR")).join("../../questions"),
        )
        .unwrap(),
    );
    let practice = Practice::new(store.clone(), bank);
    let now = Utc.with_ymd_and_hms(2026, 11, 5, 20, 0, 0).unwrap();
    let mut out = String::new();
    writeln!(out, "== status").unwrap();
    writeln!(
        out,
        "{}",
        prepbot_core::status::report(store, now).await.unwrap()
    )
    .unwrap();
    let pool = [
        "sql-vs-nosql",
        "connection-pooling",
        "transaction-isolation-levels",
        "zero-downtime-migrations",
        "cap-theorem",
        "idempotency",
        "rest-api-design",
        "cache-stampede",
    ];
    for ch in [10u64, 9223372036854775809, 1187654321098765432] {
        writeln!(out, "== channel {ch}").unwrap();
        let key = practice
            .channel_at(&address(0, ch))
            .await
            .unwrap()
            .expect("every channel survives")
            .key;
        for v in practice.leaderboard(key, 10).await.unwrap() {
            writeln!(
                out,
                "leaderboard {} {} current {} best {} total {}",
                v.member_id, v.member_name, v.current, v.best, v.total_on_time
            )
            .unwrap();
        }
        for m in [
            10u64,
            101,
            102,
            103,
            9223372036854776616,
            700000000000000002,
            700000000000000003,
        ] {
            if let Some(v) = practice.streak(key, &m.to_string()).await.unwrap() {
                writeln!(
                    out,
                    "streak {m} current {} best {} total {}",
                    v.current, v.best, v.total_on_time
                )
                .unwrap();
            }
        }
        let mut conn = store.read().await.unwrap();
        let mut rot = rotation::load(&mut conn, key).await.unwrap().unwrap();
        let mut last = drops::last_posted_question(&mut conn, key).await.unwrap();
        let mut order = Vec::new();
        for _ in 0..10 {
            let p = pick_next(pool.iter().copied(), &rot, last.as_deref()).unwrap();
            if p.new_cycle {
                rot.cycle = p.cycle;
                rot.used.clear();
            }
            rot.used.insert(p.question_id.clone());
            last = Some(p.question_id.clone());
            order.push(p.question_id);
        }
        writeln!(
            out,
            "rotation seed {} cycle {} next {}",
            rot.seed,
            rot.cycle,
            order.join(",")
        )
        .unwrap();
        if let Some(d) = practice.open_drop(key).await.unwrap() {
            // Printed as the old release printed its u64 ids: the text must be the
            // unsigned number.
            let number = |id: &Option<String>| id.as_deref().map(|s| s.parse::<u64>().unwrap());
            writeln!(
                out,
                "open drop {} seq {:?} q {:?} msg {:?} thread {:?}",
                d.local_date,
                d.seq,
                d.question_id,
                number(&d.message_id),
                number(&d.thread_id)
            )
            .unwrap();
            for a in answers::for_drop(&mut conn, d.id).await.unwrap() {
                writeln!(
                    out,
                    "  answer {} by {} {:?} edited {:?} withdrawn {:?}",
                    a.message_id,
                    a.member_id,
                    a.body,
                    a.edited_at.map(|t| t.timestamp()),
                    a.withdrawn_at.map(|t| t.timestamp())
                )
                .unwrap();
            }
        }
    }
    out
}

/// The old release's status, as this one words it: channels are named (by platform
/// and id until their name is known) instead of "channel X (guild Y)", and reasons
/// say "the channel" instead of Discord's `<#id>` mention.
fn status_as_now_worded(before: &str) -> String {
    let mut out = String::new();
    for line in before.lines() {
        let line = match line.strip_prefix("channel ") {
            Some(rest) => {
                let (id, rest) = rest.split_once(" (guild ").unwrap();
                let (guild, rest) = rest.split_once("):").unwrap();
                format!("discord channel {id} (discord server {guild}):{rest}")
            }
            None => line.to_string(),
        };
        let line = line
            .replace(
                "the channel <#1187654321098765432> no longer",
                "the channel no longer",
            )
            .replace("post in <#9223372036854775809>", "post in the channel");
        out.push_str(&line);
        out.push('\n');
    }
    out
}

#[tokio::test]
async fn an_old_database_upgrades_in_place_and_reads_out_the_same() {
    let dir = tempfile::tempdir().unwrap();
    let path = old_database(dir.path()).await;
    let before_counts = {
        let mut conn = raw(&path).await;
        assert_eq!(schema_version(&mut conn).await, 8);
        counts(&mut conn).await
    };

    let store = Store::open_path(&path).await.unwrap();
    let after = read_out(&store).await;
    store.close().await;

    // Same rows in every table; the schema is the new one, and consistent.
    let mut conn = raw(&path).await;
    // Upgraded through this build's newest migration.
    assert_eq!(
        schema_version(&mut conn).await,
        prepbot_core::store::copy::SCHEMA_PAIRS.last().unwrap().0
    );
    assert_eq!(counts(&mut conn).await, before_counts);
    let broken: Vec<String> = sqlx::query_scalar("SELECT \"table\" FROM pragma_foreign_key_check")
        .fetch_all(&mut conn)
        .await
        .unwrap();
    assert!(broken.is_empty(), "{broken:?}");
    let negative: i64 = sqlx::query_scalar(
        "SELECT (SELECT COUNT(*) FROM channels WHERE conversation_id LIKE '-%' OR workspace_id LIKE '-%') \
              + (SELECT COUNT(*) FROM answers WHERE message_id LIKE '-%' OR member_id LIKE '-%') \
              + (SELECT COUNT(*) FROM drops WHERE message_id LIKE '-%' OR thread_id LIKE '-%') \
              + (SELECT COUNT(*) FROM member_stats WHERE member_id LIKE '-%') \
              + (SELECT COUNT(*) FROM early_message_events WHERE message_id LIKE '-%')",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert_eq!(negative, 0, "ids above 2^63 are unsigned text again");
    let mentions: i64 = sqlx::query_scalar(
        "SELECT (SELECT COUNT(*) FROM channels WHERE pause_reason LIKE '%<#%') \
              + (SELECT COUNT(*) FROM drops WHERE failure LIKE '%<#%')",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert_eq!(mentions, 0, "no Discord markup left in stored reasons");
    // The early edit and delete survive, keyed by their channel.
    let early: Vec<(String, Option<String>, Option<i64>)> = sqlx::query_as(
        "SELECT message_id, edited_body, withdrawn_at FROM early_message_events ORDER BY message_id",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    assert_eq!(
        early,
        [
            (
                "1300000000000000005".to_string(),
                Some("early edit text".to_string()),
                None
            ),
            ("1300000000000000006".to_string(), None, Some(1794326000)),
        ]
    );
    // Drop ids are kept: they are in the nonces and markers already posted.
    let ids: Vec<i64> = sqlx::query_scalar("SELECT id FROM drops ORDER BY id")
        .fetch_all(&mut conn)
        .await
        .unwrap();
    assert_eq!(ids, [1, 2, 3, 4, 5, 6, 101, 102, 103, 104, 105, 201]);
    conn.close().await.unwrap();

    // What the old release read out, read out the same by this one.
    let (before_status, before_rest) = BEFORE.split_once("== channel").unwrap();
    let (after_status, after_rest) = after.split_once("== channel").unwrap();
    assert_eq!(after_status, status_as_now_worded(before_status));
    assert_eq!(after_rest, before_rest);

    // The copy taken first is the old database, whole.
    let copy = dir.path().join("prepbot.db.v8-before-v9");
    let mut old = raw(&copy).await;
    assert_eq!(schema_version(&mut old).await, 8);
    assert_eq!(counts(&mut old).await, before_counts);

    // Opening again migrates nothing and changes nothing.
    let store = Store::open_path(&path).await.unwrap();
    assert_eq!(read_out(&store).await, after);
    store.close().await;
    assert!(
        !dir.path().join("prepbot.db.v9-before-v9").exists(),
        "no second copy"
    );
}

#[tokio::test]
async fn a_failed_upgrade_leaves_the_old_database_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    let path = old_database(dir.path()).await;
    // A table in the way of the rebuild makes it fail halfway.
    let mut conn = raw(&path).await;
    sqlx::query("CREATE TABLE new_answers (x INTEGER)")
        .execute(&mut conn)
        .await
        .unwrap();
    let dump_before: Vec<(String, String)> =
        sqlx::query_as("SELECT name, sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY name")
            .fetch_all(&mut conn)
            .await
            .unwrap();
    conn.close().await.unwrap();

    let err = Store::open_path(&path).await.unwrap_err();
    let StoreError::Migrate(text) = &err else {
        panic!("{err:?}")
    };
    assert!(text.contains("changed nothing"), "{text}");
    assert!(
        text.contains("prepbot.db.v8-before-v9"),
        "names the copy: {text}"
    );

    let mut conn = raw(&path).await;
    assert_eq!(schema_version(&mut conn).await, 8);
    let dump_after: Vec<(String, String)> =
        sqlx::query_as("SELECT name, sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY name")
            .fetch_all(&mut conn)
            .await
            .unwrap();
    assert_eq!(dump_after, dump_before, "the schema is untouched");
    let (answers, channel): (i64, i64) = sqlx::query_as(
        "SELECT (SELECT COUNT(*) FROM answers), \
                (SELECT channel_id FROM channels WHERE channel_id < 0)",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert_eq!((answers, channel), (25, -9223372036854775807));
}
