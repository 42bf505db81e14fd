"""Memory per retained job: Redis (MEMORY USAGE and INFO used_memory) and the local backend."""

from __future__ import annotations

import gc
import time
import tracemalloc
from collections.abc import Sequence
from typing import cast

import redis

from app.backends.base import BackendOptions, JobQuery
from app.backends.local import LocalBackend
from app.backends.redis import RedisBackend
from app.backends.redis_keys import Keys
from app.models import JobState, Report
from bench.context import Context
from bench.creation import Core, fill
from bench.results import Outcome, Row, at_most
from bench.scratch import namespace_pattern, scratch_client, token

SAMPLE = 200
GOAL_BYTES = 1024.0


def used_memory(client: redis.Redis) -> int:
    gc.collect()
    return int(client.info("memory")["used_memory"])


def usage(client: redis.Redis, keys: Sequence[str]) -> int:
    pipe = client.pipeline(transaction=False)
    for key in keys:
        pipe.memory_usage(key, samples=0)
    return sum(int(size or 0) for size in pipe.execute())


def shared_keys(client: redis.Redis, keys: Keys, per_job: set[str]) -> list[str]:
    """Index and node keys of the namespace: everything but job hashes and bindings."""
    found = client.scan_iter(match=namespace_pattern(keys.namespace[1:-2]), count=1000)
    return [key for key in found if key not in per_job and not _per_job(key, keys)]


def _per_job(key: str, keys: Keys) -> bool:
    return key.startswith((keys.job(""), keys.binding("")))


def index_note(client: redis.Redis, keys: Keys, count: int) -> str:
    """Bytes per job of each index, largest first (node keys summed over nodes)."""
    sizes: dict[str, int] = {}
    for key in shared_keys(client, keys, set()):
        name = key.removeprefix(keys.namespace)
        if name.startswith("node:"):
            name = "node:*:jobs" if name.endswith(":jobs") else "node:*"
        sizes[name] = sizes.get(name, 0) + usage(client, [key])
    ranked = sorted(sizes.items(), key=lambda item: -item[1])
    return "index bytes per job: " + ", ".join(f"{n} {b / count:.0f}" for n, b in ranked) + "."


def finish_all(core: Core) -> None:
    """Run every assigned job to success with a small result: retained jobs are finished."""
    now = time.time()
    while jobs := core.backend.list_jobs(JobQuery(state=JobState.ASSIGNED, limit=1000)).jobs:
        for job in jobs:
            started = Report(
                job_id=job.job_id, attempt=job.attempt, node_id=job.node_id or "", event="started"
            )
            core.backend.report(started, now)
            done = started.model_copy(update={"event": "succeeded", "result": {"ok": True}})
            core.backend.report(done, now)


def redis_rows(ctx: Context, client: redis.Redis, prefix: str) -> list[Row]:
    count = ctx.size.memory_jobs
    core = Core.over(RedisBackend(client, BackendOptions(key_prefix=prefix)), prefix)
    before = used_memory(client)
    fill(core, prefix, count)
    finish_all(core)
    delta = (used_memory(client) - before) / count
    keys = Keys(prefix)
    ids = cast(list[str], client.zrange(keys.jobs, 0, SAMPLE - 1))
    jobs = core.backend.get_job  # one read per sampled job, to learn its request_id
    sampled = [job for job in map(jobs, ids) if job is not None]
    job_bytes = usage(client, [keys.job(job.job_id) for job in sampled]) / len(sampled)
    binding_bytes = usage(client, [keys.binding(job.request_id) for job in sampled]) / len(sampled)
    index_bytes = usage(client, shared_keys(client, keys, set())) / count
    total = job_bytes + binding_bytes + index_bytes
    return [
        Row("Redis: job hash", job_bytes, "B", "MEMORY USAGE, mean of a sample"),
        Row("Redis: binding (request_id → job)", binding_bytes, "B", "MEMORY USAGE"),
        Row("Redis: index entries per job", index_bytes, "B", "zsets, node sets, stats ÷ jobs"),
        Row(
            "Redis: per retained job, by keys", total, "B", "job + binding + index",
            None, "", *at_most(total, GOAL_BYTES, "B"),
        ),
        Row(
            "Redis: per retained job, used_memory", delta, "B", f"INFO delta over {count:,} jobs",
            None, "", *at_most(delta, GOAL_BYTES, "B"),
        ),
    ]  # fmt: skip


def local_row(ctx: Context) -> Row:
    count = ctx.size.memory_jobs
    core = Core.over(LocalBackend(), "local")
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    fill(core, "local", count)
    finish_all(core)
    gc.collect()
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    return Row("local backend: per retained job", (after - before) / count, "B",
               f"tracemalloc delta over {count:,} jobs")  # fmt: skip


def run(ctx: Context) -> Outcome:
    prefix = token("memory")
    outcome = Outcome("memory", "Memory per retained job (small payload)")
    with scratch_client(ctx.redis_url, namespace_pattern(prefix)) as client:
        ctx.progress(f"memory: {ctx.size.memory_jobs:,} jobs in Redis")
        outcome.rows += redis_rows(ctx, client, prefix)
        outcome.notes.append(index_note(client, Keys(prefix), ctx.size.memory_jobs))
    ctx.progress(f"memory: {ctx.size.memory_jobs:,} jobs in the local backend")
    outcome.rows.append(local_row(ctx))
    outcome.notes.append(
        "used_memory counts the whole server: other clients of a shared Redis move it; "
        "the MEMORY USAGE figures count only this run's keys."
    )
    return outcome
