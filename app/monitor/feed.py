"""The live feed: one poller per monitor, shared by every open event stream.

While at least one stream is open, a single task takes a snapshot through the reader every
``interval_s`` and wakes every stream with it; with no stream open, nothing polls.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable

from app.monitor.views import Snapshot

log = logging.getLogger(__name__)


class Feed:
    def __init__(self, take: Callable[[], Snapshot], interval_s: float = 1.0) -> None:
        self._take = take
        self._interval_s = interval_s
        self._latest: Snapshot | None = None
        self._version = 0
        self._changed = asyncio.Condition()
        self._listeners = 0
        self._poller: asyncio.Task[None] | None = None

    @property
    def listeners(self) -> int:
        return self._listeners

    async def stream(self) -> AsyncIterator[Snapshot]:
        """Every new snapshot, starting with the latest one if there is one."""
        self._listeners += 1
        if self._poller is None or self._poller.done():
            self._poller = asyncio.create_task(self._poll())
        seen = 0
        try:
            while True:
                snapshot, seen = await self._next(seen)
                yield snapshot
        finally:
            self._listeners -= 1
            if self._listeners == 0:
                await self.stop()

    async def _next(self, seen: int) -> tuple[Snapshot, int]:
        async with self._changed:
            await self._changed.wait_for(lambda: self._version > seen)
            assert self._latest is not None
            return self._latest, self._version

    async def _poll(self) -> None:
        while True:
            snapshot = await self._snapshot()
            async with self._changed:
                self._latest, self._version = snapshot, self._version + 1
                self._changed.notify_all()
            await asyncio.sleep(self._interval_s)

    async def _snapshot(self) -> Snapshot:
        try:
            return await asyncio.to_thread(self._take)
        except Exception:
            log.exception("monitor: the live feed could not take a snapshot")
            return Snapshot(at=time.time(), error="the monitor could not read; see its log")

    async def stop(self) -> None:
        """Stop polling; the next stream starts afresh rather than with an old snapshot."""
        poller, self._poller = self._poller, None
        self._latest, self._version = None, 0
        if poller is not None and not poller.done():
            poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await poller


def as_events(snapshots: AsyncIterator[Snapshot]) -> AsyncIterator[str]:
    """Server-sent events, one ``snapshot`` event per snapshot."""

    async def events() -> AsyncIterator[str]:
        yield "retry: 2000\n\n"
        async for snapshot in snapshots:
            yield f"event: snapshot\ndata: {snapshot.model_dump_json()}\n\n"

    return events()
