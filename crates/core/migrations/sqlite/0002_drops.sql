-- One question posted (or due, missed, failed) in one channel on one local date.
CREATE TABLE drops (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    channel_id         INTEGER NOT NULL REFERENCES channels (channel_id) ON DELETE CASCADE,
    local_date         TEXT    NOT NULL,              -- YYYY-MM-DD in the channel's zone
    state              TEXT    NOT NULL CHECK (state IN ('claimed', 'posted', 'revealed', 'missed', 'failed')),
    question_id        TEXT,                          -- NULL for missed drops and unclaimable ones
    seq                INTEGER,                       -- 1, 2, 3... once posted
    due_at             INTEGER NOT NULL,
    reveal_due_at      INTEGER NOT NULL,
    claimed_at         INTEGER,
    -- A claim is a lease: if the process dies mid-post, another may claim after it.
    lease_until        INTEGER,
    attempts           INTEGER NOT NULL DEFAULT 0,
    posted_at          INTEGER,
    revealed_at        INTEGER,
    message_id         INTEGER,
    thread_id          INTEGER,
    failure            TEXT,
    UNIQUE (channel_id, local_date),
    UNIQUE (channel_id, seq),
    CHECK ((state IN ('posted', 'revealed')) = (seq IS NOT NULL))
);

-- At most one open drop per channel.
CREATE UNIQUE INDEX drops_one_open_per_channel ON drops (channel_id) WHERE state = 'posted';
CREATE UNIQUE INDEX drops_by_thread ON drops (thread_id) WHERE thread_id IS NOT NULL;
CREATE INDEX drops_by_state ON drops (state, reveal_due_at);
