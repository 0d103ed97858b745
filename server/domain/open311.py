"""Open311 GeoReport v2 as our case loop sees it: status mapping, notes, the query window.

Pure rules (no Flask, no database) that the Open311 service and its tests share.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from server.domain.cases import FINAL, Status

SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"
MAX_DAYS = 90  # the spec: a query spans at most 90 days, by default the most recent 90
MAX_ROWS = 1000  # the spec: at most 1000 requests per answer

# What a status means to the public: Chinese first, then English.
STATUS_NOTES: dict[Status, tuple[str, str]] = {
    Status.REPORTED: ("已登记，等待受理", "Registered, awaiting acceptance"),
    Status.ACCEPTED: ("已受理立案，正在安排办理单位", "Accepted; a handling unit is being chosen"),
    Status.REJECTED: ("经核实不予立案", "Not accepted after checking"),
    Status.MERGED: (
        "与同一问题的其他报告合并处理",
        "Merged with another report of the same problem",
    ),
    Status.DISPATCHED: ("已交由办理单位处理", "Sent to the handling unit"),
    Status.IN_PROGRESS: ("办理单位正在处理", "The handling unit is working on it"),
    Status.HANDLED: (
        "办理单位反馈已处理，待网格员现场核查",
        "Reported fixed; awaiting an on-site check",
    ),
    Status.AWAITING_RATING: (
        "已现场核查，等待居民评价",
        "Checked on site; awaiting the resident's rating",
    ),
    Status.REOPENED: ("居民评价不满意，正在重新处理", "Rated unsatisfactory; being handled again"),
    Status.CLOSED: ("已结案", "Closed"),
}


class WindowRefused(ValueError):
    """A start_date/end_date pair the spec does not allow."""


def open311_status(status: str) -> str:
    """`closed` for the final states (closed, rejected, merged), else `open`."""
    return "closed" if Status(status) in FINAL else "open"


def statuses_for(open311: str) -> list[str]:
    """Our statuses behind an Open311 status (`open` or `closed`)."""
    final = {s.value for s in FINAL}
    if open311 == "closed":
        return sorted(final)
    return sorted(s.value for s in Status if s.value not in final)


def status_notes(status: str, overdue: bool = False) -> str:
    zh, en = STATUS_NOTES[Status(status)]
    if overdue and Status(status) not in FINAL:
        zh, en = zh + "（已超期，正在督办）", en + " (overdue; being chased)"
    return f"{zh} / {en}"


def query_window(
    start: datetime | None, end: datetime | None, now: datetime
) -> tuple[datetime, datetime]:
    """The requested_datetime range of a query: at most 90 days, by default the last 90."""
    span = timedelta(days=MAX_DAYS)
    if start is None and end is None:
        return now - span, now
    if start is None:
        assert end is not None
        return end - span, end
    if end is None:
        return start, start + span
    if end < start:
        raise WindowRefused("end_date is before start_date")
    if end - start > span:
        raise WindowRefused(f"start_date to end_date spans more than {MAX_DAYS} days")
    return start, end


_PHONE = re.compile(r"(?<!\d)(?:\+?86[ -]?)?1[3-9]\d[ -]?\d{4}[ -]?\d{4}(?!\d)")
_ID_CARD = re.compile(r"(?<![0-9A-Za-z])\d{17}[\dXx](?![0-9A-Za-z])")
_LONG_DIGITS = re.compile(r"(?<!\d)\d[\d -]{6,}\d(?!\d)")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")


def redact(text: str) -> str:
    """Free text as published: phone, ID card and other long numbers and e-mail addresses
    that residents type into descriptions are replaced (personal data never leaves)."""
    text = _EMAIL.sub("[email]", text)
    text = _ID_CARD.sub("[ID]", text)
    text = _PHONE.sub("[phone]", text)
    return _LONG_DIGITS.sub("[number]", text)
