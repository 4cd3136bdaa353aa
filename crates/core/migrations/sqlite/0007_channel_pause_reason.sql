-- Why a channel was paused by the bot itself (its Discord channel was deleted),
-- shown by `/schedule show` and `prepbot status`. NULL when an admin paused it or
-- it is not paused; cleared on resume and on setup.
ALTER TABLE channels ADD COLUMN pause_reason TEXT;
