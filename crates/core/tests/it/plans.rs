//! PostgreSQL sessions keep one plan per statement (`plan_cache_mode =
//! force_generic_plan`, set by the store on every connection): left to choose,
//! PostgreSQL planned `/leaderboard`'s statement again at every call, 0.29 ms of
//! planning for 0.08 ms of execution. Needs the test PostgreSQL (skipped without
//! it, except under CI). What a kept plan reads is `tests/query_plans.rs`'s check.

use prepbot_core::chat::{ChannelAddress, Platform};
use prepbot_core::store::{Store, channels};
use prepbot_testkit::postgres;

#[tokio::test]
async fn a_pooled_session_plans_the_leaderboard_once_however_often_it_runs() {
    let Some(url) = postgres::fresh_database().await else {
        return;
    };
    let store = Store::open_url(&url).await.unwrap();
    let address = ChannelAddress::new(Platform::Discord, "1", "2");
    let mut conn = store.read().await.unwrap();
    for _ in 0..12 {
        let found = channels::find_with_leaderboard(&mut conn, &address, 10)
            .await
            .unwrap();
        assert!(found.is_none(), "no channel at that address");
    }
    // The session's own record of its prepared statements (PostgreSQL 14 and later).
    let (custom, generic): (i64, i64) = sqlx::query_as(
        "SELECT custom_plans, generic_plans FROM pg_prepared_statements \
         WHERE statement LIKE 'WITH here AS%'",
    )
    .fetch_one(conn.as_postgres().expect("a PostgreSQL store"))
    .await
    .unwrap();
    assert_eq!(
        (custom, generic),
        (0, 12),
        "planned with each call's parameters {custom} times, kept plan used {generic} times"
    );
    drop(conn);
    store.close().await;
}
