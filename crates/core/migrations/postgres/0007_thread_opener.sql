-- The same as migrations/sqlite/0015_thread_opener.sql: the process opening a posted
-- drop's thread, NULL once it is open.
ALTER TABLE drops ADD COLUMN thread_opener TEXT;
