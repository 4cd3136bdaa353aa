//! The use cases every adapter calls: set up a channel, claim and post drops,
//! record answers, reveal, and read streaks. Each joins the engine's rules to the
//! store inside one write transaction, so a restart or a second process sees either
//! all of a step or none of it.

use std::collections::{HashMap, HashSet};

use rustc_hash::FxHashMap;
use std::sync::Arc;

use chrono::{DateTime, Duration, NaiveTime, Utc};
use chrono_tz::Tz;
use tracing::{info, warn};

use crate::bank::{PoolFilter, Question, QuestionBank};
use crate::chat::{ChannelAddress, Platform, ThreadRef};
use crate::engine::answers::{answerers, is_on_time};
use crate::engine::reveal::{
    AnswerSummary, DropPost, RevealContent, TextBlock, build_reveal, drop_post,
};
use crate::engine::rotation::pick_next;
use crate::engine::schedule::{Days, Occurrence, Schedule, ScheduleError};
use crate::engine::streak::{
    ChannelProgress, MemberStreak, current_streak, is_milestone, replay, settle,
};
use crate::engine::{DropState, answers::Answerers};
use crate::ports::OutboundError;
use crate::process::ProcessIdentity;
use crate::store::answers::StoredAnswer;
use crate::store::channels::Channel;
use crate::store::drops::{DropRecord, Lease, LeaseTake};
use crate::store::member_stats::MemberStats;
use crate::store::{
    Conn, Store, StoreError, answers, channels, drops, forgotten, member_stats, notify, processes,
    rotation,
};

/// How long a claim or reveal lease lasts before another attempt may take it over.
/// Adapters must give up on a platform call well within it.
pub const LEASE: Duration = Duration::seconds(120);

/// Reveal attempts before a drop is closed without its reveal (about 45 minutes of
/// backoff), so a reveal that cannot be posted does not hold up the next drop.
pub const MAX_REVEAL_ATTEMPTS: u32 = 8;

/// A message as a platform lists it when the bot catches up: the member's message
/// and, if it was edited, when.
#[derive(Debug, Clone)]
pub struct ListedMessage {
    pub message: IncomingMessage,
    pub edited_at: Option<DateTime<Utc>>,
}

/// What catching up on one thread changed.
#[derive(Debug, Default)]
pub struct Reconciled {
    /// Messages stored for the first time, with what was recorded.
    pub stored: Vec<(String, RecordedAnswer)>,
    pub withdrawn: usize,
}

/// Errors from a use case. [`PracticeError::is_user_error`] tells adapters which ones
/// to show to the person who asked, as they are.
#[derive(Debug, thiserror::Error)]
pub enum PracticeError {
    #[error(transparent)]
    Schedule(#[from] ScheduleError),
    #[error("no question in the bank matches {0}: pick another topic or difficulty")]
    EmptyPool(PoolFilter),
    #[error("this channel has no schedule yet: run /setup here first")]
    NotConfigured,
    #[error("today's drop in this channel is already out")]
    AlreadyOut(Box<DropRecord>),
    #[error(
        "another drop in this channel is still being posted or revealed; try again in a minute"
    )]
    Busy,
    #[error(
        "today's question is being posted right now; it should appear within {within_secs} s (if it has not by then, ask for the drop again)"
    )]
    BeingPosted { within_secs: i64 },
    #[error("the platform refused the post: {0}")]
    PostFailed(String),
    #[error("the answer writer has stopped (the bot is shutting down)")]
    WriterStopped,
    #[error("PREPBOT_SHARDS does not fit the processes already running: {0}")]
    ShardConflict(String),
    #[error("PREPBOT_SLACK_CONNECTIONS does not fit the processes already running: {0}")]
    TooManySlackConnections(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl PracticeError {
    /// Whether the person who asked should see this error as it is. A database that
    /// cannot be reached is one ([`StoreError::Unavailable`]): its words say what
    /// happened and to try again, and nothing more (no URL, no driver detail). Other
    /// store errors, a refused post and a stopped writer are ours: the adapter logs
    /// them and shows a generic line.
    pub fn is_user_error(&self) -> bool {
        match self {
            PracticeError::Store(e) => e.is_unavailable(),
            PracticeError::PostFailed(_)
            | PracticeError::WriterStopped
            | PracticeError::ShardConflict(_)
            | PracticeError::TooManySlackConnections(_) => false,
            _ => true,
        }
    }

    /// Whether the database could not be reached ([`StoreError::Unavailable`]):
    /// the same request works once it is back.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, PracticeError::Store(e) if e.is_unavailable())
    }
}

pub type Result<T, E = PracticeError> = std::result::Result<T, E>;

/// What removing a channel's schedule does with its drops, answers and streaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum History {
    Keep,
    Delete,
}

/// What removing a schedule removed, or would remove when not yet confirmed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Removal {
    pub drops: u64,
    pub answers: u64,
    pub history: History,
    /// False: only counted, nothing changed; the adapter asks for a confirmation.
    pub done: bool,
}

/// What forgetting a member deleted, or would delete when not yet confirmed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Forgotten {
    /// Channels where they had answers or a streak.
    pub channels: u64,
    pub answers: u64,
    /// False: only counted, nothing changed; the adapter asks for a confirmation.
    pub done: bool,
}

fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

impl Removal {
    /// What it removes, as every platform's reply words it: "1 drop and 2 stored
    /// answers".
    pub fn counts(&self) -> String {
        format!(
            "{} and {}",
            plural(self.drops, "drop", "drops"),
            plural(self.answers, "stored answer", "stored answers")
        )
    }
}

impl Forgotten {
    /// What it deletes, as every platform's reply words it: "2 stored answers and
    /// the streaks in 1 channel".
    pub fn counts(&self) -> String {
        format!(
            "{} and the streaks in {}",
            plural(self.answers, "stored answer", "stored answers"),
            plural(self.channels, "channel", "channels")
        )
    }

    /// Whether there was nothing of theirs to delete.
    pub fn nothing(&self) -> bool {
        self.answers == 0 && self.channels == 0
    }
}

/// A channel's schedule as a user gives it, already parsed.
#[derive(Debug, Clone)]
pub struct ChannelSetup {
    pub address: ChannelAddress,
    /// The channel's name as the platform shows it, if the adapter knows it.
    pub name: Option<String>,
    pub time: NaiveTime,
    pub zone: Tz,
    pub days: Days,
    pub reveal_after_hours: u32,
    pub pool: PoolFilter,
}

/// Something the scheduler must do, and for which channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Work {
    /// Open the thread of a posted drop whose poster died before opening it. Sorted
    /// first: the thread is there before the drop's reveal goes into it.
    OpenThread {
        drop_id: i64,
        channel_id: i64,
        platform: Platform,
    },
    /// Reveal an open drop. Sorted first: a reveal due at the same instant as the
    /// channel's next drop happens before it.
    Reveal {
        drop_id: i64,
        channel_id: i64,
        platform: Platform,
    },
    /// Retry posting a claimed drop whose lease ran out.
    RetryPost {
        drop_id: i64,
        channel_id: i64,
        platform: Platform,
    },
    /// The channel's next scheduled drop (`channel_id` is the channel's key).
    Drop { channel_id: i64, platform: Platform },
}

impl Work {
    /// The platform of the item's channel: the scheduler routes by it, and leaves the
    /// items of a platform that is not ready as they are.
    pub fn platform(&self) -> Platform {
        match self {
            Work::OpenThread { platform, .. }
            | Work::Reveal { platform, .. }
            | Work::RetryPost { platform, .. }
            | Work::Drop { platform, .. } => *platform,
        }
    }
}

/// A drop claimed for posting: the post to send.
#[derive(Debug, Clone)]
pub struct ClaimedDrop {
    pub drop: DropRecord,
    /// Where it goes.
    pub channel: ChannelAddress,
    pub post: DropPost,
}

/// Work on a drop that needs its lease ([`Practice::claim_retry`],
/// [`Practice::claim_reveal`]).
#[derive(Debug, Clone)]
pub enum Leased<T> {
    /// The lease is this process's: do the work.
    Taken(T),
    /// Not now: a live process holds the lease, the drop waits to retry, or it is
    /// no longer in the state the work needs. The agenda says when to look again.
    NotNow,
    /// Another process was taking the lease at that instant (PostgreSQL's `SKIP
    /// LOCKED`): look again in a moment, when the row says who has it.
    Busy,
}

/// A posted drop whose thread this process took over opening
/// ([`Practice::take_thread`]).
#[derive(Debug, Clone)]
pub struct ThreadJob {
    pub drop: DropRecord,
    pub channel: ChannelAddress,
    /// The drop as posted (the thread's name comes from it).
    pub post: DropPost,
}

/// An open drop leased for revealing: the reveal to send.
#[derive(Debug, Clone)]
pub struct RevealJob {
    pub drop: DropRecord,
    pub channel: ChannelAddress,
    pub content: RevealContent,
}

/// A message seen in a thread.
#[derive(Debug, Clone)]
pub struct IncomingMessage {
    pub thread: ThreadRef,
    pub message_id: String,
    pub member_id: String,
    pub member_name: String,
    pub body: String,
    pub posted_at: DateTime<Utc>,
}

/// What happened to a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordedAnswer {
    pub drop_id: i64,
    pub on_time: bool,
    /// False when the same message id was already stored (a replayed event).
    pub new: bool,
    /// The message was deleted before it was stored (its delete arrived first).
    pub withdrawn: bool,
}

/// A change to a thread's messages as a platform reports it. Events about one
/// message may arrive in any order; applying them in any order gives the same
/// stored answer.
#[derive(Debug, Clone)]
pub enum AnswerEvent {
    /// A message posted ([`Practice::record_message`]).
    Posted(IncomingMessage),
    /// An edit with the whole message, enough to store it if its create has not
    /// been seen ([`Practice::record_edit`]).
    Edited {
        message: IncomingMessage,
        edited_at: DateTime<Utc>,
    },
    /// An edit known only by its ids ([`Practice::edit_in_thread`]).
    EditedText {
        thread: ThreadRef,
        message_id: String,
        body: String,
        edited_at: DateTime<Utc>,
    },
    /// A message deleted ([`Practice::withdraw_in_thread`]).
    Deleted {
        thread: ThreadRef,
        message_id: String,
        at: DateTime<Utc>,
    },
    /// An edit known only by its channel and message id, with no thread: Slack's
    /// `message_changed` (see [`Practice::edit_in_channel`]).
    EditedInChannel {
        channel: ChannelAddress,
        message_id: String,
        /// When the message was posted (on Slack, its `ts`).
        posted_at: DateTime<Utc>,
        body: String,
        edited_at: DateTime<Utc>,
    },
    /// A delete known only by its channel and message id: Slack's `message_deleted`.
    DeletedInChannel {
        channel: ChannelAddress,
        message_id: String,
        posted_at: DateTime<Utc>,
        at: DateTime<Utc>,
    },
}

