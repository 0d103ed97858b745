"""The console's 12345 page without a browser: a sheet missing its columns is a 422 with the
report; a forged or stale confirmation is refused naming the field; collectors and unit staff
are kept out; the category table is for admins."""

from __future__ import annotations

import io

from conftest import World
from flask.testing import FlaskClient
from helpers import sign_in
from openpyxl import Workbook


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


def test_check_then_confirm(client: FlaskClient, world: World) -> None:
    from helpers import A1

    csrf = sign_in(client, "dispatcher")
    data = xlsx(
        ["工单编号", "诉求类型", "诉求内容", "坐标"],
        ["W-1", "sanitation", "垃圾堆积", f"{A1[0]},{A1[1]}"],
    )
    checked = client.post(
        "/console/hotline/check",
        data={"csrf_token": csrf, "file": (io.BytesIO(data), "w.xlsx")},
        content_type="multipart/form-data",
    )
    assert checked.status_code == 200 and "确认导入 1 条" in checked.text
    stash = checked.text.split('name="stash" value="', 1)[1].split('"', 1)[0]
    done = client.post(
        "/console/hotline/import",
        data={"csrf_token": csrf, "stash": stash, "filename": "w.xlsx", "crs": "wgs84"},
    )
    assert done.status_code == 200 and "已导入 1 条工单" in done.text and "W-1" in done.text
    again = client.post(
        "/console/hotline/import",
        data={"csrf_token": csrf, "stash": stash, "filename": "w.xlsx", "crs": "wgs84"},
    )
    assert again.status_code == 422  # the file is gone once imported
    replies = client.get("/console/hotline/replies.csv")
    assert replies.status_code == 200 and "W-1" in replies.data.decode("utf-8-sig")
