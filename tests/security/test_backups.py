"""Backups: `minqing backup` then `minqing restore` into an empty database (both backends),
photos included, and the API answers the same."""

from __future__ import annotations

from io import BytesIO
from pathlib import Path
from typing import Any

import pytest
from conftest import World, bearer, login, make_app
from flask import Flask
from flask.testing import FlaskClient
from helpers import report
from pages import png
from sqlalchemy import create_engine, text


def _empty_database(backend: str, folder: Path) -> str:
    if backend == "spatialite":
        return f"sqlite:///{folder / 'restored.db'}"
    from conftest import postgis_url

    base = postgis_url()
    name = base.rsplit("/", 1)[1].split("?")[0] + "_restore"
    admin = create_engine(base.rsplit("/", 1)[0] + "/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    url = base.rsplit("/", 1)[0] + "/" + name
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("CREATE EXTENSION IF NOT EXISTS postgis"))
    engine.dispose()
    return url


def _answers(client: FlaskClient, token: str, case_id: str, sha: str) -> dict[str, Any]:
    headers = bearer(token)
    case = client.get(f"/api/v1/cases/{case_id}", headers=headers)
    grids = client.get("/api/v1/grids", headers=headers)
    photo = client.get(f"/api/v1/attachments/{sha}", headers=headers)
    assert case.status_code == grids.status_code == photo.status_code == 200
    return {"case": case.get_json(), "grids": grids.get_json(), "photo": photo.data}


def test_backup_and_restore_into_an_empty_database(
    app: Flask,
    client: FlaskClient,
    world: World,
    tokens: dict[str, str],
    backend: str,
    tmp_path: Path,
) -> None:
    collector = tokens["collector"]
    upload = client.post(
        "/api/v1/attachments",
        data={"file": (BytesIO(png((9, 99, 199))), "p.png")},
        headers=bearer(collector),
        content_type="multipart/form-data",
    )
    sha = upload.get_json()["sha256"]
    created = report(client, collector, photos=[sha])
    assert created.status_code == 201, created.get_json()
    case_id = created.get_json()["case"]["id"]
    token = login(client, "dispatcher")
    before = _answers(client, token, case_id, sha)

    archive = tmp_path / "minqing-backup.tar.gz"
    made = app.test_cli_runner().invoke(args=["backup", str(archive)])
    assert made.exit_code == 0, made.output
    assert archive.stat().st_size > 0

    url = _empty_database(backend, tmp_path)
    restored = make_app(url, tmp_path / "restored-instance", MEDIA_PATH=str(tmp_path / "media2"))
    try:
        done = restored.test_cli_runner().invoke(args=["restore", str(archive)])
        assert done.exit_code == 0, done.output
        after = _answers(restored.test_client(), token, case_id, sha)  # the same token works
        assert after == before
        again = restored.test_cli_runner().invoke(args=["restore", str(archive)])
        assert again.exit_code == 1 and "not empty" in again.output + str(again.stderr_bytes)
    finally:
        with restored.app_context():
            from server.extensions import db

            db.session.remove()
            db.engine.dispose()


def test_a_backup_restores_only_onto_its_own_backend(
    app: Flask, world: World, backend: str, tmp_path: Path
) -> None:
    if backend != "spatialite":
        pytest.skip("one direction is enough")
    archive = tmp_path / "b.tar.gz"
    assert app.test_cli_runner().invoke(args=["backup", str(archive)]).exit_code == 0
    import json
    import tarfile

    with tarfile.open(archive) as tar:
        manifest = json.load(tar.extractfile("manifest.json"))  # type: ignore[arg-type]
    assert manifest["backend"] == "spatialite" and manifest["counts"]["users"] == 8
