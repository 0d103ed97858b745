"""The `minqing` console script: Flask's CLI over `create_app()`, with our command groups
(registered by `create_app` from `server.cli`). Kept apart from `server.cli` so that the
app and its commands do not import each other."""

from __future__ import annotations

import os
import sys

import click
from flask.cli import FlaskGroup, ScriptInfo, run_command

from server.app import create_app

cli = FlaskGroup(create_app=lambda: create_app(), help="Minqing 民情 — grid patrol service.")


@click.pass_context
def _run_with_warning(ctx: click.Context, **kwargs: object) -> None:
    """Flask's `run`, but say so loudly when other machines can reach a weak key."""
    from server.config import bind_warning

    app = ctx.ensure_object(ScriptInfo).load_app()
    warning = bind_warning(
        str(kwargs["host"]), app.config.get("SECRET_KEY_SOURCE", ""), app.config["SECRET_KEY"]
    )
    if warning:
        click.secho(warning, fg="yellow", bold=True, err=True)
    ctx.invoke(run_command.callback, **kwargs)  # type: ignore[arg-type]


cli.add_command(
    click.Command(
        "run",
        params=run_command.params,
        callback=_run_with_warning,
        help=run_command.help,
        short_help=run_command.short_help,
    )
)


@cli.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="address to bind")
@click.option("--port", default=5000, show_default=True, type=int, help="port to bind")
def serve(host: str, port: int) -> None:
    """Serve with gunicorn, the production server (`make run` uses it): workers and threads
    from MINQING_WEB_WORKERS / MINQING_WEB_THREADS (server/gunicorn_conf.py)."""
    from server.config import bind_warning

    app = create_app()  # refuses to start on a bad setting, before gunicorn forks
    warning = bind_warning(host, app.config.get("SECRET_KEY_SOURCE", ""), app.config["SECRET_KEY"])
    if warning:
        click.secho(warning, fg="yellow", bold=True, err=True)
    bind = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    os.environ["MINQING_BIND"] = bind
    args = [
        sys.executable,
        "-m",
        "gunicorn",
        "-c",
        "python:server.gunicorn_conf",
        "server.wsgi:app",
    ]
    os.execv(sys.executable, args)


def main() -> None:
    cli.main(prog_name="minqing")
