"""The backend fixtures: every contract test runs on the local and the Redis backend.

Each Redis backend gets its own random key prefix and its keys are deleted afterwards;
nothing else in the database is touched.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis

from app.backends.base import Backend, BackendOptions

REDIS_URL = os.environ.get("JOBRELAY_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")

MakeBackend = Callable[..., Backend]


def delete_namespace(client: redis.Redis, prefix: str) -> None:
    keys = list(client.scan_iter(match=f"{{{prefix}}}:*", count=500))
    if keys:
        client.delete(*keys)


@pytest.fixture(scope="session")
def redis_client() -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(REDIS_URL, decode_responses=True, socket_timeout=5)
    try:
        client.ping()
    except redis.RedisError as exc:
        pytest.skip(f"no Redis at {REDIS_URL} ({exc}); set JOBRELAY_TEST_REDIS_URL")
    yield client
    client.close()


def _build(kind: str, options: BackendOptions, request: pytest.FixtureRequest) -> Backend:
    if kind == "local":
        from app.backends.local import LocalBackend

        return LocalBackend(options)
    from app.backends.redis import RedisBackend

    request.getfixturevalue("redis_client")
    return RedisBackend.from_url(REDIS_URL, options)


@pytest.fixture(params=["local", pytest.param("redis", marks=pytest.mark.redis)])
def make_backend(request: pytest.FixtureRequest) -> Iterator[MakeBackend]:
    """Build backends of this test's kind, each in a namespace of its own."""
    made: list[tuple[Backend, str]] = []

    def make(**options: Any) -> Backend:
        prefix = f"test-{uuid.uuid4().hex[:12]}"
        backend = _build(request.param, BackendOptions(key_prefix=prefix, **options), request)
        made.append((backend, prefix))
        return backend

    yield make
    for backend, prefix in made:
        backend.close()
        if request.param == "redis":
            delete_namespace(request.getfixturevalue("redis_client"), prefix)


@pytest.fixture
def backend(make_backend: MakeBackend) -> Backend:
    return make_backend()
