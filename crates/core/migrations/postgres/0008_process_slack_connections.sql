-- The same as migrations/sqlite/0016_process_slack_connections.sql: each process's
-- Slack Socket Mode connections, which together stay within Slack's 10 per app.
ALTER TABLE processes ADD COLUMN slack_connections BIGINT NOT NULL DEFAULT 0;
