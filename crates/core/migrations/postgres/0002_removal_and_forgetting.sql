-- The same as migrations/sqlite/0010_removal_and_forgetting.sql: a removed schedule
-- whose history was kept, and the members forgotten per channel, so catching up
-- after a restart does not store their forgotten answers again.
ALTER TABLE channels ADD COLUMN removed_at BIGINT;

CREATE TABLE forgotten_members (
    channel_id   BIGINT  NOT NULL REFERENCES channels (id) ON DELETE CASCADE,
    member_id    TEXT    NOT NULL,
    forgotten_at BIGINT  NOT NULL,
    PRIMARY KEY (channel_id, member_id)
);
