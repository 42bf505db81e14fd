"""What fault tests share: killing process trees, watching slots, and the closing checks."""

from __future__ import annotations

import json
import random
import re
import signal
import threading
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

from app.backends.base import Backend, JobQuery
from app.models import Job, JobState
from tests.support.cluster import Cluster, Proc
from tests.support.stream import Answer

# "job J: succeeded on N (attempt K)": a report the scheduler applied (app/scheduler.py).
APPLIED = re.compile(r"job (\S+): (running|succeeded|failed|pending) on (\S+) \(attempt (\d+)\)")
IGNORED = re.compile(r"job (\S+): \w+ report for attempt (\d+) from (\S+) ignored")


def kill_tree(proc: Proc) -> None:
    """SIGKILL a process and the pool children it forked, as a lost machine would."""
    children = psutil.Process(proc.popen.pid).children(recursive=True)
    proc.popen.send_signal(signal.SIGKILL)
    for child in children:
        try:
            child.send_signal(signal.SIGKILL)
        except psutil.NoSuchProcess:
            continue
    proc.popen.wait(10)


class Supervisor(threading.Thread):
    """Restarts any cluster process that exits, as systemd or a container runtime would."""

    def __init__(self, cluster: Cluster) -> None:
        super().__init__(name="supervisor", daemon=True)
        self.cluster = cluster
        self.stopping = threading.Event()
        self.restarted: list[str] = []
        self.pids: dict[str, set[int]] = defaultdict(set)

    def run(self) -> None:
        while not self.stopping.wait(0.2):
            for proc in list(self.cluster.procs):
                self.pids[proc.name].add(proc.popen.pid)
                if proc.popen.poll() is None:
                    continue
                self.cluster.procs.remove(proc)
                self.restarted.append(proc.name)
                argv = [str(arg) for arg in proc.popen.args]  # type: ignore[union-attr]
                revived = self.cluster.spawn(f"{proc.name}-{len(self.restarted)}", argv)
                revived.name = proc.name

    def stop(self) -> None:
        self.stopping.set()
        if self.is_alive():
            self.join(10)


class SlotWatch(threading.Thread):
    """Samples every node's running + reserved against its slots while a test runs."""

    def __init__(self, backend: Backend, every_s: float = 0.01) -> None:
        super().__init__(name="slot-watch", daemon=True)
        self.backend = backend
        self.every_s = every_s
        self.stopping = threading.Event()
        self.samples = 0
        self.over: list[tuple[str, int, int]] = []
        self.negative: list[tuple[str, int, int]] = []

    def run(self) -> None:
        while not self.stopping.wait(self.every_s):
            try:
                nodes = self.backend.nodes()
            except Exception:
                continue
            for node in nodes:
                self.samples += 1
                if node.running + node.reserved > node.slots:
                    self.over.append((node.node_id, node.running + node.reserved, node.slots))
                if node.running < 0 or node.reserved < 0:
                    self.negative.append((node.node_id, node.running, node.reserved))

    def stop(self) -> None:
        self.stopping.set()
        self.join(10)


def all_jobs(backend: Backend) -> list[Job]:
    jobs: list[Job] = []
    before: str | None = None
    while True:
        page = backend.list_jobs(JobQuery(limit=1000, before=before))
        jobs += page.jobs
        if page.next is None:
            return jobs
        before = page.next


def run_peaks(log_dir: Path) -> dict[int, int]:
    """The most handler runs each node process had at once (from ``timed_sleep`` logs)."""
    peaks: dict[int, int] = {}
    for path in log_dir.glob("*.log"):
        steps = []
        for line in path.read_text().splitlines():
            entry = json.loads(line)
            steps += [(entry["start"], 1), (entry["end"], -1)]
        level = peak = 0
        for _, step in sorted(steps):
            level += step
            peak = max(peak, level)
        peaks[int(path.stem)] = peak
    return peaks


def applied_reports(logs: Iterable[str]) -> dict[str, list[tuple[str, str, int]]]:
    """Per job, the reports the schedulers applied: (state, node, attempt)."""
    found: dict[str, list[tuple[str, str, int]]] = defaultdict(list)
    for text in logs:
        for job_id, state, node, attempt in APPLIED.findall(text):
            found[job_id].append((state, node, int(attempt)))
    return found


