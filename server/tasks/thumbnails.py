"""Thumbnails of uploaded photos, made by the worker after the upload has committed."""

from __future__ import annotations

from celery import shared_task

from server.services import attachments


@shared_task(
    name="minqing.attachments.thumbnail",
    autoretry_for=(OSError,),
    retry_backoff=True,
    max_retries=5,
)
def thumbnail(sha256: str) -> bool:
    """Make the thumbnail of one photo; a no-op when it is already made (safe to repeat)."""
    return attachments.make_thumbnail(sha256)
