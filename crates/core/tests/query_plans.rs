//! Every statement the bot runs for commands, answer events and the scheduler uses
//! an index: no full-table scan, no sort without an index. The statements are the
//! ones sqlx really executed (captured from its `sqlx::query` trace events while the
//! real code paths run on a seeded database), each then run through
//! `EXPLAIN QUERY PLAN` with a dummy value bound to every parameter.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, Utc};
use prepbot_core::bank::{Difficulty, QuestionBank};
use prepbot_core::chat::Platform;
use prepbot_core::engine::schedule::Days;
use prepbot_core::ingest::AnswerWriter;
use prepbot_core::practice::{AnswerEvent, IncomingMessage, ListedMessage, Practice};
use prepbot_core::scheduler::{drop_now, run_due};
use prepbot_core::store::drops::DropRecord;
use prepbot_testkit as common;
use prepbot_testkit::*;
use sqlx::Row;
use tracing::field::{Field, Visit};
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{Layer, registry};

// ---- capturing what sqlx executes ------------------------------------------------

/// Statements sqlx logged while capture was on, in the order they ran.
static CAPTURED: Mutex<Vec<String>> = Mutex::new(Vec::new());
static CAPTURING: AtomicBool = AtomicBool::new(false);
/// The capture is process-wide (sqlx runs statements on its own worker threads),
/// so the tests in this file take turns.
static TURN: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Records the statement text of sqlx's `sqlx::query` events. sqlx-core 0.8.6
/// (`logger.rs`) puts the full text in `db.statement` (wrapped in blank lines) when
/// it is longer than its four-word `summary`, and leaves `db.statement` empty
/// otherwise; statements are logged at DEBUG by default.
struct StatementCapture;

#[derive(Default)]
struct StatementFields {
    summary: String,
    statement: String,
}

impl Visit for StatementFields {
    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            "summary" => self.summary = value.to_string(),
            "db.statement" => self.statement = value.to_string(),
            _ => {}
        }
    }
    fn record_debug(&mut self, _field: &Field, _value: &dyn std::fmt::Debug) {}
}

impl<S: tracing::Subscriber> Layer<S> for StatementCapture {
    fn on_event(&self, event: &tracing::Event<'_>, _ctx: Context<'_, S>) {
        if event.metadata().target() != "sqlx::query" || !CAPTURING.load(Ordering::SeqCst) {
            return;
        }
        let mut fields = StatementFields::default();
        event.record(&mut fields);
        let sql = if fields.statement.trim().is_empty() {
            fields.summary
        } else {
            fields.statement
        };
        CAPTURED.lock().unwrap().push(normalize(&sql));
    }
}

fn normalize(sql: &str) -> String {
    sql.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn install_capture() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        registry()
            .with(StatementCapture)
            .try_init()
            .expect("no other global subscriber in this test binary");
    });
}

fn start_capture() {
    CAPTURED.lock().unwrap().clear();
    CAPTURING.store(true, Ordering::SeqCst);
}

fn stop_capture() -> Vec<String> {
    CAPTURING.store(false, Ordering::SeqCst);
    std::mem::take(&mut *CAPTURED.lock().unwrap())
}

/// Queries over tables: not transaction control, pragmas or sqlx's migration
/// bookkeeping.
fn is_query(sql: &str) -> bool {
    let first = sql
        .split_whitespace()
        .next()
        .unwrap_or("")
        .to_ascii_uppercase();
    matches!(
        first.as_str(),
        "SELECT" | "INSERT" | "UPDATE" | "DELETE" | "WITH"
    ) && !sql.contains("_sqlx_migrations")
}

/// Distinct queries, in the order they first ran.
fn distinct_queries(statements: Vec<String>) -> Vec<String> {
    let mut seen = HashSet::new();
    statements
        .into_iter()
        .filter(|s| is_query(s) && seen.insert(s.clone()))
        .collect()
}

/// `?` placeholders outside string literals and quoted names.
fn placeholders(sql: &str) -> usize {
    let mut quote = None;
    let mut n = 0;
    for c in sql.chars() {
        match (quote, c) {
            (None, '\'' | '"' | '`') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            (None, '?') => n += 1,
            _ => {}
        }
    }
    n
}

