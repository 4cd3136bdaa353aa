//! The whole drop lifecycle through the real practice layer, store and scheduler
//! pass, with a clock the test controls and real time zones.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use chrono::{Duration, NaiveDate, Weekday};
use prepbot_core::bank::{Difficulty, PoolFilter, QuestionBank};
use prepbot_core::chat::Platform;
use prepbot_core::engine::DropState;
use prepbot_core::engine::schedule::Days;
use prepbot_core::practice::{LEASE, Practice, PracticeError};
use prepbot_core::process::ProcessIdentity;
use prepbot_core::scheduler::{PASS_CONCURRENCY, drop_now, run_due};
use prepbot_core::store::processes::PROCESS_LAPSE;
use prepbot_core::store::{Store, drops};
use prepbot_testkit::*;

async fn drop_states(store: &Store) -> Vec<(NaiveDate, DropState, Option<u32>)> {
    let mut conn = store.read().await.unwrap();
    let mut out = Vec::new();
    for state in [
        DropState::Claimed,
        DropState::Posted,
        DropState::Revealed,
        DropState::Missed,
        DropState::Failed,
    ] {
        for d in drops::in_state(&mut conn, state).await.unwrap() {
            out.push((d.local_date, d.state, d.seq));
        }
    }
    out.sort();
    out
}

