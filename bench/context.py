"""What every benchmark gets: its size, the Redis to use, and where to report progress."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field

from bench.sizes import Size


def _silent(message: str) -> None:
    return None


def _run_id() -> str:
    return secrets.token_hex(4)


@dataclass(frozen=True)
class Context:
    """``run_id`` is in every key prefix of the run, so its keys can be found and removed."""

    size: Size
    redis_url: str = "redis://127.0.0.1:6379/0"
    progress: Callable[[str], None] = field(default=_silent)
    run_id: str = field(default_factory=_run_id)

    def token(self, name: str) -> str:
        """The key prefix of one benchmark in this run."""
        return f"bench-{name}-{self.run_id}"
