"""A bound on how deeply JSON may nest, for every JSON body and JSON query parameter.

Python's parser recurses: 50,000 nested brackets raised RecursionError (a 500) before. Our
payloads nest a few levels (a push: tables → lists → records → a track's points), so 64 is
generous and a deeper document is refused with 400 `json_too_deep`.
"""

from __future__ import annotations

import json
from typing import Any

from flask import current_app, g, request

from server.errors import DomainError

MAX_JSON_DEPTH = 64
_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


class JsonTooDeep(DomainError):
    status = 400

    def __init__(self, field: str | None = None) -> None:
        super().__init__(
            "json_too_deep",
            f"JSON nested more than {MAX_JSON_DEPTH} levels deep is not accepted",
            f"JSON 嵌套层数超过 {MAX_JSON_DEPTH} 层，不予接受",
            field=field,
        )


def depth(value: Any, limit: int = MAX_JSON_DEPTH) -> int:
    """How deeply `value` nests (a scalar is 0), counting at most to `limit` + 1."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        level += 1
        deepest = max(deepest, level)
        if deepest > limit:
            return deepest
        stack.extend((child, level) for child in children if isinstance(child, dict | list))
    return deepest


def loads_bounded(text: str | bytes, field: str | None = None) -> Any:
    """`json.loads`, refusing documents nested deeper than MAX_JSON_DEPTH (ValueError as usual
    for malformed JSON)."""
    try:
        value = json.loads(text)
    except RecursionError:
        raise JsonTooDeep(field) from None
    if depth(value) > MAX_JSON_DEPTH:
        raise JsonTooDeep(field)
    return value


_PARSED = "minqing_request_json"
MALFORMED: Any = object()  # `request_json()` of a body that is not JSON


def request_json(default: bytes = b"{}") -> Any:
    """The request body parsed once (bounded as `loads_bounded`) and kept for the request:
    the depth check before the view and the view itself share one parse. MALFORMED when the
    body is not JSON (the endpoint answers that with its own 400); an empty body parses as
    `default`."""
    cached = g.get(_PARSED, None)
    if cached is not None:
        return cached[0]
    try:
        value = loads_bounded(request.get_data(cache=True) or default)
    except (ValueError, UnicodeDecodeError):
        value = MALFORMED
    setattr(g, _PARSED, (value,))
    return value


def check_request_json() -> None:
    """before_request: refuse a too-deep JSON body before any parser recurses into it."""
    if request.method in ("GET", "HEAD", "OPTIONS") or not request.content_length:
        return
    limit = current_app.config.get("MAX_CONTENT_LENGTH")
    if limit and request.content_length > limit:
        return  # too large to read: the view (or werkzeug) answers 413
    if request.mimetype in _FORM_TYPES:
        return
    if not request.is_json:
        head = request.get_data(cache=True)[:64].lstrip()
        if not head.startswith((b"{", b"[")):
            return
    request_json()  # a too-deep body raises; malformed: the endpoint's own parser answers it
