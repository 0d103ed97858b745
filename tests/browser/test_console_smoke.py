"""The console in a real browser: sign-in, the queue, refusals, accessibility."""

from __future__ import annotations

from typing import Any


def test_wrong_password_then_sign_in(
    page: Any, world: Any, login_as: Any, check_a11y: Any, screenshot: Any
) -> None:
    page.goto("/login")
    check_a11y(page)
    page.get_by_label("用户名").fill("dispatcher")
    page.get_by_label("密码").fill("not-the-password")
    page.get_by_role("button", name="登录").click()
    alert = page.get_by_role("alert")
    assert "用户名或密码错误" in alert.inner_text()
    screenshot(page, "login-refused")
    check_a11y(page)
    login_as(page, "dispatcher")
    assert page.url.endswith("/console/cases")
    assert page.get_by_role("heading", name="事项队列").is_visible()
    check_a11y(page)
