//! The answer writer: events committed in batches, results only after the commit,
//! one bad event never costing the others, and the same outcome whatever the order
//! of a message's events, within one batch or across several.

use std::path::PathBuf;
use std::time::Duration;

use chrono::DateTime;
use chrono::Utc;
use prepbot_core::engine::schedule::Days;
use prepbot_core::ingest::AnswerWriter;
use prepbot_core::practice::{AnswerEvent, AnswerOutcome, Practice, PracticeError};
use prepbot_core::store::answers::{self, StoredAnswer};
use prepbot_core::store::{StoreError, WriteTx};
use prepbot_testkit::*;
use sqlx::{Connection, SqliteConnection};
use tokio::task::JoinHandle;

/// A practice with one posted drop, on the backend under test; returns it, the
/// drop's thread and the database file (SQLite: for "another process").
async fn open_drop() -> (Practice, u64, PathBuf, tempfile::TempDir) {
    open_drop_on(practice_with(small_bank(2)).await).await
}

/// [`open_drop`] on SQLite, for faults injected through SQLite itself (a trigger,
/// a capped file).
async fn open_sqlite_drop() -> (Practice, u64, PathBuf, tempfile::TempDir) {
    open_drop_on(practice_with_sqlite(small_bank(2)).await).await
}

async fn open_drop_on(
    (p, dir): (Practice, tempfile::TempDir),
) -> (Practice, u64, PathBuf, tempfile::TempDir) {
    let out = Recording::default();
    p.setup_channel(
        setup("09:00", "UTC", Days::DAILY, 8),
        1,
        utc("2026-01-05T00:00:00Z"),
    )
    .await
    .unwrap();
    let (report, _) = out.pass(&p, utc("2026-01-05T09:00:00Z")).await;
    let thread = id(report.posted[0].thread_id.as_deref().unwrap());
    let file = dir.path().join("prepbot.db");
    (p, thread, file, dir)
}

/// Another connection holding the database's write lock (a write transaction:
/// SQLite's `BEGIN IMMEDIATE`, PostgreSQL's advisory write lock) until released.
async fn hold_write_lock(p: &Practice) -> WriteTx {
    p.store().write().await.unwrap()
}

async fn release(other: WriteTx) {
    other.rollback().await.unwrap();
}

fn posted(thread: u64, id: u64) -> AnswerEvent {
    AnswerEvent::Posted(message(thread, id, id % 7 + 1, at(10, 0)))
}

fn at(h: u32, m: u32) -> DateTime<Utc> {
    utc(&format!("2026-01-05T{h:02}:{m:02}:00Z"))
}

async fn stored(p: &Practice, message: u64) -> Option<StoredAnswer> {
    let key = key(p, CHANNEL).await;
    let mut conn = p.store().read().await.unwrap();
    answers::get(&mut conn, key, &message.to_string())
        .await
        .unwrap()
}

