"""Prometheus metrics, built from ``Stats``, the nodes and the scheduler workers on every
scrape.

Labels are bounded: job states, node and scheduler worker statuses, no-node reasons and
node ids (one per node of the fleet). Job, request and session ids, and the names and pids
of scheduler workers, never become labels.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from app.backends.base import Stats
from app.client import Client
from app.errors import JobrelayError
from app.models import JobState, Node, NodeStatus, SchedulerStatus
from app.observe import BUCKETS
from app.scheduler_workers import SchedulerWorkerView, judge_all

log = logging.getLogger(__name__)

PLAIN_COUNTERS = (
    ("jobrelay_jobs_created", "created", "Jobs created (one per request_id)."),
    ("jobrelay_repeats", "repeats", "Repeated requests answered with the existing job."),
    ("jobrelay_conflicts", "conflicts", "Requests refused: request_id reused with another body."),
    ("jobrelay_jobs_requeued", "requeued", "Jobs taken back from a node to be placed again."),
)
HISTOGRAMS = (
    ("jobrelay_job_wait_seconds", "wait_s", "Time from creation to the start of the run."),
    ("jobrelay_job_run_seconds", "run_s", "Time from the start of the run to its end."),
    ("jobrelay_selection_seconds", "select_s", "Time the selector took to choose nodes."),
)


def counter_families(stats: Stats) -> Iterator[Metric]:
    counters = stats.counters
    for name, key, doc in PLAIN_COUNTERS:
        yield CounterMetricFamily(name, doc, value=counters.get(key, 0.0))
    ended = CounterMetricFamily("jobrelay_jobs_ended", "Jobs ended, by state.", labels=["state"])
    for state in JobState:
        if state.final:
            ended.add_metric([state.value], counters.get(f"ended:{state.value}", 0.0))
    yield ended
    no_node = CounterMetricFamily(
        "jobrelay_no_node", "Creations that found no node, by reason.", labels=["reason"]
    )
    for key in sorted(k for k in counters if k.startswith("no_node:")):
        no_node.add_metric([key.removeprefix("no_node:")], counters[key])
    yield no_node


def histogram(name: str, key: str, doc: str, counters: dict[str, float]) -> Metric:
    """A Prometheus histogram from non-cumulative ``hist:<key>:<le>`` counters."""
    buckets: list[tuple[str, float]] = []
    total = 0.0
    for bound in (*(repr(b) for b in BUCKETS[key]), "+Inf"):
        total += counters.get(f"hist:{key}:{bound}", 0.0)
        buckets.append((bound, total))
    sum_value = counters.get(f"hist:{key}:sum")
    return HistogramMetricFamily(name, doc, buckets=buckets, sum_value=sum_value)


def state_families(stats: Stats) -> Iterator[Metric]:
    jobs = GaugeMetricFamily("jobrelay_jobs", "Retained jobs, by state.", labels=["state"])
    for state in JobState:
        jobs.add_metric([state.value], stats.states.get(state.value, 0))
    yield jobs
    yield GaugeMetricFamily(
        "jobrelay_backlog", "Pending jobs no node could take yet.", stats.backlog
    )


def node_families(nodes: Iterable[Node], now: float) -> Iterator[Metric]:
    nodes = list(nodes)
    by_status = GaugeMetricFamily("jobrelay_nodes", "Known nodes, by status.", labels=["status"])
    for status in NodeStatus:
        by_status.add_metric([status.value], sum(1 for n in nodes if n.status is status))
    yield by_status
    per_node: dict[str, tuple[str, Callable[[Node], float]]] = {
        "jobrelay_node_slots": ("Slots a node offers.", lambda n: n.slots),
        "jobrelay_node_slots_used": ("Slots running or reserved.", lambda n: n.used),
        "jobrelay_node_slots_free": ("Slots free.", lambda n: n.free),
        "jobrelay_node_heartbeat_age_seconds": (
            "Seconds since the node's last heartbeat.",
            lambda n: max(now - n.last_seen, 0.0),
        ),
    }
    for name, (doc, value) in per_node.items():
        family = GaugeMetricFamily(name, doc, labels=["node_id"])
        for node in nodes:
            family.add_metric([node.node_id], float(value(node)))
        yield family
    restarts = CounterMetricFamily(
        "jobrelay_node_restarts",
        "Times a node's agent process started again under the same node id.",
        labels=["node_id"],
    )
    for node in nodes:
        restarts.add_metric([node.node_id], float(node.restarts))
    yield restarts


def scheduler_families(workers: Iterable[SchedulerWorkerView]) -> Iterator[Metric]:
    statuses = [worker.status for worker in workers]
    family = GaugeMetricFamily(
        "jobrelay_scheduler_workers",
        "Known scheduler workers, by status.",
        labels=["status"],
    )
    for status in SchedulerStatus:
        family.add_metric([status.value], statuses.count(status))
    yield family


class StatsCollector(Collector):
    """Reads the state through the reader on each scrape; ``jobrelay_up`` says if it could."""

    def __init__(self, client: Client) -> None:
        self.client = client

    def collect(self) -> Iterator[Metric]:
        reader = self.client.reader
        try:
            stats, nodes, workers = reader.stats(), reader.nodes(), reader.schedulers()
        except JobrelayError as exc:
            log.warning("monitor: a scrape could not read the state: %s", exc.message)
            yield up(0)
            return
        yield up(1)
        yield from counter_families(stats)
        for name, key, doc in HISTOGRAMS:
            yield histogram(name, key, doc, stats.counters)
        yield from state_families(stats)
        now = time.time()
        yield from node_families(nodes, now)
        yield from scheduler_families(judge_all(workers, self.client.settings, now))


def up(value: int) -> Metric:
    return GaugeMetricFamily("jobrelay_up", "1 when the monitor could read the state.", value)
