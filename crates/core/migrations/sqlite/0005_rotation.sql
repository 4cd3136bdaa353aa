-- Question rotation per channel: the seed and cycle number, and the set of question
-- ids used in the current cycle (a set, not an index into a list, so bank changes
-- cannot shift it).
CREATE TABLE rotations (
    channel_id INTEGER PRIMARY KEY REFERENCES channels (channel_id) ON DELETE CASCADE,
    seed       INTEGER NOT NULL,
    cycle      INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE rotation_used (
    channel_id  INTEGER NOT NULL REFERENCES rotations (channel_id) ON DELETE CASCADE,
    cycle       INTEGER NOT NULL,
    question_id TEXT    NOT NULL,
    used_at     INTEGER NOT NULL,
    PRIMARY KEY (channel_id, cycle, question_id)
);
