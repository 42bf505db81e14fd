"""The Celery application of jobrelay, configured from ``celeryconfig``."""

from __future__ import annotations

from celery import Celery

celery = Celery("jobrelay", include=["workers.tasks"])
celery.config_from_object("celeryconfig")
