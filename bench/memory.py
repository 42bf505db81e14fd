"""Memory per retained job: Redis (MEMORY USAGE and INFO used_memory) and the local backend.

The Redis rows run on a private redis-server, so that server-wide figures count only the
jobs of this benchmark.
"""

from __future__ import annotations

import gc
import tracemalloc

from app.backends.local import LocalBackend
from app.backends.redis_connection import connect
from bench.context import Context
from bench.creation import Core, fill
from bench.footprint import SAMPLE, WARM_JOBS, Footprint, finish_all, measure
from bench.private_redis import private_redis
from bench.results import Outcome, Row, at_most

GOAL_BYTES = 1024.0


def indexes(fp: Footprint) -> str:
    return ", ".join(f"{name} {size:.0f} B" for name, size in fp.index.items() if size >= 1)


def keys_bound(fp: Footprint) -> str:
    """What the bytes counted by MEMORY USAGE go to."""
    data = fp.job_data + fp.binding_data
    return (
        f"a retained job keeps {fp.keys:.1f} keys and its index entries. Its hash takes "
        f"{fp.job:.0f} B for {fp.job_data:.0f} B of field names and values ({fp.fields:.0f} "
        f"fields, encoded as a {fp.encoding}); its binding {fp.binding:.0f} B for "
        f"{fp.binding_data:.0f} B of key and value; its index entries {fp.index_total:.0f} B "
        f"({indexes(fp)}). Of the hash's and binding's {fp.job + fp.binding:.0f} B, "
        f"{data:.0f} B are the job's own data; the rest is Redis's structure around each "
        "key and entry."
    )


def used_bound(fp: Footprint) -> str:
    """What used_memory counts beyond the keys, and then what the keys hold."""
    rest = fp.used - fp.by_keys - fp.expiry_table
    return (
        f"used_memory grew {fp.used:.0f} B per job, {fp.used - fp.by_keys:.0f} B more than "
        f"MEMORY USAGE of its keys, which leaves out the expiry table ({fp.expiry_table:.0f} "
        f"B per job by MEMORY STATS, for its {fp.expiring:.1f} keys with a TTL) and the "
        f"rest ({rest:.0f} B per job): the slot arrays of the key tables, allocator rounding "
        f"and other server bookkeeping. By its keys: {keys_bound(fp)}"
    )


def goal_row(measure: str, value: float, detail: str, bound: str) -> Row:
    goal, met = at_most(value, GOAL_BYTES, "B")
    return Row(measure, value, "B", detail, None, "", goal, met, "" if met else bound)


def redis_rows(fp: Footprint, count: int, version: str) -> list[Row]:
    return [
        Row("Redis: job hash", fp.job, "B", f"MEMORY USAGE, mean of {SAMPLE}; {fp.encoding}"),
        Row("Redis: binding (request_id → job)", fp.binding, "B", "MEMORY USAGE"),
        Row("Redis: index entries per job", fp.index_total, "B", "zsets, node sets, stats ÷ jobs"),
        goal_row("Redis: per retained job, by keys", fp.by_keys, "job + binding + index",
                 keys_bound(fp)),
        goal_row("Redis: per retained job, used_memory", fp.used,
                 f"INFO delta over {count:,} jobs, private redis-server {version}",
                 used_bound(fp)),
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
    prefix, count = ctx.token("memory"), ctx.size.memory_jobs
    outcome = Outcome("memory", "Memory per retained job (small payload)")
    ctx.progress(f"memory: {count:,} jobs in a private redis-server")
    with private_redis() as server:
        client = connect(server.url, timeout_s=10.0)
        try:
            footprint = measure(client, prefix, count)
        finally:
            client.close()
    outcome.rows += redis_rows(footprint, count, server.version)
    ctx.progress(f"memory: {count:,} jobs in the local backend")
    outcome.rows.append(local_row(ctx))
    outcome.notes += [
        f"index bytes per job: {indexes(footprint)}.",
        f"the Redis rows run on a private redis-server after {WARM_JOBS} jobs in another "
        "namespace (scripts loaded, client buffers grown), so used_memory moves with these "
        "jobs alone; retained jobs are finished, with a small result.",
    ]
    return outcome
