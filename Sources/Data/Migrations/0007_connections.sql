-- Customer databases Assay reads from. The password (and any future secret) is only
-- stored encrypted: AES-256-GCM under the key named by key_id, bound to the row's id.
CREATE TABLE connections (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    team_id uuid NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    name text NOT NULL,
    description text,
    engine text NOT NULL CHECK (engine IN ('postgresql', 'mysql')),
    host text NOT NULL,
    port integer NOT NULL CHECK (port BETWEEN 1 AND 65535),
    database_name text NOT NULL,
    username text NOT NULL,
    secret_ciphertext bytea NOT NULL,
    key_id text NOT NULL,
    sslmode text NOT NULL DEFAULT 'prefer',
    ca_certificate text,
    sync_frequency text NOT NULL DEFAULT 'manual',
    last_test_at timestamptz,
    last_test_ok boolean,
    last_test_message text,
    created_by uuid REFERENCES users (id) ON DELETE SET NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    deleted_at timestamptz
);
CREATE INDEX connections_team ON connections (team_id, created_at DESC, id) WHERE deleted_at IS NULL;
