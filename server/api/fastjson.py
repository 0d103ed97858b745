"""Hot read endpoints answer with orjson instead of a marshmallow dump and the json module.

The body must already be what the endpoint's schema would dump (plain dicts, lists, str,
int, float, bool, None and timezone-aware datetimes): orjson writes datetimes as
`isoformat()` does, keys in insertion order, non-ASCII as UTF-8, compact, with the newline
Flask's own provider adds — the same bytes the app's JSON provider writes (a test compares
them). The schema stays on the route for the OpenAPI document.
"""

from __future__ import annotations

from typing import Any

import orjson
from flask import Response, current_app


def json_response(body: Any, status: int = 200) -> Response:
    response: Response = current_app.response_class(
        orjson.dumps(body) + b"\n", status=status, mimetype="application/json"
    )
    return response
