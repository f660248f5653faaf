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

CREATE TABLE share_access_log (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    team_id uuid NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    share_id text REFERENCES share_links (share_id) ON DELETE CASCADE,
    widget_id text REFERENCES embed_widgets (widget_id) ON DELETE CASCADE,
    accessed_at timestamptz NOT NULL DEFAULT now(),
    -- Raw until the retention period ends, then cleared.
    client_address inet,
    user_agent text,
    -- The referring origin only (scheme, host, port): paths and queries may carry secrets.
    referrer text,
    user_id uuid REFERENCES users (id) ON DELETE SET NULL,
    -- HMAC of address and user agent under a key that changes every UTC day.
    viewer_hash text NOT NULL,
    CHECK ((share_id IS NULL) <> (widget_id IS NULL))
);
CREATE INDEX share_access_log_link ON share_access_log (share_id, accessed_at) WHERE share_id IS NOT NULL;
CREATE INDEX share_access_log_widget ON share_access_log (widget_id, accessed_at) WHERE widget_id IS NOT NULL;
CREATE INDEX share_access_log_raw ON share_access_log (accessed_at) WHERE client_address IS NOT NULL;
