-- Serenity runs each gateway event in its own task, so the edit or delete of a
-- message can be handled before its create. An edit or delete of an answer not
-- stored yet is kept here and applied when the create arrives, so the outcome does
-- not depend on the order the events were handled in.
CREATE TABLE early_message_events (
    message_id   INTEGER PRIMARY KEY,
    drop_id      INTEGER NOT NULL REFERENCES drops (id) ON DELETE CASCADE,
    edited_body  TEXT,             -- the latest edit seen, with its time
    edited_at    INTEGER,
    withdrawn_at INTEGER           -- the message was deleted
);
