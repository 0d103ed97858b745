"""Administrative codes: subdistrict (9), community (12) and grid (15 digits).

A grid code is 6 digits of administrative division + 3 of street + 3 of community
+ 3 of sequence, e.g. ``321002001001``-style prefixes; each level extends its parent.
"""

from __future__ import annotations

import re

SUBDISTRICT_CODE = re.compile(r"^\d{9}$")
COMMUNITY_CODE = re.compile(r"^\d{12}$")
GRID_CODE = re.compile(r"^\d{15}$")
# Ids a phone makes for records it creates offline (cases, patrols, logs).
CLIENT_ID = re.compile(r"^[A-Za-z0-9_-]{8,64}$")


def is_subdistrict_code(code: str) -> bool:
    return bool(SUBDISTRICT_CODE.match(code))


def is_community_code(code: str) -> bool:
    return bool(COMMUNITY_CODE.match(code))


def is_grid_code(code: str) -> bool:
    return bool(GRID_CODE.match(code))


def community_code_of(grid_code: str) -> str:
    """The community a grid code belongs to."""
    if not is_grid_code(grid_code):
        raise ValueError(f"not a 15-digit grid code: {grid_code!r}")
    return grid_code[:12]


def subdistrict_code_of(code: str) -> str:
    """The subdistrict a community or grid code belongs to."""
    if not (is_community_code(code) or is_grid_code(code)):
        raise ValueError(f"not a community or grid code: {code!r}")
    return code[:9]


def grid_code(community_code: str, seq: int) -> str:
    if not is_community_code(community_code) or not 1 <= seq <= 999:
        raise ValueError(f"bad community code {community_code!r} or sequence {seq}")
    return f"{community_code}{seq:03d}"
