//! `prepbot-dev seed`: builds a large database reproducibly, for the load
//! harness and the benches (by default 100,000 members, 1,000,000 answers over
//! 1,000 drops in 10 channels of 10 servers). Channels are set up through the
//! practice layer like `/setup` does; drops, answers and streaks are then written
//! in bulk (through `store`'s bulk inserts), in a few large transactions, with the
//! streaks settled by the engine's own rules so the database is one the bot could
//! have produced.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, bail};
use chrono::{DateTime, Duration, NaiveDate, NaiveTime, Utc};

use prepbot_core::bank::{PoolFilter, QuestionBank};
use prepbot_core::engine::DropState;
use prepbot_core::engine::schedule::{Days, parse_zone};
use prepbot_core::engine::streak::{MemberStreak, settle};
use prepbot_core::mix::mix64;
use prepbot_core::practice::{ChannelSetup, Practice};
use prepbot_core::store::answers::StoredAnswer;
use prepbot_core::store::drops::DropRecord;
use prepbot_core::store::member_stats::MemberStats;
use prepbot_core::store::{Conn, Store, answers, drops, member_stats};

/// What to generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeedSpec {
    pub members: u64,
    pub answers: u64,
    pub drops: u64,
    pub channels: u64,
    pub seed: u64,
}

impl Default for SeedSpec {
    fn default() -> Self {
        SeedSpec {
            members: 100_000,
            answers: 1_000_000,
            drops: 1_000,
            channels: 10,
            seed: 42,
        }
    }
}

/// The ids the seeded database uses, for drivers that send commands against it.
pub fn channel_id(c: u64) -> u64 {
    910_000_000_000_000_000 + c
}

pub fn guild_id(c: u64) -> u64 {
    920_000_000_000_000_000 + c
}

/// Channel `c`'s key in the seeded database (channels are set up in order).
pub fn channel_key(c: u64) -> i64 {
    c as i64 + 1
}

/// Member `m` (1-based) of the seeded community.
pub fn member_id(m: u64) -> u64 {
    930_000_000_000_000_000 + m
}

fn member_name(m: u64) -> String {
    format!("member{m:06}")
}

/// What was written.
#[derive(Debug, Clone, PartialEq)]
pub struct Seeded {
    pub channels: u64,
    pub drops: u64,
    pub answers: u64,
    pub member_stats: u64,
    pub seconds: f64,
}

/// Rows per multi-row INSERT (SQLite allows 32,766 bound values).
const BATCH: usize = 1_000;

