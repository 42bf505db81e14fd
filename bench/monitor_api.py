"""The monitor's jobs API with many stored jobs: p99 of ``GET /api/jobs?limit=100``."""

from __future__ import annotations

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
from bench.measure import latencies_s, percentile
from bench.results import Outcome, Row
from bench.scratch import namespace_pattern, scratch_client, token

PAGE = 100


def raw_page(client: redis.Redis, keys: Keys) -> None:
    """The floor: the newest ids and one pipelined HGETALL each, nothing decoded."""
    ids = cast(list[str], client.zrevrangebylex(keys.jobs, "+", "-", 0, PAGE + 1))
    pipe = client.pipeline(transaction=False)
    for job_id in ids:
        pipe.hgetall(keys.job(job_id))
    pipe.execute()


def p99_row(measure: str, samples: list[float], detail: str, floor: float | None) -> Row:
    p99 = percentile(samples, 99)
    ratio = None if floor is None else p99 / floor
    return Row(
        measure, p99 * 1e3, "ms p99", f"p50 {percentile(samples, 50) * 1e3:.2f} ms; {detail}",
        ratio, "of raw Redis p99" if floor else "",
    )  # fmt: skip


def run(ctx: Context) -> Outcome:
    prefix = token("monitor")
    outcome = Outcome("monitor", f"Monitor jobs API over {ctx.size.monitor_jobs:,} stored jobs")
    count = ctx.size.monitor_samples
    with scratch_client(ctx.redis_url, namespace_pattern(prefix)) as client:
        ctx.progress(f"monitor: storing {ctx.size.monitor_jobs:,} jobs")
        fill(Core.over(RedisBackend(client, BackendOptions(key_prefix=prefix)), prefix), prefix,
             ctx.size.monitor_jobs)  # fmt: skip
        settings = load_settings(mode="cross_instance", redis_url=ctx.redis_url, key_prefix=prefix)
        jobrelay = Client(settings, make_celery(settings))
        raw = latencies_s(lambda _: raw_page(client, Keys(prefix)), count)
        direct = latencies_s(lambda _: jobrelay.reader.list_jobs(JobQuery(limit=PAGE)), count)
        with TestClient(create_app(jobrelay, settings)) as http:
            api = latencies_s(lambda _: http.get(f"/api/jobs?limit={PAGE}").raise_for_status(),
                              count)  # fmt: skip
        floor = percentile(raw, 99)
        outcome.rows += [
            p99_row("raw Redis page (baseline)", raw, "ZREVRANGEBYLEX + pipelined HGETALL", None),
            p99_row("BackendReader.list_jobs", direct, "decoded into Job models", floor),
            p99_row("GET /api/jobs?limit=100", api, "FastAPI TestClient, JSON", floor),
        ]
    outcome.notes.append(
        "no goal was set for this table; the ratios show the cost of decoding and of the "
        "HTTP layer over the two Redis round trips a page needs."
    )
    return outcome
