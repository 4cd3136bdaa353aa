//! The per-member command budget kept in the database (`command_uses`), as several
//! processes on PostgreSQL share it: the same rule as the in-memory log, and one
//! budget however many processes check it. Run on both backends (the store-backed
//! budget works on SQLite too, though a SQLite bot keeps it in memory).

use chrono::{DateTime, TimeDelta, Utc};
use prepbot_core::chat::Platform;
use prepbot_core::command_budget::{BUDGET, CommandBudget, MemberLimiter, Verdict, WINDOW};
use prepbot_core::store::command_uses;
use prepbot_testkit::*;

fn t(secs: f64) -> DateTime<Utc> {
    utc("2026-01-05T09:00:00Z") + TimeDelta::milliseconds((secs * 1000.0) as i64)
}

#[tokio::test]
async fn the_shared_budget_gives_the_same_verdicts_as_the_in_memory_one() {
    let (store, _dir) = fresh_store().await;
    let shared = CommandBudget::shared(store.clone(), Platform::Discord);
    assert!(shared.is_shared());
    let local = MemberLimiter::default();
    // (member, invocation, at): five in ten seconds, refusals until the oldest
    // leaves, a repeated check of one invocation, another member, a clock stepped
    // back and forward again.
    let script: &[(&str, u64, f64)] = &[
        ("7", 1, 0.0),
        ("7", 2, 1.0),
        ("7", 2, 1.0),
        ("7", 3, 2.0),
        ("7", 4, 3.0),
        ("7", 5, 4.0),
        ("7", 5, 4.5),
        ("7", 6, 6.0),
        ("7", 7, 9.999),
        ("8", 8, 9.999),
        ("7", 9, 10.0),
        ("7", 10, 10.5),
        ("7", 11, 11.0),
        ("7", 12, 3600.0),
        ("7", 13, 3600.0),
        ("7", 14, 3600.0),
        ("7", 15, 3600.0),
        ("7", 16, 3600.0),
        ("7", 17, 3601.0),
        ("7", 18, 100.0),
        ("7", 19, 110.0),
    ];
    let mut verdicts = Vec::new();
    for &(member, invocation, at) in script {
        let expected = local.check(member, invocation, t(at));
        let got = shared.check(member, invocation, t(at)).await;
        assert_eq!(
            got, expected,
            "member {member}, invocation {invocation} at {at} s"
        );
        verdicts.push(got);
    }
    // What the script pins, spelled out: the sixth command 6 s in waits 4 s; at
    // 9.999 s one millisecond; at exactly 10 s the first use has left the window.
    let refused = |v: Verdict| match v {
        Verdict::Refused { retry_after } => retry_after,
        Verdict::Allowed => panic!("expected a refusal"),
    };
    assert_eq!(refused(verdicts[7]), TimeDelta::seconds(4));
    assert_eq!(refused(verdicts[8]), TimeDelta::milliseconds(1));
    assert_eq!(verdicts[9], Verdict::Allowed, "another member");
    assert_eq!(verdicts[10], Verdict::Allowed);
    assert_eq!(refused(verdicts[11]), TimeDelta::milliseconds(500));
    // After the clock went back from 3601 s to 100 s, the wait is at most a window,
    // and a window later the member runs commands again.
    assert!(refused(verdicts[19]) <= WINDOW);
    assert_eq!(verdicts[20], Verdict::Allowed);
    store.close().await;
}

#[tokio::test]
async fn each_platform_has_its_own_members() {
    let (store, _dir) = fresh_store().await;
    let discord = CommandBudget::shared(store.clone(), Platform::Discord);
    let slack = CommandBudget::shared(store.clone(), Platform::Slack);
    for i in 0..BUDGET as u64 {
        assert_eq!(discord.check("U1", i, t(0.0)).await, Verdict::Allowed);
    }
    assert!(matches!(
        discord.check("U1", 99, t(0.0)).await,
        Verdict::Refused { .. }
    ));
    assert_eq!(slack.check("U1", 100, t(0.0)).await, Verdict::Allowed);
    store.close().await;
}

