-- The same as migrations/sqlite/0014_paces.sql: each shared rate's next free slot,
-- in microseconds on the database's clock, from which every process reserves its
-- requests' slots.
CREATE TABLE paces (
    name    TEXT    PRIMARY KEY,
    next_us BIGINT  NOT NULL
);
