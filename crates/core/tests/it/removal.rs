//! Removing a channel's schedule and forgetting a member (issue 14, item 5): both
//! ask for a confirmation first, change nothing until it comes, and forgetting
//! survives catching up after a restart.

use chrono::{DateTime, Utc};
use prepbot_core::catch_up::{Listing, ThreadHistory};
use prepbot_core::chat::Platform;
use prepbot_core::engine::schedule::Days;
use prepbot_core::practice::{History, ListedMessage, Practice, PracticeError};
use prepbot_core::store::drops::DropRecord;
use prepbot_core::store::{answers, drops, member_stats};
use prepbot_testkit::*;

/// A drop revealed with answers from members 5 and 6, then a second drop open with
/// one answer from each; returns the channel's key and the open drop's thread.
async fn two_drops(p: &Practice) -> (i64, u64) {
    let out = Recording::default();
    let (ch, _) = p
        .setup_channel(
            setup("09:00", "UTC", Days::DAILY, 8),
            1,
            utc("2026-03-01T12:00:00Z"),
        )
        .await
        .unwrap();
    let (report, _) = out.pass(p, utc("2026-03-02T09:00:00Z")).await;
    let first = id(report.posted[0].thread_id.as_deref().unwrap());
    for (msg, member) in [(51, 5), (61, 6)] {
        p.record_message(message(first, msg, member, utc("2026-03-02T10:00:00Z")))
            .await
            .unwrap()
            .unwrap();
    }
    let (report, _) = out.pass(p, utc("2026-03-02T17:00:00Z")).await;
    assert_eq!(report.revealed.len(), 1);
    let (report, _) = out.pass(p, utc("2026-03-03T09:00:00Z")).await;
    let second = id(report.posted[0].thread_id.as_deref().unwrap());
    for (msg, member) in [(52, 5), (62, 6)] {
        p.record_message(message(second, msg, member, utc("2026-03-03T10:00:00Z")))
            .await
            .unwrap()
            .unwrap();
    }
    (ch.key, second)
}

async fn answer_ids(p: &Practice, channel: i64) -> Vec<String> {
    let mut conn = p.store().read().await.unwrap();
    let mut ids = Vec::new();
    for m in ["51", "52", "61", "62", "53"] {
        if answers::get(&mut conn, channel, m).await.unwrap().is_some() {
            ids.push(m.to_string());
        }
    }
    ids
}

