"""Photos: upload by multipart or by hash, idempotent; real image checks; GPS kept private.

Every refused upload is checked to have written nothing: no row, no file.
"""

from __future__ import annotations

import hashlib
import os
import struct
import uuid
import zlib
from io import BytesIO
from pathlib import Path
from typing import Any

import pytest
from conftest import World, bearer
from flask import Flask
from flask.testing import FlaskClient
from PIL import ExifTags, Image

from server.services.uow import unit_of_work

GPS = {1: "N", 2: (32.0, 23.0, 24.0), 3: "E", 4: (119.0, 25.0, 48.0)}


# --- building test photos ---------------------------------------------------------------


def photo(
    fmt: str = "JPEG",
    size: tuple[int, int] = (96, 64),
    *,
    gps: bool = False,
    orientation: int | None = None,
) -> bytes:
    """A small photo of random pixels (so every call gives new bytes, a new hash)."""
    image = Image.frombytes("RGB", size, os.urandom(size[0] * size[1] * 3))
    exif = Image.Exif()
    if gps:
        exif[ExifTags.IFD.GPSInfo] = GPS
    if orientation:
        exif[ExifTags.Base.Orientation] = orientation
    out = BytesIO()
    image.save(out, format=fmt, exif=exif.tobytes() if len(exif) else b"")
    return out.getvalue()


def png_header_only(width: int, height: int) -> bytes:
    """A tiny PNG that claims width × height pixels: a decompression bomb's calling card."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)  # 1-bit greyscale
    idat = zlib.compress(b"\0" * 64)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# --- fixtures and helpers ---------------------------------------------------------------


@pytest.fixture
def media(app: Flask, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A media folder of this test's own, so files from other tests cannot hide a fault."""
    folder = tmp_path / "media"
    monkeypatch.setitem(app.config, "MEDIA_PATH", str(folder))
    return folder


@pytest.fixture
def auth(tokens: dict[str, str]) -> dict[str, str]:
    return bearer(tokens["collector"])


def files_under(folder: Path) -> set[Path]:
    return {p for p in folder.rglob("*") if p.is_file()} if folder.exists() else set()


def rows(app: Flask) -> list[Any]:
    from sqlalchemy import select

    from server.extensions import db
    from server.models import Attachment

    with app.app_context():
        found = list(db.session.scalars(select(Attachment)))
        db.session.expunge_all()
        return found


def row(app: Flask, sha256: str) -> Any:
    from server.extensions import db
    from server.models import Attachment

    with app.app_context():
        found = db.session.get(Attachment, sha256)
        db.session.expunge_all()
        return found


def post(client: FlaskClient, data: bytes, headers: dict[str, str], name: str = "p.jpg") -> Any:
    return client.post(
        "/api/v1/attachments",
        data={"file": (BytesIO(data), name)},
        headers=headers,
        content_type="multipart/form-data",
    )


def put(client: FlaskClient, sha256: str, data: bytes, headers: dict[str, str]) -> Any:
    return client.put(
        f"/api/v1/attachments/{sha256}",
        data=data,
        headers=headers,
        content_type="application/octet-stream",
    )


def assert_error(response: Any, status: int, code: str, field: str | None = None) -> dict:  # type: ignore[type-arg]
    assert response.status_code == status, response.get_data(as_text=True)
    body = response.get_json()
    assert body["code"] == code, body
    assert body["message"] and any("\u4e00" <= ch <= "\u9fff" for ch in body["message_zh"])
    if field is not None:
        assert body.get("field") == field, body
    return body  # type: ignore[no-any-return]


def assert_nothing_written(app: Flask, media: Path) -> None:
    assert rows(app) == []
    assert files_under(media) == set()


def stored_paths(media: Path, sha256: str, ext: str) -> tuple[Path, Path, Path]:
    shard = f"{sha256[:2]}/{sha256[2:4]}"
    return (
        media / "originals" / shard / sha256,
        media / "public" / shard / f"{sha256}.{ext}",
        media / "thumbs" / shard / f"{sha256}.jpg",
    )


