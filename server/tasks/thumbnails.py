"""Thumbnail tasks (being built)."""
