-- Uploaded documents and the page model extracted from them.
CREATE TABLE documents (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    team_id uuid NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    uploaded_by uuid REFERENCES users (id) ON DELETE SET NULL,
    filename text NOT NULL,
    content_type text NOT NULL,
    size_bytes bigint NOT NULL,
    sha256 text NOT NULL,
    page_count integer NOT NULL,
    status text NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'processing', 'done', 'failed')),
    pages_done integer NOT NULL DEFAULT 0,
    error text,
    job_id uuid REFERENCES jobs (id) ON DELETE SET NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    processed_at timestamptz
);
CREATE INDEX documents_team ON documents (team_id, created_at DESC, id);
CREATE INDEX documents_sha256 ON documents (sha256);

CREATE TABLE document_pages (
    document_id uuid NOT NULL REFERENCES documents (id) ON DELETE CASCADE,
    page integer NOT NULL,
    width double precision NOT NULL,
    height double precision NOT NULL,
    source text NOT NULL CHECK (source IN ('text', 'ocr', 'none')),
    text text NOT NULL,
    words jsonb NOT NULL,
    word_count integer NOT NULL,
    confidence double precision,
    PRIMARY KEY (document_id, page)
);
