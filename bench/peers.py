"""Idempotency peers: one duplicate-heavy stream through celery-once and through jobrelay.

celery-once locks a key when the task is sent and unlocks it when the task ends, so it
drops duplicates that are still queued or running and lets later ones through; jobrelay
binds the request_id for the retention window.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from typing import Any

import redis
from celery import Celery

from app.backends.base import BackendOptions
from app.backends.redis import RedisBackend
from bench import fleets
from bench.celery_path import finish
from bench.context import Context
from bench.measure import rate
from bench.once_tasks import configure
from bench.results import Outcome, Row
from bench.scratch import escape, scratch_client, token
from bench.worker import Worker, broker_patterns

REPEAT_SHARE = 0.3
RECENT = 50
NODES = 4


def stream(prefix: str, count: int, seed: int = 11) -> list[str]:
    """request_ids where about 30% repeat one of the last few sent."""
    rng = random.Random(seed)
    ids: list[str] = []
    for index in range(count):
        if ids and rng.random() < REPEAT_SHARE:
            ids.append(rng.choice(ids[-RECENT:]))
        else:
            ids.append(f"{prefix}-r{index}")
    return ids


def through_once(worker: Worker, app: Celery, client: redis.Redis, ids: list[str]) -> Row:
    task = configure(app, worker.redis_url)
    tally = f"{worker.prefix}:tally"
    started = time.perf_counter()
    sent = [task.apply_async(kwargs={"request_id": rid, "tally": tally}) for rid in ids]
    finish([result for result in sent if result.id is not None])
    elapsed = time.perf_counter() - started
    runs = {key: int(value) for key, value in client.hgetall(tally).items()}
    through = sum(count - 1 for count in runs.values())
    dropped = len(ids) - sum(runs.values())
    return Row(
        "celery-once (QueueOnce, graceful)", rate(len(ids), elapsed), "requests/s",
        f"{through} duplicates ran again, {dropped} dropped at send; "
        f"{len(runs)} unique",
        None, "", "0 duplicates let through", through == 0,
    )  # fmt: skip


def through_jobrelay(worker: Worker, app: Celery, ids: list[str]) -> Row:
    started = time.perf_counter()
    answers: list[dict[str, Any]] = finish(
        [worker.send(app, "jobrelay.create_job", fleets.request_dict(rid)) for rid in ids]
    )
    elapsed = time.perf_counter() - started
    created = Counter(a["job"]["request_id"] for a in answers if a["created"])
    through = sum(created.values()) - len(set(ids))
    return Row(
        "jobrelay create_job", rate(len(ids), elapsed), "requests/s",
        f"{sum(created.values())} created, {len(ids) - sum(created.values())} answered "
        f"as repeats; {len(set(ids))} unique",
        None, "", "0 duplicates let through", through == 0,
    )  # fmt: skip


def run(ctx: Context) -> Outcome:
    prefix = token("peers")
    worker = Worker(prefix, ctx.redis_url, ("bench.noop", "bench.once_tasks"))
    outcome = Outcome("peers", "Idempotency peers: a stream with 30% repeats, one worker")
    locks = escape(f"qo_bench.once_create_request_id-{prefix}") + "*"
    with scratch_client(ctx.redis_url, *broker_patterns(prefix), locks) as client:
        fleets.register_nodes(
            RedisBackend(client, BackendOptions(key_prefix=prefix)), prefix, NODES, time.time()
        )
        app = worker.client()
        try:
            worker.start()
            worker.wait_ready(app)
            ctx.progress(f"peers: {ctx.size.peers_requests:,} requests through each")
            ids = stream(prefix, ctx.size.peers_requests)
            outcome.add(through_once(worker, app, client, stream(f"{prefix}-once", len(ids))))
            outcome.add(through_jobrelay(worker, app, ids))
        finally:
            worker.stop()
            app.close()
    outcome.notes += [
        "requests/s count from the first send to the last result, on one client thread "
        "(celery-once adds a lock round trip to every send).",
        "celery-once releases its lock when the task ends (after_return), so a repeat sent "
        "after the first run finished runs the body again; it only suppresses duplicates "
        "that overlap in the queue. jobrelay answers every repeat with the bound job.",
        "the celery-once body only counts its run; jobrelay's creates and hands off a job.",
    ]
    return outcome