fn date(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

#[tokio::test]
async fn a_day_runs_drop_answers_reveal_and_streaks() {
    let (p, _dir) = practice_with(small_bank(3)).await;
    let out = Recording::default();
    let (ch, next) = p
        .setup_channel(
            setup("09:00", "Europe/London", Days::DAILY, 8),
            1,
            utc("2026-03-02T00:00:00Z"),
        )
        .await
        .unwrap();
    assert_eq!(next.drop_at, utc("2026-03-02T09:00:00Z"));

    let t = utc("2026-03-02T08:59:59Z");
    let (report, wake) = out.pass(&p, t).await;
    assert!(report.posted.is_empty());
    assert_eq!(wake, Some(utc("2026-03-02T09:00:00Z")));

    let t = utc("2026-03-02T09:00:00Z");
    let (report, wake) = out.pass(&p, t).await;
    assert_eq!(report.posted.len(), 1);
    let drop = &report.posted[0];
    assert_eq!(drop.seq, Some(1));
    assert_eq!(drop.state, DropState::Posted);
    assert_eq!(drop.thread_id, drop.message_id);
    assert_eq!(
        wake,
        Some(utc("2026-03-02T17:00:00Z")),
        "next wake is the reveal"
    );
    let (channel, post) = out.drops.lock().unwrap()[0].clone();
    assert_eq!(channel, CHANNEL);
    assert_eq!(post.seq, 1);
    assert_eq!(post.reveal_at, utc("2026-03-02T17:00:00Z"));
    let thread = id(drop.thread_id.as_deref().unwrap());

    let a = p
        .record_message(message(thread, 1, 11, utc("2026-03-02T12:00:00Z")))
        .await
        .unwrap()
        .unwrap();
    assert!(a.on_time && a.new);
    let replay = p
        .record_message(message(thread, 1, 11, utc("2026-03-02T12:00:00Z")))
        .await
        .unwrap()
        .unwrap();
    assert!(!replay.new, "a replayed event is stored once");
    p.record_message(message(thread, 2, 12, utc("2026-03-02T16:59:59Z")))
        .await
        .unwrap();
    assert!(
        p.record_message(message(999, 3, 12, t))
            .await
            .unwrap()
            .is_none(),
        "not a drop thread"
    );

    let t = utc("2026-03-02T17:00:00Z");
    let (report, wake) = out.pass(&p, t).await;
    assert_eq!(report.revealed.len(), 1);
    assert_eq!(wake, Some(utc("2026-03-03T09:00:00Z")));
    let reveals = out.reveals.lock().unwrap().clone();
    let (_, reveal_thread, content) = &reveals[0];
    assert_eq!(
        *reveal_thread, thread,
        "the reveal goes to the drop's thread"
    );
    let summary = content.answers.lines(str::to_string).join("\n");
    assert_eq!(summary, "2 members answered on time: member11, member12.");
    let late = p
        .record_message(message(thread, 4, 13, utc("2026-03-02T17:00:01Z")))
        .await
        .unwrap()
        .unwrap();
    assert!(!late.on_time, "after the reveal is late");

    let s11 = p.streak(ch.key, "11").await.unwrap().unwrap();
    assert_eq!((s11.current, s11.best, s11.total_on_time), (1, 1, 1));
    assert!(
        p.streak(ch.key, "13").await.unwrap().is_none(),
        "late answers earn nothing"
    );
}

#[tokio::test]
async fn a_restart_after_the_drop_instant_posts_late_and_after_the_reveal_records_a_miss() {
    let (p, _dir) = practice_with(small_bank(3)).await;
    let out = Recording::default();
    let (ch, _) = p
        .setup_channel(
            setup("09:00", "America/New_York", Days::DAILY, 8),
            1,
            utc("2026-06-01T00:00:00Z"),
        )
        .await
        .unwrap();
    // Down at 09:00 EDT (13:00 UTC); back at 14:30 UTC: still before the 21:00 UTC reveal.
    let t = utc("2026-06-01T14:30:00Z");
    let (report, _) = out.pass(&p, t).await;
    assert_eq!(report.posted.len(), 1);
    assert_eq!(
        report.posted[0].reveal_due_at,
        utc("2026-06-01T21:00:00Z"),
        "the reveal time does not move"
    );
    let thread = id(report.posted[0].thread_id.as_deref().unwrap());
    p.record_message(message(thread, 1, 7, utc("2026-06-01T15:00:00Z")))
        .await
        .unwrap();
    out.pass(&p, utc("2026-06-01T21:00:00Z")).await;

    // Down for all of June 2 (drop 13:00 UTC, reveal 21:00 UTC); back on June 3 at 12:00 UTC.
    let t = utc("2026-06-03T12:00:00Z");
    let (report, wake) = out.pass(&p, t).await;
    assert!(report.posted.is_empty());
    assert_eq!(wake, Some(utc("2026-06-03T13:00:00Z")));
    let t = utc("2026-06-03T13:00:00Z");
    let (report, _) = out.pass(&p, t).await;
    assert_eq!(
        report.posted[0].seq,
        Some(2),
        "a missed drop takes no sequence number"
    );
    let thread = id(report.posted[0].thread_id.as_deref().unwrap());
    p.record_message(message(thread, 2, 7, utc("2026-06-03T14:00:00Z")))
        .await
        .unwrap();
    out.pass(&p, utc("2026-06-03T21:00:00Z")).await;

    assert_eq!(
        drop_states(p.store()).await,
        [
            (date("2026-06-01"), DropState::Revealed, Some(1)),
            (date("2026-06-02"), DropState::Missed, None),
            (date("2026-06-03"), DropState::Revealed, Some(2)),
        ]
    );
    let s = p.streak(ch.key, "7").await.unwrap().unwrap();
    assert_eq!(
        s.current, 2,
        "a drop that was never posted does not break a streak"
    );
}

#[tokio::test]
async fn two_processes_claim_a_drop_once_and_a_dead_claim_is_retried_once_its_holder_lapses() {
    let (store, _dir) = fresh_store().await;
    let bank = Arc::new(small_bank(3));
    // Two registered processes on two machines.
    let t = utc("2026-01-05T09:00:00Z");
    let on_host = |host: &str| ProcessIdentity {
        id: format!("process-on-{host}"),
        host: host.into(),
        pid: 7,
    };
    let a = Practice::new(store.clone(), bank.clone()).with_process(on_host("a"));
    let b = Practice::new(store.clone(), bank).with_process(on_host("b"));
    a.register_process(None, t).await.unwrap();
    b.register_process(None, t).await.unwrap();
    let (ch, _) = a
        .setup_channel(
            setup("09:00", "UTC", Days::DAILY, 8),
            1,
            utc("2026-01-05T00:00:00Z"),
        )
        .await
        .unwrap();
    let (first, second) = tokio::join!(
        a.claim_scheduled_drop(ch.key, t),
        b.claim_scheduled_drop(ch.key, t)
    );
    let claims = [first.unwrap(), second.unwrap()];
    assert_eq!(
        claims.iter().filter(|c| c.is_some()).count(),
        1,
        "exactly one process wins the claim"
    );
    let other = if claims[0].is_some() { &b } else { &a };

    // The winner's heartbeat (at t) holds: nothing is retried; the other process
    // wakes when it would lapse, well before the lease ends ...
    let out = Recording::default();
    let (report, wake) = out.pass(other, t + Duration::seconds(10)).await;
    assert!(report.posted.is_empty());
    assert_eq!(wake, Some(t + PROCESS_LAPSE));
    assert!(PROCESS_LAPSE < LEASE);
    // ... and, the winner having died before posting, posts the same drop, once.
    let (report, _) = out.pass(other, t + PROCESS_LAPSE).await;
    assert_eq!(report.posted.len(), 1);
    assert_eq!(report.posted[0].local_date, date("2026-01-05"));
    assert_eq!(out.drop_count(), 1);
}

/// A process's own claim (its post timed out) waits for its lease: the scheduler
/// gives up on an operation well within it, so nothing of it is still running.
#[tokio::test]
async fn a_processs_own_claim_is_retried_after_its_lease() {
    let (p, _dir) = practice_with(small_bank(3)).await;
    let (ch, _) = p
        .setup_channel(
            setup("09:00", "UTC", Days::DAILY, 8),
            1,
            utc("2026-01-05T00:00:00Z"),
        )
        .await
        .unwrap();
    let t = utc("2026-01-05T09:00:00Z");
    p.claim_scheduled_drop(ch.key, t).await.unwrap().unwrap();
    let out = Recording::default();
    let (report, wake) = out.pass(&p, t + Duration::seconds(30)).await;
    assert!(report.posted.is_empty());
    assert_eq!(wake, Some(t + LEASE));
    let (report, _) = out.pass(&p, t + LEASE).await;
    assert_eq!(report.posted.len(), 1);
    assert_eq!(out.drop_count(), 1);
}

/// Two processes (two stores, each with its own connections, on one database) run
/// the scheduler at the same instants, day after day: every drop and every reveal
/// goes out once, with one sequence number each.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_passing_at_once_post_each_drop_and_reveal_once() {
    let (store_a, store_b, _dir) = two_stores_on_one_database().await;
    let bank = Arc::new(small_bank(5));
    let a = Practice::new(store_a, bank.clone());
    let b = Practice::new(store_b, bank);
    const CHANNELS: u64 = 12;
    for ch in 0..CHANNELS {
        let mut s = setup("09:00", "Europe/Berlin", Days::DAILY, 8);
        s.address = address(GUILD, 2_000 + ch);
        a.setup_channel(s, ch, utc("2026-03-01T00:00:00Z"))
            .await
            .unwrap();
    }
    let (out_a, out_b) = (Recording::default(), Recording::default());
    // Ids apart, so the two outbounds never hand out the same message id.
    out_b.next_id.store(1_000_000, Ordering::SeqCst);
    for day in 2..5 {
        let drop_at = utc(&format!("2026-03-0{day}T08:00:00Z"));
        let reveal_at = drop_at + Duration::hours(8);
        for t in [drop_at, reveal_at] {
            tokio::join!(out_a.pass(&a, t), out_b.pass(&b, t));
        }
    }
    let days = 3;
    assert_eq!(
        out_a.drop_count() + out_b.drop_count(),
        (CHANNELS * days) as usize,
        "every drop posted once across both processes"
    );
    assert_eq!(
        out_a.reveal_count() + out_b.reveal_count(),
        (CHANNELS * days) as usize,
        "every reveal posted once"
    );
    let mut seqs: Vec<(u64, u32)> = out_a
        .drops
        .lock()
        .unwrap()
        .iter()
        .chain(out_b.drops.lock().unwrap().iter())
        .map(|(channel, post)| (*channel, post.seq))
        .collect();
    seqs.sort();
    let before = seqs.len();
    seqs.dedup();
    assert_eq!(seqs.len(), before, "no sequence number twice in a channel");
}

/// An outbound that posts one drop at a time, each taking `each` (as the REST
/// client's pacer spaces them at the rate limit), recorded in `inner`.
struct OneAtATime {
    inner: Recording,
    each: std::time::Duration,
    turn: tokio::sync::Mutex<()>,
}

impl OneAtATime {
    fn new(each: std::time::Duration) -> Self {
        OneAtATime {
            inner: Recording::default(),
            each,
            turn: tokio::sync::Mutex::new(()),
        }
    }
}

impl prepbot_core::ports::Outbound for OneAtATime {
    fn ready(&self, platform: Platform) -> bool {
        self.inner.ready(platform)
    }

