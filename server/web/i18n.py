"""Two languages, zh-CN first: a dictionary and `t()`, the language kept in a cookie.

Templates call `t("登录", "Sign in")` (both texts at the call site) or `t("sign_in")` (a key
of MESSAGES, for words used on many pages). No framework: the pages have a few hundred
strings and two languages.
"""

from __future__ import annotations

from flask import g, request

LANGS = ("zh", "en")
LANG_COOKIE = "minqing_lang"
HTML_LANG = {"zh": "zh-CN", "en": "en"}

# key -> (中文, English)
MESSAGES: dict[str, tuple[str, str]] = {
    "app_name": ("民情", "Minqing"),
    "console": ("调度台", "Console"),
    "sign_in": ("登录", "Sign in"),
    "sign_out": ("退出登录", "Sign out"),
    "sign_out_everywhere": ("退出所有设备", "Sign out everywhere"),
    "sign_out_everywhere_confirm": (
        "确定在所有浏览器和设备上退出登录？所有访问令牌也将失效。",
        "Sign out in every browser and end every access token?",
    ),
    "username": ("用户名", "Username"),
    "password": ("密码", "Password"),
    "language": ("语言", "Language"),
    "switch_lang": ("English", "中文"),
    "skip_to_content": ("跳到正文", "Skip to content"),
    "main_nav": ("主导航", "Main navigation"),
    "cases": ("事项队列", "Case queue"),
    "map": ("地图", "Map"),
    "kpis": ("统计考核", "KPIs"),
    "admin": ("系统管理", "Admin"),
    "my_unit": ("本单位事项", "My unit's cases"),
    "submit": ("提交", "Submit"),
    "cancel": ("取消", "Cancel"),
    "confirm": ("确认", "Confirm"),
    "filter": ("筛选", "Filter"),
    "reset": ("重置", "Reset"),
    "next_page": ("下一页", "Next page"),
    "first_page": ("第一页", "First page"),
    "back": ("返回", "Back"),
    "home": ("首页", "Home"),
    "all": ("全部", "All"),
    "yes": ("是", "Yes"),
    "no": ("否", "No"),
    "none": ("无", "None"),
    "signed_in_as": ("当前用户", "Signed in as"),
    "charts_unavailable": (
        "图表组件未安装，仅显示表格。",
        "The chart library is not installed; showing the table only.",
    ),
}


def lang() -> str:
    """The language of this request: the cookie's, else zh."""
    chosen = g.get("lang")
    if chosen is None:
        chosen = request.cookies.get(LANG_COOKIE, "zh")
        if chosen not in LANGS:
            chosen = "zh"
        g.lang = chosen
    return str(chosen)


def t(key_or_zh: str, en: str | None = None) -> str:
    """`t("key")` from MESSAGES, or `t("中文", "English")` inline; the current language's."""
    if en is None:
        zh, en_text = MESSAGES.get(key_or_zh, (key_or_zh, key_or_zh))
    else:
        zh, en_text = key_or_zh, en
    return en_text if lang() == "en" else zh


def pick(zh: str | None, en: str | None) -> str:
    """One of two texts from data (e.g. a category's name_zh / name_en), falling back."""
    if lang() == "en" and en:
        return en
    return zh or en or ""
