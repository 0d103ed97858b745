"""A real Minqing server in a child process (gunicorn on a loopback port).

Used by the tests that need a real HTTP peer: the WatermelonDB client in Node, the sync
chaos run (which restarts it mid-run) and the browser tests. It serves the same database
as the test process's `app`, so fixtures written through `app` are visible to it.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LiveServer:
    """gunicorn serving `server.wsgi:app`; `start`, `stop`, `restart`, `url`."""

    def __init__(
        self, app_config: dict[str, Any], log_dir: Path, *, workers: int = 2, **env: str
    ) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.workers = workers
        self.log = log_dir / f"server-{self.port}.log"
        self.env = {
            **os.environ,
            "MINQING_ENV": "testing",
            "SECRET_KEY": app_config["SECRET_KEY"],
            "DATABASE_URL": app_config["SQLALCHEMY_DATABASE_URI"],
            "MINQING_INSTANCE_PATH": app_config["INSTANCE_PATH"],
            "MINQING_MEDIA_PATH": app_config["MEDIA_PATH"],
            "MINQING_PUBLIC_URL": self.url,
            "MINQING_SYNC_PUSHES_PER_MINUTE": str(app_config.get("SYNC_PUSHES_PER_MINUTE", 30)),
            "PYTHONPATH": str(ROOT),
            # every test re-creates the territory: the server must not answer from a grid
            # index of the previous test (it re-checks at most once a second by default)
            "MINQING_TERRITORY_RECHECK_SECONDS": "0",
            **env,
        }
        for name in ("CELERY_BROKER_URL", "CELERY_RESULT_BACKEND"):
            self.env.pop(name, None)  # tasks run in the server process
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 90.0) -> None:
        # 90 s: on a shared, loaded 2-core machine two workers took over 30 s to boot
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "gunicorn",
                    "--bind",
                    f"127.0.0.1:{self.port}",
                    "--workers",
                    str(self.workers),
                    "--threads",
                    "4",
                    "--timeout",
                    "120",
                    "--graceful-timeout",
                    "5",
                    # gunicorn ≥ 24 opens a control socket at one path under $HOME: servers
                    # started side by side (tests, helpers) would take it from each other
                    "--no-control-socket",
                    "server.wsgi:app",
                ],
                env=self.env,
                cwd=ROOT,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited: {self.log.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(self.url + "/healthz", timeout=2) as r:
                    if r.status == 200:
                        return
            except OSError:
                time.sleep(0.2)
        self.stop(hard=True)  # do not leave a late-booting server behind
        raise RuntimeError(f"server did not answer in {timeout} s: {self.log.read_text()[-3000:]}")

    def stop(self, *, hard: bool = False) -> None:
        """Stop the server; `hard` kills it mid-request (a crash), else a graceful stop."""
        if self.process is None:
            return
        self.process.send_signal(signal.SIGKILL if hard else signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        if hard:
            # gunicorn's workers outlive a killed arbiter for a moment; wait for the port.
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                with socket.socket() as s:
                    if s.connect_ex(("127.0.0.1", self.port)) != 0:
                        break
                time.sleep(0.1)
        self.process = None

    def restart(self, *, hard: bool = False) -> None:
        self.stop(hard=hard)
        self.start()

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""
