"""The monitor's jobs API with many stored jobs: p99 of ``GET /api/jobs?limit=100``.

Rounds interleave the raw Redis floor, the backend reader and the HTTP API.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import cast

import redis
from fastapi.testclient import TestClient

from app.backends.base import BackendOptions, JobQuery
from app.backends.redis import RedisBackend
from app.backends.redis_keys import Keys
from app.celery_app import make_celery
from app.client import Client
from app.monitor.server import create_app
from app.settings import load_settings
from bench.context import Context
from bench.creation import Core, fill
from bench.measure import interleaved, latencies_s, paired, percentile, round_percentile
from bench.results import Outcome, Row
from bench.scratch import namespace_pattern, scratch_client

PAGE = 100


def raw_page(client: redis.Redis, keys: Keys) -> None:
    """The floor: the newest ids and one pipelined HGETALL each, nothing decoded."""
    ids = cast(list[str], client.zrevrangebylex(keys.jobs, "+", "-", 0, PAGE + 1))
    pipe = client.pipeline(transaction=False)
    for job_id in ids:
        pipe.hgetall(keys.job(job_id))
    pipe.execute()


def p99_row(measure: str, rounds: list[list[float]], detail: str, ratio: float | None) -> Row:
    p50, p99 = (round_percentile(rounds, q) * 1e3 for q in (50, 99))
    return Row(
        measure, p99, "ms p99", f"p50 {p50:.2f} ms; {detail}",
        ratio, "of raw Redis p99" if ratio is not None else "",
    )  # fmt: skip


def rows(measured: dict[str, list[list[float]]]) -> list[Row]:
    p99s = {name: [percentile(samples, 99) for samples in rounds]
            for name, rounds in measured.items()}  # fmt: skip
    return [
        p99_row("raw Redis page (baseline)", measured["raw"],
                "ZREVRANGEBYLEX + pipelined HGETALL", None),
        p99_row("BackendReader.list_jobs", measured["reader"], "decoded into Job models",
                paired(p99s, "reader", "raw")),
        p99_row(f"GET /api/jobs?limit={PAGE}", measured["api"], "FastAPI TestClient, JSON",
                paired(p99s, "api", "raw")),
    ]  # fmt: skip


def variants(
    ctx: Context, client: redis.Redis, jobrelay: Client, http: TestClient
) -> dict[str, Callable[[], list[float]]]:
    count, keys = ctx.size.monitor_samples, Keys(ctx.token("monitor"))
    query = JobQuery(limit=PAGE)

    def timed(operation: Callable[[], object]) -> Callable[[], list[float]]:
        return lambda: latencies_s(lambda _: operation(), count)

    return {
        "raw": timed(lambda: raw_page(client, keys)),
        "reader": timed(lambda: jobrelay.reader.list_jobs(query)),
        "api": timed(lambda: http.get(f"/api/jobs?limit={PAGE}").raise_for_status()),
    }


def run(ctx: Context) -> Outcome:
    prefix, size = ctx.token("monitor"), ctx.size
    outcome = Outcome("monitor", f"Monitor jobs API over {size.monitor_jobs:,} stored jobs "
                      "(median of rounds)")  # fmt: skip
    with scratch_client(ctx.redis_url, namespace_pattern(prefix)) as client:
        ctx.progress(f"monitor: storing {size.monitor_jobs:,} jobs")
        core = Core.over(RedisBackend(client, BackendOptions(key_prefix=prefix)), prefix)
        fill(core, prefix, size.monitor_jobs)
        settings = load_settings(mode="cross_instance", redis_url=ctx.redis_url, key_prefix=prefix)
        jobrelay = Client(settings, make_celery(settings))
        with TestClient(create_app(jobrelay, settings)) as http:
            ctx.progress(f"monitor: {size.monitor_rounds} rounds of 3 readers")
            measured = interleaved(variants(ctx, client, jobrelay, http), size.monitor_rounds)
    outcome.rows += rows(measured)
    outcome.notes.append(
        f"each round takes {size.monitor_samples:,} pages from each reader in turn; a p99 is "
        "the median of the rounds' p99s, a ratio the median of the per-round ratios. No goal "
        "was set for this table; the ratios show the cost of decoding and of the HTTP layer "
        "over the two Redis round trips a page needs."
    )
    return outcome
