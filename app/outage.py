"""Logging an outage once, not once per job that meets it."""

from __future__ import annotations

import logging
import threading
import time

log = logging.getLogger(__name__)


class OutageLog:
    """Logs the first failure of an outage and its end; stays quiet in between."""

    def __init__(self, what: str) -> None:
        self.what = what
        self._since: float | None = None
        self._lock = threading.Lock()

    def failed(self, error: Exception) -> None:
        with self._lock:
            if self._since is not None:
                return
            self._since = time.monotonic()
        log.warning("%s unavailable: %s; retrying with backoff", self.what, error)

    def succeeded(self) -> None:
        if self._since is None:
            return
        with self._lock:
            since, self._since = self._since, None
        if since is not None:
            log.warning("%s available again after %.1fs", self.what, time.monotonic() - since)
