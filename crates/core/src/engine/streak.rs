//! Per-channel streaks: consecutive posted drops (by sequence number) a member
//! answered on time. Days off the schedule and drops never posted have no sequence
//! number, so they cannot break a streak. Streaks settle when a drop is revealed,
//! touching only that drop's answerers.

use chrono::{DateTime, Utc};

/// A member's stored streak in one channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberStreak {
    pub current: u32,
    pub best: u32,
    pub total_on_time: u32,
    /// Sequence number of the last drop they answered on time.
    pub last_seq: u32,
    pub last_answered_at: DateTime<Utc>,
}

/// Settles one on-time answerer of drop `seq`. Settling the same drop twice is a no-op.
pub fn settle(prev: Option<&MemberStreak>, seq: u32, answered_at: DateTime<Utc>) -> MemberStreak {
    match prev {
        Some(p) if p.last_seq >= seq => p.clone(),
        Some(p) => {
            let current = if p.last_seq + 1 == seq {
                p.current + 1
            } else {
                1
            };
            MemberStreak {
                current,
                best: p.best.max(current),
                total_on_time: p.total_on_time + 1,
                last_seq: seq,
                last_answered_at: answered_at,
            }
        }
        None => MemberStreak {
            current: 1,
            best: 1,
            total_on_time: 1,
            last_seq: seq,
            last_answered_at: answered_at,
        },
    }
}

/// Rebuilds a streak from every sequence number a member answered on time, in
/// increasing order. `None` for an empty history.
pub fn replay(seqs: &[u32], last_answered_at: DateTime<Utc>) -> Option<MemberStreak> {
    let mut streak: Option<MemberStreak> = None;
    for &seq in seqs {
        streak = Some(settle(streak.as_ref(), seq, last_answered_at));
    }
    streak
}

/// Streak lengths worth announcing at a reveal: 3, 5, 7, 10, 14, 21, 30, 50, 75,
/// 100, then every 50.
pub fn is_milestone(streak: u32) -> bool {
    matches!(streak, 3 | 5 | 7 | 10 | 14 | 21 | 30 | 50 | 75 | 100)
        || (streak > 100 && streak.is_multiple_of(50))
}

/// The channel's position: its latest posted sequence number and whether that drop
/// is still open (posted, not yet revealed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ChannelProgress {
    pub latest_seq: u32,
    pub latest_open: bool,
}

/// A stored streak is current only while its last answered drop is the latest
/// revealed one: the latest drop, or the one before an open drop.
pub fn current_streak(stats: &MemberStreak, progress: ChannelProgress) -> u32 {
    let latest_revealed = if progress.latest_open {
        progress.latest_seq.saturating_sub(1)
    } else {
        progress.latest_seq
    };
    if stats.last_seq >= latest_revealed {
        stats.current
    } else {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t() -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000, 0).unwrap()
    }

    fn play(answered: &[u32]) -> MemberStreak {
        let mut s: Option<MemberStreak> = None;
        for &seq in answered {
            s = Some(settle(s.as_ref(), seq, t()));
        }
        s.unwrap()
    }

    #[test]
    fn consecutive_sequences_grow_and_a_gap_resets() {
        let s = play(&[1, 2, 3]);
        assert_eq!(
            (s.current, s.best, s.total_on_time, s.last_seq),
            (3, 3, 3, 3)
        );
        let s = play(&[1, 2, 3, 5, 6]);
        assert_eq!((s.current, s.best, s.total_on_time), (2, 3, 5));
        let s = play(&[1, 3, 4, 5, 6]);
        assert_eq!((s.current, s.best), (4, 4));
    }

    #[test]
    fn replay_rebuilds_the_same_streak_as_settling_in_order() {
        for seqs in [&[1, 2, 3][..], &[1, 3, 4, 5], &[2, 3, 7, 8, 9, 12]] {
            let replayed = replay(seqs, t()).unwrap();
            assert_eq!(replayed, play(seqs));
        }
        assert_eq!(replay(&[], t()), None);
    }

    #[test]
    fn milestones() {
        let hits: Vec<u32> = (1..=250).filter(|n| is_milestone(*n)).collect();
        assert_eq!(hits, [3, 5, 7, 10, 14, 21, 30, 50, 75, 100, 150, 200, 250]);
    }

    #[test]
    fn settling_twice_or_out_of_order_changes_nothing() {
        let s = play(&[1, 2]);
        assert_eq!(settle(Some(&s), 2, t()), s);
        assert_eq!(settle(Some(&s), 1, t()), s);
    }

    #[test]
    fn current_only_while_the_last_answer_is_the_latest_revealed_drop() {
        let s = play(&[1, 2, 3]);
        let at = |latest_seq, latest_open| {
            current_streak(
                &s,
                ChannelProgress {
                    latest_seq,
                    latest_open,
                },
            )
        };
        assert_eq!(at(3, false), 3, "answered the latest revealed drop");
        assert_eq!(at(4, true), 3, "drop 4 is open: there is still time");
        assert_eq!(at(4, false), 0, "drop 4 was revealed without them");
        assert_eq!(at(5, true), 0, "missed drop 4");
    }
}
