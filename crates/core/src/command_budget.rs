//! The per-member command budget, on every platform: a member may run [`BUDGET`]
//! commands per [`WINDOW`], all commands together, before the bot politely asks
//! them to wait. Other members are unaffected. Each adapter charges the member
//! through a [`CommandBudget`], which takes `now` from the bot's clock: a command
//! that changes something is charged before it runs ([`CommandBudget::check`];
//! Discord: `discord::limit::check`, poise's `command_check`); a lookup is charged
//! while it reads, and answers only if allowed ([`CommandBudget::check_alongside`];
//! Discord: `discord::limit::lookup`; Slack: `/prep` before its acknowledgement).
//!
//! Where the uses are kept:
//! - one process (SQLite): in memory, [`MemberLimiter`], with no database round
//!   trip on the command path;
//! - several processes (PostgreSQL): in the `command_uses` table
//!   (`store::command_uses`), so the processes together hold a member to the same
//!   budget. One call of a database function per check (`prepbot_charge_command`):
//!   the member's lock, one read, at most one insert.
//!
//! Both apply the same rule ([`decide`]): the same refusal, the same wait, and an
//! invocation charged once however often it is checked (a Slack command delivered
//! again is one command).
//!
//! Not charged: autocomplete (every keystroke is an interaction, and poise runs the
//! checks for those too) and the Manage Server commands in [`EXEMPT`]. Those refuse a
//! member before doing anything, which costs no more than the refusal this module
//! would send, and an admin correcting `/setup` a few times in a row should not be
//! told to wait.
//!
//! Why not `governor`: its limiters are GCRA, which turns "5 per 10 s" into a burst
//! of 5 and then one command every 2 s; members have always been told the budget
//! is 5 in any 10 seconds and when the oldest leaves the window (the refusal says
//! so, and the Discord suite pins it), and changing what members see is out of
//! scope. The log also charges an invocation once however often it is checked
//! (poise checks each level of a subcommand) and runs on the bot's clock, which
//! tests control; with governor both would need code around it of about this
//! size. The REST pacer has its own measured reason (prepbot-discord's `pacer`).

use std::collections::VecDeque;
use std::sync::Mutex;

use chrono::{DateTime, TimeDelta, Utc};
use rustc_hash::FxHashMap;
use tracing::warn;

use crate::chat::Platform;
use crate::store::{BudgetCharge, Store, StoreError, command_uses};

/// Commands a member may run per [`WINDOW`].
pub const BUDGET: usize = 5;
/// The sliding window the budget covers.
pub const WINDOW: TimeDelta = TimeDelta::seconds(10);

/// Commands that never use the budget, by qualified name (the same names on every
/// platform: `/schedule pause` on Discord, `/prep pause` on Slack).
pub const EXEMPT: [&str; 5] = [
    "setup",
    "drop",
    "reveal",
    "schedule pause",
    "schedule resume",
];

/// Whether a member may run a command now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Allowed,
    /// Over budget; the oldest command in the window leaves it after `retry_after`.
    Refused {
        retry_after: TimeDelta,
    },
}

/// One charged command: when, and which invocation (so the same invocation is
/// charged once however often it is checked).
#[derive(Debug, Clone, Copy)]
struct Use {
    at: DateTime<Utc>,
    /// An id the adapter gives each invocation (Discord's interaction id).
    invocation: u64,
}

#[derive(Debug, Default)]
struct State {
    /// Member id -> their charged commands inside the window, oldest first (at most
    /// `budget` of them).
    /// FxHash: member ids are assigned by the platform, not chosen to collide.
    members: FxHashMap<String, VecDeque<Use>>,
    last_sweep: Option<DateTime<Utc>>,
}

/// A sliding-window log per member. Memory stays bounded: at most once per window
/// a sweep drops every member whose window has emptied, so the map holds only
/// members seen in the last two windows, with at most `budget` uses each.
#[derive(Debug)]
pub struct MemberLimiter {
    budget: usize,
    window: TimeDelta,
    state: Mutex<State>,
}

