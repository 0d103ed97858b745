"""Thumbnails of uploaded photos, made by the worker after the upload has committed."""

from __future__ import annotations

from celery import shared_task

from server.services.files import attachments
from server.services.uow import unit_of_work


@shared_task(
    name="minqing.attachments.thumbnail",
    autoretry_for=(OSError,),
    retry_backoff=True,
    max_retries=5,
)
def thumbnail(sha256: str) -> bool:
    """Make the thumbnail of one photo; a no-op when it is already made (safe to repeat)."""
    with unit_of_work() as uow:
        out = attachments.make_thumbnail(uow, sha256)
    return out
