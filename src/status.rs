//! `prepbot status`: what the bot's database says about each channel, for operators.

use chrono::{DateTime, Utc};

use crate::console::local;
use crate::store::{Store, channels, drops};

/// One line per channel and a few indented details, or a note that none is set up.
pub async fn report(store: &Store, now: DateTime<Utc>) -> anyhow::Result<String> {
    let mut conn = store.read().await?;
    let all = channels::list_all(&mut conn).await?;
    if all.is_empty() {
        return Ok("no channel is set up yet (run /setup in a channel)".into());
    }
    let mut out = String::new();
    for ch in all {
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
        let latest = drops::latest(&mut conn, ch.key).await?;
        if !s.paused {
            let next = s.next_occurrence(
                latest.as_ref().map(|d| d.local_date),
                now.max(ch.active_from),
            );
            out.push_str(&format!("  next drop: {}\n", local(next.drop_at, s.zone)));
        }
        if let Some(open) = drops::open(&mut conn, ch.key).await? {
            out.push_str(&format!(
                "  open: #{} {} (reveal {})\n",
                open.seq.unwrap_or(0),
                open.question_id.as_deref().unwrap_or("?"),
                local(open.reveal_due_at, s.zone)
            ));
        }
        if let Some(d) = latest.filter(|d| d.failure.is_some()) {
            out.push_str(&format!(
                "  last problem ({}): {}\n",
                d.local_date,
                d.failure.unwrap_or_default()
            ));
        }
        let counts = drops::count_by_state(&mut conn, ch.key).await?;
        if !counts.is_empty() {
            let parts: Vec<String> = counts
                .iter()
                .map(|(state, n)| format!("{state} {n}"))
                .collect();
            out.push_str(&format!("  drops: {}\n", parts.join(", ")));
        }
    }
    Ok(out.trim_end().to_string())
}
