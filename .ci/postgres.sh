#!/usr/bin/env bash
# Start a throwaway PostgreSQL server for the Dagster instance tests and print its URL; `.ci/postgres.sh stop DIR`
# stops it. Usage: eval "$(.ci/postgres.sh start)"  (exports DAGSTER_PG_URL and PGDATA_DIR)
# Runs as root (CI), as Debian's `postgresql` package installs it: initdb refuses root, so the server runs as the
# `postgres` user, on a private data folder and port, without fsync (test data only).
set -euo pipefail
# A free port unless one is given (other servers may run on this machine).
PORT=${PGPORT_FOR_TESTS:-$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}
PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
case "${1:-start}" in
  start)
    DATA=$(mktemp -d)
    chown postgres: "$DATA"
    runuser -u postgres -- "$PGBIN/initdb" -D "$DATA" -A trust -U postgres --no-sync -E UTF8 > "$DATA.initdb.log"
    runuser -u postgres -- "$PGBIN/pg_ctl" -D "$DATA" -l "$DATA.log" -w \
      -o "-p $PORT -c listen_addresses=127.0.0.1 -c unix_socket_directories=$DATA -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
      start > /dev/null
    "$PGBIN/createdb" -h 127.0.0.1 -p "$PORT" -U postgres dagster
    echo "export DAGSTER_PG_URL=postgresql+psycopg2://postgres@127.0.0.1:$PORT/dagster PGDATA_DIR=$DATA"
    ;;
  stop)
    runuser -u postgres -- "$PGBIN/pg_ctl" -D "$2" -m fast -w stop > /dev/null || true
    rm -rf "$2" "$2.log" "$2.initdb.log"
    ;;
esac
