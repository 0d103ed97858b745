"""Structured logs: one JSON object per line, each carrying the request id that caused it.

The request id comes from `X-Request-ID` (when it is a short token) or is made here; it is
sent back in the answer, carried into every Celery task the request enqueues (a message
header) and logged by the worker. Logs name the user id and device id where known — never a
name, phone number or password (they are not in any log record we write; the formatter does
not serialise `args` of third-party records beyond their formatted message).
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import sys
import time
import uuid
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from flask import Flask, Response, g, request

REQUEST_ID_HEADER = "X-Request-ID"
_ACCEPTED_ID = re.compile(r"^[A-Za-z0-9._:-]{8,64}$")

request_id: ContextVar[str | None] = ContextVar("minqing_request_id", default=None)
_request_log = logging.getLogger("minqing.request")


def new_request_id(offered: str | None = None) -> str:
    """The caller's id when it is a plain token of 8–64 characters, else a fresh one (so a
    client cannot inject newlines or quotes into the logs)."""
    if offered and _ACCEPTED_ID.fullmatch(offered):
        return offered
    return uuid.uuid4().hex


class JsonFormatter(logging.Formatter):
    """A log record as one line of JSON: time, level, logger, message, request id, and the
    user/device ids when the record is written during a request that has them."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        rid = getattr(record, "request_id", None) or request_id.get()
        if rid:
            entry["request_id"] = rid
        for key in ("user_id", "device_id", "method", "path", "status", "duration_ms", "task"):
            value = getattr(record, key, None)
            if value is not None:
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def configure(level: str, fmt: str) -> None:
    """Root logging for the process: `json` (the default) or `text` (for a developer's
    terminal). Like `logging.basicConfig`, it leaves a root logger that someone else has
    already equipped (pytest's capture, an embedding application) alone, but sets its level;
    called again (another app in the same process), it replaces only its own handler."""
    root = logging.getLogger()
    root.setLevel(level)
    ours = [h for h in root.handlers if getattr(h, "minqing", False)]
    if len(ours) != len(root.handlers):
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.minqing = True  # type: ignore[attr-defined]
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s")
        )
        handler.addFilter(_TextRequestId())
    root.handlers[:] = [handler]


class _TextRequestId(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(record, "request_id", None):
            record.request_id = request_id.get() or "-"
        return True


def _who() -> tuple[int | None, str | None]:
    principal = g.get("principal") or g.get("web_principal")
    if principal is None:
        return None, None
    return principal.user_id, principal.device_id


_factory_installed = False


def _stamp_records() -> None:
    """Every log record remembers the request id current when it was made (it may be
    formatted later, e.g. by a queued handler)."""
    global _factory_installed
    if _factory_installed:
        return
    _factory_installed = True
    previous = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        if getattr(record, "request_id", None) is None:
            record.request_id = request_id.get()
        return record

    logging.setLogRecordFactory(factory)


def install(app: Flask) -> None:
    """Give every request an id, answer it in `X-Request-ID`, log one line per request."""
    _stamp_records()

    @app.before_request
    def _start() -> None:
        g.request_started = time.perf_counter()
        g.request_id = new_request_id(request.headers.get(REQUEST_ID_HEADER))
        g.request_id_token = request_id.set(g.request_id)

    @app.after_request
    def _finish(response: Response) -> Response:
        rid = g.get("request_id")
        if rid:
            response.headers[REQUEST_ID_HEADER] = rid
        started = g.get("request_started")
        if started is not None and app.config.get("LOG_REQUESTS", True):
            user_id, device_id = _who()
            _request_log.info(
                "%s %s %s",
                request.method,
                request.url_rule.rule if request.url_rule else "(no route)",
                response.status_code,
                extra={
                    "method": request.method,
                    # the route's pattern, not the URL: tokens and ids in paths stay out of logs
                    "path": request.url_rule.rule if request.url_rule else None,
                    "status": response.status_code,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                    "user_id": user_id,
                    "device_id": device_id,
                },
            )
        return response

    @app.teardown_request
    def _reset(_exc: BaseException | None) -> None:
        token = g.get("request_id_token")
        if token is not None:
            request_id.reset(token)
            g.request_id_token = None


_celery_installed = False


def install_celery() -> None:
    """Carry the request id from the web process into the tasks it enqueues, and put it in
    the worker's context while the task runs. Connected once per process."""
    global _celery_installed
    if _celery_installed:
        return
    _celery_installed = True
    from celery import signals

    @signals.before_task_publish.connect(weak=False)
    def _publish(headers: dict[str, Any] | None = None, **_kwargs: Any) -> None:
        rid = request_id.get()
        if rid and headers is not None:
            headers["minqing_request_id"] = rid

    @signals.task_prerun.connect(weak=False)
    def _prerun(task: Any = None, **_kwargs: Any) -> None:
        rid = getattr(task.request, "minqing_request_id", None) if task is not None else None
        if rid is None and task is not None:
            rid = (getattr(task.request, "headers", None) or {}).get("minqing_request_id")
        task.request.minqing_token = request_id.set(rid or request_id.get() or new_request_id())

    @signals.task_postrun.connect(weak=False)
    def _postrun(task: Any = None, **_kwargs: Any) -> None:
        token = getattr(task.request, "minqing_token", None) if task is not None else None
        if token is not None:
            with contextlib.suppress(ValueError):  # set in another context (eager, in a request)
                request_id.reset(token)
