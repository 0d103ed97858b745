"""On the real worker: an upload's thumbnail is made after commit, from the public copy."""

from __future__ import annotations

import hashlib
import os
from io import BytesIO
from pathlib import Path

import pytest
from conftest import Worker, World, bearer, login, wait_for
from flask import Flask
from PIL import ExifTags, Image

pytestmark = pytest.mark.worker


def _photo_with_gps(size: tuple[int, int]) -> bytes:
    image = Image.frombytes("RGB", size, os.urandom(size[0] * size[1] * 3))
    exif = Image.Exif()
    exif[ExifTags.IFD.GPSInfo] = {1: "N", 2: (32.0, 23.0, 24.0), 3: "E", 4: (119.0, 25.0, 48.0)}
    out = BytesIO()
    image.save(out, format="JPEG", exif=exif.tobytes())
    return out.getvalue()


def _thumbnail_ready(app: Flask, sha256: str) -> bool:
    from server.extensions import db
    from server.models import Attachment

    with app.app_context():
        row = db.session.get(Attachment, sha256)
        return bool(row and row.thumbnail_ready)


def test_upload_gets_its_thumbnail_from_the_worker(
    app: Flask, worker: Worker, world: World
) -> None:
    client = app.test_client()
    data = _photo_with_gps((1000, 750))
    sha256 = hashlib.sha256(data).hexdigest()
    response = client.post(
        "/api/v1/attachments",
        data={"file": (BytesIO(data), "photo.jpg")},
        headers=bearer(login(client, "collector")),
        content_type="multipart/form-data",
    )
    assert response.status_code == 201, response.get_json()
    # Enqueued after commit, not run in this process: the row starts without a thumbnail.
    assert response.get_json()["thumbnail_ready"] is False

    wait_for(lambda: _thumbnail_ready(app, sha256), timeout=60)
    thumb = Path(app.config["MEDIA_PATH"]) / "thumbs" / sha256[:2] / sha256[2:4] / f"{sha256}.jpg"
    with Image.open(thumb) as image:
        assert image.format == "JPEG"
        assert max(image.size) == app.config["THUMBNAIL_SIZE"]
        assert image.size == (320, 240)
        assert ExifTags.IFD.GPSInfo not in image.getexif()
    served = client.get(
        f"/api/v1/attachments/{sha256}/thumbnail", headers=bearer(login(client, "collector"))
    )
    assert served.status_code == 200
    assert served.data == thumb.read_bytes()
