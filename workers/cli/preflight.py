"""Clients for commands, and a quick look at the servers first: an outage is one line at once.

Without it, a command in cross-instance mode with Redis down would sit through Celery's
own reconnection attempts (twenty seconds of them) before failing.
"""

from __future__ import annotations

import redis

from app.backends.redis_connection import connect, describe_address
from app.errors import BackendUnavailable
from app.settings import Settings

PING_TIMEOUT_S = 3.0


def check_redis(settings: Settings) -> None:
    """Raise ``BackendUnavailable`` unless cross-instance mode's Redis answers a PING."""
    if settings.local:
        return
    client = connect(settings.redis, min(settings.redis_timeout_s, PING_TIMEOUT_S))
    try:
        client.ping()
    except redis.RedisError as exc:
        raise BackendUnavailable(
            f"Redis at {describe_address(client)} did not answer a PING ({exc}); check that "
            "it is running and that JOBRELAY_REDIS_URL points to it"
        ) from exc
    finally:
        client.close()
