"""End to end through Celery: create_job and create_jobs against a no-op task.

One real scheduler worker (prefork, two processes, cross_instance mode on the Redis)
serves all three variants on one queue; rounds interleave them to cancel drift. The CPU
each round takes, and the scheduler's step timed in this process, say where the time goes.
"""

from __future__ import annotations

import datetime
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import redis
from celery import Celery, states
from celery.result import ResultSet

from app.backends.base import BackendOptions
from app.backends.redis import RedisBackend
from bench import cpu, fleets
from bench.celery_costs import Drain, PerItem, batch_bound, single_bound
from bench.celery_steps import Steps, Timer
from bench.context import Context
from bench.cpu import Cpu
from bench.measure import interleaved, paired
from bench.results import Outcome, Row, at_least
from bench.scratch import delete_matching, scratch_client
from bench.worker import Worker, broker_patterns, node_queue_pattern

NODES = 8
WAIT_S = 300.0
GOAL_JOBS_S = 5_000
VARIANTS = ("noop", "create_job", "create_jobs")


@dataclass(frozen=True)
class Finished:
    """The values of a round's results, and when its last task ended at the worker."""

    values: list[Any]
    ended_at: float


def epoch_s(done: datetime.datetime | str) -> float:
    """A result's ``date_done`` in seconds since the epoch (UTC when no zone is given)."""
    moment = datetime.datetime.fromisoformat(done) if isinstance(done, str) else done
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.UTC)
    return moment.timestamp()


def collect(results: list[Any]) -> Finished:
    """Wait for every result; the end comes from the worker's ``date_done``, not from this
    client, which polls the result backend every half second."""
    order = {result.id: index for index, result in enumerate(results)}
    values: list[Any] = [None] * len(results)
    ended = 0.0
    for task_id, meta in ResultSet(results).iter_native(timeout=WAIT_S):
        if meta["status"] in states.PROPAGATE_STATES:
            raise meta["result"]
        values[order[task_id]] = meta["result"]
        ended = max(ended, epoch_s(meta["date_done"]))
    return Finished(values, ended)


def finish(results: list[Any]) -> Finished:
    """``collect``, then delete the results from the backend."""
    finished = collect(results)
    ResultSet(results).forget()
    return finished


class Rounds:
    """The three variants; each call sends a fresh round and returns how it drained."""

    def __init__(self, ctx: Context, worker: Worker, app: Celery, client: redis.Redis) -> None:
        self.ctx, self.worker, self.app, self.client = ctx, worker, app, client
        self.sent = 0

    def fresh(self, count: int) -> list[dict[str, Any]]:
        start, self.sent = self.sent, self.sent + count
        return [fleets.request_dict(f"{self.worker.prefix}-{i}") for i in range(start, self.sent)]

    def timed(self, task: str, arguments: list[Any], items: int) -> Drain:
        """Queue a round while the worker does not consume, then time draining it.

        The single client thread sends slower than the worker runs tasks, so timing from
        the first send would measure the client.
        """
        self.worker.consume(self.app, on=False)
        results = [self.worker.send(self.app, task, argument) for argument in arguments]
        before, started = Cpu.sample(self.worker.pid, self.client), time.time()
        self.worker.consume(self.app, on=True)
        finished = collect(results)
        used = Cpu.sample(self.worker.pid, self.client) - before
        ResultSet(results).forget()
        self.drop_node_queues()
        return Drain(items, finished.ended_at - started, used)

    def drop_node_queues(self) -> None:
        """Hand-offs pile up on node queues nobody consumes here; drop them between rounds."""
        delete_matching(self.client, node_queue_pattern(self.worker.prefix))

    def noop(self) -> Drain:
        requests = self.fresh(self.ctx.size.celery_tasks)
        return self.timed("bench.noop", requests, len(requests))

    def single(self) -> Drain:
        requests = self.fresh(self.ctx.size.celery_tasks)
        return self.timed("jobrelay.create_job", requests, len(requests))

    def chunks(self) -> list[list[dict[str, Any]]]:
        return [self.fresh(self.ctx.size.batch_size) for _ in range(self.ctx.size.celery_batches)]

    def batches(self) -> Drain:
        chunks = self.chunks()
        return self.timed("jobrelay.create_jobs", chunks, sum(map(len, chunks)))

    def variants(self) -> dict[str, Callable[[], Drain]]:
        return {"noop": self.noop, "create_job": self.single, "create_jobs": self.batches}

    def steps(self) -> Steps:
        """The scheduler's step of both task kinds, timed in this process."""
        timer = Timer(self.worker.settings, self.client, self.app)
        steps = timer.steps(self.fresh(self.ctx.size.celery_tasks), self.chunks())
        self.drop_node_queues()
        return steps


