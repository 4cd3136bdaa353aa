-- Settled streaks per member per channel, updated at each reveal for that drop's
-- on-time answerers only.
CREATE TABLE member_stats (
    channel_id       INTEGER NOT NULL REFERENCES channels (channel_id) ON DELETE CASCADE,
    member_id        INTEGER NOT NULL,
    member_name      TEXT    NOT NULL,
    current_streak   INTEGER NOT NULL,
    best_streak      INTEGER NOT NULL,
    total_on_time    INTEGER NOT NULL,
    last_seq         INTEGER NOT NULL,
    last_answered_at INTEGER NOT NULL,
    PRIMARY KEY (channel_id, member_id)
);

CREATE INDEX member_stats_leaderboard ON member_stats (channel_id, current_streak DESC, total_on_time DESC);
