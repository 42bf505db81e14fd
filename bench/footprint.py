"""What retained jobs keep in Redis, per job, measured on a server of the benchmark's own.

A warm-up in another namespace first loads the scripts and grows the client's buffers, so
that the server-wide figures (INFO used_memory, MEMORY STATS) move with the jobs alone.
"""

from __future__ import annotations

import gc
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import cast

import redis

from app.backends.base import BackendOptions, JobQuery
from app.backends.redis import RedisBackend
from app.backends.redis_keys import Keys
from app.models import JobState, Report
from bench.creation import Core, fill
from bench.scratch import namespace_pattern

SAMPLE = 200
WARM_JOBS = 100


@dataclass(frozen=True)
class Footprint:
    """Bytes per retained job: by MEMORY USAGE of its keys, and server-wide."""

    used: float
    job: float
    job_data: float
    fields: float
    encoding: str
    binding: float
    binding_data: float
    index: dict[str, float]
    expiry_table: float
    keys: float
    expiring: float

    @property
    def index_total(self) -> float:
        return sum(self.index.values())

    @property
    def by_keys(self) -> float:
        return self.job + self.binding + self.index_total


def used_memory(client: redis.Redis) -> int:
    gc.collect()
    return int(client.info("memory")["used_memory"])


def usage(client: redis.Redis, keys: Sequence[str]) -> int:
    pipe = client.pipeline(transaction=False)
    for key in keys:
        pipe.memory_usage(key, samples=0)
    return sum(int(size or 0) for size in pipe.execute())


def counts(client: redis.Redis) -> tuple[int, int, int]:
    """Keys, keys with a TTL, and bytes of the expiry table, server-wide."""
    space = client.info("keyspace").get("db0", {"keys": 0, "expires": 0})
    table = client.memory_stats().get("db.0", {}).get("overhead.hashtable.expires", 0)
    return int(space["keys"]), int(space["expires"]), int(table)


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


def retained(client: redis.Redis, prefix: str, count: int) -> Core:
    core = Core.over(RedisBackend(client, BackendOptions(key_prefix=prefix)), prefix)
    fill(core, prefix, count)
    finish_all(core)
    return core


def index_bytes(client: redis.Redis, keys: Keys, count: int) -> dict[str, float]:
    """Bytes per job of each index key, largest first (node keys summed over nodes)."""
    sizes: Counter[str] = Counter()
    pattern = namespace_pattern(keys.namespace[1:-2])
    for key in client.scan_iter(match=pattern, count=1000):
        if key.startswith((keys.job(""), keys.binding(""))):
            continue
        name = key.removeprefix(keys.namespace)
        if name.startswith("node:"):
            name = "node:*:jobs" if name.endswith(":jobs") else "node:*"
        sizes[name] += usage(client, [key])
    return {name: size / count for name, size in sizes.most_common()}


def data_bytes(client: redis.Redis, keys: Sequence[str]) -> tuple[float, float]:
    """Mean bytes of field names and values of hashes ``keys``, and their mean fields."""
    pipe = client.pipeline(transaction=False)
    for key in keys:
        pipe.hgetall(key)
    hashes = cast(list[dict[str, str]], pipe.execute())
    size = sum(len(k.encode()) + len(v.encode()) for h in hashes for k, v in h.items())
    return size / len(keys), sum(map(len, hashes)) / len(keys)


def binding_data(client: redis.Redis, keys: Sequence[str]) -> float:
    values = cast(list[str], client.mget(keys))
    return sum(len(k.encode()) + len(v.encode()) for k, v in zip(keys, values, strict=True)) / len(
        keys
    )


def measure(client: redis.Redis, prefix: str, count: int) -> Footprint:
    """Retain ``count`` finished jobs under ``prefix`` and measure what they keep."""
    retained(client, f"{prefix}-warm", WARM_JOBS)
    before, (keys_0, expiring_0, table_0) = used_memory(client), counts(client)
    core = retained(client, prefix, count)
    used = (used_memory(client) - before) / count
    keys_1, expiring_1, table_1 = counts(client)
    keys = Keys(prefix)
    ids = cast(list[str], client.zrange(keys.jobs, 0, SAMPLE - 1))
    sampled = [job for job in map(core.backend.get_job, ids) if job is not None]
    hashes = [keys.job(job.job_id) for job in sampled]
    bindings = [keys.binding(job.request_id) for job in sampled]
    encodings = Counter(str(client.object("encoding", key)) for key in hashes)
    return Footprint(
        used, usage(client, hashes) / len(hashes), *data_bytes(client, hashes),
        encodings.most_common(1)[0][0], usage(client, bindings) / len(bindings),
        binding_data(client, bindings), index_bytes(client, keys, count),
        (table_1 - table_0) / count, (keys_1 - keys_0) / count, (expiring_1 - expiring_0) / count,
    )  # fmt: skip
