"""End to end through Celery: create_job and create_jobs against a no-op task.

One real scheduler worker (prefork, two processes, cross_instance mode on the Redis)
serves all three variants on one queue; rounds interleave them to cancel drift.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import redis
from celery import Celery
from celery.result import ResultSet

from app.backends.base import BackendOptions
from app.backends.redis import RedisBackend
from bench import fleets
from bench.context import Context
from bench.measure import interleaved, median, rate
from bench.results import Outcome, Row, at_least
from bench.scratch import delete_matching, scratch_client, token
from bench.worker import Worker, broker_patterns, node_queue_pattern

NODES = 8
WAIT_S = 300.0


def finish(results: list[Any]) -> list[Any]:
    """Wait for every result, return their values and delete them from the backend."""
    group = ResultSet(results)
    values: list[Any] = group.get(timeout=WAIT_S, propagate=True)
    group.forget()
    return values


class Rounds:
    """The three variants; each call sends a fresh round and returns items per second."""

    def __init__(self, ctx: Context, worker: Worker, app: Celery, client: redis.Redis) -> None:
        self.ctx, self.worker, self.app, self.client = ctx, worker, app, client
        self.sent = 0

    def fresh(self, count: int) -> list[dict[str, Any]]:
        start, self.sent = self.sent, self.sent + count
        return [fleets.request_dict(f"{self.worker.prefix}-{i}") for i in range(start, self.sent)]

    def timed(self, task: str, arguments: list[Any], items: int) -> float:
        """Queue a round while the worker does not consume, then time draining it.

        The single client thread sends slower than the worker runs tasks, so timing from
        the first send would measure the client.
        """
        self.worker.consume(self.app, on=False)
        results = [self.worker.send(self.app, task, argument) for argument in arguments]
        started = time.perf_counter()
        self.worker.consume(self.app, on=True)
        finish(results)
        elapsed = time.perf_counter() - started
        self.drop_node_queues()
        return rate(items, elapsed)

    def drop_node_queues(self) -> None:
        """Hand-offs pile up on node queues nobody consumes here; drop them between rounds."""
        delete_matching(self.client, node_queue_pattern(self.worker.prefix))

    def noop(self) -> float:
        requests = self.fresh(self.ctx.size.celery_tasks)
        return self.timed("bench.noop", requests, len(requests))

    def single(self) -> float:
        requests = self.fresh(self.ctx.size.celery_tasks)
        return self.timed("jobrelay.create_job", requests, len(requests))

    def batches(self) -> float:
        size = self.ctx.size.batch_size
        chunks = [self.fresh(size) for _ in range(self.ctx.size.celery_batches)]
        return self.timed("jobrelay.create_jobs", chunks, size * len(chunks))

    def variants(self) -> dict[str, Callable[[], float]]:
        return {"noop": self.noop, "create_job": self.single, "create_jobs": self.batches}


def rows(measured: dict[str, list[float]], ctx: Context) -> list[Row]:
    noop, single, batch = (median(measured[name]) for name in ("noop", "create_job", "create_jobs"))
    ratio = median([a / b for a, b in zip(measured["create_job"], measured["noop"], strict=True)])
    return [
        Row("no-op task (baseline)", noop, "tasks/s", f"{ctx.size.celery_tasks:,} per round"),
        Row(
            "jobrelay.create_job", single, "tasks/s", "one request per task",
            ratio, "of no-op", *at_least(ratio, 0.9),
        ),
        Row(
            "jobrelay.create_jobs", batch, "jobs/s", f"{ctx.size.batch_size} requests per task",
            batch / noop, "of no-op tasks/s", "≥ 5,000 jobs/s", batch >= 5_000,
        ),
    ]  # fmt: skip


def notes(measured: dict[str, list[float]]) -> list[str]:
    per = {name: 1e3 / median(values) for name, values in measured.items()}
    found = [
        "one worker, --pool prefork --concurrency 2, on the 2-core machine that also runs "
        "Redis and this client; every creation hands a jobrelay.run_job message to its "
        "node's queue, as in production.",
        f"time per item at the worker: no-op {per['noop']:.2f} ms, create_job "
        f"{per['create_job']:.2f} ms, create_jobs {per['create_jobs']:.3f} ms per job.",
    ]
    extra = per["create_job"] - per["noop"]
    found.append(
        f"create_job costs {extra:.2f} ms per task over the no-op: the creation itself "
        "(see the creation table), one hand-off publish to the node queue and the larger "
        "result message."
    )
    found.append(
        "create_jobs pipelines the claims of a batch into one round trip and publishes the "
        "batch's jobrelay.run_job hand-offs in one pipelined round trip; what remains per "
        "job is Celery building each hand-off message, validation, selection and the "
        "answer's size."
    )
    return found


def run(ctx: Context) -> Outcome:
    prefix = token("celery")
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
            measured = interleaved(
                Rounds(ctx, worker, app, client).variants(), ctx.size.celery_rounds
            )
        finally:
            worker.stop()
            app.close()
    outcome.rows += rows(measured, ctx)
    outcome.notes += notes(measured)
    return outcome
