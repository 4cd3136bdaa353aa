//! The order of `/leaderboard` (`member_stats::leaderboard`: two index walks in one
//! statement, put in order in Rust) against one plain sort over every member, on
//! the backend under test (`PREPBOT_TEST_BACKEND`).

use prepbot_core::engine::schedule::Days;
use prepbot_core::engine::streak::MemberStreak;
use prepbot_core::store::member_stats::{self, MemberStats};
use prepbot_testkit::*;

/// The reference: every member of the channel sorted by their current streak (0
/// unless their last answered drop is the latest revealed one), then on-time
/// answers, then name as the backend folds it, then row id. `p`: how the backend
/// writes a parameter (`?`, or `$` for `$1`, `$2`, `$3`).
fn reference_sql(name: &str, p: &str) -> String {
    let n = |i: usize| {
        if p == "?" {
            "?".to_string()
        } else {
            format!("${i}")
        }
    };
    format!(
        "SELECT member_id FROM member_stats WHERE channel_id = {} \
         ORDER BY CASE WHEN last_seq >= {} THEN current_streak ELSE 0 END DESC, \
                  total_on_time DESC, {name}, id \
         LIMIT {}",
        n(1),
        n(2),
        n(3)
    )
}

/// The leaderboard's two index walks rank exactly like the single sort they
/// replaced (typed here as the reference, in each backend's SQL), ties and
/// case-insensitive names included, whether many, few or no streaks are current.
/// As in the bot, no stored streak is newer than the latest revealed drop.
#[tokio::test]
async fn the_two_walk_leaderboard_ranks_like_one_sort_over_every_member() {
    let (p, _dir) = practice_with(small_bank(3)).await;
    let names = ["ann", "Ann", "bob", "BOB", "cy", "Dee", "dee", "eve"];
    // A fixed pseudo-random spread of streaks, totals and last answered drops.
    let mut x = 12_345u64;
    let mut next = |n: u64| {
        x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
        (x >> 33) % n
    };
    for latest_revealed in 0..=6u32 {
        let channel = 2_000 + latest_revealed as u64;
        let mut s = setup("09:00", "UTC", Days::DAILY, 8);
        s.address = address(GUILD, channel);
        let (set_up, _) = p
            .setup_channel(s, 1, utc("2026-03-02T00:00:00Z"))
            .await
            .unwrap();
        let channel = set_up.key;
        let mut tx = p.store().write().await.unwrap();
        for member in 0..300u64 {
            let stats = MemberStats {
                channel_id: channel,
                member_id: (10_000 - member * 7).to_string(),
                member_name: names[next(names.len() as u64) as usize].to_string(),
                streak: MemberStreak {
                    current: next(5) as u32,
                    best: 5,
                    total_on_time: next(8) as u32,
                    last_seq: next(latest_revealed as u64 + 1) as u32,
                    last_answered_at: utc("2026-03-02T10:00:00Z"),
                },
            };
            member_stats::upsert(&mut tx, &stats).await.unwrap();
        }
        tx.commit().await.unwrap();

        let mut conn = p.store().read().await.unwrap();
        for limit in [1u32, 3, 10, 40, 299, 300, 1_000] {
            let reference: Vec<String> = if p.store().is_postgres() {
                sqlx::query_scalar(&reference_sql("prepbot_nocase(member_name)", "$"))
                    .bind(channel)
                    .bind(latest_revealed as i64)
                    .bind(limit as i64)
                    .fetch_all(conn.as_postgres().expect("a PostgreSQL store"))
                    .await
                    .unwrap()
            } else {
                sqlx::query_scalar(&reference_sql("member_name COLLATE NOCASE", "?"))
                    .bind(channel)
                    .bind(latest_revealed as i64)
                    .bind(limit as i64)
                    .fetch_all(conn.as_sqlite().expect("a SQLite store"))
                    .await
                    .unwrap()
            };
            let board = member_stats::leaderboard(&mut conn, channel, latest_revealed, limit)
                .await
                .unwrap();
            let ids: Vec<String> = board.iter().map(|s| s.member_id.clone()).collect();
            assert_eq!(
                ids, reference,
                "latest revealed {latest_revealed}, limit {limit}"
            );
        }
    }
}