    async fn post_drop(
        &self,
        channel: &prepbot_core::chat::ChannelAddress,
        key: &str,
        post: &prepbot_core::engine::reveal::DropPost,
    ) -> Result<prepbot_core::ports::PostedDrop, prepbot_core::ports::OutboundError> {
        let _turn = self.turn.lock().await;
        tokio::time::sleep(self.each).await;
        self.inner.post_drop(channel, key, post).await
    }

    async fn post_reveal(
        &self,
        channel: &prepbot_core::chat::ChannelAddress,
        thread_id: &str,
        key: &str,
        reveal: &prepbot_core::engine::reveal::RevealContent,
        attempt: prepbot_core::ports::RevealAttempt,
    ) -> Result<chrono::DateTime<chrono::Utc>, prepbot_core::ports::OutboundError> {
        self.inner
            .post_reveal(channel, thread_id, key, reveal, attempt)
            .await
    }
}

/// A pass over more channels than the rate limit gets through within a claim's
/// lease (5,000 at Discord's 50/s take 200 s; the lease is 2 minutes) claims its last
/// drops long after the instant it began. Their leases run from when they are
/// claimed, so another process's pass in the meantime does not take over a drop the
/// first is about to post, and post it too. (Before: the lease ran from the pass's
/// instant and had run out before the claim was taken; `cargo bench --bench load
/// -- fanout-shared` saw the last drop of 5,000 posted by both processes.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pass_longer_than_the_lease_keeps_the_claims_it_takes_late() {
    let (store_a, store_b, _dir) = two_stores_on_one_database().await;
    let bank = Arc::new(small_bank(5));
    let t = utc("2026-03-02T08:00:00Z");
    let lease = Duration::seconds(2);
    let process = |name: &str| ProcessIdentity {
        id: format!("process-{name}"),
        host: name.into(),
        pid: 7,
    };
    let a = Practice::new(store_a, bank.clone())
        .with_lease(lease)
        .with_process(process("a"));
    let b = Practice::new(store_b, bank)
        .with_lease(lease)
        .with_process(process("b"));
    a.register_process(None, t).await.unwrap();
    b.register_process(None, t).await.unwrap();
    const CHANNELS: u64 = 400;
    for ch in 0..CHANNELS {
        let mut s = setup("08:00", "UTC", Days::DAILY, 8);
        s.address = address(GUILD, 3_000 + ch);
        a.setup_channel(s, ch, utc("2026-03-01T00:00:00Z"))
            .await
            .unwrap();
    }
    // 10 ms a post, one at a time: A alone would take 4 s, twice the lease.
    let each = std::time::Duration::from_millis(10);
    let (out_a, out_b) = (OneAtATime::new(each), OneAtATime::new(each));
    out_b.inner.next_id.store(1_000_000, Ordering::SeqCst);
    out_a.inner.at(t);
    out_b.inner.at(t);
    let started = tokio::time::Instant::now();
    let pass_a = async {
        let report = run_due(&a, &out_a, t).await.unwrap().0;
        (report, started.elapsed())
    };
    // B passes at the end of A's pass, as a second process does once its own share
    // is done: A has claimed every channel (it works on PASS_CONCURRENCY at a time)
    // and has a few dozen claims still to post, taken more than a lease after the
    // pass began.
    let pass_b = async {
        let unposted = PASS_CONCURRENCY as u64 - 4;
        while (out_a.inner.drop_count() as u64) < CHANNELS - unposted {
            tokio::time::sleep(std::time::Duration::from_millis(1)).await;
        }
        let after = started.elapsed();
        let now = t + Duration::from_std(after).unwrap();
        (run_due(&b, &out_b, now).await.unwrap().0, after)
    };
    let ((report_a, a_took), (report_b, b_after)) = tokio::join!(pass_a, pass_b);
    assert!(
        b_after > lease.to_std().unwrap() && a_took > b_after,
        "B passed after {b_after:?}, A's pass took {a_took:?}: B must pass after a lease \
         and before A is done, or the test shows nothing"
    );
    assert_eq!((report_a.failures, report_b.failures), (0, 0));
    let posted: Vec<u64> = out_a
        .inner
        .drops
        .lock()
        .unwrap()
        .iter()
        .chain(out_b.inner.drops.lock().unwrap().iter())
        .map(|(channel, _)| *channel)
        .collect();
    let mut channels = posted.clone();
    channels.sort();
    channels.dedup();
    assert_eq!(channels.len(), CHANNELS as usize, "every channel posted");
    assert_eq!(
        posted.len(),
        CHANNELS as usize,
        "{} drops posted twice (A posted {}, B {})",
        posted.len() - channels.len(),
        out_a.inner.drop_count(),
        out_b.inner.drop_count()
    );
}

#[tokio::test]
async fn drop_now_brings_today_forward_and_refuses_a_second() {
    let (p, _dir) = practice_with(small_bank(3)).await;
    let out = Recording::default();
    let (ch, _) = p
        .setup_channel(
            setup("18:00", "Europe/London", Days::DAILY, 24),
            1,
            utc("2026-02-02T07:00:00Z"),
        )
        .await
        .unwrap();
    let t = utc("2026-02-02T08:00:00Z");
    out.at(t);
    let early = drop_now(&p, &out, ch.key, t).await.unwrap();
    assert_eq!(early.local_date, date("2026-02-02"));
    assert_eq!(early.seq, Some(1));
    assert_eq!(early.reveal_due_at, utc("2026-02-03T08:00:00Z"));

    match drop_now(&p, &out, ch.key, utc("2026-02-02T09:00:00Z")).await {
        Err(PracticeError::AlreadyOut(d)) => assert_eq!(d.id, early.id),
        other => panic!("expected AlreadyOut, got {other:?}"),
    }
    // Today's scheduled 18:00 drop was brought forward: nothing more today.
    let t = utc("2026-02-02T18:00:00Z");
    let (report, wake) = out.pass(&p, t).await;
    assert!(report.posted.is_empty());
    assert_eq!(wake, Some(utc("2026-02-03T08:00:00Z")));
    assert_eq!(out.drop_count(), 1);

    // Next day: an early drop while yesterday's is still open reveals it first.
    let t = utc("2026-02-03T07:00:00Z");
    out.at(t);
    let next = drop_now(&p, &out, ch.key, t).await.unwrap();
    assert_eq!(next.seq, Some(2));
    assert_eq!(out.reveal_count(), 1);
    assert_eq!(out.drop_count(), 2);
}

