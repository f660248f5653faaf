-- Tables detected in documents. Each is also a real typed table in the warehouse schema;
-- this row is its metadata: where it came from and what each cell originally said.
CREATE TABLE extracted_tables (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    team_id uuid NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    document_id uuid NOT NULL REFERENCES documents (id) ON DELETE CASCADE,
    table_name text NOT NULL UNIQUE,
    page_from integer NOT NULL,
    page_to integer NOT NULL,
    bbox jsonb NOT NULL,
    columns jsonb NOT NULL,
    row_count integer NOT NULL,
    confidence double precision NOT NULL,
    cells jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX extracted_tables_document ON extracted_tables (document_id);