impl Default for MemberLimiter {
    fn default() -> Self {
        MemberLimiter::new(BUDGET, WINDOW)
    }
}

impl MemberLimiter {
    pub fn new(budget: usize, window: TimeDelta) -> Self {
        MemberLimiter {
            budget: budget.max(1),
            window,
            state: Mutex::new(State::default()),
        }
    }

    /// Charges `member` for `invocation` at `now`, or refuses. A refused attempt is
    /// not charged, so asking again early never pushes the wait further out. A
    /// second check of an invocation already charged is allowed without a charge
    /// (poise checks a subcommand once per level: `/question`, then `search`).
    pub fn check(&self, member: &str, invocation: u64, now: DateTime<Utc>) -> Verdict {
        // Held for a few map operations, never across an await.
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if state
            .last_sweep
            .is_none_or(|t| now - t >= self.window || now < t)
        {
            let window = self.window;
            state.members.retain(|_, uses| {
                prune(uses, now, window);
                !uses.is_empty()
            });
            state.last_sweep = Some(now);
        }
        // A member already tracked is found without allocating their id again.
        if !state.members.contains_key(member) {
            state.members.insert(member.to_string(), VecDeque::new());
        }
        let uses = state.members.get_mut(member).expect("just inserted");
        prune(uses, now, self.window);
        let in_window = uses.iter().map(|u| (u.at, u.invocation));
        match decide(in_window, invocation, now, self.budget, self.window) {
            Decision::AlreadyCharged => Verdict::Allowed,
            Decision::Charge => {
                uses.push_back(Use {
                    at: now,
                    invocation,
                });
                Verdict::Allowed
            }
            Decision::Refuse { retry_after } => Verdict::Refused { retry_after },
        }
    }

    /// How many members the limiter holds state for.
    pub fn tracked_members(&self) -> usize {
        let state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state.members.len()
    }
}

/// What the budget's rule says of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Decision {
    /// This invocation is in the window already: allowed, not charged again.
    AlreadyCharged,
    /// Allowed, and charged now.
    Charge,
    Refuse {
        retry_after: TimeDelta,
    },
}

/// The rule, wherever the uses are kept: given the member's uses inside the window
/// (when, invocation; none later than `now`), whether `invocation` may run at `now`.
/// A refused attempt is not charged, so asking again early never pushes the wait
/// further out; the wait is until the oldest use leaves the window.
fn decide(
    in_window: impl Iterator<Item = (DateTime<Utc>, u64)>,
    invocation: u64,
    now: DateTime<Utc>,
    budget: usize,
    window: TimeDelta,
) -> Decision {
    let mut count = 0;
    let mut oldest = now;
    for (at, charged) in in_window {
        if charged == invocation {
            return Decision::AlreadyCharged;
        }
        count += 1;
        oldest = oldest.min(at);
    }
    if count < budget {
        Decision::Charge
    } else {
        Decision::Refuse {
            retry_after: (oldest + window - now).clamp(TimeDelta::zero(), window),
        }
    }
}

/// Each member's command budget, kept where the processes that enforce it can all
/// see it: in memory for one process, in the database for several. Adapters hold
/// one and call [`CommandBudget::check`] before a command runs.
#[derive(Debug)]
pub struct CommandBudget {
    kind: Kind,
}

#[derive(Debug)]
enum Kind {
    Local(MemberLimiter),
    Shared(SharedBudget),
}

/// The budget in `command_uses`, shared by every process on the database.
#[derive(Debug)]
struct SharedBudget {
    store: Store,
    /// Whose members these are: the same member id on two platforms is two people.
    platform: Platform,
    budget: usize,
    window: TimeDelta,
    /// When this process last swept out old uses (at most once per window).
    last_sweep: Mutex<Option<DateTime<Utc>>>,
}

impl CommandBudget {
    /// The budget of one process, in memory ([`MemberLimiter`]).
    pub fn local() -> Self {
        CommandBudget {
            kind: Kind::Local(MemberLimiter::default()),
        }
    }

