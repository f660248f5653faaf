-- Sharing: links that open a dashboard without an account (public, password or expiry
-- protected, or for the owning team's members) and widgets other sites embed in an iframe.
-- Both are named by 256-bit random ids (43 URL-safe base64 characters) that are also their
-- API ids. Every view is logged; the log keeps raw addresses and user agents only for the
-- retention period (`SHARE_LOG_RETENTION_DAYS`), the daily viewer hash for good.
CREATE TABLE share_links (
    share_id text PRIMARY KEY CHECK (share_id ~ '^[A-Za-z0-9_-]{43}$'),
    -- Orders links of the same second for keyset pagination.
    seq uuid NOT NULL DEFAULT gen_random_uuid() UNIQUE,
    team_id uuid NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    dashboard_id uuid NOT NULL REFERENCES dashboards (id) ON DELETE CASCADE,
    created_by uuid REFERENCES users (id) ON DELETE SET NULL,
    share_type text NOT NULL CHECK (share_type IN ('public_link', 'secure_link', 'team')),
    permissions text[] NOT NULL CHECK (permissions <@ ARRAY['view', 'interact', 'export', 'edit']::text[]),
    password_hash text,
    -- Bumped when the password changes or is removed: cookies of the old one stop working.
    password_epoch integer NOT NULL DEFAULT 0,
    expires_at timestamptz,
    max_access integer CHECK (max_access > 0),
    access_count integer NOT NULL DEFAULT 0,
    last_accessed_at timestamptz,
    revoked_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CHECK (share_type <> 'secure_link' OR password_hash IS NOT NULL OR expires_at IS NOT NULL)
);
CREATE INDEX share_links_team ON share_links (team_id, created_at DESC, seq DESC);
CREATE INDEX share_links_dashboard ON share_links (dashboard_id);

CREATE TABLE embed_widgets (
    widget_id text PRIMARY KEY CHECK (widget_id ~ '^[A-Za-z0-9_-]{43}$'),
    seq uuid NOT NULL DEFAULT gen_random_uuid() UNIQUE,
    team_id uuid NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    dashboard_id uuid NOT NULL REFERENCES dashboards (id) ON DELETE CASCADE,
    created_by uuid REFERENCES users (id) ON DELETE SET NULL,
    widget_kind text NOT NULL CHECK (widget_kind IN ('chart', 'kpi', 'dashboard')),
    -- The dashboard widget shown (`chart` and `kpi`).
    chart_id text,
    title text,
    theme text NOT NULL CHECK (theme IN ('light', 'dark', 'custom')),
    -- A custom theme's colours: {"background", "foreground", "accent"} as #rrggbb.
    theme_colors jsonb NOT NULL DEFAULT '{}',
    width integer NOT NULL CHECK (width BETWEEN 120 AND 4000),
    height integer NOT NULL CHECK (height BETWEEN 80 AND 4000),
    allowed_origins text[] NOT NULL DEFAULT '{}',
    permissions text[] NOT NULL DEFAULT '{view}' CHECK (permissions <@ ARRAY['view', 'interact', 'export']::text[]),
    -- Signed embedding: the HMAC key (sealed with ENCRYPTION_KEY); when `require_token`, the
    -- page opens only with a valid token signed by it.
    token_secret text,
    require_token boolean NOT NULL DEFAULT false,
    expires_at timestamptz,
    access_count integer NOT NULL DEFAULT 0,
    last_accessed_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CHECK ((widget_kind = 'dashboard') = (chart_id IS NULL))
);
CREATE INDEX embed_widgets_team ON embed_widgets (team_id, created_at DESC, seq DESC);
CREATE INDEX embed_widgets_dashboard ON embed_widgets (dashboard_id);

-- Written in batches on every view: no foreign keys (each would lock the link's row for
-- every view); rows of a deleted link, widget or team are deleted by the triggers below, and
-- the writer inserts only rows whose link or widget exists.
CREATE TABLE share_access_log (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    team_id uuid NOT NULL,
    share_id text,
    widget_id text,
    accessed_at timestamptz NOT NULL DEFAULT now(),
    -- Raw until the retention period ends, then cleared.
    client_address inet,
    user_agent text,
    -- The referring origin only (scheme, host, port): paths and queries may carry secrets.
    referrer text,
    -- A signed-in team member (team links); kept as an id, shown only while the user exists.
    user_id uuid,
    -- HMAC of address and user agent under a key that changes every UTC day.
    viewer_hash text NOT NULL,
    CHECK ((share_id IS NULL) <> (widget_id IS NULL))
);
CREATE INDEX share_access_log_link ON share_access_log (share_id, accessed_at) WHERE share_id IS NOT NULL;
CREATE INDEX share_access_log_widget ON share_access_log (widget_id, accessed_at) WHERE widget_id IS NOT NULL;
-- Clearing raw viewer data by age: a block range index costs the inserts almost nothing.
CREATE INDEX share_access_log_time ON share_access_log USING brin (accessed_at);

CREATE FUNCTION share_access_log_forget() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_TABLE_NAME = 'share_links' THEN
        DELETE FROM share_access_log WHERE share_id = OLD.share_id;
    ELSIF TG_TABLE_NAME = 'embed_widgets' THEN
        DELETE FROM share_access_log WHERE widget_id = OLD.widget_id;
    ELSE
        DELETE FROM share_access_log WHERE team_id = OLD.id;
    END IF;
    RETURN OLD;
END $$;
CREATE TRIGGER share_links_forget_views AFTER DELETE ON share_links
    FOR EACH ROW EXECUTE FUNCTION share_access_log_forget();
CREATE TRIGGER embed_widgets_forget_views AFTER DELETE ON embed_widgets
    FOR EACH ROW EXECUTE FUNCTION share_access_log_forget();
CREATE TRIGGER teams_forget_views AFTER DELETE ON teams
    FOR EACH ROW EXECUTE FUNCTION share_access_log_forget();
