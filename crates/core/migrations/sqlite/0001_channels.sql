-- A channel that has a schedule. Platform ids are stored as SQLite integers through
-- one helper (store::ids); times are epoch seconds (UTC).
CREATE TABLE channels (
    channel_id         INTEGER PRIMARY KEY,
    guild_id           INTEGER NOT NULL,
    drop_time          TEXT    NOT NULL,              -- local wall time, HH:MM
    time_zone          TEXT    NOT NULL,              -- IANA name
    days               INTEGER NOT NULL CHECK (days BETWEEN 1 AND 127), -- bit 0 = Monday
    reveal_after_hours INTEGER NOT NULL CHECK (reveal_after_hours BETWEEN 1 AND 168),
    pool_topic         TEXT,                          -- NULL: any topic
    pool_difficulty    TEXT,                          -- NULL: any difficulty
    pool_kind          TEXT,                          -- NULL: any kind
    paused             INTEGER NOT NULL DEFAULT 0 CHECK (paused IN (0, 1)),
    -- No drop is due before this instant: set by setup and resume, so days that
    -- passed while unconfigured or paused are not treated as missed.
    active_from        INTEGER NOT NULL,
    created_at         INTEGER NOT NULL,
    updated_at         INTEGER NOT NULL
);

CREATE INDEX channels_by_guild ON channels (guild_id);