    /// The budget shared by every process on `store`'s database, for `platform`'s
    /// members.
    pub fn shared(store: Store, platform: Platform) -> Self {
        Self::shared_with(store, platform, BUDGET, WINDOW)
    }

    /// [`CommandBudget::shared`] with another budget and window.
    pub fn shared_with(store: Store, platform: Platform, budget: usize, window: TimeDelta) -> Self {
        CommandBudget {
            kind: Kind::Shared(SharedBudget {
                store,
                platform,
                budget: budget.max(1),
                window,
                last_sweep: Mutex::new(None),
            }),
        }
    }

    /// What a process on `store` uses: shared on PostgreSQL, where other processes
    /// may serve the same members; in memory on SQLite, where this process is the
    /// only one (and a check costs no database round trip).
    pub fn for_store(store: &Store, platform: Platform) -> Self {
        if store.is_postgres() {
            Self::shared(store.clone(), platform)
        } else {
            Self::local()
        }
    }

    /// Whether the budget is the database's (shared by processes).
    pub fn is_shared(&self) -> bool {
        matches!(self.kind, Kind::Shared(_))
    }

    /// Charges `member` for `invocation` at `now`, or refuses: the same rule as
    /// [`MemberLimiter::check`], wherever the uses are kept. A database that fails
    /// the check lets the command through (logged): the budget is a courtesy to the
    /// bot's rate limits, and the command itself then meets the same database.
    pub async fn check(&self, member: &str, invocation: u64, now: DateTime<Utc>) -> Verdict {
        match &self.kind {
            Kind::Local(limiter) => limiter.check(member, invocation, now),
            Kind::Shared(shared) => match shared.check(member, invocation, now).await {
                Ok(verdict) => verdict,
                Err(error) => {
                    warn!(%error, member, "the shared command budget is unavailable; allowing the command");
                    Verdict::Allowed
                }
            },
        }
    }

    /// [`CommandBudget::check`] for a lookup: `lookup` computes the command's
    /// answer while the member is charged, and the answer is given only if the
    /// charge is allowed. On PostgreSQL the charge is a round trip of its own, and a
    /// lookup's reads are one or two more; run one after the other they were the
    /// whole of the gap between the backends' command latencies (BENCHMARKS.md,
    /// "command latency on PostgreSQL"). Side by side, a lookup waits for the longer
    /// of the two.
    ///
    /// Only for work that stores nothing and posts nothing: `lookup` runs to the
    /// end whether or not the member is within budget, and a refused member's
    /// answer is dropped. A refused lookup costs its reads (and at most a cache
    /// filled on the way, such as Slack's display names), never a message.
    pub async fn check_alongside<T>(
        &self,
        member: &str,
        invocation: u64,
        now: DateTime<Utc>,
        lookup: impl Future<Output = T>,
    ) -> Result<T, Refused> {
        match tokio::join!(self.check(member, invocation, now), lookup) {
            (Verdict::Allowed, answer) => Ok(answer),
            (Verdict::Refused { retry_after }, _) => Err(Refused { retry_after }),
        }
    }
}

/// A lookup refused by [`CommandBudget::check_alongside`]: the member is over
/// budget, and the oldest command in the window leaves it after `retry_after`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refused {
    pub retry_after: TimeDelta,
}

impl Refused {
    /// What the member reads ([`refusal`]).
    pub fn message(&self) -> String {
        refusal(self.retry_after)
    }
}

impl SharedBudget {
    async fn check(
        &self,
        member: &str,
        invocation: u64,
        now: DateTime<Utc>,
    ) -> Result<Verdict, StoreError> {
        let charged = self
            .store
            .charge_command(
                self.platform,
                member,
                invocation,
                now,
                self.window,
                self.budget,
            )
            .await?;
        let verdict = match charged {
            // PostgreSQL: one call, the same rule in SQL (a command is acknowledged
            // after this, so its round trips count; see the migration).
            BudgetCharge::Allowed => Verdict::Allowed,
            BudgetCharge::Refused { retry_after } => Verdict::Refused { retry_after },
            BudgetCharge::NotHere => self.check_in_transaction(member, invocation, now).await?,
        };
        self.sweep_if_due(now);
        Ok(verdict)
    }

