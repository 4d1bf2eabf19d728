#!/usr/bin/env bash
# Chaos run (docs/reliability.md, "Chaos run"; issue #12): a throwaway PostgreSQL cluster, the SCM
# sandbox as its own process with faults on a share of its calls (errors, resets, slow answers,
# enroll responses dropped or answered late), three bridge replicas behind HAProxy (TLS
# passthrough, health checks on /readyz), and the load generator running N orders at concurrency C
# while a killer SIGKILLs a random replica every few seconds and restarts it, and PostgreSQL is
# restarted once (`pg_ctl restart -m immediate`) mid-run. After the run and a bounded settle time it
# reports what the client saw and what the database and SCM hold, and exits non-zero unless:
# no stuck order, no duplicate SCM enrollment, no orphan, every valid order has its certificate, the
# client saw no 5xx other than 503, and at least 95 % of the orders it started completed.
#
# Loopback only. Every process it starts is stopped on exit.
#
# Options (flag or environment variable):
#   --orders N          CHAOS_ORDERS=3000        orders the load generator runs
#   --concurrency C     CHAOS_CONCURRENCY=32
#   --kill-every "A B"  CHAOS_KILL_EVERY="2 4"   seconds between kills: uniform in [A, B]
#   --fault-rate R      CHAOS_FAULT_RATE=0.1     share of SCM calls that get a random fault
#   --settle T          CHAOS_SETTLE_SECS=180    bound on waiting for in-flight issuance after the run
#   --max-seconds T     CHAOS_MAX_SECONDS=3600   bound on the load generator's run
#   --retry-secs T      CHAOS_RETRY_SECS=30      load generator: per-request retry budget
#   --seed S            CHAOS_SEED=random        fault seed of the sandbox and the killer's choices
#   --out DIR           CHAOS_OUT=target/chaos/<timestamp>   report.json, report.md, logs/
#                       CHAOS_BRIDGE=PATH, CHAOS_LOADGEN=PATH   binaries (default: build debug ones)
#                       CHAOS_LB_PORT=14443 (first free from there), other ports are picked free
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

log() { echo "chaos.sh: $*" >&2; }
die() { log "$*"; exit 1; }

ORDERS=${CHAOS_ORDERS:-3000}
CONCURRENCY=${CHAOS_CONCURRENCY:-32}
KILL_EVERY=${CHAOS_KILL_EVERY:-2 4}
FAULT_RATE=${CHAOS_FAULT_RATE:-0.1}
SETTLE=${CHAOS_SETTLE_SECS:-180}
MAX_SECONDS=${CHAOS_MAX_SECONDS:-3600}
RETRY_SECS=${CHAOS_RETRY_SECS:-30}
SEED=${CHAOS_SEED:-$((RANDOM * 32768 + RANDOM))}
OUT=${CHAOS_OUT:-}
usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
  case "$1" in
    --orders) ORDERS=$2; shift ;;
    --concurrency) CONCURRENCY=$2; shift ;;
    --kill-every) KILL_EVERY=$2; shift ;;
    --fault-rate) FAULT_RATE=$2; shift ;;
    --settle) SETTLE=$2; shift ;;
    --max-seconds) MAX_SECONDS=$2; shift ;;
    --retry-secs) RETRY_SECS=$2; shift ;;
    --seed) SEED=$2; shift ;;
    --out) OUT=$2; shift ;;
    -h|--help) usage; exit 0 ;;
    *) die "unknown option $1 (see --help)" ;;
  esac
  shift
done
read -r KILL_MIN KILL_MAX <<<"$KILL_EVERY"
: "${KILL_MAX:=$KILL_MIN}"
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
: "${OUT:=$ROOT/target/chaos/$STAMP}"
mkdir -p "$OUT/logs"
OUT=$(cd "$OUT" && pwd)
RANDOM=$SEED

for tool in haproxy pebble-challtestsrv openssl curl psql python3; do
  command -v "$tool" >/dev/null 2>&1 || die "$tool is missing (scripts/install-test-deps.sh installs it)"