# --- storing ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "mime", "ext"),
    [("JPEG", "image/jpeg", "jpg"), ("PNG", "image/png", "png"), ("WEBP", "image/webp", "webp")],
)
def test_upload_stores_original_public_copy_and_row(
    app: Flask,
    client: FlaskClient,
    auth: dict[str, str],
    media: Path,
    world: World,
    fmt: str,
    mime: str,
    ext: str,
) -> None:
    data = photo(fmt, (120, 80))
    response = post(client, data, auth)
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    digest = sha(data)
    assert body == {
        "sha256": digest,
        "size": len(data),
        "mime": mime,
        "width": 120,
        "height": 80,
        "thumbnail_ready": True,  # no broker in these tests: the task ran right after commit
        "url": f"/api/v1/attachments/{digest}",
        "thumbnail_url": f"/api/v1/attachments/{digest}/thumbnail",
        "personal": False,
        "removed_at": None,
    }
    assert response.headers["Location"] == body["url"]
    original, public, thumb = stored_paths(media, digest, ext)
    assert original.read_bytes() == data
    with Image.open(public) as image:
        assert image.format == fmt and image.size == (120, 80)
    assert files_under(media) == {original, public, thumb}
    stored = row(app, digest)
    assert stored.uploaded_by_id == world.user_ids["collector"]
    assert stored.had_gps is False


def test_same_bytes_again_return_the_stored_row_and_rewrite_nothing(
    app: Flask, client: FlaskClient, auth: dict[str, str], media: Path
) -> None:
    data = photo()
    assert post(client, data, auth).status_code == 201
    before = {p: p.stat().st_mtime_ns for p in files_under(media)}
    created_at = row(app, sha(data)).created_at

    again = post(client, data, auth)
    assert again.status_code == 200
    assert again.get_json()["sha256"] == sha(data)
    by_put = put(client, sha(data), data, auth)
    assert by_put.status_code == 200
    assert by_put.get_json() == again.get_json()
    assert len(rows(app)) == 1
    assert row(app, sha(data)).created_at == created_at
    assert {p: p.stat().st_mtime_ns for p in files_under(media)} == before


def test_put_with_the_matching_hash_stores_the_photo(
    app: Flask, client: FlaskClient, auth: dict[str, str], media: Path
) -> None:
    data = photo("PNG")
    response = put(client, sha(data), data, auth)
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["mime"] == "image/png"
    assert stored_paths(media, sha(data), "png")[0].read_bytes() == data


def test_put_under_another_hash_is_refused(
    app: Flask, client: FlaskClient, auth: dict[str, str], media: Path
) -> None:
    data = photo()
    other = sha(b"something else")
    body = assert_error(put(client, other, data, auth), 400, "hash_mismatch", "sha256")
    assert body["details"] == {"declared": other, "actual": sha(data)}
    assert_nothing_written(app, media)


@pytest.mark.parametrize("bad", ["A" * 64, "0" * 63, "g" * 64, "0" * 65])
def test_put_with_a_malformed_hash_is_a_validation_error(
    app: Flask, client: FlaskClient, auth: dict[str, str], media: Path, bad: str
) -> None:
    assert_error(put(client, bad, photo(), auth), 422, "validation_error", "sha256")
    assert_nothing_written(app, media)


def test_head_tells_whether_a_photo_is_stored(
    client: FlaskClient, auth: dict[str, str], media: Path
) -> None:
    data = photo()
    url = f"/api/v1/attachments/{sha(data)}"
    assert client.head(url, headers=auth).status_code == 404
    assert client.head(url).status_code == 401
    post(client, data, auth)
    response = client.head(url, headers=auth)
    assert response.status_code == 200
    assert response.data == b""
    assert response.headers["ETag"] == f'"{sha(data)}"'


# --- what is served: the public copy, never the original --------------------------------


