-- Field extraction: document-table configurations (which fields to read from a kind of
-- document) and the results of running them on documents.
CREATE TABLE document_tables (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    team_id uuid NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    key text NOT NULL,
    name text NOT NULL,
    description text,
    created_by uuid REFERENCES users (id) ON DELETE SET NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (team_id, key)
);

CREATE TABLE document_fields (
    table_id uuid NOT NULL REFERENCES document_tables (id) ON DELETE CASCADE,
    position integer NOT NULL,
    field_id text NOT NULL,
    name text NOT NULL,
    field_type text NOT NULL,
    synonyms text[] NOT NULL DEFAULT '{}',
    description text,
    required boolean NOT NULL DEFAULT false,
    PRIMARY KEY (table_id, field_id)
);

CREATE TABLE document_results (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    team_id uuid NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    document_id uuid NOT NULL REFERENCES documents (id) ON DELETE CASCADE,
    -- The configuration used; it may be deleted later, so the fields are also kept here.
    table_id uuid REFERENCES document_tables (id) ON DELETE SET NULL,
    table_key text NOT NULL,
    table_name text NOT NULL,
    config jsonb NOT NULL,
    status text NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'processing', 'done', 'failed')),
    extractor text,
    fallback_reason text,
    fields jsonb,
    error text,
    job_id uuid REFERENCES jobs (id) ON DELETE SET NULL,
    created_by uuid REFERENCES users (id) ON DELETE SET NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    completed_at timestamptz
);
CREATE INDEX document_results_team ON document_results (team_id, created_at DESC, id);
CREATE INDEX document_results_document ON document_results (document_id);
