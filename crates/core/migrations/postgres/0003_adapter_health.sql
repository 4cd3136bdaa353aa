-- The same as migrations/sqlite/0011_adapter_health.sql: each adapter's health as
-- the running bot last wrote it, for `prepbot status`.
CREATE TABLE adapter_health (
    platform TEXT    PRIMARY KEY CHECK (platform IN ('discord', 'slack', 'console')),
    state    TEXT    NOT NULL CHECK (state IN ('connecting', 'catching_up', 'connected', 'stopped')),
    detail   TEXT,                                  -- why it stopped; NULL otherwise
    since    BIGINT  NOT NULL,                      -- when it entered this state
    heard_at BIGINT  NOT NULL
);
