#!/usr/bin/env bash
# make run: install what is missing, migrate, seed the demo, serve on HOST:PORT.
#
# Environment: PORT (5000), HOST (127.0.0.1), VENV (.venv), DATABASE_URL (default decided by
# the app: SpatiaLite file under instance/), MINQING_DEMO_PASSWORD (read by `minqing demo seed`),
# SPATIALITE_LIBRARY_PATH (mod_spatialite).
set -euo pipefail
# shellcheck source=scripts/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
cd "$MINQING_ROOT"

HOST="${HOST:-127.0.0.1}"
PORT="${PORT:-5000}"
VENV="${VENV:-.venv}"
export VENV

case "${DATABASE_URL:-}" in
  postgresql*) say "DATABASE_URL is PostgreSQL: SpatiaLite not needed (skip)" ;;
  *) apt_ensure libsqlite3-mod-spatialite ;;
esac

bash scripts/ensure-venv.sh runtime
# ECharts for the console's charts; without npm the pages still work (tables only)
if command -v npm >/dev/null 2>&1; then
  bash scripts/ensure-node.sh || say "npm ci or the field app build failed: console charts show tables only, /app/ is missing"
else
  say "npm not found: console charts will show tables only"
fi

export SPATIALITE_LIBRARY_PATH="${SPATIALITE_LIBRARY_PATH:-mod_spatialite}"
# a person reads this terminal: plain lines (production and the container log JSON)
export MINQING_LOG_FORMAT="${MINQING_LOG_FORMAT:-text}"
minqing="$VENV/bin/minqing"
[[ -x "$minqing" ]] || die "$minqing not found: the console script 'minqing' (server.command:main) is missing"

if [[ -n "${DATABASE_URL:-}" ]]; then
  say "database: ${DATABASE_URL%%://*}://… (from DATABASE_URL)"
else
  say "database: embedded SpatiaLite (the app's default: ${MINQING_INSTANCE_PATH:-instance}/minqing.db)"
fi

say "migrating database: minqing db upgrade"
"$minqing" db upgrade

say "seeding demo data: minqing demo seed"
"$minqing" demo seed

case "$HOST" in
  0.0.0.0 | :: | '') shown=127.0.0.1 ;;
  *) shown="$HOST" ;;
esac
base="http://$shown:$PORT"
cat >&2 <<EOF

==> Minqing is starting on $HOST:$PORT
    console        $base/console/cases   (demo users: see README)
    API docs       $base/api/v1/docs
    OpenAPI        $base/api/v1/openapi.json
    try            curl '$base/api/v1/locate?lon=119.4357&lat=32.3878&crs=gcj02'
    (Ctrl-C stops it)

EOF
say "serving with gunicorn: minqing serve --host $HOST --port $PORT (workers and threads: server/gunicorn_conf.py; \`minqing run\` is Flask's development server)"
exec "$minqing" serve --host "$HOST" --port "$PORT"
