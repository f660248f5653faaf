# shellcheck shell=bash
# shellcheck disable=SC2034 # many variables are read indirectly (write_env uses ${!name})
# scripts/lib/common.sh: shared functions for scripts/run, scripts/test, scripts/bench and
# scripts/stop. Source it; don't run it. Callers have `set -euo pipefail` on.
#
# Everything works inside one "var dir" VAR (run: var/, test: var/test, bench: var/bench):
#
#   VAR/pg/data             private PostgreSQL cluster (owned by `postgres` when we run as root)
#   VAR/pg/run              its unix socket directory (TCP is off)
#   VAR/secrets/            0700: pg_password, jwt_secret, encryption_key (made once, never replaced)
#   VAR/run/                assay.sock, assay.pid, nginx.pid
#   VAR/log/                assay.log, postgres.log, nginx-error.log, nginx-access.log, build.log
#   VAR/nginx/              rendered nginx.conf, tls/{cert,key}.pem, tmp/ (nginx temp dirs)
#   VAR/uploads/, VAR/exports/
#   VAR/bin/pg_ctl          pg_ctl wrapper that runs as the cluster owner (see write_pg_ctl_wrapper)
#   VAR/env                 `export NAME=value` lines: everything a tool or test needs (see write_env)
#
#   VAR/.lock               held by a running scripts/run|test|bench (see lock_var)
#
# A caller does, in short (scripts/test):
#   assay_profile test      VAR, ports, defaults (forgets a sourced VAR/env first)
#   lock_var wait           one script per VAR at a time
#   ensure_packages         Debian packages
#   reset_instance_state    (test/bench only) fresh cluster, empty logs
#   build                   swift build -c release --build-tests
#   bring_up                secrets, TLS, dirs, PostgreSQL, VAR/env, migrate, nginx.conf,
#                           assay serve, nginx, wait for /health
#   ...                     stop_all at the end (trap)

# Debian packages the project needs to build and run. ONE list: later work appends here.
# (procps gives pgrep, used to find the FastCGI workers; openssl/curl are used by these scripts.)
ASSAY_DEB_PACKAGES="libfcgi-dev libpq-dev libargon2-dev libcurl4-openssl-dev libpoppler-glib-dev libcairo2-dev libtesseract-dev tesseract-ocr-eng pkg-config nginx postgresql openssl curl wrk procps tesseract-ocr-osd"

# The integration tests are pytest + requests. These Debian packages are installed only when no
# usable interpreter already has both modules (see ensure_python_test_env): this machine's pyenv
# python3 has them from pip, a fresh Debian has neither.
ASSAY_PY_TEST_DEB_PACKAGES="python3-pytest python3-requests"

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
        PG_FAST=0 # keep fsync on: this is the instance whose data matters
        ;;
    test)
        VAR=$REPO/var/test
        ASSAY_HTTPS_PORT=18443
        ASSAY_HTTP_PORT=18080
        ASSAY_PG_PORT=15432
        ASSAY_RATE_LIMIT=${ASSAY_RATE_LIMIT:-2000} # high: tests fire many requests quickly
        ASSAY_RATE_BURST=${ASSAY_RATE_BURST:-4000}
        ASSAY_WORKERS=${ASSAY_WORKERS:-3}
        ASSAY_MAX_REQUESTS=${ASSAY_MAX_REQUESTS:-10000}
        ASSAY_TEST_ROUTES=1
        PG_FAST=1
        ;;
    bench)
        VAR=$REPO/var/bench
        ASSAY_HTTPS_PORT=28443
        ASSAY_HTTP_PORT=28080
        ASSAY_PG_PORT=25432
        ASSAY_RATE_LIMIT=${ASSAY_RATE_LIMIT:-1000000} # effectively off
        ASSAY_RATE_BURST=${ASSAY_RATE_BURST:-1000000}
        ASSAY_WORKERS=${ASSAY_WORKERS:-4}
        # Very high so that recycling workers can't hide a memory leak from the RSS check.
        ASSAY_MAX_REQUESTS=${ASSAY_MAX_REQUESTS:-100000000}
        ASSAY_TEST_ROUTES=${ASSAY_TEST_ROUTES:-0}
        PG_FAST=1
        ;;
    *) die "unknown profile '$ASSAY_PROFILE' (run, test or bench)" ;;
    esac
    ASSAY_REQUEST_TIMEOUT=${ASSAY_REQUEST_TIMEOUT:-60}    # overridable; a stuck worker is killed after it
    ASSAY_SHUTDOWN_TIMEOUT=${ASSAY_SHUTDOWN_TIMEOUT:-10}  # overridable
    ASSAY_SOCKET_MODE=${ASSAY_SOCKET_MODE:-0660}          # overridable
    ASSAY_MAX_BODY=${ASSAY_MAX_BODY:-50m}                 # overridable; nginx size syntax
    ASSAY_BIN=${ASSAY_BIN:-$REPO/.build/release/assay}    # overridable
    # The nginx workers (www-data when we are root) must reach the FastCGI socket.
    if ((IS_ROOT)); then
        ASSAY_SOCKET_GROUP=${ASSAY_SOCKET_GROUP:-www-data}
    else
        ASSAY_SOCKET_GROUP=${ASSAY_SOCKET_GROUP:-}
    fi
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

