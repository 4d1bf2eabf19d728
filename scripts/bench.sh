#!/usr/bin/env bash
# Benchmarks the bridge against Pebble, side by side (docs/performance.md, "How to run
# scripts/bench.sh").
#
# For every concurrency and repeat it runs the load generator (examples/loadgen.rs) once against a
# fresh bridge process (zero-setup mode: SCM sandbox in-process, a fresh PostgreSQL database per
# run) and once against a fresh Pebble process, alternately, records each server's CPU time and peak
# RSS, and prints one table (also written to OUT/table.md, next to each run's JSON report).
#
# Loopback only. Every process it starts is stopped on exit.
#
# Options (flag or environment variable):
#   --quick            BENCH_QUICK=1           smoke run: 100 orders (30 at C=1), C = 1 8 64, 1 repeat
#   --http01           BENCH_MODE=http01       real http-01 validation for both servers (see below)
#   --orders N         BENCH_ORDERS=1000       orders per run
#   --orders-c1 N      BENCH_ORDERS_C1=200     orders per run at concurrency 1
#   --warmup N         BENCH_WARMUP=100        orders run first in every run and left out of the
#                        figures (quick: 20); per-order CPU, transactions and SCM calls count them
#   --concurrency "L"  BENCH_CONCURRENCY="1 4 8 32 64 256"   (spaces or commas)
#   --repeats N        BENCH_REPEATS=3
#   --max-seconds T    BENCH_MAX_SECONDS=60    bound on one load-generator run (loadgen --max-seconds)
#   --accounts A       BENCH_ACCOUNTS=4        ACME accounts per run
#   --servers "L"      BENCH_SERVERS="bridge-sqlite bridge pebble"   any of bridge-sqlite (the
#                        zero-setup default store: a fresh SQLite file per run), bridge (PostgreSQL)
#                        and pebble, run alternately for each concurrency and repeat
#   --out DIR          BENCH_OUT=target/bench/<timestamp>
#                      BENCH_POLL_MIN_MS=1, BENCH_POLL_MAX_MS=10   the load generator's polls of
#                        processing orders and validating authorizations, the same rule for every
#                        server: the first after MIN, each next twice as long, at most MAX; a
#                        Retry-After asking for longer is honoured up to MAX (1, 2, 4, 8, 10, 10 ms…
#                        by default). A real client may poll so; MIN=MAX gives a fixed interval, and
#                        MAX=1000 is closer to what clients do (then client sleep dominates).
#                      BENCH_PG_STATEMENTS=1   own PostgreSQL cluster with pg_stat_statements: counts
#                        the bridge's SQL statements per order (runs/<run>.statements.txt); slows
#                        the database a little
#                      BENCH_BRIDGE_PORT=14000, BENCH_PEBBLE_PORT=14100, BENCH_HTTP01_PORT=5002,
#                      BENCH_DNS_PORT=8053
#                      BENCH_THROWAWAY_PG=1    own PostgreSQL cluster even if one runs on :5432
#                      BENCH_SKIP_BUILD=1      use the release binaries already built
#                      BENCH_KEEP_DBS=1        keep each run's database (default: dropped after it)
#
# Default mode: Pebble with PEBBLE_VA_ALWAYS_VALID=1 (the load generator POSTs each http-01
# challenge and polls the authorization), the bridge with its demo EAB key, which trusts SCM's domain
# validation (authorizations are valid at once). http01 mode: the load generator serves the key
# authorizations on 127.0.0.1:BENCH_HTTP01_PORT, pebble-challtestsrv answers every A query with
# 127.0.0.1 on BENCH_DNS_PORT, and both servers really validate; the bridge gets an EAB key that does
# not trust SCM's validation.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

log() { echo "bench.sh: $*" >&2; }
die() { log "$*"; exit 1; }

