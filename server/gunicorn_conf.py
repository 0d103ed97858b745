"""gunicorn settings for `make run` and the container: `gunicorn -c python:server.gunicorn_conf
server.wsgi:app`. Workers and threads come from MINQING_WEB_WORKERS / MINQING_WEB_THREADS.

On the embedded SpatiaLite database only one writer works at a time whatever the number of
processes (the others wait on the busy timeout), so the default is 2 workers × 4 threads:
reads run side by side, writes queue. On PostGIS the default is 2 × cores + 1 (at most 9).
Each worker's Prometheus counters go to a folder shared by the workers of this server and
wiped when it starts, so `/metrics` on any worker reports the whole server.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

from server.config import PROJECT_ROOT


def _default_workers() -> int:
    url = os.environ.get("DATABASE_URL", "")
    if url.startswith("postgres"):
        return min(2 * (os.cpu_count() or 1) + 1, 9)
    return 2


def _metrics_dir() -> str:
    instance = Path(os.environ.get("MINQING_INSTANCE_PATH") or PROJECT_ROOT / "instance")
    return str(instance / "prometheus" / f"gunicorn-{os.getpid()}")


# Before anything imports prometheus_client: it picks its storage when first imported.
os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", _metrics_dir())
Path(os.environ["PROMETHEUS_MULTIPROC_DIR"]).mkdir(parents=True, exist_ok=True)

bind = os.environ.get("MINQING_BIND", "127.0.0.1:5000")
workers = int(os.environ.get("MINQING_WEB_WORKERS") or _default_workers())
threads = int(os.environ.get("MINQING_WEB_THREADS") or 4)
worker_class = "gthread"
timeout = 60
graceful_timeout = 20
keepalive = 5
# one line per request comes from the app itself (JSON, with the request id): no access log
accesslog = None
errorlog = "-"
# gunicorn's own control socket under $HOME collides between servers started side by side
control_socket_disable = True


def on_starting(_server: Any) -> None:
    folder = Path(os.environ["PROMETHEUS_MULTIPROC_DIR"])
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True, exist_ok=True)


def child_exit(_server: Any, worker: Any) -> None:
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(_server: Any) -> None:
    shutil.rmtree(os.environ["PROMETHEUS_MULTIPROC_DIR"], ignore_errors=True)