/// The `detail` column of `EXPLAIN QUERY PLAN`, one line per step.
async fn plan(practice: &Practice, sql: &str) -> Vec<String> {
    let mut conn = practice.store().read().await.unwrap();
    let explain = format!("EXPLAIN QUERY PLAN {sql}");
    let mut query = sqlx::query(&explain);
    for _ in 0..placeholders(sql) {
        query = query.bind(1i64);
    }
    query
        .fetch_all(conn.as_sqlite().expect("a SQLite store"))
        .await
        .unwrap_or_else(|e| panic!("EXPLAIN QUERY PLAN failed for {sql}: {e}"))
        .iter()
        .map(|row| row.get::<String, _>("detail"))
        .collect()
}

/// Why a plan line is not acceptable, if it is not. `derived`: the names the
/// statement gives to rows it makes itself ([`derived_names`]).
fn rejected(line: &str, derived: &[String]) -> Option<&'static str> {
    if line.contains("USE TEMP B-TREE") {
        return Some("sorts without an index");
    }
    let scan = line.strip_prefix("SCAN ")?;
    // A scan of what a `WITH` or a subquery produced, not of a table: its own lines
    // (checked too) say how it read the tables, and its LIMIT bounds it. SQLite names
    // a table by its alias when it has one (`SCAN c`), so only names the statement
    // itself gives to derived rows pass here.
    let source = scan.split_whitespace().next().unwrap_or_default();
    if source.starts_with("(subquery-") || derived.iter().any(|d| d == source) {
        return None;
    }
    // A scan in index order is an ordered walk over the rows asked for (a range of
    // an index); a plain SCAN of a table reads every row.
    if scan.contains(" USING INDEX ") || scan.contains(" USING COVERING INDEX ") {
        return None;
    }
    // The VALUES of an INSERT: one row, or the answer writer's many.
    if scan == "CONSTANT ROW" || scan.ends_with("-ROW VALUES CLAUSE") {
        return None;
    }
    Some("reads the whole table")
}

/// The names a statement gives to rows it makes: each `WITH` item (`name AS (`)
/// and each subquery's alias (`) AS name`).
fn derived_names(sql: &str) -> Vec<String> {
    let words: Vec<&str> = sql.split_whitespace().collect();
    let mut names = Vec::new();
    for (i, w) in words.iter().enumerate() {
        if *w != "AS" {
            continue;
        }
        match (i.checked_sub(1).map(|j| words[j]), words.get(i + 1)) {
            (Some(name), Some(next)) if next.starts_with('(') => {
                names.push(name.trim_matches(',').to_string())
            }
            (Some(before), Some(alias)) if before.ends_with(')') => {
                names.push(alias.trim_end_matches([')', ',']).to_string())
            }
            _ => {}
        }
    }
    names
}

#[test]
fn only_derived_rows_may_be_scanned_whole() {
    let sql = "WITH current_top AS ( SELECT 1 FROM member_stats m ), board AS (SELECT 3 \
               FROM current_top UNION ALL SELECT * FROM ( SELECT CAST(2 AS BIGINT) AS two \
               FROM member_stats) AS others) SELECT * FROM board";
    let derived = derived_names(sql);
    assert_eq!(derived, ["current_top", "board", "two", "others"]);
    assert_eq!(rejected("SCAN current_top", &derived), None);
    assert_eq!(rejected("SCAN others", &derived), None);
    assert_eq!(rejected("SCAN (subquery-4)", &derived), None);
    // A table through its alias, or by its name, is still a whole-table read.
    assert!(rejected("SCAN m", &derived).is_some());
    assert!(rejected("SCAN member_stats", &derived).is_some());
    assert_eq!(
        rejected(
            "SCAN member_stats USING INDEX member_stats_by_total",
            &derived
        ),
        None
    );
}