done
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
BRIDGE=${CHAOS_BRIDGE:-}
LOADGEN=${CHAOS_LOADGEN:-}
if [ -z "$BRIDGE" ] || [ -z "$LOADGEN" ]; then
  log "building the bridge and the load generator (debug)"
  cargo build --quiet --example loadgen --bin acme-sectigo-bridge
  : "${BRIDGE:=$TARGET/debug/acme-sectigo-bridge}" "${LOADGEN:=$TARGET/debug/examples/loadgen}"
fi
[ -x "$BRIDGE" ] && [ -x "$LOADGEN" ] || die "missing $BRIDGE or $LOADGEN"

# ---- processes and cleanup -----------------------------------------------------------------------
TMP=$(mktemp -d /tmp/bridge-chaos.XXXXXX)
chmod 755 "$TMP"
HELPERS=()            # sandbox, challtestsrv, haproxy
declare -A REPLICA    # replica index -> PID
KILLER=""
# shellcheck source=scripts/lib/postgres.sh
. "$ROOT/scripts/lib/postgres.sh"

stop_pid() { kill -KILL "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }
cleanup() {
  local rc=$?
  set +e
  [ -n "$KILLER" ] && stop_pid "$KILLER"
  for i in "${!REPLICA[@]}"; do stop_pid "${REPLICA[$i]}"; done
  for f in "$TMP"/replica?.pid; do [ -s "$f" ] && stop_pid "$(cat "$f")"; done
  for pid in "${HELPERS[@]}"; do stop_pid "$pid"; done
  stop_pg_cluster
  rm -rf "$TMP"
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() { # free_port FROM: the first port from FROM on which nothing listens
  local p=$1
  while port_answers "$p"; do p=$((p + 1)); done
  echo "$p"
}

# The killer restarts replicas from these copies, so a rebuild during the run changes nothing.
cp "$BRIDGE" "$TMP/acme-sectigo-bridge" && BRIDGE=$TMP/acme-sectigo-bridge
cp "$LOADGEN" "$TMP/loadgen" && LOADGEN=$TMP/loadgen

# ---- PostgreSQL ----------------------------------------------------------------------------------
PG_BIN=$(find_pg_bin) || die "no initdb/pg_ctl (install postgresql)"
start_pg_cluster bridge-chaos-pg ""
DB_URL="postgres://postgres@127.0.0.1:$PG_PORT/postgres"
sql() { psql "$DB_URL" -v ON_ERROR_STOP=1 -Atqc "$1"; }
pg_restart() { run_pg "$PG_BIN/pg_ctl" -D "$PG_TMP/data" -m immediate -w -t 60 restart >/dev/null; }

# ---- TLS for the replicas (HAProxy passes TLS through) -------------------------------------------
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
  -subj "/CN=chaos.sh throwaway CA" -keyout "$TMP/ca.key" -out "$TMP/ca.pem" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=localhost" \
  -keyout "$TMP/key.pem" -out "$TMP/cert.csr" 2>/dev/null
printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' >"$TMP/ext.cnf"
openssl x509 -req -in "$TMP/cert.csr" -CA "$TMP/ca.pem" -CAkey "$TMP/ca.key" -CAcreateserial \
  -days 2 -extfile "$TMP/ext.cnf" -out "$TMP/cert.pem" 2>/dev/null

# ---- SCM sandbox with faults ---------------------------------------------------------------------
SANDBOX_PORT=$(free_port 18444)
"$BRIDGE" sandbox --listen "127.0.0.1:$SANDBOX_PORT" --fault-rate "$FAULT_RATE" --fault-seed "$SEED" \
  --fault-slow-max-ms 3000 >"$OUT/logs/sandbox.log" 2>&1 &
HELPERS+=($!)
SANDBOX=http://127.0.0.1:$SANDBOX_PORT
for _ in $(seq 100); do curl -sf "$SANDBOX/__sandbox/enrollments" >/dev/null && break; sleep 0.1; done
curl -sf "$SANDBOX/__sandbox/enrollments" >/dev/null || die "the sandbox did not start (logs/sandbox.log)"

# ---- DNS for validation: every A query is 127.0.0.1 (the load generator's http-01 responder) -----
DNS_PORT=$(free_port 18053)
CTS_MGMT=$(free_port $((DNS_PORT + 1)))
pebble-challtestsrv -dns01 "127.0.0.1:$DNS_PORT" -http01 "" -https01 "" -tlsalpn01 "" \
  -management "127.0.0.1:$CTS_MGMT" -defaultIPv4 127.0.0.1 -defaultIPv6 "" \
  >"$OUT/logs/challtestsrv.log" 2>&1 &
HELPERS+=($!)
for _ in $(seq 50); do port_answers "$CTS_MGMT" && break; sleep 0.1; done
HTTP01_PORT=$(free_port 15002)

# ---- three replicas behind HAProxy ---------------------------------------------------------------
LB_PORT=$(free_port "${CHAOS_LB_PORT:-14443}")
PORTS=()
p=$((LB_PORT + 1))
for i in 1 2 3; do p=$(free_port "$p"); PORTS+=("$p"); p=$((p + 1)); done
BRIDGE_ENV=(env -u BRIDGE_CONFIG
  BRIDGE_DATABASE__URL="$DB_URL"
  BRIDGE_SERVER__EXTERNAL_URL="https://localhost:$LB_PORT"
  BRIDGE_SERVER__TLS_CERT="$TMP/cert.pem" BRIDGE_SERVER__TLS_KEY="$TMP/key.pem"
  BRIDGE_SCM__BASE_URL="$SANDBOX/api" BRIDGE_SCM__CUSTOMER_URI=demo BRIDGE_SCM__LOGIN=demo
  BRIDGE_SCM__PASSWORD=demo BRIDGE_SCM__ORG_ID=1001 BRIDGE_SCM__CERT_TYPE=501 BRIDGE_SCM__TERM=90
  BRIDGE_SCM__TIMEOUT_SECS=10
  BRIDGE_VALIDATION__HTTP_PORT="$HTTP01_PORT"
  BRIDGE_VALIDATION__DNS_RESOLVERS="[\"127.0.0.1:$DNS_PORT\"]"
  BRIDGE_VALIDATION__ALLOWED_NETWORKS='["127.0.0.0/8"]'
  BRIDGE_ACME__CAA_CHECK=false
  BRIDGE_LIMITS__ENABLED=false
  BRIDGE_ISSUANCE__LEASE_SECS=6
  BRIDGE_LOGGING__FORMAT=human BRIDGE_LOGGING__FILTER="${CHAOS_BRIDGE_LOG:-warn}")
"${BRIDGE_ENV[@]}" "$BRIDGE" eab create --label chaos --allow '*.example.com' --json \
  >"$TMP/eab.json" 2>>"$OUT/logs/eab.log" || die "eab create failed (logs/eab.log)"
EAB_KID=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["kid"])' "$TMP/eab.json")
EAB_HMAC=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["hmac_key"])' "$TMP/eab.json")

