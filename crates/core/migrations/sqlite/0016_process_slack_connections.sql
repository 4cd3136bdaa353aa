-- The Slack Socket Mode connections each process opens. Slack allows an app 10 at a
-- time, counting every process: a process that would take the live processes past
-- that refuses to start, naming them (a connection over the limit is refused by
-- Slack, or cuts another process's off). 0 for a process that does not serve Slack.
ALTER TABLE processes ADD COLUMN slack_connections INTEGER NOT NULL DEFAULT 0;
