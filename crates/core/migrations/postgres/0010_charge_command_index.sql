-- prepbot_charge_command (0009) reads command_uses by platform and member, a prefix
-- of its primary key, so the index is always the right way in. But the table is a
-- sliding log of the last seconds' commands: it starts empty (migrate-store leaves
-- it vacuumed with no rows), the function's statements are planned once per
-- session and kept, and a plan made for an empty table scans the whole table ever
-- after. In the load harness the table grew to thousands of rows within a run, and
-- each call took 0.48 ms on average over 4,000 calls (pgbench), against 0.044 ms
-- with sequential scans off (0.116 ms replanning every call instead). Off for the
-- function's own statements only.
ALTER FUNCTION prepbot_charge_command(INTEGER, TEXT, TEXT, BIGINT, BIGINT, BIGINT, INTEGER)
    SET enable_seqscan = off;