    /// The check as steps in one write transaction, the rule in [`decide`]: SQLite,
    /// whose one writer at a time protects the read and the charge.
    async fn check_in_transaction(
        &self,
        member: &str,
        invocation: u64,
        now: DateTime<Utc>,
    ) -> Result<Verdict, StoreError> {
        let mut tx = self
            .store
            .write_member_budget(self.platform, member)
            .await?;
        // Under the member's lock: no other process reads or charges this member
        // until the commit, so the count and the insert are one step.
        let mut uses =
            command_uses::recent(&mut tx, self.platform, member, now - self.window).await?;
        if uses.iter().any(|&(at, _)| at > now) {
            // The clock was stepped back: such uses count as now, as in memory.
            command_uses::bring_forward(&mut tx, self.platform, member, now).await?;
            uses.iter_mut().for_each(|(at, _)| *at = (*at).min(now));
        }
        let decision = decide(uses.into_iter(), invocation, now, self.budget, self.window);
        if decision == Decision::Charge {
            command_uses::record(&mut tx, self.platform, member, invocation, now).await?;
        }
        tx.commit().await?;
        Ok(match decision {
            Decision::AlreadyCharged | Decision::Charge => Verdict::Allowed,
            Decision::Refuse { retry_after } => Verdict::Refused { retry_after },
        })
    }

    /// Sweeps old uses out, once per window, off the command path.
    fn sweep_if_due(&self, now: DateTime<Utc>) {
        if self.sweep_due(now) {
            // Off the command path (it takes the store's write lock, like any other
            // write), and without any member's lock: uses two windows old count for
            // no check, unless a process's clock is a whole window behind. Best
            // effort: the next sweep retries.
            let store = self.store.clone();
            let before = now - self.window * 2;
            tokio::spawn(async move {
                let swept = async {
                    let mut tx = store.write().await?;
                    let n = command_uses::sweep(&mut tx, before).await?;
                    tx.commit().await?;
                    Ok::<_, StoreError>(n)
                };
                if let Err(error) = swept.await {
                    warn!(%error, "sweeping old command uses failed; the next sweep retries");
                }
            });
        }
    }

    /// Whether this process should sweep now: once per window (or after the clock
    /// was stepped back).
    fn sweep_due(&self, now: DateTime<Utc>) -> bool {
        let mut last = self.last_sweep.lock().unwrap_or_else(|e| e.into_inner());
        if last.is_none_or(|t| now - t >= self.window || now < t) {
            *last = Some(now);
            true
        } else {
            false
        }
    }
}

/// Drops uses that have left the window. A use in the future (the clock was stepped
/// back) counts as now, so such a step never locks a member out for longer than one
/// window.
fn prune(uses: &mut VecDeque<Use>, now: DateTime<Utc>, window: TimeDelta) {
    for u in uses.iter_mut() {
        u.at = u.at.min(now);
    }
    while uses.front().is_some_and(|u| u.at + window <= now) {
        uses.pop_front();
    }
}

/// The refusal a member reads, with the wait in whole seconds (rounded up).
pub fn refusal(retry_after: TimeDelta) -> String {
    let ms = retry_after.num_milliseconds().max(0);
    let secs = ((ms + 999) / 1000).max(1);
    format!(
        "You're going a bit fast: {BUDGET} commands per {} seconds. Try again in {secs} s.",
        WINDOW.num_seconds()
    )
}

