-- The same as migrations/sqlite/0012_processes.sql: the live processes and their
-- heartbeats, and the holder of each drop's claim or reveal lease.
CREATE TABLE processes (
    id         TEXT    PRIMARY KEY,
    host       TEXT    NOT NULL,
    pid        BIGINT  NOT NULL,
    shards     TEXT,
    started_at BIGINT  NOT NULL,
    heard_at   BIGINT  NOT NULL
);
ALTER TABLE drops ADD COLUMN holder TEXT;