impl AnswerEvent {
    /// The whole message, for a message posted or edited whole, and the edit's time.
    pub fn message(&self) -> Option<(&IncomingMessage, Option<DateTime<Utc>>)> {
        match self {
            AnswerEvent::Posted(m) => Some((m, None)),
            AnswerEvent::Edited { message, edited_at } => Some((message, Some(*edited_at))),
            AnswerEvent::EditedText { .. }
            | AnswerEvent::Deleted { .. }
            | AnswerEvent::EditedInChannel { .. }
            | AnswerEvent::DeletedInChannel { .. } => None,
        }
    }
}

/// How much earlier than its drop's recorded post a message may claim to be and
/// still have its early edit or delete kept (see [`Practice::edit_in_channel`]).
const EARLY_EVENT_SKEW: Duration = Duration::seconds(60);

/// What an edit or delete event does to its message.
#[derive(Debug, Clone, Copy)]
enum MessageChange<'a> {
    Edit { body: &'a str, at: DateTime<Utc> },
    Withdraw { at: DateTime<Utc> },
}

/// The drop an early edit or delete hangs off: the thread's, when the event named
/// it; otherwise the channel's latest, if it takes answers and was posted by the
/// message's time.
#[derive(Debug, Clone, Copy)]
enum EarlyDrop {
    Known(i64),
    LatestTakingAnswers { posted_at: DateTime<Utc> },
}

/// A message about to be stored: its drop, the row, and whether it is on time.
#[derive(Debug)]
struct PlannedAnswer {
    drop: Arc<DropRecord>,
    row: StoredAnswer,
    on_time: bool,
}

/// What applying an [`AnswerEvent`] did: what a posted or fully edited message
/// recorded, or whether an edit or delete by id applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnswerOutcome {
    Recorded(Option<RecordedAnswer>),
    Applied(bool),
}

impl AnswerOutcome {
    /// What a posted or fully edited message recorded; `None` for the other events.
    pub fn recorded(self) -> Option<RecordedAnswer> {
        match self {
            AnswerOutcome::Recorded(r) => r,
            AnswerOutcome::Applied(_) => None,
        }
    }
}

/// What one write transaction has read and may read again without asking the
/// database: no answer event changes a drop, so each thread's drop is read once;
/// and the answer writer reads the early edits and deletes of a whole batch's
/// messages in one query up front. An early edit or delete written in the
/// transaction makes its message's entry stale, so it is read again if needed.
#[derive(Debug, Default)]
pub(crate) struct TransactionReads {
    /// Shared, not cloned, on each look-up: it runs twice per answer in a batch, and
    /// a `DropRecord` holds up to six strings (BENCHMARKS.md, "Where the extra
    /// resident memory came from": allocations per answer).
    drops: FxHashMap<ThreadRef, Option<Arc<DropRecord>>>,
    /// Channel key -> message id -> its early edit or delete (nested, so a lookup
    /// by `&str` allocates nothing: it runs once per answer in a batch).
    early: FxHashMap<i64, FxHashMap<String, answers::EarlyEvent>>,
    /// Channel key -> the members forgotten there and when: read once per channel
    /// per transaction, since almost every channel has none.
    forgotten: FxHashMap<i64, HashMap<String, DateTime<Utc>>>,
}

impl TransactionReads {
    async fn drop_of_thread(
        &mut self,
        tx: &mut Conn,
        thread: &ThreadRef,
    ) -> Result<Option<Arc<DropRecord>>> {
        if let Some(known) = self.drops.get(thread) {
            return Ok(known.clone());
        }
        let drop = drops::by_thread(tx, thread).await?.map(Arc::new);
        self.drops.insert(thread.clone(), drop.clone());
        Ok(drop)
    }

    /// Reads the early edits and deletes of `messages` with one query per channel
    /// (a batch is almost always one or a few channels).
    pub(crate) async fn read_early_events(
        &mut self,
        tx: &mut Conn,
        messages: &[&IncomingMessage],
    ) -> Result<()> {
        let mut by_channel: FxHashMap<i64, Vec<&str>> = FxHashMap::default();
        for m in messages {
            if let Some(drop) = self.drop_of_thread(tx, &m.thread).await? {
                by_channel
                    .entry(drop.channel_id)
                    .or_default()
                    .push(&m.message_id);
            }
        }
        for (channel_id, ids) in by_channel {
            let mut found = answers::early_events(tx, channel_id, &ids).await?;
            let known = self.early.entry(channel_id).or_default();
            for id in ids {
                known.insert(id.to_string(), found.remove(id).unwrap_or_default());
            }
        }
        Ok(())
    }

    async fn early_event(
        &mut self,
        tx: &mut Conn,
        channel_id: i64,
        message_id: &str,
    ) -> Result<answers::EarlyEvent> {
        if let Some(known) = self
            .early
            .get(&channel_id)
            .and_then(|known| known.get(message_id))
        {
            return Ok(known.clone());
        }
        Ok(answers::early_event(tx, channel_id, message_id)
            .await?
            .unwrap_or_default())
    }

    /// Whether a message is one a member asked to be forgotten: theirs, posted no
    /// later than they asked. Catching up lists a thread again after a restart, and
    /// would otherwise store it a second time.
    async fn is_forgotten(
        &mut self,
        tx: &mut Conn,
        channel_id: i64,
        msg: &IncomingMessage,
    ) -> Result<bool> {
        let members = match self.forgotten.entry(channel_id) {
            std::collections::hash_map::Entry::Occupied(known) => known.into_mut(),
            std::collections::hash_map::Entry::Vacant(slot) => {
                slot.insert(forgotten::in_channel(tx, channel_id).await?)
            }
        };
        Ok(members
            .get(&msg.member_id)
            .is_some_and(|at| msg.posted_at <= *at))
    }

    fn early_event_written(&mut self, channel_id: i64, message_id: &str) {
        if let Some(known) = self.early.get_mut(&channel_id) {
            known.remove(message_id);
        }
    }
}

/// What a lookup by id found ([`Practice::look_up`]).
#[derive(Debug, Clone, Copy)]
pub enum Lookup<'a> {
    Unknown,
    /// Open in the workspace right now: show the prompt, not the model answer.
    Hidden(&'a Question),
    Shown(&'a Question),
}

/// A member's streak as shown to users.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreakView {
    pub member_id: String,
    pub member_name: String,
    pub current: u32,
    pub best: u32,
    pub total_on_time: u32,
    pub last_answered_at: DateTime<Utc>,
}

/// What `/question today` reads in a channel ([`Practice::today_at`]).
#[derive(Debug, Clone)]
pub struct Today {
    pub channel: Channel,
    /// The drop posted and not yet revealed.
    pub open: Option<DropRecord>,
    /// The next scheduled drop; `None` while paused.
    pub next_drop: Option<Occurrence>,
}

/// Exponential backoff for retries: 30 s, 1 min, 2 min... capped at 15 minutes.
pub fn backoff(attempts: u32) -> Duration {
    let secs = 30i64.saturating_mul(1i64 << attempts.saturating_sub(1).min(10));
    Duration::seconds(secs.min(15 * 60))
}

#[derive(Debug, Clone)]
pub struct Practice {
    store: Store,
    bank: Arc<QuestionBank>,
    lease: Duration,
    catch_up_grace: Option<Duration>,
    /// Who holds the claims this `Practice` takes ([`crate::process`]), once
    /// registered ([`Practice::register_process`]).
    process: Arc<ProcessIdentity>,
    registered: Arc<std::sync::atomic::AtomicBool>,
    /// The Slack Socket Mode connections this process opens (0: no Slack),
    /// registered with it so that the processes together stay within Slack's
    /// per-app limit ([`crate::process::SLACK_CONNECTIONS_PER_APP`]).
    slack_connections: u32,
}

impl Practice {
    /// Sets how long a claim on a drop or a reveal holds ([`LEASE`] by default): a
    /// claim left by a process that died is taken over once it runs out.
    pub fn with_lease(mut self, lease: Duration) -> Self {
        self.lease = lease;
        self
    }

    pub fn lease(&self) -> Duration {
        self.lease
    }

    /// How late after its time a drop that fell due while the bot was down may
    /// still be posted; past that (or past its reveal time, whichever is first) it
    /// is recorded as missed. `None` (the default): until the reveal time.
    pub fn with_catch_up_grace(mut self, grace: Option<Duration>) -> Self {
        self.catch_up_grace = grace;
        self
    }

    pub fn new(store: Store, bank: Arc<QuestionBank>) -> Self {
        Practice {
            store,
            bank,
            lease: LEASE,
            catch_up_grace: None,
            process: Arc::new(ProcessIdentity::fresh()),
            registered: Arc::default(),
            slack_connections: 0,
        }
    }

    /// Registers this process as opening `connections` Slack Socket Mode
    /// connections (see [`Practice::register_process`]).
    pub fn with_slack_connections(mut self, connections: u32) -> Self {
        self.slack_connections = connections;
        self
    }

    /// Takes claims as `process` (tests: a process "on another host").
    pub fn with_process(mut self, process: ProcessIdentity) -> Self {
        self.process = Arc::new(process);
        self.registered = Arc::default();
        self
    }

    /// This process, as its claims name it.
    pub fn process(&self) -> &ProcessIdentity {
        &self.process
    }

