"""Patrols, their schedules and logs, and the daily 民情指数."""
