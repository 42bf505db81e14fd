"""Celery tasks: the scheduler's (queue ``jobrelay``) and the node's ``jobrelay.run_job``.

Each task takes its one argument however it was sent (positional or by name), checks the
arity itself so that a garbage message gets a clear error instead of a TypeError, and
hands the work to ``app.scheduler``. Expected errors are declared in ``throws`` so that
Celery logs them as one line, without a traceback.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from celery import Task

from app.celery_app import celery
from app.control import QUERY_OPS
from app.errors import (
    IdempotencyConflict,
    InvalidRequest,
    JobrelayError,
    NotFound,
    TransitionRefused,
    Unavailable,
)
from app.models import ID_PATTERN
from workers import signals  # noqa: F401 - connects the worker signal handlers
from workers.listening import PROBE_TASK
from workers.runtime import runtime

log = logging.getLogger(__name__)

# Malformed message bodies are dropped with a log line instead of stopping the worker.
STRATEGY = "workers.strategy:guarded"
EXPECTED = (InvalidRequest, IdempotencyConflict, NotFound, TransitionRefused)
RETRY = {
    "autoretry_for": (Unavailable,),
    "retry_backoff": 1,
    "retry_backoff_max": 30,
    "retry_jitter": True,
    "max_retries": None,
}


ID_RULE = "a string of 1 to 200 characters among A-Z a-z 0-9 . _ : -"


def is_identifier(value: Any) -> bool:
    return isinstance(value, str) and re.fullmatch(ID_PATTERN, value) is not None


def argument(task: str, args: tuple[Any, ...], kwargs: dict[str, Any], names: list[str]) -> Any:
    """The single argument of a task, sent positionally or as one of ``names``."""
    if len(args) == 1 and not kwargs:
        return args[0]
    if not args and len(kwargs) == 1 and next(iter(kwargs)) in names:
        return next(iter(kwargs.values()))
    raise InvalidRequest(
        f"invalid message: {task} takes one argument ({names[0]}); got {len(args)} "
        f"positional and {len(kwargs)} keyword arguments"
    )


def guarded(call: Any) -> Any:
    """Run a scheduler call, logging a state-store outage once and letting Celery retry."""
    rt = runtime()
    try:
        answer = call(rt)
    except Unavailable as exc:
        rt.outage.failed(exc)
        raise
    rt.outage.succeeded()
    return answer


@celery.task(
    Strategy=STRATEGY, name="jobrelay.create_job", ignore_result=False, throws=EXPECTED, **RETRY
)
def create_job(*args: Any, **kwargs: Any) -> dict[str, Any]:
    request = argument("jobrelay.create_job", args, kwargs, ["request"])
    answer: dict[str, Any] = guarded(lambda rt: rt.scheduler.create(request))
    return answer


@celery.task(
    Strategy=STRATEGY, name="jobrelay.create_jobs", ignore_result=False, throws=EXPECTED, **RETRY
)
def create_jobs(*args: Any, **kwargs: Any) -> list[dict[str, Any]]:
    requests = argument("jobrelay.create_jobs", args, kwargs, ["requests"])
    answers: list[dict[str, Any]] = guarded(lambda rt: rt.scheduler.create_many(requests))
    return answers


@celery.task(
    Strategy=STRATEGY, name="jobrelay.node_heartbeat", ignore_result=False, throws=EXPECTED
)
def node_heartbeat(*args: Any, **kwargs: Any) -> dict[str, Any]:
    beat = argument("jobrelay.node_heartbeat", args, kwargs, ["heartbeat"])
    return dict(guarded(lambda rt: rt.scheduler.heartbeat(beat)).model_dump(mode="json"))


@celery.task(Strategy=STRATEGY, name="jobrelay.report", throws=EXPECTED, **RETRY)
def report(*args: Any, **kwargs: Any) -> str:
    data = argument("jobrelay.report", args, kwargs, ["report"])
    return str(guarded(lambda rt: rt.scheduler.report(data)).outcome)


@celery.task(
    Strategy=STRATEGY, name="jobrelay.cancel_job", ignore_result=False, throws=EXPECTED, **RETRY
)
def cancel_job(*args: Any, **kwargs: Any) -> dict[str, Any]:
    job_id = argument("jobrelay.cancel_job", args, kwargs, ["job_id"])
    if not is_identifier(job_id):
        raise InvalidRequest(f"invalid message: jobrelay.cancel_job takes a job_id, {ID_RULE}")
    return dict(guarded(lambda rt: rt.scheduler.cancel(job_id)).public())


def two_arguments(
    task: str, args: tuple[Any, ...], kwargs: dict[str, Any], names: tuple[str, str], second: Any
) -> tuple[Any, Any]:
    """The (first, second) arguments of a task, positional or by name; the second optional."""
    values = dict(zip(names, args, strict=False))
    if len(args) > 2 or set(kwargs) - set(names) or set(kwargs) & set(values):
        raise InvalidRequest(f"invalid message: {task} takes ({', '.join(names)})")
    values.update(kwargs)
    return values.get(names[0]), values.get(names[1], second)


@celery.task(
    Strategy=STRATEGY, name="jobrelay.drain_node", ignore_result=False, throws=EXPECTED, **RETRY
)
def drain_node(*args: Any, **kwargs: Any) -> dict[str, Any]:
    names = ("node_id", "draining")
    node_id, draining = two_arguments("jobrelay.drain_node", args, kwargs, names, True)
    if not is_identifier(node_id) or not isinstance(draining, bool):
        raise InvalidRequest(
            f"invalid message: jobrelay.drain_node takes (node_id, draining), {ID_RULE}"
        )
    node = guarded(lambda rt: rt.scheduler.drain(node_id, draining))
    return dict(node.model_dump(mode="json"))


@celery.task(
    Strategy=STRATEGY, name="jobrelay.query", ignore_result=False, throws=EXPECTED, **RETRY
)
def query(*args: Any, **kwargs: Any) -> Any:
    op, arguments = two_arguments("jobrelay.query", args, kwargs, ("op", "args"), None)
    if op not in QUERY_OPS or not isinstance(arguments, dict):
        raise InvalidRequest(
            f"invalid message: jobrelay.query takes (operation, arguments) with an operation "
            f"among {', '.join(QUERY_OPS)} and arguments as an object"
        )
    return guarded(lambda rt: rt.reader.answer(op, arguments))


@celery.task(
    Strategy=STRATEGY, name="jobrelay.run_job", bind=True, acks_late=False, throws=(JobrelayError,)
)
def run_job(self: Task, *args: Any, **kwargs: Any) -> str:
    from workers.node_agent import current_agent

    order = argument("jobrelay.run_job", args, kwargs, ["order"])
    return current_agent().run(order)


@celery.task(Strategy=STRATEGY, name=PROBE_TASK, ignore_result=True, throws=EXPECTED)
def probe(*args: Any, **kwargs: Any) -> None:
    """A node's probe of its own queue: its arrival is the answer, so it does nothing."""
    if args or kwargs:
        raise InvalidRequest(f"invalid message: {PROBE_TASK} takes no arguments")
