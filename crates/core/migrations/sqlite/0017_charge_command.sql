-- Nothing changes on SQLite. The PostgreSQL migration of the same number adds a
-- function that checks and charges a member's command budget in one round trip;
-- a SQLite bot keeps the budget in memory, and the store-backed budget on SQLite
-- runs its steps in one write transaction (crate::command_budget).
SELECT 1;
