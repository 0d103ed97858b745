"""Scale-out, for real: two gunicorn nodes behind nginx over one PostGIS and one Redis, with a
Celery worker and one beat per node — how a city runs Minqing for many sub-districts.

Shows that a session and its sign-out hold across nodes, that sign-in throttling counts
across nodes, that a phone syncing through both nodes in turn loses and duplicates nothing,
that each beat task runs once per period however many beats send it, and that `/readyz`
fails when the worker is gone. PostGIS only: the embedded SpatiaLite file is one machine's.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import redis
import requests
from conftest import TEST_PASSWORD, World, redis_url, wait_for
from factories import LAT0, LON0, STEP
from flask import Flask
from live import free_port

from server.services.uow import unit_of_work
from sync.client import RetryPolicy, SyncClient

ROOT = Path(__file__).resolve().parents[2]
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
TICK_SECONDS = 2
GUNICORN_APP = "server.wsgi:app"
FAST = RetryPolicy(attempts=10, base_s=0.05, cap_s=0.5)

NGINX_CONF = """
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 256; }}
http {{
  access_log {prefix}/access.log;
  client_body_temp_path {prefix}/body;
  proxy_temp_path {prefix}/proxy;
  fastcgi_temp_path {prefix}/fastcgi;
  uwsgi_temp_path {prefix}/uwsgi;
  scgi_temp_path {prefix}/scgi;
  client_max_body_size 20m;
  upstream minqing {{
    server 127.0.0.1:{a};
    server 127.0.0.1:{b};
  }}
  server {{
    listen 127.0.0.1:{port};
    location / {{
      proxy_pass http://minqing;
      proxy_set_header Host $http_host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto $scheme;
      proxy_set_header X-Forwarded-Host $http_host;
      proxy_buffering off;
      add_header X-Upstream $upstream_addr always;
    }}
  }}
}}
"""


@dataclass
class Cluster:
    proxy: str
    nodes: list[str]
    redis: Any
    queue: str
    folder: Path
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)

    def log(self, name: str) -> str:
        path = self.folder / f"{name}.log"
        return path.read_text(errors="replace")[-4000:] if path.exists() else ""

    def start(self, name: str, argv: list[str], **extra: str) -> subprocess.Popen[bytes]:
        with (self.folder / f"{name}.log").open("ab") as out:
            process = subprocess.Popen(
                argv,
                env={**self.env, **extra},
                cwd=ROOT,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.processes[name] = process
        return process

    def stop(self, name: str) -> None:
        process = self.processes.pop(name, None)
        if process is None or process.poll() is not None:
            return
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def _wait_http(url: str, process: subprocess.Popen[bytes], what: str, log: Any) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited: {log()}")
        try:
            if requests.get(url, timeout=2).status_code < 500:
                return
        except requests.RequestException:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"{what} did not answer within 60 s: {log()}")


def _celery(cluster: Cluster, name: str, *args: str) -> None:
    cluster.start(name, [sys.executable, "-m", "celery", "-A", "server.celery_app", *args])


@pytest.fixture
def cluster(app: Flask, backend: str, world: World, tmp_path: Path) -> Iterator[Cluster]:
    if backend != "postgis":
        pytest.skip("scale-out runs over one shared PostGIS, not a SpatiaLite file")
    base = urllib.parse.urlsplit(redis_url())
    # a Redis database of its own: no worker of another test answers this cluster's pings
    db = 13 if base.path.strip("/") != "13" else 12
    broker = urllib.parse.urlunsplit(base._replace(path=f"/{db}"))
    client = redis.Redis.from_url(broker)
    client.flushdb()
    queue = f"minqing-scaleout-{os.getpid()}"
    ports = [free_port(), free_port()]
    cluster = Cluster(
        proxy=f"http://127.0.0.1:{free_port()}",
        nodes=[f"http://127.0.0.1:{port}" for port in ports],
        redis=client,
        queue=queue,
        folder=tmp_path,
    )
    cluster.env = {
        **os.environ,
        "MINQING_ENV": "testing",
        "SECRET_KEY": app.config["SECRET_KEY"],
        "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
        "MINQING_INSTANCE_PATH": str(tmp_path / "instance"),
        "MINQING_MEDIA_PATH": app.config["MEDIA_PATH"],  # shared, like a volume in compose
        "CELERY_BROKER_URL": broker,
        "CELERY_RESULT_BACKEND": broker,
        "MINQING_CELERY_QUEUE": queue,
        "MINQING_BEAT_TICK_SECONDS": str(TICK_SECONDS),
        "MINQING_PROXY_HOPS": "1",
        "MINQING_TERRITORY_RECHECK_SECONDS": "0",
        "MINQING_LOGIN_MAX_FAILURES": "3",
        "MINQING_WEB_WORKERS": "2",
        "MINQING_WEB_THREADS": "2",
        "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",
        "PYTHONPATH": str(ROOT),
    }
    try:
        for index, port in enumerate(ports):
            node = f"node{index}"
            cluster.start(
                node,
                [
                    sys.executable,
                    "-m",
                    "gunicorn",
                    "-c",
                    "python:server.gunicorn_conf",
                    GUNICORN_APP,
                ],
                MINQING_BIND=f"127.0.0.1:{port}",
            )
        _celery(cluster, "worker", "worker", "--pool=solo", "-Q", queue, "-l", "info")
        for index in range(2):  # one beat per node: the slots keep each task to one run
            _celery(
                cluster, f"beat{index}", "beat", "-l", "info", "-s", str(tmp_path / f"b{index}")
            )
        prefix = tmp_path / "nginx"
        prefix.mkdir()
        proxy_port = int(cluster.proxy.rsplit(":", 1)[1])
        conf = NGINX_CONF.format(prefix=prefix, a=ports[0], b=ports[1], port=proxy_port)
        if os.geteuid() == 0:
            conf = "user root;\n" + conf
        (prefix / "nginx.conf").write_text(conf)
        cluster.start(
            "nginx",
            [NGINX, "-p", str(prefix), "-c", str(prefix / "nginx.conf"), "-g", "daemon off;"],
        )
        for index, url in enumerate(cluster.nodes):
            _wait_http(
                url + "/healthz",
                cluster.processes[f"node{index}"],
                f"node{index}",
                lambda i=index: cluster.log(f"node{i}"),
            )
        _wait_http(
            cluster.proxy + "/healthz",
            cluster.processes["nginx"],
            "nginx",
            lambda: cluster.log("nginx") + (prefix / "error.log").read_text(),
        )
        yield cluster
    finally:
        for name in list(cluster.processes):
            cluster.stop(name)
        client.flushdb()


def log_record(grid_id: str, text: str) -> dict[str, Any]:
    return {
        "grid_id": grid_id,
        "text": text,
        "lon": LON0 + 0.3 * STEP,  # inside A1
        "lat": LAT0 + 0.6 * STEP,
        "crs": "wgs84",
        "photos": "[]",
        "logged_at": int(time.time() * 1000),
        "patrol_id": None,
        "category_id": None,
        "case_id": None,
    }


def _upstreams(responses: list[requests.Response]) -> set[str]:
    return {r.headers.get("X-Upstream", "") for r in responses}


def _sign_in_page(session: requests.Session, base: str, username: str, password: str) -> int:
    form = session.get(f"{base}/login", timeout=10)
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text) or re.search(
        r'name="_csrf" value="([^"]+)"', form.text
    )
    assert token, form.text[:500]
    field_name = re.search(
        r'<input type="hidden" name="([^"]+)" value="' + re.escape(token.group(1)), form.text
    )
    assert field_name
    answer = session.post(
        f"{base}/login",
        data={field_name.group(1): token.group(1), "username": username, "password": password},
        allow_redirects=False,
        timeout=10,
    )
    return answer.status_code


def test_a_page_session_and_its_sign_out_hold_on_every_node(cluster: Cluster) -> None:
    browser = requests.Session()
    assert _sign_in_page(browser, cluster.proxy, "dispatcher", TEST_PASSWORD) in (302, 303)
    pages = [
        browser.get(f"{cluster.proxy}/console/cases", allow_redirects=False, timeout=10)
        for _ in range(6)
    ]
    assert [p.status_code for p in pages] == [200] * 6
    assert len(_upstreams(pages)) == 2, "the proxy should have used both nodes"
    # the same cookie straight at each node: both know the session
    for node in cluster.nodes:
        direct = browser.get(f"{node}/console/cases", allow_redirects=False, timeout=10)
        assert direct.status_code == 200
    csrf_page = browser.get(f"{cluster.proxy}/console/cases", timeout=10)
    token = re.search(r'<input type="hidden" name="([^"]+)" value="([^"]+)"', csrf_page.text)
    assert token
    out = browser.post(
        f"{cluster.proxy}/logout",
        data={token.group(1): token.group(2)},
        allow_redirects=False,
        timeout=10,
    )
    assert out.status_code in (302, 303)
    for node in cluster.nodes:  # signed out on one node: refused on both
        after = browser.get(f"{node}/console/cases", allow_redirects=False, timeout=10)
        assert after.status_code in (302, 303) and "/login" in after.headers["Location"]


def test_an_api_token_signed_out_through_one_node_is_refused_by_the_other(cluster: Cluster) -> None:
    answer = requests.post(
        f"{cluster.nodes[0]}/api/v1/auth/token",
        json={"username": "dispatcher", "password": TEST_PASSWORD},
        timeout=10,
    )
    token = answer.json()["access_token"]
    auth = {"Authorization": f"Bearer {token}"}
    assert (
        requests.get(f"{cluster.nodes[1]}/api/v1/me", headers=auth, timeout=10).status_code == 200
    )
    assert (
        requests.post(
            f"{cluster.nodes[0]}/api/v1/auth/logout", headers=auth, timeout=10
        ).status_code
        == 200
    )
    assert (
        requests.get(f"{cluster.nodes[1]}/api/v1/me", headers=auth, timeout=10).status_code == 401
    )


def test_sign_in_throttling_counts_across_nodes(cluster: Cluster) -> None:
    # MINQING_LOGIN_MAX_FAILURES=3 for (name, address): three failures spread over both nodes
    bad = {"username": "collector", "password": "wrong-password-0"}
    answers = [
        requests.post(f"{cluster.proxy}/api/v1/auth/token", json=bad, timeout=10) for _ in range(3)
    ]
    assert [a.status_code for a in answers] == [401, 401, 401]
    assert len(_upstreams(answers)) == 2
    for node in cluster.nodes:  # even the right password now waits, on either node
        good = {"username": "collector", "password": TEST_PASSWORD}
        refused = requests.post(f"{cluster.proxy}/api/v1/auth/token", json=good, timeout=10)
        assert refused.status_code == 429, (node, refused.text)
        assert int(refused.headers["Retry-After"]) > 0


def test_a_phone_syncing_through_both_nodes_loses_and_duplicates_nothing(
    cluster: Cluster, app: Flask, world: World
) -> None:
    from server.extensions import db
    from server.models import PatrolLog
    from server.services.people.devices import issue_device

    with app.app_context(), unit_of_work() as uow:
        token = issue_device(uow, "collector").token
        other = issue_device(uow, "collector").token
    phone = SyncClient(cluster.nodes[0], token, retry=FAST)
    created: list[str] = []
    grid = str(world.grid_ids["A1"])
    for round_ in range(6):
        phone.server_url = cluster.nodes[round_ % 2]  # the phone lands on a node by chance
        for i in range(5):
            created.append(phone.create("patrol_logs", log_record(grid, f"第{round_}轮记录{i}")))
        phone.sync()
        phone.sync()  # a second sync through the same node changes nothing
    assert phone.has_local_changes() is False
    reader = SyncClient(cluster.proxy, other, retry=FAST)
    reader.sync()
    pulled = sorted(r["id"] for r in reader.all("patrol_logs"))
    assert pulled == sorted(created)
    with app.app_context():
        stored = db.session.query(PatrolLog.id).filter(PatrolLog.id.in_(created)).count()
        db.session.remove()
    assert stored == len(created) == 30


def test_each_beat_task_runs_once_per_period_with_a_beat_on_every_node(cluster: Cluster) -> None:
    ticks = lambda: int(cluster.redis.get("minqing:beat:ticks") or 0)  # noqa: E731
    wait_for(lambda: ticks() >= 1, timeout=60)
    started, first = time.monotonic(), ticks()
    time.sleep(5 * TICK_SECONDS)
    elapsed, ran = time.monotonic() - started, ticks() - first
    periods = elapsed / TICK_SECONDS
    # two beats each send a tick every period: once per period means ~periods runs, not 2×
    assert periods - 2 <= ran <= periods + 1.5, (ran, periods, cluster.log("worker"))
    sent_twice = len(cluster.redis.keys("minqing:beat:minqing.health.beat_tick:*"))
    assert sent_twice >= ran  # every run claimed its slot


def test_readyz_is_ready_then_names_the_stopped_worker(cluster: Cluster) -> None:
    def ready() -> Any:
        answer = requests.get(f"{cluster.proxy}/readyz", timeout=15)
        return answer if answer.status_code == 200 else None

    body = wait_for(ready, timeout=60).json()
    assert body["status"] == "ready"
    assert set(body["checks"]) >= {"database", "broker", "worker", "beat", "holidays"}
    cluster.stop("worker")
    for node in cluster.nodes:
        answer = requests.get(f"{node}/readyz", timeout=15)
        assert answer.status_code == 503
        checks = answer.json()["checks"]
        assert checks["worker"]["ok"] is False and checks["database"]["ok"] is True
