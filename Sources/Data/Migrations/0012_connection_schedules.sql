-- A connection's `sync_frequency` (hourly, daily, weekly) owns one schedule of that
-- connection, kept in step with it: created, changed and deleted with the frequency
-- ('manual' has none). Other schedules of the connection are the API's own.
ALTER TABLE etl_schedules ADD COLUMN from_connection boolean NOT NULL DEFAULT false;
CREATE UNIQUE INDEX etl_schedules_from_connection ON etl_schedules (connection_id) WHERE from_connection;

-- Connections saved before this had a frequency that did nothing: give them their schedule,
-- first run at the next hour, midnight UTC or Monday midnight UTC (as ScheduleRule computes).
INSERT INTO etl_schedules (team_id, connection_id, name, tables, frequency, timezone, enabled, next_run_at,
                           created_by, from_connection)
SELECT c.team_id, c.id, c.name || ' (' || c.sync_frequency || ')',
       '{"tables": "all", "sync_mode": "full_refresh"}'::jsonb, c.sync_frequency, 'UTC', true,
       CASE c.sync_frequency
           WHEN 'hourly' THEN date_trunc('hour', now()) + interval '1 hour'
           WHEN 'daily' THEN date_trunc('day', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' + interval '1 day'
           ELSE date_trunc('week', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' + interval '7 days'
       END,
       c.created_by, true
FROM connections c
WHERE c.sync_frequency IN ('hourly', 'daily', 'weekly') AND c.deleted_at IS NULL;
