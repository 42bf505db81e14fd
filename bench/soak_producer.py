"""The soak run's producer: a paced stream of create_jobs batches and single create_job
requests, about a fifth of them repeats, with a bounded number of unanswered requests.

One thread sends and collects, so Celery's result consumer (per thread) sees every
answer; when the window of unanswered requests is full it waits, so the rate it keeps is
the rate the cluster sustains.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any

from celery import Celery
from celery.exceptions import TimeoutError as CeleryTimeout
from celery.result import AsyncResult

log = logging.getLogger(__name__)

BATCH = 10
REPEAT_SHARE = 0.2
SLEEP_SHARE = 0.25
SLEEP_S = 0.02
RECENT = 500
WINDOW = 600
ANSWER_TIMEOUT_S = 60.0
SEND_ERRORS = 50


@dataclass
class Tally:
    """Running totals, read by the sampler while the producer adds to them."""

    sent: int = 0
    answered: int = 0
    created: int = 0
    repeats: int = 0
    failed: int = 0
    exceptions: int = 0
    duplicates: int = 0
    window_full_s: float = 0.0
    first_failures: list[str] = field(default_factory=list)

    def failure(self, text: str) -> None:
        if len(self.first_failures) < 5:
            self.first_failures.append(text[:300])


@dataclass
class Sent:
    result: AsyncResult
    items: int
    at: float


class Producer(threading.Thread):
    """Sends ``rate_per_s`` requests a second for ``duration_s``, then waits for answers."""

    def __init__(self, app: Celery, prefix: str, rate_per_s: float, duration_s: float) -> None:
        super().__init__(name="soak-producer", daemon=True)
        self.app, self.prefix = app, prefix
        self.rate_per_s, self.duration_s = rate_per_s, duration_s
        self.tally = Tally()
        self.stopping = threading.Event()
        self.pending: deque[Sent] = deque()
        self.in_flight = 0
        self._recent: deque[dict[str, Any]] = deque(maxlen=RECENT)
        self._made: Counter[str] = Counter()
        self._rng = random.Random(7)
        self._sends = 0
        self._fresh = 0

    def run(self) -> None:
        try:
            self._stream()
            self._drain()
        except Exception as exc:
            self.tally.exceptions += 1
            self.tally.failure(f"producer stopped: {type(exc).__name__}: {exc}")
            log.exception("soak producer stopped")

    def _stream(self) -> None:
        started = time.monotonic()
        end = started + self.duration_s
        while not self.stopping.is_set() and time.monotonic() < end:
            due = started + self.tally.sent / self.rate_per_s
            if self.in_flight >= WINDOW:
                waited = time.monotonic()
                self._collect(waited + 0.05)
                self.tally.window_full_s += time.monotonic() - waited
            elif time.monotonic() < due:
                self._collect(due)
            else:
                self._send_next()

    def _drain(self) -> None:
        deadline = time.monotonic() + ANSWER_TIMEOUT_S
        while self.pending and time.monotonic() < deadline and not self.stopping.is_set():
            self._collect(time.monotonic() + 0.5)

    # sending

    def request(self) -> dict[str, Any]:
        """A new request, or a repeat (same id, same body) of a recent one."""
        if self._recent and self._rng.random() < REPEAT_SHARE:
            return self._rng.choice(self._recent)
        self._fresh += 1
        rid = f"{self.prefix}-r{self._fresh}"
        if self._rng.random() < SLEEP_SHARE:
            body: dict[str, Any] = {"request_id": rid, "kind": "sleep",
                                    "payload": {"seconds": SLEEP_S}}  # fmt: skip
        else:
            body = {"request_id": rid, "kind": "echo", "payload": {"text": "soak", "n": 1}}
        self._recent.append(body)
        return body

    def _send_next(self) -> None:
        """Every (BATCH + 1)-th send is a batch of BATCH requests, the others single ones,
        so half the requests travel in batches."""
        self._sends += 1
        batch = self._sends % (BATCH + 1) == 0
        requests = [self.request() for _ in range(BATCH if batch else 1)]
        task = "jobrelay.create_jobs" if batch else "jobrelay.create_job"
        argument: Any = requests if batch else requests[0]
        task_id = f"{self.prefix}-t{self._sends}"
        try:
            result = self.app.send_task(task, args=[argument], task_id=task_id,
                                        queue="jobrelay", ignore_result=False)  # fmt: skip
        except Exception as exc:
            self._send_failed(exc)
            return
        self.pending.append(Sent(result, len(requests), time.monotonic()))
        self.in_flight += len(requests)
        self.tally.sent += len(requests)

    def _send_failed(self, exc: Exception) -> None:
        self.tally.exceptions += 1
        self.tally.failure(f"send: {type(exc).__name__}: {exc}")
        if self.tally.exceptions > SEND_ERRORS:
            raise RuntimeError("the broker refused too many sends; stopping the producer")
        time.sleep(0.2)

    # answers

    def _collect(self, until: float) -> None:
        """Wait until ``until`` for the oldest answer; note it and any lost one."""
        if not self.pending:
            time.sleep(max(until - time.monotonic(), 0.0))
            return
        oldest = self.pending[0]
        try:
            value = oldest.result.get(timeout=max(until - time.monotonic(), 0.001),
                                      interval=0.01, propagate=False)  # fmt: skip
        except CeleryTimeout:
            if time.monotonic() - oldest.at > ANSWER_TIMEOUT_S:
                self._done(oldest)
                self.tally.exceptions += 1
                self.tally.failure(f"no answer in {ANSWER_TIMEOUT_S:g}s: {oldest.result.id}")
            return
        self._done(oldest)
        if isinstance(value, BaseException):
            self.tally.answered += oldest.items
            self.tally.failed += oldest.items
            self.tally.failure(f"task: {type(value).__name__}: {value}")
            return
        for answer in value if isinstance(value, list) else [value]:
            self._note(answer)

    def _done(self, sent: Sent) -> None:
        self.pending.popleft()
        self.in_flight -= sent.items
        sent.result.forget()

    def _note(self, answer: Any) -> None:
        self.tally.answered += 1
        if "error" in answer:
            self.tally.failed += 1
            self.tally.failure(f"answer: {answer!r}")
            return
        if not answer["created"]:
            self.tally.repeats += 1
            return
        self.tally.created += 1
        rid = answer["job"]["request_id"]
        self._made[rid] += 1
        if self._made[rid] > 1:
            self.tally.duplicates += 1