pub fn is_exempt(qualified_name: &str) -> bool {
    EXEMPT.contains(&qualified_name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(secs: f64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000, 0).unwrap()
            + TimeDelta::milliseconds((secs * 1000.0) as i64)
    }

    fn refused(v: Verdict) -> TimeDelta {
        match v {
            Verdict::Refused { retry_after } => retry_after,
            Verdict::Allowed => panic!("expected a refusal"),
        }
    }

    #[test]
    fn five_in_ten_seconds_then_a_refusal_until_the_oldest_leaves_the_window() {
        let l = MemberLimiter::default();
        for (i, at) in [0.0, 1.0, 2.0, 3.0, 4.0].into_iter().enumerate() {
            assert_eq!(l.check("7", i as u64, t(at)), Verdict::Allowed, "#{i}");
        }
        assert_eq!(refused(l.check("7", 10, t(6.0))), TimeDelta::seconds(4));
        assert_eq!(
            refused(l.check("7", 11, t(9.999))),
            TimeDelta::milliseconds(1)
        );
        // At exactly 10 s the first use has left the window; one slot frees up.
        assert_eq!(l.check("7", 12, t(10.0)), Verdict::Allowed);
        assert_eq!(
            refused(l.check("7", 13, t(10.5))),
            TimeDelta::milliseconds(500)
        );
        assert_eq!(l.check("7", 14, t(11.0)), Verdict::Allowed);
    }

    #[test]
    fn refused_attempts_are_not_charged() {
        let l = MemberLimiter::default();
        for i in 0..5 {
            l.check("7", i, t(0.0));
        }
        for i in 5..100 {
            assert!(matches!(l.check("7", i, t(5.0)), Verdict::Refused { .. }));
        }
        // Hammering did not push the wait out: all five slots are free at 10 s.
        for i in 100..105 {
            assert_eq!(l.check("7", i, t(10.0)), Verdict::Allowed);
        }
    }

    #[test]
    fn members_have_separate_budgets() {
        let l = MemberLimiter::default();
        for i in 0..5 {
            l.check("1", i, t(0.0));
        }
        assert!(matches!(l.check("1", 9, t(0.0)), Verdict::Refused { .. }));
        assert_eq!(l.check("2", 10, t(0.0)), Verdict::Allowed);
    }

    #[test]
    fn the_same_invocation_is_charged_once() {
        let l = MemberLimiter::default();
        for _ in 0..3 {
            assert_eq!(l.check("7", 42, t(0.0)), Verdict::Allowed);
        }
        for i in 0..4 {
            assert_eq!(l.check("7", i, t(0.0)), Verdict::Allowed, "#{i}");
        }
        assert!(matches!(l.check("7", 99, t(0.0)), Verdict::Refused { .. }));
    }

    #[test]
    fn a_clock_stepped_back_locks_nobody_out_for_more_than_a_window() {
        let l = MemberLimiter::default();
        for i in 0..5 {
            l.check("7", i, t(3600.0));
        }
        let wait = refused(l.check("7", 10, t(0.0)));
        assert!(wait <= WINDOW, "{wait}");
        assert_eq!(l.check("7", 11, t(10.0)), Verdict::Allowed);
    }

    #[test]
    fn the_map_holds_only_recently_active_members() {
        let l = MemberLimiter::default();
        for round in 0..50u64 {
            let now = t(round as f64 * 11.0);
            for m in 0..100u64 {
                l.check(&(round * 1000 + m).to_string(), m, now);
            }
            // Everyone of earlier rounds has gone quiet: only this round's remain.
            assert_eq!(l.tracked_members(), 100, "round {round}");
        }
        // The sweep runs at most once per window and keeps members still inside it.
        let l = MemberLimiter::default();
        l.check("1", 1, t(0.0));
        l.check("2", 2, t(5.0));
        assert_eq!(l.tracked_members(), 2);
        l.check("3", 3, t(12.0));
        assert_eq!(l.tracked_members(), 2, "member 1's window is empty");
    }

    #[test]
    fn the_refusal_says_the_limit_and_the_wait_in_whole_seconds() {
        assert_eq!(
            refusal(TimeDelta::milliseconds(3200)),
            "You're going a bit fast: 5 commands per 10 seconds. Try again in 4 s."
        );
        assert!(refusal(TimeDelta::milliseconds(1)).ends_with("Try again in 1 s."));
        assert!(refusal(TimeDelta::zero()).ends_with("Try again in 1 s."));
    }
}
