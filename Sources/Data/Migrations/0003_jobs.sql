-- Background jobs: claimed with FOR UPDATE SKIP LOCKED, held by a lease that the
-- worker's heartbeat extends; a job whose lease lapses (its worker died) is retried.
CREATE TABLE jobs (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    team_id uuid REFERENCES teams (id) ON DELETE CASCADE,
    kind text NOT NULL,
    payload jsonb NOT NULL DEFAULT '{}',
    status text NOT NULL DEFAULT 'queued'
        CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
    priority integer NOT NULL DEFAULT 0,
    attempts integer NOT NULL DEFAULT 0,
    max_attempts integer NOT NULL DEFAULT 3 CHECK (max_attempts >= 1),
    run_after timestamptz NOT NULL DEFAULT now(),
    locked_by text,
    lease_until timestamptz,
    heartbeat_at timestamptz,
    progress_done integer,
    progress_total integer,
    progress_note text,
    result jsonb,
    error text,
    -- Jobs sharing a key never run at the same time (e.g. one ETL run per connection).
    concurrency_key text,
    created_at timestamptz NOT NULL DEFAULT now(),
    started_at timestamptz,
    finished_at timestamptz,
    updated_at timestamptz NOT NULL DEFAULT now(),
    duration_ms bigint
);
CREATE INDEX jobs_ready ON jobs (priority DESC, run_after) WHERE status = 'queued';
CREATE INDEX jobs_running ON jobs (lease_until) WHERE status = 'running';
CREATE INDEX jobs_team ON jobs (team_id, created_at DESC);
CREATE UNIQUE INDEX jobs_one_running_per_key ON jobs (concurrency_key) WHERE status = 'running' AND concurrency_key IS NOT NULL;
