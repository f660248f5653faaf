-- Re-extracting a document result keeps the earlier runs: each becomes a numbered version
-- (1, 2, …), the result itself is the newest run.
ALTER TABLE document_results
    ADD COLUMN version integer NOT NULL DEFAULT 1,
    ADD COLUMN run_started_at timestamptz;
UPDATE document_results SET run_started_at = created_at;
ALTER TABLE document_results ALTER COLUMN run_started_at SET NOT NULL, ALTER COLUMN run_started_at SET DEFAULT now();

CREATE TABLE document_result_versions (
    result_id uuid NOT NULL REFERENCES document_results (id) ON DELETE CASCADE,
    version integer NOT NULL,
    table_id uuid REFERENCES document_tables (id) ON DELETE SET NULL,
    table_key text NOT NULL,
    table_name text NOT NULL,
    config jsonb NOT NULL,
    status text NOT NULL,
    extractor text,
    fallback_reason text,
    fields jsonb,
    error text,
    job_id uuid REFERENCES jobs (id) ON DELETE SET NULL,
    started_at timestamptz NOT NULL,
    completed_at timestamptz,
    PRIMARY KEY (result_id, version)
);
