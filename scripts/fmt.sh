#!/usr/bin/env bash
# make fmt: ruff format, then ruff check --fix.
set -euo pipefail
# shellcheck source=scripts/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
cd "$MINQING_ROOT"
VENV="${VENV:-.venv}"
export VENV

bash scripts/ensure-venv.sh dev
say "ruff format ."
"$VENV/bin/ruff" format .
say "ruff check --fix ."
"$VENV/bin/ruff" check --fix .
