//! `prepbot demo`: a study channel simulated in the terminal with the real engine,
//! the real store and the real scheduler pass, on a fast-forwarded clock.
//!
//! Three members with different habits answer in each drop's thread:
//! - Ada answers every drop an hour after it is posted (and edits one answer);
//! - Ben answers three hours in, but skips the third drop; on the fourth he posts
//!   twice and deletes one message, which still counts;
//! - Cy answers two hours in, except the fifth drop, which he answers only after
//!   the reveal: late, so no streak credit.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, bail};
use chrono::{DateTime, Duration, NaiveDate, NaiveTime, Utc};
use chrono_tz::Tz;

use crate::console::{ConsoleOutbound, Detail, Sink, emit, local};
use prepbot_core::bank::{PoolFilter, QuestionBank};
use prepbot_core::chat::{ChannelAddress, Platform, ThreadRef};
use prepbot_core::clock::ManualClock;
use prepbot_core::engine::schedule::Days;
use prepbot_core::practice::{ChannelSetup, IncomingMessage, Practice, StreakView};
use prepbot_core::scheduler::run_due;
use prepbot_core::store::Store;

/// The simulated workspace and channel, as the console platform names them.
pub const WORKSPACE: &str = "1";
pub const CHANNEL: &str = "10";
const ZONE: Tz = chrono_tz::Europe::London;

#[derive(Debug, Clone)]
pub struct DemoOptions {
    /// How many drops to simulate (one a day).
    pub days: u32,
    /// Seeds the channel's question rotation.
    pub seed: u64,
    /// Keep the database here instead of a temporary file.
    pub db: Option<PathBuf>,
    /// The first simulated day (default: today, UTC).
    pub start: NaiveDate,
    /// How much of each reveal to print.
    pub detail: Detail,
}

/// What the demo ended with.
#[derive(Debug, Clone)]
pub struct DemoReport {
    pub drops_posted: usize,
    pub drops_revealed: usize,
    pub leaderboard: Vec<StreakView>,
}

struct Member {
    id: &'static str,
    name: &'static str,
}

const MEMBERS: [Member; 3] = [
    Member {
        id: "101",
        name: "Ada",
    },
    Member {
        id: "102",
        name: "Ben",
    },
    Member {
        id: "103",
        name: "Cy",
    },
];

/// One scripted message: who, when after the drop, what.
struct Scripted {
    member: usize,
    after: Duration,
    text: String,
    /// Delete this message again this long after posting it.
    delete_after: Option<Duration>,
    /// Edit the message this long after posting it.
    edit_after: Option<Duration>,
}

/// The members' habits for drop number `seq` (1-based). The texts do not name their
/// author: the line that shows a message does.
fn script(seq: u32) -> Vec<Scripted> {
    let mut out = Vec::new();
    out.push(Scripted {
        member: 0,
        after: Duration::hours(1),
        text: "I would start from the requirements and the numbers, then the trade-offs.".into(),
        delete_after: None,
        edit_after: (seq == 2).then(|| Duration::minutes(20)),
    });
    if seq != 3 {
        out.push(Scripted {
            member: 1,
            after: Duration::hours(3),
            text: "Here is my take, with the failure modes I have seen.".into(),
            delete_after: None,
            edit_after: None,
        });
    }
    if seq == 4 {
        out.push(Scripted {
            member: 1,
            after: Duration::hours(3) + Duration::minutes(5),
            text: "Second thoughts, ignore this one.".into(),
            delete_after: Some(Duration::minutes(10)),
            edit_after: None,
        });
    }
    let cy_after = if seq == 5 {
        Duration::hours(10)
    } else {
        Duration::hours(2)
    };
    out.push(Scripted {
        member: 2,
        after: cy_after,
        text: "Short answer first, then the details.".into(),
        delete_after: None,
        edit_after: None,
    });
    out
}

#[derive(Debug)]
enum Event {
    Post {
        member: usize,
        thread: String,
        message: String,
        text: String,
    },
    Edit {
        message: String,
        member: usize,
    },
    Delete {
        message: String,
        member: usize,
    },
}

