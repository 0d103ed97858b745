"""A Redis client on Celery's broker, for the few things web nodes and workers share
through it: task outcome counts, beat's heartbeat and its once-per-slot claims."""

from __future__ import annotations

from typing import Any

_clients: dict[str, Any] = {}


def redis_for(url: str | None) -> Any:
    """A client on the Redis at `url`, or None when the broker is not Redis (the embedded
    default runs tasks in-process, with no broker at all)."""
    if not url or not str(url).startswith(("redis://", "rediss://", "unix://")):
        return None
    client = _clients.get(url)
    if client is None:
        import redis

        client = _clients[url] = redis.Redis.from_url(
            url, socket_timeout=2, socket_connect_timeout=2
        )
    return client