# ---- options -------------------------------------------------------------------------------------
QUICK=${BENCH_QUICK:-0}
MODE=${BENCH_MODE:-default}
ORDERS=${BENCH_ORDERS:-}
ORDERS_C1=${BENCH_ORDERS_C1:-}
WARMUP=${BENCH_WARMUP:-}
CONCURRENCY=${BENCH_CONCURRENCY:-}
REPEATS=${BENCH_REPEATS:-}
MAX_SECONDS=${BENCH_MAX_SECONDS:-}
ACCOUNTS=${BENCH_ACCOUNTS:-4}
SERVERS=${BENCH_SERVERS:-bridge-sqlite bridge pebble}
OUT=${BENCH_OUT:-}
POLL_MIN_MS=${BENCH_POLL_MIN_MS:-1}
POLL_MAX_MS=${BENCH_POLL_MAX_MS:-10}
BRIDGE_PORT=${BENCH_BRIDGE_PORT:-14000}
PEBBLE_PORT=${BENCH_PEBBLE_PORT:-14100}
HTTP01_PORT=${BENCH_HTTP01_PORT:-5002}
DNS_PORT=${BENCH_DNS_PORT:-8053}

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) QUICK=1 ;;
    --http01) MODE=http01 ;;
    --orders) ORDERS=$2; shift ;;
    --orders-c1) ORDERS_C1=$2; shift ;;
    --warmup) WARMUP=$2; shift ;;
    --concurrency) CONCURRENCY=$2; shift ;;
    --repeats) REPEATS=$2; shift ;;
    --max-seconds) MAX_SECONDS=$2; shift ;;
    --accounts) ACCOUNTS=$2; shift ;;
    --servers) SERVERS=$2; shift ;;
    --out) OUT=$2; shift ;;
    -h|--help) usage; exit 0 ;;
    *) die "unknown option $1 (see --help)" ;;
  esac
  shift
done
if [ "$QUICK" = 1 ]; then
  : "${ORDERS:=100}" "${ORDERS_C1:=30}" "${CONCURRENCY:=1 8 64}" "${REPEATS:=1}" "${MAX_SECONDS:=30}" "${WARMUP:=20}"
else
  : "${ORDERS:=1000}" "${ORDERS_C1:=200}" "${CONCURRENCY:=1 4 8 32 64 256}" "${REPEATS:=3}" "${MAX_SECONDS:=60}" "${WARMUP:=100}"
fi
CONCURRENCY=${CONCURRENCY//,/ }
SERVERS=${SERVERS//,/ }
case "$MODE" in default|http01) ;; *) die "BENCH_MODE must be default or http01, not $MODE" ;; esac
for s in $SERVERS; do case "$s" in bridge|bridge-sqlite|pebble) ;; *) die "unknown server $s" ;; esac; done
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
: "${OUT:=$ROOT/target/bench/$STAMP}"
mkdir -p "$OUT/runs" "$OUT/logs"
OUT=$(cd "$OUT" && pwd)

# ---- processes and cleanup -----------------------------------------------------------------------
TMP=$(mktemp -d /tmp/bridge-bench.XXXXXX)
chmod 755 "$TMP"
STARTED=()        # PIDs of long-lived helpers (challtestsrv)
SERVER_PID=""     # the server under test
CURRENT_DB=""
# shellcheck source=scripts/lib/postgres.sh
. "$ROOT/scripts/lib/postgres.sh"

