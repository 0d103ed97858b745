"""Minqing (民情) — grid patrol and incident tracking for community governance.

`server.app.create_app()` builds the application; importing this package does nothing else.
"""
