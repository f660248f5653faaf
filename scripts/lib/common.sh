# shellcheck shell=bash
# shellcheck disable=SC2034 # many variables are read indirectly (write_env uses ${!name})
# scripts/lib/common.sh: shared functions for scripts/run, scripts/test, scripts/bench and
# scripts/stop. Source it; don't run it. Callers have `set -euo pipefail` on.
#
# Everything works inside one "var dir" VAR (run: var/, test: var/test, bench: var/bench):
#
#   VAR/pg/data             private PostgreSQL cluster (owned by `postgres` when we run as root)
#   VAR/pg/run              its unix socket directory (TCP is off)
#   VAR/secrets/            0700: pg_password, jwt_secret, encryption_key, source_pg_password,
#                           source_pg_admin_password, mysql_password, mysql_root_password
#                           (made once, never replaced)
#   VAR/run/                assay.sock, assay.pid, nginx.pid
#   VAR/log/                assay.log, postgres.log, nginx-error.log, nginx-access.log, build.log
#   VAR/nginx/              rendered nginx.conf, tls/{cert,key}.pem, tmp/ (nginx temp dirs)
#   VAR/uploads/, VAR/exports/
#   VAR/artifacts/          what tests leave for people to look at (the browser tests' screenshots);
#                           emptied by reset_instance_state
#   VAR/bin/pg_ctl          pg_ctl wrapper that runs as the cluster owner (see write_pg_ctl_wrapper)
#   VAR/source-pg/data      "source" PostgreSQL on 127.0.0.1:ASSAY_SOURCE_PG_PORT: a customer's
#                           database for connection/ETL tests and scripts/sample-data
#   VAR/source-pg/run       its unix socket directory (the bootstrap superuser connects here only)
#   VAR/mariadb/data        "source" MariaDB on 127.0.0.1:ASSAY_MYSQL_PORT, same purpose
#   VAR/mariadb/run         mysqld.sock (root connects here only), mariadbd.pid
#   VAR/mariadb/admin.cnf   [client] options for root over the socket (mariadb --defaults-file=...)
#   VAR/{pg,source-pg,mariadb}/template-KEY
#                           test/bench only: pristine data dirs that fresh ones are copied from
#   VAR/env                 `export NAME=value` lines: everything a tool or test needs (see write_env)
#
#   VAR/.lock               held by a running scripts/run|test|bench (see lock_var)
#
# A caller does, in short (scripts/test):
#   assay_profile test      VAR, ports, defaults (forgets a sourced VAR/env first)
#   lock_var wait           one script per VAR at a time
#   ensure_packages         Debian packages
#   reset_instance_state    (test/bench only) fresh cluster, empty logs
#   build                   swift build -c release --build-tests, then link_server
#   bring_up                secrets, TLS, dirs, PostgreSQL, source databases, VAR/env, migrate,
#                           nginx.conf, assay serve, nginx, wait for /health
#   ...                     stop_all at the end (trap)

# Debian packages the project needs to build and run. ONE list: later work appends here.
# (procps gives pgrep, used to find the FastCGI workers; openssl/curl are used by these scripts.)
ASSAY_DEB_PACKAGES="libfcgi-dev libpq-dev libargon2-dev libcurl4-openssl-dev libpoppler-glib-dev libcairo2-dev libtesseract-dev tesseract-ocr-eng pkg-config nginx postgresql openssl curl wrk procps tesseract-ocr-osd"

# Tools the tests use to make real documents from generated PDFs and to read exports back:
# pdftocairo/pdftotext (poppler-utils), tiffcp (libtiff-tools: multi-page TIFF), qpdf (encryption).
ASSAY_DEB_PACKAGES+=" poppler-utils libtiff-tools qpdf"

# Connections and ETL: libmariadb-dev is the C client library Assay links for MySQL/MariaDB
# sources; mariadb-server gives mariadbd, mariadb-install-db and the mariadb client, for the
# private source MariaDB the tests and scripts/sample-data use (see setup_source_mariadb).
ASSAY_DEB_PACKAGES+=" mariadb-server libmariadb-dev"

# Exports: libxlsxwriter (.xlsx in constant memory), pango over cairo (PDF text shaping),
# libzip (batch archives); Noto CJK beside DejaVu so PDFs render Chinese, Japanese and Korean.
ASSAY_DEB_PACKAGES+=" libxlsxwriter-dev libpango1.0-dev libzip-dev fonts-dejavu-core fonts-noto-cjk"

# Spreadsheet uploads: libxml2's streaming reader (xmlTextReader) for the XML parts of .xlsx
# workbooks, which libzip (above) opens.
ASSAY_DEB_PACKAGES+=" libxml2-dev"
# Dashboard exports: librsvg draws the charts' SVG onto the cairo PDF (as vectors) and PNG surfaces.
ASSAY_DEB_PACKAGES+=" librsvg2-dev"
# Large PNG pages are decoded straight to grey, row by row, through libpng (Sources/CPNG);
# leptonica pulls it in today, but the build links it directly, so it is named here.
ASSAY_DEB_PACKAGES+=" libpng-dev"

# The integration tests are pytest + requests. These Debian packages are installed only when no
# usable interpreter already has both modules (see ensure_python_test_env): this machine's pyenv
# python3 has them from pip, a fresh Debian has neither.
ASSAY_PY_TEST_DEB_PACKAGES="python3-pytest python3-requests python3-openpyxl python3-jsonschema python3-selenium python3-prometheus-client"

# The browser tests (Tests/integration/browser_helpers.py) drive Debian's headless Chromium
# through its chromedriver; the test profile only (see ensure_browser).
ASSAY_BROWSER_DEB_PACKAGES="chromium chromium-driver"

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
IS_ROOT=0
[[ $(id -u) == 0 ]] && IS_ROOT=1

# Longest path the kernel accepts for a unix socket (sun_path is 108 bytes with the NUL).
UNIX_SOCKET_PATH_MAX=107

# ---------------------------------------------------------------------------------------------
# Small helpers

log() { printf '[assay] %s\n' "$*" >&2; }
warn() { printf '[assay] WARNING: %s\n' "$*" >&2; }
die() {
    printf '[assay] ERROR: %s\n' "$*" >&2
    exit 1
}

# Runs a command as root: directly when we are root, else through sudo.
as_root() {
    if ((IS_ROOT)); then "$@"; else sudo "$@"; fi
}

# Runs a PostgreSQL server tool as the cluster owner. initdb/pg_ctl refuse to run as root, so
# as root we use the `postgres` account (the postgresql package creates it); otherwise ourselves.
# `cd /` because the owner may not be allowed into the caller's working directory.
pg_as_owner() {
    if ((IS_ROOT)); then
        (cd / && runuser -u postgres -- "$@")
    else
        (cd / && "$@")
    fi
}

# Is PID alive and does its command line contain NEEDLE? (guards against stale pid files whose
# number was reused by an unrelated process)
pid_matches() {
    local pid=$1 needle=$2 cmdline
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    pid_alive "$pid" || return 1
    cmdline=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) || return 1
    [[ $cmdline == *"$needle"* ]]
}

# Prints the pid stored in FILE (empty when missing/garbage).
read_pid_file() {
    local pid=""
    if [[ -r $1 ]]; then read -r pid <"$1" || true; fi
    [[ $pid =~ ^[0-9]+$ ]] && printf '%s' "$pid"
    return 0
}

# Is PID running? A zombie (exited, not yet reaped) is not: our daemons are reparented to
# PID 1, which on some machines reaps only every second or two.
pid_alive() {
    kill -0 "$1" 2>/dev/null || return 1
    local state
    state=$(awk '/^State:/ {print $2}' "/proc/$1/status" 2>/dev/null) || return 1
    [[ -n $state && $state != Z ]]
}

# Waits up to SECONDS for PID to exit. Returns 1 if it is still alive.
wait_for_exit() {
    local pid=$1 seconds=$2 i
    for ((i = 0; i < seconds * 20; i++)); do
        pid_alive "$pid" || return 0
        sleep 0.05
    done
    ! pid_alive "$pid"
}

# A short, stable directory under /tmp for unix sockets whose normal path would be too long.
short_socket_dir() {
    local hash
    hash=$(printf '%s' "$VAR" | md5sum | cut -c1-10)
    printf '/tmp/assay-%s-%s' "$1" "$hash"
}

# Shows the last lines of the instance's logs (used when something fails to start).
show_log_tails() {
    local f
    for f in "$ASSAY_LOG_DIR/assay.log" "$ASSAY_LOG_DIR/nginx-error.log" "$ASSAY_LOG_DIR/postgres.log"; do
        [[ -s $f ]] || continue
        printf '\n----- last lines of %s -----\n' "$f" >&2
        tail -n 25 "$f" >&2
    done
    printf '%s\n' "-----" >&2
}

