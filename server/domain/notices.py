"""阳光五务: the five categories of public affairs and when a notice is on the board."""

from __future__ import annotations

from datetime import datetime, timedelta

CATEGORIES = ("party", "village", "finance", "service", "affairs")
CATEGORY_ZH = {
    "party": "党务",
    "village": "村(居)务",
    "finance": "财务",
    "service": "服务",
    "affairs": "事务",
}
MAX_PUBLICATION = timedelta(days=366)


def check_publication(published_from: datetime, published_until: datetime) -> None:
    """A period runs forward, for at most a year."""
    if published_until <= published_from:
        raise ValueError("published_until must be after published_from")
    if published_until - published_from > MAX_PUBLICATION:
        raise ValueError("a notice is published for at most a year")


def is_published(
    now: datetime,
    published_from: datetime,
    published_until: datetime,
    withdrawn_at: datetime | None,
) -> bool:
    """On the board from `published_from` (included) until `published_until` (excluded),
    unless withdrawn."""
    return withdrawn_at is None and published_from <= now < published_until
