"""What every benchmark gets: its size, the Redis to use, and where to report progress."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from bench.sizes import Size


def _silent(message: str) -> None:
    return None


@dataclass(frozen=True)
class Context:
    size: Size
    redis_url: str = "redis://127.0.0.1:6379/0"
    progress: Callable[[str], None] = field(default=_silent)
