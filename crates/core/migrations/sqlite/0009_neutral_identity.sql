-- no-transaction
-- Neutral identity: every chat object is addressed by its platform and the
-- platform's own id as text, and rows get internal integer keys. Until now ids were
-- Discord snowflakes stored as SQLite integers (those >= 2^63 as negative numbers).
--
-- SQLite changes a key only by rebuilding the table. `-- no-transaction` keeps sqlx
-- from wrapping this in its own transaction: the store runs it itself
-- (`store::upgrade`), after a `VACUUM INTO` copy, on a connection with foreign keys
-- OFF, inside one transaction that commits only if `PRAGMA foreign_key_check` is
-- empty. With foreign keys on, dropping `channels` would cascade and empty drops,
-- answers, stats and rotations. The store then rewrites ids that were stored
-- negative to their unsigned text and `<#id>` mentions in stored reasons to plain
-- words, in the same transaction.
--
-- Row orders that ties used to break by platform id (answers by message id, members
-- by member id, channels by channel id) are kept by numbering the new rows in the
-- old order.

CREATE TEMP TABLE channel_keys AS
    SELECT channel_id AS old_id, ROW_NUMBER() OVER (ORDER BY channel_id) AS key FROM channels;

CREATE TABLE new_channels (
    id                 INTEGER PRIMARY KEY,
    platform           TEXT    NOT NULL CHECK (platform IN ('discord', 'slack', 'console')),
    workspace_id       TEXT    NOT NULL,              -- a Discord server, a Slack team
    conversation_id    TEXT    NOT NULL,              -- the platform's channel id
    name               TEXT,                          -- as last seen, for people; NULL until known
    drop_time          TEXT    NOT NULL,              -- local wall time, HH:MM
    time_zone          TEXT    NOT NULL,              -- IANA name
    days               INTEGER NOT NULL CHECK (days BETWEEN 1 AND 127), -- bit 0 = Monday
    reveal_after_hours INTEGER NOT NULL CHECK (reveal_after_hours BETWEEN 1 AND 168),
    pool_topic         TEXT,                          -- NULL: any topic
    pool_difficulty    TEXT,                          -- NULL: any difficulty
    pool_kind          TEXT,                          -- NULL: any kind
    paused             INTEGER NOT NULL DEFAULT 0 CHECK (paused IN (0, 1)),
    pause_reason       TEXT,                          -- why the bot paused it itself
    active_from        INTEGER NOT NULL,
    created_at         INTEGER NOT NULL,
    updated_at         INTEGER NOT NULL,
    UNIQUE (platform, conversation_id)
);

INSERT INTO new_channels (id, platform, workspace_id, conversation_id, name, drop_time, time_zone,
        days, reveal_after_hours, pool_topic, pool_difficulty, pool_kind, paused, pause_reason,
        active_from, created_at, updated_at)
    SELECT k.key, 'discord', CAST(c.guild_id AS TEXT), CAST(c.channel_id AS TEXT), NULL, c.drop_time,
           c.time_zone, c.days, c.reveal_after_hours, c.pool_topic, c.pool_difficulty, c.pool_kind,
           c.paused, c.pause_reason, c.active_from, c.created_at, c.updated_at
    FROM channels c JOIN channel_keys k ON k.old_id = c.channel_id
    ORDER BY k.key;

CREATE TABLE new_drops (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    channel_id         INTEGER NOT NULL REFERENCES channels (id) ON DELETE CASCADE,
    local_date         TEXT    NOT NULL,
    state              TEXT    NOT NULL CHECK (state IN ('claimed', 'posted', 'revealed', 'missed', 'failed')),
    question_id        TEXT,
    seq                INTEGER,
    due_at             INTEGER NOT NULL,
    reveal_due_at      INTEGER NOT NULL,
    claimed_at         INTEGER,
    lease_until        INTEGER,
    attempts           INTEGER NOT NULL DEFAULT 0,
    posted_at          INTEGER,
    revealed_at        INTEGER,
    message_id         TEXT,                          -- the platform's id of the drop message
    thread_id          TEXT,                          -- the platform's id of its thread
    failure            TEXT,
    UNIQUE (channel_id, local_date),
    UNIQUE (channel_id, seq),
    CHECK ((state IN ('posted', 'revealed')) = (seq IS NOT NULL))
);

-- Drop ids are kept: they are in the nonces and markers of posts already made.
INSERT INTO new_drops (id, channel_id, local_date, state, question_id, seq, due_at, reveal_due_at,
        claimed_at, lease_until, attempts, posted_at, revealed_at, message_id, thread_id, failure)
    SELECT d.id, k.key, d.local_date, d.state, d.question_id, d.seq, d.due_at, d.reveal_due_at,
           d.claimed_at, d.lease_until, d.attempts, d.posted_at, d.revealed_at,
           CAST(d.message_id AS TEXT), CAST(d.thread_id AS TEXT), d.failure
    FROM drops d JOIN channel_keys k ON k.old_id = d.channel_id
    ORDER BY d.id;

-- A message is keyed by its channel and the platform's message id (a Slack `ts` is
-- unique only within its channel); `channel_id` is the schedule's channel.
CREATE TABLE new_answers (
    id           INTEGER PRIMARY KEY,
    channel_id   INTEGER NOT NULL REFERENCES channels (id) ON DELETE CASCADE,
    drop_id      INTEGER NOT NULL REFERENCES drops (id) ON DELETE CASCADE,
    message_id   TEXT    NOT NULL,
    member_id    TEXT    NOT NULL,
    member_name  TEXT    NOT NULL,
    body         TEXT    NOT NULL,                -- verbatim, in the platform's own markup
    posted_at    INTEGER NOT NULL,
    edited_at    INTEGER,
    withdrawn_at INTEGER,
    UNIQUE (channel_id, message_id)
);

