"""Keeping the service: the audit chain, retention, backups, health counts."""
