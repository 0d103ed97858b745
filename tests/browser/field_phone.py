"""A phone running the field app (/app/): Chromium with a persistent profile on disk, so
IndexedDB and the service worker survive closing and reopening the browser, a 360-px
viewport, fake geolocation, and a network switch that also cuts the service worker's own
fetches (Playwright's set_offline alone does not on a cold start; see STACK-NOTES)."""

from __future__ import annotations

from io import BytesIO
from pathlib import Path
from typing import Any

from PIL import Image

CHROMIUM = "/usr/bin/chromium"
PHONE = {"width": 360, "height": 740}


class Phone:
    def __init__(self, playwright: Any, base_url: str, folder: Path, at: tuple[float, float]):
        self.playwright = playwright
        self.base_url = base_url
        self.profile = folder
        self.position = at
        self.offline = False
        self.context: Any = None
        self.page: Any = None

    # ---------------------------------------------------------------- the browser

    def open(self) -> Any:
        """Start the browser on the profile (a cold start when it was closed) at /app/."""
        self.context = self.playwright.chromium.launch_persistent_context(
            str(self.profile),
            executable_path=CHROMIUM,
            headless=True,
            args=["--no-sandbox", "--disable-gpu"],
            base_url=self.base_url,
            viewport=PHONE,
            is_mobile=True,
            has_touch=True,
            locale="zh-CN",
            timezone_id="Asia/Shanghai",
            permissions=["geolocation"],
            geolocation=self._geo(*self.position),
            offline=self.offline,
        )
        self.context.set_default_timeout(15_000)
        self.context.route("**/*", self._route)
        self.page = self.context.pages[0] if self.context.pages else self.context.new_page()
        self.page.on("dialog", lambda dialog: dialog.accept())
        return self.page

    def close(self) -> None:
        if self.context is not None:
            self.context.close()
        self.context = self.page = None

    def _route(self, route: Any) -> None:
        if self.offline:
            route.abort("internetdisconnected")
        else:
            route.continue_()

    def set_offline(self, offline: bool) -> None:
        self.offline = offline
        self.context.set_offline(offline)

    @staticmethod
    def _geo(lon: float, lat: float) -> dict[str, float]:
        return {"longitude": lon, "latitude": lat, "accuracy": 6}

    def move_to(self, lon: float, lat: float) -> None:
        self.position = (lon, lat)
        self.context.set_geolocation(self._geo(lon, lat))

    # ---------------------------------------------------------------- the app

    def start_app(self, path: str = "/app/") -> Any:
        self.page.goto(path)
        self.page.wait_for_function("() => window.minqingReady === true")
        return self.page

    def wait_controlled(self) -> None:
        # `ready` can resolve before the page is controlled: wait for the controller itself.
        self.page.wait_for_function("() => navigator.serviceWorker.controller !== null")

    def phase(self) -> str:
        return str(self.page.locator("[data-phase]").get_attribute("data-phase"))

    def sync_now(self, expect: str = "ok") -> None:
        self.page.get_by_role("button", name="立即同步").click()
        self.page.wait_for_selector(f'[data-phase="{expect}"]', timeout=30_000)

    def count(self, table: str) -> int:
        return int(
            self.page.evaluate(
                "async (t) => (await window.minqing.state.database.get(t).query().fetch()).length",
                table,
            )
        )

    def records(self, table: str) -> list[dict[str, Any]]:
        return list(
            self.page.evaluate(
                """async (t) => (await window.minqing.state.database.get(t).query().fetch())
                       .map(r => ({...r._raw}))""",
                table,
            )
        )

    def pair_by_sign_in(self, username: str, password: str) -> None:
        page = self.page
        page.get_by_label("用户名").fill(username)
        page.get_by_label("密码").fill(password)
        page.get_by_role("button", name="登录并绑定").click()
        page.wait_for_function("() => window.minqingReady === true")

    def no_sideways_scroll(self) -> None:
        width = self.page.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"], f"sideways scroll on {self.page.url}: {width} px"

    def photo(self, folder: Path, name: str, colour: tuple[int, int, int]) -> Path:
        path = folder / name
        out = BytesIO()
        Image.new("RGB", (120, 90), colour).save(out, format="JPEG")
        path.write_bytes(out.getvalue())
        return path