INSERT INTO new_answers (channel_id, drop_id, message_id, member_id, member_name, body, posted_at,
        edited_at, withdrawn_at)
    SELECT k.key, a.drop_id, CAST(a.message_id AS TEXT), CAST(a.member_id AS TEXT), a.member_name,
           a.body, a.posted_at, a.edited_at, a.withdrawn_at
    FROM answers a JOIN drops d ON d.id = a.drop_id JOIN channel_keys k ON k.old_id = d.channel_id
    ORDER BY a.posted_at, a.message_id;

CREATE TABLE new_early_message_events (
    channel_id   INTEGER NOT NULL REFERENCES channels (id) ON DELETE CASCADE,
    message_id   TEXT    NOT NULL,
    drop_id      INTEGER NOT NULL REFERENCES drops (id) ON DELETE CASCADE,
    edited_body  TEXT,
    edited_at    INTEGER,
    withdrawn_at INTEGER,
    PRIMARY KEY (channel_id, message_id)
);

INSERT INTO new_early_message_events (channel_id, message_id, drop_id, edited_body, edited_at, withdrawn_at)
    SELECT k.key, CAST(e.message_id AS TEXT), e.drop_id, e.edited_body, e.edited_at, e.withdrawn_at
    FROM early_message_events e JOIN drops d ON d.id = e.drop_id
    JOIN channel_keys k ON k.old_id = d.channel_id;

CREATE TABLE new_member_stats (
    id               INTEGER PRIMARY KEY,
    channel_id       INTEGER NOT NULL REFERENCES channels (id) ON DELETE CASCADE,
    member_id        TEXT    NOT NULL,
    member_name      TEXT    NOT NULL,
    current_streak   INTEGER NOT NULL,
    best_streak      INTEGER NOT NULL,
    total_on_time    INTEGER NOT NULL,
    last_seq         INTEGER NOT NULL,
    last_answered_at INTEGER NOT NULL,
    UNIQUE (channel_id, member_id)
);

INSERT INTO new_member_stats (channel_id, member_id, member_name, current_streak, best_streak,
        total_on_time, last_seq, last_answered_at)
    SELECT k.key, CAST(s.member_id AS TEXT), s.member_name, s.current_streak, s.best_streak,
           s.total_on_time, s.last_seq, s.last_answered_at
    FROM member_stats s JOIN channel_keys k ON k.old_id = s.channel_id
    ORDER BY k.key, s.member_id;

CREATE TABLE new_rotations (
    channel_id INTEGER PRIMARY KEY REFERENCES channels (id) ON DELETE CASCADE,
    seed       INTEGER NOT NULL,   -- a u64 stored bit for bit (negative above 2^63)
    cycle      INTEGER NOT NULL DEFAULT 0
);

INSERT INTO new_rotations (channel_id, seed, cycle)
    SELECT k.key, r.seed, r.cycle FROM rotations r JOIN channel_keys k ON k.old_id = r.channel_id;

CREATE TABLE new_rotation_used (
    channel_id  INTEGER NOT NULL REFERENCES rotations (channel_id) ON DELETE CASCADE,
    cycle       INTEGER NOT NULL,
    question_id TEXT    NOT NULL,
    used_at     INTEGER NOT NULL,
    PRIMARY KEY (channel_id, cycle, question_id)
);

INSERT INTO new_rotation_used (channel_id, cycle, question_id, used_at)
    SELECT k.key, u.cycle, u.question_id, u.used_at
    FROM rotation_used u JOIN channel_keys k ON k.old_id = u.channel_id;

DROP TABLE rotation_used;
DROP TABLE rotations;
DROP TABLE member_stats;
DROP TABLE early_message_events;
DROP TABLE answers;
DROP TABLE drops;
DROP TABLE channels;
DROP TABLE channel_keys;

ALTER TABLE new_channels RENAME TO channels;
ALTER TABLE new_drops RENAME TO drops;
ALTER TABLE new_answers RENAME TO answers;
ALTER TABLE new_early_message_events RENAME TO early_message_events;
ALTER TABLE new_member_stats RENAME TO member_stats;
ALTER TABLE new_rotations RENAME TO rotations;
ALTER TABLE new_rotation_used RENAME TO rotation_used;

-- The indexes of 0001-0008, on the new keys (see 0008 for why each exists).
CREATE INDEX channels_by_workspace ON channels (platform, workspace_id);
CREATE INDEX channels_active ON channels (id) WHERE paused = 0;
CREATE UNIQUE INDEX drops_one_open_per_channel ON drops (channel_id) WHERE state = 'posted';
-- A thread event finds its drop by the thread's id; on Slack the channel narrows it.
CREATE UNIQUE INDEX drops_by_thread ON drops (thread_id, channel_id) WHERE thread_id IS NOT NULL;
CREATE INDEX drops_in_state ON drops (state);
CREATE INDEX drops_by_channel_state ON drops (channel_id, state, local_date);
CREATE INDEX answers_by_drop_time ON answers (drop_id, posted_at);
CREATE INDEX answers_by_drop_member ON answers (drop_id, member_id, posted_at);
CREATE INDEX early_message_events_by_drop ON early_message_events (drop_id);
CREATE INDEX member_stats_current ON member_stats
    (channel_id, last_seq, current_streak DESC, total_on_time DESC, member_name COLLATE NOCASE, id);
CREATE INDEX member_stats_by_total ON member_stats
    (channel_id, total_on_time DESC, member_name COLLATE NOCASE, id, last_seq, current_streak);
