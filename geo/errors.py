"""The one error type of the spatial package, bilingual so it can reach a user as is."""

from __future__ import annotations

from typing import Any


class GeoError(ValueError):
    """A fault in spatial input, with a stable code and an English and a Chinese message.

    ``location`` is the (lon, lat) of the fault when it has one; ``path`` names the
    offending member of the input, e.g. ``features[3].geometry.coordinates[0]``.
    """

    code: str
    message: str
    message_zh: str
    location: tuple[float, float] | None
    path: str | None

    def __init__(
        self,
        code: str,
        message: str,
        message_zh: str,
        *,
        location: tuple[float, float] | None = None,
        path: str | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.message_zh = message_zh
        self.location = location
        self.path = path

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return f"GeoError(code={self.code!r}, message={self.message!r}, path={self.path!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        # Keeps the error picklable (Celery results, multiprocessing) with its keyword fields.
        return (_rebuild, (self.code, self.message, self.message_zh, self.location, self.path))

    def with_path_prefix(self, prefix: str) -> GeoError:
        """The same error, its path placed under ``prefix`` (e.g. ``features[2].geometry``)."""
        if not prefix:
            return self
        if not self.path:
            path = prefix
        elif self.path.startswith("["):
            path = f"{prefix}{self.path}"
        else:
            path = f"{prefix}.{self.path}"
        return GeoError(self.code, self.message, self.message_zh, location=self.location, path=path)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready mapping for API error bodies."""
        return {
            "code": self.code,
            "message": self.message,
            "message_zh": self.message_zh,
            "location": list(self.location) if self.location is not None else None,
            "path": self.path,
        }


def _rebuild(
    code: str,
    message: str,
    message_zh: str,
    location: tuple[float, float] | None,
    path: str | None,
) -> GeoError:
    return GeoError(code, message, message_zh, location=location, path=path)
