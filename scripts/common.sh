# shellcheck shell=bash
# Shared helpers for scripts/*.sh. Source it; do not run it.
#
#   say "message"              print "==> message" on stderr
#   die "message"              print "error: message" on stderr, exit 1
#   apt_ensure PKG...          install the Debian packages that are missing (apt-get update
#                              only when something must be installed); not root -> print the
#                              exact command and exit 1
#   add_cleanup 'command'      run 'command' when the shell exits (last added runs first)
#
# Everything human-readable goes to stderr, so a script run as
# `eval "$(scripts/ensure-postgres.sh)"` gets only its export lines on stdout.

if [[ -n "${_MINQING_COMMON_LOADED:-}" ]]; then
  return 0
fi
_MINQING_COMMON_LOADED=1

MINQING_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export MINQING_ROOT

say() { printf '==> %s\n' "$*" >&2; }
warn() { printf 'warning: %s\n' "$*" >&2; }
die() {
  printf 'error: %s\n' "$*" >&2
  exit 1
}

is_root() { [[ "$(id -u)" -eq 0 ]]; }

# True when the Debian package is installed (not merely known or half-configured).
pkg_installed() {
  dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'
}

_MINQING_APT_UPDATED=0
apt_ensure() {
  local missing=() pkg
  if ! command -v dpkg-query >/dev/null 2>&1; then
    die "this script expects Debian/Ubuntu (dpkg-query not found); install by hand: $*"
  fi
  for pkg in "$@"; do
    pkg_installed "$pkg" || missing+=("$pkg")
  done
  if ((${#missing[@]} == 0)); then
    say "apt packages present: $* (skip)"
    return 0
  fi
  if ! is_root; then
    printf 'error: missing Debian packages: %s\n' "${missing[*]}" >&2
    printf 'run as root:\n  sudo apt-get update && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends %s\n' \
      "${missing[*]}" >&2
    exit 1
  fi
  say "installing apt packages: ${missing[*]}"
  if ((_MINQING_APT_UPDATED == 0)); then
    say "apt-get update"
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 update -qq >&2
    _MINQING_APT_UPDATED=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -qq \
    --no-install-recommends "${missing[@]}" >&2
}

_MINQING_CLEANUPS=()
_minqing_run_cleanups() {
  local i
  for ((i = ${#_MINQING_CLEANUPS[@]} - 1; i >= 0; i--)); do
    eval "${_MINQING_CLEANUPS[i]}" || true
  done
  _MINQING_CLEANUPS=()
}
add_cleanup() {
  _MINQING_CLEANUPS+=("$1")
  trap _minqing_run_cleanups EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
}

# True when a TCP port on host accepts connections (bash /dev/tcp, no extra tools).
tcp_open() {
  # shellcheck disable=SC2016 # $1 and $2 expand in the inner bash
  timeout 3 bash -c 'exec 3<>"/dev/tcp/$1/$2"' _ "$1" "$2" 2>/dev/null
}

# First port from $1 upwards (10 tries) on 127.0.0.1 where nothing listens.
free_port() {
  local port=$1 end=$(($1 + 10))
  while ((port < end)); do
    if ! tcp_open 127.0.0.1 "$port"; then
      echo "$port"
      return 0
    fi
    port=$((port + 1))
  done
  die "no free port in $1..$((end - 1))"
}

# Called at the end of a script that can also be sourced: when run directly, print the
# exports for `eval "$(...)"`; the throwaway servers stop on exit unless MINQING_KEEP_SERVICES=1.
minqing_print_exports() {
  local name
  for name in "$@"; do
    printf 'export %s=%q\n' "$name" "${!name}"
  done
}
