"""The Celery application of jobrelay, configured from ``celeryconfig``."""

from __future__ import annotations

from celery import Celery

from app.settings import Settings

celery = Celery("jobrelay", include=["workers.tasks"])
celery.config_from_object("celeryconfig")


def make_celery(settings: Settings) -> Celery:
    """A separate Celery application for explicit settings (tools and tests)."""
    from celeryconfig import celery_config

    app = Celery("jobrelay", include=["workers.tasks"], set_as_current=False)
    app.conf.update(celery_config(settings))
    return app