/// Two processes (two stores, each with its own connections) charge one member at
/// the same instant, twenty commands each: together they allow exactly the budget.
/// An invocation both check (a redelivery seen by both) is charged once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_charging_one_member_at_once_allow_the_budget_once() {
    let (a, b, _dir) = two_stores_on_one_database().await;
    let budgets = [
        std::sync::Arc::new(CommandBudget::shared(a.clone(), Platform::Discord)),
        std::sync::Arc::new(CommandBudget::shared(b.clone(), Platform::Discord)),
    ];
    let now = t(0.0);
    // Many members at once, so that charges of one member really overlap: on
    // PostgreSQL a check is one short call, and two of them rarely meet unless
    // many run (without the member's lock, this fails there).
    const MEMBERS: usize = 25;
    let mut tasks = Vec::new();
    for m in 0..MEMBERS {
        let member = format!("4{m}");
        // The same invocation through both processes first: one charge between them.
        assert_eq!(
            budgets[0].check(&member, 1_000, now).await,
            Verdict::Allowed
        );
        assert_eq!(
            budgets[1].check(&member, 1_000, now).await,
            Verdict::Allowed
        );
        for (p, budget) in budgets.iter().enumerate() {
            for i in 0..20u64 {
                let budget = budget.clone();
                let member = member.clone();
                let invocation = p as u64 * 100 + i;
                tasks.push((
                    m,
                    tokio::spawn(async move { budget.check(&member, invocation, now).await }),
                ));
            }
        }
    }
    let mut allowed = [0; MEMBERS];
    for (m, task) in tasks {
        match task.await.unwrap() {
            Verdict::Allowed => allowed[m] += 1,
            Verdict::Refused { retry_after } => assert_eq!(retry_after, WINDOW),
        }
    }
    assert_eq!(
        allowed,
        [BUDGET - 1; MEMBERS],
        "each member's budget, less the one charged first"
    );
    let mut conn = a.read().await.unwrap();
    assert_eq!(
        command_uses::count(&mut conn).await.unwrap(),
        (MEMBERS * BUDGET) as u64
    );
    drop(conn);
    a.close().await;
    b.close().await;
}

