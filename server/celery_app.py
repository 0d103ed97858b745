"""Celery entry point: `celery -A server.celery_app worker`."""

from server.app import create_app

flask_app = create_app()
celery = flask_app.extensions["celery"]
