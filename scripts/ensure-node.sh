#!/usr/bin/env bash
# Usage: scripts/ensure-node.sh
# Install the Node packages of package-lock.json (`npm ci`) when node_modules is missing or
# older than the lock file: the WatermelonDB conformance client and field app, esbuild,
# ECharts and axe-core. Then build the field app (scripts/build-mobile.sh, served at /app/).
set -euo pipefail
# shellcheck source=scripts/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
cd "$MINQING_ROOT"
stamp=node_modules/.minqing-installed
if [[ -f "$stamp" && "$stamp" -nt package-lock.json ]]; then
  say "node packages up to date (skip)"
else
  say "npm ci"
  npm ci --no-audit --no-fund --loglevel=error
  touch "$stamp"
fi
bash scripts/build-mobile.sh
