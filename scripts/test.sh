#!/usr/bin/env bash
# Runs the whole test suite: lints, unit tests and integration tests against a real PostgreSQL.
#
# Database, in this order:
#   1. $DATABASE_URL when set (tests create and drop their own databases next to it);
#   2. a server answering on 127.0.0.1:5432 (user postgres);
#   3. otherwise a throwaway cluster made with the installed initdb/pg_ctl in a temp dir, removed after
#      (BRIDGE_TEST_THROWAWAY_PG=1 forces this path).
set -euo pipefail
cd "$(dirname "$0")/.."

log() { echo "test.sh: $*" >&2; }

find_pg_bin() { # prints the directory holding initdb and pg_ctl
  if command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1; then
    dirname "$(readlink -f "$(command -v initdb)")"; return 0
  fi
  local d
  for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -rV); do
    if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then echo "$d"; return 0; fi
  done
  return 1
}

port_answers() { # port_answers PORT
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

PG_TMP=""
PG_BIN=""
cleanup() {
  if [ -n "$PG_TMP" ]; then
    log "stopping the throwaway PostgreSQL cluster"
    run_pg "$PG_BIN/pg_ctl" -D "$PG_TMP/data" -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$PG_TMP"
  fi
}
trap cleanup EXIT

run_pg() { # initdb and postgres refuse to run as root: drop to the postgres user when we are root
  if [ "$(id -u)" -eq 0 ]; then
    id -u postgres >/dev/null 2>&1 || useradd --system --no-create-home postgres
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

start_throwaway_postgres() {
  PG_BIN=$(find_pg_bin) || {
    NEED_POSTGRES_SERVER=1 bash scripts/install-test-deps.sh
    PG_BIN=$(find_pg_bin) || { log "no initdb/pg_ctl found and none could be installed"; exit 1; }
  }
  PG_TMP=$(mktemp -d /tmp/bridge-pg.XXXXXX)
  chmod 755 "$PG_TMP"
  [ "$(id -u)" -eq 0 ] && chown postgres "$PG_TMP"
  local port=55432
  while port_answers "$port"; do port=$((port + 1)); done
  log "starting a throwaway PostgreSQL cluster ($PG_BIN) on port $port"
  run_pg "$PG_BIN/initdb" -D "$PG_TMP/data" -U postgres --auth=trust -E UTF8 >/dev/null
  run_pg "$PG_BIN/pg_ctl" -D "$PG_TMP/data" -l "$PG_TMP/log" -w \
    -o "-c listen_addresses=127.0.0.1 -p $port -k $PG_TMP -c max_connections=300 -c fsync=off" start >/dev/null
  export DATABASE_URL="postgres://postgres@127.0.0.1:$port/postgres"
}

bash scripts/install-test-deps.sh

if [ "${BRIDGE_TEST_THROWAWAY_PG:-0}" = 1 ]; then
  start_throwaway_postgres   # forced: proves the path a machine without PostgreSQL takes
elif [ -n "${DATABASE_URL:-}" ]; then
  log "using DATABASE_URL"
elif port_answers 5432; then
  export DATABASE_URL="postgres://postgres@127.0.0.1:5432/postgres"
  log "using the PostgreSQL server on 127.0.0.1:5432"
else
  start_throwaway_postgres
fi

cargo fmt --all -- --check
cargo clippy --locked --all-targets -- -D warnings
cargo test --locked --all-targets --no-fail-fast
