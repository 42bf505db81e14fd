"""What the demo reports at the end, as a rich table or JSON."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

from rich.table import Table

from app.backends.base import JobQuery
from app.client import Client
from app.models import Job, JobState
from workers.cli.demo_load import LoadPlan, Tally

PAGE_SIZE = 1000


@dataclass
class BacklogEntry:
    job_id: str
    request_id: str
    requires: list[str]
    why: str


@dataclass
class Summary:
    mode: str
    sent: int
    created: int
    duplicates: int
    expected_duplicates: int
    one_job_per_request: bool
    conflicts: int
    errors: list[str]
    jobs_stored: int
    succeeded: int
    failed: int
    per_node: dict[str, int]
    backlog: list[BacklogEntry]
    p50_s: float | None
    p99_s: float | None
    dashboard: str
    elapsed_s: float = 0.0
    logs: str = ""
    unfinished: int = 0
    notes: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {**asdict(self), "healthy": self.healthy}

    @property
    def healthy(self) -> bool:
        """Every request_id got one job, nothing failed to send, and every servable job ended."""
        return self.one_job_per_request and not self.errors and not self.notes


def all_jobs(client: Client) -> list[Job]:
    """Every job in the store, page by page."""
    jobs: list[Job] = []
    before: str | None = None
    while True:
        page = client.reader.list_jobs(JobQuery(limit=PAGE_SIZE, before=before))
        jobs += page.jobs
        if not page.next:
            return jobs
        before = page.next


def percentile(values: list[float], share: float) -> float | None:
    """The nearest-rank percentile, or None without values."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(math.ceil(share * len(ordered)) - 1, 0)]


def summarize(client: Client, plan: LoadPlan, tally: Tally, mode: str, dashboard: str) -> Summary:
    jobs = [job for job in all_jobs(client) if job.job_id in set(tally.created.values())]
    done = [job for job in jobs if job.final and job.finished_at is not None]
    latencies = [job.finished_at - job.created_at for job in done if job.finished_at]
    stored = client.reader.stats().counters.get("created", 0)
    return Summary(
        mode=mode,
        sent=tally.sent,
        created=len(tally.created),
        duplicates=tally.duplicates,
        expected_duplicates=plan.expected_duplicates,
        one_job_per_request=tally.one_job_per_request(),
        conflicts=tally.conflicts,
        errors=tally.errors[:10],
        jobs_stored=int(stored),
        succeeded=sum(job.state is JobState.SUCCEEDED for job in jobs),
        failed=sum(job.state is JobState.FAILED for job in jobs),
        per_node=dict(sorted(Counter(job.node_id or "-" for job in done).items())),
        backlog=[backlog_entry(job) for job in jobs if job.state is JobState.PENDING],
        p50_s=percentile(latencies, 0.5),
        p99_s=percentile(latencies, 0.99),
        dashboard=dashboard,
        unfinished=sum(job.state in (JobState.ASSIGNED, JobState.RUNNING) for job in jobs),
    )


def backlog_entry(job: Job) -> BacklogEntry:
    why = job.explanation or "waiting for a free slot"
    return BacklogEntry(job.job_id, job.request_id, job.requires, why)


def seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}s"


def summary_table(summary: Summary) -> Table:
    title = f"jobrelay demo ({summary.mode} mode)"
    table = Table(title=title, title_justify="left", show_header=False)
    table.add_column("", style="bold")
    table.add_column("")
    same = "each got one job" if summary.one_job_per_request else "[red]MORE THAN ONE JOB[/]"
    rows = [
        ("requests sent", str(summary.sent)),
        ("jobs created", f"{summary.created} (the store counts {summary.jobs_stored})"),
        ("duplicates answered", f"{summary.duplicates} with the existing job; request_ids {same}"),
        ("conflicts refused", f"{summary.conflicts} (same request_id, different body)"),
        ("succeeded / failed", f"{summary.succeeded} / {summary.failed}"),
        ("jobs per node", ", ".join(f"{n}: {c}" for n, c in summary.per_node.items()) or "-"),
        ("backlog", f"{len(summary.backlog)} pending"),
        *[(f"  {entry.request_id}", entry.why) for entry in summary.backlog],
        ("creation to finish", f"p50 {seconds(summary.p50_s)}, p99 {seconds(summary.p99_s)}"),
        ("dashboard", dashboard_note(summary.dashboard)),
        ("demo took", f"{summary.elapsed_s:.1f}s"),
    ]
    if summary.unfinished:
        rows.append(("[red]unfinished[/]", f"{summary.unfinished} jobs still assigned or running"))
    rows += [("[red]error[/]", error) for error in summary.errors]
    rows += [("note", note) for note in summary.notes]
    if not summary.healthy:
        rows.append(("logs", summary.logs))
    for name, value in rows:
        table.add_row(name, value)
    return table


def dashboard_note(dashboard: str) -> str:
    """The dashboard's address, saying that it lives as long as the demo's cluster."""
    if not dashboard.startswith("http"):
        return dashboard
    return f"{dashboard} (up while the cluster runs: add --keep-running to browse it)"
