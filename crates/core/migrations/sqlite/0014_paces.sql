-- Rates that several processes share (Discord's REST limit is per bot token, not per
-- process): one row per rate holding its next free slot, in microseconds on the
-- database's clock. Each process reserves a few consecutive slots at a time, so the
-- processes together send no faster than one would. On SQLite (one process) each
-- process paces itself in memory and this table stays empty; it is here so the two
-- schemas stay one.
CREATE TABLE paces (
    name    TEXT    PRIMARY KEY,                    -- which rate: 'discord-rest'
    next_us INTEGER NOT NULL                        -- the next free slot, epoch microseconds
);
