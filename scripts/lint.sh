#!/usr/bin/env bash
# make lint: ruff check, ruff format --check, mypy (files from pyproject), lint-imports.
# Runs all four and fails if any failed.
set -euo pipefail
# shellcheck source=scripts/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
cd "$MINQING_ROOT"
VENV="${VENV:-.venv}"
export VENV

bash scripts/ensure-venv.sh dev

failed=()
check() {
  say "$*"
  "$VENV/bin/$1" "${@:2}" || failed+=("$*")
}
check ruff check .
check ruff format --check .
check mypy
check lint-imports

if ((${#failed[@]})); then
  printf 'error: lint failed: %s\n' "${failed[@]}" >&2
  exit 1
fi
say "lint passed"
