"""jobrelay: exactly-once job creation and node selection for fleets of Celery workers.

``celery -A app worker`` finds the Celery application here as ``app.celery``; it is
built on first use, so importing the core does not read the configuration.
"""

from __future__ import annotations

from typing import Any


def __getattr__(name: str) -> Any:
    if name == "celery":
        from app.celery_app import celery

        return celery
    raise AttributeError(f"module 'app' has no attribute {name!r}")
