//! `prepbot status`: what the bot's database says about each channel, for operators
//! (the same view as `/schedule show`, [`crate::schedule_view`], in plain text), and
//! each adapter's health as the running bot last recorded it ([`crate::health`]).

use chrono::{DateTime, Utc};

use crate::schedule_view;
use crate::schedule_view::local;
use crate::store::Store;

/// One line per channel and a few indented details, or a note that none is set up;
/// then, once a bot has run on this database, each adapter's health.
pub async fn report(store: &Store, now: DateTime<Utc>) -> anyhow::Result<String> {
    let mut out = channels(store, now).await?;
    let adapters = {
        let mut conn = store.read().await?;
        crate::store::adapter_health::all(&mut conn).await?
    };
    if !adapters.is_empty() {
        out.push_str("\nadapters:");
        for h in &adapters {
            out.push_str(&format!("\n  {}", crate::health::describe(h, now)));
        }
    }
    Ok(out)
}

async fn channels(store: &Store, now: DateTime<Utc>) -> anyhow::Result<String> {
    let views = schedule_view::all(store, now).await?;
    if views.is_empty() {
        return Ok("no channel is set up yet (run /setup in a channel)".into());
    }
    let mut out = String::new();
    for v in views {
        let ch = &v.channel;
        let s = &ch.schedule;
        out.push_str(&format!(
            "{} ({} {} {}): {} {} {}, reveal after {} h, {}{}\n",
            ch.label(),
            ch.address.platform,
            ch.address.platform.workspace_word(),
            ch.address.workspace,
            s.days,
            s.time.format("%H:%M"),
            s.zone.name(),
            s.reveal_after_hours,
            s.pool,
            if s.paused { ", paused" } else { "" },
        ));
        if let Some(reason) = &ch.pause_reason {
            out.push_str(&format!("  paused by the bot: {reason}\n"));
        }
        if let Some(next) = &v.next_drop {
            out.push_str(&format!("  next drop: {}\n", local(next.drop_at, s.zone)));
        }
        if let Some(open) = &v.open {
            out.push_str(&format!(
                "  open: #{} {} (reveal {})\n",
                open.seq.unwrap_or(0),
                open.question_id.as_deref().unwrap_or("?"),
                local(open.reveal_due_at, s.zone)
            ));
        }
        if let Some(d) = v.latest_problem() {
            out.push_str(&format!(
                "  last problem ({}): {}\n",
                d.local_date,
                d.failure.as_deref().unwrap_or_default()
            ));
        }
        if !v.counts.is_empty() {
            let parts: Vec<String> = v
                .counts
                .iter()
                .map(|(state, n)| format!("{state} {n}"))
                .collect();
            out.push_str(&format!("  drops: {}\n", parts.join(", ")));
        }
    }
    Ok(out.trim_end().to_string())
}
