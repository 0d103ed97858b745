"""Webhook delivery tasks (being built)."""
