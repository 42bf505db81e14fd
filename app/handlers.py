"""Job handlers: plain functions from a job's payload to a JSON-serializable result.

A handler that raises fails the attempt, and the job is tried again on another node
while attempts remain; raise ``JobFailed`` to fail the job at once. Long handlers may
call ``cancelled()`` to learn that the job was cancelled or timed out.
"""

from __future__ import annotations

import contextvars
import importlib
import threading
from collections.abc import Callable, Iterable
from typing import Any

from app.errors import ConfigurationError

Handler = Callable[[dict[str, Any]], Any]

_stop_event: contextvars.ContextVar[threading.Event | None] = contextvars.ContextVar(
    "jobrelay_stop_event", default=None
)
MAX_SLEEP_S = 3600.0


class JobFailed(Exception):
    """Raised by a handler to fail the job without another attempt."""


def cancelled() -> bool:
    """True once the running job was cancelled or taken back by the scheduler."""
    event = _stop_event.get()
    return event is not None and event.is_set()


def bind_stop_event(event: threading.Event) -> contextvars.Token[threading.Event | None]:
    return _stop_event.set(event)


def release_stop_event(token: contextvars.Token[threading.Event | None]) -> None:
    _stop_event.reset(token)


def echo(payload: dict[str, Any]) -> dict[str, Any]:
    """Return the payload unchanged."""
    return payload


def sleep(payload: dict[str, Any]) -> dict[str, float]:
    """Sleep ``payload["seconds"]`` (at most an hour), waking early if cancelled."""
    seconds = payload.get("seconds", 0)
    if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds < 0:
        raise JobFailed("sleep needs payload.seconds, a number of seconds >= 0")
    seconds = min(float(seconds), MAX_SLEEP_S)
    event = _stop_event.get() or threading.Event()
    if event.wait(seconds):
        raise JobFailed("stopped before the sleep ended")
    return {"slept_s": seconds}


BUILTIN_HANDLERS: dict[str, Handler] = {"echo": echo, "sleep": sleep}


def load_handler(spec: str) -> tuple[str, Handler]:
    """Load ``KIND=module:function`` (or ``module:function``, kind = function name)."""
    kind, _, target = spec.rpartition("=")
    module_name, _, attribute = target.partition(":")
    if not module_name or not attribute:
        raise ConfigurationError(
            f"handler {spec!r} must look like KIND=module:function, e.g. asr=myapp.asr:run"
        )
    try:
        function = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError) as exc:
        raise ConfigurationError(f"handler {spec!r} cannot be loaded: {exc}") from exc
    if not callable(function):
        raise ConfigurationError(f"handler {spec!r} is not a function")
    return kind or attribute, function


def handler_table(specs: Iterable[str]) -> dict[str, Handler]:
    """The built-in handlers plus the user's, which may replace them."""
    table = dict(BUILTIN_HANDLERS)
    table.update(load_handler(spec) for spec in specs)
    return table
