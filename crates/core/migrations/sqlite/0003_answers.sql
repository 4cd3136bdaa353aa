-- Every message a member posts in a drop's thread, one row per message, stored whole.
CREATE TABLE answers (
    message_id   INTEGER PRIMARY KEY,
    drop_id      INTEGER NOT NULL REFERENCES drops (id) ON DELETE CASCADE,
    member_id    INTEGER NOT NULL,
    member_name  TEXT    NOT NULL,
    body         TEXT    NOT NULL,
    posted_at    INTEGER NOT NULL,
    edited_at    INTEGER,                 -- last edit; the body holds the edited text
    withdrawn_at INTEGER                  -- the member deleted the message
);

CREATE INDEX answers_by_drop ON answers (drop_id, member_id);