/// Runs the simulation, printing to `sink`.
pub async fn run(
    opts: DemoOptions,
    bank: Arc<QuestionBank>,
    sink: Sink,
) -> anyhow::Result<DemoReport> {
    if opts.days == 0 {
        bail!("--days must be at least 1");
    }
    let _tmp;
    let db_path = match &opts.db {
        Some(path) => {
            if path.exists()
                && std::fs::metadata(path)
                    .map(|m| m.len() > 0)
                    .unwrap_or(false)
            {
                bail!(
                    "{} already exists: the demo needs a fresh database; remove it or pass another --db path",
                    path.display()
                );
            }
            path.clone()
        }
        None => {
            let dir = tempfile::tempdir()
                .context("cannot create a temporary directory for the demo database")?;
            let path = dir.path().join("demo.db");
            _tmp = dir;
            path
        }
    };
    let store = Store::open_path(&db_path).await?;
    let practice = Practice::new(store.clone(), bank);

    let start = opts.start.and_time(NaiveTime::MIN).and_utc();
    let clock = Arc::new(ManualClock::new(start));
    let console = ConsoleOutbound::new(sink.clone(), ZONE, clock.clone(), opts.detail);

    let setup = ChannelSetup {
        address: ChannelAddress::new(Platform::Console, WORKSPACE, CHANNEL),
        name: Some("study".into()),
        time: NaiveTime::from_hms_opt(9, 0, 0).unwrap_or(NaiveTime::MIN),
        zone: ZONE,
        days: Days::DAILY,
        reveal_after_hours: 8,
        pool: PoolFilter::default(),
    };
    let (channel, first) = practice.setup_channel(setup, opts.seed, start).await?;
    let key = channel.key;
    emit(
        &sink,
        &format!(
            "prepbot demo: #study-room, daily at 09:00 {ZONE}, reveal after 8 hours, {} questions in the bank.\n\
             Members: Ada (answers every day), Ben (skips day 3), Cy (answers day 5 after the reveal).\n\
             First drop: {}",
            practice.bank().len(),
            local(first.drop_at, ZONE)
        ),
    );

    let mut events: BTreeMap<(DateTime<Utc>, u64), Event> = BTreeMap::new();
    let mut revealed = 0usize;
    let mut posted = 0usize;
    let mut order = 0u64;
    let mut now = start;
    let mut last_question: Option<String> = None;
    // A generous bound: the loop ends when the last reveal is done.
    let deadline = start + Duration::days(opts.days as i64 + 3);
    while revealed < opts.days as usize && now <= deadline {
        // Members' messages due now go first: they happened before this instant's jobs.
        while let Some(entry) = events.first_entry() {
            if entry.key().0 > now {
                break;
            }
            let ((at, _), event) = entry.remove_entry();
            handle_event(&practice, &sink, key, event, at).await?;
        }
        let (report, next_job) = run_due(&practice, &console, now).await?;
        for drop in &report.posted {
            posted += 1;
            if posted > opts.days as usize {
                continue;
            }
            let seq = drop.seq.unwrap_or(0);
            let thread = drop.thread_id.clone().unwrap_or_default();
            let base = drop.posted_at.unwrap_or(now);
            if let Some(id) = &drop.question_id {
                last_question = Some(id.clone());
            }
            for s in script(seq) {
                let message = console.next_id().to_string();
                let at = base + s.after;
                order += 1;
                events.insert(
                    (at, order),
                    Event::Post {
                        member: s.member,
                        thread: thread.clone(),
                        message: message.clone(),
                        text: s.text,
                    },
                );
                if let Some(d) = s.delete_after {
                    order += 1;
                    events.insert(
                        (at + d, order),
                        Event::Delete {
                            message: message.clone(),
                            member: s.member,
                        },
                    );
                }
                if let Some(d) = s.edit_after {
                    order += 1;
                    events.insert(
                        (at + d, order),
                        Event::Edit {
                            message,
                            member: s.member,
                        },
                    );
                }
            }
        }
        for drop in &report.revealed {
            revealed += 1;
            print_streaks(&practice, &sink, key, drop.seq.unwrap_or(0)).await?;
        }
        if revealed >= opts.days as usize {
            break;
        }
        // Stop scheduling new drops once enough are out: pause, which keeps reveals going.
        if posted >= opts.days as usize {
            let ch = practice.channel(key).await?;
            if ch.is_some_and(|c| !c.schedule.paused) {
                practice.set_paused(key, true, now).await?;
            }
        }
        let next_event = events.keys().next().map(|(at, _)| *at);
        let next = match (next_job, next_event) {
            (Some(a), Some(b)) => a.min(b),
            (Some(a), None) | (None, Some(a)) => a,
            (None, None) => break,
        };
        now = next.max(now);
        clock.set(now);
    }

    let leaderboard = practice.leaderboard(key, 10).await?;
    emit(&sink, &render_leaderboard(&leaderboard, opts.days));
    emit(&sink, &what_next(last_question.as_deref(), opts.detail));
    store.close().await;
    Ok(DemoReport {
        drops_posted: posted.min(opts.days as usize),
        drops_revealed: revealed,
        leaderboard,
    })
}