def test_public_copy_has_no_gps_while_the_original_keeps_it(
    app: Flask, client: FlaskClient, auth: dict[str, str], media: Path
) -> None:
    data = photo(gps=True, orientation=6)  # stored sideways: 96 wide, shown 64 wide
    with Image.open(BytesIO(data)) as sent:
        assert sent.getexif().get_ifd(ExifTags.IFD.GPSInfo)[2] == (32.0, 23.0, 24.0)
    response = post(client, data, auth)
    assert response.status_code == 201
    assert (response.get_json()["width"], response.get_json()["height"]) == (64, 96)
    assert row(app, sha(data)).had_gps is True

    original, public, thumb = stored_paths(media, sha(data), "jpg")
    with Image.open(original) as kept:
        assert kept.getexif().get_ifd(ExifTags.IFD.GPSInfo)[4] == (119.0, 25.0, 48.0)

    served = client.get(f"/api/v1/attachments/{sha(data)}", headers=auth)
    assert served.status_code == 200
    assert served.data == public.read_bytes()
    thumb_served = client.get(f"/api/v1/attachments/{sha(data)}/thumbnail", headers=auth)
    assert thumb_served.status_code == 200
    assert thumb_served.data == thumb.read_bytes()
    for copy in (served.data, thumb_served.data):
        with Image.open(BytesIO(copy)) as image:
            assert image.format == "JPEG"
            assert len(image.getexif()) == 0
            assert ExifTags.IFD.GPSInfo not in image.getexif()
            assert "exif" not in image.info and "xmp" not in image.info
        assert b"Exif\x00\x00" not in copy
    with Image.open(BytesIO(served.data)) as image:
        assert image.size == (64, 96)  # orientation applied to the pixels


def test_get_serves_the_public_copy_with_long_cache_headers(
    client: FlaskClient, auth: dict[str, str], media: Path
) -> None:
    data = photo("PNG")
    post(client, data, auth, "p.png")
    url = f"/api/v1/attachments/{sha(data)}"
    response = client.get(url, headers=auth)
    assert response.status_code == 200
    assert response.mimetype == "image/png"
    assert response.headers["ETag"] == f'"{sha(data)}"'
    cache = response.cache_control
    assert cache.private and cache.immutable and not cache.public
    assert cache.max_age is not None and cache.max_age >= 30 * 24 * 3600
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    again = client.get(url, headers={**auth, "If-None-Match": f'"{sha(data)}"'})
    assert again.status_code == 304 and again.data == b""


@pytest.mark.parametrize("sha256", ["0" * 64, "not-a-hash", "F" * 64])
def test_unknown_photo_is_404(client: FlaskClient, auth: dict[str, str], sha256: str) -> None:
    assert_error(client.get(f"/api/v1/attachments/{sha256}", headers=auth), 404, "not_found")
    response = client.get(f"/api/v1/attachments/{sha256}/thumbnail", headers=auth)
    assert_error(response, 404, "not_found")


