#!/usr/bin/env bash
# Usage:  source scripts/ensure-postgres.sh; ensure_postgres DBNAME   (test.sh / bench.sh)
#         eval "$(scripts/ensure-postgres.sh [DBNAME])"   (by hand; see MINQING_KEEP_SERVICES)
#
# Make sure a PostgreSQL with PostGIS answers and DBNAME (default minqing_test) exists with the
# postgis extension, then export
#   MINQING_TEST_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:<port>/<DBNAME>
#
# 1. Something answers on MINQING_PG_PROBE_HOST:MINQING_PG_PROBE_PORT (127.0.0.1:5432, as on CI,
#    user postgres with trust auth): use it.
# 2. Otherwise start a THROWAWAY cluster from Debian's packages (installing `postgresql` only if no
#    /usr/lib/postgresql/*/bin/initdb exists): initdb into a temp dir as user postgres, trust auth,
#    port MINQING_PG_THROWAWAY_PORT (55432, or the next free one), stopped and deleted when the
#    shell that sourced this exits. Run directly, the script stops it again on its own exit unless
#    MINQING_KEEP_SERVICES=1 (it then prints how to stop it).
# The postgis package installed, if needed, is postgresql-<server major>-postgis-3; the server
# package itself (postgresql-NN) is never named, so a running server is never upgraded under itself.
# Other knobs: MINQING_PG_USER (postgres).

# shellcheck source=scripts/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

_pg_ready() { # host port
  if command -v pg_isready >/dev/null 2>&1; then
    pg_isready -q -h "$1" -p "$2" -t 3
  else
    tcp_open "$1" "$2"
  fi
}

_pg_psql() { # db sql...
  local db=$1
  shift
  PGOPTIONS="${PGOPTIONS:-} -c client_min_messages=warning" psql -X -q -A -t -v ON_ERROR_STOP=1 -h "$MINQING_PG_HOST" -p "$MINQING_PG_PORT" \
    -U "$MINQING_PG_USER" -d "$db" -c "$@"
}

_pg_as_postgres() {
  if is_root; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

_pg_start_throwaway() {
  local initdb bindir dir port
  initdb="$(find /usr/lib/postgresql -path '*/bin/initdb' 2>/dev/null | sort -V | tail -n 1 || true)"
  if [[ -z "$initdb" ]]; then
    say "no PostgreSQL server binaries (/usr/lib/postgresql/*/bin/initdb): installing them"
    apt_ensure postgresql
    initdb="$(find /usr/lib/postgresql -path '*/bin/initdb' 2>/dev/null | sort -V | tail -n 1 || true)"
    [[ -n "$initdb" ]] || die "initdb still missing after installing postgresql"
  fi
  bindir="$(dirname "$initdb")"
  if is_root; then
    id postgres >/dev/null 2>&1 || die "user postgres missing (initdb refuses to run as root)"
  fi

  port="$(free_port "${MINQING_PG_THROWAWAY_PORT:-55432}")"
  dir="$(mktemp -d "${TMPDIR:-/tmp}/minqing-pg.XXXXXX")"
  is_root && chown postgres: "$dir"
  say "starting a throwaway PostgreSQL ($bindir) in $dir on 127.0.0.1:$port"
  _pg_as_postgres "$bindir/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 \
    --locale=C.UTF-8 --no-sync >"$dir/initdb.log" 2>&1 ||
    {
      cat "$dir/initdb.log" >&2
      die "initdb failed"
    }

  local stop="_pg_as_postgres '$bindir/pg_ctl' -D '$dir/data' -m fast -w stop >/dev/null 2>&1; rm -rf '$dir'; say 'stopped the throwaway PostgreSQL on port $port'"
  if [[ "${_MINQING_PG_STANDALONE:-0}" == 1 && "${MINQING_KEEP_SERVICES:-0}" == 1 ]]; then
    say "MINQING_KEEP_SERVICES=1: it keeps running; stop it with:"
    printf '    %s\n' "runuser -u postgres -- $bindir/pg_ctl -D $dir/data -m fast stop && rm -rf $dir" >&2
  else
    [[ "${_MINQING_PG_STANDALONE:-0}" == 1 ]] &&
      say "it stops when this script exits (MINQING_KEEP_SERVICES=1 keeps it)"
    add_cleanup "$stop"
  fi

  _pg_as_postgres "$bindir/pg_ctl" -D "$dir/data" -l "$dir/log" -w -t 60 \
    -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
    start >/dev/null ||
    {
      cat "$dir/log" >&2 || true
      die "the throwaway PostgreSQL did not start"
    }
  MINQING_PG_HOST=127.0.0.1
  MINQING_PG_PORT=$port
  MINQING_PG_USER=postgres
  MINQING_PG_THROWAWAY_DIR=$dir
}

_pg_ensure_postgis_available() {
  local num major
  num="$(_pg_psql postgres 'SHOW server_version_num')"
  major=$((num / 10000))
  if [[ "$(_pg_psql postgres "SELECT count(*) FROM pg_available_extensions WHERE name = 'postgis'")" == 1 ]]; then
    say "PostgreSQL $major: postgis extension available (skip)"
    return 0
  fi
  case "$MINQING_PG_HOST" in
    127.0.0.1 | localhost | ::1) ;;
    *) die "PostgreSQL at $MINQING_PG_HOST:$MINQING_PG_PORT has no postgis extension; install PostGIS there" ;;
  esac
  say "PostgreSQL $major has no postgis extension: installing postgresql-$major-postgis-3"
  apt_ensure "postgresql-$major-postgis-3"
  [[ "$(_pg_psql postgres "SELECT count(*) FROM pg_available_extensions WHERE name = 'postgis'")" == 1 ]] ||
    die "postgis still unavailable on PostgreSQL $major at $MINQING_PG_HOST:$MINQING_PG_PORT (is the server from another installation?)"
}

