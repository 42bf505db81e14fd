"""The boundary between redis-py and jobrelay: connecting, and translating failures.

Only here do redis-py's "the server did not answer" errors exist; everything above sees
``BackendUnavailable``, whose message names the server's host:port and never a password.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Concatenate, ParamSpec, Protocol, TypeVar

import redis
from redis.backoff import NoBackoff
from redis.exceptions import BusyLoadingError, ReadOnlyError
from redis.retry import Retry

from app.errors import BackendUnavailable

P = ParamSpec("P")
R = TypeVar("R")

# ReadOnlyError: a replica that was just promoted or demoted; the next try may work.
UNAVAILABLE = (redis.ConnectionError, redis.TimeoutError, BusyLoadingError, ReadOnlyError)


class HasAddress(Protocol):
    @property
    def address(self) -> str: ...


S = TypeVar("S", bound=HasAddress)


def guarded(method: Callable[Concatenate[S, P], R]) -> Callable[Concatenate[S, P], R]:
    """Make a Redis failure in ``method`` a BackendUnavailable that names the server.

    NOTE: after a timeout the server may still have run the step; every step is safe to
    retry (a repeated claim returns the same job, a repeated report is stale or refused).
    """

    @functools.wraps(method)
    def call(self: S, /, *args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return method(self, *args, **kwargs)
        except UNAVAILABLE as exc:
            raise BackendUnavailable(
                f"Redis at {self.address} did not answer ({type(exc).__name__}: {exc}); "
                "check that it is running and reachable, then retry"
            ) from exc

    return call


def connect(url: str, timeout_s: float) -> redis.Redis:
    """A client for ``url`` that gives up on a call after ``timeout_s``.

    Nothing is sent until the first command, so this never fails on an unreachable server.
    """
    return redis.Redis.from_url(
        url,
        decode_responses=True,
        socket_timeout=timeout_s,
        socket_connect_timeout=timeout_s,
        health_check_interval=30,
        # One immediate retry covers a pooled connection that the server has closed.
        retry=Retry(NoBackoff(), 1, supported_errors=(redis.ConnectionError,)),
    )


def describe_address(client: redis.Redis) -> str:
    """host:port (or the socket path) of the client's server, never its credentials."""
    kwargs = client.get_connection_kwargs()
    if kwargs.get("path"):
        return f"unix:{kwargs['path']}"
    return f"{kwargs.get('host', 'localhost')}:{kwargs.get('port', 6379)}"
