#!/usr/bin/env bash
# Run a real PostgreSQL server (Debian's packages) on loopback for development, tests and CI.
#
#   scripts/postgres.sh start     start it (no-op if it answers already); makes the cluster once
#   scripts/postgres.sh stop      stop it (fast shutdown); no-op if stopped
#   scripts/postgres.sh restart   stop + start
#   scripts/postgres.sh status    exit 0 and print "running" if it answers, else 1
#   scripts/postgres.sh url       print the connection URL the ledger and the tests use
#   scripts/postgres.sh psql ...  a psql session on the ledger's database
#
# Environment (all optional):
#   SGL_PG_DATA        the cluster's folder          (/var/tmp/sgl-postgres-<port>/data: a
#                      folder the `postgres` user can reach when run as root)
#   SGL_PG_PORT        loopback port                 (55432, beside any system cluster)
#   SGL_PG_DATABASE    the database made for the ledger (sgl)
#   SGL_PG_FSYNC       fsync on or off               (on; off only for throwaway clusters)
# Run as root, the server runs as the `postgres` user Debian's packages create.
# The cluster trusts connections from 127.0.0.1 only: a development and test server, never one
# holding real records (docs/operations.md says how to run PostgreSQL for real).
set -euo pipefail

PORT="${SGL_PG_PORT:-55432}"
DATA="${SGL_PG_DATA:-/var/tmp/sgl-postgres-$PORT/data}"
DATABASE="${SGL_PG_DATABASE:-sgl}"
FSYNC="${SGL_PG_FSYNC:-on}"
HOST=127.0.0.1
LOG_FILE="$DATA/../postgres.log"

say() { printf 'postgres.sh: %s\n' "$*"; }
die() { printf 'postgres.sh: error: %s\n' "$*" >&2; exit 1; }

bindir() {
    local found
    if command -v pg_config >/dev/null && [[ -x "$(pg_config --bindir)/pg_ctl" ]]; then
        pg_config --bindir
        return
    fi
    found="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1)"
    [[ -n "$found" ]] || die "no PostgreSQL server found: install Debian's postgresql package"
    echo "$found"
}

BIN="$(bindir)"

# The server refuses to run as root: run its programs as `postgres` then.
as_owner() {
    if [[ "$(id -u)" == 0 ]]; then
        id postgres >/dev/null 2>&1 || die "running as root needs the postgres user"
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

answers() { "$BIN/pg_isready" -q -h "$HOST" -p "$PORT" -t 2; }

url() { echo "postgresql://postgres@$HOST:$PORT/$DATABASE"; }

init_cluster() {
    mkdir -p "$DATA"
    if [[ "$(id -u)" == 0 ]]; then
        chown postgres: "$DATA" "$(dirname "$DATA")"
    fi
    chmod 700 "$DATA"
    say "making a cluster in $DATA"
    as_owner "$BIN/initdb" -D "$DATA" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 \
        >/dev/null
    cat >>"$DATA/postgresql.conf" <<EOF
listen_addresses = '$HOST'
port = $PORT
unix_socket_directories = '$DATA'
max_connections = 300
shared_buffers = 256MB
fsync = $FSYNC
log_min_messages = warning
EOF
    printf 'local all all trust\nhost all all 127.0.0.1/32 trust\n' >"$DATA/pg_hba.conf"
}

start() {
    if answers; then
        say "running on $HOST:$PORT"
        return
    fi
    [[ -s "$DATA/PG_VERSION" ]] || init_cluster
    touch "$LOG_FILE"
    [[ "$(id -u)" == 0 ]] && chown postgres: "$LOG_FILE"
    as_owner "$BIN/pg_ctl" -D "$DATA" -l "$LOG_FILE" -w -t 60 start >/dev/null ||
        { tail -n 30 "$LOG_FILE" >&2; die "the server did not start"; }
    if ! as_owner "$BIN/psql" -h "$HOST" -p "$PORT" -U postgres -tAc \
        "SELECT 1 FROM pg_database WHERE datname = '$DATABASE'" postgres | grep -q 1; then
        as_owner "$BIN/createdb" -h "$HOST" -p "$PORT" -U postgres "$DATABASE"
    fi
    say "running on $HOST:$PORT ($(url))"
}

stop() {
    if [[ ! -s "$DATA/postmaster.pid" ]]; then
        say "stopped"
        return
    fi
    as_owner "$BIN/pg_ctl" -D "$DATA" -m fast -w -t 60 stop >/dev/null || true
    say "stopped"
}

case "${1:-}" in
start) start ;;
stop) stop ;;
restart) stop && start ;;
status)
    if answers; then echo running; else echo stopped && exit 1; fi
    ;;
url) url ;;
psql)
    shift
    exec "$BIN/psql" "$(url)" "$@"
    ;;
*) die "usage: $0 start|stop|restart|status|url|psql" ;;
esac
