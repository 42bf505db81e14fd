"""A benchmark's own Redis namespace: removing only the keys under its prefix."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import redis

from app.backends.redis_connection import connect

SCAN_COUNT = 1000


def delete_matching(client: redis.Redis, pattern: str) -> int:
    """Delete every key matching ``pattern`` (SCAN MATCH, never FLUSHDB); returns how many."""
    deleted = 0
    batch: list[str] = []
    for key in client.scan_iter(match=pattern, count=SCAN_COUNT):
        batch.append(key)
        if len(batch) >= SCAN_COUNT:
            deleted += int(client.unlink(*batch))
            batch.clear()
    if batch:
        deleted += int(client.unlink(*batch))
    return deleted


def escape(text: str) -> str:
    """``text`` with the glob characters of SCAN MATCH escaped."""
    return "".join(f"\\{char}" if char in "*?[]{}\\" else char for char in text)


@contextmanager
def scratch_client(url: str, *patterns: str) -> Iterator[redis.Redis]:
    """A client whose keys matching ``patterns`` are deleted when the block ends."""
    client = connect(url, timeout_s=10.0)
    try:
        yield client
    finally:
        for pattern in patterns:
            delete_matching(client, pattern)
        client.close()


def namespace_pattern(prefix: str) -> str:
    """The SCAN pattern of every key a backend with ``key_prefix=prefix`` writes."""
    return escape(f"{{{prefix}}}:") + "*"
