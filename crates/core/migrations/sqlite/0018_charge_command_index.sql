-- Nothing changes on SQLite: the PostgreSQL migration of the same number tunes the
-- function of 0017's pair, which SQLite does not have.
SELECT 1;
