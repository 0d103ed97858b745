#!/usr/bin/env bash
# Usage: scripts/ensure-venv.sh [runtime|dev]
#
# Make sure the virtualenv ($VENV, default .venv) exists and has the project installed:
#   runtime -> pip install -e .         (make run)
#   dev     -> pip install -e '.[dev]'  (make test, lint, fmt, bench)
# The install runs only when pyproject.toml is newer than the stamp file
# $VENV/.minqing-installed-<mode> (a dev install also satisfies runtime), so reruns are fast.
# PYTHON picks the interpreter that creates the venv (default: python3, then python3.11).
set -euo pipefail
# shellcheck source=scripts/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
cd "$MINQING_ROOT"

mode="${1:-dev}"
case "$mode" in
  runtime) spec="." ;;
  dev) spec=".[dev]" ;;
  *) die "usage: $0 [runtime|dev]" ;;
esac

VENV="${VENV:-.venv}"
export PIP_DISABLE_PIP_VERSION_CHECK=1

py_ok() { "$1" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null; }

pick_python() {
  local cand
  for cand in ${PYTHON:+"$PYTHON"} python3 python3.11; do
    if command -v "$cand" >/dev/null 2>&1 && py_ok "$cand"; then
      command -v "$cand"
      return 0
    fi
  done
  die "Python >= 3.11 not found (set PYTHON=/path/to/python3.11)"
}

venv_works() { [[ -x "$VENV/bin/python" ]] && "$VENV/bin/python" -c 'import sys' 2>/dev/null; }

if ! venv_works; then
  py="$(pick_python)"
  # Debian's python3 has no ensurepip (so no `python3 -m venv`) without python3-venv.
  if ! "$py" -c 'import venv, ensurepip' 2>/dev/null; then
    apt_ensure python3-venv
  fi
  if [[ -e "$VENV" ]]; then
    [[ -f "$VENV/pyvenv.cfg" ]] || die "$VENV exists but is not a virtualenv; move it away or set VENV"
    say "virtualenv $VENV is broken: recreating it"
    rm -rf "$VENV"
  fi
  say "creating virtualenv $VENV ($("$py" --version 2>&1))"
  "$py" -m venv "$VENV"
else
  say "virtualenv $VENV present (skip)"
fi

stamp="$VENV/.minqing-installed-$mode"
up_to_date() { [[ -f "$1" && ! pyproject.toml -nt "$1" ]]; }

if up_to_date "$stamp" || { [[ "$mode" == runtime ]] && up_to_date "$VENV/.minqing-installed-dev"; }; then
  say "project already installed in $VENV ($mode; pyproject.toml unchanged) (skip)"
  exit 0
fi

say "installing the project into $VENV: pip install -e '$spec'"
"$VENV/bin/python" -m pip install --quiet -e "$spec" >&2
touch "$stamp"
say "installed ($mode)"
