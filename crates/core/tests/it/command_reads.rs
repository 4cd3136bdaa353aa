//! The commands' reads by address (`Practice::streak_at`, `leaderboard_at`,
//! `today_at`, `schedule_view_at`): each reads the channel and what the command shows
//! in one statement, and must answer exactly as the channel lookup followed by the
//! per-channel reads did, through a channel's whole life: no drop yet, open drops,
//! settled streaks, a failed drop, missed days, paused, removed, and no schedule at
//! all. On the backend under test (`PREPBOT_TEST_BACKEND`).

use chrono::{DateTime, Duration, Utc};
use prepbot_core::chat::ChannelAddress;
use prepbot_core::engine::schedule::Days;
use prepbot_core::practice::{History, Practice};
use prepbot_core::schedule_view;
use prepbot_core::store::drops;
use prepbot_testkit::*;

const OTHER: u64 = 902;
const MEMBERS: [&str; 4] = ["11", "12", "13", "99"];

/// Every by-address read at `address` and `now` against the reads it replaced.
async fn same_as_the_lookup_then_the_reads(
    p: &Practice,
    address: &ChannelAddress,
    now: DateTime<Utc>,
) {
    let channel = p.channel_at(address).await.unwrap();
    let Some(channel) = channel else {
        for member in MEMBERS {
            assert!(p.streak_at(address, member).await.unwrap().is_none());
        }
        assert!(p.leaderboard_at(address, 10).await.unwrap().is_none());
        assert!(p.today_at(address, now).await.unwrap().is_none());
        assert!(p.schedule_view_at(address, now).await.unwrap().is_none());
        return;
    };
    let at = format!("{address:?} at {now}");

    for member in MEMBERS {
        let (found, streak) = p.streak_at(address, member).await.unwrap().expect(&at);
        assert_eq!(found, channel, "{at}");
        assert_eq!(
            streak,
            p.streak(channel.key, member).await.unwrap(),
            "{at}, member {member}"
        );
    }
    for limit in [1, 2, 10] {
        let (found, top) = p.leaderboard_at(address, limit).await.unwrap().expect(&at);
        assert_eq!(found, channel, "{at}");
        assert_eq!(
            top,
            p.leaderboard(channel.key, limit).await.unwrap(),
            "{at}, top {limit}"
        );
    }

    let open = p.open_drop(channel.key).await.unwrap();
    let next_drop = p.next_drop(&channel, now).await.unwrap();
    let today = p.today_at(address, now).await.unwrap().expect(&at);
    assert_eq!(today.channel, channel, "{at}");
    assert_eq!(today.open, open, "{at}");
    assert_eq!(today.next_drop, next_drop, "{at}");

    let view = p.schedule_view_at(address, now).await.unwrap().expect(&at);
    let mut conn = p.store().read().await.unwrap();
    assert_eq!(view.channel, channel, "{at}");
    assert_eq!(view.next_drop, next_drop, "{at}");
    assert_eq!(view.open, open, "{at}");
    assert_eq!(
        view.latest,
        drops::latest(&mut conn, channel.key).await.unwrap(),
        "{at}"
    );
    assert_eq!(
        view.counts,
        drops::count_by_state(&mut conn, channel.key).await.unwrap(),
        "{at}"
    );
    assert_eq!(
        view.failed_drop(),
        p.last_failure(channel.key).await.unwrap().as_ref(),
        "{at}"
    );
}

/// Both channels' reads, and `prepbot status`'s views (one statement for every
/// channel) against the views by address.
async fn check(p: &Practice, now: DateTime<Utc>) {
    let channels = [address(GUILD, CHANNEL), address(GUILD, OTHER)];
    for address in &channels {
        same_as_the_lookup_then_the_reads(p, address, now).await;
    }
    same_as_the_lookup_then_the_reads(p, &address(GUILD, 12_345), now).await;

    let all = schedule_view::all(p.store(), now).await.unwrap();
    let mut by_address = Vec::new();
    for address in &channels {
        if let Some(v) = p.schedule_view_at(address, now).await.unwrap() {
            by_address.push(v);
        }
    }
    by_address.sort_by_key(|v| v.channel.key);
    let summary = |views: &[schedule_view::ScheduleView]| {
        views
            .iter()
            .map(|v| {
                (
                    v.channel.clone(),
                    v.next_drop,
                    v.open.clone(),
                    v.latest.clone(),
                    v.counts.clone(),
                )
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(summary(&all), summary(&by_address), "status at {now}");
}

#[tokio::test]
async fn each_commands_one_statement_reads_what_the_lookup_and_its_reads_did() {
    let (p, _dir) = practice_with(small_bank(3)).await;
    let out = Recording::default();
    let start = utc("2026-03-02T00:00:00Z");
    check(&p, start).await;

    for (channel, seed) in [(CHANNEL, 1), (OTHER, 2)] {
        let mut s = setup("09:00", "UTC", Days::DAILY, 8);
        s.address = address(GUILD, channel);
        p.setup_channel(s, seed, start).await.unwrap();
    }
    // Set up, no drop yet.
    check(&p, start).await;

    let mut day = start + Duration::hours(9);
    let mut next_message = 1_000u64;
    for d in 0..4 {
        // Posted: open drops, answers not settled yet.
        let (report, _) = out.pass(&p, day).await;
        assert_eq!(report.posted.len(), 2, "day {d}");
        for drop in &report.posted {
            let thread = id(drop.thread_id.as_deref().unwrap());
            // Member 13 answers the first two days only: their streak goes stale
            // with more on-time answers than member 12's, who starts on the third,
            // and whose current streak ranks them above 13 while the fourth is open.
            let answers = |m: u64| m == 11 || (m == 13 && d < 2) || (m == 12 && d >= 2);
            for member in [11, 12, 13].into_iter().filter(|&m| answers(m)) {
                next_message += 1;
                p.record_message(message(
                    thread,
                    next_message,
                    member,
                    day + Duration::minutes(5),
                ))
                .await
                .unwrap();
            }
        }
        check(&p, day + Duration::minutes(10)).await;
        // Revealed: streaks settled.
        out.pass(&p, day + Duration::hours(8)).await;
        check(&p, day + Duration::hours(8)).await;
        day += Duration::days(1);
    }

    // A drop that fails for good: "last drop failed".
    out.fail_drops
        .store(true, std::sync::atomic::Ordering::SeqCst);
    out.fail_permanently
        .store(true, std::sync::atomic::Ordering::SeqCst);
    out.pass(&p, day).await;
    out.fail_drops
        .store(false, std::sync::atomic::Ordering::SeqCst);
    out.fail_permanently
        .store(false, std::sync::atomic::Ordering::SeqCst);
    check(&p, day + Duration::minutes(1)).await;

    // Days missed while the bot was down.
    day += Duration::days(3);
    out.pass(&p, day).await;
    check(&p, day + Duration::minutes(1)).await;

    // Paused: no next drop; an open drop stays open.
    let other = key(&p, OTHER).await;
    p.set_paused(other, true, day).await.unwrap();
    check(&p, day + Duration::hours(1)).await;
    p.set_paused(other, false, day + Duration::days(2))
        .await
        .unwrap();
    check(&p, day + Duration::days(2)).await;

    // Removed with its history kept: no schedule there, as for an unknown channel.
    p.remove_schedule(other, History::Keep, true, "admin", day + Duration::days(2))
        .await
        .unwrap();
    check(&p, day + Duration::days(2)).await;
}
