# shellcheck shell=bash
# scripts/lib/peers.sh: the reference stacks of `scripts/bench --peers` (sourced by scripts/bench
# after common.sh). Flask/gunicorn and FastAPI/uvicorn from ../shared/peers, each as its README
# says, on loopback behind the benchmark's nginx.

PEERS_DIR=${BENCH_PEERS_DIR:-$REPO/../shared/peers}
PEERS_VENV=$VAR/peers-venv
FLASK_PORT=${BENCH_FLASK_PORT:-28101}
FASTAPI_PORT=${BENCH_FASTAPI_PORT:-28102}
FLASK_PID="" FASTAPI_PID=""

# The venv with the pinned versions of requirements.txt, made again when that file changes.
ensure_peers_venv() {
    local stamp=$PEERS_VENV/.requirements.sha256 want
    want=$(sha256sum "$PEERS_DIR/requirements.txt" | cut -d' ' -f1)
    if [[ -x $PEERS_VENV/bin/python && $(cat "$stamp" 2>/dev/null) == "$want" ]]; then return 0; fi
    log "peers: venv $PEERS_VENV with $PEERS_DIR/requirements.txt"
    rm -rf "$PEERS_VENV"
    python3 -m venv "$PEERS_VENV" || die "could not make the peers' venv"
    "$PEERS_VENV/bin/pip" install -q -r "$PEERS_DIR/requirements.txt" || die "could not install the peers' requirements"
    printf '%s\n' "$want" >"$stamp"
}

# Before bring_up: the venv, the ports, and nginx's upstreams and locations for the peers
# (render_nginx puts them in).
prepare_peers() {
    [[ -r $PEERS_DIR/requirements.txt ]] || die "no reference stacks in $PEERS_DIR (set BENCH_PEERS_DIR)"
    ensure_peers_venv
    local port
    for port in "$FLASK_PORT" "$FASTAPI_PORT"; do
        if (echo >"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then die "port $port is taken (BENCH_FLASK_PORT / BENCH_FASTAPI_PORT)"; fi
    done
    local name
    NGINX_BENCH_UPSTREAMS="" NGINX_BENCH_LOCATIONS=""
    for name in flask fastapi; do
        [[ $name == flask ]] && port=$FLASK_PORT || port=$FASTAPI_PORT
        NGINX_BENCH_UPSTREAMS+="upstream peers_$name { server 127.0.0.1:$port; keepalive 32; }
    "
        # shellcheck disable=SC2089 # nginx configuration text: its quotes are meant literally
        NGINX_BENCH_LOCATIONS+="location /_peers/$name/ {
            proxy_pass http://peers_$name/;
            proxy_http_version 1.1;
            proxy_set_header Connection \"\";
        }
        "
    done
    # shellcheck disable=SC2090 # render_nginx pastes the text as it is
    export NGINX_BENCH_UPSTREAMS NGINX_BENCH_LOCATIONS
}