start_replica() { # start_replica INDEX (1-3)
  local i=$1
  "${BRIDGE_ENV[@]}" BRIDGE_SERVER__LISTEN="127.0.0.1:${PORTS[$((i - 1))]}" \
    "$BRIDGE" serve --data-dir "$TMP/replica$i" >>"$OUT/logs/replica$i.log" 2>&1 &
  REPLICA[$i]=$!
  disown "$!"
}
ready() { curl -sfk --max-time 2 "https://127.0.0.1:$1/readyz" >/dev/null 2>&1; }
for i in 1 2 3; do start_replica "$i"; done
for i in 1 2 3; do
  for _ in $(seq 300); do ready "${PORTS[$((i - 1))]}" && break; sleep 0.1; done
  ready "${PORTS[$((i - 1))]}" || die "replica $i did not become ready (logs/replica$i.log)"
done

cat >"$TMP/haproxy.cfg" <<EOF
global
  maxconn 4096
defaults
  mode tcp
  timeout connect 1s
  timeout client 120s
  timeout server 120s
  timeout check 2s
  retries 3
  option redispatch
frontend acme
  bind 127.0.0.1:$LB_PORT
  default_backend bridges
backend bridges
  balance roundrobin
  option httpchk
  http-check send meth GET uri /readyz
  http-check expect status 200
  default-server inter 500ms fall 2 rise 1 check check-ssl verify none
  server r1 127.0.0.1:${PORTS[0]}
  server r2 127.0.0.1:${PORTS[1]}
  server r3 127.0.0.1:${PORTS[2]}