/// The tables and aliases an answer-touching statement reads answers through.
fn answer_tables(sql: &str) -> Vec<String> {
    let mut names = Vec::new();
    let words: Vec<&str> = sql.split_whitespace().collect();
    for (i, w) in words.iter().enumerate() {
        if matches!(*w, "answers" | "early_message_events") {
            names.push(w.to_string());
            if let Some(alias) = words
                .get(i + 1)
                .filter(|a| a.len() <= 2 && a.chars().all(|c| c.is_ascii_lowercase()))
            {
                names.push(alias.to_string());
            }
        }
    }
    names
}

// ---- a seeded database driven through the real code paths --------------------------

const OTHER: u64 = 902;
const THIRD: u64 = 903;

fn msg(thread: u64, id: u64, member: u64, at: DateTime<Utc>) -> IncomingMessage {
    message(thread, id, member, at)
}

/// Answer events through the answer writer, several in one transaction (a delete
/// and an edit ahead of their creates, by thread and, as Slack sends them, by
/// channel); uses message ids `first_id..=first_id + 3`.
async fn through_the_writer(p: &Practice, drop: &DropRecord, at: DateTime<Utc>, first_id: u64) {
    let thread = id(drop.thread_id.as_deref().unwrap());
    let channel = p
        .channel(drop.channel_id)
        .await
        .unwrap()
        .expect("the drop's channel")
        .address;
    let (writer, task) = AnswerWriter::start(p.clone());
    let (a, b, c) = (first_id, first_id + 1, first_id + 2);
    let events = vec![
        AnswerEvent::Deleted {
            thread: common::thread(thread),
            message_id: b.to_string(),
            at,
        },
        AnswerEvent::EditedText {
            thread: common::thread(thread),
            message_id: c.to_string(),
            body: "early edit".into(),
            edited_at: at,
        },
        AnswerEvent::Posted(msg(thread, a, 3, at)),
        AnswerEvent::Posted(msg(thread, b, 3, at)),
        AnswerEvent::Edited {
            message: msg(thread, c, 4, at),
            edited_at: at + Duration::minutes(1),
        },
        AnswerEvent::EditedText {
            thread: common::thread(thread),
            message_id: a.to_string(),
            body: "edited".into(),
            edited_at: at + Duration::minutes(1),
        },
        AnswerEvent::EditedInChannel {
            channel: channel.clone(),
            message_id: a.to_string(),
            posted_at: at,
            body: "edited again".into(),
            edited_at: at + Duration::minutes(2),
        },
        AnswerEvent::DeletedInChannel {
            channel: channel.clone(),
            message_id: (first_id + 3).to_string(),
            posted_at: at,
            at: at + Duration::minutes(2),
        },
        AnswerEvent::EditedInChannel {
            channel,
            message_id: (first_id + 3).to_string(),
            posted_at: at,
            body: "early".into(),
            edited_at: at + Duration::minutes(2),
        },
    ];
    futures_util::future::try_join_all(events.into_iter().map(|e| writer.submit(e)))
        .await
        .unwrap();
    task.stop().await;
}

