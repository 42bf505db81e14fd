"""The scheduler's part of a Celery task, timed in this process against the same servers.

A ``Scheduler`` like the worker's (same settings, Redis and broker) runs the same
requests as the tasks do, with its hand-off timed apart, so that a task's time at the
worker can be split into the scheduler's step and Celery's own work.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import redis
from celery import Celery
from celery.utils.saferepr import saferepr

from app.backends.factory import backend_options
from app.backends.redis import RedisBackend
from app.celery_app import JobrelayTask
from app.handoff import Handoff
from app.models import Job
from app.scheduler import Scheduler
from app.settings import Settings
from bench.noop import noop
from workers.runtime import CeleryHandoff


@dataclass
class Spent:
    """Wall and CPU seconds added up over timed blocks."""

    wall_s: float = 0.0
    cpu_s: float = 0.0

    @contextmanager
    def timing(self) -> Iterator[None]:
        wall, cpu = time.perf_counter(), time.process_time()
        try:
            yield
        finally:
            self.wall_s += time.perf_counter() - wall
            self.cpu_s += time.process_time() - cpu


class TimedHandoff:
    """The Celery hand-off, with the time its sends take added up in ``spent``."""

    def __init__(self, inner: Handoff) -> None:
        self.inner = inner
        self.spent = Spent()

    def run(self, job: Job) -> None:
        with self.spent.timing():
            self.inner.run(job)

    def run_many(self, jobs: Sequence[Job]) -> None:
        with self.spent.timing():
            self.inner.run_many(jobs)

    def stop(self, job: Job) -> None:
        self.inner.stop(job)


@dataclass(frozen=True)
class Step:
    """Per item, in ms: the scheduler's step and its hand-off, and Celery's rendering of
    the answer for its log line (``saferepr``); the answer's JSON bytes."""

    wall_ms: float
    cpu_ms: float
    handoff_wall_ms: float
    handoff_cpu_ms: float
    repr_ms: float
    answer_bytes: float

    @property
    def before_handoff_ms(self) -> float:
        """Parsing, selection and the claim round trip(s): the wall time but the hand-off."""
        return self.wall_ms - self.handoff_wall_ms


@dataclass(frozen=True)
class Steps:
    single: Step
    batch: Step
    noop: Step


def repr_s(answers: Sequence[Any]) -> float:
    """Seconds Celery's worker takes to render ``answers`` as it does every task's result."""
    started = time.perf_counter()
    for answer in answers:
        saferepr(answer, JobrelayTask.resultrepr_maxsize)
    return time.perf_counter() - started


class Timer:
    """Runs scheduler calls and times them, hand-offs apart."""

    def __init__(self, settings: Settings, client: redis.Redis, app: Celery) -> None:
        self.handoff = TimedHandoff(CeleryHandoff(app, settings))
        backend = RedisBackend(client, backend_options(settings))
        self.scheduler = Scheduler(settings, backend, self.handoff)

    def step(self, call: Callable[[Any], Any], arguments: Sequence[Any], items: int) -> Step:
        self.handoff.spent = Spent()
        whole = Spent()
        with whole.timing():
            answers = [call(argument) for argument in arguments]
        size = sum(len(json.dumps(answer)) for answer in answers)
        per, handed = 1e3 / items, self.handoff.spent
        return Step(whole.wall_s * per, whole.cpu_s * per, handed.wall_s * per,
                    handed.cpu_s * per, repr_s(answers) * per, size / items)  # fmt: skip

    def steps(self, singles: list[Any], batches: list[list[Any]]) -> Steps:
        self.scheduler.create(singles[0])
        single = self.step(self.scheduler.create, singles[1:], len(singles) - 1)
        items = sum(len(batch) for batch in batches)
        batch = self.step(self.scheduler.create_many, batches, items)
        return Steps(single, batch, self.step(noop, singles, len(singles)))
