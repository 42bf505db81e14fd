"""Sustained load ("soak"): minutes of requests against a cross_instance cluster.

Three scheduler workers (prefork, two processes each) and three node agents run on the
machine's Redis under a key prefix of their own; a producer streams batches and single
requests (about a fifth of them repeats) while memory, keys, throughput, errors and
queues are sampled every few seconds. Retention is short, so finished jobs expire during
the run and memory should level off. Opt-in only: ``python -m bench.run --only soak``.
"""

from __future__ import annotations

import os
import socket
import tempfile
import time
from pathlib import Path

import redis
from celery import Celery
from rich.console import Console

from app.backends.base import BackendOptions
from app.backends.redis import RedisBackend
from app.celery_app import make_celery
from app.settings import load_settings
from bench.context import Context
from bench.render import markdown
from bench.results import Outcome, Row
from bench.scratch import scratch_client
from bench.soak_procs import Processes, cpu_by_role, environment, start_cluster
from bench.soak_producer import ANSWER_TIMEOUT_S, WINDOW, Producer
from bench.soak_report import markdown_minutes, minutes, rich_minutes, verdict
from bench.soak_sample import EVERY_S, Sample, Sampler, key_patterns
from workers.cli.processes import sigterm_interrupts

DEFAULT_SOAK_S = 300.0
RATE_PER_S = 150.0
SCHEDULERS, NODES, SLOTS = 3, 3, 4
READY_TIMEOUT_S = 120.0
SETTLE_S = 30.0
ACTIVE = ("pending", "assigned", "running")


def retention_for(soak_s: float) -> float:
    """30 s, or less for a short run, so that retention is reached in its first third."""
    return max(min(30.0, soak_s / 6), 5.0)


def wait_ready(app: Celery, client: redis.Redis, prefix: str, procs: Processes) -> None:
    """Wait until every scheduler answers a ping and every node is alive in Redis."""
    host = socket.gethostname()
    wanted = {f"{proc.name}@{host}" for proc in procs.named("s")}
    nodes = {proc.name for proc in procs.named("n")}
    backend = RedisBackend(client, BackendOptions(key_prefix=prefix))
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if dead := [proc for proc in procs.procs if not proc.alive]:
            raise RuntimeError(f"{dead[0].name} exited while starting: {dead[0].tail()}")
        answered = {name for reply in app.control.ping(timeout=1.0) for name in reply}
        alive = {node.node_id for node in backend.nodes() if node.status == "alive"}
        if wanted <= answered and nodes <= alive:
            return
    raise RuntimeError(f"the cluster was not ready in {READY_TIMEOUT_S:g}s")


