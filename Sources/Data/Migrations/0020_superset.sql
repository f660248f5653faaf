-- Superset: what each team made in the Superset at SUPERSET_URL. A team sees and uses only its
-- own rows; Superset's ids are kept so a second sync or push updates instead of duplicating.
CREATE TABLE superset_databases (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    team_id uuid NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    -- 'connection': a customer database (connection_id); 'warehouse': the team's own tables in
    -- Assay's warehouse, read through a login role of their own (warehouse_role).
    kind text NOT NULL CHECK (kind IN ('connection', 'warehouse')),
    connection_id uuid REFERENCES connections (id) ON DELETE CASCADE,
    warehouse_role text,
    superset_database_id integer NOT NULL,
    database_name text NOT NULL,
    created_by uuid REFERENCES users (id) ON DELETE SET NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CHECK ((kind = 'connection') = (connection_id IS NOT NULL))
);
CREATE UNIQUE INDEX superset_databases_connection ON superset_databases (connection_id) WHERE kind = 'connection';
CREATE UNIQUE INDEX superset_databases_warehouse ON superset_databases (team_id) WHERE kind = 'warehouse';
CREATE INDEX superset_databases_team ON superset_databases (team_id, created_at DESC, id DESC);
CREATE INDEX superset_databases_superset_id ON superset_databases (superset_database_id);

CREATE TABLE superset_datasets (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    team_id uuid NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    database_id uuid NOT NULL REFERENCES superset_databases (id) ON DELETE CASCADE,
    superset_dataset_id integer NOT NULL,
    schema_name text NOT NULL,
    table_name text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (database_id, schema_name, table_name)
);
CREATE INDEX superset_datasets_team ON superset_datasets (team_id, created_at DESC, id DESC);

-- An Assay dashboard pushed to Superset: its Superset dashboard and one chart per widget
-- (`charts`: {"widget id": chart id}).
CREATE TABLE superset_dashboards (
    dashboard_id uuid PRIMARY KEY REFERENCES dashboards (id) ON DELETE CASCADE,
    team_id uuid NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    superset_dashboard_id integer NOT NULL,
    charts jsonb NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
