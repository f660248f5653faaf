-- ETL: runs that copy a connection's tables into the warehouse, the state of every
-- warehouse table a connection feeds, and schedules.
CREATE TABLE etl_schedules (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    team_id uuid NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    connection_id uuid NOT NULL REFERENCES connections (id) ON DELETE CASCADE,
    name text NOT NULL,
    tables jsonb NOT NULL,
    frequency text,
    cron text,
    timezone text NOT NULL DEFAULT 'UTC',
    enabled boolean NOT NULL DEFAULT true,
    next_run_at timestamptz,
    last_run_at timestamptz,
    last_job_id uuid,
    created_by uuid REFERENCES users (id) ON DELETE SET NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CHECK ((frequency IS NULL) <> (cron IS NULL))
);
CREATE INDEX etl_schedules_due ON etl_schedules (next_run_at) WHERE enabled;

CREATE TABLE etl_jobs (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    team_id uuid NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    connection_id uuid NOT NULL REFERENCES connections (id),
    schedule_id uuid REFERENCES etl_schedules (id) ON DELETE SET NULL,
    job_id uuid REFERENCES jobs (id) ON DELETE SET NULL,
    trigger text NOT NULL CHECK (trigger IN ('manual', 'schedule')),
    status text NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'running', 'succeeded', 'failed')),
    tables jsonb NOT NULL,
    progress jsonb NOT NULL DEFAULT '[]',
    rows_read bigint NOT NULL DEFAULT 0,
    rows_written bigint NOT NULL DEFAULT 0,
    bytes bigint NOT NULL DEFAULT 0,
    error text,
    created_by uuid REFERENCES users (id) ON DELETE SET NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    started_at timestamptz,
    finished_at timestamptz
);
CREATE INDEX etl_jobs_team ON etl_jobs (team_id, created_at DESC, id);

CREATE TABLE etl_tables (
    connection_id uuid NOT NULL REFERENCES connections (id),
    team_id uuid NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    source_schema text NOT NULL,
    source_table text NOT NULL,
    warehouse_table text NOT NULL UNIQUE,
    mode text NOT NULL,
    cursor_column text,
    cursor_value text,
    primary_key text[] NOT NULL DEFAULT '{}',
    columns jsonb NOT NULL,
    row_count bigint NOT NULL DEFAULT 0,
    last_sync_at timestamptz,
    last_etl_job_id uuid,
    PRIMARY KEY (connection_id, source_schema, source_table)
);
