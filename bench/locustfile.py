"""The mixed load for `bench/load_mix.py` (run by it; locust reads this file).

Four kinds of users, each at a fixed rate of tasks (`constant_throughput`), so the whole
arrives at a fixed rate (users × MINQING_LOAD_RATE tasks per second) whatever the latency:

- dispatchers (2): page the queue (first page, then the next by its cursor), read the
  counts, and accept a reported case (409 from a lost race is an answer, not an error);
- collectors (3): a phone's sync pull (a first pull, then incremental ones) with a device
  token from `/api/v1/devices/enrol`, and now and then a report in their own grid;
- residents (3): open a case link, and rate a case awaiting their rating (once each);
- the public board (2): `/board`, the index and the bulletins.

The data (logins, points, links) comes from the JSON file named by MINQING_LOAD_DATA.
"""

from __future__ import annotations

import json
import os
import random
from typing import Any

from locust import HttpUser, constant_throughput, task

DATA: dict[str, Any] = json.loads(open(os.environ["MINQING_LOAD_DATA"]).read())  # noqa: SIM115
RATE = float(os.environ.get("MINQING_LOAD_RATE", "0.5"))
TO_RATE: list[str] = list(DATA["awaiting_rating"])
random.shuffle(TO_RATE)


def _ok(response: Any, *allowed: int) -> None:
    """Count only what the server should not answer as a failure."""
    if response.status_code in (200, 201, *allowed):
        response.success()
    else:
        response.failure(f"HTTP {response.status_code}: {response.text[:120]}")


class Dispatcher(HttpUser):
    weight = 2
    wait_time = constant_throughput(RATE)

    def on_start(self) -> None:
        answer = self.client.post(
            "/api/v1/auth/token",
            json={"username": "dispatcher", "password": DATA["password"]},
            name="/auth/token",
        )
        self.headers = {"Authorization": f"Bearer {answer.json()['access_token']}"}

    @task(4)
    def page_the_queue(self) -> None:
        with self.client.get(
            "/api/v1/cases?limit=50", headers=self.headers, name="/cases", catch_response=True
        ) as r:
            _ok(r)
            cursor = r.json().get("next_cursor") if r.status_code == 200 else None
        if cursor:
            with self.client.get(
                f"/api/v1/cases?limit=50&cursor={cursor}",
                headers=self.headers,
                name="/cases (next page)",
                catch_response=True,
            ) as r:
                _ok(r)

    @task(2)
    def counts(self) -> None:
        with self.client.get(
            "/api/v1/cases/counts", headers=self.headers, name="/cases/counts",
            catch_response=True,
        ) as r:  # fmt: skip
            _ok(r)

    @task(1)
    def accept_one(self) -> None:
        with self.client.get(
            "/api/v1/cases?status=reported&limit=20",
            headers=self.headers,
            name="/cases?status=reported",
            catch_response=True,
        ) as r:
            _ok(r)
            items = r.json()["items"] if r.status_code == 200 else []
        if not items:
            return
        case = random.choice(items)
        with self.client.post(
            f"/api/v1/cases/{case['id']}/actions/accept",
            json={"version": case["version"]},
            headers=self.headers,
            name="/cases/{id}/actions/accept",
            catch_response=True,
        ) as r:
            _ok(r, 409)  # another dispatcher was first


class Collector(HttpUser):
    weight = 3
    wait_time = constant_throughput(RATE)

    def on_start(self) -> None:
        self.login, self.point = random.choice(DATA["collectors"])
        answer = self.client.post(
            "/api/v1/devices/enrol",
            json={"username": self.login, "password": DATA["password"], "name": "load"},
            name="/devices/enrol",
        )
        self.headers = {"Authorization": f"Bearer {answer.json()['token']}"}
        self.last_pulled_at: int | None = None

    @task(5)
    def pull(self) -> None:
        url = "/api/v1/sync/pull"
        name = "/sync/pull (first)"
        if self.last_pulled_at is not None:
            url += f"?last_pulled_at={self.last_pulled_at}"
            name = "/sync/pull (incremental)"
        with self.client.get(url, headers=self.headers, name=name, catch_response=True) as r:
            _ok(r)
            if r.status_code == 200:
                self.last_pulled_at = r.json()["timestamp"]

    @task(1)
    def report(self) -> None:
        lon, lat = self.point
        with self.client.post(
            "/api/v1/cases",
            json={
                "category": "sanitation",
                "description": "巡查发现垃圾堆放（压测）",
                "lon": lon + random.uniform(-1e-5, 1e-5),
                "lat": lat + random.uniform(-1e-5, 1e-5),
            },
            headers=self.headers,
            name="/cases",
            catch_response=True,
        ) as r:
            _ok(r)


class Resident(HttpUser):
    weight = 3
    wait_time = constant_throughput(RATE)

    @task(4)
    def open_link(self) -> None:
        token = random.choice(DATA["links"])
        with self.client.get(
            f"/api/v1/public/cases/{token}", name="/public/cases/{token}", catch_response=True
        ) as r:
            _ok(r)

    @task(1)
    def rate(self) -> None:
        if not TO_RATE:
            return self.open_link()
        token = TO_RATE.pop()
        with self.client.post(
            f"/api/v1/public/cases/{token}/rating",
            json={"verdict": random.choice(["satisfied", "satisfied", "basic", "unsatisfied"])},
            name="/public/cases/{token}/rating",
            catch_response=True,
        ) as r:
            _ok(r)
        return None


class PublicBoard(HttpUser):
    weight = 2
    wait_time = constant_throughput(RATE)

    @task(2)
    def board(self) -> None:
        with self.client.get("/board", name="/board", catch_response=True) as r:
            _ok(r)

    @task(1)
    def index(self) -> None:
        with self.client.get("/api/v1/index", name="/index", catch_response=True) as r:
            _ok(r)
        with self.client.get("/api/v1/bulletins", name="/bulletins", catch_response=True) as r:
            _ok(r)
