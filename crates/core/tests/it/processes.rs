//! Claims know their holder: a process registers with a heartbeat, its claims name
//! it, and when it is dead (gone at a restart, or its heartbeat lapsed) its claims
//! are finished at once rather than after their lease. On both backends.

use std::sync::Arc;

use chrono::Duration;
use prepbot_core::engine::DropState;
use prepbot_core::engine::schedule::Days;
use prepbot_core::practice::{LEASE, Practice, PracticeError};
use prepbot_core::process::ProcessIdentity;
use prepbot_core::scheduler::drop_now;
use prepbot_core::store::processes::{self, PROCESS_LAPSE, ProcessRow};
use prepbot_core::store::{Store, drops};
use prepbot_testkit::*;

/// Every test's first instant: a drop due at 09:00 UTC on a Monday.
const T: &str = "2026-01-05T09:00:00Z";

/// A fresh store with one channel set up the day before [`T`], daily at 09:00 in
/// `zone`, revealing after `reveal_hours`, and the (unregistered) process that set
/// it up.
struct World {
    store: Store,
    _dir: tempfile::TempDir,
    bank: Arc<prepbot_core::bank::QuestionBank>,
    practice: Practice,
    ch: prepbot_core::store::channels::Channel,
}

async fn world(zone: &str, reveal_hours: u32) -> World {
    let (store, _dir) = fresh_store().await;
    let bank = Arc::new(small_bank(3));
    let practice = Practice::new(store.clone(), bank.clone());
    let (ch, _) = practice
        .setup_channel(
            setup("09:00", zone, Days::DAILY, reveal_hours),
            1,
            utc(T) - Duration::days(1),
        )
        .await
        .unwrap();
    World {
        store,
        _dir,
        bank,
        practice,
        ch,
    }
}

async fn the_drop(store: &Store, id: i64) -> drops::DropRecord {
    let mut conn = store.read().await.unwrap();
    drops::by_id(&mut conn, id).await.unwrap().unwrap()
}

/// A process that runs on another machine: nothing but its heartbeat tells whether
/// it is alive.
fn elsewhere(id: &str, heard_at: chrono::DateTime<chrono::Utc>) -> ProcessRow {
    ProcessRow {
        id: id.into(),
        host: "another-host".into(),
        pid: 7,
        shards: Some("0-1/4".into()),
        slack_connections: 0,
        started_at: heard_at,
        heard_at,
    }
}

/// A registered process on another machine, taking claims as `id`.
async fn process_elsewhere(
    store: &Store,
    bank: Arc<prepbot_core::bank::QuestionBank>,
    id: &str,
    at: chrono::DateTime<chrono::Utc>,
) -> Practice {
    let p = Practice::new(store.clone(), bank).with_process(ProcessIdentity {
        id: id.into(),
        host: "another-host".into(),
        pid: 7,
    });
    p.register_process(None, at).await.unwrap();
    p
}

/// A process registered on this host, with one channel (daily at 09:00 in `zone`,
/// revealing 8 hours later, set up the day before `t`) whose drop due at `t` it
/// has claimed: where a process killed in the middle of a drop leaves things.
async fn claimed_by_a_registered_process(
    zone: &str,
    t: chrono::DateTime<chrono::Utc>,
) -> (
    Store,
    tempfile::TempDir,
    Arc<prepbot_core::bank::QuestionBank>,
    Practice,
    prepbot_core::practice::ClaimedDrop,
) {
    let (store, dir) = fresh_store().await;
    let bank = Arc::new(small_bank(3));
    let before = Practice::new(store.clone(), bank.clone());
    before.register_process(None, t).await.unwrap();
    let (ch, _) = before
        .setup_channel(
            setup("09:00", zone, Days::DAILY, 8),
            1,
            t - Duration::days(1),
        )
        .await
        .unwrap();
    let claimed = before
        .claim_scheduled_drop(ch.key, t)
        .await
        .unwrap()
        .unwrap();
    (store, dir, bank, before, claimed)
}