EOF
haproxy -f "$TMP/haproxy.cfg" -db >"$OUT/logs/haproxy.log" 2>&1 &
HELPERS+=($!)
for _ in $(seq 100); do
  curl -sf --max-time 2 --cacert "$TMP/ca.pem" --resolve "localhost:$LB_PORT:127.0.0.1" \
    "https://localhost:$LB_PORT/directory" >/dev/null 2>&1 && break
  sleep 0.1
done
log "PostgreSQL :$PG_PORT, sandbox :$SANDBOX_PORT (fault rate $FAULT_RATE, seed $SEED), replicas" \
  "${PORTS[*]} behind HAProxy :$LB_PORT; $ORDERS orders at C=$CONCURRENCY; a kill every" \
  "$KILL_MIN–$KILL_MAX s; results in $OUT"

# ---- the killer: SIGKILL a random replica every KILL_MIN..KILL_MAX s, restart it at once ---------
killer() {
  local n=0 i pid span=$(( (KILL_MAX - KILL_MIN) * 1000 ))
  while :; do
    sleep "$(awk "BEGIN {print ($KILL_MIN * 1000 + ($span > 0 ? $RANDOM % ($span + 1) : 0)) / 1000}")"
    i=$((RANDOM % 3 + 1))
    pid=$(cat "$TMP/replica$i.pid")
    kill -KILL "$pid" 2>/dev/null || true
    n=$((n + 1))
    echo "$n" >"$TMP/kills"
    echo "$(date -u +%T.%N) kill replica $i (pid $pid)" >>"$OUT/logs/killer.log"
    "${BRIDGE_ENV[@]}" BRIDGE_SERVER__LISTEN="127.0.0.1:${PORTS[$((i - 1))]}" \
      "$BRIDGE" serve --data-dir "$TMP/replica$i" >>"$OUT/logs/replica$i.log" 2>&1 &
    echo $! >"$TMP/replica$i.pid"
    disown "$!"
  done
}
for i in 1 2 3; do echo "${REPLICA[$i]}" >"$TMP/replica$i.pid"; done
echo 0 >"$TMP/kills"
killer &
KILLER=$!

# ---- PostgreSQL restart once, when a third of the orders exist ------------------------------------
pg_chaos() {
  local i
  for i in $(seq 6000); do
    [ "$(sql "select count(*) from orders" 2>/dev/null || echo 0)" -ge $((ORDERS / 3)) ] && break
    sleep 0.1
  done
  echo "$(date -u +%T.%N) pg_ctl restart -m immediate" >>"$OUT/logs/killer.log"
  local t0 t1
  t0=$(date +%s.%N)
  pg_restart
  t1=$(date +%s.%N)
  awk "BEGIN {printf \"%.2f\", $t1 - $t0}" >"$TMP/pg_restart_secs"
}
pg_chaos &
PG_CHAOS=$!

