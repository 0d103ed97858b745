"""Inbox API (being built)."""

from __future__ import annotations

from server.api.blueprint import ApiBlueprint

blp = ApiBlueprint("inbox", __name__, url_prefix="/api/v1", description="消息 Inbox")
