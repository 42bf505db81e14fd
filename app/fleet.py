"""The scheduler's snapshot of the fleet, refreshed from the backend every few moments.

Selection reads the snapshot; the backend checks the authoritative slot counts when it
reserves, so a stale snapshot costs at most a try of the next candidate.
"""

from __future__ import annotations

import threading

from app.backends.base import Backend
from app.selection import FleetView


class Fleet:
    """A cached ``FleetView`` of one backend, rebuilt when older than ``refresh_s``."""

    def __init__(self, backend: Backend, refresh_s: float) -> None:
        self._backend = backend
        self._refresh_s = refresh_s
        self._view = FleetView()
        self._lock = threading.Lock()

    def view(self, now: float) -> FleetView:
        view = self._view
        if now - view.taken_at < self._refresh_s and view.taken_at <= now:
            return view
        with self._lock:
            if self._view is view:
                self._view = FleetView.build(self._backend.nodes(), now)
            return self._view

    def invalidate(self) -> None:
        """Make the next ``view`` read the backend (after a node joined or changed)."""
        self._view = FleetView()

    def note_reserved(self, node_id: str) -> None:
        """Count a reservation this process just made, until the next refresh."""
        node = self._view.nodes.get(node_id)
        if node is not None:
            node.reserved += 1

    def note_released(self, node_id: str) -> None:
        """Count a slot this process just freed, until the next refresh."""
        node = self._view.nodes.get(node_id)
        if node is not None and node.used > 0:
            if node.running > 0:
                node.running -= 1
            else:
                node.reserved -= 1