#[tokio::test]
async fn a_schedule_change_never_leaves_two_drops_open() {
    let (p, _dir) = practice_with(small_bank(3)).await;
    let out = Recording::default();
    let (ch, _) = p
        .setup_channel(
            setup("20:00", "UTC", Days::DAILY, 20),
            1,
            utc("2026-01-05T00:00:00Z"),
        )
        .await
        .unwrap();
    out.pass(&p, utc("2026-01-05T20:00:00Z")).await;
    // Reveal due at 16:00 tomorrow; the schedule now says 09:00.
    p.setup_channel(
        setup("09:00", "UTC", Days::DAILY, 20),
        1,
        utc("2026-01-05T21:00:00Z"),
    )
    .await
    .unwrap();
    let t = utc("2026-01-06T09:00:00Z");
    let (report, _) = out.pass(&p, t).await;
    assert_eq!(report.revealed.len(), 1, "the open drop is revealed first");
    assert_eq!(report.posted.len(), 1);
    assert_eq!(report.posted[0].seq, Some(2));
    assert!(p.open_drop(ch.key).await.unwrap().is_some());
}

async fn post_n(p: &Practice, out: &Recording, start: &str, n: usize) -> Vec<String> {
    let mut t = utc(start);
    let mut ids = Vec::new();
    for _ in 0..n {
        loop {
            out.at(t);
            let (report, wake) = run_due(p, out, t).await.unwrap();
            if let Some(d) = report.posted.first() {
                ids.push(d.question_id.clone().unwrap());
                t = wake.unwrap();
                break;
            }
            t = wake.expect("something is scheduled");
        }
    }
    ids
}

#[tokio::test]
async fn rotation_exhausts_the_pool_before_repeating_and_follows_a_pool_change() {
    let (p, _dir) = practice_with(small_bank(3)).await;
    let out = Recording::default();
    let mut s = setup("09:00", "UTC", Days::DAILY, 4);
    s.pool.topic = Some("caching".into());
    p.setup_channel(s.clone(), 77, utc("2026-01-05T00:00:00Z"))
        .await
        .unwrap();
    let first = post_n(&p, &out, "2026-01-05T00:00:00Z", 3).await;
    let mut sorted = first.clone();
    sorted.sort();
    assert_eq!(
        sorted,
        ["cache-0", "cache-1", "cache-2"],
        "no repeat within a cycle"
    );
    let fourth = post_n(&p, &out, "2026-01-08T00:00:00Z", 1).await;
    assert!(fourth[0].starts_with("cache-"), "a new cycle starts");

    s.pool = PoolFilter {
        topic: None,
        difficulty: Some(Difficulty::Hard),
        kind: None,
    };
    p.setup_channel(s, 77, utc("2026-01-08T12:00:00Z"))
        .await
        .unwrap();
    let next = post_n(&p, &out, "2026-01-08T12:00:00Z", 3).await;
    assert!(
        next.iter().all(|id| id.starts_with("db-")),
        "the new filter applies from the next drop: {next:?}"
    );
}

#[tokio::test]
async fn a_question_removed_from_the_bank_is_skipped() {
    let (store, _dir) = fresh_store().await;
    let p = Practice::new(store.clone(), Arc::new(small_bank(2)));
    let out = Recording::default();
    p.setup_channel(
        setup("09:00", "UTC", Days::DAILY, 4),
        5,
        utc("2026-01-05T00:00:00Z"),
    )
    .await
    .unwrap();
    let used = post_n(&p, &out, "2026-01-05T00:00:00Z", 1).await;
    // The bank is reloaded without the question used and without one more.
    let all = small_bank(2);
    let keep: Vec<_> = all
        .all()
        .iter()
        .filter(|q| q.id != used[0] && q.id != "db-1")
        .cloned()
        .collect();
    let p2 = Practice::new(store, Arc::new(QuestionBank::from_questions(keep)));
    let next = post_n(&p2, &out, "2026-01-06T00:00:00Z", 2).await;
    assert!(!next.contains(&"db-1".to_string()));
    assert!(!next.contains(&used[0]));
    assert_ne!(next[0], next[1]);
}

#[tokio::test]
async fn streaks_follow_sequence_numbers_not_calendar_days() {
    let (p, _dir) = practice_with(small_bank(5)).await;
    let out = Recording::default();
    // Weekdays only, starting Friday 2026-01-02.
    let (ch, _) = p
        .setup_channel(
            setup("09:00", "UTC", Days::WEEKDAYS, 6),
            1,
            utc("2026-01-02T00:00:00Z"),
        )
        .await
        .unwrap();
    let mut t = utc("2026-01-02T00:00:00Z");
    let mut msg_id = 100;
    // Member 1 answers drops 1, 2, 3 and 5; member 2 answers all five.
    for seq in 1..=5u32 {
        let (drop, wake) = loop {
            let (report, wake) = out.pass(&p, t).await;
            if let Some(d) = report.posted.first() {
                break (d.clone(), wake.unwrap());
            }
            t = wake.unwrap();
        };
        assert_eq!(drop.seq, Some(seq));
        if seq == 3 {
            // Pause over a day: no drop is posted, and that breaks no streak.
            p.set_paused(ch.key, true, t).await.unwrap();
        }
        let thread = id(drop.thread_id.as_deref().unwrap());
        for member in [1u64, 2] {
            if member == 1 && seq == 4 {
                continue;
            }
            msg_id += 1;
            p.record_message(message(thread, msg_id, member, t + Duration::hours(1)))
                .await
                .unwrap();
        }
        t = wake;
        out.pass(&p, t).await; // the reveal
        if seq == 3 {
            // Resume two days later.
            p.set_paused(ch.key, false, t + Duration::days(2))
                .await
                .unwrap();
            t += Duration::days(2);
        }
    }
    let dates: Vec<NaiveDate> = drop_states(p.store())
        .await
        .into_iter()
        .map(|(d, _, _)| d)
        .collect();
    assert!(
        dates
            .iter()
            .all(|d| !matches!(chrono::Datelike::weekday(d), Weekday::Sat | Weekday::Sun))
    );
    let one = p.streak(ch.key, "1").await.unwrap().unwrap();
    assert_eq!((one.current, one.best, one.total_on_time), (1, 3, 4));
    let two = p.streak(ch.key, "2").await.unwrap().unwrap();
    assert_eq!((two.current, two.best, two.total_on_time), (5, 5, 5));
    let board = p.leaderboard(ch.key, 10).await.unwrap();
    assert_eq!(
        board
            .iter()
            .map(|r| r.member_id.as_str())
            .collect::<Vec<_>>(),
        ["2", "1"]
    );
}