#[tokio::test]
async fn a_restart_finishes_the_claim_its_killed_predecessor_held_at_once() {
    let t = utc(T);
    let (store, _dir, bank, before, claimed) =
        claimed_by_a_registered_process("Asia/Kolkata", t).await;
    // Killed between its claim and the post's answer: the claim names it.
    let held = the_drop(&store, claimed.drop.id).await;
    assert_eq!(held.holder.as_deref(), Some(before.process().id.as_str()));
    assert!(held.lease_until.unwrap() >= t + LEASE);

    // The next start, five seconds later, on the same host: the pid is its own, so
    // the earlier process is certainly gone, and the claim is due now, not at
    // t + LEASE.
    let after = Practice::new(store.clone(), bank);
    let t = t + Duration::seconds(5);
    let gone = after.register_process(None, t).await.unwrap();
    assert_eq!(gone.len(), 1);
    assert_eq!(gone[0].id, before.process().id);
    let out = Recording::default();
    let (report, _) = out.pass(&after, t).await;
    assert_eq!(
        report.posted.len(),
        1,
        "posted at the restart, not after the lease"
    );
    assert_eq!(
        report.posted[0].id, claimed.drop.id,
        "the same drop: same key, one message"
    );
    assert_eq!(out.drop_count(), 1);
    let posted = the_drop(&store, claimed.drop.id).await;
    assert_eq!(posted.state, DropState::Posted);
    assert_eq!(posted.holder, None, "a posted drop holds no claim");
}

#[tokio::test]
async fn another_process_takes_a_claim_over_when_its_holders_heartbeat_lapses() {
    let World {
        store,
        _dir,
        bank,
        practice: survivor,
        ch,
    } = world("UTC", 8).await;
    let t = utc(T);
    // The holder runs elsewhere: its row is all the survivor knows of it.
    let far_away = "far-away";
    let holder = process_elsewhere(&store, bank, far_away, t).await;
    let claimed = holder
        .claim_scheduled_drop(ch.key, t)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        the_drop(&store, claimed.drop.id).await.holder.as_deref(),
        Some(far_away)
    );

    let out = Recording::default();
    // Alive (heard at t): nothing is taken; the wake-up is when its heartbeat lapses,
    // well before the lease ends.
    let (report, wake) = out.pass(&survivor, t + Duration::seconds(10)).await;
    assert!(report.posted.is_empty());
    assert_eq!(wake, Some(t + PROCESS_LAPSE));
    // It beats again at t + 20 s: still its claim at t + 30 s.
    {
        let mut tx = store.write().await.unwrap();
        assert!(
            processes::beat(&mut tx, far_away, t + Duration::seconds(20))
                .await
                .unwrap()
        );
        tx.commit().await.unwrap();
    }
    let (report, wake) = out.pass(&survivor, t + PROCESS_LAPSE).await;
    assert!(
        report.posted.is_empty(),
        "a live holder's claim is left alone"
    );
    assert_eq!(wake, Some(t + Duration::seconds(20) + PROCESS_LAPSE));
    // Then it dies: one lapse after its last beat the survivor posts the drop, once.
    let (report, _) = out
        .pass(&survivor, t + Duration::seconds(20) + PROCESS_LAPSE)
        .await;
    assert_eq!(report.posted.len(), 1);
    assert_eq!(out.drop_count(), 1);
    assert!(
        t + Duration::seconds(50) < t + LEASE,
        "sooner than the lease"
    );
}

