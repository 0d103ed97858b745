"""The console's 12345 page without a browser: a sheet missing its columns is a 422 with the
report; a forged or stale confirmation is refused naming the field; collectors and unit staff
are kept out; the category table is for admins."""

from __future__ import annotations

import io

from conftest import TEST_PASSWORD, World
from flask.testing import FlaskClient
from openpyxl import Workbook


def sign_in(client: FlaskClient, username: str) -> str:
    client.delete_cookie("minqing_session")
    client.get("/login")
    with client.session_transaction() as session:
        token = session["csrf"]
    response = client.post(
        "/login", data={"username": username, "password": TEST_PASSWORD, "csrf_token": token}
    )
    assert response.status_code == 302, response.text
    with client.session_transaction() as session:
        return str(session["csrf"])


def xlsx(header: list[str], *rows: list[str]) -> bytes:
    book = Workbook()
    sheet = book.active
    sheet.append(header)
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def test_refusals_on_the_hotline_page(client: FlaskClient, world: World) -> None:
    csrf = sign_in(client, "dispatcher")
    missing = client.post(
        "/console/hotline/check",
        data={
            "csrf_token": csrf,
            "file": (io.BytesIO(xlsx(["编号", "内容"], ["1", "x"])), "a.xlsx"),
        },
        content_type="multipart/form-data",
    )
    assert missing.status_code == 422
    assert "missing_column" in missing.text and "工单编号" in missing.text
    assert "确认导入" not in missing.text
    forged = client.post(
        "/console/hotline/import", data={"csrf_token": csrf, "stash": "../../etc/passwd"}
    )
    assert forged.status_code == 422 and "stash" in forged.text
    stale = client.post("/console/hotline/import", data={"csrf_token": csrf, "stash": "a" * 64})
    assert stale.status_code == 422
    # a dispatcher reads the category table but may not change it
    assert client.get("/console/hotline").status_code == 200
    assert (
        client.post(
            "/console/hotline/categories",
            data={"csrf_token": csrf, "text": "市容", "category": "sanitation"},
        ).status_code
        == 403
    )
    for username in ("collector", "staff"):
        sign_in(client, username)
        assert client.get("/console/hotline").status_code == 403
        assert client.get("/console/hotline/replies.csv").status_code == 403
    csrf = sign_in(client, "admin")
    saved = client.post(
        "/console/hotline/categories",
        data={"csrf_token": csrf, "text": "市容", "category": "sanitation"},
    )
    assert saved.status_code == 303
    assert "市容" in client.get("/console/hotline").text
    unknown = client.post(
        "/console/hotline/categories", data={"csrf_token": csrf, "text": "x", "category": "nope"}
    )
    assert unknown.status_code == 422
