"""Commands about jobs: submit, job, jobs, explain, cancel."""

from __future__ import annotations

import sys
import time
from typing import IO, Any

import click

from app.backends.base import JobQuery
from app.client import Client
from app.errors import JobrelayError
from app.models import Created, Job, JobState
from workers.cli import render
from workers.cli.options import (
    flags_given,
    json_option,
    read_requests,
    request_from_flags,
    request_options,
)
from workers.cli.session import Session, pass_session
from workers.cli.waiting import wait_many, wait_one

DEFAULT_WAIT_S = 600.0


def request_source(file: IO[str] | None, source: str | None, flags: dict[str, Any]) -> Any:
    """The request (or list) from a file, stdin (``-``) or the flags; only one of them."""
    if source not in (None, "-"):
        raise click.BadParameter("only '-' (stdin) is accepted here", param_hint="SOURCE")
    if source == "-" and file is None:
        file = sys.stdin
    if file is None:
        return request_from_flags(flags)
    if flags_given(flags):
        raise click.UsageError("give the request as flags or as a file, not both")
    return read_requests(file, getattr(file, "name", "the input"))


@click.command()
@request_options
@click.option("--file", type=click.File("r"), help="A JSON request, or a list ('-': stdin).")
@click.argument("source", required=False)
@click.option("--wait", is_flag=True, help="Wait for the job to end; exit 1 unless it succeeded.")
@click.option("--wait-timeout-s", type=float, default=DEFAULT_WAIT_S, show_default=True)
@json_option
@pass_session
def submit(
    session: Session,
    /,
    *,
    file: IO[str] | None,
    source: str | None,
    wait: bool,
    wait_timeout_s: float,
    as_json: bool,
    **flags: Any,
) -> None:
    """Submit a request (flags, --file F.json, or '-' for stdin); a list is one batch."""
    data = request_source(file, source, flags)
    client = session.client()
    if isinstance(data, list):
        _submit_many(client, data, wait, wait_timeout_s, as_json)
        return
    created = client.submit(data)
    if wait:
        created.job = wait_one(client, created.job, wait_timeout_s)
    if as_json:
        render.print_json(created.public())
    else:
        _show_created(created, wait)
    if wait and created.job.state is not JobState.SUCCEEDED:
        raise click.exceptions.Exit(1)


def _show_created(created: Created, waited: bool) -> None:
    render.out().print(render.created_line(created))
    if waited:
        render.out().print(render.job_table(created.job))


def _submit_many(
    client: Client, data: list[Any], wait: bool, timeout_s: float, as_json: bool
) -> None:
    answers = client.submit_many(data)
    jobs = [answer.job for answer in answers if isinstance(answer, Created)]
    finished = {job.job_id: job for job in wait_many(client, jobs, timeout_s)} if wait else {}
    rows = [_answer_json(answer, finished) for answer in answers]
    if as_json:
        render.print_json(rows)
    else:
        _show_answers(answers, finished)
    failed = any("error" in row for row in rows)
    if failed or (wait and any(job.state is not JobState.SUCCEEDED for job in finished.values())):
        raise click.exceptions.Exit(1)


def _answer_json(answer: Created | JobrelayError, finished: dict[str, Job]) -> dict[str, Any]:
    if isinstance(answer, JobrelayError):
        return {"error": answer.to_dict()}
    answer.job = finished.get(answer.job.job_id, answer.job)
    return answer.public()


def _show_answers(answers: list[Created | JobrelayError], finished: dict[str, Job]) -> None:
    console = render.out()
    for index, answer in enumerate(answers):
        if isinstance(answer, JobrelayError):
            console.print(f"[red]request {index}: {answer.message}[/]")
        else:
            console.print(render.created_line(answer))
    if finished:
        console.print(render.jobs_table(list(finished.values()), time.time()))


@click.command("job")
@click.argument("job_id")
@json_option
@pass_session
def job_command(session: Session, /, *, job_id: str, as_json: bool) -> None:
    """Show one job."""
    job = session.client().get_job(job_id)
    if as_json:
        render.print_json(job.public())
    else:
        render.out().print(render.job_table(job))


@click.command()
@click.option("--state", type=click.Choice([state.value for state in JobState]))
@click.option("--node", help="Only jobs on this node.")
@click.option("--kind", help="Only jobs of this kind.")
@click.option("--search", help="A job_id or request_id.")
@click.option("--limit", type=click.IntRange(1, 1000), default=50, show_default=True)
@click.option("--before", help="Page on: only jobs older than this job_id.")
@json_option
@pass_session
def jobs(
    session: Session,
    /,
    *,
    state: str | None,
    node: str | None,
    kind: str | None,
    search: str | None,
    limit: int,
    before: str | None,
    as_json: bool,
) -> None:
    """List jobs, newest first."""
    query = JobQuery(
        state=JobState(state) if state else None,
        node_id=node,
        kind=kind,
        search=search,
        limit=limit,
        before=before,
    )
    page = session.client().reader.list_jobs(query)
    if as_json:
        render.print_json(page.model_dump(mode="json"))
        return
    render.out().print(render.jobs_table(page.jobs, time.time()))
    if page.next:
        render.out().print(f"more: jobrelay jobs --before {page.next}")


@click.command()
@request_options
@json_option
@pass_session
def explain(session: Session, /, *, as_json: bool, **flags: Any) -> None:
    """Where a request would go now, and why; nothing is created."""
    explanation = session.client().reader.explain(request_from_flags(flags))
    if as_json:
        render.print_json(explanation.model_dump(mode="json"))
    else:
        render.out().print(render.explanation(explanation))


@click.command()
@click.argument("job_id")
@json_option
@pass_session
def cancel(session: Session, /, *, job_id: str, as_json: bool) -> None:
    """Cancel a job that has not ended."""
    job = session.client().cancel(job_id)
    if as_json:
        render.print_json(job.public())
    elif job.state is JobState.CANCELLED:
        render.out().print(f"job {job.job_id}: cancelled")
    else:
        render.out().print(f"job {job.job_id} had already ended ({job.state}); nothing changed")


COMMANDS = [submit, job_command, jobs, explain, cancel]