#[tokio::test]
async fn drop_on_a_claim_says_how_long_while_its_holder_lives_and_finishes_it_once_dead() {
    let World {
        store,
        _dir,
        bank,
        practice: admin,
        ch,
    } = world("Europe/Berlin", 8).await;
    let t = utc(T);
    let poster = process_elsewhere(&store, bank, "poster", t).await;
    let claimed = poster
        .claim_scheduled_drop(ch.key, t)
        .await
        .unwrap()
        .unwrap();
    let out = Recording::default();
    out.at(t + Duration::seconds(5));
    let err = drop_now(&admin, &out, ch.key, t + Duration::seconds(5))
        .await
        .unwrap_err();
    match &err {
        PracticeError::BeingPosted { within_secs } => {
            assert_eq!(*within_secs, (LEASE - Duration::seconds(5)).num_seconds());
        }
        other => panic!("expected BeingPosted, got {other:?}"),
    }
    assert!(err.is_user_error());
    assert!(err.to_string().contains("being posted right now"), "{err}");
    assert_eq!(out.drop_count(), 0);

    // Its heartbeat lapsed: /drop finishes the same drop now, once.
    out.at(t + PROCESS_LAPSE + Duration::seconds(1));
    let posted = drop_now(
        &admin,
        &out,
        ch.key,
        t + PROCESS_LAPSE + Duration::seconds(1),
    )
    .await
    .unwrap();
    assert_eq!(posted.id, claimed.drop.id);
    assert_eq!(posted.state, DropState::Posted);
    assert_eq!(out.drop_count(), 1);
    // And again: the drop is out.
    assert!(matches!(
        drop_now(&admin, &out, ch.key, t + Duration::minutes(2)).await,
        Err(PracticeError::AlreadyOut(_))
    ));
    assert_eq!(out.drop_count(), 1);
}

#[tokio::test]
async fn a_reveal_lease_of_a_dead_process_is_taken_over_at_once() {
    let (store, _dir) = fresh_store().await;
    let bank = Arc::new(small_bank(3));
    let p = Practice::new(store.clone(), bank);
    let t = utc("2026-01-05T09:00:00Z");
    let (ch, _) = p
        .setup_channel(
            setup("09:00", "UTC", Days::DAILY, 1),
            1,
            t - Duration::days(1),
        )
        .await
        .unwrap();
    let out = Recording::default();
    let (report, _) = out.pass(&p, t).await;
    let drop_id = report.posted[0].id;
    // A process (no longer registered) took the reveal lease and died mid-reveal.
    let reveal_at = t + Duration::hours(1);
    {
        let mut tx = store.write().await.unwrap();
        let lease = drops::Lease {
            holder: Some("dead-one"),
            now: reveal_at,
            until: reveal_at + LEASE,
        };
        assert_eq!(
            drops::lease_reveal(&mut tx, drop_id, lease).await.unwrap(),
            drops::LeaseTake::Taken
        );
        tx.commit().await.unwrap();
    }
    let (report, _) = out.pass(&p, reveal_at + Duration::seconds(3)).await;
    assert_eq!(
        report.revealed.len(),
        1,
        "revealed now, not after the lease"
    );
    assert_eq!(out.reveal_count(), 1);
    let _ = ch;
}

#[tokio::test]
async fn a_thread_its_poster_died_before_opening_is_opened_once_at_the_restart() {
    let t = utc(T);
    let (store, _dir, bank, before, claimed) =
        claimed_by_a_registered_process("Europe/Berlin", t).await;
    // Killed after the drop's post was recorded, before its thread was opened (on
    // Discord, the second request): the drop names it as the thread's opener.
    let posted = before
        .mark_posted(claimed.drop.id, "5000", "5000", t)
        .await
        .unwrap();
    assert_eq!(posted.state, DropState::Posted);
    assert_eq!(
        posted.thread_opener.as_deref(),
        Some(before.process().id.as_str())
    );

    // The restart on the same host knows it is gone: the thread is opened in its
    // first pass, once, and the question is not posted again.
    let after = Practice::new(store.clone(), bank);
    let t = t + Duration::seconds(5);
    after.register_process(None, t).await.unwrap();
    let out = Recording::default();
    out.pass(&after, t).await;
    assert_eq!(*out.threads.lock().unwrap(), vec![5000]);
    assert_eq!(out.drop_count(), 0);
    let open = the_drop(&store, claimed.drop.id).await;
    assert_eq!(open.thread_opener, None, "nobody is opening it any more");
    assert_eq!(open.thread_id.as_deref(), Some("5000"));
    out.pass(&after, t + Duration::seconds(1)).await;
    assert_eq!(out.threads.lock().unwrap().len(), 1, "opened once");
}

