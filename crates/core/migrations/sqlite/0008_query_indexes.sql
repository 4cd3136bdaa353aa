-- Indexes so that every query the commands, answer events and the scheduler run
-- is an index lookup or an ordered walk of an index: no full-table scans and no
-- sorts of whole tables (tests/query_plans.rs checks every plan). The rowid (a
-- table's INTEGER PRIMARY KEY) ends every index, so `ORDER BY id` or
-- `ORDER BY ..., message_id` after the indexed columns needs no sort.

-- The scheduler's agenda walks the active channels only.
CREATE INDEX channels_active ON channels (channel_id) WHERE paused = 0;

-- Open and claimed drops across channels, by id (the agenda, the backfill). The
-- old index's second column (reveal_due_at) was never queried and kept the rows
-- of one state out of id order.
DROP INDEX drops_by_state;
CREATE INDEX drops_in_state ON drops (state);

-- A channel's drops in one state: claimed ones waiting to be posted (oldest
-- first), the open drops of a guild's channels, the counts of `/schedule show`.
CREATE INDEX drops_by_channel_state ON drops (channel_id, state, local_date);

-- A drop's answers oldest first (settling a reveal), and one member's answers to
-- a drop (replaying a late answer's streak). These replace answers_by_drop
-- (drop_id, member_id), which left both orders to a sort.
DROP INDEX answers_by_drop;
CREATE INDEX answers_by_drop_time ON answers (drop_id, posted_at);
CREATE INDEX answers_by_drop_member ON answers (drop_id, member_id, posted_at);

-- Deleting a drop (a channel's cascade) finds its early events without a scan.
CREATE INDEX early_message_events_by_drop ON early_message_events (drop_id);

-- The leaderboard in two ordered walks, each stopping at its limit: members whose
-- streak is current (last answered at the latest revealed drop) by streak, then
-- everyone else by on-time answers; names compare without case, as shown. The
-- second walk skips the few current members from the index alone.
DROP INDEX member_stats_leaderboard;
CREATE INDEX member_stats_current ON member_stats
    (channel_id, last_seq, current_streak DESC, total_on_time DESC, member_name COLLATE NOCASE, member_id);
CREATE INDEX member_stats_by_total ON member_stats
    (channel_id, total_on_time DESC, member_name COLLATE NOCASE, member_id, last_seq, current_streak);
