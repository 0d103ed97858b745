#!/usr/bin/env bash
# Usage: scripts/ensure-node.sh
# Install the Node packages of package-lock.json (`npm ci`) when node_modules is missing or
# older than the lock file: the WatermelonDB conformance client, ECharts and axe-core.
set -euo pipefail
# shellcheck source=scripts/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
cd "$MINQING_ROOT"
stamp=node_modules/.minqing-installed
if [[ -f "$stamp" && "$stamp" -nt package-lock.json ]]; then
  say "node packages up to date (skip)"
  exit 0
fi
say "npm ci"
npm ci --no-audit --no-fund --loglevel=error
touch "$stamp"