# ---- the load ------------------------------------------------------------------------------------
LG_RC=0
"$LOADGEN" --directory "https://localhost:$LB_PORT/directory" --ca "$TMP/ca.pem" \
  "--eab-kid=$EAB_KID" "--eab-hmac=$EAB_HMAC" --orders "$ORDERS" --concurrency "$CONCURRENCY" \
  --accounts 8 --domain-suffix example.com --http01-listen "127.0.0.1:$HTTP01_PORT" \
  --retry-secs "$RETRY_SECS" --max-polls 600 --poll-min-ms 200 --poll-max-ms 2000 \
  --max-seconds "$MAX_SECONDS" --json-out "$OUT/loadgen.json" >/dev/null 2>"$OUT/logs/loadgen.log" || LG_RC=$?
wait "$PG_CHAOS" 2>/dev/null || true
stop_pid "$KILLER"
KILLER=""
KILLS=$(cat "$TMP/kills")
# Every replica up again for the settle time.
for i in 1 2 3; do
  pid=$(cat "$TMP/replica$i.pid")
  REPLICA[$i]=$pid
  kill -0 "$pid" 2>/dev/null || start_replica "$i"
done
log "load generator done (exit $LG_RC) after $KILLS kills; settling (at most $SETTLE s)"
deadline=$(( $(date +%s) + SETTLE ))
while [ "$(date +%s)" -lt "$deadline" ]; do
  busy=$(sql "select count(*) from orders where status = 'processing'" 2>/dev/null || echo 1)
  [ "$busy" = 0 ] && break
  sleep 1
done

# ---- the report ----------------------------------------------------------------------------------
curl -sf "$SANDBOX/__sandbox/enrollments" >"$OUT/scm-enrollments.json"
curl -sf "$SANDBOX/__sandbox/faults/stats" >"$OUT/scm-faults.json" || echo '{}' >"$OUT/scm-faults.json"
psql "$DB_URL" -v ON_ERROR_STOP=1 -Atqc "
  select json_build_object(
    'orders_by_status', (select coalesce(json_object_agg(status, n), '{}') from
        (select status, count(*) n from orders group by status) s),
    'processing', (select count(*) from orders where status = 'processing'),
    'ready_with_job', (select count(*) from orders o where status = 'ready'
        and exists (select 1 from jobs j where j.subject_id = o.id)),
    'valid', (select count(*) from orders where status = 'valid'),
    'valid_without_certificate', (select count(*) from orders o where status = 'valid'
        and not exists (select 1 from certificates c where c.order_id = o.id)),
    'certificates_of_valid_orders', (select count(*) from certificates c join orders o
        on o.id = c.order_id where o.status = 'valid'),
    'enrollments', (select coalesce(json_object_agg(order_id, ssl_id), '{}') from enrollments
        where ssl_id is not null))" >"$OUT/db.json"
echo "{\"kills\": $KILLS, \"pg_restart_secs\": $(cat "$TMP/pg_restart_secs" 2>/dev/null || echo null), \"loadgen_exit\": $LG_RC, \"orders\": $ORDERS, \"concurrency\": $CONCURRENCY, \"kill_every\": \"$KILL_MIN-$KILL_MAX\", \"fault_rate\": $FAULT_RATE, \"seed\": $SEED, \"settle_secs\": $SETTLE}" >"$OUT/run.json"
python3 - "$OUT" <<'PY'
import collections, json, os, re, sys

out = sys.argv[1]
load = lambda f: json.load(open(os.path.join(out, f)))
run, db, scm = load("run.json"), load("db.json"), load("scm-enrollments.json")
lg = load("loadgen.json") if os.path.exists(os.path.join(out, "loadgen.json")) else {}
faults = load("scm-faults.json")

marker = re.compile(r"acme-sectigo-bridge order (\S+)")
by_order, by_name, unmarked = collections.defaultdict(list), collections.defaultdict(list), []
for c in scm["certificates"]:
    m = marker.search(c.get("comments") or "")
    if m:
        by_order[m.group(1)].append(c["sslId"])
    else:
        unmarked.append(c["sslId"])
    by_name[c["commonName"]].append(c["sslId"])