# After bring_up: the peers' database seeded, both apps started and answering.
start_peers() {
    PEERS_PG_DSN=$(run_with_env python3 scripts/lib/bench_peers.py seed) || die "seeding the peers' database failed"
    PEERS_JWT_SECRET=$(head -c 48 /dev/urandom | base64 | tr -d '/+=\n' | head -c 48)
    export PEERS_PG_DSN PEERS_JWT_SECRET
    (
        cd "$PEERS_DIR/apps" || exit 1
        exec setsid "$PEERS_VENV/bin/gunicorn" -w 4 -b "127.0.0.1:$FLASK_PORT" app_flask:app
    ) </dev/null >"$ASSAY_LOG_DIR/peers-flask.log" 2>&1 &
    FLASK_PID=$!
    (
        cd "$PEERS_DIR/apps" || exit 1
        exec setsid "$PEERS_VENV/bin/uvicorn" app_fastapi:app --workers 4 --port "$FASTAPI_PORT"
    ) </dev/null >"$ASSAY_LOG_DIR/peers-fastapi.log" 2>&1 &
    FASTAPI_PID=$!
    local name port tries
    for name in flask fastapi; do
        [[ $name == flask ]] && port=$FLASK_PORT || port=$FASTAPI_PORT
        tries=0
        until [[ $(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://127.0.0.1:$port/api/version") == 200 ]]; do
            (((tries += 1) > 100)) && { tail -n 20 "$ASSAY_LOG_DIR/peers-$name.log" >&2; die "peers: $name did not start"; }
            sleep 0.2
        done
    done
    log "peers: Flask (gunicorn, pid $FLASK_PID) on $FLASK_PORT, FastAPI (uvicorn, pid $FASTAPI_PID) on $FASTAPI_PORT"
}

stop_peers() {
    local pid
    for pid in $FLASK_PID $FASTAPI_PID; do
        kill -TERM "$pid" 2>/dev/null || continue
        wait_for_exit "$pid" 10 || kill -KILL "$pid" 2>/dev/null || true
    done
    FLASK_PID="" FASTAPI_PID=""
}

# The pids of ROOT and all its descendants.
process_tree() {
    local pending=("$@") pid children
    while ((${#pending[@]})); do
        pid=${pending[0]}
        pending=("${pending[@]:1}")
        [[ -n $pid && -d /proc/$pid ]] || continue
        printf '%s\n' "$pid"
        children=$(pgrep -P "$pid" || true)
        # shellcheck disable=SC2206 # word splitting wanted
        [[ -n $children ]] && pending+=($children)
    done
}

# Clock ticks of user+system time used so far by the trees of the given roots.
cpu_ticks() {
    local pid sum=0 stat
    for pid in $(process_tree "$@"); do
        stat=$(cat "/proc/$pid/stat" 2>/dev/null) || continue
        stat=${stat##*) } # fields after the command name (which may hold spaces)
        # shellcheck disable=SC2086
        set -- $stat
        sum=$((sum + ${12} + ${13})) # utime, stime (fields 14 and 15 of the whole line)
    done
    printf '%s' "$sum"
}

# Clock ticks the whole machine spent busy so far (all CPUs: user, nice, system, irq, softirq,
# steal), from /proc/stat: with the stacks' own ticks it tells what nginx, wrk and the kernel
# cost per request, which bounds any stack's throughput on this machine.
machine_busy_ticks() {
    local user nice system irq softirq steal
    read -r _ user nice system _ _ irq softirq steal _ </proc/stat
    printf '%s' $((user + nice + system + irq + softirq + steal))
}

postmaster_pid() { [[ -r $1/postmaster.pid ]] && head -n 1 "$1/postmaster.pid"; }

# VmRSS (or, with $1 = pss, the proportional set size) in kB of each process of a tree as
# "pid":kb JSON members; $2 filters command lines (arguments joined by spaces).
tree_rss_json() {
    local measure=$1 filter=$2 pid kb out=""
    shift 2
    for pid in $(process_tree "$@"); do
        [[ -z $filter ]] || [[ " $(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)" == *"$filter"* ]] || continue
        if [[ $measure == pss ]]; then
            kb=$(awk '/^Pss:/ {print $2}' "/proc/$pid/smaps_rollup" 2>/dev/null || true)
        else
            kb=$(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status" 2>/dev/null || true)
        fi
        [[ -n $kb ]] && out+="${out:+,}\"$pid\":$kb"
    done
    printf '{%s}' "$out"
}

# The comparison itself (needs wrk_run and json_num from scripts/bench).
run_peers() {
    start_peers
    local setup
    setup=$(PEERS_JWT_SECRET=$PEERS_JWT_SECRET run_with_env python3 scripts/lib/bench_peers.py setup) || die "the peers' set-up in Assay failed"
    local ASSAY_KEY="" ETL_TABLE="" CSV_TABLE="" PEER_JWT=""
    eval "$(grep -E '^(ASSAY_KEY|ETL_TABLE|CSV_TABLE|PEER_JWT)=[A-Za-z0-9._-]+$' <<<"$setup")"
    [[ -n $ASSAY_KEY && -n $ETL_TABLE && -n $CSV_TABLE && -n $PEER_JWT ]] || die "the peers' set-up printed: $setup"
    log "Assay: ETL'd table $ETL_TABLE, uploaded CSV table $CSV_TABLE"

    local master assay_pg source_pg nginx_pid tck
    master=$(read_pid_file "$ASSAY_PID_FILE")
    assay_pg=$(postmaster_pid "$PGDATA")
    source_pg=$(postmaster_pid "$(env_file_value ASSAY_SOURCE_PGDATA)")
    nginx_pid=$(read_pid_file "$NGINX_PID_FILE")
    tck=$(getconf CLK_TCK)

    # route stack path header roots...
    local plan=(
        "version|flask|/_peers/flask/api/version||$FLASK_PID"
        "version|fastapi|/_peers/fastapi/api/version||$FASTAPI_PID"
        "version|assay|/api/version||$master $assay_pg"
        "me|flask|/_peers/flask/api/me|Authorization: Bearer $PEER_JWT|$FLASK_PID $source_pg"
        "me|fastapi|/_peers/fastapi/api/me|Authorization: Bearer $PEER_JWT|$FASTAPI_PID $source_pg"
        "me|assay|/api/auth/me|X-API-Key: $ASSAY_KEY|$master $assay_pg"
        "rows|flask|/_peers/flask/api/tables/1/rows?limit=100||$FLASK_PID $source_pg"
        "rows|fastapi|/_peers/fastapi/api/tables/1/rows?limit=100||$FASTAPI_PID $source_pg"
        "rows|assay (ETL)|/api/tables/$ETL_TABLE/rows?limit=100|X-API-Key: $ASSAY_KEY|$master $assay_pg"
        "rows|assay (CSV)|/api/tables/$CSV_TABLE/rows?limit=100|X-API-Key: $ASSAY_KEY|$master $assay_pg"
    )
    local entry route stack path header roots
    log "peers: warm-up (1,000 requests per route and stack, each answer checked)"
    for entry in "${plan[@]}"; do
        IFS='|' read -r route stack path header roots <<<"$entry"
        local code
        code=$(curl -sk -o "$VAR/peers-sample.json" -w '%{http_code}' ${header:+-H "$header"} "$BASE$path")
        [[ $code == 200 ]] || die "$stack $path answered $code: $(head -c 300 "$VAR/peers-sample.json")"
        WRK_HEADER=$header wrk_run "peers-warm-up" "$path" "$(per_thread 1000)" >/dev/null
    done

    local reps=${BENCH_PEERS_REPETITIONS:-3} rep runs="" r before after machine web
    for ((rep = 1; rep <= reps; rep++)); do
        log "peers: repetition $rep of $reps"
        machine=$(machine_busy_ticks) web=$(cpu_ticks "$nginx_pid")
        r=$(wrk_run "peers-static-$rep" /_nginx/static)
        machine=$(($(machine_busy_ticks) - machine)) web=$(($(cpu_ticks "$nginx_pid") - web))
        runs+="${runs:+,}{\"route\":\"static\",\"stack\":\"nginx\",\"repetition\":$rep,$(peers_fields "$r" "$web" "$web" "$machine" "$tck")}"
        for entry in "${plan[@]}"; do
            IFS='|' read -r route stack path header roots <<<"$entry"
            # shellcheck disable=SC2086 # roots is a list of pids
            before=$(cpu_ticks $roots) machine=$(machine_busy_ticks) web=$(cpu_ticks "$nginx_pid")
            r=$(WRK_HEADER=$header wrk_run "peers-$route-${stack//[^a-zA-Z]/}-$rep" "$path")
            # shellcheck disable=SC2086
            after=$(cpu_ticks $roots)
            machine=$(($(machine_busy_ticks) - machine)) web=$(($(cpu_ticks "$nginx_pid") - web))
            log "  $route $stack: $(json_num "$r" rps) req/s, p99 $(json_num "$r" p99_ms) ms, non-2xx $(json_num "$r" non_2xx)"
            runs+=",{\"route\":\"$route\",\"stack\":\"$stack\",\"repetition\":$rep,$(peers_fields "$r" $((after - before)) "$web" "$machine" "$tck")}"
        done
    done
    local memory
    memory="{\"assay workers\":$(tree_rss_json rss ' worker --slot ' "$master")"
    memory+=",\"assay workers (PSS)\":$(tree_rss_json pss ' worker --slot ' "$master")"
    memory+=",\"assay job workers\":$(tree_rss_json rss ' job-worker ' "$master")"
    memory+=",\"flask\":$(tree_rss_json rss '' "$FLASK_PID"),\"fastapi\":$(tree_rss_json rss '' "$FASTAPI_PID")}"
    printf '%s\n' "{\"threads\":$THREADS,\"connections\":$CONNECTIONS,\"duration\":\"$DURATION\",\"repetitions\":$reps,\"results\":\"$VAR/results-peers.json\",\"memory\":$memory,\"runs\":[$runs]}" >"$VAR/peers-runs.json"
    python3 scripts/lib/bench_peers.py summarize <"$VAR/peers-runs.json" |
        tee "$VAR/peers-table.txt"
    log "results: $VAR/results-peers.json"
    grep -q 'peers: PASS' "$VAR/peers-table.txt"
}

# "rps":…,"p99_ms":…,… of one wrk result, with the CPU ms per response of the stack (TICKS), of
# nginx (NGINX_TICKS) and of the whole machine (MACHINE_TICKS).
peers_fields() {
    local r=$1 ticks=$2 nginx_ticks=$3 machine_ticks=$4 tck=$5 responses
    responses=$(json_num "$r" responses)
    printf '"rps":%s,"p99_ms":%s,"responses":%s,"non_2xx":%s,"socket_errors":%s,"cpu_ms":%s,"nginx_cpu_ms":%s,"machine_cpu_ms":%s' \
        "$(json_num "$r" rps)" "$(json_num "$r" p99_ms)" "$responses" "$(json_num "$r" non_2xx)" \
        "$(json_num "$r" socket_errors)" "$(ms_per_response "$ticks" "$tck" "$responses")" \
        "$(ms_per_response "$nginx_ticks" "$tck" "$responses")" "$(ms_per_response "$machine_ticks" "$tck" "$responses")"
}

ms_per_response() {
    awk -v t="$1" -v hz="$2" -v n="$3" 'BEGIN { printf "%.4f", (n > 0 ? t * 1000 / hz / n : 0) }'
}
