-- Column profiles of warehouse tables (GET /api/tables/{id}/profile; dashboards and chat read
-- them to choose charts and match words to columns). A profile is computed when asked for and
-- kept until its table changes: `fingerprint` is what the catalog said of the table then
-- (rows, columns, creation or last sync), and a different one means compute again.
CREATE TABLE table_profiles (
    table_id uuid PRIMARY KEY,
    team_id uuid NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    fingerprint text NOT NULL,
    profile jsonb NOT NULL,
    computed_at timestamptz NOT NULL DEFAULT now()
);
