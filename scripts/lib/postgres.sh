# Helpers for a throwaway PostgreSQL cluster, sourced by scripts/test.sh and scripts/bench.sh.
# After `start_pg_cluster`, PG_PORT is its port and PG_TMP its directory; `stop_pg_cluster`
# removes it (call it from the caller's EXIT trap). PG_BIN must hold initdb and pg_ctl
# (`find_pg_bin` finds them; installing PostgreSQL when missing is the caller's choice).

PG_TMP=""
PG_BIN=""
PG_PORT=""

port_answers() { # port_answers PORT: whether something listens on 127.0.0.1:PORT
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

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

run_pg() { # initdb and postgres refuse to run as root: drop to the postgres user when we are root
  if [ "$(id -u)" -eq 0 ]; then
    id -u postgres >/dev/null 2>&1 || useradd --system --no-create-home postgres
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

start_pg_cluster() { # start_pg_cluster NAME "EXTRA SERVER OPTIONS": a fresh cluster on a free port
  PG_TMP=$(mktemp -d "/tmp/$1.XXXXXX")
  chmod 755 "$PG_TMP"
  [ "$(id -u)" -eq 0 ] && chown postgres "$PG_TMP"
  PG_PORT=55432
  while port_answers "$PG_PORT"; do PG_PORT=$((PG_PORT + 1)); done
  echo "starting a throwaway PostgreSQL cluster ($PG_BIN) on port $PG_PORT" >&2
  run_pg "$PG_BIN/initdb" -D "$PG_TMP/data" -U postgres --auth=trust -E UTF8 >/dev/null
  # A start can fail for reasons outside our control (the port taken between the check and the
  # bind, say): the server's log is shown and the next free port tried, three times at most.
  local attempt
  for attempt in 1 2 3; do
    if run_pg "$PG_BIN/pg_ctl" -D "$PG_TMP/data" -l "$PG_TMP/log" -w \
      -o "-c listen_addresses=127.0.0.1 -p $PG_PORT -k $PG_TMP -c max_connections=300 $2" \
      start >/dev/null; then
      return 0
    fi
    echo "the throwaway cluster did not start on port $PG_PORT (attempt $attempt); its log:" >&2
    tail -n 20 "$PG_TMP/log" >&2 || true
    PG_PORT=$((PG_PORT + 1))
    while port_answers "$PG_PORT"; do PG_PORT=$((PG_PORT + 1)); done
  done
  return 1
}

stop_pg_cluster() { # stops and removes the cluster start_pg_cluster made, if any
  if [ -n "$PG_TMP" ]; then
    echo "stopping the throwaway PostgreSQL cluster" >&2
    run_pg "$PG_BIN/pg_ctl" -D "$PG_TMP/data" -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$PG_TMP"
    PG_TMP=""
  fi
}