/// Three channels of one guild, a few days of drops, answers with edits and
/// deletes in every order, reveals, a late answer to an older drop, failed posts
/// and reveals, `/drop`, a deleted channel, and every read a command makes.
async fn exercise(p: &Practice) {
    let out = Recording::default();
    let start = utc("2026-03-02T00:00:00Z");
    for (channel, seed) in [(CHANNEL, 1), (OTHER, 2), (THIRD, 3)] {
        let mut s = setup("09:00", "UTC", Days::DAILY, 8);
        s.address = address(GUILD, channel);
        if channel == THIRD {
            // Three questions: its fourth drop starts a new rotation cycle.
            s.pool.topic = Some("caching".into());
        }
        p.setup_channel(s, seed, start).await.unwrap();
    }
    let (channel_key, other_key, third_key) = (
        key(p, CHANNEL).await,
        key(p, OTHER).await,
        key(p, THIRD).await,
    );
    let mut next_message = 100_000u64;
    let mut day = start + Duration::hours(9);
    for d in 0..3 {
        let (report, _) = out.pass(p, day).await;
        assert_eq!(report.posted.len(), 3, "day {d}: every channel posts");
        for drop in &report.posted {
            let thread = id(drop.thread_id.as_deref().unwrap());
            for member in 1..=4u64 {
                next_message += 1;
                p.record_message(msg(
                    thread,
                    next_message,
                    member,
                    day + Duration::minutes(5),
                ))
                .await
                .unwrap();
            }
            // An edit of a stored answer, of one not stored yet, and its create.
            let edited = msg(thread, next_message, 4, day + Duration::minutes(5));
            p.record_edit(edited, day + Duration::minutes(6))
                .await
                .unwrap();
            p.edit_in_thread(
                &common::thread(thread),
                &(next_message + 1).to_string(),
                "early edit",
                day + Duration::minutes(7),
            )
            .await
            .unwrap();
            next_message += 1;
            p.record_message(msg(thread, next_message, 5, day + Duration::minutes(6)))
                .await
                .unwrap();
            // A delete of a stored answer, of one not stored yet, and its create.
            p.withdraw_in_thread(
                &common::thread(thread),
                &next_message.to_string(),
                day + Duration::minutes(8),
            )
            .await
            .unwrap();
            p.withdraw_in_thread(
                &common::thread(thread),
                &(next_message + 1).to_string(),
                day + Duration::minutes(8),
            )
            .await
            .unwrap();
            next_message += 1;
            p.record_message(msg(thread, next_message, 6, day + Duration::minutes(7)))
                .await
                .unwrap();
        }
        // What commands read while drops are open.
        p.open_question_ids(Platform::Discord, &GUILD.to_string())
            .await
            .unwrap();
        for channel in [channel_key, other_key, third_key] {
            let ch = p.channel(channel).await.unwrap().unwrap();
            p.next_drop(&ch, day).await.unwrap();
            p.open_drop(channel).await.unwrap();
            p.last_failure(channel).await.unwrap();
        }
        let (report, _) = out.pass(p, day + Duration::hours(8)).await;
        assert_eq!(report.revealed.len(), 3, "day {d}: every channel reveals");
        day += Duration::days(1);
    }

    // A late on-time answer to the first drop, whose event arrives after later
    // drops settled: the member's run is replayed from their on-time answers.
    let first = p.drop_by_id(1).await.unwrap().unwrap();
    next_message += 1;
    let first_thread = id(first.thread_id.as_deref().unwrap());
    p.record_message(msg(
        first_thread,
        next_message,
        2,
        first.posted_at.unwrap() + Duration::minutes(1),
    ))
    .await
    .unwrap();

    // The same kinds of event as the bot applies them: through the answer writer.
    through_the_writer(
        p,
        &first,
        first.posted_at.unwrap() + Duration::minutes(2),
        next_message + 1,
    )
    .await;
    next_message += 4;

    p.streak(channel_key, "1").await.unwrap();
    p.streak(channel_key, "99").await.unwrap();
    p.leaderboard(channel_key, 10).await.unwrap();
    // The commands' reads by address, each the channel lookup and what the command
    // shows in one statement (the leaderboard's walks follow).
    let here = address(GUILD, CHANNEL);
    p.streak_at(&here, "1").await.unwrap();
    p.streak_at(&here, "99").await.unwrap();
    p.leaderboard_at(&here, 10).await.unwrap();
    p.today_at(&here, day).await.unwrap();
    p.schedule_view_at(&here, day).await.unwrap();
    p.agenda().await.unwrap();

    // The backfill after downtime: open drops, then one thread caught up on.
    let (report, _) = out.pass(p, day).await;
    let open = report.posted[0].clone();
    assert_eq!(p.open_drops().await.unwrap().len(), 3);
    let thread = id(open.thread_id.as_deref().unwrap());
    through_the_writer(p, &open, day + Duration::minutes(1), next_message + 1).await;
    next_message += 4;
    let listed = vec![ListedMessage {
        message: msg(thread, next_message + 1, 1, day + Duration::minutes(1)),
        edited_at: Some(day + Duration::minutes(2)),
    }];
    p.reconcile_thread(
        &open,
        listed,
        day + Duration::minutes(1),
        day + Duration::hours(1),
    )
    .await
    .unwrap();
    p.thread_opened(open.id, Some(&thread.to_string()))
        .await
        .unwrap();

    // A reveal that fails and is retried, then closed without its reveal.
    out.fail_reveals.store(true, Ordering::SeqCst);
    out.pass(p, day + Duration::hours(8)).await;
    out.fail_permanently.store(true, Ordering::SeqCst);
    out.pass(p, day + Duration::hours(8) + Duration::minutes(5))
        .await;
    out.fail_reveals.store(false, Ordering::SeqCst);
    out.fail_permanently.store(false, Ordering::SeqCst);

    // A post that fails and is retried; then one that fails for good.
    day += Duration::days(1);
    out.fail_drops.store(true, Ordering::SeqCst);
    out.pass(p, day).await;
    out.pass(p, day + Duration::minutes(2)).await;
    out.fail_permanently.store(true, Ordering::SeqCst);
    out.pass(p, day + Duration::minutes(10)).await;
    out.fail_drops.store(false, Ordering::SeqCst);
    out.fail_permanently.store(false, Ordering::SeqCst);
    p.last_failure(channel_key).await.unwrap();

    // `/drop` with nothing open, then again with today's drop out.
    out.at(day + Duration::hours(1));
    drop_now(p, &out, channel_key, day + Duration::hours(1))
        .await
        .unwrap();
    drop_now(p, &out, channel_key, day + Duration::hours(1))
        .await
        .unwrap_err();

    // Pause and resume.
    p.set_paused(other_key, true, day).await.unwrap();
    p.set_paused(other_key, false, day).await.unwrap();

    // Days that passed while the bot was down are recorded as missed.
    day += Duration::days(3);
    out.pass(p, day).await;
    out.pass(p, day + Duration::hours(8)).await;

    // A bank that lost every question of a channel's pool: the date is failed.
    let databases_only = QuestionBank::from_questions(
        (0..3)
            .map(|i| question(&format!("db-{i}"), "databases", Difficulty::Hard))
            .collect(),
    );
    let shrunk = Practice::new(p.store().clone(), Arc::new(databases_only));
    day += Duration::days(1);
    assert!(
        shrunk
            .claim_scheduled_drop(third_key, day)
            .await
            .unwrap()
            .is_none()
    );
    assert!(p.last_failure(third_key).await.unwrap().is_some());

    // A channel the platform says is gone.
    p.channel_gone(third_key, "Unknown Channel", day)
        .await
        .unwrap();
    run_due(p, &out, day + Duration::hours(9)).await.unwrap();
}

