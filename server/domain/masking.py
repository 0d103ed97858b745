"""Masking personal data (phone, name) for roles that do not need it."""

from __future__ import annotations


def mask_phone(phone: str | None) -> str | None:
    """138****5678 for a mobile number; keep only the last 2 digits of anything else."""
    if not phone:
        return phone
    digits = "".join(ch for ch in phone if ch.isdigit())
    if len(digits) == 11:
        return f"{digits[:3]}****{digits[-4:]}"
    if len(digits) <= 2:
        return "*" * len(digits)
    return "*" * (len(digits) - 2) + digits[-2:]


def mask_name(name: str | None) -> str | None:
    """张** for Chinese names (family name kept); J*** for Latin ones."""
    if not name:
        return name
    name = name.strip()
    if len(name) <= 1:
        return "*"
    return name[0] + "*" * (len(name) - 1)