# Says where the tests left files for people to look at (screenshots), if they left any.
show_artifacts() {
    [[ -d $ASSAY_ARTIFACTS_DIR ]] || return 0
    local files=() shown
    mapfile -t files < <(find "$ASSAY_ARTIFACTS_DIR" -type f -printf '%P\n' | sort)
    ((${#files[@]})) || return 0
    shown="${files[*]:0:10}"
    ((${#files[@]} <= 10)) || shown+=" ..."
    log "artifacts: ${#files[@]} file(s) in $ASSAY_ARTIFACTS_DIR: $shown"
}

# ---------------------------------------------------------------------------------------------
# Configuration

# Someone who sourced a VAR/env file into their shell (to run psql or a test by hand) would
# otherwise leak that instance's settings into a new run: e.g. var/test's DATABASE_URL and ports
# into scripts/run. Every env file lists its names in ASSAY_ENV_NAMES; drop them all first.
forget_sourced_env() {
    [[ -n ${ASSAY_ENV_FILE:-} ]] || return 0
    log "ignoring settings from the sourced $ASSAY_ENV_FILE"
    local name
    for name in ${ASSAY_ENV_NAMES:-} ASSAY_ENV_NAMES ASSAY_ENV_FILE; do
        unset "$name"
    done
}

# assay_profile run|test|bench: chooses VAR, ports and defaults. Settings marked "overridable"
# keep a value from the caller's environment.
assay_profile() {
    forget_sourced_env
    ASSAY_PROFILE=$1
    case $ASSAY_PROFILE in
    run)
        VAR=$REPO/var
        ASSAY_HTTPS_PORT=${ASSAY_HTTPS_PORT:-8443} # overridable
        ASSAY_HTTP_PORT=${ASSAY_HTTP_PORT:-8080}   # overridable
        ASSAY_PG_PORT=${ASSAY_PG_PORT:-5432}       # only names the socket file: TCP is off
        ASSAY_RATE_LIMIT=${ASSAY_RATE_LIMIT:-20}   # requests/s per client address on /api/
        ASSAY_RATE_BURST=${ASSAY_RATE_BURST:-40}
        ASSAY_WORKERS=${ASSAY_WORKERS:-4}
        ASSAY_MAX_REQUESTS=${ASSAY_MAX_REQUESTS:-10000}
        ASSAY_TEST_ROUTES=${ASSAY_TEST_ROUTES:-0}
        ASSAY_SOURCE_PG_PORT=${ASSAY_SOURCE_PG_PORT:-5433} # overridable; 5432 is the usual system cluster
        ASSAY_MYSQL_PORT=${ASSAY_MYSQL_PORT:-3307}         # overridable; 3306 is the usual system server
        PG_FAST=0 # keep fsync on: this is the instance whose data matters
        ;;
    test)
        VAR=$REPO/var/test
        # Ports overridable: two clones can run their test instances side by side.
        ASSAY_HTTPS_PORT=${ASSAY_HTTPS_PORT:-18443}
        ASSAY_HTTP_PORT=${ASSAY_HTTP_PORT:-18080}
        ASSAY_PG_PORT=${ASSAY_PG_PORT:-15432}
        ASSAY_RATE_LIMIT=${ASSAY_RATE_LIMIT:-2000} # high: tests fire many requests quickly
        ASSAY_RATE_BURST=${ASSAY_RATE_BURST:-4000}
        ASSAY_WORKERS=${ASSAY_WORKERS:-3}
        ASSAY_MAX_REQUESTS=${ASSAY_MAX_REQUESTS:-10000}
        ASSAY_TEST_ROUTES=1
        # Short, so that the tests of slow and idle clients finish quickly.
        ASSAY_CLIENT_HEADER_TIMEOUT=${ASSAY_CLIENT_HEADER_TIMEOUT:-4s}
        ASSAY_CLIENT_BODY_TIMEOUT=${ASSAY_CLIENT_BODY_TIMEOUT:-4s}
        ASSAY_CONNECTIONS_PER_ADDRESS=${ASSAY_CONNECTIONS_PER_ADDRESS:-48} # low enough to test
        ASSAY_SOURCE_PG_PORT=${ASSAY_SOURCE_PG_PORT:-15433} # overridable
        ASSAY_MYSQL_PORT=${ASSAY_MYSQL_PORT:-13306}         # overridable
        PG_FAST=1
        ;;
    bench)
        VAR=$REPO/var/bench
        # Fixed unless ASSAY_BENCH_*_PORT say otherwise (the run profile's ASSAY_*_PORT are
        # not taken: two clones can benchmark side by side only on purpose).
        ASSAY_HTTPS_PORT=${ASSAY_BENCH_HTTPS_PORT:-28443}
        ASSAY_HTTP_PORT=${ASSAY_BENCH_HTTP_PORT:-28080}
        ASSAY_PG_PORT=${ASSAY_BENCH_PG_PORT:-25432}
        ASSAY_RATE_LIMIT=${ASSAY_RATE_LIMIT:-1000000} # effectively off
        ASSAY_RATE_BURST=${ASSAY_RATE_BURST:-1000000}
        ASSAY_WORKERS=${ASSAY_WORKERS:-4}
        # Very high so that recycling workers can't hide a memory leak from the RSS check.
        ASSAY_MAX_REQUESTS=${ASSAY_MAX_REQUESTS:-100000000}
        ASSAY_TEST_ROUTES=${ASSAY_TEST_ROUTES:-0}
        ASSAY_SOURCE_PG_PORT=${ASSAY_SOURCE_PG_PORT:-25433} # overridable
        ASSAY_MYSQL_PORT=${ASSAY_MYSQL_PORT:-23306}         # overridable
        PG_FAST=1
        ;;
    *) die "unknown profile '$ASSAY_PROFILE' (run, test or bench)" ;;
    esac
    ASSAY_REQUEST_TIMEOUT=${ASSAY_REQUEST_TIMEOUT:-60}    # overridable; a stuck worker is killed after it
    ASSAY_SHUTDOWN_TIMEOUT=${ASSAY_SHUTDOWN_TIMEOUT:-10}  # overridable
    # FastCGI connections from nginx to the pool: one per request by default. A worker serves
    # one request at a time, so a connection nginx keeps open (fastcgi_keep_conn) pins the worker
    # that accepted it, which then waits for nginx's next request on it while others queue;
    # measured (scripts/bench), that costs more than a fresh unix-socket connection, now that a
    # worker closes its end at once after the response instead of lingering until nginx closes.
    # ASSAY_FASTCGI_KEEP_CONN=on keeps them open, up to ASSAY_FASTCGI_KEEPALIVE idle ones per
    # nginx worker process (one per core: worker_processes auto). A worker serves its kept
    # connection until nginx closes it, so in all nginx must keep fewer idle connections than
    # the pool has workers, or every worker could sit on an idle one while a new connection
    # waits: (workers - 1) / cores each, at least 1.
    local cores kept
    cores=$(nproc 2>/dev/null || echo 1)
    kept=$(( (${ASSAY_WORKERS:-4} - 1) / (cores > 0 ? cores : 1) ))
    ASSAY_FASTCGI_KEEPALIVE=${ASSAY_FASTCGI_KEEPALIVE:-$(( kept > 0 ? kept : 1 ))} # overridable
    ASSAY_FASTCGI_KEEP_CONN=${ASSAY_FASTCGI_KEEP_CONN:-off}  # overridable
    ASSAY_SOCKET_MODE=${ASSAY_SOCKET_MODE:-0660}          # overridable
    ASSAY_MAX_BODY=${ASSAY_MAX_BODY:-50m}                 # overridable; nginx size syntax
    # nginx: a connection must send its whole request header (TLS handshake included) within
    # this; a request body may stall this long between two reads (then 408).
    ASSAY_CLIENT_HEADER_TIMEOUT=${ASSAY_CLIENT_HEADER_TIMEOUT:-10s} # overridable; nginx time syntax
    ASSAY_CLIENT_BODY_TIMEOUT=${ASSAY_CLIENT_BODY_TIMEOUT:-30s}     # overridable; nginx time syntax
    # nginx: requests in progress at once per client address (over it: 429).
    ASSAY_CONNECTIONS_PER_ADDRESS=${ASSAY_CONNECTIONS_PER_ADDRESS:-256} # overridable
    ASSAY_BIN=${ASSAY_BIN:-$REPO/.build/release/assay-server} # overridable; see link_server
    # The nginx workers (www-data when we are root) must reach the FastCGI socket.
    if ((IS_ROOT)); then
        ASSAY_SOCKET_GROUP=${ASSAY_SOCKET_GROUP:-www-data}
    else
        ASSAY_SOCKET_GROUP=${ASSAY_SOCKET_GROUP:-}
    fi
    # The source databases (a customer's PostgreSQL and MariaDB on loopback); 0 skips them.
    ASSAY_SOURCE_DBS=${ASSAY_SOURCE_DBS:-1} # overridable
    # An external database (the caller's DATABASE_URL) replaces the private cluster.
    if [[ -n ${DATABASE_URL:-} ]]; then
        ASSAY_PRIVATE_PG=0
    else
        ASSAY_PRIVATE_PG=1
    fi
    assay_layout
}

# One scripts/run|test|bench at a time per VAR (people and CI may share a machine: two test
# runs on var/test would stop each other's instance). lock_var wait: waits up to
# ASSAY_LOCK_WAIT seconds (default 900); lock_var fail: refuses at once. The lock is held until
# the script exits; the servers it starts don't inherit it (see without_lock).
lock_var() {
    mkdir -p "$VAR"
    exec {ASSAY_LOCK_FD}>"$VAR/.lock"
    flock -n "$ASSAY_LOCK_FD" && return 0
    [[ $1 == wait ]] || die "another scripts/run, test or bench is using $VAR right now ($VAR/.lock)"
    local seconds=${ASSAY_LOCK_WAIT:-900}
    log "another scripts/run, test or bench is using $VAR: waiting for it (up to $seconds s)"
    flock -w "$seconds" "$ASSAY_LOCK_FD" || die "gave up waiting for $VAR/.lock"
}

# Runs a command without the lock's file descriptor: long-lived servers must not keep VAR locked.
without_lock() {
    if [[ -n ${ASSAY_LOCK_FD:-} ]]; then
        "$@" {ASSAY_LOCK_FD}>&-
    else
        "$@"
    fi
}

# Derives every path from VAR (scripts/stop calls this alone, with VAR from its arguments).
assay_layout() {
    ASSAY_VAR_DIR=$VAR
    ASSAY_SECRETS_DIR=$VAR/secrets
    ASSAY_RUN_DIR=$VAR/run
    ASSAY_LOG_DIR=$VAR/log
    ASSAY_LOG=$ASSAY_LOG_DIR/assay.log
    ASSAY_PID_FILE=$ASSAY_RUN_DIR/assay.pid
    ASSAY_UPLOADS_DIR=$VAR/uploads
    ASSAY_EXPORTS_DIR=$VAR/exports
    ASSAY_ARTIFACTS_DIR=$VAR/artifacts
    ASSAY_NGINX_PREFIX=$VAR/nginx
    ASSAY_NGINX_CONF=$ASSAY_NGINX_PREFIX/nginx.conf
    ASSAY_TLS_CERT=$ASSAY_NGINX_PREFIX/tls/cert.pem
    ASSAY_TLS_KEY=$ASSAY_NGINX_PREFIX/tls/key.pem
    NGINX_PID_FILE=$ASSAY_RUN_DIR/nginx.pid
    PGDATA=$VAR/pg/data
    ASSAY_PG_LOG=$ASSAY_LOG_DIR/postgres.log
    PG_CTL=$VAR/bin/pg_ctl

    ASSAY_SOCKET=$ASSAY_RUN_DIR/assay.sock
    if ((${#ASSAY_SOCKET} > UNIX_SOCKET_PATH_MAX)); then
        ASSAY_SOCKET=$(short_socket_dir app)/assay.sock
    fi
    ASSAY_PG_SOCKET_DIR=$VAR/pg/run
    # PostgreSQL's socket is DIR/.s.PGSQL.PORT
    local pg_sock="$ASSAY_PG_SOCKET_DIR/.s.PGSQL.${ASSAY_PG_PORT:-5432}"
    if ((${#pg_sock} > UNIX_SOCKET_PATH_MAX)); then
        ASSAY_PG_SOCKET_DIR=$(short_socket_dir pg)
    fi

    # The source databases (see "Source databases" below).
    ASSAY_SOURCE_PGDATA=$VAR/source-pg/data
    ASSAY_SOURCE_PG_LOG=$ASSAY_LOG_DIR/source-postgres.log
    ASSAY_SOURCE_PG_SOCKET_DIR=$VAR/source-pg/run
    pg_sock="$ASSAY_SOURCE_PG_SOCKET_DIR/.s.PGSQL.${ASSAY_SOURCE_PG_PORT:-5433}"
    if ((${#pg_sock} > UNIX_SOCKET_PATH_MAX)); then
        ASSAY_SOURCE_PG_SOCKET_DIR=$(short_socket_dir source-pg)
    fi
    ASSAY_MYSQL_DATADIR=$VAR/mariadb/data
    ASSAY_MYSQL_PID_FILE=$VAR/mariadb/run/mariadbd.pid
    ASSAY_MYSQL_ADMIN_CNF=$VAR/mariadb/admin.cnf
    ASSAY_MYSQL_LOG=$ASSAY_LOG_DIR/mariadb.log
    ASSAY_MYSQL_ADMIN_SOCKET=$VAR/mariadb/run/mysqld.sock
    if ((${#ASSAY_MYSQL_ADMIN_SOCKET} > UNIX_SOCKET_PATH_MAX)); then
        ASSAY_MYSQL_ADMIN_SOCKET=$(short_socket_dir mariadb)/mysqld.sock
    fi
}

# ---------------------------------------------------------------------------------------------
# Packages

deb_installed() {
    [[ $(dpkg-query -W -f='${Status}' "$1" 2>/dev/null) == "install ok installed" ]]
}

# ensure_packages [PKG...]: installs the missing ones (default: ASSAY_DEB_PACKAGES). apt-get
# update runs once, and only when something is missing.
ASSAY_APT_UPDATED=0
ensure_packages() {
    local pkgs=("$@") missing=() p
    ((${#pkgs[@]})) || read -r -a pkgs <<<"$ASSAY_DEB_PACKAGES"
    for p in "${pkgs[@]}"; do
        deb_installed "$p" || missing+=("$p")
    done
    ((${#missing[@]} == 0)) && return 0
    log "installing Debian packages: ${missing[*]}"
    if ((ASSAY_APT_UPDATED == 0)); then
        as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null
        ASSAY_APT_UPDATED=1
    fi
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
        "${missing[@]}" >/dev/null
}

# Selenium for the browser tests, pinned where it comes from PyPI: 4.51.0 is the newest whose
# requirements PyPI can meet (4.52.0 and 4.53.0 ask for a certifi that is not published).
SELENIUM_VERSION=4.51.0
# The Prometheus text parser that checks /metrics (test_metrics.py); Debian 12 has 0.16.0.
PROMETHEUS_CLIENT_VERSION=0.21.1

# Sets PYTHON to an interpreter that can import pytest, requests, openpyxl (reads the .xlsx
# exports back), jsonschema (checks the JSON export), selenium (the browser tests) and
# prometheus_client (parses /metrics). Choice:
# the first python3 on PATH if it has pytest and requests (a developer's pyenv/venv) and pip
# can add the rest, else Debian's /usr/bin/python3 with all six from apt. apt rather than pip
# there: no PEP 668 "externally managed" refusal, no PyPI access needed, and the versions match
# the distribution. That holds for selenium too, although Debian 12's python3-selenium is
# 4.8.3 (pinned by the release): pip's selenium 4.51.0 needs urllib3 2, and Debian 12's
# requests 2.28 requires urllib3 < 1.27, so pip's selenium in a venv over Debian's packages
# would run every other test on an urllib3 their requests was never made for. The browser
# helpers use only what both selenium versions offer.
ensure_python_test_env() {
    local candidate
    for candidate in "$(command -v python3 || true)" /usr/bin/python3; do
        [[ -n $candidate && -x $candidate ]] || continue
        "$candidate" -c 'import pytest, requests' 2>/dev/null || continue
        # Debian's own interpreter (no venv): its packages come from apt, below.
        "$candidate" -c 'import sys; sys.exit(sys.prefix == "/usr")' || break
        if python_has_test_modules "$candidate" ||
            "$candidate" -m pip install -q --disable-pip-version-check openpyxl jsonschema \
                "selenium==$SELENIUM_VERSION" "prometheus-client==$PROMETHEUS_CLIENT_VERSION" >/dev/null 2>&1; then
            PYTHON=$candidate
            return 0
        fi
    done
    # shellcheck disable=SC2086 # word splitting of the package list is intended
    ensure_packages python3 $ASSAY_PY_TEST_DEB_PACKAGES
    /usr/bin/python3 -c 'import pytest, requests, openpyxl, jsonschema, selenium, prometheus_client' \
        || die "pytest/requests/openpyxl/jsonschema/selenium/prometheus_client still missing for /usr/bin/python3"
    PYTHON=/usr/bin/python3
}

# Does PYTHON have openpyxl, jsonschema, the pinned selenium and prometheus_client?
python_has_test_modules() {
    "$1" -c "import openpyxl, jsonschema, selenium, prometheus_client, sys; sys.exit(selenium.__version__ != '$SELENIUM_VERSION')" 2>/dev/null
}

# Debian's chromium and chromium-driver for the browser tests. Nothing is ever downloaded at
# run time: the helpers hand Selenium this chromedriver, so Selenium Manager never runs.
ensure_browser() {
    # shellcheck disable=SC2086 # word splitting of the package list is intended
    ensure_packages $ASSAY_BROWSER_DEB_PACKAGES
}

# schemathesis (property-based testing of the OpenAPI document against the live API), pinned,
# from PyPI into its own venv under var/tools/ that later runs reuse, with the two checkers of
# the API's descriptions: openapi-spec-validator (the OpenAPI document) and postmanparser (a
# reader of Postman's collection format v2.1, for GET /api/postman.json; Postman's JSON schema
# itself is only published on its web site, which a test machine may not reach). Sets
# ASSAY_SCHEMATHESIS (its python is the tests' ASSAY_TOOLS_PYTHON).
SCHEMATHESIS_VERSION=4.32.5
OPENAPI_SPEC_VALIDATOR_VERSION=0.9.0
POSTMANPARSER_VERSION=0.1.9
ensure_schemathesis() {
    local venv=$REPO/var/tools/schemathesis
    ASSAY_SCHEMATHESIS=$venv/bin/schemathesis
    if [[ -x $ASSAY_SCHEMATHESIS ]] && "$ASSAY_SCHEMATHESIS" --version 2>/dev/null | grep -q "version $SCHEMATHESIS_VERSION\$" &&
        "$venv/bin/python" -c "import importlib.metadata as m, sys; sys.exit(m.version('openapi-spec-validator') != '$OPENAPI_SPEC_VALIDATOR_VERSION' or m.version('postmanparser') != '$POSTMANPARSER_VERSION')" 2>/dev/null; then
        return 0
    fi
    ensure_packages python3-venv
    log "installing schemathesis $SCHEMATHESIS_VERSION, openapi-spec-validator and postmanparser into $venv (from PyPI, once)"
    rm -rf "$venv"
    /usr/bin/python3 -m venv "$venv" || die "could not make a venv in $venv"
    "$venv/bin/pip" install -q --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION" \
        "openapi-spec-validator==$OPENAPI_SPEC_VALIDATOR_VERSION" "postmanparser==$POSTMANPARSER_VERSION" \
        || die "could not install schemathesis $SCHEMATHESIS_VERSION and the API checkers from PyPI into $venv"
}

# Swagger UI and ReDoc for /docs and /redoc, offline: the builds the drf-spectacular-sidecar
# wheel ships (pinned, hash-checked), downloaded from PyPI once and unpacked under
# var/tools/api-docs/VERSION/ (swagger-ui-dist/, redoc/), which nginx serves. No CDN at run
# time. A machine that cannot reach PyPI still runs: /docs and /redoc then answer 404 and a
# warning says why. Sets ASSAY_API_DOCS_DIR.
API_DOCS_SIDECAR_VERSION=2026.10.1
API_DOCS_SIDECAR_SHA256=fe1d005d8ac9b5d0472f2fe5deeb2e7d6dcffaa24118044f22578b4b8c4b31f2
ensure_api_docs() {
    ASSAY_API_DOCS_DIR=$REPO/var/tools/api-docs/$API_DOCS_SIDECAR_VERSION
    [[ -r $ASSAY_API_DOCS_DIR/swagger-ui-dist/swagger-ui-bundle.js && -r $ASSAY_API_DOCS_DIR/redoc/bundles/redoc.standalone.js ]] && return 0
    local wheel_dir=$REPO/var/tools/api-docs/download wheel python
    python=$(command -v python3 || echo /usr/bin/python3)
    log "fetching Swagger UI and ReDoc (drf-spectacular-sidecar $API_DOCS_SIDECAR_VERSION, from PyPI, once)"
    rm -rf "$wheel_dir" && mkdir -p "$wheel_dir"
    printf 'drf-spectacular-sidecar==%s --hash=sha256:%s\n' "$API_DOCS_SIDECAR_VERSION" "$API_DOCS_SIDECAR_SHA256" >"$wheel_dir/requirements.txt"
    if ! "$python" -m pip download -q --disable-pip-version-check --no-deps --only-binary :all: --require-hashes \
        -r "$wheel_dir/requirements.txt" -d "$wheel_dir" >/dev/null 2>&1; then
        warn "could not download drf-spectacular-sidecar $API_DOCS_SIDECAR_VERSION from PyPI: /docs and /redoc will answer 404"
        return 0
    fi
    wheel=$(find "$wheel_dir" -name 'drf_spectacular_sidecar-*.whl' | head -n 1)
    rm -rf "$ASSAY_API_DOCS_DIR.tmp" && mkdir -p "$ASSAY_API_DOCS_DIR.tmp"
    "$python" - "$wheel" "$ASSAY_API_DOCS_DIR.tmp" <<'PY' || die "could not unpack $wheel"
import os, sys, zipfile
prefix = "drf_spectacular_sidecar/static/drf_spectacular_sidecar/"
with zipfile.ZipFile(sys.argv[1]) as wheel:
    for name in wheel.namelist():
        if name.startswith(prefix) and not name.endswith("/") and not name.endswith(".map") and ".." not in name:
            target = sys.argv[2] + "/" + name[len(prefix):]
            os.makedirs(os.path.dirname(target), exist_ok=True)
            with wheel.open(name) as source, open(target, "wb") as out:
                out.write(source.read())
PY
    chmod -R a+rX "$ASSAY_API_DOCS_DIR.tmp"
    rm -rf "$ASSAY_API_DOCS_DIR" && mv "$ASSAY_API_DOCS_DIR.tmp" "$ASSAY_API_DOCS_DIR"
    rm -rf "$wheel_dir"
}

# Puts a toolchain found in its usual place on PATH when the environment lacks it.
ensure_swift_on_path() {
    command -v swift >/dev/null && return 0
    [[ -x /opt/swift/usr/bin/swift ]] && PATH=/opt/swift/usr/bin:$PATH && return 0
    die "swift not found (install the Swift toolchain or put it on PATH)"
}

# ---------------------------------------------------------------------------------------------
# Directories, secrets, TLS

make_dirs() {
    [[ $ASSAY_SOCKET == "$ASSAY_RUN_DIR/assay.sock" ]] ||
        log "FastCGI socket path under $VAR is too long for a unix socket: using $ASSAY_SOCKET"
    mkdir -p "$VAR" "$ASSAY_RUN_DIR" "$ASSAY_LOG_DIR" "$ASSAY_UPLOADS_DIR" "$ASSAY_EXPORTS_DIR" \
        "$ASSAY_ARTIFACTS_DIR" "$ASSAY_NGINX_PREFIX/tls" "$ASSAY_NGINX_PREFIX/tmp" "$VAR/bin" "$(dirname "$ASSAY_SOCKET")"
    # nginx workers run as www-data when we are root: they need to traverse to the FastCGI socket
    # and into the nginx temp dirs, and to read exports (served through X-Accel-Redirect).
    chmod 0755 "$VAR" "$ASSAY_RUN_DIR" "$ASSAY_NGINX_PREFIX" "$ASSAY_NGINX_PREFIX/tmp" "$(dirname "$ASSAY_SOCKET")"
    chmod 0750 "$ASSAY_EXPORTS_DIR"
    if ((IS_ROOT)) && [[ -n $ASSAY_SOCKET_GROUP ]]; then
        chgrp "$ASSAY_SOCKET_GROUP" "$ASSAY_EXPORTS_DIR"
    fi
    if ((IS_ROOT)); then
        # Every parent of the socket and of static/ must be traversable by the nginx workers.
        local path
        for path in "$ASSAY_SOCKET" "$REPO/static/assay.css"; do
            if ! runuser -u www-data -- test -x "$(dirname "$path")"; then
                warn "nginx workers (www-data) cannot reach $(dirname "$path"): a parent directory is not world-traversable"
            fi
        done
    fi
}

# Makes the secrets once; an existing file is never replaced (data encrypted with the key, the
# cluster's password and issued tokens depend on them).
ensure_secrets() {
    mkdir -p "$ASSAY_SECRETS_DIR"
    chmod 0700 "$ASSAY_SECRETS_DIR"
    local name made=()
    for name in jwt_secret encryption_key pg_password source_pg_password source_pg_admin_password \
        mysql_password mysql_root_password; do
        [[ -s $ASSAY_SECRETS_DIR/$name ]] && continue
        (
            umask 077
            case $name in
            jwt_secret) openssl rand -base64 48 ;;     # HS256 key: 48 random bytes
            encryption_key) openssl rand -base64 32 ;; # exactly 32 bytes (AES-256)
            *password) openssl rand -hex 24 ;;         # hex: safe in URLs and SQL literals
            esac | tr -d '\n' >"$ASSAY_SECRETS_DIR/$name"
        )
        made+=("$name")
    done
    chmod 0600 "$ASSAY_SECRETS_DIR"/*
    ((${#made[@]} == 0)) || log "created secrets in $ASSAY_SECRETS_DIR: ${made[*]}"
    JWT_SECRET_KEY=$(<"$ASSAY_SECRETS_DIR/jwt_secret")
    ENCRYPTION_KEY=$(<"$ASSAY_SECRETS_DIR/encryption_key")
    PG_PASSWORD=$(<"$ASSAY_SECRETS_DIR/pg_password")
    ASSAY_SOURCE_PG_PASSWORD=$(<"$ASSAY_SECRETS_DIR/source_pg_password")
    SOURCE_PG_ADMIN_PASSWORD=$(<"$ASSAY_SECRETS_DIR/source_pg_admin_password")
    ASSAY_MYSQL_PASSWORD=$(<"$ASSAY_SECRETS_DIR/mysql_password")
    ASSAY_MYSQL_ROOT_PASSWORD=$(<"$ASSAY_SECRETS_DIR/mysql_root_password")
}

# Self-signed certificate for 127.0.0.1/localhost, made once.
ensure_tls() {
    [[ -s $ASSAY_TLS_CERT && -s $ASSAY_TLS_KEY ]] && return 0
    log "creating a self-signed TLS certificate in $(dirname "$ASSAY_TLS_CERT")"
    mkdir -p "$(dirname "$ASSAY_TLS_CERT")"
    (
        umask 077
        openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
            -keyout "$ASSAY_TLS_KEY" -out "$ASSAY_TLS_CERT" -days 825 -subj "/CN=localhost" \
            -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
            -addext "keyUsage=critical,digitalSignature,keyCertSign" \
            -addext "extendedKeyUsage=serverAuth" 2>/dev/null
    )
    chmod 0600 "$ASSAY_TLS_KEY"
    chmod 0644 "$ASSAY_TLS_CERT"
}

# ---------------------------------------------------------------------------------------------
# Private PostgreSQL

# Sets PG_BINDIR to the newest /usr/lib/postgresql/<major>/bin.
pg_detect() {
    local dir
    dir=$(find /usr/lib/postgresql -mindepth 2 -maxdepth 2 -name bin -type d 2>/dev/null | sort -V | tail -n 1)
    [[ -n $dir && -x $dir/initdb ]] || die "PostgreSQL server binaries not found under /usr/lib/postgresql (package postgresql)"
    PG_BINDIR=$dir
}

# VAR/bin/pg_ctl: runs the right pg_ctl as the cluster owner, so a test (running as root or
# not) can simply do `$PG_CTL stop -m fast` and `$PG_CTL start -w -l $ASSAY_PG_LOG`
# (PGDATA is exported in VAR/env).
write_pg_ctl_wrapper() {
    mkdir -p "$(dirname "$PG_CTL")"
    cat >"$PG_CTL" <<EOF
#!/usr/bin/env bash
# Generated by scripts/lib/common.sh: PostgreSQL's pg_ctl, run as the owner of the private cluster.
set -euo pipefail
cd /
if [[ \$(id -u) == 0 ]]; then
    exec runuser -u postgres -- "$PG_BINDIR/pg_ctl" "\$@"
fi
exec "$PG_BINDIR/pg_ctl" "\$@"
EOF
    chmod 0755 "$PG_CTL"
}

pg_is_running() {
    [[ -f $PGDATA/postmaster.pid ]] || return 1
    pg_as_owner "$PG_BINDIR/pg_ctl" -D "$PGDATA" status >/dev/null 2>&1
}

# Settings written on every start (so ports/paths follow the current profile).
write_pg_settings() {
    local fast_lines=""
    if ((PG_FAST)); then
        # Throwaway test/bench data: durability is not worth the disk flushes.
        fast_lines=$'fsync = off\nsynchronous_commit = off\nfull_page_writes = off'
    fi
    cat >"$PGDATA/assay.conf" <<EOF
# Written by scripts/lib/common.sh on every start; edit there.
listen_addresses = ''        # unix socket only: no TCP at all
port = $ASSAY_PG_PORT
unix_socket_directories = '$ASSAY_PG_SOCKET_DIR'
unix_socket_permissions = 0777
max_connections = 100
log_line_prefix = '%m [%p] %q%u@%d '
$fast_lines
EOF
    ((IS_ROOT)) && chown postgres:postgres "$PGDATA/assay.conf"
    return 0
}

# initdb DIR: the private cluster, whose superuser `postgres` has the password from VAR/secrets.
initdb_private_pg() {
    local dir=$1 pwfile sync_opt=()
    # Test/bench data is thrown away anyway (fsync = off): don't wait for the disk.
    ((PG_FAST)) && sync_opt=(--no-sync)
    pwfile=$(mktemp "$VAR/pg/.pwfile.XXXXXX")
    printf '%s\n' "$PG_PASSWORD" >"$pwfile"
    ((IS_ROOT)) && chown postgres:postgres "$pwfile"
    rm -rf -- "$dir"
    if ! pg_as_owner "$PG_BINDIR/initdb" -D "$dir" -U postgres --pwfile="$pwfile" "${sync_opt[@]}" \
        --auth-local=scram-sha-256 --auth-host=reject -E UTF8 --locale=C.UTF-8 \
        >"$ASSAY_LOG_DIR/initdb.log" 2>&1; then
        rm -f "$pwfile"
        cat "$ASSAY_LOG_DIR/initdb.log" >&2
        die "initdb failed"
    fi
    rm -f "$pwfile"
    printf "\ninclude 'assay.conf'\n" >>"$dir/postgresql.conf"
}

# Creates (first time), configures and starts the private cluster, then the `assay` role and
# database. Sets DATABASE_URL and the superuser PG* variables.
setup_private_pg() {
    pg_detect
    write_pg_ctl_wrapper
    mkdir -p "$VAR/pg" "$ASSAY_PG_SOCKET_DIR" "$ASSAY_LOG_DIR"
    [[ $ASSAY_PG_SOCKET_DIR == "$VAR/pg/run" ]] ||
        log "PostgreSQL socket path under $VAR is too long for a unix socket: using $ASSAY_PG_SOCKET_DIR"
    touch "$ASSAY_PG_LOG"
    if ((IS_ROOT)); then
        chown -R postgres:postgres "$VAR/pg" "$ASSAY_PG_SOCKET_DIR" "$ASSAY_PG_LOG"
        runuser -u postgres -- test -w "$VAR/pg" ||
            die "user postgres cannot write $VAR/pg (a parent directory is not traversable?)"
    fi
    chmod 0755 "$ASSAY_PG_SOCKET_DIR"

    if [[ ! -s $PGDATA/PG_VERSION ]]; then
        log "initialising a PostgreSQL cluster in $PGDATA"
        if ((PG_FAST)); then
            # A fresh cluster on every test/bench run: copied from one made once (see from_template).
            from_template pg "$(short_hash "$(stat -c %Y "$PG_BINDIR/postgres")" "$PG_BINDIR" "$PG_PASSWORD")" \
                "$PGDATA" initdb_private_pg
        else
            initdb_private_pg "$PGDATA"
        fi
    fi
    write_pg_settings

    if pg_is_running; then
        log "PostgreSQL already running ($PGDATA)"
    else
        without_lock pg_as_owner "$PG_BINDIR/pg_ctl" -D "$PGDATA" -l "$ASSAY_PG_LOG" -w -t 60 start >/dev/null ||
            { show_log_tails; die "PostgreSQL did not start"; }
    fi

    # The superuser connection (tests use it to inspect and reset data).
    PGHOST=$ASSAY_PG_SOCKET_DIR
    PGPORT=$ASSAY_PG_PORT
    PGUSER=postgres
    PGPASSWORD=$PG_PASSWORD
    PGDATABASE=assay
    export PGHOST PGPORT PGUSER PGPASSWORD
    # Role and database, idempotently. The password is hex: no quoting issues. It goes through
    # stdin, not argv, so `ps` doesn't show it.
    "$PG_BINDIR/psql" -X -q -v ON_ERROR_STOP=1 -d postgres >/dev/null <<SQL || die "could not create the assay role/database"
SELECT 'CREATE ROLE assay' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'assay') \gexec
ALTER ROLE assay WITH LOGIN CREATEDB CREATEROLE NOSUPERUSER PASSWORD '$PG_PASSWORD';
SELECT 'CREATE DATABASE assay OWNER assay' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'assay') \gexec
SQL
    DATABASE_URL="postgresql://assay:$PG_PASSWORD@/assay?host=$ASSAY_PG_SOCKET_DIR&port=$ASSAY_PG_PORT"
}

# Private cluster unless the caller gave DATABASE_URL.
setup_database() {
    if ((ASSAY_PRIVATE_PG)); then
        setup_private_pg
    else
        log "using the database from DATABASE_URL (no private PostgreSQL)"
    fi
}

# Throws away the private cluster's data (scripts/test and scripts/bench start from scratch).
wipe_private_pg() {
    ((ASSAY_PRIVATE_PG)) || return 0
    [[ -d $VAR/pg/data ]] || return 0
    [[ -n $VAR && $PGDATA == "$VAR/pg/data" ]] || die "refusing to wipe '$PGDATA'"
    rm -rf -- "$PGDATA"
}

# A clean slate for scripts/test and scripts/bench: stop a leftover instance, fresh clusters
# and MariaDB (a few seconds, so every run is reproducible), empty uploads/exports/artifacts, fresh
# logs. Secrets and the TLS certificate are kept.
reset_instance_state() {
    stop_all
    wipe_private_pg
    wipe_source_databases
    local dir f
    for dir in "$ASSAY_UPLOADS_DIR" "$ASSAY_EXPORTS_DIR" "$ASSAY_ARTIFACTS_DIR"; do
        if [[ -d $dir ]]; then find "$dir" -mindepth 1 -delete; fi
    done
    for f in "$ASSAY_LOG_DIR"/*.log "$ASSAY_LOG_DIR"/*.txt; do
        if [[ -f $f ]]; then : >"$f"; fi
    done
}

# ---------------------------------------------------------------------------------------------
# Source databases: a customer's PostgreSQL and MariaDB on loopback, for the connection and ETL
# tests, the ETL benchmark and scripts/sample-data. Both are private to VAR like the cluster
# above, but reachable over TCP on 127.0.0.1 only, with password authentication, because that
# is how Assay reaches a customer's database. The role/user `source` (no superuser) owns the
# empty database source_test; the scripts and tests administer both servers over their unix
# sockets (PostgreSQL's bootstrap superuser `postgres`, MariaDB's `root`), never over TCP.
# Both use the instance's self-signed certificate for TLS, so sslmode=require/verify-full can
# be tested (its subjectAltName covers 127.0.0.1 and localhost).

ASSAY_SOURCE_DATABASE=source_test # the empty database tests fill

# --- PostgreSQL (same server binaries as the private cluster) ---

source_pg_is_running() {
    [[ -f $ASSAY_SOURCE_PGDATA/postmaster.pid ]] || return 1
    pg_as_owner "$PG_BINDIR/pg_ctl" -D "$ASSAY_SOURCE_PGDATA" status >/dev/null 2>&1
}

# psql as the bootstrap superuser over the unix socket. The password goes through the
# environment, not argv (`ps`).
source_pg_psql() {
    PGPASSWORD=$SOURCE_PG_ADMIN_PASSWORD "$PG_BINDIR/psql" -X -q -v ON_ERROR_STOP=1 \
        -h "$ASSAY_SOURCE_PG_SOCKET_DIR" -p "$ASSAY_SOURCE_PG_PORT" -U postgres "$@"
}

# scripts/test and scripts/bench start both source databases from fresh data on every run, but
# initdb and mariadb-install-db take 2-5 s each on 2 busy cores; copying a pristine data dir
# made once (VAR/source-pg/template-KEY, VAR/mariadb/template-KEY) takes a fraction of that.
# KEY names what a template depends on (server version, baked-in password): a change makes a
# new one.

# ensure_template KIND KEY INIT_FUNCTION: makes VAR/KIND/template-KEY (INIT_FUNCTION DIR) when
# missing, and removes older templates.
ensure_template() {
    local kind=$1 key=$2 init=$3 template old
    template=$VAR/$kind/template-$key
    [[ -d $template ]] && return 0
    for old in "$VAR/$kind"/template-*; do
        if [[ -d $old ]]; then rm -rf -- "$old"; fi
    done
    "$init" "$template.tmp"
    mv "$template.tmp" "$template" # complete or absent, even when interrupted
}

# from_template KIND KEY TARGET INIT_FUNCTION: copies the template to TARGET.
from_template() {
    ensure_template "$1" "$2" "$4"
    cp -a --reflink=auto "$VAR/$1/template-$2" "$3"
}

# A short hash of its arguments, for template names.
short_hash() {
    printf '%s\n' "$@" | md5sum | cut -c1-12
}

source_pg_template_key() {
    short_hash "$(stat -c %Y "$PG_BINDIR/postgres")" "$PG_BINDIR" "$SOURCE_PG_ADMIN_PASSWORD"
}

mariadb_template_key() {
    short_hash "$("$MARIADBD" --version)" "${MARIADBD_FAST_ARGS[*]}"
}

# The first scripts/test (or bench) of a checkout makes both templates at once: two processes
# on two cores, ~4 s instead of ~7.
make_source_templates() {
    ((PG_FAST)) || return 0
    local pg_key my_key pid
    pg_key=$(source_pg_template_key)
    my_key=$(mariadb_template_key)
    [[ -d $VAR/source-pg/template-$pg_key && -d $VAR/mariadb/template-$my_key ]] && return 0
    log "making templates for fresh source databases (once per $VAR)"
    ensure_template mariadb "$my_key" install_source_mariadb &
    pid=$!
    ensure_template source-pg "$pg_key" initdb_source_pg
    wait "$pid" || die "could not make the MariaDB template"
}

# initdb DIR: a cluster whose superuser `postgres` has the password from VAR/secrets.
initdb_source_pg() {
    local dir=$1 pwfile sync_opt=()
    # Test/bench data is thrown away anyway: don't wait for the disk.
    ((PG_FAST)) && sync_opt=(--no-sync)
    pwfile=$(mktemp "$VAR/source-pg/.pwfile.XXXXXX")
    printf '%s\n' "$SOURCE_PG_ADMIN_PASSWORD" >"$pwfile"
    ((IS_ROOT)) && chown postgres:postgres "$pwfile"
    rm -rf -- "$dir"
    if ! pg_as_owner "$PG_BINDIR/initdb" -D "$dir" -U postgres --pwfile="$pwfile" "${sync_opt[@]}" \
        --auth-local=scram-sha-256 --auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8 \
        >"$ASSAY_LOG_DIR/source-initdb.log" 2>&1; then
        rm -f "$pwfile"
        cat "$ASSAY_LOG_DIR/source-initdb.log" >&2
        die "initdb failed for the source PostgreSQL"
    fi
    rm -f "$pwfile"
    printf "\ninclude 'assay.conf'\n" >>"$dir/postgresql.conf"
}

init_source_pg() {
    log "initialising the source PostgreSQL cluster in $ASSAY_SOURCE_PGDATA"
    if ((PG_FAST)); then
        from_template source-pg "$(source_pg_template_key)" "$ASSAY_SOURCE_PGDATA" initdb_source_pg
    else
        initdb_source_pg "$ASSAY_SOURCE_PGDATA"
    fi
}

# Settings, access rules and TLS files, written on every start (ports and paths follow the
# profile). The superuser may only use the socket; everyone else needs a password over TCP.
write_source_pg_settings() {
    local data=$ASSAY_SOURCE_PGDATA fast_lines=""
    if ((PG_FAST)); then
        fast_lines=$'fsync = off\nsynchronous_commit = off\nfull_page_writes = off'
    fi
    cat >"$data/assay.conf" <<CONF
# Written by scripts/lib/common.sh on every start; edit there.
listen_addresses = '127.0.0.1'
port = $ASSAY_SOURCE_PG_PORT
unix_socket_directories = '$ASSAY_SOURCE_PG_SOCKET_DIR'
unix_socket_permissions = 0777
hba_file = '$data/assay_hba.conf'
password_encryption = 'scram-sha-256'
ssl = on
ssl_cert_file = 'assay_tls_cert.pem'
ssl_key_file = 'assay_tls_key.pem'
max_connections = 50
timezone = 'UTC'
log_timezone = 'UTC'
log_line_prefix = '%m [%p] %q%u@%d '
$fast_lines
CONF
    cat >"$data/assay_hba.conf" <<CONF
# Written by scripts/lib/common.sh on every start; edit there.
# TYPE  DATABASE  USER      ADDRESS        METHOD
local   all       all                      scram-sha-256
host    all       postgres  127.0.0.1/32   reject
host    all       all       127.0.0.1/32   scram-sha-256
CONF
    # The server (the postgres account when we are root) must own a 0600 key.
    install -m 0600 "$ASSAY_TLS_CERT" "$data/assay_tls_cert.pem"
    install -m 0600 "$ASSAY_TLS_KEY" "$data/assay_tls_key.pem"
    if ((IS_ROOT)); then
        chown postgres:postgres "$data/assay.conf" "$data/assay_hba.conf" "$data/assay_tls_cert.pem" \
            "$data/assay_tls_key.pem"
    fi
    return 0
}

# Creates (first time), configures and starts the source cluster, then the `source` role (its
# password follows VAR/secrets on every start) and the source_test database it owns.
# VAR/source-pg and the socket directory, owned by the server's account.
make_source_pg_dirs() {
    [[ -n ${PG_BINDIR:-} ]] || pg_detect
    mkdir -p "$VAR/source-pg" "$ASSAY_SOURCE_PG_SOCKET_DIR" "$ASSAY_LOG_DIR"
    touch "$ASSAY_SOURCE_PG_LOG"
    if ((IS_ROOT)); then
        chown postgres:postgres "$VAR/source-pg" "$ASSAY_SOURCE_PG_SOCKET_DIR" "$ASSAY_SOURCE_PG_LOG"
    fi
    chmod 0755 "$ASSAY_SOURCE_PG_SOCKET_DIR"
}

setup_source_pg() {
    make_source_pg_dirs
    write_pg_ctl_wrapper
    [[ $ASSAY_SOURCE_PG_SOCKET_DIR == "$VAR/source-pg/run" ]] ||
        log "source PostgreSQL socket path under $VAR is too long for a unix socket: using $ASSAY_SOURCE_PG_SOCKET_DIR"
    [[ -s $ASSAY_SOURCE_PGDATA/PG_VERSION ]] || init_source_pg
    write_source_pg_settings

    if source_pg_is_running; then
        log "source PostgreSQL already running ($ASSAY_SOURCE_PGDATA)"
    elif ! without_lock pg_as_owner "$PG_BINDIR/pg_ctl" -D "$ASSAY_SOURCE_PGDATA" -l "$ASSAY_SOURCE_PG_LOG" \
        -w -t 60 start >/dev/null; then
        tail -n 25 "$ASSAY_SOURCE_PG_LOG" >&2
        die "the source PostgreSQL did not start on 127.0.0.1:$ASSAY_SOURCE_PG_PORT (port taken? set ASSAY_SOURCE_PG_PORT; log: $ASSAY_SOURCE_PG_LOG)"
    fi

    source_pg_psql -d postgres >/dev/null <<SQL || die "could not create the source role/database"
SELECT 'CREATE ROLE source' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'source') \gexec
ALTER ROLE source WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD '$ASSAY_SOURCE_PG_PASSWORD';
SELECT 'CREATE DATABASE $ASSAY_SOURCE_DATABASE OWNER source' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '$ASSAY_SOURCE_DATABASE') \gexec
SQL
    # Tests create tables in source_test as the superuser and read them through Assay as
    # `source`: what the superuser creates there is readable by `source` without a GRANT.
    source_pg_psql -d "$ASSAY_SOURCE_DATABASE" >/dev/null <<SQL || die "could not set default privileges in $ASSAY_SOURCE_DATABASE"
ALTER DEFAULT PRIVILEGES FOR ROLE postgres IN SCHEMA public GRANT SELECT ON TABLES TO source;
ALTER DEFAULT PRIVILEGES FOR ROLE postgres IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO source;
SQL
    ASSAY_SOURCE_PG_HOST=127.0.0.1
    ASSAY_SOURCE_PG_USER=source
    ASSAY_SOURCE_PG_DATABASE=$ASSAY_SOURCE_DATABASE
    # The superuser in source_test, over the socket: psql "$ASSAY_SOURCE_PG_ADMIN_URL".
    ASSAY_SOURCE_PG_ADMIN_URL="postgresql://postgres:$SOURCE_PG_ADMIN_PASSWORD@/$ASSAY_SOURCE_DATABASE?host=$ASSAY_SOURCE_PG_SOCKET_DIR&port=$ASSAY_SOURCE_PG_PORT"
}

stop_source_pg() {
    [[ -f $ASSAY_SOURCE_PGDATA/postmaster.pid ]] || return 0
    [[ -n ${PG_BINDIR:-} ]] || pg_detect
    if source_pg_is_running; then
        log "stopping the source PostgreSQL ($ASSAY_SOURCE_PGDATA)"
        pg_as_owner "$PG_BINDIR/pg_ctl" -D "$ASSAY_SOURCE_PGDATA" -m fast -w -t 60 stop >/dev/null
    fi
}

# --- MariaDB (run as the current user: root on this kind of machine) ---

# Sets MARIADBD (mariadbd lives in /usr/sbin, often not on a user's PATH).
mariadb_detect() {
    MARIADBD=$(command -v mariadbd || true)
    [[ -n $MARIADBD ]] || MARIADBD=/usr/sbin/mariadbd
    [[ -x $MARIADBD ]] || die "mariadbd not found (package mariadb-server)"
    command -v mariadb-install-db >/dev/null || die "mariadb-install-db not found (package mariadb-server)"
}

# Prints the pid of this VAR's mariadbd (empty when it is not running).
mariadb_pid() {
    local pid
    pid=$(read_pid_file "$ASSAY_MYSQL_PID_FILE")
    [[ -n $pid ]] && pid_matches "$pid" "--datadir=$ASSAY_MYSQL_DATADIR" && printf '%s' "$pid"
    return 0
}

# The server's options. --no-defaults: the machine's /etc/mysql is not ours. mariadbd refuses
# to run as root unless told to. --skip-name-resolve: accounts are matched by address
# (127.0.0.1), without a reverse DNS lookup per connection.
mariadbd_args() {
    MARIADBD_ARGS=(
        --no-defaults
        --datadir="$ASSAY_MYSQL_DATADIR"
        --socket="$ASSAY_MYSQL_ADMIN_SOCKET"
        --pid-file="$ASSAY_MYSQL_PID_FILE"
        --log-error="$ASSAY_MYSQL_LOG"
        --port="$ASSAY_MYSQL_PORT"
        --bind-address=127.0.0.1
        --skip-name-resolve
        --character-set-server=utf8mb4
        --collation-server=utf8mb4_unicode_ci
        --default-time-zone=+00:00
        --max-connections=100
        --innodb-buffer-pool-size=128M
        --ssl-cert="$ASSAY_TLS_CERT"
        --ssl-key="$ASSAY_TLS_KEY"
    )
    ((IS_ROOT)) && MARIADBD_ARGS+=(--user=root)
    MARIADBD_FAST_ARGS=()
    if ((PG_FAST)); then
        # Throwaway test/bench data, like the clusters' fsync = off; a smaller redo log (default
        # 96 MB) is quicker to copy from the template.
        MARIADBD_FAST_ARGS=(--innodb-flush-log-at-trx-commit=0 --innodb-doublewrite=0
            --innodb-flush-method=nosync --innodb-log-file-size=32M)
    fi
    MARIADBD_ARGS+=("${MARIADBD_FAST_ARGS[@]}")
}

# mariadb-install-db DIR: system tables, root@localhost without a password (see
# secure_source_mariadb).
install_source_mariadb() {
    local dir=$1
    local args=(--no-defaults --datadir="$dir" --auth-root-authentication-method=normal
        --skip-test-db --skip-name-resolve "${MARIADBD_FAST_ARGS[@]}")
    ((IS_ROOT)) && args+=(--user=root)
    rm -rf -- "$dir"
    if ! (cd / && mariadb-install-db "${args[@]}") >"$ASSAY_LOG_DIR/mariadb-install.log" 2>&1; then
        tail -n 30 "$ASSAY_LOG_DIR/mariadb-install.log" >&2
        die "mariadb-install-db failed (log: $ASSAY_LOG_DIR/mariadb-install.log)"
    fi
}

init_source_mariadb() {
    log "initialising the source MariaDB in $ASSAY_MYSQL_DATADIR"
    if ((PG_FAST)); then
        from_template mariadb "$(mariadb_template_key)" "$ASSAY_MYSQL_DATADIR" install_source_mariadb
    else
        install_source_mariadb "$ASSAY_MYSQL_DATADIR"
    fi
}

# Starts mariadbd in its own session (like assay serve) and waits until it answers a ping.
start_source_mariadb() {
    mariadbd_args
    rm -f "$ASSAY_MYSQL_PID_FILE"
    (
        if [[ -n ${ASSAY_LOCK_FD:-} ]]; then exec {ASSAY_LOCK_FD}>&-; fi
        cd /
        exec setsid "$MARIADBD" "${MARIADBD_ARGS[@]}"
    ) </dev/null >>"$ASSAY_MYSQL_LOG" 2>&1 &
    local pid=$! started=$SECONDS timeout=${ASSAY_MYSQL_START_TIMEOUT:-30}
    # mariadbd writes the same pid once it is up; writing it now lets stop_all find a server
    # that is still starting.
    printf '%s\n' "$pid" >"$ASSAY_MYSQL_PID_FILE"
    # `ping` succeeds as soon as the server answers, even with "access denied".
    until mariadb-admin --no-defaults --socket="$ASSAY_MYSQL_ADMIN_SOCKET" --connect-timeout=2 \
        -u root ping >/dev/null 2>&1; do
        if ! pid_alive "$pid" || ((SECONDS - started >= timeout)); then
            kill -KILL "$pid" 2>/dev/null || true
            tail -n 25 "$ASSAY_MYSQL_LOG" >&2
            die "the source MariaDB did not start within $timeout s on 127.0.0.1:$ASSAY_MYSQL_PORT (port taken? set ASSAY_MYSQL_PORT; log: $ASSAY_MYSQL_LOG)"
        fi
        sleep 0.1
    done
}

# mariadb as root over the socket (options from VAR/mariadb/admin.cnf: the password stays out
# of argv).
source_mariadb_sql() {
    mariadb --defaults-file="$ASSAY_MYSQL_ADMIN_CNF" "$@"
}

write_mariadb_admin_cnf() {
    (
        umask 077
        cat >"$ASSAY_MYSQL_ADMIN_CNF" <<CNF
# Written by scripts/lib/common.sh: root over the unix socket. mariadb --defaults-file=$ASSAY_MYSQL_ADMIN_CNF
[client]
user=root
password=$ASSAY_MYSQL_ROOT_PASSWORD
socket=$ASSAY_MYSQL_ADMIN_SOCKET
CNF
    )
}

# A fresh server's root has no password: give it VAR/secrets' and drop every other account
# mariadb-install-db made (root@hostname, anonymous users: an anonymous ''@localhost would
# shadow source@localhost).
secure_source_mariadb() {
    source_mariadb_sql -e 'SELECT 1' >/dev/null 2>&1 && return 0
    mariadb --no-defaults --socket="$ASSAY_MYSQL_ADMIN_SOCKET" -u root >/dev/null 2>&1 <<SQL ||
ALTER USER 'root'@'localhost' IDENTIFIED BY '$ASSAY_MYSQL_ROOT_PASSWORD';
SQL
        die "cannot log in to the source MariaDB as root with $ASSAY_SECRETS_DIR/mysql_root_password (data made with other secrets? remove $ASSAY_MYSQL_DATADIR)"
    local drops
    drops=$(source_mariadb_sql -N -B -e "SELECT CONCAT('DROP USER ', QUOTE(User), '@', QUOTE(Host), ';')
        FROM mysql.global_priv WHERE NOT (User = 'root' AND Host = 'localhost') AND User <> 'mariadb.sys'")
    [[ -z $drops ]] || source_mariadb_sql <<<"$drops"
}

# Creates (first time) and starts the source MariaDB, then the `source` accounts (password
# from VAR/secrets, reset on every start) with every right on source_test and read rights on
# company_finance (scripts/sample-data).
make_source_mariadb_dirs() {
    mariadb_detect
    mariadbd_args
    mkdir -p "$VAR/mariadb/run" "$ASSAY_LOG_DIR" "$(dirname "$ASSAY_MYSQL_ADMIN_SOCKET")"
    chmod 0700 "$VAR/mariadb"
}

setup_source_mariadb() {
    make_source_mariadb_dirs
    [[ $ASSAY_MYSQL_ADMIN_SOCKET == "$VAR/mariadb/run/mysqld.sock" ]] ||
        log "MariaDB socket path under $VAR is too long for a unix socket: using $ASSAY_MYSQL_ADMIN_SOCKET"
    write_mariadb_admin_cnf
    [[ -d $ASSAY_MYSQL_DATADIR/mysql ]] || init_source_mariadb
    local pid
    pid=$(mariadb_pid)
    if [[ -n $pid ]]; then
        log "source MariaDB already running (pid $pid)"
    else
        start_source_mariadb
    fi
    secure_source_mariadb
    local db=$ASSAY_SOURCE_DATABASE pw=$ASSAY_MYSQL_PASSWORD host
    {
        printf 'CREATE DATABASE IF NOT EXISTS %s CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;\n' "$db"
        for host in 127.0.0.1 localhost; do
            printf "CREATE USER IF NOT EXISTS 'source'@'%s' IDENTIFIED BY '%s';\n" "$host" "$pw"
            printf "ALTER USER 'source'@'%s' IDENTIFIED BY '%s';\n" "$host" "$pw"
            printf "GRANT ALL PRIVILEGES ON %s.* TO 'source'@'%s';\n" "$db" "$host"
            printf "GRANT SELECT, SHOW VIEW ON company_finance.* TO 'source'@'%s';\n" "$host"
        done
    } | source_mariadb_sql || die "could not create the source MariaDB user/database"
    ASSAY_MYSQL_HOST=127.0.0.1
    ASSAY_MYSQL_USER=source
    ASSAY_MYSQL_DATABASE=$db
}

stop_source_mariadb() {
    local pid
    pid=$(mariadb_pid)
    if [[ -n $pid ]]; then
        log "stopping the source MariaDB (pid $pid)"
        kill -TERM "$pid" 2>/dev/null || true
        if ! wait_for_exit "$pid" 30; then
            warn "mariadbd (pid $pid) ignored SIGTERM for 30 s: killing it"
            kill -KILL "$pid" 2>/dev/null || true
        fi
    fi
    rm -f "$ASSAY_MYSQL_PID_FILE"
    return 0
}

# --- both ---

# Starts both (unless ASSAY_SOURCE_DBS=0). Needs ensure_secrets and ensure_tls first.
setup_source_databases() {
    ((ASSAY_SOURCE_DBS)) || return 0
    make_source_pg_dirs
    make_source_mariadb_dirs
    make_source_templates
    setup_source_pg
    setup_source_mariadb
    log "source databases: PostgreSQL 127.0.0.1:$ASSAY_SOURCE_PG_PORT, MariaDB 127.0.0.1:$ASSAY_MYSQL_PORT (user source, database $ASSAY_SOURCE_DATABASE)"
}

source_databases_running() {
    [[ -f $ASSAY_SOURCE_PGDATA/postmaster.pid ]] && return 0
    [[ -n $(mariadb_pid) ]]
}

stop_source_databases() {
    stop_source_pg
    stop_source_mariadb
}

# Throws their data away (scripts/test and scripts/bench start from scratch).
wipe_source_databases() {
    [[ -n $VAR ]] || die "wipe_source_databases: VAR is empty"
    [[ $ASSAY_SOURCE_PGDATA == "$VAR/source-pg/data" && $ASSAY_MYSQL_DATADIR == "$VAR/mariadb/data" ]] ||
        die "refusing to wipe '$ASSAY_SOURCE_PGDATA' and '$ASSAY_MYSQL_DATADIR'"
    rm -rf -- "$ASSAY_SOURCE_PGDATA" "$ASSAY_MYSQL_DATADIR"
}

# ---------------------------------------------------------------------------------------------
# VAR/env

# Writes VAR/env: `export NAME=value` for everything a tool or test needs to reach this instance.
# Mode 0600: it holds secrets.
write_env() {
    ASSAY_BASE_URL=https://127.0.0.1:$ASSAY_HTTPS_PORT
    ASSAY_HTTP_URL=http://127.0.0.1:$ASSAY_HTTP_PORT
    # Links in emails, share links and embed code point here unless the caller says otherwise.
    ASSAY_PUBLIC_URL=${ASSAY_PUBLIC_URL:-$ASSAY_BASE_URL}
    ASSAY_REPO=$REPO
    ASSAY_STATIC_DIR=$REPO/static
    ASSAY_ENV_FILE=$VAR/env
    local names=(
        ASSAY_PROFILE ASSAY_REPO ASSAY_VAR_DIR ASSAY_BIN ASSAY_ENV_FILE
        ASSAY_BASE_URL ASSAY_HTTP_URL ASSAY_PUBLIC_URL ASSAY_HTTPS_PORT ASSAY_HTTP_PORT ASSAY_TLS_CERT ASSAY_TLS_KEY
        DATABASE_URL ASSAY_SOCKET ASSAY_SOCKET_MODE ASSAY_SOCKET_GROUP ASSAY_PID_FILE
        ASSAY_WORKERS ASSAY_MAX_REQUESTS ASSAY_REQUEST_TIMEOUT ASSAY_SHUTDOWN_TIMEOUT ASSAY_TEST_ROUTES
        ASSAY_FASTCGI_KEEP_CONN ASSAY_FASTCGI_KEEPALIVE
        JWT_SECRET_KEY ENCRYPTION_KEY ASSAY_UPLOADS_DIR ASSAY_EXPORTS_DIR ASSAY_ARTIFACTS_DIR ASSAY_STATIC_DIR
        ASSAY_RATE_LIMIT ASSAY_RATE_BURST ASSAY_MAX_BODY ASSAY_CLIENT_HEADER_TIMEOUT ASSAY_CLIENT_BODY_TIMEOUT
        ASSAY_CONNECTIONS_PER_ADDRESS ASSAY_SCHEMATHESIS
        ASSAY_LOG_DIR ASSAY_LOG ASSAY_NGINX_PREFIX ASSAY_NGINX_CONF NGINX_PID_FILE
        ASSAY_PRIVATE_PG
    )
    if ((ASSAY_PRIVATE_PG)); then
        names+=(PGHOST PGPORT PGUSER PGPASSWORD PGDATABASE PGDATA PG_CTL PG_BINDIR ASSAY_PG_LOG
            ASSAY_PG_PORT ASSAY_PG_SOCKET_DIR)
    fi
    if ((ASSAY_SOURCE_DBS)); then
        # What Assay is given in a connection (the `source` role/user over TCP) ...
        names+=(ASSAY_SOURCE_PG_HOST ASSAY_SOURCE_PG_PORT ASSAY_SOURCE_PG_USER ASSAY_SOURCE_PG_PASSWORD
            ASSAY_SOURCE_PG_DATABASE
            ASSAY_MYSQL_HOST ASSAY_MYSQL_PORT ASSAY_MYSQL_USER ASSAY_MYSQL_PASSWORD ASSAY_MYSQL_DATABASE)
        # ... and what a test needs to administer them over the unix sockets.
        names+=(ASSAY_SOURCE_PG_ADMIN_URL ASSAY_SOURCE_PG_SOCKET_DIR ASSAY_SOURCE_PGDATA ASSAY_SOURCE_PG_LOG
            ASSAY_MYSQL_ADMIN_SOCKET ASSAY_MYSQL_ROOT_PASSWORD ASSAY_MYSQL_ADMIN_CNF ASSAY_MYSQL_DATADIR
            ASSAY_MYSQL_PID_FILE ASSAY_MYSQL_LOG)
    fi
    names+=(ASSAY_SOURCE_DBS)
    if [[ -n ${SUPERSET_URL:-} ]]; then
        # Superset's address and the account Assay uses there (started by setup_superset, or the caller's).
        names+=(SUPERSET_URL SUPERSET_USERNAME SUPERSET_PASSWORD)
        [[ -n ${ASSAY_SUPERSET_PORT:-} ]] && names+=(ASSAY_SUPERSET_PORT)
        [[ -n ${SUPERSET_DATABASE_URI_HOST:-} ]] && names+=(SUPERSET_DATABASE_URI_HOST)
    fi
    ASSAY_ENV_NAMES="${names[*]}"
    names+=(ASSAY_ENV_NAMES)

    local tmp name
    tmp=$(mktemp "$VAR/.env.XXXXXX")
    {
        printf '# Generated by scripts/%s (scripts/lib/common.sh). Source it: . %s\n' "$ASSAY_PROFILE" "$VAR/env"
        # Single-quoted values: sourceable, and readable by simple parsers (shlex).
        local value q="'"
        for name in "${names[@]}"; do
            value=${!name-}
            printf "export %s='%s'\n" "$name" "${value//$q/$q\\$q$q}"
        done
    } >"$tmp"
    chmod 0600 "$tmp"
    mv -f "$tmp" "$VAR/env"
}

# Runs the assay binary with the instance's environment (and without the superuser's PG*
# variables: the app connects with DATABASE_URL only).
run_with_env() {
    (
        set -a
        # shellcheck source=/dev/null
        . "$VAR/env"
        set +a
        unset PGHOST PGPORT PGUSER PGPASSWORD PGDATABASE
        exec "$@"
    )
}

# ---------------------------------------------------------------------------------------------
# Build, migrate

build() {
    if [[ ${ASSAY_SKIP_BUILD:-0} == 1 ]]; then
        log "build: skipped (ASSAY_SKIP_BUILD=1), using $ASSAY_BIN"
        link_server
        return 0
    fi
    ensure_swift_on_path
    mkdir -p "$ASSAY_LOG_DIR"
    local started=$SECONDS build_log=$ASSAY_LOG_DIR/build.log
    log "build: swift build -c release --build-tests (log: $build_log)"
    if (cd "$REPO" && swift build -c release --build-tests) >"$build_log" 2>&1; then
        log "build: ok in $((SECONDS - started)) s, $(grep -c 'warning:' "$build_log" || true) warning line(s)"
    else
        tail -n 60 "$build_log" >&2
        die "build failed after $((SECONDS - started)) s (full output: $build_log)"
    fi
    link_server
}

# The server binary, .build/release/assay-server: the objects SwiftPM linked into `assay`, linked
# once more with the Swift runtime and Foundation inside the executable (-static-stdlib) instead of
# as 14 shared libraries. Every process of the pool is ~3.5 MB smaller in resident memory (the
# README: Dependencies, "The server binary").
# SwiftPM cannot build that and the tests in one build folder (XCTest has no static build, and
# switching recompiles everything for minutes each way), so this is a second link (~3 s) of the
# same objects: SwiftPM's object list for the product, the pkg-config libraries Package.swift's
# system-library targets name, and static Foundation's own libraries (as a group: they refer to
# one another). Also run under ASSAY_SKIP_BUILD=1 when `assay` is newer, so a server is never
# older than the build. If this link fails, assay-server is a link to `assay` and a warning says so.
ASSAY_STATIC_FOUNDATION_LIBS="Foundation FoundationInternationalization FoundationEssentials _FoundationICU _FoundationCShims _FoundationCollections CoreFoundation swiftSynchronization swiftDispatch dispatch BlocksRuntime"
link_server() {
    local dir=$REPO/.build/release
    local dynamic=$dir/assay server=$dir/assay-server objects=$dir/assay.product/Objects.LinkFileList
    [[ -x $dynamic ]] || return 0
    [[ -x $server && ! -L $server && $server -nt $dynamic ]] && return 0
    ensure_swift_on_path
    local packages libraries=() lib link_log=$ASSAY_LOG_DIR/link-server.log
    mkdir -p "$ASSAY_LOG_DIR"
    packages=$(grep -o 'pkgConfig: "[^"]*"' "$REPO/Package.swift" | cut -d'"' -f2)
    # shellcheck disable=SC2086 # one word per package and per library
    read -ra libraries <<<"$(pkg-config --libs $packages)"
    libraries+=(-Xlinker --start-group)
    for lib in $ASSAY_STATIC_FOUNDATION_LIBS; do libraries+=(-Xlinker "-l$lib"); done
    libraries+=(-Xlinker --end-group)
    rm -f "$server.tmp"
    if [[ -f $objects ]] &&
        swiftc -static-stdlib -emit-executable -module-name assay -g -o "$server.tmp" -L "$dir" "@$objects" \
            -Xlinker --gc-sections -Xlinker --defsym -Xlinker main=FCGIApp_main "${libraries[@]}" >"$link_log" 2>&1 &&
        "$server.tmp" version >>"$link_log" 2>&1; then
        mv -f "$server.tmp" "$server"
        log "build: linked $server (Swift runtime and Foundation inside)"
    else
        rm -f "$server.tmp"
        ln -sfn assay "$server"
        warn "static link of the server failed (log: $link_log); assay-server is the dynamically linked assay"
    fi
}

migrate() {
    [[ -x $ASSAY_BIN ]] || die "$ASSAY_BIN not found: build first"
    log "migrate: $ASSAY_BIN migrate"
    if ! run_with_env "$ASSAY_BIN" migrate >>"$ASSAY_LOG" 2>&1; then
        tail -n 30 "$ASSAY_LOG" >&2
        die "assay migrate failed (log: $ASSAY_LOG)"
    fi
}

# ---------------------------------------------------------------------------------------------
# nginx

# "50m" -> "50 MB" for the 413 message.
human_size() {
    local v=$1
    case $v in
    *[kK]) printf '%s KB' "${v%?}" ;;
    *[mM]) printf '%s MB' "${v%?}" ;;
    *[gG]) printf '%s GB' "${v%?}" ;;
    *) printf '%s bytes' "$v" ;;
    esac
}

# Renders nginx/assay.conf.template into VAR/nginx/nginx.conf. Only the ${NAME} placeholders
# listed here are replaced, so nginx's own $variables pass through untouched; a leftover
# upper-case placeholder is an error.
render_nginx() {
    local template templates=(assay.conf error_pages.conf test_locations.conf)
    for template in "${templates[@]}"; do
        [[ -r $REPO/nginx/$template.template ]] || die "missing $REPO/nginx/$template.template"
    done
    local rate=$ASSAY_RATE_LIMIT
    [[ $rate =~ ^[0-9]+$ ]] && rate="${rate}r/s"
    local user_line="# (no 'user' directive: nginx is not started as root)"
    ((IS_ROOT)) && user_line="user www-data;"
    # Open files per nginx worker: as many as this machine lets us have (the hard limit, which
    # even root cannot pass in a container), up to 65536; connections per worker: half of them
    # (a proxied request holds two).
    local nofile
    nofile=$(ulimit -Hn)
    [[ $nofile == unlimited ]] && nofile=65536
    ((nofile > 65536)) && nofile=65536
    local test_locations="# (none outside the test profile)"
    [[ $ASSAY_PROFILE == test ]] && test_locations="include $(dirname "$ASSAY_NGINX_CONF")/test_locations.conf;"

    local -A values=(
        [NGINX_USER_LINE]=$user_line
        [NGINX_PREFIX]=$ASSAY_NGINX_PREFIX
        [NGINX_CONF_DIR]=$(dirname "$ASSAY_NGINX_CONF")
        [NGINX_PID_FILE]=$NGINX_PID_FILE
        [NGINX_ERROR_LOG]=$ASSAY_LOG_DIR/nginx-error.log
        [NGINX_ACCESS_LOG]=$ASSAY_LOG_DIR/nginx-access.log
        [NGINX_DIR]=$REPO/nginx
        [HTTPS_PORT]=$ASSAY_HTTPS_PORT
        [HTTP_PORT]=$ASSAY_HTTP_PORT
        [ASSAY_SOCKET]=$ASSAY_SOCKET
        [STATIC_DIR]=$REPO/static
        [API_DOCS_DIR]=${ASSAY_API_DOCS_DIR:-$REPO/var/tools/api-docs/$API_DOCS_SIDECAR_VERSION}
        [EXPORTS_DIR]=$ASSAY_EXPORTS_DIR
        [TLS_CERT]=$ASSAY_TLS_CERT
        [TLS_KEY]=$ASSAY_TLS_KEY
        [RATE_LIMIT]=$rate
        [RATE_BURST]=$ASSAY_RATE_BURST
        [MAX_BODY]=$ASSAY_MAX_BODY
        [MAX_BODY_HUMAN]=$(human_size "$ASSAY_MAX_BODY")
        [WORKER_NOFILE]=$nofile
        [WORKER_CONNECTIONS]=$((nofile / 2))
        [CLIENT_HEADER_TIMEOUT]=$ASSAY_CLIENT_HEADER_TIMEOUT
        [CLIENT_BODY_TIMEOUT]=$ASSAY_CLIENT_BODY_TIMEOUT
        [CONNECTIONS_PER_ADDRESS]=$ASSAY_CONNECTIONS_PER_ADDRESS
        [TEST_LOCATIONS]=$test_locations
        [FASTCGI_KEEP_CONN]=$ASSAY_FASTCGI_KEEP_CONN
        [FASTCGI_KEEPALIVE]=$ASSAY_FASTCGI_KEEPALIVE
        [BENCH_UPSTREAMS]=${NGINX_BENCH_UPSTREAMS:-# (none)}
        [BENCH_LOCATIONS]=${NGINX_BENCH_LOCATIONS:-# (none)}
    )
    mkdir -p "$ASSAY_NGINX_PREFIX"
    local text name
    for template in "${templates[@]}"; do
        text=$(<"$REPO/nginx/$template.template")
        for name in "${!values[@]}"; do
            # Quoted replacement: bash 5.2 would otherwise expand '&' in it.
            text=${text//"\${$name}"/"${values[$name]}"}
        done
        if [[ $text =~ \$\{[A-Z_][A-Z0-9_]*\} ]]; then
            die "render_nginx: unknown placeholder ${BASH_REMATCH[0]} in nginx/$template.template"
        fi
        if [[ $template == assay.conf ]]; then
            printf '%s\n' "$text" >"$ASSAY_NGINX_CONF"
        else
            printf '%s\n' "$text" >"$(dirname "$ASSAY_NGINX_CONF")/$template"
        fi
    done
}

nginx_cmd() {
    nginx -p "$ASSAY_NGINX_PREFIX" -c "$ASSAY_NGINX_CONF" -e "$ASSAY_LOG_DIR/nginx-error.log" "$@"
}

start_nginx() {
    local pid
    pid=$(read_pid_file "$NGINX_PID_FILE")
    if [[ -n $pid ]] && pid_matches "$pid" "$ASSAY_NGINX_PREFIX"; then
        log "nginx already running (pid $pid): reloading its configuration"
        nginx_cmd -t -q || die "nginx configuration test failed ($ASSAY_NGINX_CONF)"
        nginx_cmd -s reload
        return 0
    fi
    rm -f "$NGINX_PID_FILE"
    nginx_cmd -t -q || die "nginx configuration test failed ($ASSAY_NGINX_CONF)"
    without_lock nginx_cmd || { show_log_tails; die "nginx did not start"; }
    log "nginx: https://127.0.0.1:$ASSAY_HTTPS_PORT and http://127.0.0.1:$ASSAY_HTTP_PORT (pid $(read_pid_file "$NGINX_PID_FILE"))"
}

# ---------------------------------------------------------------------------------------------
# assay serve

# Starts `assay serve` in the background (own session: a Ctrl-C in the terminal doesn't reach
# it; scripts stop it with SIGTERM). Sets ASSAY_PID. Must be called in the main shell (not in
# $(...)) so that the caller can `wait` for it.
start_assay() {
    [[ -x $ASSAY_BIN ]] || die "$ASSAY_BIN not found: build first"
    local pid
    pid=$(read_pid_file "$ASSAY_PID_FILE")
    if [[ -n $pid ]] && pid_matches "$pid" assay; then
        die "assay is already running (pid $pid, $ASSAY_PID_FILE): scripts/stop first"
    fi
    rm -f "$ASSAY_PID_FILE"
    printf '\n' >>"$ASSAY_LOG"
    # One subshell (no function call in between) so that $! is the pid that becomes assay:
    # the subshell execs setsid, which execs assay without forking (we are no group leader).
    (
        set -a
        # shellcheck source=/dev/null
        . "$VAR/env"
        set +a
        unset PGHOST PGPORT PGUSER PGPASSWORD PGDATABASE
        if [[ -n ${ASSAY_LOCK_FD:-} ]]; then exec {ASSAY_LOCK_FD}>&-; fi
        exec setsid "$ASSAY_BIN" serve
    ) </dev/null >>"$ASSAY_LOG" 2>&1 &
    ASSAY_PID=$!
    # The master writes the same pid itself; writing it now lets scripts/stop find a master
    # that dies before it got that far.
    printf '%s\n' "$ASSAY_PID" >"$ASSAY_PID_FILE"
    log "assay serve: pid $ASSAY_PID, $ASSAY_WORKERS worker(s), socket $ASSAY_SOCKET, log $ASSAY_LOG"
}

# Polls https://127.0.0.1:PORT/health until it answers 200. On timeout (or when assay/nginx
# died) prints the log tails and returns 1.
wait_healthy() {
    local timeout=${ASSAY_HEALTH_TIMEOUT:-60} started=$SECONDS code pid
    while :; do
        code=$(curl -sk -o /dev/null -w '%{http_code}' --max-time 5 "https://127.0.0.1:$ASSAY_HTTPS_PORT/health" || true)
        if [[ $code == 200 ]]; then
            log "healthy after $((SECONDS - started)) s"
            return 0
        fi
        pid=$(read_pid_file "$ASSAY_PID_FILE")
        if [[ -z $pid ]] || ! pid_alive "$pid"; then
            warn "assay serve is not running (last /health answer: ${code:-none})"
            show_log_tails
            return 1
        fi
        if ((SECONDS - started >= timeout)); then
            warn "not healthy after $timeout s (last /health answer: ${code:-none})"
            show_log_tails
            return 1
        fi
        sleep 0.3
    done
}

# ---------------------------------------------------------------------------------------------
# Stopping (idempotent; safe when nothing runs; handles stale pid files)

# Reads NAME from VAR/env without touching the caller's variables.
env_file_value() {
    [[ -r $VAR/env ]] || return 0
    (
        # shellcheck source=/dev/null
        . "$VAR/env" >/dev/null 2>&1
        printf '%s' "${!1-}"
    )
}

stop_nginx() {
    local pid
    pid=$(read_pid_file "$NGINX_PID_FILE")
    if [[ -n $pid ]] && pid_matches "$pid" "$ASSAY_NGINX_PREFIX"; then
        log "stopping nginx (pid $pid)"
        kill -QUIT "$pid" 2>/dev/null || true # graceful: finish requests in flight
        if ! wait_for_exit "$pid" 10; then
            kill -TERM "$pid" 2>/dev/null || true # fast shutdown
            wait_for_exit "$pid" 5 || kill -KILL "$pid" 2>/dev/null || true
        fi
    fi
    rm -f "$NGINX_PID_FILE"
}

stop_assay() {
    local pid timeout
    pid=$(read_pid_file "$ASSAY_PID_FILE")
    if [[ -n $pid ]] && pid_matches "$pid" assay; then
        timeout=$(env_file_value ASSAY_SHUTDOWN_TIMEOUT)
        [[ $timeout =~ ^[0-9]+$ ]] || timeout=10
        log "stopping assay serve (pid $pid, up to $((timeout + 5)) s)"
        kill -TERM "$pid" 2>/dev/null || true
        if ! wait_for_exit "$pid" $((timeout + 5)); then
            warn "assay (pid $pid) ignored SIGTERM for $((timeout + 5)) s: killing it and its workers"
            local child
            for child in $(pgrep -P "$pid" || true); do
                kill -KILL "$child" 2>/dev/null || true
            done
            kill -KILL "$pid" 2>/dev/null || true
        fi
        # Reap it if it is our own child (scripts/run in the foreground).
        wait "$pid" 2>/dev/null || true
    fi
    rm -f "$ASSAY_PID_FILE"
    # The socket of a stopped master is stale.
    [[ -S $ASSAY_SOCKET ]] && rm -f "$ASSAY_SOCKET"
    return 0
}

# Stops the private cluster of this VAR, if one is running (an external DATABASE_URL is never
# touched: it has no postmaster.pid under VAR).
stop_private_pg() {
    [[ -f $PGDATA/postmaster.pid ]] || return 0
    [[ -n ${PG_BINDIR:-} ]] || pg_detect
    if pg_is_running; then
        log "stopping PostgreSQL ($PGDATA)"
        pg_as_owner "$PG_BINDIR/pg_ctl" -D "$PGDATA" -m fast -w -t 60 stop >/dev/null
    fi
}

# nginx first (no new requests), then assay (drains its workers), then PostgreSQL, then the
# source databases.
stop_all() {
    stop_nginx
    stop_assay
    stop_superset
    stop_private_pg
    stop_source_databases
}

# Is anything of this VAR running?
instance_running() {
    local pid
    pid=$(read_pid_file "$NGINX_PID_FILE")
    [[ -n $pid ]] && pid_matches "$pid" "$ASSAY_NGINX_PREFIX" && return 0
    pid=$(read_pid_file "$ASSAY_PID_FILE")
    [[ -n $pid ]] && pid_matches "$pid" assay && return 0
    [[ -f $PGDATA/postmaster.pid ]] && return 0
    source_databases_running && return 0
    [[ -n $(superset_pid) ]] && return 0
    return 1
}

# ---------------------------------------------------------------------------------------------
# Everything up to a healthy instance (shared by run, test and bench); `build` comes first,
# separately. Exits (die) when a step fails.

bring_up() {
    ensure_secrets
    ensure_tls
    make_dirs
    setup_database
    setup_source_databases
    setup_superset
    write_env
    migrate
    ensure_api_docs
    render_nginx
    start_assay
    start_nginx
    wait_healthy || die "the instance in $VAR did not become healthy"
}

# The Superset the integration tests use (and scripts/run with ASSAY_SUPERSET=1).
# shellcheck source=scripts/lib/superset.sh
. "$REPO/scripts/lib/superset.sh"
