"""The scheduler of this worker process and its Celery hand-off to nodes."""

from __future__ import annotations

import functools
import logging
import os
import socket
import threading
import time
from collections.abc import Sequence
from typing import Any

from celery import Celery
from kombu.exceptions import OperationalError

from app.backends.factory import open_backend
from app.celery_app import celery
from app.control import BackendReader
from app.errors import BackendUnavailable
from app.models import Job, SchedulerWorker
from app.outage import OutageLog
from app.scheduler import Scheduler, selector_options
from app.scheduler_workers import MISSED_SWEEPS
from app.settings import Settings, get_settings
from celeryconfig import NODE_QUEUE_PREFIX

log = logging.getLogger(__name__)

RESULT_CLEANUP_EVERY_S = 60.0


def run_task_id(job: Job) -> str:
    """The Celery task id of a job's attempt, so that it can be revoked by name."""
    return f"{job.job_id}.{job.attempt}"


def run_order(job: Job) -> dict[str, Any]:
    """What a node needs to run one attempt of a job."""
    return {
        "job_id": job.job_id,
        "attempt": job.attempt,
        "node_id": job.node_id,
        "kind": job.kind,
        "payload": job.payload,
        "timeout_s": job.timeout_s,
    }


class CeleryHandoff:
    """Hands jobs to nodes over their own queues, ``jobrelay.node.<node_id>``."""

    def __init__(self, app: Celery, settings: Settings) -> None:
        self.app = app
        self.settings = settings
        self.outage = OutageLog("the broker")

    def run(self, job: Job) -> None:
        self.run_many([job])

    def run_many(self, jobs: Sequence[Job]) -> None:
        """Send the run orders. The jobs are stored as assigned already, so an order the
        broker refuses is not an error of the step that assigned it: the dispatch timeout
        takes the job back and places it again."""
        try:
            self._send_all(jobs)
        except OperationalError as exc:
            self.outage.failed(exc)
            for job in jobs:
                log.info(
                    "job %s: run order for %s not sent; the dispatch timeout (%gs) requeues it",
                    job.job_id,
                    job.node_id,
                    self.settings.dispatch_timeout_s,
                )
        else:
            self.outage.succeeded()

    def _send_all(self, jobs: Sequence[Job]) -> None:
        # One producer and, for several jobs where kombu can (Redis), one pipelined round
        # trip for all; a pipeline costs more than it saves for a single message.
        with self.app.producer_or_acquire() as producer:
            if len(jobs) == 1:
                self._send(jobs[0], producer)
                return
            with producer.batch():
                for job in jobs:
                    self._send(job, producer)

    def _send(self, job: Job, producer: Any) -> None:
        # A node that receives the order after the dispatch timeout finds it expired;
        # by then the scheduler has taken the job back.
        self.app.send_task(
            "jobrelay.run_job",
            kwargs={"order": run_order(job)},
            queue=f"{NODE_QUEUE_PREFIX}{job.node_id}",
            task_id=run_task_id(job),
            expires=self.settings.dispatch_timeout_s,
            producer=producer,
            # No one reads a run order's result: without this Celery subscribes to its
            # result channel on every send, two more commands per hand-off.
            ignore_result=True,
            # Celery would render the arguments, payload included, into every message for
            # events and Flower: slow for large payloads, and payloads stay out of sight.
            argsrepr="()",
            kwargsrepr=f"{{'order': job {job.job_id} attempt {job.attempt}}}",
        )

    def stop(self, job: Job) -> None:
        self.app.control.revoke(run_task_id(job))
        self.app.control.broadcast(
            "jobrelay_stop", arguments={"job_id": job.job_id, "attempt": job.attempt}
        )


class Runtime:
    """The scheduler objects of one process, built on first use (after any fork)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.backend = open_backend(settings)
        self.scheduler = Scheduler(settings, self.backend, CeleryHandoff(celery, settings))
        self.reader = BackendReader(
            self.backend, selector_options(settings), settings.max_payload_bytes
        )
        self.outage = OutageLog("the state store")
        self.owner = f"{socket.gethostname()}:{os.getpid()}"


@functools.cache
def runtime() -> Runtime:
    return Runtime(get_settings())


def describe_worker(name: str, pool: str, concurrency: int, settings: Settings) -> SchedulerWorker:
    """How this scheduler worker describes itself to readers (the monitor, the CLI)."""
    now = time.time()
    return SchedulerWorker(
        name=name,
        hostname=socket.gethostname(),
        pid=os.getpid(),
        mode=settings.resolved_mode.value,
        pool=pool,
        concurrency=concurrency,
        started_at=now,
        last_seen=now,
    )


class SweepThread(threading.Thread):
    """Runs the scheduler's sweep every ``sweep_interval_s`` until stopped, and tells the
    backend, each time, that this scheduler worker is alive."""

    def __init__(self, rt: Runtime, worker: SchedulerWorker) -> None:
        super().__init__(name="jobrelay-sweep", daemon=True)
        self.rt = rt
        self.worker = worker
        self.stopping = threading.Event()
        self.trouble = OutageLog("the sweep")
        self._results_cleaned = time.monotonic()

    def run(self) -> None:
        interval = self.rt.settings.sweep_interval_s
        while not self.stopping.wait(interval):
            try:
                self._sweep_once(interval)
            except BackendUnavailable as exc:
                self.rt.outage.failed(exc)
            except Exception as exc:
                self.trouble.failed(exc)
            else:
                self.trouble.succeeded()

    def _sweep_once(self, interval: float) -> None:
        now = time.time()
        sweeping = self.rt.backend.try_lease("sweep", self.rt.owner, interval * MISSED_SWEEPS, now)
        self._seen(now, sweeping=sweeping)
        if not sweeping:
            return
        report = self.rt.scheduler.placement.sweep(now)
        self.rt.outage.succeeded()
        self._clean_result_files()
        if report.lost_nodes or report.requeued or report.failed:
            log.info("sweep: %s", report)

    def _seen(self, now: float, sweeping: bool = False, stopped: bool = False) -> None:
        update = {"last_seen": now, "sweeping": sweeping, "stopped": stopped}
        self.worker = self.worker.model_copy(update=update)
        self.rt.backend.scheduler_seen(self.worker, now)

    def stop(self) -> None:
        """Stop sweeping and tell readers this worker stopped (if the store answers)."""
        self.stopping.set()
        try:
            self._seen(time.time(), stopped=True)
        except BackendUnavailable:
            log.info("scheduler %s: stopped; the state store did not hear it", self.worker.name)

    def _clean_result_files(self) -> None:
        """Local mode keeps task results as files; Redis expires its own."""
        if time.monotonic() - self._results_cleaned < RESULT_CLEANUP_EVERY_S:
            return
        self._results_cleaned = time.monotonic()
        if self.rt.settings.result_backend.startswith("file://"):
            celery.backend.cleanup()
