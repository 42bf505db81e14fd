"""Whether a node agent still hears its queue: a probe through the broker, and a verdict.

A Celery worker can stay up, heartbeat and answer, yet take nothing more from its queue:
after a broker restart its consumer may fail to listen again without reporting an error.
Its jobs would then wait in the broker while the node looks healthy. The node therefore
sends a probe to its own queue whenever it has a free slot and has heard nothing for a
while; a probe not received within ``listen_timeout_s`` means the consumer went deaf.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from celery import Celery

log = logging.getLogger(__name__)

PROBE_TASK = "jobrelay.probe"
CHECK_EVERY_S = 0.5


@dataclass
class Verdict:
    """The state of one probe: when it was sent, and whether anything was heard since."""

    sent_at: float | None = None
    heard_at: float = 0.0

    def heard(self, now: float) -> None:
        self.heard_at = now

    def deaf_for(self, now: float) -> float:
        """How long a probe has gone unheard (0 when none is outstanding)."""
        if self.sent_at is None or self.heard_at >= self.sent_at:
            return 0.0
        return now - self.sent_at


class ListenCheck(threading.Thread):
    """Probes a node's queue and calls ``on_deaf`` once when a probe goes unheard.

    ``free_slot`` says whether the node could take a message now: with every slot busy
    the worker rightly fetches nothing, so no verdict is reached and the probe is reset.
    """

    def __init__(
        self,
        app: Celery,
        queue: str,
        timeout_s: float,
        free_slot: Callable[[], bool],
        on_deaf: Callable[[float], None],
    ) -> None:
        super().__init__(name="listen-check", daemon=True)
        self.app = app
        self.queue = queue
        self.timeout_s = timeout_s
        self.free_slot = free_slot
        self.on_deaf = on_deaf
        self.verdict = Verdict(heard_at=time.monotonic())
        self.stopping = threading.Event()

    def heard(self) -> None:
        """A message of this worker's queues arrived: the consumer listens."""
        self.verdict.heard(time.monotonic())

    def run(self) -> None:
        while not self.stopping.wait(CHECK_EVERY_S):
            try:
                if self.check(time.monotonic()):
                    return
            except Exception as exc:  # a broker refusing the probe is not a verdict
                log.debug("listen check: probe not sent: %s", exc)

    def check(self, now: float) -> bool:
        """One step; True once the node is judged deaf."""
        verdict = self.verdict
        if not self.free_slot():
            verdict.sent_at = None
            return False
        unheard = verdict.deaf_for(now)
        if unheard > self.timeout_s:
            self.on_deaf(unheard)
            return True
        quiet = now - verdict.heard_at > self.timeout_s / 2
        if verdict.sent_at is None or verdict.heard_at >= verdict.sent_at:
            verdict.sent_at = None
            if quiet:
                self.probe(now)
        return False

    def probe(self, now: float) -> None:
        self.app.send_task(
            PROBE_TASK,
            queue=self.queue,
            expires=self.timeout_s,
            ignore_result=True,
            argsrepr="()",
            kwargsrepr="{}",
        )
        self.verdict.sent_at = now
