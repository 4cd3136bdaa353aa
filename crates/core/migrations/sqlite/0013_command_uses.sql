-- The per-member command budget when several processes share the database: one row
-- per charged command, so every process counts the same uses. On SQLite (one
-- process) the budget is kept in memory and this table stays empty; it is here so
-- the two schemas stay one. Rows leave once they are two windows old.
CREATE TABLE command_uses (
    platform   TEXT    NOT NULL,                    -- 'discord', 'slack'
    member_id  TEXT    NOT NULL,                    -- the platform's member id
    invocation INTEGER NOT NULL,                    -- the adapter's id of the invocation
    at_ms      INTEGER NOT NULL,                    -- when it was charged, epoch milliseconds
    PRIMARY KEY (platform, member_id, invocation)
);
CREATE INDEX command_uses_by_time ON command_uses (at_ms);
