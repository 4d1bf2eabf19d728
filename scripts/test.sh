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

# shellcheck source=scripts/lib/postgres.sh
. scripts/lib/postgres.sh
trap stop_pg_cluster EXIT

start_throwaway_postgres() {
  PG_BIN=$(find_pg_bin) || {
    NEED_POSTGRES_SERVER=1 bash scripts/install-test-deps.sh
    PG_BIN=$(find_pg_bin) || { log "no initdb/pg_ctl found and none could be installed"; exit 1; }
  }
  start_pg_cluster bridge-pg "-c fsync=off"
  export DATABASE_URL="postgres://postgres@127.0.0.1:$PG_PORT/postgres"
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
