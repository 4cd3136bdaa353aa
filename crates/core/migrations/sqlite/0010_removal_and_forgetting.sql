-- Two admin and member basics (issue 14, item 5), in one migration because they
-- land together:
-- - A schedule an admin removed while keeping its history: the row stays (drops,
--   answers and stats refer to it) but commands and the scheduler no longer see it,
--   and a later /setup in the same channel clears the mark and carries on from it.
--   NULL: not removed. Removing with the history deleted deletes the row instead.
-- - Members whose answers and stats were forgotten (`/forget`), per channel: catching
--   up after a restart lists the thread again, and must not store the forgotten
--   answers a second time. Messages posted after `forgotten_at` are stored as usual.
ALTER TABLE channels ADD COLUMN removed_at INTEGER;

CREATE TABLE forgotten_members (
    channel_id   INTEGER NOT NULL REFERENCES channels (id) ON DELETE CASCADE,
    member_id    TEXT    NOT NULL,
    forgotten_at INTEGER NOT NULL,
    PRIMARY KEY (channel_id, member_id)
);
