-- The same as migrations/sqlite/0013_command_uses.sql: one row per charged command,
-- so every process sharing the database counts the same uses of a member's budget.
CREATE TABLE command_uses (
    platform   TEXT    NOT NULL,
    member_id  TEXT    NOT NULL,
    invocation BIGINT  NOT NULL,
    at_ms      BIGINT  NOT NULL,
    PRIMARY KEY (platform, member_id, invocation)
);
CREATE INDEX command_uses_by_time ON command_uses (at_ms);
