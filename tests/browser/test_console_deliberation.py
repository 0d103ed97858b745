"""The council side of 五议 in a real browser: a resident proposes on a phone (/propose, with
a photo), and a dispatcher takes the topic through 提议 → 合议 → 群议 → 决议 → 评议 in the
console pages — council member and opinion, voting codes, a resident's view with a code, a
meeting with its minutes file, the decision, an implementation case through the normal loop,
completion, a resident's evaluation, closing. axe-core on every console state."""

from __future__ import annotations

from io import BytesIO
from typing import Any

from conftest import World, bearer
from flask.testing import FlaskClient
from helpers import A1, act, ok
from PIL import Image


def png() -> bytes:
    out = BytesIO()
    Image.new("RGB", (64, 48), (90, 140, 200)).save(out, format="PNG")
    return out.getvalue()


def submit(page: Any, form_id: str) -> None:
    page.locator(f"#{form_id} button[type=submit]").click()
    page.wait_for_load_state()


def status_is(page: Any, text: str) -> None:
    page.locator("h1 .badge").filter(has_text=text).wait_for()


def test_a_dispatcher_takes_a_topic_through_the_five_steps(
    app: Any,
    page: Any,
    phone_page: Any,
    client: FlaskClient,
    world: World,
    tokens: dict[str, str],
    tmp_path: Any,
    login_as: Any,
    check_a11y: Any,
    screenshot: Any,
) -> None:
    # 提议: a resident raises the topic from the public page, with a photo
    resident = phone_page
    resident.goto("/propose")
    check_a11y(resident)
    resident.get_by_label("所在社区").select_option(str(world.community_ids["A"]))
    resident.get_by_label("议题标题").fill("老旧小区加装电梯")
    resident.get_by_label("议题内容").fill("5 幢老人多，上下楼困难，希望议事会讨论加装电梯")
    resident.get_by_text("手动填写坐标").click()
    resident.get_by_label("经度").fill(str(A1[0]))
    resident.get_by_label("纬度").fill(str(A1[1]))
    resident.get_by_label("地址或小区楼栋（可不填）").fill("文昌苑 5 幢")
    photo = tmp_path / "stairs.png"
    photo.write_bytes(png())
    resident.get_by_label("照片（可不传）").set_input_files(str(photo))
    resident.get_by_role("button", name="提交议题").click()
    resident.locator("#proposed-message").wait_for()
    public_url = resident.url.split("?")[0]
    assert resident.locator("#topic-photos img").count() == 1
    check_a11y(resident)

    # the dispatcher finds it in the console
    login_as(page, "dispatcher")
    page.goto("/console/topics")
    check_a11y(page)
    page.locator("#topic-table").get_by_role("link", name="老旧小区加装电梯").click()
    status_is(page, "已提议")
    topic_url = page.url.split("#")[0]
    assert "文昌苑 5 幢" not in page.locator("h1").inner_text()
    assert page.locator("#topic-files img").count() == 1  # the resident's photo
    check_a11y(page)
    submit(page, "act-accept")

    # 合议: a council member and the member's opinion
    status_is(page, "合议中")
    page.locator("#f-member-name").fill("钱委员")
    page.locator("#f-member-kind").select_option("committee")
    submit(page, "member-form")
    assert "钱委员" in page.locator("#council-members").inner_text()
    form = page.locator("#act-review_opinion")
    form.get_by_label("议事会成员").select_option(label="钱委员")
    form.get_by_label("意见").fill("同意提交群议，需测算费用分摊")
    submit(page, "act-review_opinion")
    check_a11y(page)
    submit(page, "act-open_consultation")

    # 群议: voting codes printed, a resident gives a view with one
    status_is(page, "群议中")
    page.locator("#codes-form").get_by_label("户数（张）").fill("2")
    submit(page, "codes-form")
    codes = [c.replace("-", "") for c in page.locator("#code-sheet strong").all_inner_texts()]
    assert len(codes) == 2 and all(len(c) == 10 for c in codes)
    check_a11y(page)
    resident.goto(public_url)
    resident.locator("#view-form").get_by_label("议事码（见社区发放的议事卡）").fill(codes[0])
    resident.get_by_label("支持").check()
    resident.get_by_role("button", name="提交意见").click()
    resident.get_by_text("已记录您的意见，谢谢！").wait_for()
    page.goto(topic_url)
    assert "支持 1" in page.locator("#topic-views").inner_text()
    submit(page, "act-close_consultation")

    # 决议: the meeting with its minutes file, then the decision naming it
    status_is(page, "待决议")
    minutes = tmp_path / "minutes.pdf"
    minutes.write_bytes(b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n")
    meeting = page.locator("#meeting-form")
    meeting.get_by_label("地点").fill("社区议事厅")
    meeting.get_by_label("钱委员").check()
    meeting.get_by_label("会议纪要").fill("到会 9 人，表决通过")
    meeting.get_by_label("纪要附件（可不传）").set_input_files(str(minutes))
    submit(page, "meeting-form")
    assert "社区议事厅" in page.locator("#h-meetings + article, .meeting").first.inner_text()
    assert page.locator(".meeting-files a").count() == 1
    check_a11y(page)
    decide = page.locator("#act-decide")
    decide.get_by_label("赞成票").fill("9")
    decide.get_by_label("反对票").fill("1")
    decide.get_by_label("弃权票").fill("0")
    decide.get_by_label("决议内容（纪要）").fill("同意加装电梯，费用按楼层分摊")
    decide.locator("#f-meeting-decide").select_option(index=1)
    submit(page, "act-decide")

    # 实施: a case dispatched through the normal loop, worked and closed
    status_is(page, "实施中")
    dispatch = page.locator("#act-dispatch_case")
    dispatch.get_by_label("办理单位").select_option(str(world.unit_id))
    dispatch.get_by_label("事项分类代码").fill("sanitation")
    dispatch.get_by_label("事项描述").fill("5 幢加装电梯施工")
    submit(page, "act-dispatch_case")
    check_a11y(page)
    number = page.locator("#topic-cases li").first.inner_text().split(" · ")[0]
    d, s = tokens["dispatcher"], tokens["staff"]
    case = next(
        c
        for c in ok(client.get("/api/v1/cases", headers=bearer(d)))["items"]
        if c["number"] == number
    )
    case = ok(act(client, s, case, "acknowledge"))
    case = ok(act(client, s, case, "report_done", result="电梯已安装"))
    case = ok(act(client, d, case, "verify_ok"))
    with app.app_context():
        from sqlalchemy import select

        from server.extensions import db
        from server.models import Case
        from server.services.caseloop import residents
        from server.services.uow import unit_of_work

        case_token = db.session.scalar(select(Case.public_token).where(Case.number == number))
        with unit_of_work() as uow:
            residents.rate(uow, case_token, "satisfied", None)
    page.goto(topic_url)
    submit(page, "act-complete")

    # 评议: a resident evaluates with a code; the council closes the topic
    status_is(page, "评议中")
    resident.goto(public_url)
    resident.locator("#evaluation-form").get_by_label("议事码").fill(codes[1])
    resident.get_by_label("满意", exact=True).check()
    resident.get_by_role("button", name="提交评议").click()
    resident.get_by_text("已记录您的评议，谢谢！").wait_for()
    page.goto(topic_url)
    assert "100" in page.locator(".facts").inner_text()
    submit(page, "act-close")
    status_is(page, "已结束")
    history = page.locator("#h-events + ol").inner_text()
    for action in (
        "propose",
        "accept",
        "review_opinion",
        "open_consultation",
        "codes_generated",
        "close_consultation",
        "attach",
        "decide",
        "dispatch_case",
        "complete",
        "close",
    ):
        assert action in history, action
    check_a11y(page)
    screenshot(page, "console-topic-closed")
    # every step is in the tamper-evident history
    assert app.test_cli_runner().invoke(args=["audit", "verify"]).exit_code == 0
