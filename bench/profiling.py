"""Where the time goes: the top functions of a cProfile run, as one line."""

from __future__ import annotations

import cProfile
import pstats
from collections.abc import Callable


def hot_spots(operation: Callable[[], object], repeat: int, top: int = 4) -> str:
    """The ``top`` functions by own time over ``repeat`` calls, with their share."""
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(repeat):
        operation()
    profiler.disable()
    stats = pstats.Stats(profiler)
    entries = stats.stats  # type: ignore[attr-defined]
    total = sum(entry[2] for entry in entries.values()) or 1e-9
    ranked = sorted(entries.items(), key=lambda item: item[1][2], reverse=True)[:top]
    parts = [f"{_name(where)} {100 * entry[2] / total:.0f}%" for where, entry in ranked]
    return ", ".join(parts)


def _name(where: tuple[str, int, str]) -> str:
    path, line, function = where
    if path == "~":
        return function.strip("<>")
    module = path.rsplit("/", 1)[-1].removesuffix(".py")
    return f"{module}.{function}:{line}"