TIMED = "timed=tests.support.handlers:timed_sleep"


def stream_plan(
    unique: int, repeats: int, conflicts: int, log_dir: Path, seed: int = 7
) -> list[dict[str, Any]]:
    """Requests for ``timed`` jobs: each id once, some repeated, some reused with a new body."""
    rng = random.Random(seed)

    def body(rid: str, variant: int) -> dict[str, Any]:
        payload = {"seconds": 0.01, "dir": str(log_dir), "v": variant}
        return {"request_id": rid, "kind": "timed", "payload": payload}

    ids = [f"r-{i}" for i in range(unique)]
    plan = [body(rid, 0) for rid in ids]
    plan += [body(rng.choice(ids), 0) for _ in range(repeats)]
    plan += [body(rid, 1) for rid in rng.sample(ids, conflicts)]
    rng.shuffle(plan)
    return plan


@dataclass
class Expect:
    """What a fault test sent and what it learned from the answers."""

    unique: set[str]
    node_pids: dict[str, set[int]] = field(default_factory=dict)
    node_slots: dict[str, int] = field(default_factory=dict)
    job_of: dict[str, str] = field(default_factory=dict)
    body_of: dict[str, dict[str, Any]] = field(default_factory=dict)


def _same(one: dict[str, Any], other: dict[str, Any]) -> bool:
    return json.dumps(one, sort_keys=True) == json.dumps(other, sort_keys=True)


def check_answers(requests: list[dict[str, Any]], answers: list[Answer]) -> Expect:
    """Each request_id got one job; one body won it and every other body got a conflict."""
    grouped: dict[str, list[tuple[dict[str, Any], Answer]]] = defaultdict(list)
    for sent, answer in zip(requests, answers, strict=True):
        assert answer.request_id == sent["request_id"]
        grouped[answer.request_id].append((sent, answer))
    expect = Expect(unique=set(grouped))
    for rid, pairs in grouped.items():
        won = [(sent, answer) for sent, answer in pairs if answer.error is None]
        assert won, (rid, pairs)
        body = won[0][0]
        assert all(_same(sent, body) for sent, _ in won), (rid, won)
        assert len({answer.job_id for _, answer in won}) == 1, (rid, won)
        for sent, answer in pairs:
            if answer.error is not None:
                assert answer.error.startswith("IdempotencyConflict"), answer
                assert not _same(sent, body), (rid, pairs)
        assert sum(answer.created for _, answer in pairs) <= 1, (rid, pairs)
        expect.job_of[rid] = str(won[0][1].job_id)
        expect.body_of[rid] = body
    return expect


def check_final_state(backend: Backend, expect: Expect, logs: Iterable[str]) -> list[Job]:
    """One stored job per request, all succeeded, slots released, no old attempt applied."""
    jobs = all_jobs(backend)
    assert len(jobs) == len(expect.unique)
    assert {job.request_id: job.job_id for job in jobs} == expect.job_of
    assert all(job.payload == expect.body_of[job.request_id]["payload"] for job in jobs)
    assert backend.stats().counters["created"] == len(expect.unique)
    not_done = [(j.job_id, j.state) for j in jobs if j.state is not JobState.SUCCEEDED]
    assert not_done == []
    for node in backend.nodes():
        assert (node.running, node.reserved) == (0, 0), node
    applied = applied_reports(logs)
    for job in jobs:
        ends = [entry for entry in applied.get(job.job_id, []) if entry[0] == "succeeded"]
        assert len(ends) <= 1, (job.job_id, ends)
        if ends:
            assert ends[0][1:] == (job.node_id, job.attempt), (job.job_id, ends, job)
        if expect.node_pids and isinstance(job.result, dict) and "pid" in job.result:
            assert job.result["pid"] in expect.node_pids[str(job.node_id)], job
    return jobs


def check_peaks(log_dir: Path, expect: Expect) -> dict[int, int]:
    """No node process ran more handlers at once than its slots."""
    peaks = run_peaks(log_dir)
    slots_of_pid = {
        pid: expect.node_slots[node] for node, pids in expect.node_pids.items() for pid in pids
    }
    for pid, peak in peaks.items():
        assert peak <= slots_of_pid[pid], (pid, peak, slots_of_pid)
    return peaks
