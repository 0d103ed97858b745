"""A tiny PNG for the security tests of pages (signing in: `helpers.sign_in`)."""

from __future__ import annotations

from io import BytesIO

from PIL import Image


def png(colour: tuple[int, int, int] = (10, 120, 40)) -> bytes:
    out = BytesIO()
    Image.new("RGB", (32, 24), colour).save(out, format="PNG")
    return out.getvalue()