#[tokio::test]
async fn old_uses_are_swept_out_of_the_table() {
    let (store, _dir) = fresh_store().await;
    let budget = CommandBudget::shared(store.clone(), Platform::Slack);
    for m in 0..10 {
        budget.check(&format!("U{m}"), m, t(0.0)).await;
    }
    let count = || async {
        let mut conn = store.read().await.unwrap();
        command_uses::count(&mut conn).await.unwrap()
    };
    assert_eq!(count().await, 10);
    // One window on, those uses may still be counted by a process whose clock is
    // behind: kept. Two windows on they are swept (off the command path, so the
    // test waits for it).
    budget.check("U0", 100, t(10.0)).await;
    assert_eq!(count().await, 11);
    budget.check("U0", 101, t(20.0)).await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while count().await != 2 {
        assert!(
            std::time::Instant::now() < deadline,
            "the uses of two windows ago were not swept: {} left",
            count().await
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    store.close().await;
}

/// A lookup runs while its member is charged, not after: shown by holding the
/// member's lock (on PostgreSQL, the lock the budget function takes; on SQLite, the
/// write lock) so that the charge cannot finish, and seeing the lookup finish
/// anyway. Its answer is given once the charge is allowed; a refused member's
/// answer is computed and dropped, and the refusal is not charged.
#[tokio::test]
async fn a_lookup_runs_while_its_member_is_charged_and_answers_only_if_allowed() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use prepbot_core::command_budget::Refused;

    let (store, _dir) = fresh_store().await;
    let budget = Arc::new(CommandBudget::shared(store.clone(), Platform::Discord));
    let looked_up = Arc::new(AtomicUsize::new(0));
    let finished = Arc::new(tokio::sync::Notify::new());

    let held = store
        .write_member_budget(Platform::Discord, "7")
        .await
        .unwrap();
    let pending = tokio::spawn({
        let (budget, looked_up, finished) = (budget.clone(), looked_up.clone(), finished.clone());
        async move {
            budget
                .check_alongside("7", 1, t(0.0), async {
                    looked_up.fetch_add(1, Ordering::SeqCst);
                    finished.notify_one();
                    "the answer"
                })
                .await
        }
    });
    tokio::time::timeout(Duration::from_secs(10), finished.notified())
        .await
        .expect("the lookup finished while the charge waited for the member's lock");
    assert!(
        !pending.is_finished(),
        "no answer before the charge is done"
    );
    held.commit().await.unwrap();
    assert_eq!(pending.await.unwrap(), Ok("the answer"));

    // Four more fill the budget; the sixth lookup runs, and its answer is dropped.
    for i in 2..=BUDGET as u64 {
        let answer = budget
            .check_alongside("7", i, t(i as f64), async { i })
            .await;
        assert_eq!(answer, Ok(i));
    }
    let refused = budget
        .check_alongside("7", 99, t(6.0), async {
            looked_up.fetch_add(1, Ordering::SeqCst);
            "dropped"
        })
        .await;
    assert_eq!(
        refused,
        Err(Refused {
            retry_after: TimeDelta::seconds(4)
        })
    );
    assert_eq!(looked_up.load(Ordering::SeqCst), 2, "both lookups ran");
    let mut conn = store.read().await.unwrap();
    let charged = command_uses::recent(&mut conn, Platform::Discord, "7", t(-1.0))
        .await
        .unwrap();
    assert_eq!(
        charged.len(),
        BUDGET,
        "the refusal was not charged: {charged:?}"
    );
    drop(conn);
    store.close().await;
}

/// On PostgreSQL the budget's function reads `command_uses` through its primary
/// key however the table's statistics looked when a session planned it: the table
/// starts empty and fills within seconds, and a plan kept from the empty table
/// scanned all of it on every call. Counted from the server's own statistics, on
/// one session that plans while the table is empty and runs on once it is full.
#[tokio::test]
async fn the_budget_function_reads_its_table_by_key_as_the_table_fills() {
    use sqlx::Connection as _;
    let Some(url) = prepbot_testkit::postgres::fresh_database().await else {
        return;
    };
    let store = prepbot_core::store::Store::open_url(&url).await.unwrap();
    store.close().await;
    let mut conn = sqlx::PgConnection::connect(&url).await.unwrap();
    sqlx::query("VACUUM ANALYZE command_uses")
        .execute(&mut conn)
        .await
        .unwrap();
    let charge = "SELECT prepbot_charge_command(1, 'discord', $1, $2, 1000000, 10000, 5)";
    // Planned (and planned again, until the plan is kept) on the empty table.
    for i in 0..20i64 {
        sqlx::query(charge)
            .bind(format!("early-{i}"))
            .bind(i)
            .execute(&mut conn)
            .await
            .unwrap();
    }
    sqlx::query(
        "INSERT INTO command_uses (platform, member_id, invocation, at_ms) \
         SELECT 'discord', 'm' || g, g, 999999 FROM generate_series(1, 5000) g",
    )
    .execute(&mut conn)
    .await
    .unwrap();
    async fn seq_scans(conn: &mut sqlx::PgConnection) -> i64 {
        // This session's counts reach the shared statistics when it next goes idle.
        sqlx::query("SELECT pg_stat_force_next_flush()")
            .execute(&mut *conn)
            .await
            .unwrap();
        sqlx::query("SELECT pg_stat_clear_snapshot()")
            .execute(&mut *conn)
            .await
            .unwrap();
        sqlx::query_scalar(
            "SELECT seq_scan FROM pg_stat_user_tables WHERE relname = 'command_uses'",
        )
        .fetch_one(&mut *conn)
        .await
        .unwrap()
    }
    let before = seq_scans(&mut conn).await;
    for i in 0..20i64 {
        sqlx::query(charge)
            .bind(format!("late-{i}"))
            .bind(100 + i)
            .execute(&mut conn)
            .await
            .unwrap();
    }
    let after = seq_scans(&mut conn).await;
    assert_eq!(
        after, before,
        "sequential scans of command_uses by the function"
    );
    conn.close().await.unwrap();
}
