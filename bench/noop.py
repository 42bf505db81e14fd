"""A task that does nothing, loaded by benchmark workers (``-I bench.noop``) as a baseline."""

from __future__ import annotations

from typing import Any

from app.celery_app import celery


def _noop(request: Any = None) -> dict[str, Any]:
    """Take the same message as ``jobrelay.create_job`` and answer without doing anything."""
    return {"ok": True}


noop = celery.task(name="bench.noop", ignore_result=False)(_noop)
