"""The Python client: submit requests, read jobs, wait for them to end.

from app.client import submit, get_job, wait_job

created = submit({"request_id": "r-1", "kind": "echo", "payload": {"x": 1}})
job = wait_job(created.job.job_id, timeout_s=30)
"""

from __future__ import annotations

import functools
import time
from typing import Any

from celery import Celery
from celery.exceptions import TimeoutError as CeleryTimeout
from kombu.exceptions import OperationalError

from app.backends.base import JobPage, JobQuery, Stats
from app.control import BackendReader, Reader
from app.errors import JobrelayError, SchedulerUnavailable, WaitTimeout, error_from_dict
from app.models import (
    Created,
    Explanation,
    Job,
    JobRequest,
    Node,
    SchedulerWorker,
    parse_request,
)
from app.scheduler import selector_options
from app.settings import Settings, get_settings

SCHEDULER_QUEUE = "jobrelay"


class TaskReader:
    """Reads by asking a scheduler with the ``jobrelay.query`` task (local mode)."""

    def __init__(self, client: Client) -> None:
        self._client = client

    def _ask(self, op: str, **args: Any) -> Any:
        return self._client.call("jobrelay.query", op, args)

    def get_job(self, job_id: str) -> Job:
        return Job.model_validate(self._ask("get_job", job_id=job_id))

    def list_jobs(self, query: JobQuery) -> JobPage:
        return JobPage.model_validate(self._ask("list_jobs", query=query.model_dump(mode="json")))

    def nodes(self) -> list[Node]:
        return [Node.model_validate(node) for node in self._ask("nodes")]

    def schedulers(self) -> list[SchedulerWorker]:
        return [SchedulerWorker.model_validate(worker) for worker in self._ask("schedulers")]

    def stats(self) -> Stats:
        return Stats.model_validate(self._ask("stats"))

    def explain(self, data: object) -> Explanation:
        return Explanation.model_validate(self._ask("explain", request=data))


class Client:
    """A connection to jobrelay through Celery, and to Redis in cross-instance mode."""

    def __init__(
        self,
        settings: Settings | None = None,
        celery: Celery | None = None,
        answer_timeout_s: float = 30.0,
    ) -> None:
        self.settings = settings or get_settings()
        self.answer_timeout_s = answer_timeout_s
        if celery is None:
            from app.celery_app import celery as default_app

            celery = default_app
        self.celery = celery
        self.reader: Reader = self._reader()

    def _reader(self) -> Reader:
        if self.settings.local:
            return TaskReader(self)
        from app.backends.factory import open_backend

        backend = open_backend(self.settings)
        options = selector_options(self.settings)
        return BackendReader(backend, options, self.settings.max_payload_bytes)

    def call(self, task: str, *args: Any, timeout_s: float | None = None, shown: str = "") -> Any:
        """Send a task to the schedulers and wait for its answer.

        ``shown`` replaces the arguments where Celery would display them (events, Flower),
        so that payloads stay out of sight. A message no scheduler took within the wait
        expires: a caller told that nothing answered never sees it applied later.
        """
        timeout_s = self.answer_timeout_s if timeout_s is None else timeout_s
        options: dict[str, Any] = {"expires": timeout_s}
        if shown:
            options["argsrepr"] = shown
        try:
            result = self.celery.send_task(task, args=list(args), queue=SCHEDULER_QUEUE, **options)
            return result.get(timeout=timeout_s, interval=0.02)
        except CeleryTimeout as exc:
            raise SchedulerUnavailable(
                f"no scheduler answered {task} within {timeout_s:g}s; is `jobrelay scheduler` "
                "running with the same JOBRELAY_MODE and broker?"
            ) from exc
        except OperationalError as exc:
            raise SchedulerUnavailable(f"the broker cannot be reached: {exc}") from exc

    def submit(
        self, request: JobRequest | dict[str, Any], wait: bool = False, timeout_s: float = 60.0
    ) -> Created:
        """Create the job for a request (or get the existing one); optionally wait for its end."""
        data = request.model_dump(mode="json") if isinstance(request, JobRequest) else request
        parse_request(data, self.settings.max_payload_bytes)
        shown = f"(request {data.get('request_id')!r},)"
        created = Created.model_validate(self.call("jobrelay.create_job", data, shown=shown))
        if wait:
            created.job = self.wait_job(created.job.job_id, timeout_s)
        return created

    def submit_many(self, requests: list[dict[str, Any]]) -> list[Created | JobrelayError]:
        """Create a batch in one task; each answer is the job or the error for that request."""
        answers = self.call("jobrelay.create_jobs", requests, shown=f"({len(requests)} requests,)")
        return [
            error_from_dict(answer["error"])
            if "error" in answer
            else Created.model_validate(answer)
            for answer in answers
        ]

    def get_job(self, job_id: str) -> Job:
        return self.reader.get_job(job_id)

    def wait_job(self, job_id: str, timeout_s: float = 60.0) -> Job:
        """Poll until the job is final; raises ``WaitTimeout`` with its last state if not."""
        deadline = time.monotonic() + timeout_s
        delay = 0.02
        while True:
            job = self.get_job(job_id)
            if job.final:
                return job
            if time.monotonic() >= deadline:
                raise WaitTimeout(f"job {job_id} is still {job.state} after {timeout_s:g}s")
            time.sleep(min(delay, max(deadline - time.monotonic(), 0)))
            delay = min(delay * 2, 0.5)

    def cancel(self, job_id: str) -> Job:
        return Job.model_validate(self.call("jobrelay.cancel_job", job_id))

    def drain(self, node_id: str, draining: bool = True) -> Node:
        return Node.model_validate(self.call("jobrelay.drain_node", node_id, draining))


@functools.cache
def default_client() -> Client:
    return Client()


def submit(
    request: JobRequest | dict[str, Any], wait: bool = False, timeout_s: float = 60.0
) -> Created:
    return default_client().submit(request, wait=wait, timeout_s=timeout_s)


def get_job(job_id: str) -> Job:
    return default_client().get_job(job_id)


def wait_job(job_id: str, timeout_s: float = 60.0) -> Job:
    return default_client().wait_job(job_id, timeout_s)