#[tokio::test]
async fn every_statement_of_commands_events_and_the_scheduler_uses_an_index() {
    let _turn = TURN.lock().await;
    install_capture();
    let (p, _dir) = practice_with_sqlite(small_bank(3)).await;
    start_capture();
    exercise(&p).await;
    let queries = distinct_queries(stop_capture());

    let mut failures = Vec::new();
    println!("checked {} distinct statements:", queries.len());
    for sql in &queries {
        let lines = plan(&p, sql).await;
        println!("\n{sql}");
        for line in &lines {
            println!("    {line}");
            if let Some(why) = rejected(line, &derived_names(sql)) {
                failures.push(format!("{why}: `{line}` in\n    {sql}"));
            }
        }
        // Answer events and reveals must not cost more as answers pile up: every
        // read of the answer tables is a lookup by drop or message id.
        let tables = answer_tables(sql);
        for line in &lines {
            let mut words = line.split_whitespace();
            let (Some(op), Some(table)) = (words.next(), words.next()) else {
                continue;
            };
            if !tables.iter().any(|t| t == table) {
                continue;
            }
            let keyed = op == "SEARCH"
                && (line.contains("(drop_id=?")
                    || line.contains("(rowid=?")
                    || line.contains("(channel_id=? AND message_id=?)"));
            if !keyed {
                failures.push(format!(
                    "reads answers other than by drop or message id: `{line}` in\n    {sql}"
                ));
            }
        }
    }
    assert!(
        queries.len() >= 15,
        "only {} distinct statements captured: is sqlx still logging them under `sqlx::query`?",
        queries.len()
    );
    for table in [
        "channels",
        "drops",
        "answers",
        "early_message_events",
        "member_stats",
    ] {
        assert!(
            queries.iter().any(|q| q.contains(table)),
            "no statement touching {table} was captured"
        );
    }
    assert!(
        failures.is_empty(),
        "{} plan(s) without an index:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[tokio::test]
async fn the_agenda_runs_the_same_queries_for_two_channels_as_for_forty() {
    let _turn = TURN.lock().await;
    install_capture();
    let mut counts = Vec::new();
    for channels in [2u64, 40] {
        let (p, _dir) = practice_with_sqlite(small_bank(3)).await;
        let out = Recording::default();
        let start = utc("2026-03-02T00:00:00Z");
        for c in 0..channels {
            let mut s = setup("09:00", "UTC", Days::DAILY, 8);
            s.address = address(GUILD, 1_000 + c);
            p.setup_channel(s, c, start).await.unwrap();
        }
        // Every channel has a revealed drop and an open one.
        out.pass(&p, start + Duration::hours(9)).await;
        out.pass(&p, start + Duration::hours(17)).await;
        out.pass(&p, start + Duration::hours(33)).await;
        start_capture();
        let agenda = p.agenda().await.unwrap();
        let statements: Vec<String> = stop_capture().into_iter().filter(|s| is_query(s)).collect();
        assert_eq!(
            agenda.len() as u64,
            2 * channels,
            "a drop and a reveal per channel"
        );
        counts.push(statements.len());
    }
    assert_eq!(
        counts[0], counts[1],
        "the agenda's queries grow with the number of channels: {counts:?}"
    );
}

/// The queries `body` runs.
async fn queries_of(body: impl std::future::Future<Output = ()>) -> Vec<String> {
    start_capture();
    body.await;
    stop_capture().into_iter().filter(|s| is_query(s)).collect()
}

/// A command's read by address is one statement, the channel lookup included (the
/// leaderboard: the channel, its progress and its two walks), open drop or
/// not: one round trip to the database, not one per table it reads.
#[tokio::test]
async fn each_command_reads_its_channel_and_what_it_shows_in_one_statement() {
    let _turn = TURN.lock().await;
    install_capture();
    let (p, _dir) = practice_with_sqlite(small_bank(3)).await;
    let out = Recording::default();
    let start = utc("2026-03-02T00:00:00Z");
    p.setup_channel(setup("09:00", "UTC", Days::DAILY, 8), 1, start)
        .await
        .unwrap();
    let here = address(GUILD, CHANNEL);
    let nowhere = address(GUILD, OTHER);
    let mut day = start + Duration::hours(9);
    for d in 0..2 {
        let (report, _) = out.pass(&p, day).await;
        let thread = id(report.posted[0].thread_id.as_deref().unwrap());
        p.record_message(msg(thread, 100 + d, 1, day + Duration::minutes(1)))
            .await
            .unwrap();
        if d == 0 {
            out.pass(&p, day + Duration::hours(8)).await;
            day += Duration::days(1);
        }
    }
    // A settled streak, a drop open now, and a channel without a schedule.
    for address in [&here, &nowhere] {
        let q = queries_of(async {
            p.streak_at(address, "1").await.unwrap();
        })
        .await;
        assert_eq!(q.len(), 1, "/streak: {q:#?}");
        let q = queries_of(async {
            p.today_at(address, day).await.unwrap();
        })
        .await;
        assert_eq!(q.len(), 1, "/question today: {q:#?}");
        let q = queries_of(async {
            p.schedule_view_at(address, day).await.unwrap();
        })
        .await;
        assert_eq!(q.len(), 1, "/schedule show: {q:#?}");
    }
    let q = queries_of(async {
        p.leaderboard_at(&here, 10).await.unwrap();
    })
    .await;
    assert_eq!(q.len(), 1, "/leaderboard, fewer than 10 current: {q:#?}");
    let q = queries_of(async {
        p.leaderboard_at(&here, 1).await.unwrap();
    })
    .await;
    assert_eq!(q.len(), 1, "/leaderboard, the top 1 current: {q:#?}");
    let q = queries_of(async {
        p.leaderboard_at(&nowhere, 10).await.unwrap();
    })
    .await;
    assert_eq!(q.len(), 1, "/leaderboard, no schedule: {q:#?}");
}

// ---- the same statements on PostgreSQL ---------------------------------------------

/// Fills a PostgreSQL database the way a large community would (2,000 channels, 40,000
/// drops, 200,000 answers, 100,000 member streaks) and gathers statistics, so the
/// planner chooses as it would in production: on a few rows every plan is a
/// sequential scan. Ids start far above the ones the exercise made.
async fn seed_postgres(store: &prepbot_core::store::Store) {
    let mut conn = store.read().await.unwrap();
    let pg = conn.as_postgres().expect("a PostgreSQL store");
    for sql in [
        "INSERT INTO channels (id, platform, workspace_id, conversation_id, name, drop_time, \
             time_zone, days, reveal_after_hours, paused, active_from, created_at, updated_at) \
         SELECT 1000000 + g, 'discord', 'w' || (g % 40), 'c' || g, 'channel ' || g, '09:00', \
             'UTC', 127, 8, CASE WHEN g % 10 = 0 THEN 1 ELSE 0 END, 0, 0, 0 \
         FROM generate_series(1, 2000) g",
        "INSERT INTO drops (id, channel_id, local_date, state, question_id, seq, due_at, \
             reveal_due_at, attempts, posted_at, revealed_at, message_id, thread_id) \
         SELECT 1000000 + c * 20 + d, 1000000 + c, '2025-01-' || lpad(d::text, 2, '0'), \
             'revealed', 'q' || d, d, 0, 0, 1, 0, 0, 'm' || c || '-' || d, 't' || c || '-' || d \
         FROM generate_series(1, 2000) c, generate_series(1, 20) d",
        "INSERT INTO answers (channel_id, drop_id, message_id, member_id, member_name, body, posted_at) \
         SELECT 1000000 + c, 1000000 + c * 20 + d, 'a' || c || '-' || d || '-' || m, 'u' || m, \
             'member ' || m, 'an answer', 0 \
         FROM generate_series(1, 2000) c, generate_series(1, 20) d, generate_series(1, 5) m",
        "INSERT INTO member_stats (channel_id, member_id, member_name, current_streak, best_streak, \
             total_on_time, last_seq, last_answered_at) \
         SELECT 1000000 + c, 'u' || m, 'Member ' || m, m % 7, m % 11, m % 13, 20 - m % 3, 0 \
         FROM generate_series(1, 2000) c, generate_series(1, 50) m",
        "INSERT INTO early_message_events (channel_id, message_id, drop_id, edited_body, edited_at) \
         SELECT 1000000 + c, 'e' || c || '-' || d, 1000000 + c * 20 + d, 'edited', 0 \
         FROM generate_series(1, 2000) c, generate_series(1, 5) d",
        "INSERT INTO rotations (channel_id, seed, cycle) \
         SELECT 1000000 + c, c, 0 FROM generate_series(1, 2000) c",
        "INSERT INTO rotation_used (channel_id, cycle, question_id, used_at) \
         SELECT 1000000 + c, 0, 'q' || d, 0 FROM generate_series(1, 2000) c, generate_series(1, 20) d",
        "INSERT INTO forgotten_members (channel_id, member_id, forgotten_at) \
         SELECT 1000000 + c, 'gone' || c, 0 FROM generate_series(1, 2000) c",
        "ANALYZE",
    ] {
        sqlx::query(sql)
            .execute(&mut *pg)
            .await
            .unwrap_or_else(|e| panic!("seeding failed: {e}\n{sql}"));
    }
}

/// The highest `$N` in a statement: how many parameters it takes.
fn pg_parameters(sql: &str) -> usize {
    let bytes = sql.as_bytes();
    let mut max = 0;
    for (i, b) in bytes.iter().enumerate() {
        if *b == b'$' {
            let digits: String = sql[i + 1..]
                .chars()
                .take_while(char::is_ascii_digit)
                .collect();
            if let Ok(n) = digits.parse::<usize>() {
                max = max.max(n);
            }
        }
    }
    max
}

/// The generic plan PostgreSQL makes for a prepared statement, whatever the values
/// bound later (PostgreSQL 15 has no `EXPLAIN (GENERIC_PLAN)`: a prepared statement
/// under `plan_cache_mode = force_generic_plan` gives the same).
async fn pg_plan(store: &prepbot_core::store::Store, sql: &str) -> Vec<String> {
    let mut conn = store.read().await.unwrap();
    let pg = conn.as_postgres().expect("a PostgreSQL store");
    sqlx::raw_sql("SET plan_cache_mode = force_generic_plan")
        .execute(&mut *pg)
        .await
        .unwrap();
    // Parameter types are inferred from the statement, as for the bot's own queries;
    // one PostgreSQL cannot infer (`$3 IS NULL`) is declared text, as sqlx binds it.
    let n = pg_parameters(sql);
    let mut types = vec!["unknown"; n];
    loop {
        let declared = if n == 0 {
            String::new()
        } else {
            format!(" ({})", types.join(", "))
        };
        match sqlx::raw_sql(&format!("PREPARE prepbot_plan{declared} AS {sql}"))
            .execute(&mut *pg)
            .await
        {
            Ok(_) => break,
            Err(e) => {
                let text = e.to_string();
                let unknown = text
                    .split("could not determine data type of parameter $")
                    .nth(1)
                    .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
                    .and_then(|digits| digits.parse::<usize>().ok())
                    .filter(|&k| (1..=n).contains(&k) && types[k - 1] == "unknown");
                match unknown {
                    Some(k) => types[k - 1] = "text",
                    None => panic!("PREPARE failed for {sql}: {e}"),
                }
            }
        }
    }
    let execute = if n == 0 {
        "EXPLAIN EXECUTE prepbot_plan".to_string()
    } else {
        format!(
            "EXPLAIN EXECUTE prepbot_plan({})",
            vec!["NULL"; n].join(", ")
        )
    };
    let lines: Vec<String> = sqlx::query_scalar(&execute)
        .fetch_all(&mut *pg)
        .await
        .unwrap_or_else(|e| panic!("EXPLAIN failed for {sql}: {e}"));
    sqlx::raw_sql("DEALLOCATE prepbot_plan; RESET plan_cache_mode")
        .execute(&mut *pg)
        .await
        .unwrap();
    lines
}

/// Tables whose every row a statement may read: one row per platform
/// (`adapter_health`) or per running process (`processes`), by design.
const PG_SMALL_BY_DESIGN: &[&str] = &["adapter_health", "processes"];

/// The statements of the same exercise, on a PostgreSQL database seeded large:
/// no sequential scan of a table that grows with use.
#[tokio::test]
async fn every_statement_uses_an_index_on_postgresql_too() {
    let Some(url) = prepbot_testkit::postgres::fresh_database().await else {
        return;
    };
    let _turn = TURN.lock().await;
    install_capture();
    let store = prepbot_core::store::Store::open_url(&url).await.unwrap();
    let p = Practice::new(store.clone(), std::sync::Arc::new(small_bank(3)));
    start_capture();
    exercise(&p).await;
    let queries = distinct_queries(stop_capture());
    seed_postgres(&store).await;

    let mut failures = Vec::new();
    println!(
        "checked {} distinct statements on PostgreSQL:",
        queries.len()
    );
    for sql in &queries {
        let lines = pg_plan(&store, sql).await;
        println!("\n{sql}");
        for line in &lines {
            println!("    {line}");
            let Some(scan) = line.split("Seq Scan on ").nth(1) else {
                continue;
            };
            let table = scan.split_whitespace().next().unwrap_or_default();
            if !PG_SMALL_BY_DESIGN.contains(&table) {
                failures.push(format!(
                    "reads the whole of {table}: `{}` in\n    {sql}",
                    line.trim()
                ));
            }
        }
    }
    assert!(
        queries.len() >= 15,
        "only {} distinct statements captured on PostgreSQL",
        queries.len()
    );
    assert!(
        failures.is_empty(),
        "{} plan(s) with a sequential scan:\n{}",
        failures.len(),
        failures.join("\n")
    );
    store.close().await;
}