#[tokio::test]
async fn another_process_opens_a_dead_posters_thread_when_its_heartbeat_lapses() {
    let World {
        store,
        _dir,
        bank,
        practice: survivor,
        ch,
    } = world("UTC", 8).await;
    let t = utc(T);
    let far_away = "far-away";
    let poster = process_elsewhere(&store, bank, far_away, t).await;
    let claimed = poster
        .claim_scheduled_drop(ch.key, t)
        .await
        .unwrap()
        .unwrap();
    poster
        // A message id of its own: the recording numbers its posts from 5000.
        .mark_posted(claimed.drop.id, "7000", "7000", t)
        .await
        .unwrap();

    let out = Recording::default();
    // Alive (heard at t): its thread is its own business; the wake-up is when its
    // heartbeat lapses.
    let (_, wake) = out.pass(&survivor, t + Duration::seconds(10)).await;
    assert!(out.threads.lock().unwrap().is_empty());
    assert_eq!(wake, Some(t + PROCESS_LAPSE));
    // Dead: opened then, once.
    out.pass(&survivor, t + PROCESS_LAPSE).await;
    assert_eq!(*out.threads.lock().unwrap(), vec![7000]);
    assert_eq!(the_drop(&store, claimed.drop.id).await.thread_opener, None);
    // A poster that opens its own thread leaves nothing behind to open.
    let t2 = t + Duration::days(1);
    let (report, _) = out.pass(&poster, t2).await;
    assert_eq!(report.posted.len(), 1, "the next day's drop");
    let next = the_drop(&store, report.posted[0].id).await;
    assert_eq!(next.thread_opener, None);
    assert_eq!(out.threads.lock().unwrap().len(), 2);
    let (_, wake) = out.pass(&survivor, t2 + PROCESS_LAPSE).await;
    assert_eq!(out.threads.lock().unwrap().len(), 2);
    assert_eq!(
        wake,
        Some(next.reveal_due_at),
        "nothing due before the reveal"
    );
}

#[tokio::test]
async fn a_failed_post_waiting_to_retry_keeps_its_backoff() {
    let World {
        store,
        _dir,
        bank,
        practice: p,
        ch,
    } = world("UTC", 8).await;
    let t = utc(T);
    let claimed = p.claim_scheduled_drop(ch.key, t).await.unwrap().unwrap();
    let retry_at = t + Duration::minutes(5);
    {
        let mut tx = store.write().await.unwrap();
        drops::record_failure(&mut tx, claimed.drop.id, "HTTP 503", Some(retry_at))
            .await
            .unwrap();
        tx.commit().await.unwrap();
    }
    let waiting = the_drop(&store, claimed.drop.id).await;
    assert_eq!(
        waiting.holder, None,
        "nobody works on a drop waiting to retry"
    );
    // Another process (no holder to judge) must wait for the retry instant.
    let other = Practice::new(store.clone(), bank);
    let out = Recording::default();
    let (report, wake) = out.pass(&other, t + Duration::minutes(1)).await;
    assert!(report.posted.is_empty());
    assert_eq!(wake, Some(retry_at));
    let (report, _) = out.pass(&other, retry_at).await;
    assert_eq!(report.posted.len(), 1);
}

