#!/usr/bin/env bash
# make bench: run bench/locate.py, then every other bench/*.py, with the test environment:
#   MINQING_BENCH_DATABASE_URL = MINQING_TEST_DATABASE_URL = postgresql+psycopg://…/minqing_bench
#   (PostGIS; a throwaway cluster if none answers, see ensure-postgres.sh)
#   SPATIALITE_LIBRARY_PATH    = mod_spatialite
# Arguments go to every script. Fails if any script fails.
set -euo pipefail
# shellcheck source=scripts/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
cd "$MINQING_ROOT"
VENV="${VENV:-.venv}"
export VENV

apt_ensure libsqlite3-mod-spatialite
bash scripts/ensure-venv.sh dev
# shellcheck source=scripts/ensure-postgres.sh
source scripts/ensure-postgres.sh
ensure_postgres minqing_bench
export MINQING_BENCH_DATABASE_URL="$MINQING_TEST_DATABASE_URL"
export SPATIALITE_LIBRARY_PATH="${SPATIALITE_LIBRARY_PATH:-mod_spatialite}"

scripts=()
[[ -f bench/locate.py ]] && scripts+=(bench/locate.py)
for f in bench/*.py; do
  [[ -f "$f" && "$f" != bench/locate.py && "$(basename "$f")" != _* ]] && scripts+=("$f")
done
if ((${#scripts[@]} == 0)); then
  warn "no benchmark scripts in bench/ (expected bench/locate.py)"
  exit 0
fi

failed=()
for f in "${scripts[@]}"; do
  say "benchmark: $f"
  start=$SECONDS
  "$VENV/bin/python" "$f" "$@" || failed+=("$f")
  say "$f took $((SECONDS - start)) s"
done
if ((${#failed[@]})); then
  printf 'error: benchmark failed: %s\n' "${failed[@]}" >&2
  exit 1
fi
