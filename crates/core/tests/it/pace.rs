//! A shared rate's schedule (`paces`): the slots processes reserve from one row never
//! overlap, and time nobody used is not saved up. On both backends; the rate measured
//! end to end, two processes sending at once, is prepbot-discord's pacer test.

use std::time::Duration;

use prepbot_core::store::paces;
use prepbot_testkit::*;

/// Two processes (two stores) reserving three slots at a time, forty times each,
/// all at once: every slot handed out is at least one interval after the one
/// before, whoever took it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slots_reserved_from_two_processes_at_once_never_overlap() {
    let (a, b, _dir) = two_stores_on_one_database().await;
    let interval = Duration::from_millis(1);
    let mut tasks = Vec::new();
    for store in [a.clone(), b.clone()] {
        for _ in 0..40 {
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                let mut conn = store.autocommit().await.unwrap();
                paces::reserve(&mut conn, "test", 3, interval)
                    .await
                    .unwrap()
            }));
        }
    }
    let mut firsts = Vec::new();
    for task in tasks {
        let r = task.await.unwrap();
        assert!(
            r.first_us >= r.now_us,
            "a slot before the database's now: {r:?}"
        );
        firsts.push(r.first_us);
    }
    firsts.sort();
    for pair in firsts.windows(2) {
        assert!(
            pair[1] - pair[0] >= 3 * 1_000,
            "two reservations overlap: {} and {} µs",
            pair[0],
            pair[1]
        );
    }
    a.close().await;
    b.close().await;
}

#[tokio::test]
async fn an_idle_rate_saves_nothing_up_and_a_busy_one_queues_slots_behind_each_other() {
    let (store, _dir) = fresh_store().await;
    let interval = Duration::from_millis(20);
    let reserve = |count| {
        let store = store.clone();
        async move {
            let mut conn = store.autocommit().await.unwrap();
            paces::reserve(&mut conn, "test", count, interval)
                .await
                .unwrap()
        }
    };
    // The first slot of an idle rate is now.
    let first = reserve(5).await;
    assert_eq!(first.first_us, first.now_us);
    // Right after, the next five follow the first five.
    let second = reserve(5).await;
    assert_eq!(second.first_us, first.first_us + 5 * 20_000);
    assert!(second.first_us > second.now_us);
    // Once those ten slots have passed unused, the next is now again, not a burst
    // of the slots nobody took.
    tokio::time::sleep(Duration::from_millis(250)).await;
    let later = reserve(1).await;
    assert_eq!(later.first_us, later.now_us);
    assert!(later.first_us >= second.first_us + 5 * 20_000);
    store.close().await;
}
