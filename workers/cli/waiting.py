"""Waiting for jobs to end while showing their progress on stderr."""

from __future__ import annotations

import time

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from app.client import Client
from app.errors import WaitTimeout
from app.models import Job
from workers.cli import render

POLL_START_S = 0.05
POLL_MAX_S = 0.5


class Poller:
    """Growing pauses between polls, never past a deadline."""

    def __init__(self, timeout_s: float) -> None:
        self.deadline = time.monotonic() + timeout_s
        self.delay = POLL_START_S

    def expired(self) -> bool:
        return time.monotonic() >= self.deadline

    def pause(self) -> None:
        time.sleep(max(min(self.delay, self.deadline - time.monotonic()), 0.0))
        self.delay = min(self.delay * 1.5, POLL_MAX_S)


def wait_one(client: Client, job: Job, timeout_s: float) -> Job:
    """Poll one job until it ends, showing its state and node."""
    poller = Poller(timeout_s)
    with render.err().status("") as status:
        while not job.final:
            if poller.expired():
                raise WaitTimeout(f"job {job.job_id} is still {job.state} after {timeout_s:g}s")
            where = f" on {job.node_id}" if job.node_id else ""
            status.update(f"job {job.job_id}: {render.state(job.state)}{where}")
            poller.pause()
            job = client.get_job(job.job_id)
    return job


def wait_many(client: Client, jobs: list[Job], timeout_s: float) -> list[Job]:
    """Poll jobs until all end, with a progress bar of the finished ones."""
    latest = {job.job_id: job for job in jobs}
    poller = Poller(timeout_s)
    columns = (TextColumn("jobs"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=render.err(), transient=True) as progress:
        task = progress.add_task("jobs", total=len(latest))
        while True:
            left = [job_id for job_id, job in latest.items() if not job.final]
            progress.update(task, completed=len(latest) - len(left))
            if not left:
                return [latest[job.job_id] for job in jobs]
            if poller.expired():
                raise WaitTimeout(f"{len(left)} jobs still not finished after {timeout_s:g}s")
            poller.pause()
            for job_id in left:
                latest[job_id] = client.get_job(job_id)
