"""The one exception tree of jobrelay.

    JobrelayError
    ├── ConfigurationError        settings that contradict each other; the process stops
    ├── InvalidRequest            bad input: names the field or message; nothing stored
    ├── IdempotencyConflict       a request_id reused with a different body
    ├── NotFound
    │   ├── JobNotFound
    │   └── NodeNotFound
    ├── TransitionRefused         a state change the job's state machine forbids
    ├── WaitTimeout               a job did not end within the time a caller would wait
    └── Unavailable               safe to retry: nothing was changed
        ├── BackendUnavailable    the state store cannot be reached
        └── SchedulerUnavailable  no scheduler answered in time

Errors from Redis, Celery and pydantic are translated into these at the boundary where
they occur (``raise ... from exc``). Every class takes one message string, so that Celery
can rebuild the exception on the caller's side from its JSON form.
"""

from __future__ import annotations


class JobrelayError(Exception):
    """Root of every error jobrelay raises on purpose."""

    retryable = False

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else self.__class__.__name__

    def to_dict(self) -> dict[str, str]:
        return {"type": type(self).__name__, "message": self.message}


class ConfigurationError(JobrelayError):
    """The configuration cannot work; the message says what to change."""


class InvalidRequest(JobrelayError):
    """Input that fails validation; the message names the field."""


class IdempotencyConflict(JobrelayError):
    """The request_id is bound to a request with a different body."""


class NotFound(JobrelayError):
    """A job or node that does not exist (or has expired)."""


class JobNotFound(NotFound):
    pass


class NodeNotFound(NotFound):
    pass


class TransitionRefused(JobrelayError):
    """A transition the job state machine does not allow from the job's state."""


class WaitTimeout(JobrelayError):
    """A job did not reach a final state within the caller's timeout."""


class Unavailable(JobrelayError):
    """A server did not answer; the operation changed nothing and may be retried."""

    retryable = True


class BackendUnavailable(Unavailable):
    """The state store (Redis) did not answer."""


class SchedulerUnavailable(Unavailable):
    """No scheduler answered a request in time."""


ERRORS_BY_NAME: dict[str, type[JobrelayError]] = {
    cls.__name__: cls
    for cls in (
        JobrelayError,
        ConfigurationError,
        InvalidRequest,
        IdempotencyConflict,
        NotFound,
        JobNotFound,
        NodeNotFound,
        TransitionRefused,
        WaitTimeout,
        Unavailable,
        BackendUnavailable,
        SchedulerUnavailable,
    )
}


def error_from_dict(data: dict[str, str]) -> JobrelayError:
    """Rebuild an error sent as ``{"type": ..., "message": ...}``."""
    cls = ERRORS_BY_NAME.get(data.get("type", ""), JobrelayError)
    return cls(data.get("message", "unknown error"))