def soak(ctx: Context, sampler: Sampler, producer: Producer, soak_s: float) -> list[Sample]:
    """Run the producer for ``soak_s`` and take a sample every EVERY_S."""
    producer.start()
    sampler.started = time.monotonic()
    samples: list[Sample] = []
    for tick in range(1, int(soak_s // EVERY_S) + 1):
        time.sleep(max(sampler.started + tick * EVERY_S - time.monotonic(), 0.0))
        samples.append(sampler.take())
        if tick % int(60 // EVERY_S) == 0:
            last = samples[-1]
            ctx.progress(f"soak: {last.at_s:.0f}s, {sampler.totals.answered:,} answered, "
                         f"{sampler.totals.errors} errors")  # fmt: skip
    return samples


def settle(client: redis.Redis, producer: Producer, prefix: str) -> int:
    """Wait for the last answers and for every job to end; returns the jobs still active."""
    producer.join(ANSWER_TIMEOUT_S + 10)
    namespace = f"{{{prefix}}}:"
    deadline = time.monotonic() + SETTLE_S
    while True:
        active = sum(int(client.zcard(f"{namespace}state:{state}")) for state in ACTIVE)
        if not active or time.monotonic() > deadline:
            return active
        time.sleep(0.5)


def rate_row(samples: list[Sample], soak_s: float, producer: Producer) -> Row:
    answered = sum(sample.answered for sample in samples)
    full = producer.tally.window_full_s / soak_s
    return Row(
        "sustained rate", answered / soak_s, "requests/s",
        f"target {RATE_PER_S:g}/s; window of {WINDOW} unanswered full {full:.0%} of the time",
        answered / soak_s / RATE_PER_S, "of target",
    )  # fmt: skip


def cpu_note(before: dict[str, float], after: dict[str, float], soak_s: float) -> str:
    used = {role: after[role] - before[role] for role in after}
    shares = ", ".join(f"{role} {seconds / soak_s:.2f}" for role, seconds in used.items())
    return (f"CPU during the load, in cores (of {os.cpu_count()}): {shares}; "
            f"total {sum(used.values()) / soak_s:.2f}.")  # fmt: skip


def notes(sampler: Sampler, producer: Producer, active: int, retention_s: float) -> list[str]:
    totals, tally = sampler.totals, producer.tally
    found = [
        f"{SCHEDULERS} schedulers (prefork, 2 processes), {NODES} nodes x {SLOTS} slots; "
        f"JOBRELAY_RETENTION_S={retention_s:g}; half the requests in batches of 10, "
        "20% repeats, a quarter of the jobs sleep 20 ms.",
        f"{tally.created:,} jobs created, {tally.repeats:,} repeats answered, "
        f"{totals.finished:,} finished, {totals.requeued} requeued; "
        f"{active} still active {SETTLE_S:g}s after the last request.",
        f"errors: {tally.failed} failed answers, {tally.exceptions} producer exceptions, "
        f"{tally.duplicates} duplicate creations, {totals.failed_jobs} failed jobs, "
        f"{totals.log_errors} ERROR log lines, exited: {sorted(totals.exited) or 'none'}.",
    ]
    found += [f"failure: {text}" for text in tally.first_failures]
    found += [f"{proc.name} log: {line}" for proc in sampler.procs.procs
              for line in proc.first_errors]  # fmt: skip
    return found


def report(outcome: Outcome, samples: list[Sample], log_dir: Path) -> None:
    """Print the table per minute and keep it, with the verdict, as Markdown."""
    rows = minutes(samples, EVERY_S)
    Console(width=150).print(rich_minutes(rows, "Sustained load, per minute"))
    text = markdown_minutes(rows) + "\n" + markdown(outcome)
    (log_dir / "soak.md").write_text(text)
    outcome.notes.append(f"logs and soak.md (these tables in Markdown) in {log_dir}")


def run(ctx: Context, soak_s: float = DEFAULT_SOAK_S) -> Outcome:
    prefix, retention_s = ctx.token("soak"), retention_for(soak_s)
    log_dir = Path(tempfile.mkdtemp(prefix=f"{prefix}-"))
    procs = Processes(environment(ctx.redis_url, prefix, retention_s), log_dir)
    settings = load_settings(mode="cross_instance", redis_url=ctx.redis_url, key_prefix=prefix)
    app = make_celery(settings)
    producer = Producer(app, prefix, RATE_PER_S, soak_s)
    outcome = Outcome("soak", f"Sustained load for {soak_s:g}s (cross_instance)")
    with sigterm_interrupts(), scratch_client(ctx.redis_url, *key_patterns(prefix)) as client:
        try:
            start_cluster(procs, SCHEDULERS, NODES, SLOTS)
            ctx.progress(f"soak: starting {SCHEDULERS} schedulers and {NODES} nodes ({prefix})")
            wait_ready(app, client, prefix, procs)
            sampler = Sampler(client, prefix, procs, producer)
            ctx.progress(f"soak: {soak_s:g}s at up to {RATE_PER_S:g} requests/s")
            redis_pid = int(client.info("server")["process_id"])
            before = cpu_by_role(procs, redis_pid)
            samples = soak(ctx, sampler, producer, soak_s)
            cpu = cpu_note(before, cpu_by_role(procs, redis_pid), soak_s)
            active = settle(client, producer, prefix)
            sampler.errors(sampler.totals.failed_jobs)
        finally:
            producer.stopping.set()
            if producer.is_alive():
                producer.join(10)
            procs.stop()
            app.close()
    outcome.rows += [rate_row(samples, soak_s, producer), *verdict(samples, soak_s)]
    outcome.notes += [*notes(sampler, producer, active, retention_s), cpu]
    report(outcome, samples, log_dir)
    return outcome