stop_pid() { # stop_pid PID: SIGTERM, then SIGKILL after 15 s
  local pid=$1 i
  kill -TERM "$pid" 2>/dev/null || return 0
  for i in $(seq 150); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

cleanup() {
  local rc=$?
  set +e
  [ -n "$SERVER_PID" ] && stop_pid "$SERVER_PID"
  for pid in "${STARTED[@]}"; do stop_pid "$pid"; done
  [ -n "$CURRENT_DB" ] && [ "${BENCH_KEEP_DBS:-0}" != 1 ] && drop_db "$CURRENT_DB"
  stop_pg_cluster
  rm -rf "$TMP"
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

require_free_port() {
  port_answers "$1" && die "port $1 on 127.0.0.1 is taken ($2); pick another with $3"
  return 0
}

# ---- prerequisites -------------------------------------------------------------------------------
SUDO=""
[ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1 && SUDO=sudo
apt_install() {
  log "installing $* with apt-get"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "$@"
}
missing=()
command -v pebble >/dev/null 2>&1 || missing+=(pebble)
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
command -v curl >/dev/null 2>&1 || missing+=(curl)
command -v psql >/dev/null 2>&1 || missing+=(postgresql-client)
command -v python3 >/dev/null 2>&1 || missing+=(python3)
[ ${#missing[@]} -gt 0 ] && apt_install "${missing[@]}"

TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
BRIDGE=$TARGET/release/acme-sectigo-bridge
LOADGEN=$TARGET/release/examples/loadgen
if [ "${BENCH_SKIP_BUILD:-0}" != 1 ]; then
  log "building the bridge and the load generator (release)"
  cargo build --release --locked --example loadgen --bin acme-sectigo-bridge
fi
[ -x "$BRIDGE" ] && [ -x "$LOADGEN" ] || die "missing $BRIDGE or $LOADGEN"

# ---- PostgreSQL (a throwaway cluster as scripts/test.sh makes one; fsync stays on) ---------------
start_throwaway_postgres() {
  PG_BIN=$(find_pg_bin) || { apt_install postgresql; PG_BIN=$(find_pg_bin) || die "no initdb/pg_ctl"; }
  local extra=""
  [ "${BENCH_PG_STATEMENTS:-0}" = 1 ] && extra="-c shared_preload_libraries=pg_stat_statements"
  start_pg_cluster bridge-bench-pg "$extra"
  PG_URL="postgres://postgres@127.0.0.1:$PG_PORT"
  POSTMASTER_PID=$(head -1 "$PG_TMP/data/postmaster.pid")
}
POSTMASTER_PID=""
if [ "${BENCH_THROWAWAY_PG:-0}" != 1 ] && [ "${BENCH_PG_STATEMENTS:-0}" != 1 ] && port_answers 5432 \
  && psql "postgres://postgres@127.0.0.1:5432/postgres" -Atqc 'select 1' >/dev/null 2>&1; then
  PG_URL="postgres://postgres@127.0.0.1:5432"
  log "using the PostgreSQL server on 127.0.0.1:5432 (shared: its CPU figures include other clients)"
  # The postmaster reaps the backends of each run: its children's CPU time is the database's cost.
  datadir=$(psql "$PG_URL/postgres" -Atqc 'show data_directory' 2>/dev/null || true)
  [ -r "$datadir/postmaster.pid" ] && POSTMASTER_PID=$(head -1 "$datadir/postmaster.pid")
else
  start_throwaway_postgres
fi
psql_admin() { psql "$PG_URL/postgres" -v ON_ERROR_STOP=1 -Atqc "$1"; }
drop_db() { psql_admin "drop database if exists \"$1\" with (force)" >/dev/null 2>&1 || true; }

# ---- per-process figures -------------------------------------------------------------------------
# run_counting_cpu FILE CMD...: runs CMD (its output goes where this function's goes), writes the
# CPU time it used (user + system, ms) to FILE and returns its exit status.
run_counting_cpu() {
  python3 -c 'import resource, subprocess, sys
rc = subprocess.call(sys.argv[2:])
u = resource.getrusage(resource.RUSAGE_CHILDREN)
open(sys.argv[1], "w").write(str(round((u.ru_utime + u.ru_stime) * 1000)))
sys.exit(rc)' "$@"
}
CLK_TCK=$(getconf CLK_TCK)
cpu_ms() { # utime+stime of PID in ms
  local f
  f=$(sed 's/^.*) //' "/proc/$1/stat") # fields from 3 (state) on; comm may hold spaces
  set -- $f
  echo $(( (${12} + ${13}) * 1000 / CLK_TCK ))
}
children_cpu_ms() { # cutime+cstime of PID (reaped children) in ms; empty when unreadable
  [ -n "$1" ] && [ -r "/proc/$1/stat" ] || return 0
  local f
  f=$(sed 's/^.*) //' "/proc/$1/stat")
  set -- $f
  echo $(( (${14} + ${15}) * 1000 / CLK_TCK ))
}
peak_rss_kb() { awk '/^VmHWM:/ {print $2}' "/proc/$1/status"; }

wait_for_directory() { # wait_for_directory URL CA PID LOG PORT
  local i
  for i in $(seq 300); do
    kill -0 "$3" 2>/dev/null || { tail -20 "$4" >&2; die "server exited during start-up (log: $4)"; }
    if curl -sf --max-time 2 --cacert "$2" --resolve "localhost:$5:127.0.0.1" "$1" >/dev/null 2>&1; then
      return 0
    fi
    sleep 0.1
  done
  die "$1 did not answer within 30 s (log: $4)"
}

# ---- Pebble's TLS certificate (the Debian package ships no test certs) ---------------------------
PEBBLE_DIR=$TMP/pebble
mkdir -p "$PEBBLE_DIR"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
  -subj "/CN=bench.sh throwaway CA" -keyout "$PEBBLE_DIR/ca.key" -out "$PEBBLE_DIR/ca.pem" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=localhost" \
  -keyout "$PEBBLE_DIR/key.pem" -out "$PEBBLE_DIR/cert.csr" 2>/dev/null
printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' \
  >"$PEBBLE_DIR/ext.cnf"
openssl x509 -req -in "$PEBBLE_DIR/cert.csr" -CA "$PEBBLE_DIR/ca.pem" -CAkey "$PEBBLE_DIR/ca.key" \
  -CAcreateserial -days 2 -extfile "$PEBBLE_DIR/ext.cnf" -out "$PEBBLE_DIR/cert.pem" 2>/dev/null
cat >"$PEBBLE_DIR/config.json" <<EOF
{
  "pebble": {
    "listenAddress": "127.0.0.1:$PEBBLE_PORT",
    "managementListenAddress": "127.0.0.1:$((PEBBLE_PORT + 1000))",
    "certificate": "$PEBBLE_DIR/cert.pem",
    "privateKey": "$PEBBLE_DIR/key.pem",
    "httpPort": $HTTP01_PORT,
    "tlsPort": 5001,
    "ocspResponderURL": "",
    "externalAccountBindingRequired": false
  }
}
EOF

# ---- http01 mode: the fake DNS -------------------------------------------------------------------
if [ "$MODE" = http01 ]; then
  require_free_port "$HTTP01_PORT" "the load generator's http-01 responder" BENCH_HTTP01_PORT
  require_free_port "$((DNS_PORT + 2))" "pebble-challtestsrv management" BENCH_DNS_PORT
  pebble-challtestsrv -dns01 "127.0.0.1:$DNS_PORT" -http01 "" -https01 "" -tlsalpn01 "" \
    -management "127.0.0.1:$((DNS_PORT + 2))" -defaultIPv4 127.0.0.1 -defaultIPv6 "" \
    >"$OUT/logs/challtestsrv.log" 2>&1 &
  STARTED+=($!)
  for i in $(seq 50); do port_answers "$((DNS_PORT + 2))" && break; sleep 0.1; done
  log "pebble-challtestsrv answers A queries with 127.0.0.1 on 127.0.0.1:$DNS_PORT"
fi

# ---- one run ---------------------------------------------------------------------------------------
# Writes runs/<name>.json (loadgen report) and runs/<name>.server.json (server figures).
run_one() { # run_one SERVER CONCURRENCY REPEAT
  local server=$1 c=$2 r=$3 orders=$ORDERS name dir url ca log pid eab_args=() db="" db_cpu0="" xact0=""
  [ "$c" -le 1 ] && orders=$ORDERS_C1
  name="$server-c$c-r$r"
  log "$name: $orders orders at concurrency $c"
  log="$OUT/logs/$name.log"
  if [ "$server" = bridge ] || [ "$server" = bridge-sqlite ]; then
    require_free_port "$BRIDGE_PORT" "the bridge" BENCH_BRIDGE_PORT
    dir=$TMP/$name
    mkdir -p "$dir"
    local dburl
    if [ "$server" = bridge ]; then
      db="bench_${STAMP,,}_${server}_c${c}_r${r}"
      CURRENT_DB=$db
      psql_admin "create database \"$db\"" >/dev/null
      dburl="$PG_URL/$db"
    else
      dburl="sqlite://$dir/bridge.db" # what zero-setup `serve` uses, in this run's data directory
    fi
    local env=(env -u BRIDGE_CONFIG BRIDGE_DATABASE__URL="$dburl"
      BRIDGE_SERVER__LISTEN="127.0.0.1:$BRIDGE_PORT"
      BRIDGE_SERVER__METRICS_LISTEN="127.0.0.1:$((BRIDGE_PORT + 90))"
      BRIDGE_LOGGING__FORMAT=human BRIDGE_LOGGING__FILTER="${BENCH_BRIDGE_LOG:-warn}"
      BRIDGE_LIMITS__ENABLED=false) # Pebble has no rate limits; the load comes from one address
    if [ "$MODE" = http01 ]; then
      env+=(BRIDGE_VALIDATION__HTTP_PORT="$HTTP01_PORT"
        BRIDGE_VALIDATION__DNS_RESOLVERS="[\"127.0.0.1:$DNS_PORT\"]")
      # A key that does not trust SCM's domain validation: every name needs its http-01 challenge.
      "${env[@]}" "$BRIDGE" eab create --label bench --allow '*.example.com' --allow example.com \
        --json >"$dir/eab.json" 2>>"$log"
    fi
    db_cpu0=$(children_cpu_ms "$POSTMASTER_PID")
    "${env[@]}" "$BRIDGE" serve --data-dir "$dir" >>"$log" 2>&1 &
    pid=$!
    SERVER_PID=$pid
    url="https://localhost:$BRIDGE_PORT/directory"
    ca=$dir/ca.pem
    for _ in $(seq 300); do [ -s "$ca" ] && break; kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    wait_for_directory "$url" "$ca" "$pid" "$log" "$BRIDGE_PORT"
    [ "$MODE" = http01 ] || for _ in $(seq 100); do [ -s "$dir/demo-eab.json" ] && break; sleep 0.1; done
    local keyfile=$dir/demo-eab.json
    [ "$MODE" = http01 ] && keyfile=$dir/eab.json
    # `--flag=value`: a base64url key may start with "-".
    eab_args=("--eab-kid=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["kid"])' "$keyfile")"
      "--eab-hmac=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["hmac_key"])' "$keyfile")")
    [ -n "$db" ] && xact0=$(psql_admin "select xact_commit + xact_rollback from pg_stat_database where datname = '$db'")
    if [ -n "$db" ] && [ "${BENCH_PG_STATEMENTS:-0}" = 1 ]; then
      psql_admin "create extension if not exists pg_stat_statements; select pg_stat_statements_reset()" >/dev/null
    fi
  else
    require_free_port "$PEBBLE_PORT" "Pebble" BENCH_PEBBLE_PORT
    local penv=(env PEBBLE_VA_NOSLEEP=1 PEBBLE_WFE_NONCEREJECT=0) pargs=()
    if [ "$MODE" = http01 ]; then
      pargs=(-dnsserver "127.0.0.1:$DNS_PORT")
    else
      penv+=(PEBBLE_VA_ALWAYS_VALID=1)
    fi
    "${penv[@]}" pebble -config "$PEBBLE_DIR/config.json" "${pargs[@]}" >"$log" 2>&1 &
    pid=$!
    SERVER_PID=$pid
    url="https://localhost:$PEBBLE_PORT/dir"
    ca=$PEBBLE_DIR/ca.pem
    wait_for_directory "$url" "$ca" "$pid" "$log" "$PEBBLE_PORT"
  fi

  local lg=(--answer-challenges)
  [ "$MODE" = http01 ] && lg=(--http01-listen "127.0.0.1:$HTTP01_PORT")
  local cpu0 t0 t1 rc=0
  cpu0=$(cpu_ms "$pid")
  t0=$(date +%s.%N)
  # The load generator shares the machine's CPUs with the server: its own CPU time is recorded too.
  run_counting_cpu "$OUT/runs/$name.client-cpu" "$LOADGEN" --directory "$url" --ca "$ca" "${eab_args[@]}" --orders "$orders" --concurrency "$c" \
    --warmup-orders "$WARMUP" \
    --accounts "$ACCOUNTS" --run-tag "$(echo "$name" | tr -c 'a-z0-9\n' -)" "${lg[@]}" \
    --poll-min-ms "$POLL_MIN_MS" --poll-max-ms "$POLL_MAX_MS" --max-seconds "$MAX_SECONDS" \
    --json-out "$OUT/runs/$name.json" >/dev/null 2>>"$log" || rc=$?
  t1=$(date +%s.%N)
  local cpu1 rss alive=1 scm="" xact="" commits="" db_cpu="" statements=""
  if kill -0 "$pid" 2>/dev/null; then
    cpu1=$(cpu_ms "$pid")
    rss=$(peak_rss_kb "$pid")
  else
    alive=0 cpu1=$cpu0 rss=0
    log "$name: the server died during the run (log: $log)"
  fi
  if [ "$server" != pebble ] && [ $alive = 1 ]; then
    curl -sf --max-time 5 "http://127.0.0.1:$((BRIDGE_PORT + 90))/metrics" >"$OUT/logs/$name.metrics" || true
    scm=$(awk '/^scm_calls_total/ {n += $NF} END {print n + 0}' "$OUT/logs/$name.metrics")
    if [ "$server" = bridge-sqlite ]; then
      # Group commit: transactions acknowledged and the commits (one WAL fsync each) carrying them.
      xact=$(awk '/^store_transactions_total/ {print $NF}' "$OUT/logs/$name.metrics")
      commits=$(awk '/^store_commits_total/ {print $NF}' "$OUT/logs/$name.metrics")
    fi
  fi
  stop_pid "$pid"
  SERVER_PID=""
  if [ -n "$db" ]; then
    # Backends of the run exit with the bridge; then the postmaster has reaped them.
    for _ in $(seq 50); do
      [ "$(psql_admin "select count(*) from pg_stat_activity where datname = '$db'")" = 0 ] && break
      sleep 0.1
    done
    sleep 0.5
    xact=$(psql_admin "select xact_commit + xact_rollback from pg_stat_database where datname = '$db'")
    xact=$(( xact - ${xact0:-0} ))
    if [ "${BENCH_PG_STATEMENTS:-0}" = 1 ]; then
      local q="from pg_stat_statements s join pg_database d on d.oid = s.dbid where d.datname = '$db'"
      statements=$(psql_admin "select coalesce(sum(calls), 0) $q and query not like '%pg_stat_statements%'")
      psql "$PG_URL/postgres" -qc "select calls, rows, round(total_exec_time::numeric, 1) as total_ms,
        left(regexp_replace(query, '\s+', ' ', 'g'), 160) as query $q order by calls desc" \
        >"$OUT/runs/$name.statements.txt"
    fi
    if [ -n "$db_cpu0" ]; then db_cpu=$(( $(children_cpu_ms "$POSTMASTER_PID") - db_cpu0 )); fi
    [ "${BENCH_KEEP_DBS:-0}" = 1 ] || drop_db "$db"
    CURRENT_DB=""
  fi
  [ -s "$OUT/runs/$name.json" ] || log "$name: the load generator wrote no report (exit $rc, log: $log)"
  cat >"$OUT/runs/$name.server.json" <<EOF
{"server": "$server", "concurrency": $c, "repeat": $r, "orders": $orders, "loadgen_exit": $rc,
 "server_alive": $alive, "cpu_ms": $((cpu1 - cpu0)), "peak_rss_kb": ${rss:-0},
 "elapsed_s": $(awk "BEGIN {print $t1 - $t0}"),
 "client_cpu_ms": $(cat "$OUT/runs/$name.client-cpu" 2>/dev/null || echo null),
 "scm_calls": ${scm:-null}, "db_transactions": ${xact:-null}, "db_commits": ${commits:-null},
 "db_cpu_ms": ${db_cpu:-null},
 "db_statements": ${statements:-null}}
EOF
  grep '^loadgen:' "$log" | tail -1 | sed "s/^/bench.sh: $name: /" >&2 || true
}

log "mode $MODE; orders $ORDERS (C=1: $ORDERS_C1) after $WARMUP warm-up; concurrency $CONCURRENCY; repeats $REPEATS;" \
  "max $MAX_SECONDS s per run; results in $OUT"
for c in $CONCURRENCY; do
  for r in $(seq "$REPEATS"); do
    for s in $SERVERS; do run_one "$s" "$c" "$r"; done
  done
done

# ---- the table -----------------------------------------------------------------------------------
python3 - "$OUT" "$MODE" "$STAMP" <<'PY'
import glob, json, os, statistics, sys

out, mode, stamp = sys.argv[1:4]
runs = {}
for f in sorted(glob.glob(os.path.join(out, "runs", "*.server.json"))):
    s = json.load(open(f))
    rep = f[: -len(".server.json")] + ".json"
    s["report"] = json.load(open(rep)) if os.path.exists(rep) else None
    runs.setdefault((s["concurrency"], s["server"]), []).append(s)

def med(v):
    return statistics.median(v) if v else None

def fmt(v, d=0):
    return "–" if v is None else f"{v:.{d}f}"

rows, notes, clean = [], [], {}
for c in sorted({k[0] for k in runs}):
    rates = {}
    for server in ("bridge", "bridge-sqlite", "pebble"):
        rs = runs.get((c, server))
        if not rs:
            continue
        reps = [s["report"] for s in rs if s["report"]]
        ops = [r["orders_per_second"] for r in reps]
        done = sum(r["completed"] for r in reps)
        # Per-order costs cover everything the server did during the run, warm-up included.
        done_all = done + sum(r.get("warmup_completed", 0) for r in reps)
        failed = sum(r["failed"] for r in reps)
        cut = sum(r["cut_off_at_deadline"] + r["not_started"] for r in reps)
        missing = len(rs) - len(reps)
        cpu = sum(s["cpu_ms"] for s in rs)
        rss = max(s["peak_rss_kb"] for s in rs)
        rates[server] = med(ops)
        clean[server] = failed == 0 and cut == 0 and missing == 0
        fail_txt = str(failed)
        if cut:
            fail_txt += f" (+{cut} cut off)"
        if missing:
            fail_txt += f" ({missing} run(s) without report)"
        extra = []
        if server != "pebble":
            db = [s["db_transactions"] for s in rs if s.get("db_transactions") is not None]
            scm = [s["scm_calls"] for s in rs if s.get("scm_calls") is not None]
            dbcpu = [s["db_cpu_ms"] for s in rs if s.get("db_cpu_ms") is not None]
            stm = [s["db_statements"] for s in rs if s.get("db_statements") is not None]
            commits = [s["db_commits"] for s in rs if s.get("db_commits") is not None]
            if db and done:
                extra.append(f"{sum(db) / done_all:.1f} DB xacts")
            if commits and done:
                extra.append(f"{sum(commits) / done_all:.2f} fsyncs (group commits)")
            if stm and done:
                extra.append(f"{sum(stm) / done_all:.1f} SQL statements")
            if dbcpu and done:
                extra.append(f"{sum(dbcpu) / done_all:.1f} DB CPU ms")
            if scm and done:
                extra.append(f"{sum(scm) / done_all:.2f} SCM calls")
        client = [s["client_cpu_ms"] for s in rs if s.get("client_cpu_ms") is not None]
        if client and done_all and len(client) == len(rs):
            extra.append(f"{sum(client) / done_all:.2f} load-generator CPU ms")
            # What the measured CPU costs allow on this machine if every CPU were busy all the time.
            spent = cpu + sum(client) + sum(s["db_cpu_ms"] for s in rs if s.get("db_cpu_ms") is not None)
            extra.append(f"CPU limit ≈ {os.cpu_count() * 1000 * done_all / spent:.0f} orders/s")
        retries = sum(r["bad_nonce_retries"] for r in reps)
        if retries:
            extra.append(f"{retries} badNonce retries")
        rows.append([
            server, str(c), str(rs[0]["orders"]), str(len(rs)),
            fmt(med(ops), 1),
            f"{fmt(min(ops), 1)}–{fmt(max(ops), 1)}" if ops else "–",
            fmt(med([r["latency_ms"]["order"]["p50"] for r in reps if r["completed"]])),
            fmt(med([r["latency_ms"]["order"]["p99"] for r in reps if r["completed"]])),
            " / ".join(
                fmt(med([r["latency_ms"][k]["p99"] for r in reps
                         if r["completed"] and k in r["latency_ms"]]))
                for k in ("new_order", "authz", "challenge", "finalize", "download")
            ),
            fail_txt,
            fmt(cpu / done_all, 2) if done_all else "–",
            fmt(rss / 1024, 0),
            "",
            "; ".join(extra),
        ])
        kinds = {}
        for r in reps:
            for k, v in r["failures"].items():
                kinds.setdefault(k, [0, v["example"]])[0] += v["count"]
        if kinds:
            listed = ", ".join(f"{n} × `{k}`" for k, (n, _) in sorted(kinds.items(), key=lambda x: -x[1][0]))
            first = max(kinds.values(), key=lambda x: x[0])[1]
            notes.append(f"- {server} C={c}: {listed}; e.g. {first[:140]!r}")
        for s in rs:
            if not s["server_alive"]:
                notes.append(f"- {server} C={c} repeat {s['repeat']}: the server process died during the run")
    if rates.get("pebble"):
        for row in rows[-3:]:
            if row[0] in ("bridge", "bridge-sqlite") and rates.get(row[0]) and row[1] == str(c):
                ratio = f"{rates[row[0]] / rates['pebble']:.2f}"
                # A ratio against runs that failed or hung compares nothing useful: flag it.
                row[12] = ratio if clean[row[0]] and clean["pebble"] else ratio + " (†)"

head = ["server", "C", "orders/run", "runs", "orders/s median", "orders/s min–max",
        "p50 ms", "p99 ms", "request p99 ms: newOrder / authz / challenge / finalize / download", "failures", "CPU ms/order", "peak RSS MiB", "bridge/Pebble", "per order"]
lines = [
    f"bench.sh {stamp}, mode {mode}, {os.cpu_count()} CPUs",
    "",
    "| " + " | ".join(head) + " |",
    "|" + "|".join("---" for _ in head) + "|",
]
lines += ["| " + " | ".join(r) + " |" for r in rows]
lines += [
    "",
    "orders/s = completed / wall time of the orders phase (after the warm-up orders); p50/p99 = median over the runs of each run's "
    "order latency percentile; request p99 = the same for each step (authz: fetching the order's "
    "authorizations; challenge: answering one and polling until valid, 0 where none is asked; "
    "finalize: the request itself, which on the bridge waits for the certificate); failures = failed orders summed over the runs; CPU ms/order = server "
    "process CPU (utime+stime) during the load-generator run, account setup and warm-up included / completed orders (warm-up included); peak RSS = max VmHWM; "
    "bridge/Pebble = ratio of median orders/s; per order (bridge): PostgreSQL transactions, CPU of "
    "the PostgreSQL backends (postmaster's reaped children; on a shared server includes other "
    "clients), SCM calls; bridge-sqlite: its transactions and the group commits (one fsync each) "
    "that carried them, from its metrics; load-generator CPU: the load generator's own CPU time per "
    "order (it runs on the same CPUs); CPU limit: CPUs × 1000 / (server + load generator + "
    "PostgreSQL CPU ms per order), the orders/s at which this machine's CPUs would all be busy with "
    "this run's costs, i.e. roughly the most that less waiting could give without cheaper work (an "
    "estimate: the costs include the run's set-up, which weighs on short runs); (†) = one side had failures or cut-off orders, the ratio is not a "
    "throughput comparison.",
]
if notes:
    lines += ["", "Failures:"] + notes
text = "\n".join(lines) + "\n"
open(os.path.join(out, "table.md"), "w").write(text)
print(text)
PY
log "results: $OUT (table.md, runs/*.json, logs/)"
