#!/usr/bin/env bash
# make test: make sure SpatiaLite, the dev virtualenv, a PostgreSQL with PostGIS (database
# minqing_test), a Redis, Debian's Chromium (browser tests) and the Node packages of
# package-lock.json (the WatermelonDB conformance client, ECharts, axe-core) are there, then run pytest on both backends.
#
# Arguments (and the words of PYTEST_ARGS) go to pytest:  make test ARGS='-k locate -x'
# Exports for the suite:
#   MINQING_TEST_DATABASE_URL  postgresql+psycopg://postgres@127.0.0.1:<port>/minqing_test
#   MINQING_TEST_REDIS_URL     redis://127.0.0.1:<port>/15
#   SPATIALITE_LIBRARY_PATH    mod_spatialite
# Either URL already set in the environment is used as it is (nothing is checked or started).
# Throwaway servers started here are stopped when this script exits. Exit code = pytest's.
set -euo pipefail
# shellcheck source=scripts/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
cd "$MINQING_ROOT"
VENV="${VENV:-.venv}"
export VENV

apt_ensure libsqlite3-mod-spatialite chromium fonts-wqy-microhei nginx-light # CJK glyphs in screenshots; nginx: the scale-out test's proxy
command -v npm >/dev/null 2>&1 || apt_ensure nodejs npm
bash scripts/ensure-venv.sh dev
bash scripts/ensure-node.sh

if [[ -n "${MINQING_TEST_DATABASE_URL:-}" ]]; then
  say "MINQING_TEST_DATABASE_URL set by the environment: using it as it is"
else
  # shellcheck source=scripts/ensure-postgres.sh
  source scripts/ensure-postgres.sh
  ensure_postgres minqing_test
fi
if [[ -n "${MINQING_TEST_REDIS_URL:-}" ]]; then
  say "MINQING_TEST_REDIS_URL set by the environment: using it as it is"
else
  # shellcheck source=scripts/ensure-redis.sh
  source scripts/ensure-redis.sh
  ensure_redis
fi
export SPATIALITE_LIBRARY_PATH="${SPATIALITE_LIBRARY_PATH:-mod_spatialite}"

# shellcheck disable=SC2206 # PYTEST_ARGS is split into words on purpose
args=("$@" ${PYTEST_ARGS:-})
say "running: $VENV/bin/python -m pytest ${args[*]}"
rc=0
"$VENV/bin/python" -m pytest "${args[@]}" || rc=$?
case "$rc" in
  0) say "pytest passed" ;;
  5) say "pytest collected no tests (exit 5): counted as a failure" ;;
  *) say "pytest failed (exit $rc)" ;;
esac
exit "$rc"
