"""How a node agent's heartbeats reach the schedulers, and their answers come back.

In cross-instance mode the heartbeat is written to Redis directly, so a busy scheduler
queue never makes a node look dead; in local mode it is a ``jobrelay.node_heartbeat``
task to the one scheduler process that holds the state.
"""

from __future__ import annotations

import time
from typing import Protocol

from celery import Celery
from celery.result import AsyncResult

from app.models import Heartbeat, Node
from app.placement import log_requeues
from app.settings import Settings
from celeryconfig import SCHEDULER_QUEUE


class NodeLink(Protocol):
    def beat(self, heartbeat: Heartbeat) -> Node | None: ...


class BackendLink:
    """Heartbeats written straight into a shared backend."""

    def __init__(self, settings: Settings) -> None:
        from app.backends.factory import open_backend

        self.backend = open_backend(settings)

    def beat(self, heartbeat: Heartbeat) -> Node | None:
        done = self.backend.heartbeat(heartbeat, time.time())
        log_requeues(done.taken_back)
        return done.node


class TaskLink:
    """Heartbeats sent as tasks; each answer is read when the next heartbeat goes out."""

    def __init__(self, app: Celery, expires_s: float) -> None:
        self.app = app
        self.expires_s = expires_s
        self._last: AsyncResult | None = None

    def beat(self, heartbeat: Heartbeat) -> Node | None:
        answer = self._answer()
        self._last = self.app.send_task(
            "jobrelay.node_heartbeat",
            args=[heartbeat.model_dump(mode="json")],
            queue=SCHEDULER_QUEUE,
            expires=self.expires_s,
        )
        return answer

    def _answer(self) -> Node | None:
        last = self._last
        if last is None or not last.ready():
            return None
        result = last.result
        last.forget()
        return Node.model_validate(result) if isinstance(result, dict) else None
