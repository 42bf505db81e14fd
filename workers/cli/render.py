"""How jobs, nodes, scheduler workers and explanations look in a terminal (rich) and in
``--json`` output."""

from __future__ import annotations

import json
import time
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from app.models import Created, Explanation, Job, JobState, Node, NodeStatus, SchedulerStatus
from app.scheduler_workers import SchedulerWorkerView

STATE_STYLES = {
    JobState.PENDING: "yellow",
    JobState.ASSIGNED: "cyan",
    JobState.RUNNING: "blue",
    JobState.SUCCEEDED: "green",
    JobState.FAILED: "red",
    JobState.CANCELLED: "magenta",
}
STATUS_STYLES = {
    NodeStatus.ALIVE: "green",
    NodeStatus.DRAINING: "yellow",
    NodeStatus.OFFLINE: "red",
}
SCHEDULER_STYLES = {
    SchedulerStatus.ALIVE: "green",
    SchedulerStatus.STOPPED: "magenta",
    SchedulerStatus.OFFLINE: "red",
}


def out() -> Console:
    return Console(highlight=False)


def err() -> Console:
    return Console(stderr=True, highlight=False)


def print_json(data: Any) -> None:
    """JSON on stdout, plain: no colours, no wrapping, one document."""
    click.echo(json.dumps(data, indent=2, sort_keys=True))


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 1:
        return f"{seconds * 1000:.0f}ms"
    if seconds < 120:
        return f"{seconds:.1f}s"
    if seconds < 7200:
        return f"{seconds / 60:.0f}m"
    return f"{seconds / 3600:.0f}h"


def state(value: JobState) -> str:
    return f"[{STATE_STYLES[value]}]{value}[/]"


def job_duration(job: Job) -> float | None:
    if job.started_at is None:
        return None
    return (job.finished_at or time.time()) - job.started_at


def jobs_table(jobs: list[Job], now: float) -> Table:
    table = Table(title=f"{len(jobs)} jobs, newest first", title_justify="left")
    table.add_column("job_id", no_wrap=True)
    table.add_column("request_id", overflow="fold", min_width=12, max_width=40)
    table.add_column("kind")
    table.add_column("state", no_wrap=True)
    for column in ("node", "attempt", "age"):
        table.add_column(column)
    for job in jobs:
        table.add_row(
            job.job_id,
            job.request_id,
            job.kind,
            state(job.state),
            job.node_id or "-",
            str(job.attempt),
            duration(now - job.created_at),
        )
    return table


def job_table(job: Job) -> Table:
    table = Table(show_header=False, title=f"job {job.job_id}", title_justify="left")
    table.add_column("field", style="bold")
    table.add_column("value")
    rows = {
        "request_id": job.request_id,
        "kind": job.kind,
        "state": state(job.state),
        "node": job.node_id or "-",
        "attempt": f"{job.attempt} of {job.max_attempts}",
        "requires": ", ".join(job.requires) or "-",
        "selector": pairs(job.selector),
        "created": time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(job.created_at)),
        "waited": duration((job.started_at or time.time()) - job.created_at),
        "ran": duration(job_duration(job)),
        "tried nodes": ", ".join(job.tried_nodes) or "-",
    }
    if job.explanation and job.state is JobState.PENDING:
        rows["why pending"] = job.explanation
    if job.result is not None:
        rows["result"] = json.dumps(job.result)
    if job.error:
        rows["error"] = f"[red]{job.error}[/]"
    for name, value in rows.items():
        table.add_row(name, value)
    return table


def pairs(values: dict[str, str]) -> str:
    return ", ".join(f"{key}={value}" for key, value in sorted(values.items())) or "-"


def nodes_table(nodes: list[Node], now: float) -> Table:
    table = Table(title=f"{len(nodes)} nodes", title_justify="left")
    table.add_column("node", no_wrap=True)
    table.add_column("status", no_wrap=True)
    table.add_column("capabilities", overflow="fold", min_width=10)
    table.add_column("labels", overflow="fold", min_width=8)
    table.add_column("running+reserved / slots", justify="right")
    table.add_column("free", justify="right")
    table.add_column("restarts", justify="right")
    table.add_column("last heartbeat", justify="right")
    for node in nodes:
        table.add_row(
            node.node_id,
            f"[{STATUS_STYLES[node.status]}]{node.status}[/]",
            ", ".join(node.capabilities) or "-",
            pairs(node.labels),
            f"{node.running}+{node.reserved} / {node.slots}",
            str(node.free),
            str(node.restarts),
            f"{duration(max(now - node.last_seen, 0.0))} ago",
        )
    return table


def node_json(node: Node, now: float) -> dict[str, Any]:
    data = node.model_dump(mode="json")
    data.update(used=node.used, free=node.free, heartbeat_age_s=round(now - node.last_seen, 3))
    return data


def schedulers_table(workers: list[SchedulerWorkerView]) -> Table:
    """One row per worker. The name carries the host (``name@host``) and the title the
    mode, which all workers of one state store share; ``--json`` has both per worker."""
    modes = ", ".join(sorted({worker.mode for worker in workers}))
    title = f"{len(workers)} scheduler workers" + (f" ({modes} mode)" if modes else "")
    table = Table(title=title, title_justify="left")
    table.add_column("worker", overflow="fold", min_width=12)
    table.add_column("pid", justify="right", no_wrap=True)
    table.add_column("pool", overflow="fold")
    table.add_column("status", no_wrap=True)
    table.add_column("sweeps", no_wrap=True)
    table.add_column("last seen", justify="right", no_wrap=True)
    for worker in workers:
        table.add_row(
            worker.name,
            str(worker.pid),
            f"{worker.pool} x {worker.concurrency}",
            f"[{SCHEDULER_STYLES[worker.status]}]{worker.status}[/]",
            "[bold]yes[/]" if worker.sweeping else "-",
            f"{duration(worker.heartbeat_age_s)} ago",
        )
    return table


def explanation(found: Explanation) -> Table | str:
    """One line when a node was chosen outright, else the rejections as a table."""
    relaxed = " (after relaxing the exclusions)" if found.relaxed_exclusions else ""
    if found.node_id:
        headline = f"would go to [bold green]{found.node_id}[/]: {found.summary()}{relaxed}"
    else:
        headline = "[bold yellow]no node can take it now[/]: it would wait in the backlog"
    if not found.rejected:
        return headline
    table = Table(title=headline, title_justify="left")
    table.add_column("nodes", justify="right")
    table.add_column("rejected because")
    for reason, count in sorted(found.rejected.items(), key=lambda item: (-item[1], item[0])):
        table.add_row(str(count), reason)
    return table


def created_line(created: Created) -> str:
    job = created.job
    where = f" on {job.node_id}" if job.node_id else " (in the backlog)"
    if created.created:
        return f"created job {job.job_id} for request {job.request_id}: {job.state}{where}"
    return (
        f"request {job.request_id} already had job {job.job_id} ({job.state}); "
        "returned the existing job"
    )
