"""The JSON API under ``/api``: reads through the client's reader, commands as tasks."""

from __future__ import annotations

import logging
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.responses import StreamingResponse

from app.backends.base import JobPage, JobQuery
from app.models import ID_PATTERN, Created, Explanation, Job, JobRequest, JobState, Node
from app.monitor.feed import Feed, as_events
from app.monitor.views import Snapshot, StatsView, Views
from app.scheduler_workers import SchedulerWorkerView

log = logging.getLogger(__name__)

router = APIRouter(prefix="/api")
JobId = Annotated[str, Path(pattern=ID_PATTERN, description="the job's id")]
NodeId = Annotated[str, Path(pattern=ID_PATTERN, description="the node's id")]
ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"description": text}
    for code, text in ((400, "bad input"), (404, "unknown job or node"), (503, "unavailable"))
}


def views(request: Request) -> Views:
    found: Views = request.app.state.views
    return found


def feed(request: Request) -> Feed:
    found: Feed = request.app.state.feed
    return found


ViewsDep = Annotated[Views, Depends(views)]


@router.get("/jobs", response_model=JobPage, tags=["jobs"], responses=ERRORS)
def list_jobs(
    views: ViewsDep,
    *,
    state: JobState | None = None,
    node: Annotated[str | None, Query(description="only jobs on this node")] = None,
    kind: str | None = None,
    search: Annotated[str | None, Query(description="a job_id or request_id")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    before: Annotated[str | None, Query(description="the `next` of the previous page")] = None,
    brief: Annotated[bool, Query(description="leave out each job's payload and result")] = False,
) -> JobPage:
    """Jobs, newest first, one page at a time."""
    query = JobQuery(
        state=state, node_id=node, kind=kind, search=search, limit=limit, before=before
    )
    page = views.reader.list_jobs(query)
    if brief:
        page.jobs = [job.model_copy(update={"payload": {}, "result": None}) for job in page.jobs]
    return page


@router.get("/jobs/{job_id}", response_model=Job, tags=["jobs"], responses=ERRORS)
def get_job(job_id: JobId, views: ViewsDep) -> Job:
    return views.reader.get_job(job_id)


@router.post(
    "/jobs",
    response_model=Created,
    status_code=201,
    tags=["jobs"],
    responses={**ERRORS, 200: {"description": "a repeat: the existing job"}, 409: {}},
)
def submit(request: JobRequest, response: Response, views: ViewsDep) -> Created:
    """Create the job for a request once; a repeat with the same body gets the same job."""
    created = views.client.submit(request)
    if not created.created:
        response.status_code = 200
    return created


@router.post("/jobs/{job_id}/cancel", response_model=Job, tags=["jobs"], responses=ERRORS)
def cancel(job_id: JobId, views: ViewsDep) -> Job:
    """Cancel a job that has not ended; an ended job is returned unchanged."""
    return views.client.cancel(job_id)


@router.post("/explain", response_model=Explanation, tags=["jobs"], responses=ERRORS)
def explain(request: JobRequest, views: ViewsDep) -> Explanation:
    """Where a request would go now, without creating anything."""
    return views.reader.explain(request.model_dump(mode="json"))


@router.get("/nodes", response_model=list[Node], tags=["nodes"], responses=ERRORS)
def nodes(views: ViewsDep) -> list[Node]:
    return views.reader.nodes()


@router.post("/nodes/{node_id}/drain", response_model=Node, tags=["nodes"], responses=ERRORS)
def drain(
    node_id: NodeId,
    views: ViewsDep,
    draining: Annotated[bool, Query(description="false to take jobs again")] = True,
) -> Node:
    """Stop handing new jobs to a node (its running jobs finish)."""
    return views.client.drain(node_id, draining)


@router.get(
    "/schedulers", response_model=list[SchedulerWorkerView], tags=["schedulers"], responses=ERRORS
)
def schedulers(views: ViewsDep) -> list[SchedulerWorkerView]:
    """Known scheduler workers: alive, stopped or offline, which one sweeps, heartbeat age."""
    return views.schedulers()


@router.get("/stats", response_model=StatsView, tags=["stats"], responses=ERRORS)
def stats(views: ViewsDep) -> StatsView:
    """Counts per state, counters, backlog, and rates from recent samples."""
    return views.stats()


@router.get(
    "/events",
    tags=["stats"],
    response_class=StreamingResponse,
    responses={200: {"description": f"`snapshot` events: {Snapshot.__name__} as JSON"}},
)
async def events(live: Annotated[Feed, Depends(feed)]) -> StreamingResponse:
    """Server-sent events: a snapshot of stats, nodes, scheduler workers and the newest jobs
    about every second."""
    headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    return StreamingResponse(
        as_events(live.stream()), media_type="text/event-stream", headers=headers
    )