recorded = {o: s for o, s in db["enrollments"].items()}
duplicate_orders = {o: ids for o, ids in by_order.items() if len(ids) > 1}
duplicate_names = {n: ids for n, ids in by_name.items() if len(ids) > 1}
# An orphan: a certificate SCM created that no order of the bridge holds (not the sslId its order
# recorded, or no marker at all).
orphans = unmarked + [i for o, ids in by_order.items() for i in ids if recorded.get(o) != i]
started = lg.get("completed", 0) + lg.get("failed", 0) + lg.get("cut_off_at_deadline", 0)
completed_share = lg.get("completed", 0) / started if started else 0.0
stuck = db["processing"] + db["ready_with_job"]
report = {
    "orders_requested": run["orders"],
    "orders_started_by_client": started,
    "orders_completed_by_client": lg.get("completed", 0),
    "completed_share": round(completed_share, 4),
    "client_failures": lg.get("failures", {}),
    "client_5xx_other_than_503": lg.get("server_errors_seen"),
    "client_retries": {k: lg.get(k) for k in ("connection_retries", "unavailable_retries", "bad_nonce_retries")},
    "orders_by_final_state": db["orders_by_status"],
    "stuck_orders": stuck,
    "duplicate_scm_enrollments": {"orders": len(duplicate_orders), "names": len(duplicate_names)},
    "orphans": len(orphans),
    "scm_certificates": len(scm["certificates"]),
    "valid_orders": db["valid"],
    "certificates_of_valid_orders": db["certificates_of_valid_orders"],
    "valid_orders_without_certificate": db["valid_without_certificate"],
    "kills": run["kills"],
    "postgres_restart_secs": run["pg_restart_secs"],
    "scm_faults": faults,
    "settings": {k: run[k] for k in ("orders", "concurrency", "kill_every", "fault_rate", "seed", "settle_secs")},
    "wall_seconds": lg.get("wall_seconds"),
}
checks = {
    "stuck = 0": stuck == 0,
    "duplicates = 0": not duplicate_orders and not duplicate_names,
    "orphans = 0": not orphans,
    "every valid order has its certificate": db["valid_without_certificate"] == 0
        and db["certificates_of_valid_orders"] == db["valid"],
    "no 5xx but 503 seen by the client": lg.get("server_errors_seen", 1) == 0,
    ">= 95 % of started orders completed": completed_share >= 0.95,
}
report["checks"] = checks
report["passed"] = all(checks.values())
json.dump(report, open(os.path.join(out, "report.json"), "w"), indent=2)
lines = [f"chaos.sh: {run['orders']} orders at C={run['concurrency']}, a kill every {run['kill_every']} s "
         f"({run['kills']} kills), PostgreSQL restarted once ({run['pg_restart_secs']} s), SCM fault rate "
         f"{run['fault_rate']} (seed {run['seed']})",
         f"  client: {report['orders_completed_by_client']}/{started} started orders completed "
         f"({completed_share:.1%}) in {report['wall_seconds']} s; failures {report['client_failures'] or 'none'}; "
         f"retries {report['client_retries']}; 5xx other than 503: {report['client_5xx_other_than_503']}",
         f"  orders by final state: {report['orders_by_final_state']}",
         f"  stuck {stuck}; duplicate SCM enrollments: {len(duplicate_orders)} orders, {len(duplicate_names)} names; "
         f"orphans {len(orphans)}; SCM certificates {len(scm['certificates'])}; certificates of valid orders "
         f"{db['certificates_of_valid_orders']}/{db['valid']}",
         "  checks: " + ", ".join(f"{k}: {'ok' if v else 'FAILED'}" for k, v in checks.items()),
         f"  {'PASSED' if report['passed'] else 'FAILED'}"]
text = "\n".join(lines) + "\n"
open(os.path.join(out, "report.md"), "w").write(text)
print(text)
sys.exit(0 if report["passed"] else 1)
PY