# Sets PYTHON to an interpreter that can import pytest and requests. Choice: the first python3
# on PATH if it already has both (a developer's pyenv/venv), else Debian's /usr/bin/python3 with
# python3-pytest + python3-requests from apt. apt rather than pip: no PEP 668 "externally
# managed" refusal, no PyPI access needed, and the versions match the distribution.
ensure_python_test_env() {
    local candidate
    for candidate in "$(command -v python3 || true)" /usr/bin/python3; do
        [[ -n $candidate && -x $candidate ]] || continue
        if "$candidate" -c 'import pytest, requests' 2>/dev/null; then
            PYTHON=$candidate
            return 0
        fi
    done
    # shellcheck disable=SC2086 # word splitting of the package list is intended
    ensure_packages python3 $ASSAY_PY_TEST_DEB_PACKAGES
    /usr/bin/python3 -c 'import pytest, requests' || die "pytest/requests still missing for /usr/bin/python3"
    PYTHON=/usr/bin/python3
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
        "$ASSAY_NGINX_PREFIX/tls" "$ASSAY_NGINX_PREFIX/tmp" "$VAR/bin" "$(dirname "$ASSAY_SOCKET")"
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
    for name in jwt_secret encryption_key pg_password; do
        [[ -s $ASSAY_SECRETS_DIR/$name ]] && continue
        (
            umask 077
            case $name in
            jwt_secret) openssl rand -base64 48 ;;     # HS256 key: 48 random bytes
            encryption_key) openssl rand -base64 32 ;; # exactly 32 bytes (AES-256)
            pg_password) openssl rand -hex 24 ;;       # hex: safe in URLs and SQL literals
            esac | tr -d '\n' >"$ASSAY_SECRETS_DIR/$name"
        )
        made+=("$name")
    done
    chmod 0600 "$ASSAY_SECRETS_DIR"/*
    ((${#made[@]} == 0)) || log "created secrets in $ASSAY_SECRETS_DIR: ${made[*]}"
    JWT_SECRET_KEY=$(<"$ASSAY_SECRETS_DIR/jwt_secret")
    ENCRYPTION_KEY=$(<"$ASSAY_SECRETS_DIR/encryption_key")
    PG_PASSWORD=$(<"$ASSAY_SECRETS_DIR/pg_password")
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
        local pwfile
        pwfile=$(mktemp "$VAR/pg/.pwfile.XXXXXX")
        printf '%s\n' "$PG_PASSWORD" >"$pwfile"
        ((IS_ROOT)) && chown postgres:postgres "$pwfile"
        if ! pg_as_owner "$PG_BINDIR/initdb" -D "$PGDATA" -U postgres --pwfile="$pwfile" \
            --auth-local=scram-sha-256 --auth-host=reject -E UTF8 --locale=C.UTF-8 \
            >"$ASSAY_LOG_DIR/initdb.log" 2>&1; then
            rm -f "$pwfile"
            cat "$ASSAY_LOG_DIR/initdb.log" >&2
            die "initdb failed"
        fi
        rm -f "$pwfile"
        printf "\ninclude 'assay.conf'\n" >>"$PGDATA/postgresql.conf"
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
ALTER ROLE assay WITH LOGIN CREATEDB NOSUPERUSER PASSWORD '$PG_PASSWORD';
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

# A clean slate for scripts/test and scripts/bench: stop a leftover instance, fresh cluster
# (~1-2 s, so every run is reproducible), empty uploads/exports, fresh logs. Secrets and the
# TLS certificate are kept.
reset_instance_state() {
    stop_all
    wipe_private_pg
    local dir f
    for dir in "$ASSAY_UPLOADS_DIR" "$ASSAY_EXPORTS_DIR"; do
        if [[ -d $dir ]]; then find "$dir" -mindepth 1 -delete; fi
    done
    for f in "$ASSAY_LOG_DIR"/*.log "$ASSAY_LOG_DIR"/*.txt; do
        if [[ -f $f ]]; then : >"$f"; fi
    done
}

# ---------------------------------------------------------------------------------------------
# VAR/env

# Writes VAR/env: `export NAME=value` for everything a tool or test needs to reach this instance.
# Mode 0600: it holds secrets.
write_env() {
    ASSAY_BASE_URL=https://127.0.0.1:$ASSAY_HTTPS_PORT
    ASSAY_HTTP_URL=http://127.0.0.1:$ASSAY_HTTP_PORT
    ASSAY_REPO=$REPO
    ASSAY_STATIC_DIR=$REPO/static
    ASSAY_ENV_FILE=$VAR/env
    local names=(
        ASSAY_PROFILE ASSAY_REPO ASSAY_VAR_DIR ASSAY_BIN ASSAY_ENV_FILE
        ASSAY_BASE_URL ASSAY_HTTP_URL ASSAY_HTTPS_PORT ASSAY_HTTP_PORT ASSAY_TLS_CERT ASSAY_TLS_KEY
        DATABASE_URL ASSAY_SOCKET ASSAY_SOCKET_MODE ASSAY_SOCKET_GROUP ASSAY_PID_FILE
        ASSAY_WORKERS ASSAY_MAX_REQUESTS ASSAY_REQUEST_TIMEOUT ASSAY_SHUTDOWN_TIMEOUT ASSAY_TEST_ROUTES
        JWT_SECRET_KEY ENCRYPTION_KEY ASSAY_UPLOADS_DIR ASSAY_EXPORTS_DIR ASSAY_STATIC_DIR
        ASSAY_RATE_LIMIT ASSAY_RATE_BURST ASSAY_MAX_BODY
        ASSAY_LOG_DIR ASSAY_LOG ASSAY_NGINX_PREFIX ASSAY_NGINX_CONF NGINX_PID_FILE
        ASSAY_PRIVATE_PG
    )
    if ((ASSAY_PRIVATE_PG)); then
        names+=(PGHOST PGPORT PGUSER PGPASSWORD PGDATABASE PGDATA PG_CTL PG_BINDIR ASSAY_PG_LOG
            ASSAY_PG_PORT ASSAY_PG_SOCKET_DIR)
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
    local template=$REPO/nginx/assay.conf.template
    [[ -r $template ]] || die "missing $template"
    local rate=$ASSAY_RATE_LIMIT
    [[ $rate =~ ^[0-9]+$ ]] && rate="${rate}r/s"
    local user_line="# (no 'user' directive: nginx is not started as root)"
    ((IS_ROOT)) && user_line="user www-data;"

    local -A values=(
        [NGINX_USER_LINE]=$user_line
        [NGINX_PREFIX]=$ASSAY_NGINX_PREFIX
        [NGINX_PID_FILE]=$NGINX_PID_FILE
        [NGINX_ERROR_LOG]=$ASSAY_LOG_DIR/nginx-error.log
        [NGINX_ACCESS_LOG]=$ASSAY_LOG_DIR/nginx-access.log
        [NGINX_DIR]=$REPO/nginx
        [HTTPS_PORT]=$ASSAY_HTTPS_PORT
        [HTTP_PORT]=$ASSAY_HTTP_PORT
        [ASSAY_SOCKET]=$ASSAY_SOCKET
        [STATIC_DIR]=$REPO/static
        [EXPORTS_DIR]=$ASSAY_EXPORTS_DIR
        [TLS_CERT]=$ASSAY_TLS_CERT
        [TLS_KEY]=$ASSAY_TLS_KEY
        [RATE_LIMIT]=$rate
        [RATE_BURST]=$ASSAY_RATE_BURST
        [MAX_BODY]=$ASSAY_MAX_BODY
        [MAX_BODY_HUMAN]=$(human_size "$ASSAY_MAX_BODY")
    )
    local text name
    text=$(<"$template")
    for name in "${!values[@]}"; do
        # Quoted replacement: bash 5.2 would otherwise expand '&' in it.
        text=${text//"\${$name}"/"${values[$name]}"}
    done
    if [[ $text =~ \$\{[A-Z_][A-Z0-9_]*\} ]]; then
        die "render_nginx: unknown placeholder ${BASH_REMATCH[0]} in $template"
    fi
    mkdir -p "$ASSAY_NGINX_PREFIX"
    printf '%s\n' "$text" >"$ASSAY_NGINX_CONF"
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

# nginx first (no new requests), then assay (drains its workers), then PostgreSQL.
stop_all() {
    stop_nginx
    stop_assay
    stop_private_pg
}

# Is anything of this VAR running?
instance_running() {
    local pid
    pid=$(read_pid_file "$NGINX_PID_FILE")
    [[ -n $pid ]] && pid_matches "$pid" "$ASSAY_NGINX_PREFIX" && return 0
    pid=$(read_pid_file "$ASSAY_PID_FILE")
    [[ -n $pid ]] && pid_matches "$pid" assay && return 0
    [[ -f $PGDATA/postmaster.pid ]] && return 0
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
    write_env
    migrate
    render_nginx
    start_assay
    start_nginx
    wait_healthy || die "the instance in $VAR did not become healthy"
}
