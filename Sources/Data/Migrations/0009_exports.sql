-- Exports that run as jobs (large tables, batches): what was asked, how far it got, and the
-- file it produced under the exports directory until it expires. Tables fed by connections get
-- an id so they can be exported (and read) like extracted tables.
ALTER TABLE etl_tables ADD COLUMN id uuid NOT NULL DEFAULT gen_random_uuid();
CREATE UNIQUE INDEX etl_tables_id ON etl_tables (id);

CREATE TABLE exports (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    team_id uuid NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    created_by uuid REFERENCES users (id) ON DELETE SET NULL,
    kind text NOT NULL CHECK (kind IN ('table', 'batch')),
    format text NOT NULL,
    options jsonb NOT NULL DEFAULT '{}',
    table_ids uuid[] NOT NULL,
    job_id uuid REFERENCES jobs (id) ON DELETE SET NULL,
    status text NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'expired')),
    rows_done bigint NOT NULL DEFAULT 0,
    rows_total bigint,
    tables_done integer NOT NULL DEFAULT 0,
    file_name text,
    file_path text,
    content_type text,
    bytes bigint,
    error text,
    created_at timestamptz NOT NULL DEFAULT now(),
    started_at timestamptz,
    finished_at timestamptz,
    expires_at timestamptz
);
CREATE INDEX exports_team ON exports (team_id, created_at DESC, id);
CREATE INDEX exports_expiry ON exports (expires_at) WHERE status = 'succeeded';
