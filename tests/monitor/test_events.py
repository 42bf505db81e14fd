"""The live feed: server-sent events from one poller shared by every open stream."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
from fastapi import FastAPI

from app.backends.base import JobPage, JobQuery
from app.control import BackendReader
from tests.monitor.support import Cluster, serving


class CountingReader(BackendReader):
    """The real reader, counting the job-list reads (the feed makes one per tick)."""

    def __init__(self, inner: BackendReader) -> None:
        super().__init__(inner.backend, inner.options, inner.max_payload_bytes)
        self.lists = 0
        self._lock = threading.Lock()

    def list_jobs(self, query: JobQuery) -> JobPage:
        with self._lock:
            self.lists += 1
        return super().list_jobs(query)


def snapshots(lines: Iterator[str]) -> Iterator[dict[str, Any]]:
    event = ""
    for line in lines:
        if line.startswith("event: "):
            event = line.removeprefix("event: ")
        elif line.startswith("data: ") and event == "snapshot":
            yield json.loads(line.removeprefix("data: "))


def test_a_stream_carries_stats_nodes_schedulers_and_jobs_without_payloads(
    app: FastAPI, cluster: Cluster
) -> None:
    cluster.node("gpu-1")
    cluster.scheduler_worker("s1@host-a", sweeping=True)
    job = cluster.submit("r-1")

    with serving(app) as url, httpx.stream("GET", f"{url}/api/events", timeout=10) as stream:
        assert stream.headers["content-type"].startswith("text/event-stream")
        first = next(snapshots(stream.iter_lines()))

    assert first["error"] is None
    assert first["stats"]["states"]["assigned"] == 1
    assert [n["node_id"] for n in first["nodes"]] == ["gpu-1"]
    assert [(w["name"], w["status"], w["sweeping"]) for w in first["schedulers"]] == [
        ("s1@host-a", "alive", True)
    ]
    assert first["jobs"][0]["job_id"] == job.job_id
    assert "payload" not in first["jobs"][0]
    assert "result" not in first["jobs"][0]


def test_streams_share_one_poller(app: FastAPI, cluster: Cluster) -> None:
    reader = CountingReader(cluster.client.reader)  # type: ignore[arg-type]
    cluster.client.reader = reader
    received: list[int] = []
    lock = threading.Lock()

    def listen(url: str, ready: threading.Barrier) -> None:
        with httpx.stream("GET", f"{url}/api/events", timeout=10) as stream:
            ready.wait()
            for count, _ in enumerate(snapshots(stream.iter_lines()), start=1):
                if count == 3:
                    with lock:
                        received.append(count)
                    return

    with serving(app) as url:
        ready = threading.Barrier(3)
        threads = [threading.Thread(target=listen, args=(url, ready)) for _ in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=15)
        feed = app.state.feed
        deadline = time.monotonic() + 5
        while feed.listeners and time.monotonic() < deadline:
            time.sleep(0.05)
        polls = reader.lists

    assert received == [3, 3, 3]
    # Nine snapshots were delivered from about three polls, not nine.
    assert polls <= 5
    assert feed.listeners == 0