fn spawn_submit(
    w: &AnswerWriter,
    event: AnswerEvent,
) -> JoinHandle<Result<AnswerOutcome, PracticeError>> {
    let w = w.clone();
    tokio::spawn(async move { w.submit(event).await })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_answers_share_commits() {
    let (p, thread, _file, _dir) = open_drop().await;
    let (w, task) = AnswerWriter::start(p.clone());
    let submitters = 64u64;
    let each = 20u64;
    let handles: Vec<_> = (0..submitters)
        .map(|s| {
            let w = w.clone();
            tokio::spawn(async move {
                for i in 0..each {
                    let id = 1000 + s * each + i;
                    let r = w.submit(posted(thread, id)).await.unwrap();
                    assert!(r.recorded().is_some_and(|r| r.new && r.on_time));
                }
            })
        })
        .collect();
    for h in handles {
        h.await.unwrap();
    }
    let stats = w.stats();
    let items = submitters * each;
    assert_eq!(stats.batched_events, items);
    assert!(
        stats.batches < items,
        "{items} answers took {} transactions",
        stats.batches
    );
    assert!(stats.largest_batch > 1, "{stats:?}");
    assert_eq!(stats.split_batches, 0);
    for id in [1000, 1000 + items - 1] {
        assert!(stored(&p, id).await.is_some());
    }
    task.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_queued_behind_a_lock_go_out_in_one_commit_and_only_after_it() {
    let (p, thread, _file, _dir) = open_drop().await;
    let (w, task) = AnswerWriter::start(p.clone());
    let lock = hold_write_lock(&p).await;
    let handles: Vec<_> = (0..200u64)
        .map(|id| {
            let (w, p) = (w.clone(), p.clone());
            tokio::spawn(async move {
                let r = w.submit(posted(thread, id)).await.unwrap();
                // The result comes after the commit: another connection sees the row.
                let row = stored(&p, id).await;
                (r, row)
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(
        handles.iter().all(|h| !h.is_finished()),
        "no result while the answers cannot be committed"
    );
    assert!(stored(&p, 0).await.is_none());
    release(lock).await;
    for (id, h) in handles.into_iter().enumerate() {
        let (r, row) = tokio::time::timeout(Duration::from_secs(10), h)
            .await
            .expect("every result arrives once the lock is gone")
            .unwrap();
        assert!(r.recorded().is_some_and(|r| r.new), "answer {id}: {r:?}");
        assert_eq!(row.map(|a| a.body), Some(format!("answer {id}")));
    }
    let stats = w.stats();
    assert_eq!(stats.batched_events, 200);
    assert!(stats.batches <= 3, "{stats:?}");
    assert!(stats.largest_batch >= 100, "{stats:?}");
    task.stop().await;
}

/// `queue`: the caller goes on once the event is queued, waiting only for room; the
/// callback runs after the commit. This is what the Discord adapter's events use.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queued_answers_hear_their_outcome_after_the_commit_and_wait_only_for_room() {
    let (p, thread, _file, _dir) = open_drop().await;
    let capacity = 4;
    let (w, task) = AnswerWriter::start_with(p.clone(), 256, capacity);
    let lock = hold_write_lock(&p).await;
    let (heard_tx, mut heard) = tokio::sync::mpsc::unbounded_channel();
    let queue = |id: u64| {
        let (w, heard_tx) = (w.clone(), heard_tx.clone());
        tokio::spawn(async move {
            w.queue(posted(thread, id), move |outcome| {
                let _ = heard_tx.send((id, outcome));
            })
            .await
        })
    };
    // The writer takes one event and waits for the lock; `capacity` more fill the
    // queue and their callers go on at once; the rest wait for room.
    let total = capacity as u64 + 4;
    let handles: Vec<_> = (0..total).map(queue).collect();
    let finished = |hs: &[JoinHandle<Result<(), PracticeError>>]| {
        hs.iter().filter(|h| h.is_finished()).count()
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while finished(&handles) < capacity {
        assert!(std::time::Instant::now() < deadline, "callers went on");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let queued = finished(&handles);
    assert!(
        (capacity..=capacity + 1).contains(&queued),
        "{queued} callers went on: a full queue holds the rest back"
    );
    assert!(heard.try_recv().is_err(), "no outcome before the commit");
    release(lock).await;
    for h in handles {
        tokio::time::timeout(Duration::from_secs(10), h)
            .await
            .expect("queued once there is room")
            .unwrap()
            .unwrap();
    }
    let mut ids = Vec::new();
    while ids.len() < capacity + 4 {
        let (id, outcome) = tokio::time::timeout(Duration::from_secs(10), heard.recv())
            .await
            .expect("every outcome is heard")
            .unwrap();
        let outcome = outcome.unwrap();
        assert!(
            outcome.recorded().is_some_and(|r| r.new),
            "{id}: {outcome:?}"
        );
        // Heard after the commit: another connection sees the row.
        assert_eq!(
            stored(&p, id).await.map(|a| a.body),
            Some(format!("answer {id}"))
        );
        ids.push(id);
    }
    ids.sort();
    assert_eq!(ids, (0..capacity as u64 + 4).collect::<Vec<_>>());
    task.stop().await;
    let late = w.queue(posted(thread, 99), |_| panic!("not run")).await;
    assert!(
        matches!(late, Err(PracticeError::WriterStopped)),
        "{late:?}"
    );
    assert!(stored(&p, 99).await.is_none());
}

/// `reserve`: a held place is one of the queue's, given back when dropped unused;
/// an event queued in it is written like any other; once the writer has stopped
/// there is no place to hold. This is how the adapters queue a burst's events.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reserved_place_holds_room_in_the_queue_until_used_or_dropped() {
    let (p, thread, _file, _dir) = open_drop().await;
    let (w, task) = AnswerWriter::start_with(p.clone(), 256, 1);
    let lock = hold_write_lock(&p).await;
    // The writer takes the first event and waits for the lock; the queue's one
    // place then goes to `held`.
    w.queue(posted(thread, 1), |_| {}).await.unwrap();
    let held = loop {
        match tokio::time::timeout(Duration::from_millis(50), w.reserve()).await {
            Ok(slot) => break slot.unwrap(),
            // The writer has not taken event 1 off the queue yet.
            Err(_) => continue,
        }
    };
    let waiting = tokio::time::timeout(Duration::from_millis(300), w.reserve()).await;
    assert!(
        waiting.is_err(),
        "a second place while the only one is held"
    );
    drop(held);
    let again = tokio::time::timeout(Duration::from_secs(10), w.reserve())
        .await
        .expect("a place dropped unused is given back")
        .unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel();
    again.queue(posted(thread, 2), move |outcome| {
        let _ = tx.send(outcome);
    });
    release(lock).await;
    let outcome = tokio::time::timeout(Duration::from_secs(10), rx)
        .await
        .expect("the event queued in the place is written")
        .unwrap()
        .unwrap();
    assert!(outcome.recorded().is_some_and(|r| r.new), "{outcome:?}");
    assert_eq!(
        stored(&p, 2).await.map(|a| a.body),
        Some("answer 2".to_string())
    );
    task.stop().await;
    assert!(matches!(
        w.reserve().await.err(),
        Some(PracticeError::WriterStopped)
    ));
}

/// A callback that panics costs nothing but itself: the writer goes on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_callback_does_not_stop_the_writer() {
    let (p, thread, _file, _dir) = open_drop().await;
    let (w, task) = AnswerWriter::start(p.clone());
    w.queue(posted(thread, 1), |_| panic!("a callback's bug"))
        .await
        .unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel();
    w.queue(posted(thread, 2), move |outcome| {
        let _ = tx.send(outcome);
    })
    .await
    .unwrap();
    let outcome = tokio::time::timeout(Duration::from_secs(10), rx)
        .await
        .expect("the next callback runs")
        .unwrap()
        .unwrap();
    assert!(outcome.recorded().is_some_and(|r| r.new), "{outcome:?}");
    assert!(
        stored(&p, 1).await.is_some(),
        "the first answer was written"
    );
    assert!(w.submit(posted(thread, 3)).await.is_ok());
    task.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_failing_answer_does_not_lose_the_others_in_its_batch() {
    // ABORT fails one statement; ROLLBACK makes SQLite roll the whole transaction
    // back under the writer's feet.
    for (round, action) in ["ABORT", "ROLLBACK"].into_iter().enumerate() {
        let (p, thread, file, _dir) = open_sqlite_drop().await;
        let bad = 13u64;
        {
            let mut conn = SqliteConnection::connect(&format!("sqlite://{}", file.display()))
                .await
                .unwrap();
            sqlx::query(&format!(
                "CREATE TRIGGER fail_one BEFORE INSERT ON answers WHEN NEW.message_id = '{bad}' \
                 BEGIN SELECT RAISE({action}, 'injected failure'); END"
            ))
            .execute(&mut conn)
            .await
            .unwrap();
        }
        let (w, task) = AnswerWriter::start(p.clone());
        let lock = hold_write_lock(&p).await;
        let handles: Vec<_> = (0..40u64)
            .map(|id| (id, spawn_submit(&w, posted(thread, id))))
            .collect();
        tokio::time::sleep(Duration::from_millis(300)).await;
        release(lock).await;
        for (id, h) in handles {
            let r = h.await.unwrap();
            if id == bad {
                let err = r.expect_err("the bad answer fails");
                assert!(
                    matches!(err, PracticeError::Store(StoreError::Sql(_))),
                    "{err:?}"
                );
                assert!(err.to_string().contains("injected failure"), "{err}");
                assert!(stored(&p, id).await.is_none());
            } else {
                assert!(
                    r.unwrap().recorded().is_some_and(|r| r.new),
                    "round {round}, answer {id}"
                );
                assert!(stored(&p, id).await.is_some(), "answer {id} is stored");
            }
        }
        assert!(w.stats().split_batches >= 1, "{:?}", w.stats());
        // The writer goes on as usual afterwards.
        let r = w.submit(posted(thread, 100)).await.unwrap();
        assert!(r.recorded().is_some_and(|r| r.new));
        task.stop().await;
    }
}

/// The events of one message, in the order given.
fn events_for(thread: u64, id: u64, kinds: &[&str]) -> Vec<AnswerEvent> {
    let mut original = message(thread, id, 5, at(10, 0));
    original.body = "original".into();
    let mut edited = original.clone();
    edited.body = "edited".into();
    kinds
        .iter()
        .map(|k| match *k {
            "create" => AnswerEvent::Posted(original.clone()),
            "edit" => AnswerEvent::Edited {
                message: edited.clone(),
                edited_at: at(10, 5),
            },
            "partial edit" => AnswerEvent::EditedText {
                thread: prepbot_testkit::thread(thread),
                message_id: id.to_string(),
                body: "edited".into(),
                edited_at: at(10, 5),
            },
            "delete" => AnswerEvent::Deleted {
                thread: prepbot_testkit::thread(thread),
                message_id: id.to_string(),
                at: at(10, 10),
            },
            // Slack's: the channel and the message, no thread.
            "channel edit" => AnswerEvent::EditedInChannel {
                channel: address(GUILD, CHANNEL),
                message_id: id.to_string(),
                posted_at: at(10, 0),
                body: "edited".into(),
                edited_at: at(10, 5),
            },
            "channel delete" => AnswerEvent::DeletedInChannel {
                channel: address(GUILD, CHANNEL),
                message_id: id.to_string(),
                posted_at: at(10, 0),
                at: at(10, 10),
            },
            other => panic!("unknown event {other}"),
        })
        .collect()
}

fn permutations(items: &[&'static str]) -> Vec<Vec<&'static str>> {
    if items.len() <= 1 {
        return vec![items.to_vec()];
    }
    let mut out = Vec::new();
    for i in 0..items.len() {
        let mut rest = items.to_vec();
        let first = rest.remove(i);
        for mut p in permutations(&rest) {
            p.insert(0, first);
            out.push(p);
        }
    }
    out
}

fn shape(a: &StoredAnswer) -> (String, bool, bool) {
    (
        a.body.clone(),
        a.edited_at.is_some(),
        a.withdrawn_at.is_some(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_messages_events_in_any_order_give_the_same_answer_in_one_batch_or_many() {
    let (p, thread, _file, _dir) = open_drop().await;
    let (w, task) = AnswerWriter::start(p.clone());
    let mut next_id = 10_000u64;
    for set in [
        vec!["create", "edit", "delete"],
        vec!["create", "partial edit"],
        vec!["create", "partial edit", "delete"],
        vec!["create", "edit", "partial edit"],
        vec!["create", "channel edit"],
        vec!["create", "channel edit", "channel delete"],
        vec!["create", "edit", "channel delete"],
    ] {
        for order in permutations(&set) {
            let (direct, apart, together) = (next_id, next_id + 1, next_id + 2);
            next_id += 3;
            // The reference: one transaction per event, straight through the practice layer.
            for e in events_for(thread, direct, &order) {
                p.apply(&e).await.unwrap();
            }
            // One batch per event.
            for e in events_for(thread, apart, &order) {
                w.submit(e).await.unwrap();
            }
            let before = w.stats().batches;
            // All in one batch: queued, in order, behind a lock.
            let lock = hold_write_lock(&p).await;
            let mut handles = Vec::new();
            for e in events_for(thread, together, &order) {
                handles.push(spawn_submit(&w, e));
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            release(lock).await;
            for h in handles {
                h.await.unwrap().unwrap();
            }
            assert_eq!(
                w.stats().batches,
                before + 1,
                "{order:?} went out in one batch"
            );

            let reference = shape(&stored(&p, direct).await.unwrap());
            for id in [apart, together] {
                let got = shape(&stored(&p, id).await.unwrap());
                assert_eq!(got, reference, "{order:?}, message {id}");
            }
            // The rules themselves: a delete withdraws whatever its place; without
            // one, the edit's text wins whatever its place.
            let (body, edited, withdrawn) = reference;
            assert_eq!(
                withdrawn,
                set.iter().any(|k| k.ends_with("delete")),
                "{order:?}"
            );
            if !withdrawn {
                assert_eq!((body.as_str(), edited), ("edited", true), "{order:?}");
            }
        }
    }
    task.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stopping_writes_what_is_queued_then_refuses_more() {
    let (p, thread, _file, _dir) = open_drop().await;
    let (w, task) = AnswerWriter::start(p.clone());
    let lock = hold_write_lock(&p).await;
    let handles: Vec<_> = (0..10u64)
        .map(|id| spawn_submit(&w, posted(thread, id)))
        .collect();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let stopping = tokio::spawn(task.stop());
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        !stopping.is_finished(),
        "the stop waits for the queued answers"
    );
    release(lock).await;
    tokio::time::timeout(Duration::from_secs(10), stopping)
        .await
        .expect("the writer stops")
        .unwrap();
    for (id, h) in handles.into_iter().enumerate() {
        assert!(h.await.unwrap().is_ok(), "answer {id}");
        assert!(stored(&p, id as u64).await.is_some());
    }
    let late = w.submit(posted(thread, 99)).await;
    assert!(
        matches!(late, Err(PracticeError::WriterStopped)),
        "{late:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_a_full_database_every_answer_is_either_stored_or_told_it_was_not() {
    let (p, thread, file, _dir) = open_sqlite_drop().await;
    p.store().close().await;
    // The same database, unable to grow: a batch of long answers fills it mid-way.
    let store = prepbot_core::store::Store::open_path_capped(&file, Duration::from_secs(5), 1)
        .await
        .unwrap();
    let capped = Practice::new(store.clone(), std::sync::Arc::new(small_bank(2)));
    let (w, task) = AnswerWriter::start(capped.clone());
    let lock = hold_write_lock(&capped).await;
    let handles: Vec<_> = (0..60u64)
        .map(|id| {
            let mut m = message(thread, id, id + 1, at(10, 0));
            m.body = format!("{id} {}", "x".repeat(3_000));
            (id, spawn_submit(&w, AnswerEvent::Posted(m)))
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(300)).await;
    release(lock).await;
    let mut refused = 0;
    for (id, h) in handles {
        match h.await.unwrap() {
            Ok(r) => {
                assert!(r.recorded().is_some_and(|r| r.new));
                assert!(
                    stored(&capped, id).await.is_some(),
                    "answer {id} said stored"
                );
            }
            Err(e) => {
                assert!(matches!(e, PracticeError::Store(StoreError::Full)), "{e:?}");
                assert!(
                    stored(&capped, id).await.is_none(),
                    "answer {id} said not stored"
                );
                refused += 1;
            }
        }
    }
    assert!(refused > 0, "the database filled up");
    assert!(w.stats().split_batches >= 1, "{:?}", w.stats());
    task.stop().await;
    store.close().await;
}

/// A channel whose first drop (2026-01-05) is revealed and whose second is open;
/// returns the two threads. Message 500 is stored in the open one, and message 502
/// was deleted there before its create arrived.
async fn revealed_and_open() -> (Practice, u64, u64, PathBuf, tempfile::TempDir) {
    let (p, revealed, file, dir) = open_drop().await;
    let out = Recording::default();
    // Message ids after the first drop's (the first recording numbered it).
    out.next_id.store(100, std::sync::atomic::Ordering::SeqCst);
    out.pass(&p, utc("2026-01-05T17:00:00Z")).await;
    let (report, _) = out.pass(&p, utc("2026-01-06T09:00:00Z")).await;
    let open = id(report.posted[0].thread_id.as_deref().unwrap());
    p.record_message(message(open, 500, 1, utc("2026-01-06T09:30:00Z")))
        .await
        .unwrap();
    p.withdraw_in_thread(&thread(open), "502", utc("2026-01-06T09:40:00Z"))
        .await
        .unwrap();
    (p, revealed, open, file, dir)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mixed_batch_gives_what_one_transaction_per_event_gives() {
    let (reference, revealed, open, _f1, _d1) = revealed_and_open().await;
    let (p, revealed2, open2, _file, _d2) = revealed_and_open().await;
    assert_eq!((revealed, open), (revealed2, open2));
    let at = utc("2026-01-06T10:00:00Z");
    let mut edited = message(open, 500, 1, utc("2026-01-06T09:30:00Z"));
    edited.body = "edited".into();
    let events = vec![
        // New, in the open drop.
        AnswerEvent::Posted(message(open, 501, 1, at)),
        // On time for the revealed drop (its event raced the reveal): settles.
        AnswerEvent::Posted(message(revealed, 600, 2, utc("2026-01-05T16:00:00Z"))),
        // Not a drop's thread.
        AnswerEvent::Posted(message(999, 700, 2, at)),
        // A replayed create, then a whole edit of the same message.
        AnswerEvent::Posted(message(open, 500, 1, utc("2026-01-06T09:30:00Z"))),
        AnswerEvent::Edited {
            message: edited,
            edited_at: at,
        },
        // Its delete came first.
        AnswerEvent::Posted(message(open, 502, 3, at)),
        // A delete of a message stored earlier in this batch.
        AnswerEvent::Deleted {
            thread: thread(open),
            message_id: 501.to_string(),
            at,
        },
        AnswerEvent::Posted(message(open, 503, 4, at)),
    ];
    let mut expected = Vec::new();
    for e in &events {
        expected.push(reference.apply(e).await.unwrap());
    }

    let (w, task) = AnswerWriter::start(p.clone());
    let lock = hold_write_lock(&p).await;
    // `queue` returns once the event is queued, so they are queued in this order.
    let (heard_tx, mut heard) = tokio::sync::mpsc::unbounded_channel();
    let n = events.len();
    for (i, e) in events.into_iter().enumerate() {
        let heard_tx = heard_tx.clone();
        w.queue(e, move |outcome| {
            let _ = heard_tx.send((i, outcome));
        })
        .await
        .unwrap();
    }
    release(lock).await;
    let mut got: Vec<Option<AnswerOutcome>> = vec![None; n];
    for _ in 0..n {
        let (i, outcome) = tokio::time::timeout(Duration::from_secs(10), heard.recv())
            .await
            .expect("every outcome is heard")
            .unwrap();
        got[i] = Some(outcome.unwrap());
    }
    let got: Vec<AnswerOutcome> = got.into_iter().map(Option::unwrap).collect();
    assert_eq!(w.stats().batches, 1, "{:?}", w.stats());
    assert_eq!(got, expected);
    for id in [500, 501, 502, 503, 600, 700] {
        assert_eq!(
            stored(&p, id).await,
            stored(&reference, id).await,
            "message {id}"
        );
    }
    assert_eq!(
        p.stored_streak(key(&p, CHANNEL).await, "2").await.unwrap(),
        reference
            .stored_streak(key(&reference, CHANNEL).await, "2")
            .await
            .unwrap()
    );
    assert!(
        p.stored_streak(key(&p, CHANNEL).await, "2")
            .await
            .unwrap()
            .is_some(),
        "the late on-time answer settled"
    );
    task.stop().await;
}

/// Slack's edits and deletes name only the channel and the message. One that
/// overtakes its create is kept for it (the create is stored edited or withdrawn);
/// one for a message older than the channel's drop, or in a channel prepbot does
/// not run, is no answer's and leaves nothing behind.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edit_known_by_channel_alone_waits_for_its_create_only_in_a_drops_time() {
    let (p, thread, _file, _dir) = open_drop().await;
    let (w, task) = AnswerWriter::start(p.clone());
    let channel_edit = |channel: u64, message: u64, posted_at| AnswerEvent::EditedInChannel {
        channel: address(GUILD, channel),
        message_id: message.to_string(),
        posted_at,
        body: "edited".into(),
        edited_at: at(10, 5),
    };
    let applied = |o: AnswerOutcome| matches!(o, AnswerOutcome::Applied(true));

    // Overtakes its create, in a batch of its own: kept, then applied by the create.
    assert!(applied(
        w.submit(channel_edit(CHANNEL, 500, at(10, 0)))
            .await
            .unwrap()
    ));
    w.submit(posted(thread, 500)).await.unwrap();
    let a = stored(&p, 500).await.expect("the create is stored");
    assert_eq!((a.body.as_str(), a.edited_at), ("edited", Some(at(10, 5))));

    // The channel's drop went out at 09:00: a message from 07:00 is chatter.
    assert!(!applied(
        w.submit(channel_edit(CHANNEL, 501, at(7, 0)))
            .await
            .unwrap()
    ));
    // A channel with no schedule.
    assert!(!applied(
        w.submit(channel_edit(CHANNEL + 50, 502, at(10, 0)))
            .await
            .unwrap()
    ));
    let key = key(&p, CHANNEL).await;
    let mut conn = p.store().read().await.unwrap();
    let early = answers::early_events(&mut conn, key, &["501", "502"])
        .await
        .unwrap();
    assert!(early.is_empty(), "nothing kept for them: {early:?}");
    drop(conn);

    // A delete that overtakes its create: the create is stored withdrawn.
    let delete = AnswerEvent::DeletedInChannel {
        channel: address(GUILD, CHANNEL),
        message_id: "503".into(),
        posted_at: at(10, 0),
        at: at(10, 10),
    };
    assert!(applied(w.submit(delete).await.unwrap()));
    let r = w.submit(posted(thread, 503)).await.unwrap();
    assert!(r.recorded().is_some_and(|r| r.new && r.withdrawn), "{r:?}");
    task.stop().await;
}

/// PostgreSQL going away under the writer (its connections closed, new ones
/// refused, as in a restart): the answers wait, nothing is reported before the
/// commit, and every one is stored once the server is back. Needs the test
/// PostgreSQL (skipped without it, except under CI).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_wait_while_postgresql_is_away_and_are_stored_once_it_is_back() {
    use prepbot_testkit::proxy::CuttableProxy;
    let Some(url) = postgres::fresh_database().await else {
        return;
    };
    let proxy = CuttableProxy::start(postgres::server(&url)).await;
    let via = postgres::via(&url, proxy.addr(), postgres::user(&url), "any");
    let store = prepbot_core::store::Store::open_url(&via).await.unwrap();
    let p = Practice::new(store, std::sync::Arc::new(small_bank(2)));
    let dir = tempfile::tempdir().unwrap();
    let (p, thread, _file, _dir) = open_drop_on((p, dir)).await;
    let (w, task) = AnswerWriter::start(p.clone());
    // One stored while all is well, so the pool holds a connection the cut kills.
    assert!(
        w.submit(posted(thread, 1))
            .await
            .unwrap()
            .recorded()
            .is_some()
    );

    proxy.cut().await;
    let handles: Vec<_> = (2..12u64)
        .map(|id| spawn_submit(&w, posted(thread, id)))
        .collect();
    // Long enough for several tries (and for the pool's wait to run out each time).
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert!(
        handles.iter().all(|h| !h.is_finished()),
        "no outcome while the database is away: not stored, not refused"
    );
    proxy.restore().await;
    for (id, h) in (2..12u64).zip(handles) {
        let r = tokio::time::timeout(Duration::from_secs(20), h)
            .await
            .expect("written once the database is back")
            .unwrap()
            .unwrap();
        assert!(r.recorded().is_some_and(|r| r.new), "answer {id}: {r:?}");
        assert_eq!(
            stored(&p, id).await.map(|a| a.body),
            Some(format!("answer {id}"))
        );
    }
    assert_eq!(w.stats().split_batches, 0, "kept whole, never split");
    task.stop().await;
}
