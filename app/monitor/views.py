"""What the monitor shows, read through the client on every call.

``Views`` holds the client and the ring of rate samples (derived data) and nothing else.
"""

from __future__ import annotations

import logging
import time

from pydantic import BaseModel, Field

from app.backends.base import JobQuery, Stats
from app.client import Client
from app.control import Reader
from app.errors import JobrelayError
from app.models import Job, JobState, Node
from app.monitor.rates import RateRing, Rates
from app.scheduler_workers import SchedulerWorkerView, judge_all

log = logging.getLogger(__name__)

FEED_JOBS = 50
ERROR_PREVIEW_CHARS = 200


class StatsView(Stats):
    """The store's counts, with rates from recent samples and the time of the reading."""

    rates: Rates = Field(default_factory=Rates)
    at: float = 0.0


class JobSummary(BaseModel):
    """A job without its payload and result, for tables and the live feed."""

    job_id: str
    request_id: str
    kind: str
    state: JobState
    node_id: str | None = None
    attempt: int = 0
    priority: int = 0
    created_at: float
    updated_at: float
    error: str | None = None

    @classmethod
    def of(cls, job: Job) -> JobSummary:
        error = job.error[:ERROR_PREVIEW_CHARS] if job.error else None
        return cls.model_validate({**job.model_dump(include=set(cls.model_fields)), "error": error})


class Snapshot(BaseModel):
    """One tick of the live feed: stats, nodes, scheduler workers and the newest jobs, or
    why they are missing."""

    at: float
    stats: StatsView | None = None
    nodes: list[Node] = Field(default_factory=list)
    schedulers: list[SchedulerWorkerView] = Field(default_factory=list)
    jobs: list[JobSummary] = Field(default_factory=list)
    error: str | None = None


class Views:
    def __init__(self, client: Client) -> None:
        self.client = client
        self.rates = RateRing()
        self._failing = False

    @property
    def reader(self) -> Reader:
        return self.client.reader

    def stats(self) -> StatsView:
        stats = self.reader.stats()
        now = time.time()
        self.rates.add(stats, now)
        return StatsView(**stats.model_dump(), rates=self.rates.rates(), at=now)

    def schedulers(self) -> list[SchedulerWorkerView]:
        workers = self.reader.schedulers()
        return judge_all(workers, self.client.settings, time.time())

    def snapshot(self) -> Snapshot:
        """Everything the dashboard refreshes each second; an outage becomes ``error``."""
        try:
            stats = self.stats()
            nodes = self.reader.nodes()
            schedulers = self.schedulers()
            page = self.reader.list_jobs(JobQuery(limit=FEED_JOBS))
        except JobrelayError as exc:
            if not self._failing:
                log.warning("monitor: reading the state failed: %s", exc.message)
            self._failing = True
            return Snapshot(at=time.time(), error=exc.message)
        if self._failing:
            log.info("monitor: reading the state works again")
        self._failing = False
        jobs = [JobSummary.of(job) for job in page.jobs]
        return Snapshot(at=stats.at, stats=stats, nodes=nodes, schedulers=schedulers, jobs=jobs)