async fn handle_event(
    practice: &Practice,
    sink: &Sink,
    key: i64,
    event: Event,
    at: DateTime<Utc>,
) -> anyhow::Result<()> {
    match event {
        Event::Post {
            member,
            thread,
            message,
            text,
        } => {
            let m = &MEMBERS[member];
            let recorded = practice
                .record_message(IncomingMessage {
                    thread: ThreadRef::new(Platform::Console, thread),
                    message_id: message,
                    member_id: m.id.to_string(),
                    member_name: m.name.into(),
                    body: text.clone(),
                    posted_at: at,
                })
                .await?;
            let status = match recorded {
                Some(r) if r.on_time => "on time",
                Some(_) => "late: after the reveal",
                None => "not in a drop thread",
            };
            emit(
                sink,
                &format!("  [{}] {}: {}  ({status})", clock_time(at), m.name, text),
            );
        }
        Event::Edit { message, member } => {
            let text = "I would start from the requirements and the numbers, then the trade-offs. (Edited: a note on failure modes.)";
            practice.edit_message(key, &message, text, at).await?;
            emit(
                sink,
                &format!(
                    "  [{}] {} edited their answer",
                    clock_time(at),
                    MEMBERS[member].name
                ),
            );
        }
        Event::Delete { message, member } => {
            practice.withdraw_message(key, &message, at).await?;
            emit(
                sink,
                &format!(
                    "  [{}] {} deleted a message (their other answer still counts)",
                    clock_time(at),
                    MEMBERS[member].name
                ),
            );
        }
    }
    Ok(())
}

async fn print_streaks(practice: &Practice, sink: &Sink, key: i64, seq: u32) -> anyhow::Result<()> {
    let mut line = format!("  Streaks after drop #{seq}:");
    for m in &MEMBERS {
        let s = practice.streak(key, m.id).await?;
        line.push_str(&format!(" {} {}", m.name, s.map_or(0, |s| s.current)));
    }
    emit(sink, &line);
    Ok(())
}

/// A member's message time: the drop's header above it already says the day.
fn clock_time(at: DateTime<Utc>) -> String {
    at.with_timezone(&ZONE).format("%H:%M").to_string()
}

/// Where to go from the demo: the whole of a question, the full demo, the real bot.
fn what_next(question: Option<&str>, detail: Detail) -> String {
    let id = question.unwrap_or("cap-theorem");
    let mut out = String::from("What next\n~~~~~~~~~\n");
    out.push_str(&format!(
        "- A whole question with its model answer: prepbot questions show {id}\n"
    ));
    out.push_str("- One to practise on: prepbot questions random --topic databases\n");
    if detail == Detail::Compact {
        out.push_str("- This demo with every reveal in full: prepbot demo --full\n");
    }
    out.push_str(
        "- On Discord: DISCORD_TOKEN=... prepbot run (the README's \"Setting it up on Discord\" sets it up)\n",
    );
    out.push_str("- On Slack: see docs/SLACK.md\n");
    out.push_str(
        "- Your own questions: prepbot check your-pack/, then PREPBOT_QUESTIONS=your-pack/",
    );
    out
}

fn render_leaderboard(board: &[StreakView], days: u32) -> String {
    let mut out = format!("\n=== Leaderboard after {days} drops ===\n");
    out.push_str(&format!(
        "{:<4} {:<8} {:>7} {:>5} {:>8}\n",
        "rank", "member", "current", "best", "on time"
    ));
    for (i, row) in board.iter().enumerate() {
        out.push_str(&format!(
            "{:<4} {:<8} {:>7} {:>5} {:>8}\n",
            i + 1,
            row.member_name,
            row.current,
            row.best,
            row.total_on_time
        ));
    }
    let missing: Vec<&str> = MEMBERS
        .iter()
        .filter(|m| !board.iter().any(|r| r.member_id == m.id))
        .map(|m| m.name)
        .collect();
    if !missing.is_empty() {
        out.push_str(&format!(
            "(no on-time answers yet: {})\n",
            missing.join(", ")
        ));
    }
    out
}
