"""Minqing (民情) — grid patrol and incident tracking for community governance."""

from server.app import create_app

__all__ = ["create_app"]
