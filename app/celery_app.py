"""The Celery application of jobrelay, configured from ``celeryconfig``."""

from __future__ import annotations

from celery import Celery, Task

from app.settings import Settings

# Celery puts the repr of each task's return value in its task-succeeded event (what
# Flower shows) and its log line. Answers carry jobs with their payloads and results, so
# only their first characters are shown: enough for the job id, never the payload.
RESULT_SHOWN_CHARS = 48


class JobrelayTask(Task):  # type: ignore[misc]
    """Every jobrelay task: its answer stays out of events beyond the first characters."""

    resultrepr_maxsize = RESULT_SHOWN_CHARS


def _application(**options: bool) -> Celery:
    return Celery("jobrelay", include=["workers.tasks"], task_cls=JobrelayTask, **options)


celery = _application()
celery.config_from_object("celeryconfig")


def make_celery(settings: Settings) -> Celery:
    """A separate Celery application for explicit settings (tools and tests)."""
    from celeryconfig import celery_config

    app = _application(set_as_current=False)
    app.conf.update(celery_config(settings))
    return app
