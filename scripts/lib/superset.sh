# shellcheck shell=bash
# shellcheck disable=SC2034 # variables read by write_env
# scripts/lib/superset.sh: a real Apache Superset for the Superset integration, sourced by
# common.sh. scripts/test always starts one; scripts/run only with ASSAY_SUPERSET=1 and no
# SUPERSET_URL of the caller's (the install is ~800 MB).
#
#   REPO/var/tools/superset          the venv (apache-superset from PyPI, pinned by
#                                    scripts/superset-constraints-6.1.0.txt), shared by all profiles
#   VAR/superset/superset_config.py  its settings (SECRET_KEY from VAR/secrets, metadata database)
#   VAR/superset/meta-VERSION.sql    the metadata database right after `db upgrade`, `create-admin`
#                                    and `init` (~1 min), restored in seconds on later starts
#   VAR/run/superset.pid, VAR/log/superset.log
# The metadata database is `superset_meta` in the private PostgreSQL cluster (role `superset`).

SUPERSET_VERSION=6.1.0

# The venv with apache-superset SUPERSET_VERSION, installed once (1.5-3 min, ~800 MB).
ensure_superset() {
    local venv=$REPO/var/tools/superset
    ASSAY_SUPERSET_BIN=$venv/bin/superset
    if [[ -x $ASSAY_SUPERSET_BIN && -f $venv/.assay-superset-$SUPERSET_VERSION ]]; then
        return 0
    fi
    ensure_packages python3-venv
    log "installing apache-superset $SUPERSET_VERSION into $venv (from PyPI, once: 1.5-3 min, ~800 MB)"
    rm -rf "$venv"
    /usr/bin/python3 -m venv "$venv" || die "could not make a venv in $venv"
    # rich, cachetools and flask-caching<2.4 are missing from or wrong in superset's own
    # requirements (it does not start without them); psycopg2 for PostgreSQL, PyMySQL for MySQL.
    "$venv/bin/pip" install -q --disable-pip-version-check -c "$REPO/scripts/superset-constraints-$SUPERSET_VERSION.txt" \
        "apache-superset==$SUPERSET_VERSION" rich cachetools "flask-caching<2.4" psycopg2-binary pymysql \
        >"$REPO/var/tools/superset-install.log" 2>&1 ||
        { tail -n 20 "$REPO/var/tools/superset-install.log" >&2; die "could not install apache-superset $SUPERSET_VERSION"; }
    touch "$venv/.assay-superset-$SUPERSET_VERSION"
}

# Whether this profile starts a Superset: always for test, for run with ASSAY_SUPERSET=1 when
# the caller gave no SUPERSET_URL; needs the private PostgreSQL (its metadata database).
superset_wanted() {
    ((ASSAY_PRIVATE_PG)) || return 1
    case $ASSAY_PROFILE in
    test) [[ ${ASSAY_SUPERSET:-1} == 1 ]] ;;
    run) [[ ${ASSAY_SUPERSET:-0} == 1 && -z ${SUPERSET_URL:-} ]] ;;
    *) return 1 ;;
    esac
}

superset_pid() {
    local pid
    pid=$(read_pid_file "$ASSAY_RUN_DIR/superset.pid")
    [[ -n $pid ]] && pid_matches "$pid" "$REPO/var/tools/superset" && printf '%s' "$pid"
    return 0
}