ensure_postgres() {
  local db="${1:-minqing_test}"
  local probe_host="${MINQING_PG_PROBE_HOST:-127.0.0.1}" probe_port="${MINQING_PG_PROBE_PORT:-5432}"
  MINQING_PG_USER="${MINQING_PG_USER:-postgres}"
  [[ "$db" =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]] || die "bad database name: $db"

  if _pg_ready "$probe_host" "$probe_port"; then
    say "PostgreSQL answers on $probe_host:$probe_port: using it"
    MINQING_PG_HOST=$probe_host
    MINQING_PG_PORT=$probe_port
  else
    say "no PostgreSQL answers on $probe_host:$probe_port"
    _pg_start_throwaway
  fi
  command -v psql >/dev/null 2>&1 || apt_ensure postgresql-client
  _pg_psql postgres 'SELECT 1' >/dev/null ||
    die "cannot connect as $MINQING_PG_USER to $MINQING_PG_HOST:$MINQING_PG_PORT (trust auth, or PGPASSWORD, expected)"

  _pg_ensure_postgis_available

  if [[ "$(_pg_psql postgres "SELECT count(*) FROM pg_database WHERE datname = '$db'")" == 1 ]]; then
    say "database $db exists (skip)"
  else
    say "creating database $db"
    _pg_psql postgres "CREATE DATABASE \"$db\"" >/dev/null
  fi
  _pg_psql "$db" 'CREATE EXTENSION IF NOT EXISTS postgis' >/dev/null
  say "database $db has postgis $(_pg_psql "$db" "SELECT extversion FROM pg_extension WHERE extname = 'postgis'")"

  MINQING_TEST_DATABASE_URL="postgresql+psycopg://$MINQING_PG_USER@$MINQING_PG_HOST:$MINQING_PG_PORT/$db"
  export MINQING_TEST_DATABASE_URL MINQING_PG_HOST MINQING_PG_PORT MINQING_PG_USER
  if [[ -n "${MINQING_PG_THROWAWAY_DIR:-}" ]]; then export MINQING_PG_THROWAWAY_DIR; fi
  say "MINQING_TEST_DATABASE_URL=$MINQING_TEST_DATABASE_URL"
}

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
  set -euo pipefail
  _MINQING_PG_STANDALONE=1
  ensure_postgres "${1:-${MINQING_PG_DB:-minqing_test}}"
  minqing_print_exports MINQING_TEST_DATABASE_URL
fi