#[tokio::test]
async fn processes_register_beat_and_retire_and_status_lists_them_with_their_claims() {
    let (store, _dir) = fresh_store().await;
    let bank = Arc::new(small_bank(3));
    let p = Practice::new(store.clone(), bank);
    let t = utc("2026-01-05T09:00:00Z");
    {
        let mut tx = store.write().await.unwrap();
        // Lapsed long ago: removed by the next registration.
        processes::register(&mut tx, &elsewhere("ancient", t - Duration::hours(1)))
            .await
            .unwrap();
        processes::register(&mut tx, &elsewhere("nearby", t))
            .await
            .unwrap();
        tx.commit().await.unwrap();
    }
    let gone = p.register_process(Some("2-3/4"), t).await.unwrap();
    assert_eq!(
        gone.iter().map(|g| g.id.as_str()).collect::<Vec<_>>(),
        ["ancient"]
    );
    let (ch, _) = p
        .setup_channel(
            setup("09:00", "UTC", Days::DAILY, 8),
            1,
            t - Duration::days(1),
        )
        .await
        .unwrap();
    let claimed = p.claim_scheduled_drop(ch.key, t).await.unwrap().unwrap();

    let report = prepbot_core::status::report(&store, t + Duration::seconds(4))
        .await
        .unwrap();
    let me = &p.process().id[..8];
    let mine = report
        .lines()
        .find(|l| l.contains(me))
        .unwrap_or_else(|| panic!("no line for this process in:\n{report}"));
    assert!(mine.contains("Discord shards 2-3/4"), "{mine}");
    assert!(mine.contains("alive (heard 4 s ago)"), "{mine}");
    assert!(
        mine.contains(&format!(
            "holds drop {} (2026-01-05, posting",
            claimed.drop.id
        )),
        "{mine}"
    );
    assert!(
        report.contains("nearby on another-host (pid 7), Discord shards 0-1/4"),
        "{report}"
    );
    assert!(!report.contains("ancient"), "{report}");

    // A beat moves heard_at; a row another process removed comes back.
    assert!(
        !p.heartbeat(Some("2-3/4"), t, t + Duration::seconds(10))
            .await
            .unwrap()
    );
    {
        let mut tx = store.write().await.unwrap();
        processes::remove(&mut tx, &p.process().id).await.unwrap();
        tx.commit().await.unwrap();
    }
    assert!(
        p.heartbeat(Some("2-3/4"), t, t + Duration::seconds(20))
            .await
            .unwrap()
    );
    let rows = p.processes().await.unwrap();
    let row = rows.iter().find(|r| r.id == p.process().id).unwrap();
    assert_eq!(row.heard_at, t + Duration::seconds(20));
    assert_eq!(row.started_at, t);

    // Retired at a clean shutdown: the claim it held is listed as left behind.
    p.retire_process().await.unwrap();
    let report = prepbot_core::status::report(&store, t + Duration::seconds(30))
        .await
        .unwrap();
    assert!(!report.contains(&format!("{me} on")), "{report}");
    assert!(
        report.contains(&format!(
            "drop {} (2026-01-05, channel {}), held by {me}",
            claimed.drop.id, ch.key
        )),
        "{report}"
    );
}

#[tokio::test]
async fn a_process_whose_shards_overlap_a_live_ones_is_refused_and_fits_once_that_one_lapses() {
    let (store, _dir) = fresh_store().await;
    let p = Practice::new(store.clone(), Arc::new(small_bank(3)));
    let t = utc("2026-01-05T09:00:00Z");
    {
        let mut tx = store.write().await.unwrap();
        // Serves shards 0-1 of 4.
        processes::register(&mut tx, &elsewhere("first", t))
            .await
            .unwrap();
        tx.commit().await.unwrap();
    }
    let err = p.register_process(Some("1-2/4"), t).await.unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, PracticeError::ShardConflict(_)), "{err:?}");
    assert!(
        text.contains("shards 1-2 of this process overlap shards 0-1"),
        "{text}"
    );
    assert!(
        text.contains("first on another-host, pid 7, PREPBOT_SHARDS=0-1/4"),
        "{text}"
    );
    let err = p.register_process(Some("2-3/8"), t).await.unwrap_err();
    assert!(
        err.to_string()
            .contains("this process has 8 shards in total and another has 4"),
        "{err}"
    );
    assert!(
        !p.processes()
            .await
            .unwrap()
            .iter()
            .any(|r| r.id == p.process().id),
        "a refused process is not registered"
    );
    // The rest of the shards fit; and once the first one's heartbeat lapsed, so
    // does the overlapping range.
    p.register_process(Some("2-3/4"), t).await.unwrap();
    let later =
        Practice::new(store.clone(), Arc::new(small_bank(3))).with_process(ProcessIdentity {
            id: "later".into(),
            host: "third-host".into(),
            pid: 9,
        });
    later
        .register_process(Some("0-1/4"), t + PROCESS_LAPSE)
        .await
        .unwrap();
}