def test_thumbnail_pending_then_made_once(
    app: Flask, client: FlaskClient, auth: dict[str, str], media: Path
) -> None:
    from server.extensions import db
    from server.models import Attachment
    from server.services.files.attachments import make_thumbnail

    data = photo(size=(800, 600))
    post(client, data, auth)
    thumb = stored_paths(media, sha(data), "jpg")[2]
    with app.app_context():  # as if the worker had not run yet
        db.session.get(Attachment, sha(data)).thumbnail_ready = False
        db.session.commit()
    thumb.unlink()
    url = f"/api/v1/attachments/{sha(data)}/thumbnail"
    pending = client.get(url, headers=auth)
    assert_error(pending, 404, "thumbnail_pending")
    assert int(pending.headers["Retry-After"]) > 0

    with app.app_context():
        with unit_of_work() as uow:
            assert make_thumbnail(uow, sha(data)) is True
        made = thumb.stat().st_mtime_ns
        with unit_of_work() as uow:
            assert make_thumbnail(uow, sha(data)) is False  # already made: nothing rewritten
    assert thumb.stat().st_mtime_ns == made
    response = client.get(url, headers=auth)
    assert response.status_code == 200 and response.mimetype == "image/jpeg"
    with Image.open(BytesIO(response.data)) as image:
        assert image.size == (app.config["THUMBNAIL_SIZE"], app.config["THUMBNAIL_SIZE"] * 3 // 4)


# --- refusals: nothing is written -------------------------------------------------------


def _truncated_jpeg() -> bytes:
    data = photo(size=(200, 150))
    return data[: len(data) // 2]


def _gif() -> bytes:
    out = BytesIO()
    Image.new("RGB", (10, 10), (1, 2, 3)).save(out, format="GIF")
    return out.getvalue()


@pytest.mark.parametrize(
    "data",
    [
        pytest.param("这不是图片 not an image\n".encode() * 20, id="text"),
        pytest.param(b"", id="empty"),
        pytest.param(_truncated_jpeg(), id="truncated-jpeg"),
        pytest.param(_gif(), id="gif"),
        pytest.param(b"%PDF-1.4\n" + os.urandom(500), id="pdf"),
    ],
)
def test_what_is_not_a_whole_jpeg_png_or_webp_is_415(
    app: Flask, client: FlaskClient, auth: dict[str, str], media: Path, data: bytes
) -> None:
    assert_error(post(client, data, auth), 415, "unsupported_media_type", "file")
    assert_error(put(client, sha(data), data, auth), 415, "unsupported_media_type", "file")
    assert_nothing_written(app, media)


@pytest.mark.parametrize(
    ("width", "height"), [(20_000, 20_000), (9_000, 9_000)], ids=["400MP", "81MP"]
)
def test_decompression_bomb_is_refused_before_decoding(
    app: Flask, client: FlaskClient, auth: dict[str, str], media: Path, width: int, height: int
) -> None:
    data = png_header_only(width, height)
    assert len(data) < 200
    assert_error(post(client, data, auth), 413, "image_too_large", "file")
    assert_nothing_written(app, media)


def test_body_over_max_content_length_is_413(
    app: Flask,
    client: FlaskClient,
    auth: dict[str, str],
    media: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    data = photo(size=(200, 200))
    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", len(data) // 2)
    assert_error(post(client, data, auth), 413, "payload_too_large")
    assert_error(put(client, sha(data), data, auth), 413, "payload_too_large")
    assert_nothing_written(app, media)


def test_file_over_the_upload_limit_is_413_even_within_the_body_limit(
    app: Flask,
    client: FlaskClient,
    auth: dict[str, str],
    media: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    data = photo(size=(200, 200))
    monkeypatch.setitem(app.config, "MAX_UPLOAD_BYTES", len(data) - 1)
    assert_error(put(client, sha(data), data, auth), 413, "payload_too_large", "file")
    assert_nothing_written(app, media)
    monkeypatch.setitem(app.config, "MAX_UPLOAD_BYTES", len(data))
    assert put(client, sha(data), data, auth).status_code == 201


def test_upload_without_a_file_names_the_field(
    app: Flask, client: FlaskClient, auth: dict[str, str], media: Path
) -> None:
    response = client.post(
        "/api/v1/attachments", data={"other": "x"}, headers=auth, content_type="multipart/form-data"
    )
    assert_error(response, 422, "validation_error", "file")
    assert_nothing_written(app, media)


# --- who may upload and read ------------------------------------------------------------


def test_anonymous_requests_are_401(
    app: Flask, client: FlaskClient, auth: dict[str, str], media: Path
) -> None:
    data = photo()
    assert_error(post(client, data, {}), 401, "unauthorized")
    assert_error(put(client, sha(data), data, {}), 401, "unauthorized")
    assert_nothing_written(app, media)
    post(client, data, auth)
    for url in (f"/api/v1/attachments/{sha(data)}", f"/api/v1/attachments/{sha(data)}/thumbnail"):
        assert_error(client.get(url), 401, "unauthorized")
        assert_error(client.get(url, headers=bearer("nonsense")), 401, "invalid_token")


@pytest.fixture
def device_token(app: Flask, world: World) -> tuple[str, str]:
    from server.services.people.devices import issue_device

    with app.app_context():
        with unit_of_work() as uow:
            issued = issue_device(uow, "collector")
        return issued.device.id, issued.token


def test_device_token_uploads_for_its_collector_until_revoked(
    app: Flask, client: FlaskClient, media: Path, world: World, device_token: tuple[str, str]
) -> None:
    from server.services.people.devices import revoke_device

    device_id, token = device_token
    data = photo()
    assert post(client, data, bearer(token)).status_code == 201
    assert row(app, sha(data)).uploaded_by_id == world.user_ids["collector"]
    with app.app_context(), unit_of_work() as uow:
        revoke_device(uow, device_id)
    later = photo()
    assert_error(post(client, later, bearer(token)), 401, "device_revoked")
    assert_error(put(client, sha(later), later, bearer(token)), 401, "device_revoked")
    read = client.get(f"/api/v1/attachments/{sha(data)}", headers=bearer(token))
    assert_error(read, 401, "device_revoked")
    assert [r.sha256 for r in rows(app)] == [sha(data)]


# --- for the case services --------------------------------------------------------------


def test_require_attachments_names_every_missing_photo(
    app: Flask, client: FlaskClient, auth: dict[str, str], media: Path
) -> None:
    from server.errors import DomainError
    from server.services.files.attachments import require_attachments

    stored = [photo(), photo()]
    for data in stored:
        post(client, data, auth)
    known = [sha(d) for d in stored]
    with app.app_context():
        found = require_attachments([known[1], known[0], known[1]])
        assert [a.sha256 for a in found] == [known[1], known[0]]
        missing = ["0" * 64, "not-a-hash"]
        with pytest.raises(DomainError) as refused:
            require_attachments([known[0], *missing])
    error = refused.value
    assert (error.status, error.code, error.field) == (422, "unknown_attachment", "photos")
    assert error.details == {"missing": missing}


def test_link_to_case_adds_each_photo_once(
    app: Flask, client: FlaskClient, auth: dict[str, str], media: Path, world: World
) -> None:
    from geoalchemy2.shape import from_shape
    from shapely.geometry import Point
    from sqlalchemy import select

    from server.extensions import db
    from server.models import Case, CaseAttachment, Category
    from server.services.files.attachments import link_to_case

    shas = []
    for _ in range(2):
        data = photo()
        post(client, data, auth)
        shas.append(sha(data))
    with app.app_context():
        category = db.session.scalar(select(Category))
        assert category is not None
        case = Case(
            id=uuid.uuid4().hex,
            number="T-1",
            public_token=uuid.uuid4().hex,
            subdistrict_id=world.subdistrict_id,
            community_id=world.community_ids["A"],
            grid_id=world.grid_ids["A1"],
            category_id=category.id,
            priority="normal",
            source="patrol",
            description="测试",
            point=from_shape(Point(119.431, 32.391), srid=4326),
            lon=119.431,
            lat=32.391,
            reporter_role="collector",
        )
        db.session.add(case)
        db.session.commit()
        link_to_case(case.id, [shas[0], shas[0]], "report", None)
        db.session.commit()
        link_to_case(case.id, [shas[0], shas[1]], "report", 7)
        link_to_case(case.id, [shas[0]], "result", 8)
        db.session.commit()
        links = {
            (link.sha256, link.role, link.event_id)
            for link in db.session.scalars(select(CaseAttachment))
        }
        with pytest.raises(ValueError):
            link_to_case(case.id, shas, "selfie", None)
    assert links == {(shas[0], "report", None), (shas[1], "report", 7), (shas[0], "result", 8)}
