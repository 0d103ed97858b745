"""Attachments API (being built)."""

from __future__ import annotations

from server.api.blueprint import ApiBlueprint

blp = ApiBlueprint("attachments", __name__, url_prefix="/api/v1", description="照片 Attachments")
