//! Telling the other processes sharing a PostgreSQL database that the agenda
//! changed (a schedule set up, paused, resumed or removed, a drop on demand), so
//! their schedulers look again at once instead of at their next wake-up:
//! `LISTEN`/`NOTIFY`. A notification sent inside a transaction is delivered when it
//! commits, and not at all when it rolls back. On SQLite (one process) it is a no-op.
//!
//! sqlx's `PgListener` reconnects by itself but drops notifications sent while it
//! was away, so the listener reports a reconnect too, and the caller re-reads the
//! agenda then as well.

use sqlx::postgres::PgListener;

use super::Result;
use super::backend::Conn;

/// The channel every prepbot process listens on.
pub const AGENDA_CHANNEL: &str = "prepbot_agenda";

/// Notes, inside the caller's write transaction, that the agenda changed.
pub async fn agenda_changed(conn: &mut Conn) -> Result<()> {
    if let Some(pg) = conn.as_postgres() {
        sqlx::query("SELECT pg_notify($1, '')")
            .bind(AGENDA_CHANNEL)
            .execute(pg)
            .await?;
    }
    Ok(())
}

/// What the listener heard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AgendaEvent {
    /// Another process (or this one) changed the agenda.
    Changed,
    /// The connection was lost and is being made again: a change may have been missed.
    Reconnected,
}

/// A `LISTEN` on [`AGENDA_CHANNEL`].
pub struct AgendaListener(PgListener);

impl AgendaListener {
    pub(super) async fn start(pool: &sqlx::PgPool) -> Result<Self> {
        let mut listener = PgListener::connect_with(pool).await?;
        listener.listen(AGENDA_CHANNEL).await?;
        Ok(AgendaListener(listener))
    }

    /// Waits for the next change or reconnect. An error (the server unreachable
    /// while reconnecting) is returned as it is: the caller waits and calls again.
    pub async fn next(&mut self) -> Result<AgendaEvent> {
        Ok(match self.0.try_recv().await? {
            Some(_) => AgendaEvent::Changed,
            None => AgendaEvent::Reconnected,
        })
    }
}