#[tokio::test]
async fn edits_deletes_and_late_events_follow_the_answer_rules() {
    let (p, _dir) = practice_with(small_bank(2)).await;
    let out = Recording::default();
    let (ch, _) = p
        .setup_channel(
            setup("09:00", "UTC", Days::DAILY, 8),
            1,
            utc("2026-01-05T00:00:00Z"),
        )
        .await
        .unwrap();
    let t = utc("2026-01-05T09:00:00Z");
    let (report, _) = out.pass(&p, t).await;
    let thread = id(report.posted[0].thread_id.as_deref().unwrap());
    let huge = "word ".repeat(40_000);
    let mut m = message(thread, 1, 1, utc("2026-01-05T10:00:00Z"));
    m.body = huge.clone();
    p.record_message(m).await.unwrap();
    {
        let mut conn = p.store().read().await.unwrap();
        let stored = prepbot_core::store::answers::get(&mut conn, ch.key, "1")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            stored.body, huge,
            "a 200,000-character answer is stored whole"
        );
    }
    // Member 2 posts once and deletes it; member 3 posts twice and deletes one.
    p.record_message(message(thread, 2, 2, utc("2026-01-05T10:00:00Z")))
        .await
        .unwrap();
    assert!(
        p.withdraw_message(ch.key, "2", utc("2026-01-05T11:00:00Z"))
            .await
            .unwrap()
    );
    p.record_message(message(thread, 3, 3, utc("2026-01-05T10:00:00Z")))
        .await
        .unwrap();
    p.record_message(message(thread, 4, 3, utc("2026-01-05T10:05:00Z")))
        .await
        .unwrap();
    assert!(
        p.withdraw_message(ch.key, "3", utc("2026-01-05T11:00:00Z"))
            .await
            .unwrap()
    );
    assert!(
        p.edit_message(
            ch.key,
            "4",
            "edited before the reveal",
            utc("2026-01-05T12:00:00Z")
        )
        .await
        .unwrap()
    );

    // The reveal is posted at 17:00; member 4's 16:59:59 message arrives after it.
    let t = utc("2026-01-05T17:00:00Z");
    out.pass(&p, t).await;
    let raced = p
        .record_message(message(thread, 5, 4, utc("2026-01-05T16:59:59Z")))
        .await
        .unwrap()
        .unwrap();
    assert!(raced.on_time);
    assert!(
        p.edit_message(
            ch.key,
            "1",
            "edited after the reveal",
            utc("2026-01-05T18:00:00Z")
        )
        .await
        .unwrap()
    );

    assert_eq!(
        p.streak(ch.key, "1").await.unwrap().map(|s| s.current),
        Some(1)
    );
    assert!(
        p.streak(ch.key, "2").await.unwrap().is_none(),
        "their only message was withdrawn"
    );
    assert_eq!(
        p.streak(ch.key, "3").await.unwrap().map(|s| s.current),
        Some(1)
    );
    assert_eq!(
        p.streak(ch.key, "4").await.unwrap().map(|s| s.current),
        Some(1),
        "settled on arrival"
    );

    let mut conn = p.store().read().await.unwrap();
    let stored = prepbot_core::store::answers::get(&mut conn, ch.key, "1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.body, "edited after the reveal");
    assert!(stored.edited_at.is_some());
    let four = prepbot_core::store::answers::get(&mut conn, ch.key, "4")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(four.body, "edited before the reveal");
    let three = prepbot_core::store::answers::get(&mut conn, ch.key, "3")
        .await
        .unwrap()
        .unwrap();
    assert!(
        three.withdrawn_at.is_some(),
        "a deleted message is withdrawn, not lost"
    );
}

#[tokio::test]
async fn a_failed_post_is_retried_with_backoff_and_a_permanent_failure_is_final() {
    let (p, _dir) = practice_with(small_bank(2)).await;
    let out = Recording::default();
    p.setup_channel(
        setup("09:00", "UTC", Days::DAILY, 1),
        1,
        utc("2026-01-05T00:00:00Z"),
    )
    .await
    .unwrap();
    out.fail_drops.store(true, Ordering::SeqCst);
    let t = utc("2026-01-05T09:00:00Z");
    let (report, wake) = out.pass(&p, t).await;
    assert_eq!(report.posted.len(), 0);
    assert_eq!(
        wake,
        Some(t + Duration::seconds(30)),
        "first retry after 30 s"
    );
    out.fail_drops.store(false, Ordering::SeqCst);
    let t = t + Duration::seconds(30);
    let (report, _) = out.pass(&p, t).await;
    assert_eq!(report.posted.len(), 1, "posted on retry");
    assert_eq!(report.posted[0].seq, Some(1));

    // Next day the platform refuses for good: failed, no sequence number used.
    out.fail_drops.store(true, Ordering::SeqCst);
    out.fail_permanently.store(true, Ordering::SeqCst);
    let t = utc("2026-01-06T09:00:00Z");
    out.pass(&p, t).await;
    let states = drop_states(p.store()).await;
    assert_eq!(
        states.last().unwrap(),
        &(date("2026-01-06"), DropState::Failed, None)
    );
}

#[tokio::test]
async fn spring_forward_drop_fires_at_the_end_of_the_gap() {
    let (p, _dir) = practice_with(small_bank(2)).await;
    let out = Recording::default();
    let (_, next) = p
        .setup_channel(
            setup("02:30", "America/New_York", Days::DAILY, 3),
            1,
            utc("2026-03-08T00:00:00Z"),
        )
        .await
        .unwrap();
    assert_eq!(
        next.drop_at,
        utc("2026-03-08T07:00:00Z"),
        "03:00 EDT, the end of the gap"
    );
    let t = utc("2026-03-08T06:59:59Z");
    out.at(t);
    assert!(run_due(&p, &out, t).await.unwrap().0.posted.is_empty());
    let t = utc("2026-03-08T07:00:00Z");
    let (report, wake) = out.pass(&p, t).await;
    assert_eq!(report.posted.len(), 1);
    assert_eq!(
        wake,
        Some(utc("2026-03-08T10:00:00Z")),
        "reveal delay is absolute hours"
    );
}

