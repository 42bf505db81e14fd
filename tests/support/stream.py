"""A producer thread that streams create_job requests and waits for every answer.

It behaves like a careful producer: a send that meets a broker outage is sent again, and a
request whose answer does not come back in time is sent again with the same body (creation
is idempotent, so a resend gets the job that already exists).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

from celery import Celery
from celery.exceptions import TimeoutError as CeleryTimeout
from celery.result import AsyncResult
from kombu.exceptions import OperationalError
from redis.exceptions import ConnectionError as RedisConnectionError

from app.errors import JobrelayError


@dataclass
class Answer:
    request_id: str
    job_id: str | None
    created: bool
    error: str | None = None


class RequestStream(threading.Thread):
    """Sends ``requests`` (in order) at ``rate_per_s``; ``answers()`` waits for them all."""

    def __init__(
        self, celery: Celery, requests: list[dict[str, Any]], rate_per_s: float = 200.0
    ) -> None:
        super().__init__(name="request-stream", daemon=True)
        self.celery = celery
        self.requests = requests
        self.rate_per_s = rate_per_s
        self.sent = 0
        self.resends = 0
        self.send_retries = 0
        self.pending: list[tuple[dict[str, Any], AsyncResult]] = []

    def run(self) -> None:
        started = time.monotonic()
        for index, request in enumerate(self.requests):
            delay = started + index / self.rate_per_s - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            self.pending.append((request, self._send(request)))
            self.sent += 1

    def _send(self, request: dict[str, Any], deadline_s: float = 60) -> AsyncResult:
        deadline = time.monotonic() + deadline_s
        while True:
            try:
                return self.celery.send_task(
                    "jobrelay.create_job", args=[request], queue="jobrelay", ignore_result=False
                )
            except OperationalError:
                if time.monotonic() > deadline:
                    raise
                self.send_retries += 1
                time.sleep(0.2)

    def answers(self, timeout_s: float = 60, resend_after_s: float = 20) -> list[Answer]:
        """Every request's answer, in order; results are forgotten once read."""
        self.join(timeout_s)
        assert not self.is_alive(), "the stream did not finish sending in time"
        deadline = time.monotonic() + timeout_s
        return [self._answer(req, res, deadline, resend_after_s) for req, res in self.pending]

    def _answer(
        self, request: dict[str, Any], result: AsyncResult, deadline: float, resend_after_s: float
    ) -> Answer:
        rid = str(request["request_id"])
        while True:
            wait_s = min(resend_after_s, max(deadline - time.monotonic(), 0.1))
            try:
                value = result.get(timeout=wait_s, interval=0.02, propagate=False)
            except (CeleryTimeout, OperationalError, RedisConnectionError) as exc:
                if time.monotonic() > deadline:
                    raise AssertionError(f"no answer for request {rid}: {exc!r}") from exc
                self.resends += 1
                result = self._send(request)
                continue
            result.forget()
            if isinstance(value, JobrelayError):
                return Answer(rid, None, False, f"{type(value).__name__}: {value.message}")
            if isinstance(value, BaseException):
                return Answer(rid, None, False, f"{type(value).__name__}: {value}")
            return Answer(rid, value["job"]["job_id"], bool(value["created"]))
