-- Each adapter's health as the running bot last wrote it, so `prepbot status` (a
-- separate process that only reads the database) can show it: connecting, catching
-- up, connected, or stopped and why. `heard_at` is the running process's heartbeat;
-- a state other than stopped with an old heartbeat means the process ended without
-- saying (killed, crashed) or lost the database.
CREATE TABLE adapter_health (
    platform TEXT    PRIMARY KEY CHECK (platform IN ('discord', 'slack', 'console')),
    state    TEXT    NOT NULL CHECK (state IN ('connecting', 'catching_up', 'connected', 'stopped')),
    detail   TEXT,                                  -- why it stopped; NULL otherwise
    since    INTEGER NOT NULL,                      -- when it entered this state
    heard_at INTEGER NOT NULL
);
