"""Print stylesheets rendered by Chromium's page.pdf(): the case page as a 交办单, the
resident's page as a 回执, the KPI page's tables — A4, no navigation, the text that matters,
one page each."""

from __future__ import annotations

import io
from typing import Any

from conftest import World, bearer, login
from flask import Flask
from helpers import A1, act, new_case, ok

A4 = (595, 842)  # points


def pdf_of(page: Any) -> tuple[int, str, tuple[float, float]]:
    """Pages, text and page size (points) of the page printed to PDF."""
    from pypdf import PdfReader

    page.emulate_media(media="print")
    reader = PdfReader(io.BytesIO(page.pdf(format="A4", print_background=True)))
    page.emulate_media(media="screen")
    text = "\n\n---- page break ----\n\n".join(p.extract_text() or "" for p in reader.pages)
    box = reader.pages[0].mediabox
    return len(reader.pages), text, (float(box.width), float(box.height))


def test_case_page_prints_as_a_dispatch_slip(
    app: Flask, world: World, page: Any, login_as: Any
) -> None:
    client = app.test_client()
    tokens = {name: login(client, name) for name in ("collector", "dispatcher")}
    case = new_case(client, tokens, description="小区东门路灯不亮", address="文昌路 18 号")
    case = ok(act(client, tokens["dispatcher"], case, "accept"))
    case = ok(act(client, tokens["dispatcher"], case, "dispatch", unit_id=world.unit_id))
    login_as(page, "dispatcher")
    page.goto(f"/console/cases/{case['id']}")
    qr = page.request.get(f"/console/cases/{case['id']}/qr.png")
    assert qr.status == 200 and qr.headers["content-type"] == "image/png"
    pages, text, size = pdf_of(page)
    assert pages == 1, text
    assert size == A4 or (abs(size[0] - A4[0]) < 2 and abs(size[1] - A4[1]) < 2)
    squashed = text.replace(" ", "").replace("\n", "")
    for expected in (
        "民情事项交办单",
        case["number"],
        "小区东门路灯不亮",
        "城管中队",
        "处置期限",
        "文昌路18号",
        "承办单位签收（签字）",
        "交办人（签字）",
    ):
        assert expected.replace(" ", "") in squashed, expected
    for screen_only in ("退出", "可执行操作", "返回队列", "办理过程"):  # nav, actions, timeline
        assert screen_only not in squashed, screen_only
    # the QR image is on the slip and loaded
    loaded = page.evaluate(
        "() => { const i = document.querySelector('img.slip-qr'); "
        "return i && i.complete && i.naturalWidth > 0; }"
    )
    assert loaded
    # a colleague's case outside one's scope has no QR either
    other = page.request.get("/console/cases/no-such-case/qr.png")
    assert other.status == 404


def test_resident_receipt_and_kpi_tables_print(
    app: Flask, world: World, page: Any, login_as: Any
) -> None:
    client = app.test_client()
    body = ok(
        client.post(
            "/api/v1/cases",
            json={
                "category": "sanitation",
                "description": "楼道堆放杂物",
                "lon": A1[0],
                "lat": A1[1],
            },
        ),
        201,
    )
    page.goto(f"/r/{body['public_token']}")
    pages, text, _ = pdf_of(page)
    squashed = text.replace(" ", "").replace("\n", "")
    assert pages == 1, text
    for expected in ("民情事项回执", body["case"]["number"], "楼道堆放杂物"):
        assert expected in squashed, expected
    assert "反映问题" not in squashed  # the residents' navigation is not printed
    loaded = page.evaluate(
        "() => { const i = document.querySelector('img.slip-qr'); "
        "return i && i.complete && i.naturalWidth > 0; }"
    )
    assert loaded

    tokens = {"dispatcher": login(client, "dispatcher")}
    ok(client.get("/api/v1/stats/kpis", headers=bearer(tokens["dispatcher"])))
    login_as(page, "dispatcher")
    page.goto("/console/kpis")
    pages, text, _ = pdf_of(page)
    squashed = text.replace(" ", "").replace("\n", "")
    assert pages >= 1
    assert "统计考核" in squashed and "立案率" in squashed
    assert "导出台账" not in squashed and "退出" not in squashed  # buttons and navigation
