#!/bin/sh
# Start or stop a private PostgreSQL on loopback, for the tests, the demo and the benchmark.
#   postgres.sh start DIR PORT   cluster, socket and log under DIR; trust auth for user postgres
#   postgres.sh stop DIR
set -eu
cmd=$1 dir=$2
PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1)
[ -n "$PGBIN" ] || { echo "postgres.sh: no PostgreSQL server installed (run make deps)" >&2; exit 69; }
if [ "$(id -u)" = 0 ]; then run="runuser -u postgres --"; else run=""; fi
case "$cmd" in
start)
    port=$3
    mkdir -p "$dir"
    chmod 755 "$dir"
    [ "$(id -u)" = 0 ] && chown postgres "$dir"
    if [ ! -f "$dir/data/PG_VERSION" ]; then
        $run "$PGBIN/initdb" -D "$dir/data" -A trust -U postgres --no-sync >"$dir/initdb.log" 2>&1 \
            || { cat "$dir/initdb.log" >&2; exit 1; }
    fi
    $run "$PGBIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 \
        -o "-c listen_addresses=127.0.0.1 -p $port -c unix_socket_directories=$dir -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
        start >/dev/null || { cat "$dir/server.log" >&2; exit 1; }
    ;;
stop)
    if [ -f "$dir/data/postmaster.pid" ]; then
        $run "$PGBIN/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
    fi
    ;;
*) echo "usage: postgres.sh start DIR PORT | stop DIR" >&2; exit 64 ;;
esac