def rows(measured: dict[str, list[Drain]], steps: Steps, ctx: Context) -> list[Row]:
    noop, single, batch = (PerItem.of(measured[name]) for name in VARIANTS)
    rates = {name: [drain.rate for drain in drains] for name, drains in measured.items()}
    ratio = paired(rates, "create_job", "noop")
    goal, met = at_least(ratio, 0.9)
    size = ctx.size.batch_size
    return [
        Row("no-op task (baseline)", noop.rate, "tasks/s", f"{ctx.size.celery_tasks:,} per round"),
        Row("jobrelay.create_job", single.rate, "tasks/s", "one request per task",
            ratio, "of no-op", goal, met, "" if met else single_bound(noop, single, steps)),
        Row("jobrelay.create_jobs", batch.rate, "jobs/s", f"{size} requests per task",
            paired(rates, "create_jobs", "noop"), "of no-op tasks/s", f"≥ {GOAL_JOBS_S:,} jobs/s",
            batch.rate >= GOAL_JOBS_S,
            "" if batch.rate >= GOAL_JOBS_S else batch_bound(batch, steps, size)),
    ]  # fmt: skip


def notes(measured: dict[str, list[Drain]]) -> list[str]:
    per = {name: PerItem.of(drains) for name, drains in measured.items()}
    return [
        f"one worker, --pool prefork --concurrency 2, on a {cpu.cores()}-core machine that "
        "also runs Redis and this client; every creation hands a jobrelay.run_job message "
        "to its node's queue, as in production.",
        "a round is queued while the worker does not consume, then timed from resuming to "
        "the end of its last task (the result's date_done); CPU is measured from resuming "
        "to the last result for the worker and its pool, the Redis server (all its "
        "clients) and this process; figures are medians of rounds.",
        f"time per item at the worker: no-op {per['noop'].wall_ms:.2f} ms, create_job "
        f"{per['create_job'].wall_ms:.2f} ms, create_jobs {per['create_jobs'].wall_ms:.3f} ms "
        "per job.",
    ]


def run(ctx: Context) -> Outcome:
    prefix = ctx.token("celery")
    worker = Worker(prefix, ctx.redis_url, ("bench.noop",))
    outcome = Outcome("celery", "End to end through a Celery worker (median of rounds)")
    with scratch_client(ctx.redis_url, *broker_patterns(prefix)) as client:
        backend = RedisBackend(client, BackendOptions(key_prefix=prefix))
        fleets.register_nodes(backend, prefix, NODES, time.time())
        app = worker.client()
        try:
            worker.start()
            ctx.progress("celery: waiting for the worker")
            worker.wait_ready(app)
            ctx.progress(f"celery: {ctx.size.celery_rounds} rounds of 3 variants")
            rounds = Rounds(ctx, worker, app, client)
            measured = interleaved(rounds.variants(), ctx.size.celery_rounds)
            ctx.progress("celery: the scheduler's step, in this process")
            steps = rounds.steps()
        finally:
            worker.stop()
            app.close()
    outcome.rows += rows(measured, steps, ctx)
    outcome.notes += notes(measured)
    return outcome
