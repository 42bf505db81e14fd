"""Creation on the core path (no Celery): local and Redis backends against their floors.

Every variant runs one batch per round, in turn, on one client thread; the ratios are
medians of the per-round ratios, so drift of the shared machine cancels out.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import redis

from app.backends.base import Backend, BackendOptions
from app.backends.local import LocalBackend
from app.backends.redis import RedisBackend
from app.backends.redis_connection import connect
from app.backends.redis_keys import Keys
from app.creation import create_job, create_jobs, prepare
from app.fleet import Fleet
from app.models import JobRequest
from app.selection import Selector, SelectorOptions
from bench import fleets
from bench.context import Context
from bench.measure import interleaved, median, ops_per_s
from bench.results import Outcome, Row, at_least
from bench.scratch import delete_matching, namespace_pattern, token

NODES = 8
REFRESH_S = 0.5
LOCK_TTL_MS = 5_000
NODE_TIMEOUT_S = 3_600.0


@dataclass
class Core:
    """A backend with the selector and fleet snapshot a scheduler would hold."""

    backend: Backend
    selector: Selector
    fleet: Fleet

    @classmethod
    def over(cls, backend: Backend, prefix: str) -> Core:
        fleets.register_nodes(backend, prefix, NODES, time.time())
        # Nodes heartbeat once, at the start; keep them alive for the whole run.
        options = SelectorOptions(node_timeout_s=NODE_TIMEOUT_S)
        return cls(backend, Selector(options, seed=1), Fleet(backend, REFRESH_S))

    def create(self, request: JobRequest) -> bool:
        return create_job(request, self.backend, self.selector, self.fleet).created


def fresh(prefix: str, count: int) -> Iterator[JobRequest]:
    """Requests with new request_ids, built before the clock starts (parsing is not creation)."""
    return iter([fleets.request(f"{prefix}-{index}") for index in range(count)])


class LockBased:
    """Creation the way a lock-based design does it, one round trip per command."""

    def __init__(self, client: redis.Redis, core: Core, prefix: str) -> None:
        self.client = client
        self.core = core
        self.keys = Keys(f"{prefix}:lockbased")

    def create(self, request: JobRequest) -> bool:
        spec = prepare(request, self.core.selector, self.core.fleet, time.time())
        binding = self.keys.binding(request.request_id)
        if self.client.get(binding) is not None:
            return False
        lock = f"{binding}:lock"
        if not self.client.set(lock, spec.job.job_id, nx=True, px=LOCK_TTL_MS):
            return False
        try:
            if self.client.get(binding) is not None:
                return False
            node_id = spec.candidates[0]
            self.client.hincrby(f"{self.keys.namespace}node:{node_id}", "reserved", 1)
            job_key = self.keys.job(spec.job.job_id)
            value = f"{spec.job.job_id} {spec.job.fingerprint}"
            self.client.mset({binding: value, job_key: spec.job.model_dump_json()})
        finally:
            self.client.delete(lock)
        return True


def batch_rate(operation: Callable[[int], object], count: int) -> Callable[[], float]:
    return lambda: ops_per_s(operation, count)


def variants(ctx: Context, prefix: str, client: redis.Redis) -> dict[str, Callable[[], float]]:
    batch = ctx.size.creation_batch
    total = batch * ctx.size.creation_rounds
    local = Core.over(LocalBackend(), f"{prefix}-local")
    shared = Core.over(RedisBackend(client, BackendOptions(key_prefix=prefix)), prefix)
    lock_based = LockBased(client, shared, prefix)
    streams = {name: fresh(f"{prefix}-{name}", total) for name in ("local", "redis", "lock")}
    repeats = list(fresh(f"{prefix}-repeat", batch))
    for request in repeats:
        shared.create(request)
    bindings = [Keys(prefix).binding(request.request_id) for request in repeats]
    floor = client.register_script("return 1")
    return {
        "local": batch_rate(lambda _: local.create(next(streams["local"])), batch),
        "creation": batch_rate(lambda _: shared.create(next(streams["redis"])), batch),
        "floor": batch_rate(lambda _: floor(), batch),
        "lock-based": batch_rate(lambda _: lock_based.create(next(streams["lock"])), batch),
        "repeat": batch_rate(lambda i: shared.create(repeats[i]), batch),
        "get": batch_rate(lambda i: client.get(bindings[i]), batch),
        "prepare": batch_rate(
            lambda i: prepare(repeats[i], shared.selector, shared.fleet, time.time()), batch
        ),
    }


def paired(measured: dict[str, list[float]], top: str, bottom: str) -> float:
    """The median over rounds of the per-round ratio top/bottom."""
    return median([a / b for a, b in zip(measured[top], measured[bottom], strict=True)])


def rows(measured: dict[str, list[float]]) -> list[Row]:
    rate = {name: median(values) for name, values in measured.items()}
    floor_ratio = paired(measured, "creation", "floor")
    lock_ratio = paired(measured, "creation", "lock-based")
    repeat_ratio = paired(measured, "repeat", "get")
    return [
        Row("local backend: creation", rate["local"], "/s", "in-process dict"),
        Row("Python side only (prepare)", rate["prepare"], "/s", "job + selection, no I/O"),
        Row("Redis baseline: EVALSHA 'return 1'", rate["floor"], "/s", "one-round-trip floor"),
        Row("Redis baseline: lock-based", rate["lock-based"], "/s", "6 round trips"),
        Row("Redis baseline: GET", rate["get"], "/s", "plain GET of the binding"),
        Row(
            "Redis: creation vs floor",
            rate["creation"],
            "/s",
            "create_job, new request_id",
            floor_ratio,
            "of floor",
            *at_least(floor_ratio, 0.8),
        ),
        Row(
            "Redis: creation vs lock-based",
            rate["creation"],
            "/s",
            "same creations",
            lock_ratio,
            "of lock-based",
            *at_least(lock_ratio, 3),
        ),
        Row(
            "Redis: repeat vs GET",
            rate["repeat"],
            "/s",
            "create_job, same request_id",
            repeat_ratio,
            "of GET",
            *at_least(repeat_ratio, 0.9),
        ),
    ]


def server_us(client: redis.Redis, operation: Callable[[int], object], count: int) -> float:
    """Redis-side µs per EVALSHA while running ``operation`` (INFO commandstats delta).

    NOTE: commandstats count every client of the server; other EVALSHA traffic during
    the window inflates the figure.
    """
    before = client.info("commandstats").get("cmdstat_evalsha", {})
    ops_per_s(operation, count)
    after = client.info("commandstats").get("cmdstat_evalsha", {})
    calls = int(after.get("calls", 0)) - int(before.get("calls", 0))
    usec = float(after.get("usec", 0)) - float(before.get("usec", 0))
    return usec / max(calls, 1)


def server_rows(ctx: Context, prefix: str, client: redis.Redis) -> list[Row]:
    count = ctx.size.creation_batch
    core = Core.over(RedisBackend(client, BackendOptions(key_prefix=f"{prefix}:srv")), prefix)
    requests = list(fresh(f"{prefix}-srv", count))
    floor = client.register_script("return 1")
    floor_us = server_us(client, lambda _: floor(), count)
    claim_us = server_us(client, lambda i: core.create(requests[i]), count)
    repeat_us = server_us(client, lambda i: core.create(requests[i]), count)
    return [
        Row("Redis-side time: EVALSHA 'return 1'", floor_us, "µs/call", "commandstats"),
        Row(
            "Redis-side time: claim, new", claim_us, "µs/call", "", claim_us / floor_us, "of floor"
        ),
        Row(
            "Redis-side time: claim, repeat",
            repeat_us,
            "µs/call",
            "",
            repeat_us / floor_us,
            "of floor",
        ),
    ]


def notes(measured: dict[str, list[float]], server: list[Row]) -> list[str]:
    rate = {name: median(values) for name, values in measured.items()}
    per_us = {name: 1e6 / value for name, value in rate.items()}
    floor_srv, claim_srv, repeat_srv = (row.value for row in server)
    client_us = per_us["creation"] - per_us["prepare"] - claim_srv
    return [
        f"one creation takes {per_us['creation']:.0f} µs: {per_us['prepare']:.0f} µs of "
        f"Python before the call (job, ULID, fingerprint, selection), {claim_srv:.0f} µs "
        f"inside Redis running the claim script (a bare script: {floor_srv:.0f} µs) and "
        f"{client_us:.0f} µs for the round trip, encoding the job hash and decoding the "
        f"reply. The floor's whole round trip is {per_us['floor']:.0f} µs.",
        f"a repeat takes {per_us['repeat']:.0f} µs against {per_us['get']:.0f} µs for a GET: "
        f"it still builds a new job and runs selection ({per_us['prepare']:.0f} µs) before "
        f"the script finds the binding ({repeat_srv:.0f} µs in Redis) and returns the whole "
        "job hash, which is decoded into a Job.",
        "the lock-based baseline does the same Python work (prepare) before its six "
        "round trips, so that ratio compares whole creations.",
    ]


def run(ctx: Context) -> Outcome:
    prefix = token("creation")
    client = connect(ctx.redis_url, timeout_s=10.0)
    outcome = Outcome("creation", "Creation on the core path (ops per second, median of rounds)")
    try:
        ctx.progress(f"creation: {ctx.size.creation_rounds} rounds of 7 variants")
        measured = interleaved(variants(ctx, prefix, client), ctx.size.creation_rounds)
        server = server_rows(ctx, prefix, client)
        outcome.rows += rows(measured) + server
        outcome.notes += notes(measured, server)
    finally:
        delete_matching(client, namespace_pattern(prefix))
        delete_matching(client, namespace_pattern(f"{prefix}:srv"))
        delete_matching(client, namespace_pattern(f"{prefix}:lockbased"))
        client.close()
    return outcome


def fill(core: Core, prefix: str, count: int, batch: int = 100) -> None:
    """Create ``count`` jobs with small payloads, a batch per backend call."""
    for start in range(0, count, batch):
        requests = [
            fleets.request(f"{prefix}-{i}") for i in range(start, min(start + batch, count))
        ]
        create_jobs(requests, core.backend, core.selector, core.fleet)