/// On PostgreSQL a pass skips a due reveal whose row another process has locked
/// (taking the same lease at that instant) and looks again a second later, when
/// the row names the holder: then the reveal is that process's, and the pass waits
/// for it rather than revealing twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pass_that_skips_a_lease_being_taken_looks_again_a_second_later() {
    let (a, b, _dir) = two_stores_on_one_database().await;
    if !a.is_postgres() {
        // SQLite's one writer at a time: a pass waits its turn instead.
        return;
    }
    let bank = Arc::new(small_bank(3));
    let t = utc(T);
    let other = process_elsewhere(&a, bank.clone(), "other", t).await;
    let (ch, _) = other
        .setup_channel(
            setup("09:00", "UTC", Days::DAILY, 1),
            1,
            t - Duration::days(1),
        )
        .await
        .unwrap();
    let out = Recording::default();
    let (report, _) = out.pass(&other, t).await;
    let drop_id = report.posted[0].id;
    let reveal_at = t + Duration::hours(1);
    // The other process is taking the reveal's lease right now.
    {
        let mut tx = a.write().await.unwrap();
        assert!(processes::beat(&mut tx, "other", reveal_at).await.unwrap());
        tx.commit().await.unwrap();
    }
    let mut taking = a.lease_write().await.unwrap();
    let lease = drops::Lease {
        holder: Some("other"),
        now: reveal_at,
        until: reveal_at + LEASE,
    };
    assert_eq!(
        drops::lease_reveal(&mut taking, drop_id, lease)
            .await
            .unwrap(),
        drops::LeaseTake::Taken
    );
    let here = Practice::new(b, bank);
    let (report, wake) = out.pass(&here, reveal_at).await;
    assert!(report.revealed.is_empty());
    assert_eq!(wake, Some(reveal_at + Duration::seconds(1)));
    taking.commit().await.unwrap();
    // A second later the lease is the other's, alive: wait for its heartbeat to
    // lapse, no sooner.
    let (report, wake) = out.pass(&here, reveal_at + Duration::seconds(1)).await;
    assert!(report.revealed.is_empty());
    assert_eq!(out.reveal_count(), 0);
    assert_eq!(wake, Some(reveal_at + PROCESS_LAPSE));
    let _ = ch;
}

/// Slack allows an app 10 Socket Mode connections in all: a process whose
/// connections would take the live processes' past that refuses to start, naming
/// them; one that fits starts; a process without Slack is not counted.
#[tokio::test]
async fn a_process_whose_slack_connections_go_past_the_apps_limit_is_refused() {
    let (store, _dir) = fresh_store().await;
    let bank = Arc::new(small_bank(1));
    let t = utc(T);
    // Each on a host of its own: nothing but the heartbeat tells it is gone.
    let at = |id: &str, connections: u32| {
        Practice::new(store.clone(), bank.clone())
            .with_process(ProcessIdentity {
                id: id.into(),
                host: format!("host-{id}"),
                pid: 7,
            })
            .with_slack_connections(connections)
    };
    at("first-process", 4)
        .register_process(None, t)
        .await
        .unwrap();
    at("second-process", 4)
        .register_process(None, t)
        .await
        .unwrap();
    // Discord only: nothing of Slack's taken.
    at("discord-only", 0)
        .register_process(None, t)
        .await
        .unwrap();
    let err = at("third-process", 3)
        .register_process(None, t)
        .await
        .unwrap_err();
    assert!(
        matches!(err, PracticeError::TooManySlackConnections(_)),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "PREPBOT_SLACK_CONNECTIONS does not fit the processes already running: Slack allows an app 10 Socket Mode connections across all its processes; the running processes hold 8 (process first-pr on host-first-process, pid 7: 4; process second-p on host-second-process, pid 7: 4), and this one's 3 would make 11: lower PREPBOT_SLACK_CONNECTIONS (processes x connections <= 10); a stopped process's registration lapses 30 s after its last heartbeat"
    );
    // Exactly the limit fits; `prepbot status` says who holds how many.
    at("third-process", 2)
        .register_process(None, t)
        .await
        .unwrap();
    let report = prepbot_core::status::report(&store, t).await.unwrap();
    assert!(
        report.contains("third-pr on host-third-process (pid 7), 2 Slack connections: started"),
        "{report}"
    );
    assert!(
        report.contains("discord- on host-discord-only (pid 7): started"),
        "{report}"
    );
    // Once the others' heartbeats lapse, their connections are free again.
    at("fourth-process", 8)
        .register_process(None, t + PROCESS_LAPSE)
        .await
        .unwrap();
}
