"""Turning every failure of a command into one line on stderr and an exit code.

jobrelay's own errors already say what happened and what to do. Errors from Celery,
kombu and redis-py that escape the core are named here, so that the user reads a
sentence rather than a traceback; ``--debug`` shows the traceback as well.
"""

from __future__ import annotations

import click
from kombu.exceptions import OperationalError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from app.errors import JobrelayError

EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


class CommandFailed(click.ClickException):
    """A failure already phrased for the user; ``main`` prints it as one line."""

    exit_code = EXIT_FAILURE


def describe(exc: BaseException) -> str:
    """One sentence for any failure a command may meet."""
    if isinstance(exc, JobrelayError):
        return exc.message
    if isinstance(exc, OperationalError):
        return f"the broker cannot be reached ({exc}); check JOBRELAY_BROKER_URL or the Redis"
    if isinstance(exc, RedisConnectionError | RedisTimeoutError):
        return f"Redis did not answer ({exc}); check JOBRELAY_REDIS_URL and that it runs"
    if isinstance(exc, OSError):
        return f"{type(exc).__name__}: {exc}"
    detail = f": {exc}" if str(exc) else ""
    return f"unexpected {type(exc).__name__}{detail} (run with --debug for the traceback)"


def one_line(text: str) -> str:
    """Fold a message onto one line, so that a shell script can read it."""
    return " ".join(text.split())


def describe_click(exc: click.ClickException) -> str:
    """Click's message, and for usage errors the command whose help would tell more."""
    message = exc.format_message()
    if isinstance(exc, click.UsageError) and exc.ctx is not None:
        message += f" (see '{exc.ctx.command_path} --help')"
    return one_line(message)
