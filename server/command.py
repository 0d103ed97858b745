"""The `minqing` console script: Flask's CLI over `create_app()`, with our command groups
(registered by `create_app` from `server.cli`). Kept apart from `server.cli` so that the
app and its commands do not import each other."""

from __future__ import annotations

from flask.cli import FlaskGroup

from server.app import create_app

cli = FlaskGroup(create_app=lambda: create_app(), help="Minqing 民情 — grid patrol service.")


def main() -> None:
    cli.main(prog_name="minqing")