/// Writes the database at `path` (which must not exist yet).
pub async fn seed(path: &Path, bank: Arc<QuestionBank>, spec: SeedSpec) -> anyhow::Result<Seeded> {
    if spec.channels == 0 || spec.drops < spec.channels || spec.members == 0 {
        bail!("need at least one channel, one drop per channel and one member");
    }
    if path.exists() {
        bail!(
            "{} already exists; seed a new file (nothing was changed)",
            path.display()
        );
    }
    let started = Instant::now();
    let store = Store::open_path(path).await?;
    let practice = Practice::new(store.clone(), bank.clone());
    let ids: Vec<&str> = bank.all().iter().map(|q| q.id.as_str()).collect();
    if ids.is_empty() {
        bail!("the question bank is empty");
    }
    let per_channel = spec.drops / spec.channels;
    let start = NaiveDate::from_ymd_opt(2026, 1, 1).context("start date")?;
    let setup_at = start
        .and_time(NaiveTime::MIN)
        .and_utc()
        .checked_sub_signed(Duration::days(1))
        .context("setup time")?;
    for c in 0..spec.channels {
        practice
            .setup_channel(
                ChannelSetup {
                    address: prepbot_core::chat::ChannelAddress::new(
                        prepbot_core::chat::Platform::Discord,
                        guild_id(c).to_string(),
                        channel_id(c).to_string(),
                    ),
                    name: Some(format!("study-{c}")),
                    time: NaiveTime::from_hms_opt(9, 0, 0).context("time")?,
                    zone: parse_zone("UTC")?,
                    days: Days::DAILY,
                    reveal_after_hours: 8,
                    pool: PoolFilter::default(),
                },
                spec.seed ^ c,
                setup_at,
            )
            .await?;
    }

    // Drops: every channel's history is revealed but its last drop, which is open.
    struct DropRow {
        id: i64,
        channel: u64,
        seq: u32,
        date: NaiveDate,
        question: String,
        due: DateTime<Utc>,
        open: bool,
    }
    let mut drops = Vec::with_capacity((per_channel * spec.channels) as usize);
    let mut next_id = 1i64;
    for c in 0..spec.channels {
        for i in 0..per_channel {
            let date = start + Duration::days(i as i64);
            drops.push(DropRow {
                id: next_id,
                channel: c,
                seq: i as u32 + 1,
                date,
                question: ids[(mix64(spec.seed ^ (c << 32) ^ i) % ids.len() as u64) as usize]
                    .to_string(),
                due: date.and_hms_opt(9, 0, 0).context("due")?.and_utc(),
                open: i + 1 == per_channel,
            });
            next_id += 1;
        }
    }
    let history: Vec<DropRecord> = drops
        .iter()
        .map(|d| {
            let message = (channel_id(d.channel) + 1_000_000 * d.seq as u64).to_string();
            let reveal = d.due + Duration::hours(8);
            DropRecord {
                id: d.id,
                channel_id: channel_key(d.channel),
                local_date: d.date,
                state: if d.open {
                    DropState::Posted
                } else {
                    DropState::Revealed
                },
                question_id: Some(d.question.clone()),
                seq: Some(d.seq),
                due_at: d.due,
                reveal_due_at: reveal,
                claimed_at: Some(d.due),
                lease_until: None,
                attempts: 1,
                posted_at: Some(d.due),
                revealed_at: (!d.open).then_some(reveal),
                message_id: Some(message.clone()),
                thread_id: Some(message),
                failure: None,
                // History only: no claim is held by any process.
                holder: None,
                thread_opener: None,
            }
        })
        .collect();
    let mut tx = store.write().await?;
    drops::insert_history(&mut tx, &history).await?;
    tx.commit().await?;

    // Answers, spread evenly over the drops, by members drawn reproducibly; and
    // the streaks the reveals would have settled.
    let per_drop = (spec.answers / drops.len() as u64).max(1);
    let mut streaks: HashMap<(u64, u64), MemberStreak> = HashMap::new();
    let mut message_id = 940_000_000_000_000_000u64;
    let mut answers = 0u64;
    let mut tx = store.write().await?;
    let mut pending: Vec<StoredAnswer> = Vec::with_capacity(BATCH);
    for d in &drops {
        let mut on_time: HashSet<u64> = HashSet::new();
        for j in 0..per_drop {
            let m = mix64(spec.seed ^ ((d.id as u64) << 24) ^ j) % spec.members + 1;
            let at = d.due + Duration::seconds(((j * 29) % (8 * 3600 - 1)) as i64);
            message_id += 1;
            pending.push(StoredAnswer {
                channel_id: channel_key(d.channel),
                message_id: message_id.to_string(),
                drop_id: d.id,
                member_id: member_id(m).to_string(),
                member_name: member_name(m),
                body: format!(
                    "Answer {message_id} by member {m}: start from the requirements, size the load, then name the trade-off."
                ),
                posted_at: at,
                edited_at: None,
                withdrawn_at: None,
            });
            if !d.open && on_time.insert(m) {
                let key = (d.channel, m);
                let next = settle(streaks.get(&key), d.seq, at);
                streaks.insert(key, next);
            }
            if pending.len() == BATCH {
                answers += insert(&mut tx, &pending).await?;
                pending.clear();
            }
        }
    }
    answers += insert(&mut tx, &pending).await?;
    tx.commit().await?;

    let stats: Vec<MemberStats> = streaks
        .into_iter()
        .map(|((c, m), streak)| MemberStats {
            channel_id: channel_key(c),
            member_id: member_id(m).to_string(),
            member_name: member_name(m),
            streak,
        })
        .collect();
    let mut tx = store.write().await?;
    member_stats::insert_many(&mut tx, &stats).await?;
    tx.commit().await?;
    store.optimize().await?;
    store.close().await;
    Ok(Seeded {
        channels: spec.channels,
        drops: drops.len() as u64,
        answers,
        member_stats: stats.len() as u64,
        seconds: started.elapsed().as_secs_f64(),
    })
}

async fn insert(tx: &mut Conn, rows: &[StoredAnswer]) -> anyhow::Result<u64> {
    let refs: Vec<&StoredAnswer> = rows.iter().collect();
    Ok(answers::insert_many(tx, &refs).await?.len() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_small_seed_is_consistent_with_the_rules() {
        let bank = QuestionBank::load(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../questions"),
        )
        .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("seed.db");
        let spec = SeedSpec {
            members: 50,
            answers: 2_000,
            drops: 20,
            channels: 2,
            seed: 7,
        };
        let seeded = seed(&path, Arc::new(bank.clone()), spec).await.unwrap();
        assert_eq!(
            (seeded.channels, seeded.drops, seeded.answers),
            (2, 20, 2_000)
        );
        assert!(
            seed(&path, Arc::new(bank.clone()), spec).await.is_err(),
            "never overwrites"
        );

        // The streaks stored are the ones the practice layer would report, and a
        // second seed with the same spec is identical.
        let store = Store::open_path(&path).await.unwrap();
        let p = Practice::new(store, Arc::new(bank.clone()));
        let board = p.leaderboard(channel_key(0), 5).await.unwrap();
        assert_eq!(board.len(), 5);
        assert!(board.windows(2).all(|w| w[0].current >= w[1].current));
        let open = p.open_drop(channel_key(1)).await.unwrap().unwrap();
        assert_eq!(open.seq, Some(10));
        let path2 = dir.path().join("seed2.db");
        seed(&path2, Arc::new(bank.clone()), spec).await.unwrap();
        let p2 = Practice::new(Store::open_path(&path2).await.unwrap(), Arc::new(bank));
        assert_eq!(p2.leaderboard(channel_key(0), 5).await.unwrap(), board);
    }
}
