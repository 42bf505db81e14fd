"""Reading the scheduler's state: straight from a shared backend, or by asking a scheduler.

In cross-instance mode every process can read Redis, so readers go to the backend. In
local mode the state lives in the scheduler process alone, so readers send it a
``jobrelay.query`` task and wait for the answer; the scheduler answers it with the very
same ``BackendReader``.
"""

from __future__ import annotations

import time
from typing import Any, Protocol

from app.backends.base import Backend, JobPage, JobQuery, Stats
from app.creation import new_job
from app.errors import InvalidRequest, JobNotFound
from app.models import Explanation, Job, Node, SchedulerWorker, parse_request
from app.selection import FleetView, Selector, SelectorOptions

QUERY_OPS = ("get_job", "list_jobs", "nodes", "schedulers", "stats", "explain")


class Reader(Protocol):
    def get_job(self, job_id: str) -> Job: ...

    def list_jobs(self, query: JobQuery) -> JobPage: ...

    def nodes(self) -> list[Node]: ...

    def schedulers(self) -> list[SchedulerWorker]: ...

    def stats(self) -> Stats: ...

    def explain(self, data: object) -> Explanation: ...


class BackendReader:
    """Answers reads from a backend; ``answer`` serves the ``jobrelay.query`` task."""

    def __init__(self, backend: Backend, options: SelectorOptions, max_payload_bytes: int) -> None:
        self.backend = backend
        self.options = options
        self.max_payload_bytes = max_payload_bytes

    def get_job(self, job_id: str) -> Job:
        job = self.backend.get_job(job_id)
        if job is None:
            raise JobNotFound(f"job {job_id} does not exist (or its retention has passed)")
        return job

    def list_jobs(self, query: JobQuery) -> JobPage:
        return self.backend.list_jobs(query)

    def nodes(self) -> list[Node]:
        return sorted(self.backend.nodes(), key=lambda node: node.node_id)

    def schedulers(self) -> list[SchedulerWorker]:
        return self.backend.schedulers()

    def stats(self) -> Stats:
        return self.backend.stats()

    def explain(self, data: object) -> Explanation:
        """Where the request would go now, without creating anything."""
        request = parse_request(data, self.max_payload_bytes)
        now = time.time()
        view = FleetView.build(self.backend.nodes(), now)
        return Selector(self.options).select(new_job(request, now), view, now).explanation

    def answer(self, op: str, args: dict[str, Any]) -> Any:
        if op == "get_job":
            return self.get_job(str(args.get("job_id", ""))).public()
        if op == "list_jobs":
            query = JobQuery.model_validate(args.get("query", {}))
            return self.list_jobs(query).model_dump(mode="json")
        if op == "nodes":
            return [node.model_dump(mode="json") for node in self.nodes()]
        if op == "schedulers":
            return [worker.model_dump(mode="json") for worker in self.schedulers()]
        if op == "stats":
            return self.stats().model_dump(mode="json")
        if op == "explain":
            return self.explain(args.get("request")).model_dump(mode="json")
        raise InvalidRequest(f"invalid query: unknown operation {op!r}; use one of {QUERY_OPS}")
