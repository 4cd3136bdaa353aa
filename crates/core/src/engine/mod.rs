//! The rules of prepbot, free of any chat platform and of the wall clock: every
//! function that needs the time takes `now`.
//!
//! - [`schedule`]: local drop times to UTC instants, across daylight saving.
//! - [`rotation`]: which question comes next in a channel.
//! - [`answers`]: whether a message counts, and for whom.
//! - [`streak`]: how streaks move when a drop is revealed.
//! - [`reveal`]: what a drop post and a reveal say, as platform-neutral blocks.
//! - [`split`]: cutting long text into chunks a platform accepts.

pub mod answers;
pub mod reveal;
pub mod rotation;
pub mod schedule;
pub mod split;
pub mod streak;

use std::fmt;
use std::str::FromStr;

/// Where a drop is in its life.
///
/// `Due` is computed, never stored: a drop becomes a row when it is claimed (or
/// recorded as missed). Claimed drops become posted (and get a sequence number) or
/// failed; posted drops become revealed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DropState {
    Due,
    Claimed,
    Posted,
    Revealed,
    /// The bot was not running (or was paused) from the drop instant to its reveal.
    Missed,
    /// Posting failed and was not retried in time.
    Failed,
}

impl DropState {
    pub fn as_str(self) -> &'static str {
        match self {
            DropState::Due => "due",
            DropState::Claimed => "claimed",
            DropState::Posted => "posted",
            DropState::Revealed => "revealed",
            DropState::Missed => "missed",
            DropState::Failed => "failed",
        }
    }
}

impl fmt::Display for DropState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for DropState {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [
            DropState::Due,
            DropState::Claimed,
            DropState::Posted,
            DropState::Revealed,
            DropState::Missed,
            DropState::Failed,
        ]
        .into_iter()
        .find(|d| d.as_str() == s)
        .ok_or_else(|| format!("unknown drop state `{s}`"))
    }
}