#[tokio::test]
async fn removing_a_schedule_asks_first_then_keeps_or_deletes_its_history() {
    let (p, _dir) = practice_with(small_bank(5)).await;
    let (ch, _) = two_drops(&p).await;
    let now = utc("2026-03-03T11:00:00Z");

    // Not confirmed: counted, nothing changed.
    let asked = p
        .remove_schedule(ch, History::Delete, false, "admin", now)
        .await
        .unwrap();
    assert_eq!((asked.drops, asked.answers, asked.done), (2, 4, false));
    assert!(
        p.channel_at(&address(GUILD, CHANNEL))
            .await
            .unwrap()
            .is_some()
    );

    // Kept: gone for commands and the scheduler, history still stored.
    let kept = p
        .remove_schedule(ch, History::Keep, true, "admin", now)
        .await
        .unwrap();
    assert!(kept.done);
    assert!(
        p.channel_at(&address(GUILD, CHANNEL))
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(answer_ids(&p, ch).await, ["51", "52", "61", "62"]);
    assert!(
        p.agenda()
            .await
            .unwrap()
            .iter()
            .all(|(_, w)| !matches!(w, prepbot_core::practice::Work::Drop { .. })),
        "no more drops for a removed schedule"
    );
    // A second removal finds no schedule.
    assert!(matches!(
        p.remove_schedule(ch, History::Keep, true, "admin", now)
            .await,
        Err(PracticeError::NotConfigured)
    ));

    // A new setup in the same channel carries on from the kept history.
    let (again, _) = p
        .setup_channel(setup("09:00", "UTC", Days::DAILY, 8), 1, now)
        .await
        .unwrap();
    assert_eq!(again.key, ch);
    assert_eq!(p.streak(ch, "5").await.unwrap().unwrap().total_on_time, 1);

    // Deleted: every drop, answer and streak of the channel goes.
    let deleted = p
        .remove_schedule(ch, History::Delete, true, "admin", now)
        .await
        .unwrap();
    assert_eq!((deleted.drops, deleted.answers, deleted.done), (2, 4, true));
    assert!(p.channel(ch).await.unwrap().is_none());
    assert!(answer_ids(&p, ch).await.is_empty());
    let mut conn = p.store().read().await.unwrap();
    assert!(drops::latest(&mut conn, ch).await.unwrap().is_none());
    assert!(
        member_stats::get(&mut conn, ch, "5")
            .await
            .unwrap()
            .is_none()
    );
}

/// A thread listed again after a restart: the forgotten member's old message, and
/// one they posted after being forgotten.
struct Relisted(Vec<ListedMessage>);

impl ThreadHistory for Relisted {
    fn platform(&self) -> Platform {
        Platform::Discord
    }
    async fn list_thread(&self, _drop: &DropRecord) -> Result<Option<Listing>, String> {
        Ok(Some(Listing {
            messages: self.0.clone(),
            complete_up_to: utc("2026-03-03T13:00:00Z"),
            ack_conversation: "thread".into(),
        }))
    }
}

struct NoAcks;
impl prepbot_core::acks::Acknowledge for NoAcks {
    async fn acknowledge(
        &self,
        _: &str,
        _: &str,
        _: prepbot_core::acks::Ack,
    ) -> Result<(), String> {
        Ok(())
    }
}

fn listed(thread: u64, msg: u64, member: u64, at: DateTime<Utc>) -> ListedMessage {
    ListedMessage {
        message: message(thread, msg, member, at),
        edited_at: None,
    }
}

#[tokio::test]
async fn forgetting_a_member_deletes_only_theirs_and_catching_up_does_not_bring_it_back() {
    let (p, _dir) = practice_with(small_bank(5)).await;
    let (ch, open_thread) = two_drops(&p).await;
    let forgot_at = utc("2026-03-03T11:00:00Z");
    let workspace = GUILD.to_string();

    let asked = p
        .forget_member(Platform::Discord, &workspace, "5", "5", false, forgot_at)
        .await
        .unwrap();
    assert_eq!((asked.channels, asked.answers, asked.done), (1, 2, false));
    assert_eq!(answer_ids(&p, ch).await, ["51", "52", "61", "62"]);

    // Another workspace's member with the same id is not this one.
    let elsewhere = p
        .forget_member(Platform::Discord, "999", "5", "5", true, forgot_at)
        .await
        .unwrap();
    assert_eq!((elsewhere.channels, elsewhere.answers), (0, 0));
    assert_eq!(answer_ids(&p, ch).await.len(), 4);

    let done = p
        .forget_member(Platform::Discord, &workspace, "5", "5", true, forgot_at)
        .await
        .unwrap();
    assert_eq!((done.channels, done.answers, done.done), (1, 2, true));
    assert_eq!(answer_ids(&p, ch).await, ["61", "62"]);
    assert!(p.streak(ch, "5").await.unwrap().is_none());
    assert_eq!(p.streak(ch, "6").await.unwrap().unwrap().total_on_time, 1);

    // After a restart the open drop's thread is listed again: the forgotten answer
    // stays forgotten, one posted after the forget is stored as usual.
    let history = Relisted(vec![
        listed(open_thread, 52, 5, utc("2026-03-03T10:00:00Z")),
        listed(open_thread, 62, 6, utc("2026-03-03T10:00:00Z")),
        listed(open_thread, 53, 5, utc("2026-03-03T12:00:00Z")),
    ]);
    let acks = prepbot_core::acks::AckQueue::start(NoAcks);
    let caught =
        prepbot_core::catch_up::run(&p, &history, &acks, utc("2026-03-03T13:00:00Z")).await;
    assert_eq!((caught.drops, caught.stored, caught.failed), (1, 1, 0));
    assert_eq!(answer_ids(&p, ch).await, ["61", "62", "53"]);

    // An edit of the forgotten message arriving live does not store it either.
    let edited = p
        .record_edit(
            message(open_thread, 52, 5, utc("2026-03-03T10:00:00Z")),
            utc("2026-03-03T13:30:00Z"),
        )
        .await
        .unwrap();
    assert!(edited.is_none());
    assert!(!answer_ids(&p, ch).await.contains(&"52".to_string()));
}

#[tokio::test]
async fn a_forget_in_the_same_second_as_the_answer_still_keeps_catching_up_from_storing_it() {
    // Slack's timestamps carry microseconds; the tombstone is stored in whole
    // seconds. An answer posted a moment before the forget, in the same second, must
    // not come back when the thread is listed again.
    let (p, _dir) = practice_with(small_bank(5)).await;
    let (ch, open_thread) = two_drops(&p).await;
    let answered_at = utc("2026-03-03T10:30:00.300Z");
    p.record_message(message(open_thread, 71, 7, answered_at))
        .await
        .unwrap()
        .unwrap();
    let done = p
        .forget_member(
            Platform::Discord,
            &GUILD.to_string(),
            "7",
            "7",
            true,
            utc("2026-03-03T10:30:00.700Z"),
        )
        .await
        .unwrap();
    assert_eq!((done.channels, done.answers), (1, 1));
    let history = Relisted(vec![
        listed(open_thread, 52, 5, utc("2026-03-03T10:00:00Z")),
        listed(open_thread, 62, 6, utc("2026-03-03T10:00:00Z")),
        listed(open_thread, 71, 7, answered_at),
        listed(open_thread, 72, 7, utc("2026-03-03T10:30:01.500Z")),
    ]);
    let acks = prepbot_core::acks::AckQueue::start(NoAcks);
    let caught =
        prepbot_core::catch_up::run(&p, &history, &acks, utc("2026-03-03T13:00:00Z")).await;
    assert_eq!((caught.stored, caught.failed), (1, 0), "only the later one");
    let mut conn = p.store().read().await.unwrap();
    assert!(answers::get(&mut conn, ch, "71").await.unwrap().is_none());
    assert!(answers::get(&mut conn, ch, "72").await.unwrap().is_some());
}
