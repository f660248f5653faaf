-- Dashboards: a title, a theme, and widgets each holding a query spec over one warehouse
-- table, a chart type and a place in the grid (`config`: {"widgets": [...], "filters": [...]}),
-- plus where they were generated from (`sources`).
CREATE TABLE dashboards (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    team_id uuid NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    created_by uuid REFERENCES users (id) ON DELETE SET NULL,
    title text NOT NULL,
    theme text NOT NULL DEFAULT 'light' CHECK (theme IN ('light', 'dark')),
    config jsonb NOT NULL,
    sources jsonb NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX dashboards_team ON dashboards (team_id, created_at DESC, id);
