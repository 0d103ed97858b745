"""Telling others: notifications, webhooks, the outbox, outbound HTTP."""
