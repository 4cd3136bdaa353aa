//! `prepbot status`: what the bot's database says about each channel, for operators
//! (the same view as `/schedule show`, [`crate::schedule_view`], in plain text), and
//! each adapter's health as the running bot last recorded it ([`crate::health`]),
//! and the processes sharing the database with the claims they hold
//! ([`crate::process`]).

use chrono::{DateTime, Utc};

use crate::engine::DropState;
use crate::process::ProcessIdentity;
use crate::schedule_view;
use crate::schedule_view::local;
use crate::store::Store;
use crate::store::drops::DropRecord;

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
    out.push_str(&processes(store, now).await?);
    Ok(out)
}

/// The registered processes (live, or not heard from lately), their shards and the
/// drops each is posting or revealing, then claims whose holder is gone. Empty when
/// there is none of either.
async fn processes(store: &Store, now: DateTime<Utc>) -> anyhow::Result<String> {
    let mut conn = store.read().await?;
    let procs = crate::store::processes::all(&mut conn).await?;
    let held = crate::store::drops::held(&mut conn).await?;
    drop(conn);
    let mut out = String::new();
    if !procs.is_empty() {
        out.push_str("\nprocesses:");
    }
    let claims_of = |id: &str| -> Vec<String> {
        held.iter()
            .filter(|d| d.holder.as_deref() == Some(id))
            .map(|d| {
                format!(
                    "drop {} ({}, {}, lease to {})",
                    d.id,
                    d.local_date,
                    if d.state == DropState::Claimed {
                        "posting"
                    } else {
                        "revealing"
                    },
                    d.lease_until
                        .map_or("-".into(), |t| t.format("%H:%M:%S UTC").to_string())
                )
            })
            .collect()
    };
    for p in &procs {
        let age = (now - p.heard_at).num_seconds().max(0);
        let alive = p.alive_at(now);
        out.push_str(&format!(
            "\n  {} on {} (pid {}){}{}: started {}, {}",
            ProcessIdentity::short_id(&p.id),
            if p.host.is_empty() { "an unknown host" } else { &p.host },
            p.pid,
            p.shards.as_deref().map(|s| format!(", Discord shards {s}")).unwrap_or_default(),
            match p.slack_connections {
                0 => String::new(),
                1 => ", 1 Slack connection".into(),
                n => format!(", {n} Slack connections"),
            },
            p.started_at.format("%Y-%m-%d %H:%M UTC"),
            if alive {
                format!("alive (heard {age} s ago)")
            } else {
                format!("not heard for {age} s: taken for dead, its claims go to the next process that looks")
            }
        ));
        let claims = claims_of(&p.id);
        if !claims.is_empty() {
            out.push_str(&format!("; holds {}", claims.join(", ")));
        }
    }
    let orphans: Vec<&DropRecord> = held
        .iter()
        .filter(|d| {
            !procs
                .iter()
                .any(|p| Some(p.id.as_str()) == d.holder.as_deref())
        })
        .collect();
    if !orphans.is_empty() {
        out.push_str("\nclaims left by processes that are gone (finished by the next start, or by a running process at once):");
        for d in orphans {
            out.push_str(&format!(
                "\n  drop {} ({}, channel {}), held by {}",
                d.id,
                d.local_date,
                d.channel_id,
                d.holder
                    .as_deref()
                    .map(ProcessIdentity::short_id)
                    .unwrap_or("-")
            ));
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
