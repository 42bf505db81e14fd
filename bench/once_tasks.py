"""The celery-once peer: a ``QueueOnce`` task keyed on request_id that counts its runs.

Loaded by the peers benchmark's worker (``-I bench.once_tasks``); the benchmark registers
the same task on its client app, because celery-once takes its lock when sending.
"""

from __future__ import annotations

import functools
from typing import Any

import redis
from celery import Celery
from celery_once import QueueOnce

from app.celery_app import celery
from app.settings import get_settings

TASK = "bench.once_create"
LOCK_TIMEOUT_S = 3600


@functools.cache
def _store(url: str) -> redis.Redis:
    return redis.Redis.from_url(url)


def configure(app: Celery, url: str) -> Any:
    """Give ``app`` celery-once's Redis lock backend and the counting task."""
    app.conf.ONCE = {
        "backend": "celery_once.backends.Redis",
        "settings": {"url": url, "default_timeout": LOCK_TIMEOUT_S},
    }

    def once_create(request_id: str, tally: str) -> int:
        """Count one run of the body for ``request_id`` in the hash ``tally``."""
        return int(_store(url).hincrby(tally, request_id, 1))

    options = {"graceful": True, "keys": ["request_id"]}
    return app.task(name=TASK, base=QueueOnce, once=options, ignore_result=False)(once_create)


def _worker_task() -> Any:
    settings = get_settings()
    return configure(celery, settings.redis) if not settings.local else None


once_create = _worker_task()
