"""Shared by the load benchmarks: gunicorn on the bench database, and a closed-loop HTTP
load driver in plain Python (threads with keep-alive connections; wrk is not installed)."""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Gunicorn:
    """`gunicorn server.wsgi:app` on a loopback port against `database_url`."""

    def __init__(self, database_url: str, *, workers: int = 2, threads: int = 4) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        folder = Path(tempfile.mkdtemp(prefix="minqing-load-"))
        self.log = folder / "gunicorn.log"
        self.cmd = [
            sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{self.port}",
            "--workers", str(workers), "--threads", str(threads), "--timeout", "120",
            "--graceful-timeout", "5", "--log-level", "warning", "server.wsgi:app",
        ]  # fmt: skip
        self.env = {
            **os.environ,
            "MINQING_ENV": "production",
            "SECRET_KEY": "bench-secret-key-that-is-long-enough-0000",
            "DATABASE_URL": database_url,
            "MINQING_INSTANCE_PATH": str(folder),
            "MINQING_PUBLIC_URL": self.url,
            "MINQING_RESIDENT_REPORTS_PER_HOUR": "1000000",
            "MINQING_SYNC_PUSHES_PER_MINUTE": "1000000",
            "PYTHONPATH": str(ROOT),
        }
        for name in ("CELERY_BROKER_URL", "CELERY_RESULT_BACKEND"):
            self.env.pop(name, None)  # after-commit tasks run in the server process
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Gunicorn:
        out = self.log.open("ab")
        self.process = subprocess.Popen(
            self.cmd, env=self.env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited: {self.log.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(self.url + "/healthz", timeout=2) as r:
                    if r.status == 200:
                        return self
            except OSError:
                time.sleep(0.3)
        raise RuntimeError(f"gunicorn did not answer: {self.log.read_text()[-3000:]}")

    def login(self, username: str, password: str) -> str:
        request = urllib.request.Request(
            self.url + "/api/v1/auth/token",
            data=json.dumps({"username": username, "password": password}).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as r:
            return str(json.loads(r.read())["access_token"])

    def __exit__(self, *_exc: object) -> None:
        if self.process is not None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            self.process = None


@dataclass
class LoadResult:
    requests: int
    errors: int
    seconds: float
    latencies_ms: list[float]
    statuses: dict[int, int] | None = None  # status -> count of the non-200 answers

    @property
    def rate(self) -> float:
        return self.requests / self.seconds

    def pct(self, q: float) -> float:
        ordered = sorted(self.latencies_ms)
        if not ordered:
            return float("nan")
        return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]

    @property
    def p50(self) -> float:
        return statistics.median(self.latencies_ms) if self.latencies_ms else float("nan")


def closed_loop(
    port: int, path: str, headers: dict[str, str], *, concurrency: int, seconds: float
) -> LoadResult:
    """`concurrency` clients, each sending the next request when the last one answered,
    for `seconds` (after a 1 s warm-up that is not counted)."""
    latencies: list[list[float]] = [[] for _ in range(concurrency)]
    errors = [0] * concurrency
    statuses: dict[int, int] = {}
    start = time.monotonic() + 1.0
    stop = start + seconds

    def client(i: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        while True:
            began = time.monotonic()
            if began >= stop:
                break
            try:
                conn.request("GET", path, headers=headers)
                response = conn.getresponse()
                response.read()
                ok = response.status == 200
                if not ok:
                    statuses[response.status] = statuses.get(response.status, 0) + 1
            except (OSError, http.client.HTTPException):
                ok = False
                statuses[0] = statuses.get(0, 0) + 1
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            ended = time.monotonic()
            if began >= start and ended <= stop:
                latencies[i].append((ended - began) * 1000)
                if not ok:
                    errors[i] += 1
        conn.close()

    threads = [threading.Thread(target=client, args=(i,)) for i in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    flat = [x for per in latencies for x in per]
    return LoadResult(len(flat), sum(errors), seconds, flat, statuses)
