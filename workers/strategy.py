"""A guard in front of Celery's message strategy: malformed bodies are dropped, not fatal.

Celery hands a task message to its strategy outside the per-task error handling, so a
body that decodes but is not a protocol-2 ``[args, kwargs, options]`` array (an empty body
is one) raises there and stops the whole worker; with late acknowledgement the message
then comes back and stops the next worker too. Refusing it as an invalid task instead makes
Celery log it and drop it.
"""

from __future__ import annotations

from typing import Any

from celery.exceptions import InvalidTaskError
from celery.worker.strategy import default


def well_formed(payload: Any) -> bool:
    """A protocol-2 array, or a hybrid object whose args and kwargs have the right types."""
    if isinstance(payload, list | tuple):
        if len(payload) != 3:
            return False
        args, kwargs, embed = payload
        return (
            isinstance(args, list | tuple)
            and isinstance(kwargs, dict)
            and (embed is None or isinstance(embed, dict))
        )
    if not isinstance(payload, dict):
        return False
    args, kwargs = payload.get("args", ()), payload.get("kwargs", {})
    return isinstance(args, list | tuple) and isinstance(kwargs, dict) and "task" in payload


def guarded(task: Any, app: Any, consumer: Any, **options: Any) -> Any:
    """Celery's default strategy for ``task``, refusing bodies it cannot take apart."""
    handle = default(task, app, consumer, **options)

    def on_message(
        message: Any, body: Any, ack: Any, reject: Any, callbacks: Any, **kw: Any
    ) -> Any:
        if body is None and not well_formed(message.payload):
            raise InvalidTaskError(
                f"invalid message for {task.name}: the body is not a JSON array of "
                "[args, kwargs, options]; dropped"
            )
        return handle(message, body, ack, reject, callbacks, **kw)

    return on_message