# Installs (once), prepares the metadata database and starts Superset on 127.0.0.1, then sets
# SUPERSET_URL, SUPERSET_USERNAME and SUPERSET_PASSWORD for write_env. Needs setup_database first.
setup_superset() {
    superset_wanted || return 0
    ensure_superset
    case $ASSAY_PROFILE in
    test) ASSAY_SUPERSET_PORT=${ASSAY_SUPERSET_PORT:-18088} ;; # overridable
    *) ASSAY_SUPERSET_PORT=${ASSAY_SUPERSET_PORT:-8088} ;;     # overridable
    esac
    local dir=$VAR/superset name
    mkdir -p "$dir" "$ASSAY_SECRETS_DIR"
    for name in superset_secret_key superset_admin_password superset_db_password; do
        [[ -s $ASSAY_SECRETS_DIR/$name ]] || (umask 077 && openssl rand -hex 32 | tr -d '\n' >"$ASSAY_SECRETS_DIR/$name")
    done
    SUPERSET_URL=http://127.0.0.1:$ASSAY_SUPERSET_PORT
    SUPERSET_USERNAME="admin"
    SUPERSET_PASSWORD=$(<"$ASSAY_SECRETS_DIR/superset_admin_password")
    local db_password
    db_password=$(<"$ASSAY_SECRETS_DIR/superset_db_password")
    (
        umask 077
        cat >"$dir/superset_config.py" <<PY
# Written by scripts/lib/superset.sh on every start; edit there.
SECRET_KEY = open("$ASSAY_SECRETS_DIR/superset_secret_key").read().strip()
SQLALCHEMY_DATABASE_URI = "postgresql+psycopg2://superset:$db_password@/superset_meta?host=$ASSAY_PG_SOCKET_DIR&port=$ASSAY_PG_PORT"
WTF_CSRF_ENABLED = True
SUPERSET_WEBSERVER_TIMEOUT = 120
# Assay's warehouse and customer databases are PostgreSQL/MySQL, never SQLite files.
PREVENT_UNSAFE_DB_CONNECTIONS = True
FEATURE_FLAGS = {"DASHBOARD_RBAC": False, "ENABLE_TEMPLATE_PROCESSING": False}
# One process, no Celery: SQL Lab runs queries synchronously.
RESULTS_BACKEND = None
CACHE_CONFIG = {"CACHE_TYPE": "SimpleCache"}
DATA_CACHE_CONFIG = {"CACHE_TYPE": "NullCache"}
THUMBNAIL_SELENIUM_USER = None
# Assay's MySQL connections name the pure-Python PyMySQL driver; parts of Superset's MySQL
# support import MySQLdb (mysqlclient, which needs a C build) by name.
import pymysql
pymysql.install_as_MySQLdb()
PY
    )
    local started=$SECONDS pid
    pid=$(superset_pid)
    if [[ -n $pid ]]; then
        log "Superset already running (pid $pid) on $SUPERSET_URL"
        return 0
    fi
    # The metadata database: restored from the dump of a first initialisation when there is one.
    local fresh
    fresh=$("$PG_BINDIR/psql" -X -q -A -t -v ON_ERROR_STOP=1 -d postgres <<SQL
SELECT 'CREATE ROLE superset' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'superset') \gexec
ALTER ROLE superset WITH LOGIN NOSUPERUSER PASSWORD '$db_password';
SELECT 'yes' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'superset_meta');
SELECT 'CREATE DATABASE superset_meta OWNER superset' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'superset_meta') \gexec
SQL
    ) || die "could not create Superset's metadata database"
    local dump=$dir/meta-$SUPERSET_VERSION.sql
    export SUPERSET_CONFIG_PATH=$dir/superset_config.py FLASK_APP=superset SUPERSET_HOME=$dir
    : >>"$ASSAY_LOG_DIR/superset.log"
    if [[ $fresh == *yes* ]]; then
        if [[ -s $dump ]]; then
            PGPASSWORD=$db_password "$PG_BINDIR/psql" -X -q -v ON_ERROR_STOP=1 -U superset -d superset_meta -f "$dump" \
                >/dev/null 2>>"$ASSAY_LOG_DIR/superset.log" || die "could not restore Superset's metadata from $dump"
            # The admin's password is the current secret whatever the dump had.
            "$REPO/var/tools/superset/bin/superset" fab reset-password --username admin --password "$SUPERSET_PASSWORD" \
                >>"$ASSAY_LOG_DIR/superset.log" 2>&1 || die "superset fab reset-password failed (see $ASSAY_LOG_DIR/superset.log)"
        else
            log "initialising Superset's metadata database (once per $VAR: ~1 min)"
            {
                "$REPO/var/tools/superset/bin/superset" db upgrade &&
                    "$REPO/var/tools/superset/bin/superset" fab create-admin --username admin --firstname Assay --lastname Admin \
                        --email admin@assay.invalid --password "$SUPERSET_PASSWORD" &&
                    "$REPO/var/tools/superset/bin/superset" init
            } >>"$ASSAY_LOG_DIR/superset.log" 2>&1 || die "superset db upgrade/init failed (see $ASSAY_LOG_DIR/superset.log)"
            PGPASSWORD=$db_password "$PG_BINDIR/pg_dump" -U superset -d superset_meta --no-owner >"$dump.tmp" &&
                mv -f "$dump.tmp" "$dump"
        fi
    fi
    (
        if [[ -n ${ASSAY_LOCK_FD:-} ]]; then exec {ASSAY_LOCK_FD}>&-; fi
        cd "$dir" || exit 1
        exec setsid "$REPO/var/tools/superset/bin/superset" run -h 127.0.0.1 -p "$ASSAY_SUPERSET_PORT" --with-threads
    ) </dev/null >>"$ASSAY_LOG_DIR/superset.log" 2>&1 &
    pid=$!
    printf '%s\n' "$pid" >"$ASSAY_RUN_DIR/superset.pid"
    until curl -fsS -o /dev/null --max-time 2 "$SUPERSET_URL/health" 2>/dev/null; do
        if ! pid_alive "$pid" || ((SECONDS - started >= 180)); then
            tail -n 25 "$ASSAY_LOG_DIR/superset.log" >&2
            die "Superset did not become healthy on $SUPERSET_URL (port taken? set ASSAY_SUPERSET_PORT; log: $ASSAY_LOG_DIR/superset.log)"
        fi
        sleep 0.5
    done
    log "Superset $SUPERSET_VERSION on $SUPERSET_URL (user admin) after $((SECONDS - started)) s"
}

stop_superset() {
    local pid
    pid=$(superset_pid)
    if [[ -n $pid ]]; then
        log "stopping Superset (pid $pid)"
        kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
        if ! wait_for_exit "$pid" 20; then
            kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
        fi
    fi
    rm -f "$ASSAY_RUN_DIR/superset.pid"
    return 0
}
