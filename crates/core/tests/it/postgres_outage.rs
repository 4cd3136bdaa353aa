//! What the store says when PostgreSQL cannot be reached (issue 13, "Faults"): a
//! cut connection, a refused one and a session the server ends are all
//! [`StoreError::Unavailable`], worded for a member, and the store works again by
//! itself once the server is back. Needs the test PostgreSQL (skipped without it,
//! except under CI).

use std::time::{Duration, Instant};

use prepbot_core::chat::{ChannelAddress, Platform};
use prepbot_core::store::{Store, StoreError, channels};
use prepbot_testkit::postgres;
use prepbot_testkit::proxy::CuttableProxy;
use sqlx::Connection;

const PASSWORD: &str = "outage-s3cret";

fn address() -> ChannelAddress {
    ChannelAddress::new(Platform::Discord, "1", "2")
}

async fn read_once(store: &Store) -> Result<(), StoreError> {
    let mut conn = store.read().await?;
    channels::find(&mut conn, &address()).await?;
    Ok(())
}

async fn write_once(store: &Store) -> Result<(), StoreError> {
    let tx = store.write().await?;
    tx.commit().await?;
    Ok(())
}

fn assert_unavailable(e: StoreError) {
    assert!(matches!(e, StoreError::Unavailable(_)), "{e:?}");
    assert_eq!(
        e.to_string(),
        "the database is unavailable right now; try again in a minute"
    );
    assert!(!format!("{e:?}").contains(PASSWORD), "{e:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cut_server_is_unavailable_in_time_for_a_reply_and_the_store_recovers() {
    let Some(url) = postgres::fresh_database().await else {
        return;
    };
    let proxy = CuttableProxy::start(postgres::server(&url)).await;
    let store = Store::open_url(&postgres::via(
        &url,
        proxy.addr(),
        postgres::user(&url),
        PASSWORD,
    ))
    .await
    .unwrap();
    read_once(&store).await.unwrap();
    // A connection checked out when the server goes: its next statement fails.
    let mut held = store.read().await.unwrap();

    proxy.cut().await;
    let e = channels::find(&mut held, &address()).await.unwrap_err();
    assert_unavailable(e);
    drop(held);
    for _ in 0..2 {
        // Within a Discord command's 3 s, so the member hears it.
        let started = Instant::now();
        assert_unavailable(read_once(&store).await.unwrap_err());
        assert_unavailable(write_once(&store).await.unwrap_err());
        assert!(
            started.elapsed() < Duration::from_millis(2 * 2500),
            "{:?}",
            started.elapsed()
        );
    }

    proxy.restore().await;
    read_once(&store).await.unwrap();
    write_once(&store).await.unwrap();
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_the_server_ends_is_unavailable() {
    let Some(url) = postgres::fresh_database().await else {
        return;
    };
    let store = Store::open_url(&url).await.unwrap();
    let mut held = store.read().await.unwrap();
    let pid: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
        .fetch_one(held.as_postgres().unwrap())
        .await
        .unwrap();
    // As a fast shutdown or a restart does to every session: SQLSTATE 57P01.
    let mut admin = sqlx::PgConnection::connect(&url).await.unwrap();
    let ended: bool = sqlx::query_scalar("SELECT pg_terminate_backend($1)")
        .bind(pid)
        .fetch_one(&mut admin)
        .await
        .unwrap();
    assert!(ended);
    admin.close().await.unwrap();
    let e = channels::find(&mut held, &address()).await.unwrap_err();
    // Read from the server's goodbye, not from the closed socket: the SQLSTATE
    // is what makes it Unavailable.
    match &e {
        StoreError::Unavailable(sqlx::Error::Database(db)) => {
            assert_eq!(db.code().as_deref(), Some("57P01"), "{e:?}")
        }
        other => panic!("{other:?}"),
    }
    drop(held);
    // The pool replaces the ended session on its own.
    read_once(&store).await.unwrap();
    store.close().await;
}

/// A restart of the server ends every pooled session while it sits idle. The pool
/// pings a connection that has been idle a while before handing it out (not one
/// just used: that ping would be a round trip before every command), so the first
/// read after the restart gets a new session instead of the dead one's error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pooled_session_ended_while_idle_is_replaced_before_a_read() {
    let Some(url) = postgres::fresh_database().await else {
        return;
    };
    let store = Store::open_url(&url).await.unwrap();
    let pid: i32 = {
        let mut conn = store.read().await.unwrap();
        sqlx::query_scalar("SELECT pg_backend_pid()")
            .fetch_one(conn.as_postgres().unwrap())
            .await
            .unwrap()
    };
    // Back in the pool (sqlx returns a connection in the background).
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut admin = sqlx::PgConnection::connect(&url).await.unwrap();
    // Every session of this database but the admin's own, as a restart ends them.
    let ended: Vec<bool> = sqlx::query_scalar(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE datname = current_database() AND pid <> pg_backend_pid()",
    )
    .fetch_all(&mut admin)
    .await
    .unwrap();
    assert!(!ended.is_empty() && ended.iter().all(|e| *e), "{ended:?}");
    admin.close().await.unwrap();
    // Idle longer than the pool lets a connection go out unchecked (1 s).
    tokio::time::sleep(Duration::from_millis(1_300)).await;
    let mut conn = store.read().await.unwrap();
    let now: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
        .fetch_one(conn.as_postgres().unwrap())
        .await
        .expect("a live session, not the ended one");
    assert_ne!(now, pid);
    drop(conn);
    store.close().await;
}
