#!/usr/bin/env bash
# Usage:  source scripts/ensure-redis.sh; ensure_redis     (test.sh)
#         eval "$(scripts/ensure-redis.sh)"               (by hand; see MINQING_KEEP_SERVICES)
#
# Make sure a Redis answers, then export
#   MINQING_TEST_REDIS_URL=redis://127.0.0.1:<port>/15     (DB 15: tests never touch DB 0)
#
# 1. A Redis answers PING on MINQING_REDIS_PROBE_HOST:MINQING_REDIS_PROBE_PORT (127.0.0.1:6379):
#    use it.
# 2. Otherwise install redis-server if missing and start a THROWAWAY one on 127.0.0.1 port
#    MINQING_REDIS_THROWAWAY_PORT (56379, or the next free one), nothing saved to disk, stopped
#    when the shell that sourced this exits. Run directly, the script stops it again on its own
#    exit unless MINQING_KEEP_SERVICES=1.

# shellcheck source=scripts/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

# True when a Redis on host:port answers PONG (redis-cli, or plain bash if it is missing).
redis_ping() {
  if command -v redis-cli >/dev/null 2>&1; then
    [[ "$(timeout 3 redis-cli -h "$1" -p "$2" ping 2>/dev/null)" == PONG ]]
  else
    (
      exec 3<>"/dev/tcp/$1/$2" || exit 1
      printf 'PING\r\n' >&3
      IFS= read -r -t 3 line <&3 || exit 1
      [[ "$line" == "+PONG"* ]]
    ) 2>/dev/null
  fi
}

_redis_start_throwaway() {
  local dir port i
  command -v redis-server >/dev/null 2>&1 || apt_ensure redis-server
  port="$(free_port "${MINQING_REDIS_THROWAWAY_PORT:-56379}")"
  dir="$(mktemp -d "${TMPDIR:-/tmp}/minqing-redis.XXXXXX")"
  say "starting a throwaway Redis in $dir on 127.0.0.1:$port"
  redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no --daemonize yes \
    --pidfile "$dir/redis.pid" --dir "$dir" --logfile "$dir/redis.log" >/dev/null ||
    die "redis-server did not start"
  for ((i = 0; i < 50; i++)); do
    redis_ping 127.0.0.1 "$port" && break
    sleep 0.1
  done
  redis_ping 127.0.0.1 "$port" || {
    cat "$dir/redis.log" >&2 || true
    die "the throwaway Redis on port $port does not answer"
  }
  local pid
  pid="$(cat "$dir/redis.pid")"
  if [[ "${_MINQING_REDIS_STANDALONE:-0}" == 1 && "${MINQING_KEEP_SERVICES:-0}" == 1 ]]; then
    say "MINQING_KEEP_SERVICES=1: it keeps running; stop it with:"
    printf '    kill %s && rm -rf %s\n' "$pid" "$dir" >&2
  else
    [[ "${_MINQING_REDIS_STANDALONE:-0}" == 1 ]] &&
      say "it stops when this script exits (MINQING_KEEP_SERVICES=1 keeps it)"
    add_cleanup "_redis_stop $pid '$dir' $port"
  fi
  MINQING_REDIS_HOST=127.0.0.1
  MINQING_REDIS_PORT=$port
}

_redis_stop() { # pid dir port
  local i
  kill "$1" 2>/dev/null || true
  for ((i = 0; i < 50; i++)); do
    kill -0 "$1" 2>/dev/null || break
    sleep 0.1
  done
  rm -rf "$2"
  say "stopped the throwaway Redis on port $3"
}

ensure_redis() {
  local probe_host="${MINQING_REDIS_PROBE_HOST:-127.0.0.1}"
  local probe_port="${MINQING_REDIS_PROBE_PORT:-6379}"
  if redis_ping "$probe_host" "$probe_port"; then
    say "Redis answers on $probe_host:$probe_port: using it"
    MINQING_REDIS_HOST=$probe_host
    MINQING_REDIS_PORT=$probe_port
  else
    say "no Redis answers on $probe_host:$probe_port"
    _redis_start_throwaway
  fi
  MINQING_TEST_REDIS_URL="redis://$MINQING_REDIS_HOST:$MINQING_REDIS_PORT/15"
  export MINQING_TEST_REDIS_URL
  say "MINQING_TEST_REDIS_URL=$MINQING_TEST_REDIS_URL"
}

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
  set -euo pipefail
  _MINQING_REDIS_STANDALONE=1
  ensure_redis
  minqing_print_exports MINQING_TEST_REDIS_URL
fi
