-- Serenity runs each gateway event in its own task, so the delete of a message can
-- be handled before its create. A delete of an answer not stored yet leaves a
-- tombstone here, and the create that follows is stored already withdrawn.
CREATE TABLE message_tombstones (
    message_id   INTEGER PRIMARY KEY,
    drop_id      INTEGER NOT NULL REFERENCES drops (id) ON DELETE CASCADE,
    withdrawn_at INTEGER NOT NULL
);
