-- A member's command budget checked and charged in one call, so a command on
-- PostgreSQL pays one round trip for it, not six (pool ping, BEGIN, the member's
-- lock, the read, the insert, COMMIT): crate::command_budget's shared kind. The
-- rule is crate::command_budget::decide's, which the SQLite path runs in Rust;
-- tests/it/budget.rs checks both against the in-memory budget on a script.
--
-- Called as one statement, it runs in that statement's transaction: the member's
-- advisory lock (the key Store::write_member_budget took before) is held until it
-- returns. Each statement in a PL/pgSQL function takes a new snapshot under READ
-- COMMITTED, so the count after the lock sees every charge committed before it.
--
-- Returns NULL when the command may run (charged now, or this invocation was
-- charged already), otherwise the milliseconds until the oldest use in the window
-- leaves it.
CREATE FUNCTION prepbot_charge_command(
    p_lock_class INTEGER,
    p_platform   TEXT,
    p_member     TEXT,
    p_invocation BIGINT,
    p_now_ms     BIGINT,
    p_window_ms  BIGINT,
    p_budget     INTEGER
) RETURNS BIGINT
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    used   INTEGER;
    oldest BIGINT;
BEGIN
    PERFORM pg_advisory_xact_lock(p_lock_class, hashtext(p_platform || ':' || p_member));
    -- A clock stepped back: uses in the future count as now, as in memory.
    UPDATE command_uses SET at_ms = p_now_ms
     WHERE platform = p_platform AND member_id = p_member AND at_ms > p_now_ms;
    IF EXISTS (SELECT 1 FROM command_uses
                WHERE platform = p_platform AND member_id = p_member
                  AND invocation = p_invocation AND at_ms > p_now_ms - p_window_ms) THEN
        RETURN NULL;
    END IF;
    SELECT count(*), min(at_ms) INTO used, oldest FROM command_uses
     WHERE platform = p_platform AND member_id = p_member
       AND at_ms > p_now_ms - p_window_ms;
    IF used < p_budget THEN
        INSERT INTO command_uses (platform, member_id, invocation, at_ms)
        VALUES (p_platform, p_member, p_invocation, p_now_ms)
        ON CONFLICT (platform, member_id, invocation) DO UPDATE SET at_ms = excluded.at_ms;
        RETURN NULL;
    END IF;
    RETURN LEAST(GREATEST(oldest + p_window_ms - p_now_ms, 0), p_window_ms);
END
$$;
