"""Beside the API, shared with the worker: the Celery app, the relay, the supervisor and webhooks."""