    /// A claim or reveal lease taken by this process at `now`: named after it once
    /// it is registered, so others can tell when it died; by the lease alone before.
    fn lease_at(&self, now: DateTime<Utc>) -> Lease<'_> {
        let registered = self.registered.load(std::sync::atomic::Ordering::Acquire);
        Lease {
            holder: registered.then_some(self.process.id.as_str()),
            now,
            until: now + self.lease,
        }
    }

    pub fn bank(&self) -> &QuestionBank {
        &self.bank
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    // ---- channel setup -------------------------------------------------------

    /// Sets (or replaces) a channel's schedule, from `now`. `seed` seeds the
    /// channel's rotation the first time; a re-setup keeps its place.
    pub async fn setup_channel(
        &self,
        setup: ChannelSetup,
        seed: u64,
        now: DateTime<Utc>,
    ) -> Result<(Channel, Occurrence)> {
        if self.bank.pool(&setup.pool).next().is_none() {
            return Err(PracticeError::EmptyPool(setup.pool));
        }
        let mut channel = Channel {
            key: 0,
            address: setup.address,
            name: setup.name,
            schedule: Schedule {
                time: setup.time,
                zone: setup.zone,
                days: setup.days,
                reveal_after_hours: setup.reveal_after_hours,
                pool: setup.pool,
                paused: false,
            },
            active_from: now,
            pause_reason: None,
        };
        let mut tx = self.store.write().await?;
        channel.key = channels::upsert(&mut tx, &channel, now).await?;
        rotation::ensure(&mut tx, channel.key, seed).await?;
        let latest = drops::latest(&mut tx, channel.key).await?;
        // The stored row (a re-setup without a name keeps the known one).
        let channel = channels::get(&mut tx, channel.key)
            .await?
            .ok_or_else(|| StoreError::Corrupt("a channel vanished while set up".into()))?;
        notify::agenda_changed(&mut tx).await?;
        tx.commit().await.map_err(StoreError::from)?;
        let next = channel
            .schedule
            .next_occurrence(latest.map(|d| d.local_date), now);
        info!(channel = channel.key, platform = %channel.address.platform, conversation = %channel.address.conversation, next_drop = %next.drop_at, "channel set up");
        Ok((channel, next))
    }

    /// The channel with this key.
    pub async fn channel(&self, key: i64) -> Result<Option<Channel>> {
        let mut conn = self.store.read().await?;
        Ok(channels::get(&mut conn, key).await?)
    }

    /// The channel at a platform address, if it has a schedule: how an adapter's
    /// command finds the channel it was run in.
    pub async fn channel_at(&self, address: &ChannelAddress) -> Result<Option<Channel>> {
        let mut conn = self.store.read().await?;
        Ok(channels::find(&mut conn, address).await?)
    }

    /// Records a channel's name as the platform shows it now (it was renamed).
    pub async fn rename_channel(&self, key: i64, name: &str) -> Result<()> {
        let mut tx = self.store.write().await?;
        channels::set_name(&mut tx, key, name).await?;
        tx.commit().await.map_err(StoreError::from)?;
        Ok(())
    }

    /// Pauses or resumes a channel; resuming skips the days that passed while paused.
    pub async fn set_paused(
        &self,
        channel_id: i64,
        paused: bool,
        now: DateTime<Utc>,
    ) -> Result<Channel> {
        let mut tx = self.store.write().await?;
        if !channels::set_paused(&mut tx, channel_id, paused, now).await? {
            return Err(PracticeError::NotConfigured);
        }
        let channel = channels::get(&mut tx, channel_id)
            .await?
            .ok_or(PracticeError::NotConfigured)?;
        notify::agenda_changed(&mut tx).await?;
        tx.commit().await.map_err(StoreError::from)?;
        Ok(channel)
    }

    /// The platform says the channel no longer exists: pause its schedule (kept,
    /// with its history and streaks, in case it was a mistake) and say why.
    pub async fn channel_gone(&self, channel_id: i64, why: &str, now: DateTime<Utc>) -> Result<()> {
        let mut tx = self.store.write().await?;
        if channels::pause_with_reason(&mut tx, channel_id, why, now).await? {
            warn!(
                channel = channel_id,
                reason = why,
                "the channel is gone; its schedule is paused, not deleted"
            );
        }
        notify::agenda_changed(&mut tx).await?;
        tx.commit().await.map_err(StoreError::from)?;
        Ok(())
    }

    /// Removes a channel's schedule (an admin asked), keeping its history or deleting
    /// it. Unless `confirmed`, nothing changes: the result says what would go, for the
    /// adapter to ask again. Kept history stays in the database, and a new setup in
    /// the same channel carries on from it (streaks, rotation); an open drop is still
    /// revealed on time. Deleted history is every drop, answer and streak of the
    /// channel; an open drop's thread stays on the platform unrevealed.
    pub async fn remove_schedule(
        &self,
        channel_id: i64,
        history: History,
        confirmed: bool,
        by: &str,
        now: DateTime<Utc>,
    ) -> Result<Removal> {
        let mut tx = self.store.write().await?;
        let channel = channels::get(&mut tx, channel_id)
            .await?
            .ok_or(PracticeError::NotConfigured)?;
        let drops: u64 = drops::count_by_state(&mut tx, channel_id)
            .await?
            .iter()
            .map(|(_, n)| u64::from(*n))
            .sum();
        let answers = answers::count_for_channel(&mut tx, channel_id).await?;
        let removal = Removal {
            drops,
            answers,
            history,
            done: confirmed,
        };
        if !confirmed {
            tx.rollback().await.map_err(StoreError::from)?;
            return Ok(removal);
        }
        let removed = match history {
            History::Keep => channels::mark_removed(&mut tx, channel_id, now).await?,
            History::Delete => channels::delete(&mut tx, channel_id).await?,
        };
        if !removed {
            return Err(PracticeError::NotConfigured);
        }
        notify::agenda_changed(&mut tx).await?;
        tx.commit().await.map_err(StoreError::from)?;
        info!(
            channel = channel_id,
            platform = %channel.address.platform,
            conversation = %channel.address.conversation,
            by,
            history = ?history,
            drops,
            answers,
            "schedule removed"
        );
        Ok(removal)
    }

    /// Forgets a member in every channel of a workspace (they asked, or an admin did
    /// after they left): their stored answers and streaks are deleted, and a tombstone
    /// per channel keeps catching up from storing those messages again. Unless
    /// `confirmed`, nothing changes and the result counts what would go. What the bot
    /// already posted (reveals naming them) stays on the platform.
    pub async fn forget_member(
        &self,
        platform: Platform,
        workspace: &str,
        member_id: &str,
        by: &str,
        confirmed: bool,
        now: DateTime<Utc>,
    ) -> Result<Forgotten> {
        let mut tx = self.store.write().await?;
        let keys = channels::keys_in_workspace(&mut tx, platform, workspace).await?;
        let mut done = Forgotten {
            done: confirmed,
            ..Forgotten::default()
        };
        for key in keys {
            let (answers, stats) = if confirmed {
                let answers = answers::delete_for_member(&mut tx, key, member_id).await?;
                let stats = member_stats::delete(&mut tx, key, member_id).await?;
                forgotten::record(&mut tx, key, member_id, now).await?;
                (answers, stats)
            } else {
                let answers = answers::count_for_member(&mut tx, key, member_id).await?;
                let stats = member_stats::get(&mut tx, key, member_id).await?.is_some();
                (answers, stats)
            };
            done.answers += answers;
            if answers > 0 || stats {
                done.channels += 1;
            }
        }
        if !confirmed {
            tx.rollback().await.map_err(StoreError::from)?;
            return Ok(done);
        }
        tx.commit().await.map_err(StoreError::from)?;
        // Ids only: the answers' text is exactly what was asked to be forgotten.
        info!(
            platform = %platform,
            workspace,
            member = member_id,
            by,
            channels = done.channels,
            answers = done.answers,
            "member forgotten"
        );
        Ok(done)
    }

    /// The channel's most recent drop if it failed (with why): what `/schedule
    /// show` reports as "last drop failed".
    pub async fn last_failure(&self, channel_id: i64) -> Result<Option<DropRecord>> {
        let mut conn = self.store.read().await?;
        Ok(drops::latest(&mut conn, channel_id)
            .await?
            .filter(crate::schedule_view::is_failed))
    }

    /// What `/schedule show` reports about the channel at `address` at `now`;
    /// `None` if it has no schedule. One statement, the channel lookup included.
    pub async fn schedule_view_at(
        &self,
        address: &ChannelAddress,
        now: DateTime<Utc>,
    ) -> Result<Option<crate::schedule_view::ScheduleView>> {
        Ok(crate::schedule_view::view_at(&self.store, address, now).await?)
    }

    /// What `/question today` reads in the channel at `address` at `now`: `None` if
    /// it has no schedule; else its open drop and, for when none is open, its next
    /// scheduled drop as [`Practice::next_drop`] tells it. One statement, the
    /// channel lookup included.
    pub async fn today_at(
        &self,
        address: &ChannelAddress,
        now: DateTime<Utc>,
    ) -> Result<Option<Today>> {
        let mut conn = self.store.read().await?;
        let Some((channel, latest, open)) =
            channels::find_with_open_drop(&mut conn, address).await?
        else {
            return Ok(None);
        };
        let next_drop = (!channel.schedule.paused).then(|| {
            channel
                .schedule
                .next_occurrence(latest, now.max(channel.active_from))
        });
        Ok(Some(Today {
            channel,
            open,
            next_drop,
        }))
    }

    /// The channel's next scheduled drop after `now`; `None` while paused.
    pub async fn next_drop(
        &self,
        channel: &Channel,
        now: DateTime<Utc>,
    ) -> Result<Option<Occurrence>> {
        if channel.schedule.paused {
            return Ok(None);
        }
        let mut conn = self.store.read().await?;
        let latest = drops::latest(&mut conn, channel.key).await?;
        Ok(Some(channel.schedule.next_occurrence(
            latest.map(|d| d.local_date),
            now.max(channel.active_from),
        )))
    }

    // ---- the scheduler's agenda ---------------------------------------------

    /// Everything pending, each with the instant it is due, sorted. Items due at or
    /// before `now` should run now; the first later one is when to wake up. Three
    /// queries, whatever the number of channels.
    pub async fn agenda(&self) -> Result<Vec<(DateTime<Utc>, Work)>> {
        let mut conn = self.store.read().await?;
        let mut items = Vec::new();
        let mut next_drop_of = HashMap::new();
        for (ch, latest) in channels::list_active_with_latest_drop(&mut conn).await? {
            let next = ch.schedule.next_occurrence(latest, ch.active_from);
            next_drop_of.insert(ch.key, next.drop_at);
            items.push((
                next.drop_at,
                Work::Drop {
                    channel_id: ch.key,
                    platform: ch.address.platform,
                },
            ));
        }
        for drops::InState {
            drop: d,
            platform,
            holder_heard_at,
            opener_heard_at,
        } in drops::in_state_with_platform(&mut conn, DropState::Posted).await?
        {
            // A thread another process was opening: due when that process is dead
            // (no row: now), unless it opens the thread first. This process's own
            // opening is in hand.
            if let Some(opener) = d.thread_opener.as_deref()
                && opener != self.process.id
            {
                let at = opener_heard_at.map_or(DateTime::<Utc>::MIN_UTC, |heard| {
                    heard + processes::PROCESS_LAPSE
                });
                items.push((
                    at,
                    Work::OpenThread {
                        drop_id: d.id,
                        channel_id: d.channel_id,
                        platform,
                    },
                ));
            }
            // A schedule changed since posting may bring the next drop forward; the
            // reveal still comes first.
            let mut at = d.reveal_due_at;
            if let Some(next) = next_drop_of.get(&d.channel_id) {
                at = at.min(*next);
            }
            if let Some(free) = self.lease_free_at(&d, holder_heard_at) {
                at = at.max(free);
            }
            items.push((
                at,
                Work::Reveal {
                    drop_id: d.id,
                    channel_id: d.channel_id,
                    platform,
                },
            ));
        }
        for drops::InState {
            drop: d,
            platform,
            holder_heard_at,
            ..
        } in drops::in_state_with_platform(&mut conn, DropState::Claimed).await?
        {
            let at = self.lease_free_at(&d, holder_heard_at).unwrap_or(d.due_at);
            items.push((
                at,
                Work::RetryPost {
                    drop_id: d.id,
                    channel_id: d.channel_id,
                    platform,
                },
            ));
        }
        items.sort();
        Ok(items)
    }

    /// When a drop's lease can be taken ([`drops::renew_claim`], [`drops::lease_reveal`]):
    /// `None` when it can be now: no lease, or the holder is another process
    /// without a row (`holder_heard_at` is its last heartbeat). Else the end of the
    /// lease or, if sooner, when the holder's heartbeat lapses.
    fn lease_free_at(
        &self,
        d: &DropRecord,
        holder_heard_at: Option<DateTime<Utc>>,
    ) -> Option<DateTime<Utc>> {
        let lease = d.lease_until?;
        match d.holder.as_deref() {
            Some(holder) if holder != self.process.id => {
                Some(lease.min(holder_heard_at? + processes::PROCESS_LAPSE))
            }
            _ => Some(lease),
        }
    }

    // ---- processes -------------------------------------------------------------

    /// Registers this process (with the Discord shards it serves, if a range) and
    /// removes the rows of processes it knows are gone: earlier runs on this host
    /// (see [`ProcessIdentity::knows_gone`]) and any whose heartbeat lapsed. Their
    /// claims are then finished at once. Returns the processes removed. Refuses
    /// ([`PracticeError::ShardConflict`]) when a live process serves shards that
    /// overlap this one's or counts a different total, and
    /// ([`PracticeError::TooManySlackConnections`]) when this process's Slack
    /// connections and the live processes' would be more than Slack allows an app
    /// (one more would be refused by Slack, or cut another process's off).
    pub async fn register_process(
        &self,
        shards: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<Vec<processes::ProcessRow>> {
        let mut tx = self.store.write().await?;
        let mut gone = Vec::new();
        let mut slack_held = Vec::new();
        for p in processes::all(&mut tx).await? {
            let lapsed = !p.alive_at(now);
            if p.id == self.process.id {
                continue;
            }
            if lapsed || self.process.knows_gone(&p.host, p.pid) {
                processes::remove(&mut tx, &p.id).await?;
                gone.push(p);
                continue;
            }
            if let (Some(mine), Some(theirs)) = (shards, p.shards.as_deref())
                && let Some(why) = crate::process::shard_conflict(mine, theirs)
            {
                return Err(PracticeError::ShardConflict(format!(
                    "{why} (process {} on {}, pid {}, PREPBOT_SHARDS={theirs}, heard {} s ago; if it has stopped, its registration lapses {} s after its last heartbeat)",
                    ProcessIdentity::short_id(&p.id),
                    p.host,
                    p.pid,
                    (now - p.heard_at).num_seconds().max(0),
                    processes::PROCESS_LAPSE.num_seconds()
                )));
            }
            if p.slack_connections > 0 {
                slack_held.push(p);
            }
        }
        let held: u32 = slack_held.iter().map(|p| p.slack_connections).sum();
        let limit = crate::process::SLACK_CONNECTIONS_PER_APP;
        if self.slack_connections > 0 && held + self.slack_connections > limit {
            let whose: Vec<String> = slack_held
                .iter()
                .map(|p| {
                    format!(
                        "process {} on {}, pid {}: {}",
                        ProcessIdentity::short_id(&p.id),
                        p.host,
                        p.pid,
                        p.slack_connections
                    )
                })
                .collect();
            return Err(PracticeError::TooManySlackConnections(format!(
                "Slack allows an app {limit} Socket Mode connections across all its processes; the running processes hold {held} ({}), and this one's {} would make {}: lower PREPBOT_SLACK_CONNECTIONS (processes x connections <= {limit}); a stopped process's registration lapses {} s after its last heartbeat",
                whose.join("; "),
                self.slack_connections,
                held + self.slack_connections,
                processes::PROCESS_LAPSE.num_seconds()
            )));
        }
        processes::register(&mut tx, &self.process_row(shards, now, now)).await?;
        tx.commit().await.map_err(StoreError::from)?;
        self.registered
            .store(true, std::sync::atomic::Ordering::Release);
        Ok(gone)
    }

    fn process_row(
        &self,
        shards: Option<&str>,
        started_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> processes::ProcessRow {
        processes::ProcessRow {
            id: self.process.id.clone(),
            host: self.process.host.clone(),
            pid: self.process.pid,
            shards: shards.map(str::to_string),
            slack_connections: self.slack_connections,
            started_at,
            heard_at: now,
        }
    }

    /// Renews this process's heartbeat; registers it again if another process took
    /// it for dead and removed its row (a long stall): `true` then.
    pub async fn heartbeat(
        &self,
        shards: Option<&str>,
        started_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        let mut tx = self.store.write().await?;
        if processes::beat(&mut tx, &self.process.id, now).await? {
            tx.commit().await.map_err(StoreError::from)?;
            return Ok(false);
        }
        processes::register(&mut tx, &self.process_row(shards, started_at, now)).await?;
        tx.commit().await.map_err(StoreError::from)?;
        Ok(true)
    }

    /// Removes this process's row at a clean shutdown: a claim it could not finish
    /// is taken over at once by a restart or another process.
    pub async fn retire_process(&self) -> Result<()> {
        let mut tx = self.store.write().await?;
        processes::remove(&mut tx, &self.process.id).await?;
        tx.commit().await.map_err(StoreError::from)?;
        Ok(())
    }

    /// The registered processes, oldest first, live or not.
    pub async fn processes(&self) -> Result<Vec<processes::ProcessRow>> {
        let mut conn = self.store.read().await?;
        Ok(processes::all(&mut conn).await?)
    }

    // ---- drops ---------------------------------------------------------------

    fn pick_question(
        &self,
        pool: &PoolFilter,
        rot: &crate::engine::rotation::Rotation,
        last: Option<&str>,
    ) -> Option<crate::engine::rotation::Pick> {
        pick_next(self.bank.pool(pool).map(|q| q.id.as_str()), rot, last)
    }

    fn claimed(
        &self,
        drop: DropRecord,
        channel: ChannelAddress,
        seq: u32,
    ) -> Result<ClaimedDrop, String> {
        let id = drop.question_id.clone().unwrap_or_default();
        let question = self
            .bank
            .get(&id)
            .ok_or_else(|| format!("question `{id}` is no longer in the bank"))?;
        let post = drop_post(question, seq, drop.reveal_due_at);
        Ok(ClaimedDrop {
            drop,
            channel,
            post,
        })
    }

    /// Claims the channel's next scheduled drop if it is due at `now`. Occurrences
    /// whose reveal time already passed (the bot was down) are recorded as missed.
    /// `None` when nothing is due, the channel is paused or another drop is open. A
    /// due date whose pool is empty is recorded as failed (and logged), also `None`.
    pub async fn claim_scheduled_drop(
        &self,
        channel_id: i64,
        now: DateTime<Utc>,
    ) -> Result<Option<ClaimedDrop>> {
        let mut tx = self.store.write().await?;
        let Some(ch) = channels::get(&mut tx, channel_id).await? else {
            return Ok(None);
        };
        if ch.schedule.paused || drops::open(&mut tx, channel_id).await?.is_some() {
            return Ok(None);
        }
        // An earlier drop still waiting to be posted keeps its chance until its reveal
        // time; after that it can no longer be posted and is failed here.
        for pending in drops::claimed(&mut tx, channel_id).await? {
            if now < pending.reveal_due_at {
                return Ok(None);
            }
            self.fail_in(&mut tx, &pending, "not posted before its reveal time")
                .await?;
        }
        let mut after = drops::latest(&mut tx, channel_id)
            .await?
            .map(|d| d.local_date);
        let occ = loop {
            let occ = ch.schedule.next_occurrence(after, ch.active_from);
            if occ.drop_at > now {
                tx.commit().await.map_err(StoreError::from)?;
                return Ok(None);
            }
            let deadline = match self.catch_up_grace {
                Some(grace) => occ.reveal_at.min(occ.drop_at + grace),
                None => occ.reveal_at,
            };
            if deadline <= now {
                warn!(channel = channel_id, date = %occ.local_date, "drop missed: it fell due while the bot was down and its catch-up window passed");
                drops::insert_missed(&mut tx, channel_id, &occ).await?;
                after = Some(occ.local_date);
                continue;
            }
            break occ;
        };
        let claimed = match self.claim_in(&mut tx, &ch, &occ, None, now).await {
            Err(PracticeError::EmptyPool(pool)) => {
                // Record the date as failed so the schedule moves on to the next one.
                let why = format!("no question in the bank matches {pool}");
                drops::insert_failed(&mut tx, channel_id, &occ, &why).await?;
                None
            }
            other => other?,
        };
        tx.commit().await.map_err(StoreError::from)?;
        Ok(claimed)
    }

    /// Inserts (or re-claims `existing`) a claimed drop for `occ` with the next
    /// question of the rotation.
    async fn claim_in(
        &self,
        tx: &mut Conn,
        ch: &Channel,
        occ: &Occurrence,
        existing: Option<i64>,
        now: DateTime<Utc>,
    ) -> Result<Option<ClaimedDrop>> {
        let rot = rotation::load(tx, ch.key).await?.unwrap_or_default();
        let last = drops::last_posted_question(tx, ch.key).await?;
        let Some(pick) = self.pick_question(&ch.schedule.pool, &rot, last.as_deref()) else {
            warn!(channel = ch.key, pool = %ch.schedule.pool, "no question matches the channel's pool");
            return Err(PracticeError::EmptyPool(ch.schedule.pool.clone()));
        };
        let id = match existing {
            Some(id) => drops::reclaim(tx, id, occ, &pick.question_id, self.lease_at(now))
                .await?
                .then_some(id),
            None => {
                drops::insert_claimed(tx, ch.key, occ, &pick.question_id, self.lease_at(now))
                    .await?
            }
        };
        let Some(id) = id else {
            return Ok(None);
        };
        rotation::record(tx, ch.key, &pick, now).await?;
        let drop = drops::by_id(tx, id)
            .await?
            .ok_or_else(|| StoreError::Corrupt(format!("drop {id} vanished")))?;
        let seq = drops::next_seq(tx, ch.key).await?;
        Ok(self.claimed(drop, ch.address.clone(), seq).ok())
    }

    /// Brings today's drop (today in the channel's zone) forward to `now`. Refused
    /// when today's drop is already out; the caller reveals an older open drop first.
    pub async fn claim_early_drop(
        &self,
        channel_id: i64,
        now: DateTime<Utc>,
    ) -> Result<ClaimedDrop> {
        let mut tx = self.store.write().await?;
        let ch = channels::get(&mut tx, channel_id)
            .await?
            .ok_or(PracticeError::NotConfigured)?;
        let occ = ch.schedule.early_occurrence(now);
        let existing = drops::for_date(&mut tx, channel_id, occ.local_date).await?;
        if let Some(d) = &existing
            && matches!(d.state, DropState::Posted | DropState::Revealed)
        {
            return Err(PracticeError::AlreadyOut(Box::new(d.clone())));
        }
        if drops::open(&mut tx, channel_id).await?.is_some() {
            return Err(PracticeError::Busy);
        }
        // Claimed drops: one a live process is posting right now makes us wait, and
        // say for how long at most. Today's, left by a process that died or waiting
        // to retry after a failure, is finished now under its own key (a message the
        // dead process did post is found or deduplicated: still one message). An
        // older one is superseded by today's.
        for pending in drops::claimed(&mut tx, channel_id).await? {
            if let Some(until) = self.being_posted(&mut tx, &pending, now).await? {
                return Err(PracticeError::BeingPosted {
                    within_secs: (until - now).num_seconds().max(1),
                });
            }
            if pending.local_date == occ.local_date {
                drops::take_claim(&mut tx, pending.id, self.lease_at(now)).await?;
                let seq = drops::next_seq(&mut tx, channel_id).await?;
                let drop = drops::by_id(&mut tx, pending.id).await?.unwrap_or(pending);
                info!(drop = drop.id, channel = channel_id, holder = ?drop.holder, "finishing today's claimed drop on demand");
                return match self.claimed(drop.clone(), ch.address.clone(), seq) {
                    Ok(claimed) => {
                        tx.commit().await.map_err(StoreError::from)?;
                        Ok(claimed)
                    }
                    Err(why) => {
                        self.fail_in(&mut tx, &drop, &why).await?;
                        tx.commit().await.map_err(StoreError::from)?;
                        Err(PracticeError::PostFailed(why))
                    }
                };
            }
            self.fail_in(&mut tx, &pending, "superseded by an on-demand drop")
                .await?;
        }
        let claimed = self
            .claim_in(&mut tx, &ch, &occ, existing.map(|d| d.id), now)
            .await?
            .ok_or(PracticeError::Busy)?;
        tx.commit().await.map_err(StoreError::from)?;
        Ok(claimed)
    }

    /// Until when a live process is posting a claimed drop: its lease holds and its
    /// holder is this process or another whose heartbeat is fresh, or a process that
    /// never registered (nothing tells it is dead). `None`: nobody is (its holder
    /// died, or it waits to retry after a recorded failure).
    async fn being_posted(
        &self,
        tx: &mut Conn,
        d: &DropRecord,
        now: DateTime<Utc>,
    ) -> Result<Option<DateTime<Utc>>> {
        let Some(until) = d.lease_until.filter(|&until| until > now) else {
            return Ok(None);
        };
        let alive = match d.holder.as_deref() {
            None => d.failure.is_none(),
            Some(holder) if holder == self.process.id => true,
            Some(holder) => processes::is_alive(tx, holder, now).await?,
        };
        Ok(alive.then_some(until))
    }

    /// Takes over a claimed drop whose lease ran out or whose holder died, to post
    /// it again. Fails it for good once its reveal time has passed.
    pub async fn claim_retry(
        &self,
        drop_id: i64,
        now: DateTime<Utc>,
    ) -> Result<Leased<ClaimedDrop>> {
        // Only the lease is taken here (without the store's write lock on
        // PostgreSQL); a failure is recorded in a write transaction of its own.
        let mut tx = self.store.lease_write().await?;
        let Some(drop) = drops::by_id(&mut tx, drop_id).await? else {
            return Ok(Leased::NotNow);
        };
        if drop.state != DropState::Claimed {
            return Ok(Leased::NotNow);
        }
        if now >= drop.reveal_due_at {
            tx.rollback().await.map_err(StoreError::from)?;
            self.fail_claim(drop_id, "not posted before its reveal time")
                .await?;
            return Ok(Leased::NotNow);
        }
        match drops::renew_claim(&mut tx, drop_id, self.lease_at(now)).await? {
            LeaseTake::Taken => {}
            LeaseTake::NotFree => return Ok(Leased::NotNow),
            LeaseTake::Busy => return Ok(Leased::Busy),
        }
        // The number the post shows; `mark_posted` takes it again under the write
        // lock, where the one-open-drop rule makes it the same.
        let seq = drops::next_seq(&mut tx, drop.channel_id).await?;
        let drop = drops::by_id(&mut tx, drop_id).await?.unwrap_or(drop);
        let channel = channels::get(&mut tx, drop.channel_id)
            .await?
            .ok_or_else(|| StoreError::Corrupt(format!("drop {drop_id} has no channel")))?;
        tx.commit().await.map_err(StoreError::from)?;
        match self.claimed(drop, channel.address, seq) {
            Ok(c) => Ok(Leased::Taken(c)),
            Err(why) => {
                self.fail_claim(drop_id, &why).await?;
                Ok(Leased::NotNow)
            }
        }
    }

    /// Fails a drop that is still claimed, in a write transaction of its own.
    async fn fail_claim(&self, drop_id: i64, why: &str) -> Result<()> {
        let mut tx = self.store.write().await?;
        if let Some(drop) = drops::by_id(&mut tx, drop_id).await?
            && drop.state == DropState::Claimed
        {
            self.fail_in(&mut tx, &drop, why).await?;
        }
        tx.commit().await.map_err(StoreError::from)?;
        Ok(())
    }

    async fn fail_in(&self, tx: &mut Conn, drop: &DropRecord, why: &str) -> Result<()> {
        warn!(
            drop = drop.id,
            channel = drop.channel_id,
            reason = why,
            "drop failed"
        );
        drops::record_failure(tx, drop.id, why, None).await?;
        if let Some(q) = &drop.question_id {
            rotation::release(tx, drop.channel_id, q).await?;
        }
        Ok(())
    }

    /// Records that the platform accepted the post; assigns the sequence number. The
    /// returned drop is `Posted`, or `Failed` if another drop of the channel was open.
    pub async fn mark_posted(
        &self,
        drop_id: i64,
        message_id: &str,
        thread_id: &str,
        posted_at: DateTime<Utc>,
    ) -> Result<DropRecord> {
        let mut tx = self.store.write().await?;
        let drop = drops::by_id(&mut tx, drop_id)
            .await?
            .ok_or_else(|| StoreError::Corrupt(format!("drop {drop_id} vanished")))?;
        if let Some(open) = drops::open(&mut tx, drop.channel_id).await? {
            // Only reachable if the claim checks were bypassed; never break the
            // one-open-drop rule, and say so loudly: the platform has a stray message.
            warn!(
                drop = drop_id,
                open = open.id,
                message_id,
                "a drop was posted while another was open; recording it as failed"
            );
            self.fail_in(&mut tx, &drop, "posted while another drop was open")
                .await?;
        } else {
            let seq = drops::next_seq(&mut tx, drop.channel_id).await?;
            // This process opens the thread next and says so, registered (so that
            // its death can be seen); see `thread_opened` and `take_thread`.
            let opener = self.lease_at(posted_at).holder;
            if !drops::mark_posted(
                &mut tx, drop_id, seq, message_id, thread_id, posted_at, opener,
            )
            .await?
            {
                warn!(drop = drop_id, state = %drop.state, "posted a drop that was no longer claimed");
            }
        }
        let drop = drops::by_id(&mut tx, drop_id).await?.unwrap_or(drop);
        tx.commit().await.map_err(StoreError::from)?;
        info!(
            drop = drop_id,
            channel = drop.channel_id,
            seq = drop.seq,
            state = %drop.state,
            question = drop.question_id.as_deref().unwrap_or(""),
            "drop posted"
        );
        Ok(drop)
    }

    /// Records a failed post: retried with backoff while there is time before the
    /// reveal and the failure is retryable, failed for good otherwise.
    pub async fn post_failed(
        &self,
        drop_id: i64,
        failure: &OutboundError,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let mut tx = self.store.write().await?;
        let Some(drop) = drops::by_id(&mut tx, drop_id).await? else {
            return Ok(());
        };
        let error = failure.message.as_str();
        match failure
            .retry_at(now, backoff(drop.attempts))
            .filter(|at| *at < drop.reveal_due_at)
        {
            Some(retry_at) => {
                warn!(drop = drop_id, error, retry_at = %retry_at, "posting a drop failed; will retry");
                drops::record_failure(&mut tx, drop_id, error, Some(retry_at)).await?;
            }
            None => self.fail_in(&mut tx, &drop, error).await?,
        }
        tx.commit().await.map_err(StoreError::from)?;
        Ok(())
    }

    // ---- reveals ---------------------------------------------------------------

    /// Leases an open drop for revealing and builds its reveal.
    pub async fn claim_reveal(
        &self,
        drop_id: i64,
        now: DateTime<Utc>,
    ) -> Result<Leased<RevealJob>> {
        // The lease, and reads: no write lock on PostgreSQL (`Store::lease_write`).
        let mut tx = self.store.lease_write().await?;
        match drops::lease_reveal(&mut tx, drop_id, self.lease_at(now)).await? {
            LeaseTake::Taken => {}
            LeaseTake::NotFree => return Ok(Leased::NotNow),
            LeaseTake::Busy => return Ok(Leased::Busy),
        }
        let Some(drop) = drops::by_id(&mut tx, drop_id).await? else {
            return Ok(Leased::NotNow);
        };
        let Some(channel) = channels::get(&mut tx, drop.channel_id).await? else {
            return Ok(Leased::NotNow);
        };
        let messages: Vec<_> = answers::for_drop(&mut tx, drop_id)
            .await?
            .iter()
            .map(StoredAnswer::as_message)
            .collect();
        let who = answerers(&messages, Some(now));
        // Streaks this reveal will bring to a milestone (O(answerers), like settling).
        let seq = drop.seq.unwrap_or(0);
        let mut milestones = Vec::new();
        for (member, name) in &who.on_time {
            let prev = member_stats::get(&mut tx, drop.channel_id, &member.0).await?;
            let prev = prev.map(|p| p.streak);
            let next = settle(prev.as_ref(), seq, now);
            if is_milestone(next.current) && prev.is_none_or(|p| p.current != next.current) {
                milestones.push((name.clone(), next.current));
            }
        }
        tx.commit().await.map_err(StoreError::from)?;
        let content = self.reveal_content(&drop, &who, &milestones);
        Ok(Leased::Taken(RevealJob {
            drop,
            channel: channel.address,
            content,
        }))
    }

    fn reveal_content(
        &self,
        drop: &DropRecord,
        who: &Answerers,
        milestones: &[(String, u32)],
    ) -> RevealContent {
        let seq = drop.seq.unwrap_or(0);
        let id = drop.question_id.as_deref().unwrap_or("");
        match self.bank.get(id) {
            Some(q) => build_reveal(q, seq, who, milestones),
            None => RevealContent {
                title: format!("Reveal #{seq}"),
                blocks: vec![TextBlock {
                    heading: None,
                    body: format!(
                        "Question {id} was removed from the bank, so there is no model answer to show."
                    ),
                }],
                answers: AnswerSummary::new(who, milestones),
            },
        }
    }

    /// Records a failed reveal post. Retried with backoff while the failure is
    /// retryable and fewer than [`MAX_REVEAL_ATTEMPTS`] were made; otherwise the drop
    /// is closed without its reveal (streaks settle, the failure is kept) so the
    /// channel's next drop is not held up forever. Returns true when it closed.
    pub async fn reveal_failed(
        &self,
        drop_id: i64,
        failure: &OutboundError,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        let mut tx = self.store.write().await?;
        let Some(drop) = drops::by_id(&mut tx, drop_id).await? else {
            return Ok(false);
        };
        let error = failure.message.as_str();
        let retry_at = failure.retry_at(now, backoff(drop.attempts));
        let closed = if retry_at.is_none() || drop.attempts >= MAX_REVEAL_ATTEMPTS {
            warn!(
                drop = drop_id,
                error,
                attempts = drop.attempts,
                "giving up on a reveal; closing the drop without it"
            );
            let why = format!("the reveal could not be posted: {error}");
            self.close_in(&mut tx, &drop, now, Some(&why)).await?;
            true
        } else {
            let retry_at = retry_at.unwrap_or(now);
            warn!(drop = drop_id, error, retry_at = %retry_at, "posting a reveal failed; will retry");
            drops::retry_reveal_at(&mut tx, drop_id, error, retry_at).await?;
            false
        };
        tx.commit().await.map_err(StoreError::from)?;
        Ok(closed)
    }

    /// Records that the reveal was posted at `revealed_at` and settles the streaks of
    /// the drop's on-time answerers (only those: O(answerers), never a history scan).
    /// Returns their new stats.
    pub async fn mark_revealed(
        &self,
        drop_id: i64,
        revealed_at: DateTime<Utc>,
    ) -> Result<Vec<MemberStats>> {
        let mut tx = self.store.write().await?;
        let Some(drop) = drops::by_id(&mut tx, drop_id).await? else {
            return Ok(Vec::new());
        };
        let settled = self.close_in(&mut tx, &drop, revealed_at, None).await?;
        tx.commit().await.map_err(StoreError::from)?;
        Ok(settled)
    }

    async fn close_in(
        &self,
        tx: &mut Conn,
        drop: &DropRecord,
        revealed_at: DateTime<Utc>,
        failure: Option<&str>,
    ) -> Result<Vec<MemberStats>> {
        if !drops::mark_revealed(tx, drop.id, revealed_at, failure).await? {
            return Ok(Vec::new());
        }
        let stored = answers::for_drop(tx, drop.id).await?;
        let messages: Vec<_> = stored.iter().map(StoredAnswer::as_message).collect();
        let who = answerers(&messages, Some(revealed_at));
        // `stored` is oldest first, so the first remaining message per member wins.
        let mut first_answer: HashMap<&str, DateTime<Utc>> = HashMap::new();
        for a in stored.iter().filter(|a| a.withdrawn_at.is_none()) {
            first_answer.entry(&a.member_id).or_insert(a.posted_at);
        }
        let mut settled = Vec::with_capacity(who.on_time.len());
        for (member, name) in &who.on_time {
            let first_on_time = first_answer
                .get(member.0.as_str())
                .copied()
                .unwrap_or(revealed_at);
            settled.push(
                self.settle_in(tx, drop, &member.0, name, first_on_time)
                    .await?,
            );
        }
        info!(
            drop = drop.id,
            channel = drop.channel_id,
            answered = settled.len(),
            "drop revealed"
        );
        Ok(settled)
    }

    async fn settle_in(
        &self,
        tx: &mut Conn,
        drop: &DropRecord,
        member_id: &str,
        name: &str,
        answered_at: DateTime<Utc>,
    ) -> Result<MemberStats> {
        let seq = drop.seq.unwrap_or(0);
        let prev = member_stats::get(tx, drop.channel_id, member_id).await?;
        let streak = match &prev {
            // An on-time answer to an older drop whose event arrived after later drops
            // settled: rebuild this member's run from their on-time answers. Rare, and
            // O(that member's history), never the channel's.
            Some(p) if p.streak.last_seq > seq => {
                let seqs = answers::on_time_seqs(tx, drop.channel_id, member_id).await?;
                replay(&seqs, p.streak.last_answered_at).unwrap_or_else(|| p.streak.clone())
            }
            _ => settle(prev.as_ref().map(|p| &p.streak), seq, answered_at),
        };
        let stats = MemberStats {
            channel_id: drop.channel_id,
            member_id: member_id.to_string(),
            member_name: name.to_string(),
            streak,
        };
        member_stats::upsert(tx, &stats).await?;
        Ok(stats)
    }

    // ---- answers ---------------------------------------------------------------
    //
    // Each answer use case has a `*_in` form that runs on a write transaction the
    // caller owns, so the answer writer (`crate::ingest`) can apply many events in
    // one commit with exactly the rules the one-transaction forms use.

    /// Stores a message posted in a drop's thread. `None` if the thread is not a drop's.
    /// An on-time message whose event arrives after the reveal was recorded (the two
    /// raced) settles that member's streak for the drop then. A message whose delete
    /// was seen first is stored already withdrawn.
    pub async fn record_message(&self, msg: IncomingMessage) -> Result<Option<RecordedAnswer>> {
        let mut tx = self.store.write().await?;
        let recorded = self
            .store_message_in(&mut tx, &msg, None, &mut TransactionReads::default())
            .await?;
        tx.commit().await.map_err(StoreError::from)?;
        Ok(recorded)
    }

    /// An edit of a message in a drop's thread, made at `edited_at`. Replaces the
    /// stored text unless a later edit is already stored; if the message itself has
    /// not been stored yet (its create is still on the way), stores it as edited, so
    /// the outcome does not depend on the order the events arrive in.
    pub async fn record_edit(
        &self,
        msg: IncomingMessage,
        edited_at: DateTime<Utc>,
    ) -> Result<Option<RecordedAnswer>> {
        let mut tx = self.store.write().await?;
        let recorded = self
            .store_message_in(
                &mut tx,
                &msg,
                Some(edited_at),
                &mut TransactionReads::default(),
            )
            .await?;
        tx.commit().await.map_err(StoreError::from)?;
        Ok(recorded)
    }

    /// Applies one answer event in a write transaction of its own.
    pub async fn apply(&self, event: &AnswerEvent) -> Result<AnswerOutcome> {
        let mut tx = self.store.write().await?;
        let outcome = self
            .apply_in(&mut tx, event, &mut TransactionReads::default())
            .await?;
        tx.commit().await.map_err(StoreError::from)?;
        Ok(outcome)
    }

    /// Applies one answer event inside the caller's write transaction: the same
    /// rules as [`Practice::record_message`], [`Practice::record_edit`],
    /// [`Practice::edit_in_thread`] and [`Practice::withdraw_in_thread`]. `reads`
    /// belongs to this transaction. On an error the caller must roll the whole
    /// transaction back (SQLite may already have).
    pub(crate) async fn apply_in(
        &self,
        tx: &mut Conn,
        event: &AnswerEvent,
        reads: &mut TransactionReads,
    ) -> Result<AnswerOutcome> {
        Ok(match event {
            AnswerEvent::Posted(msg) => {
                AnswerOutcome::Recorded(self.store_message_in(tx, msg, None, reads).await?)
            }
            AnswerEvent::Edited { message, edited_at } => AnswerOutcome::Recorded(
                self.store_message_in(tx, message, Some(*edited_at), reads)
                    .await?,
            ),
            AnswerEvent::EditedText {
                thread,
                message_id,
                body,
                edited_at,
            } => AnswerOutcome::Applied(
                Self::edit_in_thread_in(tx, thread, message_id, body, *edited_at, reads).await?,
            ),
            AnswerEvent::Deleted {
                thread,
                message_id,
                at,
            } => AnswerOutcome::Applied(
                Self::withdraw_in_thread_in(tx, thread, message_id, *at, reads).await?,
            ),
            AnswerEvent::EditedInChannel {
                channel,
                message_id,
                posted_at,
                body,
                edited_at,
            } => AnswerOutcome::Applied(
                Self::change_in_channel_in(
                    tx,
                    channel,
                    message_id,
                    *posted_at,
                    MessageChange::Edit {
                        body,
                        at: *edited_at,
                    },
                    reads,
                )
                .await?,
            ),
            AnswerEvent::DeletedInChannel {
                channel,
                message_id,
                posted_at,
                at,
            } => AnswerOutcome::Applied(
                Self::change_in_channel_in(
                    tx,
                    channel,
                    message_id,
                    *posted_at,
                    MessageChange::Withdraw { at: *at },
                    reads,
                )
                .await?,
            ),
        })
    }

    async fn store_message_in(
        &self,
        tx: &mut Conn,
        msg: &IncomingMessage,
        edited_at: Option<DateTime<Utc>>,
        reads: &mut TransactionReads,
    ) -> Result<Option<RecordedAnswer>> {
        let Some(plan) = Self::plan_message(tx, msg, edited_at, reads).await? else {
            return Ok(None);
        };
        let new = answers::insert(tx, &plan.row).await?;
        Ok(Some(self.finish_message(tx, &plan, new).await?))
    }

    /// What storing a message means: the row to insert, with an edit or delete
    /// that overtook its create applied; `None` if the thread is not an open or
    /// revealed drop's.
    async fn plan_message(
        tx: &mut Conn,
        msg: &IncomingMessage,
        edited_at: Option<DateTime<Utc>>,
        reads: &mut TransactionReads,
    ) -> Result<Option<PlannedAnswer>> {
        let Some(drop) = reads.drop_of_thread(tx, &msg.thread).await? else {
            return Ok(None);
        };
        if !matches!(drop.state, DropState::Posted | DropState::Revealed) {
            return Ok(None);
        }
        if reads.is_forgotten(tx, drop.channel_id, msg).await? {
            return Ok(None);
        }
        let on_time = is_on_time(msg.posted_at, drop.revealed_at);
        // An edit or delete that overtook this create applies now.
        let early = reads
            .early_event(tx, drop.channel_id, &msg.message_id)
            .await?;
        let (mut body, mut edited_at) = (msg.body.clone(), edited_at);
        if let (Some(early_body), Some(early_at)) = (early.edited_body, early.edited_at)
            && edited_at.is_none_or(|at| early_at > at)
        {
            body = early_body;
            edited_at = Some(early_at);
        }
        let row = StoredAnswer {
            channel_id: drop.channel_id,
            message_id: msg.message_id.clone(),
            drop_id: drop.id,
            member_id: msg.member_id.clone(),
            member_name: msg.member_name.clone(),
            body,
            posted_at: msg.posted_at,
            edited_at,
            withdrawn_at: early.withdrawn_at,
        };
        Ok(Some(PlannedAnswer { drop, row, on_time }))
    }

    /// What follows the insert: a replayed message takes a newer edit; a new
    /// on-time answer to a drop already revealed (its event raced the reveal)
    /// settles that member's streak now.
    async fn finish_message(
        &self,
        tx: &mut Conn,
        plan: &PlannedAnswer,
        new: bool,
    ) -> Result<RecordedAnswer> {
        let PlannedAnswer { drop, row, on_time } = plan;
        if !new && let Some(at) = row.edited_at {
            answers::edit(tx, row.channel_id, &row.message_id, &row.body, at).await?;
        }
        if new && *on_time && row.withdrawn_at.is_none() && drop.state == DropState::Revealed {
            self.settle_in(tx, drop, &row.member_id, &row.member_name, row.posted_at)
                .await?;
        }
        Ok(RecordedAnswer {
            drop_id: drop.id,
            on_time: *on_time,
            new,
            withdrawn: row.withdrawn_at.is_some(),
        })
    }

    /// Applies events in order inside the caller's write transaction, with the same
    /// outcome as [`Practice::apply_in`] one after another. A run of messages
    /// posted (or edited whole) in a row, each message once, is stored with one
    /// insert statement for those in open drops: nothing in such a run depends on
    /// the order of the others' inserts (a message's row depends on its drop and
    /// its own early edits and deletes; its edit on a replay touches its own row).
    /// Answers to revealed drops, which may settle a streak, still go in one by
    /// one and in order.
    pub(crate) async fn apply_all_in(
        &self,
        tx: &mut Conn,
        events: &[&AnswerEvent],
        reads: &mut TransactionReads,
    ) -> Result<Vec<AnswerOutcome>> {
        let mut outcomes = Vec::with_capacity(events.len());
        let mut i = 0;
        while i < events.len() {
            let mut ids = HashSet::new();
            let run: Vec<(&IncomingMessage, Option<DateTime<Utc>>)> = events[i..]
                .iter()
                .map_while(|e| {
                    e.message()
                        .filter(|(m, _)| ids.insert((&m.thread, m.message_id.as_str())))
                })
                .collect();
            if run.len() < 2 {
                outcomes.push(self.apply_in(tx, events[i], reads).await?);
                i += 1;
                continue;
            }
            i += run.len();
            let mut plans = Vec::with_capacity(run.len());
            for (msg, edited_at) in &run {
                plans.push(Self::plan_message(tx, msg, *edited_at, reads).await?);
            }
            let open: Vec<&StoredAnswer> = plans
                .iter()
                .flatten()
                .filter(|p| p.drop.state == DropState::Posted)
                .map(|p| &p.row)
                .collect();
            let inserted = answers::insert_many(tx, &open).await?;
            for plan in &plans {
                let Some(plan) = plan else {
                    outcomes.push(AnswerOutcome::Recorded(None));
                    continue;
                };
                let new = if plan.drop.state == DropState::Posted {
                    inserted.contains(&(plan.row.channel_id, plan.row.message_id.clone()))
                } else {
                    answers::insert(tx, &plan.row).await?
                };
                let recorded = self.finish_message(tx, plan, new).await?;
                outcomes.push(AnswerOutcome::Recorded(Some(recorded)));
            }
        }
        Ok(outcomes)
    }

    /// An edit of a message in a thread, known only by its id (a partial update):
    /// replaces the stored text, or, if the message is in a drop's thread but not
    /// stored yet, keeps the edit for when it is. `false` if neither applied.
    pub async fn edit_in_thread(
        &self,
        thread: &ThreadRef,
        message_id: &str,
        body: &str,
        at: DateTime<Utc>,
    ) -> Result<bool> {
        let mut tx = self.store.write().await?;
        let done = Self::edit_in_thread_in(
            &mut tx,
            thread,
            message_id,
            body,
            at,
            &mut TransactionReads::default(),
        )
        .await?;
        tx.commit().await.map_err(StoreError::from)?;
        Ok(done)
    }

    async fn edit_in_thread_in(
        tx: &mut Conn,
        thread: &ThreadRef,
        message_id: &str,
        body: &str,
        at: DateTime<Utc>,
        reads: &mut TransactionReads,
    ) -> Result<bool> {
        let Some(drop) = reads.drop_of_thread(tx, thread).await? else {
            return Ok(false);
        };
        let change = MessageChange::Edit { body, at };
        Self::change_or_keep(
            tx,
            drop.channel_id,
            message_id,
            change,
            EarlyDrop::Known(drop.id),
            reads,
        )
        .await
    }

    /// An edit or delete known only by (channel, message id), as Slack sends them:
    /// applied to the stored answer; if the message is not stored yet (its create
    /// is still on its way, possibly through another connection or process), kept
    /// as an early event so the create is stored edited or withdrawn. Such an event
    /// is kept only while the channel's latest drop posted at or before the message
    /// takes answers, and hangs off that drop (the drop only owns it for deletion:
    /// the create finds it by (channel, message id)). So an edit of chatter in a
    /// study channel may leave one small row; an edit in no study channel leaves
    /// none. `false` if neither applied.
    pub async fn edit_in_channel(
        &self,
        channel: &ChannelAddress,
        message_id: &str,
        posted_at: DateTime<Utc>,
        body: &str,
        edited_at: DateTime<Utc>,
    ) -> Result<bool> {
        let event = AnswerEvent::EditedInChannel {
            channel: channel.clone(),
            message_id: message_id.to_string(),
            posted_at,
            body: body.to_string(),
            edited_at,
        };
        Ok(matches!(
            self.apply(&event).await?,
            AnswerOutcome::Applied(true)
        ))
    }

    async fn change_in_channel_in(
        tx: &mut Conn,
        address: &ChannelAddress,
        message_id: &str,
        posted_at: DateTime<Utc>,
        change: MessageChange<'_>,
        reads: &mut TransactionReads,
    ) -> Result<bool> {
        let Some(channel) = channels::find(tx, address).await? else {
            return Ok(false);
        };
        let early = EarlyDrop::LatestTakingAnswers { posted_at };
        Self::change_or_keep(tx, channel.key, message_id, change, early, reads).await
    }

    /// Applies an edit or delete to a stored message; if the message is not stored
    /// yet (the event overtook its create), keeps it as an early event for the
    /// create, hung off `early`'s drop. `false` if neither applied (a stored message
    /// that already holds a later edit, or no drop to keep it for).
    async fn change_or_keep(
        tx: &mut Conn,
        channel: i64,
        message_id: &str,
        change: MessageChange<'_>,
        early: EarlyDrop,
        reads: &mut TransactionReads,
    ) -> Result<bool> {
        let applied = match change {
            MessageChange::Edit { body, at } => {
                answers::edit(tx, channel, message_id, body, at).await?
            }
            MessageChange::Withdraw { at } => {
                answers::withdraw(tx, channel, message_id, at).await?
            }
        };
        if applied || answers::get(tx, channel, message_id).await?.is_some() {
            return Ok(applied);
        }
        let drop_id = match early {
            EarlyDrop::Known(id) => id,
            EarlyDrop::LatestTakingAnswers { posted_at } => {
                let Some(drop) = drops::latest(tx, channel).await? else {
                    return Ok(false);
                };
                let takes_answers = matches!(drop.state, DropState::Posted | DropState::Revealed);
                // The drop's time is the bot's clock after the post returned, the
                // message's the platform's: a reply sent at once may carry an earlier
                // time by the request's latency or clock skew.
                if !takes_answers
                    || drop
                        .posted_at
                        .is_none_or(|at| at - EARLY_EVENT_SKEW > posted_at)
                {
                    return Ok(false);
                }
                drop.id
            }
        };
        match change {
            MessageChange::Edit { body, at } => {
                answers::early_edit(tx, channel, message_id, drop_id, body, at).await?
            }
            MessageChange::Withdraw { at } => {
                answers::early_withdraw(tx, channel, message_id, drop_id, at).await?
            }
        }
        reads.early_event_written(channel, message_id);
        Ok(true)
    }

    /// Replaces a stored message's text. `false` if it is not a stored answer.
    pub async fn edit_message(
        &self,
        channel_id: i64,
        message_id: &str,
        body: &str,
        at: DateTime<Utc>,
    ) -> Result<bool> {
        let mut tx = self.store.write().await?;
        let done = answers::edit(&mut tx, channel_id, message_id, body, at).await?;
        tx.commit().await.map_err(StoreError::from)?;
        Ok(done)
    }

    /// A message deleted from a thread: withdraws it if stored; if it is in a drop's
    /// thread but not stored yet (the delete overtook the create), leaves a
    /// note so the create is stored withdrawn. `false` if neither applied.
    pub async fn withdraw_in_thread(
        &self,
        thread: &ThreadRef,
        message_id: &str,
        at: DateTime<Utc>,
    ) -> Result<bool> {
        let mut tx = self.store.write().await?;
        let done = Self::withdraw_in_thread_in(
            &mut tx,
            thread,
            message_id,
            at,
            &mut TransactionReads::default(),
        )
        .await?;
        tx.commit().await.map_err(StoreError::from)?;
        Ok(done)
    }

    async fn withdraw_in_thread_in(
        tx: &mut Conn,
        thread: &ThreadRef,
        message_id: &str,
        at: DateTime<Utc>,
        reads: &mut TransactionReads,
    ) -> Result<bool> {
        let Some(drop) = reads.drop_of_thread(tx, thread).await? else {
            return Ok(false);
        };
        let change = MessageChange::Withdraw { at };
        Self::change_or_keep(
            tx,
            drop.channel_id,
            message_id,
            change,
            EarlyDrop::Known(drop.id),
            reads,
        )
        .await
    }

    /// Withdraws a stored message (deleted by its author). `false` if not stored.
    pub async fn withdraw_message(
        &self,
        channel_id: i64,
        message_id: &str,
        at: DateTime<Utc>,
    ) -> Result<bool> {
        let mut tx = self.store.write().await?;
        let done = answers::withdraw(&mut tx, channel_id, message_id, at).await?;
        tx.commit().await.map_err(StoreError::from)?;
        Ok(done)
    }

    /// Brings a drop's stored answers in line with its thread as the platform lists
    /// it now (after the bot was away): messages not stored yet are stored (on
    /// time if posted before the reveal), edits are applied, and stored answers no
    /// longer in the thread are withdrawn. `listed_up_to` is the adapter's cursor as
    /// an instant: the listing is complete for messages posted up to then (the core
    /// never compares platform ids; each adapter turns its own cursor into a time).
    /// A stored answer posted after it counts as deleted only if it is older than
    /// `listed_at` by a margin for clock skew (a message posted during the listing is
    /// not withdrawn).
    pub async fn reconcile_thread(
        &self,
        drop: &DropRecord,
        listed: Vec<ListedMessage>,
        listed_up_to: DateTime<Utc>,
        listed_at: DateTime<Utc>,
    ) -> Result<Reconciled> {
        let mut done = Reconciled::default();
        let mut seen = HashSet::with_capacity(listed.len());
        for item in listed {
            seen.insert(item.message.message_id.clone());
            let message_id = item.message.message_id.clone();
            let recorded = match item.edited_at {
                Some(at) => self.record_edit(item.message, at).await?,
                None => self.record_message(item.message).await?,
            };
            if let Some(r) = recorded.filter(|r| r.new) {
                done.stored.push((message_id, r));
            }
        }
        let stored = {
            let mut conn = self.store.read().await?;
            answers::for_drop(&mut conn, drop.id).await?
        };
        let cutoff = listed_at - Duration::seconds(30);
        for a in stored {
            if a.withdrawn_at.is_none()
                && !seen.contains(&a.message_id)
                && (a.posted_at <= listed_up_to || a.posted_at < cutoff)
                && self
                    .withdraw_message(a.channel_id, &a.message_id, listed_at)
                    .await?
            {
                done.withdrawn += 1;
            }
        }
        Ok(done)
    }

    /// Drops posted and not yet revealed, in every channel.
    pub async fn open_drops(&self) -> Result<Vec<DropRecord>> {
        let mut conn = self.store.read().await?;
        Ok(drops::in_state(&mut conn, DropState::Posted).await?)
    }

    /// Drops posted and not yet revealed in the channels of one platform (what its
    /// adapter catches up on).
    pub async fn open_drops_on(&self, platform: Platform) -> Result<Vec<DropRecord>> {
        let mut conn = self.store.read().await?;
        Ok(drops::in_state_with_platform(&mut conn, DropState::Posted)
            .await?
            .into_iter()
            .filter(|s| s.platform == platform)
            .map(|s| s.drop)
            .collect())
    }

    // ---- reads -------------------------------------------------------------------

    pub async fn drop_by_id(&self, drop_id: i64) -> Result<Option<DropRecord>> {
        let mut conn = self.store.read().await?;
        Ok(drops::by_id(&mut conn, drop_id).await?)
    }

    /// Records that the drop's thread is open, as `thread_id` when the platform gave
    /// it an id other than the drop message's, or that it could not be opened and
    /// will not be tried again: either way nobody is opening it any more.
    pub async fn thread_opened(&self, drop_id: i64, thread_id: Option<&str>) -> Result<()> {
        let mut tx = self.store.write().await?;
        drops::thread_opened(&mut tx, drop_id, thread_id).await?;
        tx.commit().await.map_err(StoreError::from)?;
        Ok(())
    }

    /// Takes over opening a posted drop's thread when the process that posted it died
    /// before recording the thread open ([`drops::take_thread`]): what to open, or
    /// `None` when there is nothing to do (open already, or its opener is alive).
    pub async fn take_thread(&self, drop_id: i64, now: DateTime<Utc>) -> Result<Option<ThreadJob>> {
        let mut tx = self.store.write().await?;
        let lapsed_at = now - processes::PROCESS_LAPSE;
        if !drops::take_thread(&mut tx, drop_id, &self.process.id, lapsed_at).await? {
            return Ok(None);
        }
        let Some(drop) = drops::by_id(&mut tx, drop_id).await? else {
            return Ok(None);
        };
        let Some(channel) = channels::get(&mut tx, drop.channel_id).await? else {
            return Ok(None);
        };
        // The post as it went out: same number, same question, same reveal time.
        let post = self
            .claimed(drop.clone(), channel.address, drop.seq.unwrap_or(0))
            .map(|c| (c.channel, c.post));
        match post {
            Ok((channel, post)) => {
                tx.commit().await.map_err(StoreError::from)?;
                info!(
                    drop = drop_id,
                    "opening the thread of a drop whose poster died first"
                );
                Ok(Some(ThreadJob {
                    drop,
                    channel,
                    post,
                }))
            }
            Err(why) => {
                // The question left the bank: nothing to name the thread after.
                warn!(drop = drop_id, reason = %why, "not opening the thread of a drop whose poster died");
                drops::thread_opened(&mut tx, drop_id, None).await?;
                tx.commit().await.map_err(StoreError::from)?;
                Ok(None)
            }
        }
    }

    pub async fn open_drop(&self, channel_id: i64) -> Result<Option<DropRecord>> {
        let mut conn = self.store.read().await?;
        Ok(drops::open(&mut conn, channel_id).await?)
    }

    /// Ids of questions open (posted, not revealed) in any channel of a workspace:
    /// their model answers must not be shown by lookups until revealed.
    pub async fn open_question_ids(
        &self,
        platform: Platform,
        workspace: &str,
    ) -> Result<HashSet<String>> {
        let mut conn = self.store.read().await?;
        Ok(drops::open_in_workspace(&mut conn, platform, workspace)
            .await?
            .into_iter()
            .filter_map(|d| d.question_id)
            .collect())
    }

    /// A question a lookup asks for by id: its model answer is hidden while the
    /// question is open (posted, not revealed) in any channel of the workspace, so a
    /// lookup never spoils a drop for anyone in it.
    pub async fn look_up(
        &self,
        platform: Platform,
        workspace: &str,
        id: &str,
    ) -> Result<Lookup<'_>> {
        let Some(q) = self.bank.find(id) else {
            return Ok(Lookup::Unknown);
        };
        Ok(
            if self
                .open_question_ids(platform, workspace)
                .await?
                .contains(&q.id)
            {
                Lookup::Hidden(q)
            } else {
                Lookup::Shown(q)
            },
        )
    }

    pub async fn drop_question(&self, drop: &DropRecord) -> Option<&Question> {
        drop.question_id.as_deref().and_then(|id| self.bank.get(id))
    }

    fn view(stats: MemberStats, progress: ChannelProgress) -> StreakView {
        StreakView {
            member_id: stats.member_id,
            current: current_streak(&stats.streak, progress),
            member_name: stats.member_name,
            best: stats.streak.best,
            total_on_time: stats.streak.total_on_time,
            last_answered_at: stats.streak.last_answered_at,
        }
    }

    /// A member's streak in a channel; `None` if they never answered on time there.
    pub async fn streak(&self, channel_id: i64, member_id: &str) -> Result<Option<StreakView>> {
        let mut conn = self.store.read().await?;
        let progress = drops::progress(&mut conn, channel_id).await?;
        Ok(member_stats::get(&mut conn, channel_id, member_id)
            .await?
            .map(|s| Self::view(s, progress)))
    }

    /// `/streak` in the channel at `address`: `None` if it has no schedule; else the
    /// channel and the member's streak there, as [`Practice::streak`] tells it. One
    /// statement, the channel lookup included.
    pub async fn streak_at(
        &self,
        address: &ChannelAddress,
        member_id: &str,
    ) -> Result<Option<(Channel, Option<StreakView>)>> {
        let mut conn = self.store.read().await?;
        Ok(channels::find_with_member(&mut conn, address, member_id)
            .await?
            .map(|(channel, progress, stats)| (channel, stats.map(|s| Self::view(s, progress)))))
    }

    /// The channel's top members by current streak, then total on-time answers.
    pub async fn leaderboard(&self, channel_id: i64, limit: u32) -> Result<Vec<StreakView>> {
        let mut conn = self.store.read().await?;
        let progress = drops::progress(&mut conn, channel_id).await?;
        Self::ranked(&mut conn, channel_id, progress, limit).await
    }

    /// `/leaderboard` in the channel at `address`: `None` if it has no schedule;
    /// else the channel and its top members, as [`Practice::leaderboard`] ranks
    /// them. In one statement: the channel, its progress and the leaderboard's walks
    /// ([`channels::find_with_leaderboard`]).
    pub async fn leaderboard_at(
        &self,
        address: &ChannelAddress,
        limit: u32,
    ) -> Result<Option<(Channel, Vec<StreakView>)>> {
        let mut conn = self.store.read().await?;
        let Some((channel, progress, top)) =
            channels::find_with_leaderboard(&mut conn, address, limit).await?
        else {
            return Ok(None);
        };
        let top = top.into_iter().map(|s| Self::view(s, progress)).collect();
        Ok(Some((channel, top)))
    }

    async fn ranked(
        conn: &mut Conn,
        channel_id: i64,
        progress: ChannelProgress,
        limit: u32,
    ) -> Result<Vec<StreakView>> {
        let latest_revealed = if progress.latest_open {
            progress.latest_seq.saturating_sub(1)
        } else {
            progress.latest_seq
        };
        Ok(
            member_stats::leaderboard(conn, channel_id, latest_revealed, limit)
                .await?
                .into_iter()
                .map(|s| Self::view(s, progress))
                .collect(),
        )
    }

    /// A member's raw stored streak (for tests and diagnostics).
    pub async fn stored_streak(
        &self,
        channel_id: i64,
        member_id: &str,
    ) -> Result<Option<MemberStreak>> {
        let mut conn = self.store.read().await?;
        Ok(member_stats::get(&mut conn, channel_id, member_id)
            .await?
            .map(|s| s.streak))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_are_worded_with_singulars_and_plurals() {
        let removal = |drops, answers| Removal {
            drops,
            answers,
            history: History::Keep,
            done: false,
        };
        assert_eq!(removal(1, 1).counts(), "1 drop and 1 stored answer");
        assert_eq!(removal(0, 3).counts(), "0 drops and 3 stored answers");
        let forgotten = |channels, answers| Forgotten {
            channels,
            answers,
            done: true,
        };
        assert_eq!(
            forgotten(1, 1).counts(),
            "1 stored answer and the streaks in 1 channel"
        );
        assert_eq!(
            forgotten(2, 5).counts(),
            "5 stored answers and the streaks in 2 channels"
        );
        assert!(forgotten(0, 0).nothing() && !forgotten(1, 0).nothing());
    }
}