#[tokio::test]
async fn open_questions_are_known_per_guild_until_revealed() {
    let (p, _dir) = practice_with(small_bank(2)).await;
    let out = Recording::default();
    let (ch, _) = p
        .setup_channel(
            setup("09:00", "UTC", Days::DAILY, 2),
            1,
            utc("2026-01-05T00:00:00Z"),
        )
        .await
        .unwrap();
    let t = utc("2026-01-05T09:00:00Z");
    // Claimed (being posted): its question already counts as open.
    let claimed = p.claim_scheduled_drop(ch.key, t).await.unwrap().unwrap();
    let qid = claimed.drop.question_id.clone().unwrap();
    assert!(
        p.open_question_ids(Platform::Discord, &GUILD.to_string())
            .await
            .unwrap()
            .contains(&qid)
    );
    p.mark_posted(claimed.drop.id, "77", "77", t).await.unwrap();
    assert!(
        p.open_question_ids(Platform::Discord, &GUILD.to_string())
            .await
            .unwrap()
            .contains(&qid)
    );
    assert!(
        p.open_question_ids(Platform::Discord, &(GUILD + 1).to_string())
            .await
            .unwrap()
            .is_empty()
    );
    let t = utc("2026-01-05T11:00:00Z");
    out.pass(&p, t).await;
    assert!(
        p.open_question_ids(Platform::Discord, &GUILD.to_string())
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn an_empty_pool_is_refused_at_setup_and_skipped_as_failed_later() {
    let (store, _dir) = fresh_store().await;
    let p = Practice::new(store.clone(), Arc::new(small_bank(1)));
    let mut s = setup("09:00", "UTC", Days::DAILY, 2);
    s.pool.topic = Some("security".into());
    assert!(matches!(
        p.setup_channel(s.clone(), 1, utc("2026-01-05T00:00:00Z"))
            .await,
        Err(PracticeError::EmptyPool(_))
    ));
    s.pool.topic = Some("caching".into());
    p.setup_channel(s, 1, utc("2026-01-05T00:00:00Z"))
        .await
        .unwrap();
    // The bank loses its caching questions.
    let only_db: Vec<_> = small_bank(1)
        .all()
        .iter()
        .filter(|q| q.topic != "caching")
        .cloned()
        .collect();
    let p = Practice::new(store, Arc::new(QuestionBank::from_questions(only_db)));
    let out = Recording::default();
    let t = utc("2026-01-05T09:00:00Z");
    let (report, wake) = out.pass(&p, t).await;
    assert!(report.posted.is_empty());
    assert_eq!(
        wake,
        Some(utc("2026-01-06T09:00:00Z")),
        "the schedule moves on instead of spinning"
    );
    assert_eq!(
        drop_states(p.store()).await,
        [(date("2026-01-05"), DropState::Failed, None)]
    );
}

#[tokio::test]
async fn a_retryable_post_failure_gives_up_at_the_reveal_time() {
    let (p, _dir) = practice_with(small_bank(2)).await;
    let out = Recording::default();
    p.setup_channel(
        setup("09:00", "UTC", Days::DAILY, 1),
        1,
        utc("2026-01-05T00:00:00Z"),
    )
    .await
    .unwrap();
    out.fail_drops.store(true, Ordering::SeqCst);
    let mut t = utc("2026-01-05T09:00:00Z");
    let mut attempts = 0;
    while t <= utc("2026-01-05T10:00:00Z") {
        let (report, wake) = out.pass(&p, t).await;
        assert!(report.posted.is_empty());
        attempts += 1;
        t = wake.unwrap();
    }
    assert!(
        attempts >= 5,
        "backoff retried {attempts} times within the hour"
    );
    assert_eq!(
        t,
        utc("2026-01-06T09:00:00Z"),
        "after giving up, the next wake is the next drop"
    );
    let states = drop_states(p.store()).await;
    assert_eq!(states[0], (date("2026-01-05"), DropState::Failed, None));
    // The next day is unaffected.
    out.fail_drops.store(false, Ordering::SeqCst);
    let t = utc("2026-01-06T09:00:00Z");
    out.at(t);
    assert_eq!(run_due(&p, &out, t).await.unwrap().0.posted[0].seq, Some(1));
}

#[tokio::test]
async fn drop_now_supersedes_a_drop_waiting_to_retry() {
    let (p, _dir) = practice_with(small_bank(3)).await;
    let out = Recording::default();
    let (ch, _) = p
        .setup_channel(
            setup("23:00", "UTC", Days::DAILY, 10),
            1,
            utc("2026-01-05T00:00:00Z"),
        )
        .await
        .unwrap();
    out.fail_drops.store(true, Ordering::SeqCst);
    let t = utc("2026-01-05T23:00:00Z");
    out.pass(&p, t).await;
    out.fail_drops.store(false, Ordering::SeqCst);
    // Just after midnight an admin asks for today's drop.
    let t = utc("2026-01-06T00:00:10Z");
    out.at(t);
    let now_drop = drop_now(&p, &out, ch.key, t).await.unwrap();
    assert_eq!(now_drop.local_date, date("2026-01-06"));
    // Later passes never post the superseded drop.
    for minutes in [1, 3, 10, 30, 120] {
        let t = utc("2026-01-06T00:00:10Z") + Duration::minutes(minutes);
        let (report, _) = out.pass(&p, t).await;
        assert!(report.posted.is_empty(), "reposted at +{minutes} min");
        assert_eq!(report.failures, 0);
    }
    assert_eq!(out.drop_count(), 1);
    let states = drop_states(p.store()).await;
    assert_eq!(states[0], (date("2026-01-05"), DropState::Failed, None));
    assert_eq!(states[1].1, DropState::Posted);
}

#[tokio::test]
async fn drop_now_on_a_missed_date_posts_it() {
    let (p, _dir) = practice_with(small_bank(3)).await;
    let out = Recording::default();
    let (ch, _) = p
        .setup_channel(
            setup("06:00", "UTC", Days::DAILY, 2),
            1,
            utc("2026-01-05T00:00:00Z"),
        )
        .await
        .unwrap();
    // The bot was down from 06:00 to 09:00: today's drop is recorded missed.
    let t = utc("2026-01-05T09:00:00Z");
    out.pass(&p, t).await;
    assert_eq!(
        drop_states(p.store()).await,
        [(date("2026-01-05"), DropState::Missed, None)]
    );
    let d = drop_now(&p, &out, ch.key, t).await.unwrap();
    assert_eq!(
        (d.local_date, d.state, d.seq),
        (date("2026-01-05"), DropState::Posted, Some(1))
    );
    assert_eq!(d.reveal_due_at, utc("2026-01-05T11:00:00Z"));
}

#[tokio::test]
async fn a_reveal_that_cannot_be_posted_closes_the_drop_and_the_schedule_goes_on() {
    let (p, _dir) = practice_with(small_bank(3)).await;
    let out = Recording::default();
    let (ch, _) = p
        .setup_channel(
            setup("09:00", "UTC", Days::DAILY, 8),
            1,
            utc("2026-01-05T00:00:00Z"),
        )
        .await
        .unwrap();
    let t = utc("2026-01-05T09:00:00Z");
    let (report, _) = out.pass(&p, t).await;
    let thread = id(report.posted[0].thread_id.as_deref().unwrap());
    p.record_message(message(thread, 1, 7, t + Duration::hours(1)))
        .await
        .unwrap();

    // Retryable failures: retried with backoff, then closed after the attempt cap.
    out.fail_reveals.store(true, Ordering::SeqCst);
    let mut t = utc("2026-01-05T17:00:00Z");
    let mut waits = Vec::new();
    loop {
        let (report, wake) = out.pass(&p, t).await;
        if !report.revealed.is_empty() {
            break;
        }
        let next = wake.unwrap();
        waits.push((next - t).num_seconds());
        t = next;
    }
    assert_eq!(
        out.reveal_attempts.load(Ordering::SeqCst),
        prepbot_core::practice::MAX_REVEAL_ATTEMPTS as u64
    );
    assert_eq!(&waits[..3], [30, 60, 120], "exponential backoff");
    assert_eq!(
        p.streak(ch.key, "7").await.unwrap().map(|s| s.current),
        Some(1),
        "streaks still settle"
    );
    let mut conn = p.store().read().await.unwrap();
    let revealed = drops::in_state(&mut conn, DropState::Revealed)
        .await
        .unwrap();
    assert!(
        revealed[0]
            .failure
            .as_deref()
            .unwrap()
            .contains("Unknown Channel")
    );
    drop(conn);

    // A permanent failure closes the drop at once; the next day's drop goes out.
    out.fail_permanently.store(true, Ordering::SeqCst);
    let t = utc("2026-01-06T09:00:00Z");
    out.pass(&p, t).await;
    let before = out.reveal_attempts.load(Ordering::SeqCst);
    let t = utc("2026-01-06T17:00:00Z");
    let (report, _) = out.pass(&p, t).await;
    assert_eq!(report.revealed.len(), 1);
    assert_eq!(out.reveal_attempts.load(Ordering::SeqCst), before + 1);
    out.fail_reveals.store(false, Ordering::SeqCst);
    let t = utc("2026-01-07T09:00:00Z");
    out.at(t);
    assert_eq!(run_due(&p, &out, t).await.unwrap().0.posted[0].seq, Some(3));
}

#[tokio::test]
async fn an_old_on_time_answer_arriving_after_later_reveals_rebuilds_the_streak() {
    let (p, _dir) = practice_with(small_bank(5)).await;
    let out = Recording::default();
    let (ch, _) = p
        .setup_channel(
            setup("09:00", "UTC", Days::DAILY, 8),
            1,
            utc("2026-01-05T00:00:00Z"),
        )
        .await
        .unwrap();
    let mut threads = Vec::new();
    for day in 0..4 {
        let t = utc("2026-01-05T09:00:00Z") + Duration::days(day);
        let (report, _) = out.pass(&p, t).await;
        let thread = id(report.posted[0].thread_id.as_deref().unwrap());
        threads.push((thread, t));
        if day != 2 {
            p.record_message(message(thread, 100 + day as u64, 7, t + Duration::hours(1)))
                .await
                .unwrap();
        }
        let r = t + Duration::hours(8);
        out.pass(&p, r).await;
    }
    let s = p.streak(ch.key, "7").await.unwrap().unwrap();
    assert_eq!((s.current, s.best, s.total_on_time), (1, 2, 3));
    // Drop 3's answer, posted on time, arrives only now.
    let (thread, t) = threads[2];
    let late_event = p
        .record_message(message(thread, 102, 7, t + Duration::hours(2)))
        .await
        .unwrap()
        .unwrap();
    assert!(late_event.on_time);
    let s = p.streak(ch.key, "7").await.unwrap().unwrap();
    assert_eq!((s.current, s.best, s.total_on_time), (4, 4, 4));
}

#[tokio::test]
async fn a_catch_up_grace_bounds_how_late_a_drop_is_posted_after_downtime() {
    let (p, _dir) = practice_with(small_bank(3)).await;
    let p = p.with_catch_up_grace(Some(chrono::Duration::minutes(60)));
    let out = Recording::default();
    let (ch, _) = p
        .setup_channel(
            setup("09:00", "Europe/London", Days::DAILY, 8),
            1,
            utc("2026-06-01T00:00:00Z"),
        )
        .await
        .unwrap();
    // 09:00 BST is 08:00 UTC. Back at 08:45 UTC: within the hour, posted late.
    let (report, _) = out.pass(&p, utc("2026-06-01T08:45:00Z")).await;
    assert_eq!(report.posted.len(), 1);
    let thread = id(report.posted[0].thread_id.as_deref().unwrap());
    p.record_message(message(thread, 1, 7, utc("2026-06-01T09:00:00Z")))
        .await
        .unwrap();
    out.pass(&p, utc("2026-06-01T16:00:00Z")).await;
    // Back at 09:30 UTC on June 2, 90 minutes after the drop time: missed, though
    // the reveal (16:00 UTC) is hours away.
    let (report, wake) = out.pass(&p, utc("2026-06-02T09:30:00Z")).await;
    assert!(report.posted.is_empty());
    assert_eq!(wake, Some(utc("2026-06-03T08:00:00Z")));
    let states = drop_states(p.store()).await;
    assert_eq!(states[1], (date("2026-06-02"), DropState::Missed, None));
    // The missed day breaks nobody's streak.
    let (report, _) = out.pass(&p, utc("2026-06-03T08:00:00Z")).await;
    let thread = id(report.posted[0].thread_id.as_deref().unwrap());
    p.record_message(message(thread, 2, 7, utc("2026-06-03T09:00:00Z")))
        .await
        .unwrap();
    out.pass(&p, utc("2026-06-03T16:00:00Z")).await;
    let s = p.streak(ch.key, "7").await.unwrap().unwrap();
    assert_eq!((s.current, s.best), (2, 2));

    // Without a grace, the same downtime posts the drop late (until the reveal).
    let (p2, _dir2) = practice_with(small_bank(3)).await;
    p2.setup_channel(
        setup("09:00", "Europe/London", Days::DAILY, 8),
        1,
        utc("2026-06-01T00:00:00Z"),
    )
    .await
    .unwrap();
    let (report, _) = out.pass(&p2, utc("2026-06-01T15:59:00Z")).await;
    assert_eq!(report.posted.len(), 1, "posted a minute before its reveal");
}

#[tokio::test]
async fn a_platform_that_is_not_ready_leaves_its_channels_due_and_unclaimed() {
    let (p, _dir) = practice_with(small_bank(3)).await;
    let out = Recording::default();
    let (ch, _) = p
        .setup_channel(
            setup("09:00", "Europe/Berlin", Days::DAILY, 8),
            1,
            utc("2026-03-01T12:00:00Z"),
        )
        .await
        .unwrap();
    out.platform_down.store(true, Ordering::SeqCst);
    // 09:00 Berlin is 08:00 UTC: due, but Discord is not ready.
    let (report, wake) = out.pass(&p, utc("2026-03-02T08:30:00Z")).await;
    assert_eq!(report, prepbot_core::scheduler::PassReport::default());
    assert_eq!(wake, None, "nothing to wake for while the platform is down");
    assert_eq!(out.drop_count(), 0);
    {
        let mut conn = p.store().read().await.unwrap();
        assert!(
            prepbot_core::store::drops::latest(&mut conn, ch.key)
                .await
                .unwrap()
                .is_none(),
            "neither claimed nor failed nor missed"
        );
    }
    // Back before the reveal time: posted late, once.
    out.platform_down.store(false, Ordering::SeqCst);
    let (report, wake) = out.pass(&p, utc("2026-03-02T09:00:00Z")).await;
    assert_eq!(report.posted.len(), 1);
    assert_eq!(out.drop_count(), 1);
    assert_eq!(
        wake,
        Some(utc("2026-03-02T16:00:00Z")),
        "the reveal, 8 h after the due time"
    );
    // Down again over the reveal time: the reveal waits, and goes out once it is back.
    out.platform_down.store(true, Ordering::SeqCst);
    let (report, _) = out.pass(&p, utc("2026-03-02T16:30:00Z")).await;
    assert!(report.revealed.is_empty());
    assert!(p.open_drop(ch.key).await.unwrap().is_some(), "still open");
    out.platform_down.store(false, Ordering::SeqCst);
    let (report, _) = out.pass(&p, utc("2026-03-02T16:31:00Z")).await;
    assert_eq!(report.revealed.len(), 1);
    assert_eq!(out.reveal_count(), 1);
}

/// A platform's history for catch-up: one listing for every drop, recorded calls.
struct History {
    platform: Platform,
    messages: Vec<prepbot_core::practice::ListedMessage>,
    listed: std::sync::Mutex<Vec<i64>>,
}

impl prepbot_core::catch_up::ThreadHistory for History {
    fn platform(&self) -> Platform {
        self.platform
    }
    async fn list_thread(
        &self,
        drop: &prepbot_core::store::drops::DropRecord,
    ) -> Result<Option<prepbot_core::catch_up::Listing>, String> {
        self.listed.lock().unwrap().push(drop.id);
        Ok(Some(prepbot_core::catch_up::Listing {
            messages: self.messages.clone(),
            complete_up_to: utc("2026-03-02T10:00:00Z"),
            ack_conversation: "thread".into(),
        }))
    }
}

/// Acknowledgements that reached the platform.
#[derive(Clone, Default)]
struct Acks(Arc<std::sync::Mutex<Vec<(String, String)>>>);

impl prepbot_core::acks::Acknowledge for Acks {
    async fn acknowledge(
        &self,
        conversation: &str,
        message: &str,
        _ack: prepbot_core::acks::Ack,
    ) -> Result<(), String> {
        self.0
            .lock()
            .unwrap()
            .push((conversation.into(), message.into()));
        Ok(())
    }
}

#[tokio::test]
async fn catch_up_reads_only_its_platforms_threads_and_acknowledges_what_it_stored() {
    let (p, _dir) = practice_with(small_bank(3)).await;
    let out = Recording::default();
    p.setup_channel(
        setup("09:00", "UTC", Days::DAILY, 8),
        1,
        utc("2026-03-01T12:00:00Z"),
    )
    .await
    .unwrap();
    let (report, _) = out.pass(&p, utc("2026-03-02T09:00:00Z")).await;
    let thread = id(report.posted[0].thread_id.as_deref().unwrap());
    let listed = vec![prepbot_core::practice::ListedMessage {
        message: message(thread, 77, 5, utc("2026-03-02T09:30:00Z")),
        edited_at: None,
    }];
    let sent = Acks::default();
    let acks = prepbot_core::acks::AckQueue::start(sent.clone());

    // Another platform's adapter has nothing of this Discord channel to catch up on.
    let slack = History {
        platform: Platform::Slack,
        messages: listed.clone(),
        listed: Default::default(),
    };
    let done = prepbot_core::catch_up::run(&p, &slack, &acks, utc("2026-03-02T10:00:00Z")).await;
    assert_eq!(done, prepbot_core::catch_up::CaughtUp::default());
    assert!(slack.listed.lock().unwrap().is_empty());

    let discord = History {
        platform: Platform::Discord,
        messages: listed,
        listed: Default::default(),
    };
    let done = prepbot_core::catch_up::run(&p, &discord, &acks, utc("2026-03-02T10:00:00Z")).await;
    assert_eq!((done.drops, done.stored, done.failed), (1, 1, 0));
    // Stored, and acknowledged where the listing said.
    let ch = key(&p, CHANNEL).await;
    let mut conn = p.store().read().await.unwrap();
    assert!(
        drops::latest(&mut conn, ch).await.unwrap().is_some()
            && prepbot_core::store::answers::get(&mut conn, ch, "77")
                .await
                .unwrap()
                .is_some()
    );
    for _ in 0..100 {
        if !sent.0.lock().unwrap().is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert_eq!(
        *sent.0.lock().unwrap(),
        [("thread".to_string(), "77".to_string())]
    );
    // Caught up again: nothing new, nothing acknowledged twice.
    let again = prepbot_core::catch_up::run(&p, &discord, &acks, utc("2026-03-02T10:01:00Z")).await;
    assert_eq!(again.stored, 0);
}
