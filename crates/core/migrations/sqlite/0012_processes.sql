-- Which process holds a claim. Every `prepbot run` gets a fresh random id when it
-- starts and renews `heard_at` while it is alive; a drop's claim or reveal lease
-- records its holder. A restarted process, or another process sharing the database,
-- then finishes a dead holder's claims at once instead of waiting out the lease, and
-- `prepbot status` lists the live processes and what they hold.
CREATE TABLE processes (
    id         TEXT    PRIMARY KEY,
    host       TEXT    NOT NULL,                    -- the host name, to tell a restart on the same machine
    pid        INTEGER NOT NULL,
    shards     TEXT,                                -- Discord shards "FIRST-LAST/TOTAL"; NULL: all, or no Discord
    started_at INTEGER NOT NULL,
    heard_at   INTEGER NOT NULL
);
-- No foreign key: a dead process's row is deleted while its claims keep the id, which
-- is what marks them as free to finish.
ALTER TABLE drops ADD COLUMN holder TEXT;
