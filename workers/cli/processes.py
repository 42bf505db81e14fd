"""Child processes of the command line: start them, watch them, stop them cleanly.

Each child runs ``python -m workers.cli.main ...`` in a session of its own, so that a
Ctrl-C in the terminal reaches only the parent, which then stops the children in order:
SIGTERM (Celery's warm shutdown), a wait, and SIGKILL for any still alive.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

log = logging.getLogger(__name__)

STOP_TIMEOUT_S = 15.0


@dataclass
class Child:
    name: str
    process: subprocess.Popen[bytes]
    log_path: Path

    @property
    def running(self) -> bool:
        return self.process.poll() is None

    def tail(self, lines: int = 5) -> str:
        """The last lines of the child's output, for an error message."""
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.strip().splitlines()[-lines:])


class Children:
    """The processes one command started; it only ever signals those, by pid."""

    def __init__(self, log_dir: Path, env: Mapping[str, str]) -> None:
        self.log_dir = log_dir
        self.env = dict(env)
        self.started: list[Child] = []
        log_dir.mkdir(parents=True, exist_ok=True)

    def start(self, name: str, args: Sequence[str]) -> Child:
        log_path = self.log_dir / f"{name}.log"
        with log_path.open("wb") as output:
            process = subprocess.Popen(
                [sys.executable, "-m", "workers.cli.main", *args],
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                env=self.env,
                start_new_session=True,
            )
        child = Child(name, process, log_path)
        self.started.append(child)
        log.debug("started %s (pid %d)", name, process.pid)
        return child

    def dead(self) -> list[Child]:
        return [child for child in self.started if not child.running]

    def stop(self, timeout_s: float = STOP_TIMEOUT_S) -> list[str]:
        """Stop every child; returns the names of those that had to be killed."""
        for child in self.started:
            if child.running:
                child.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        killed = [child.name for child in self.started if not _wait(child, deadline)]
        for child in self.started:
            if child.name in killed:
                _kill_group(child)
        return killed


def _wait(child: Child, deadline: float) -> bool:
    try:
        child.process.wait(timeout=max(deadline - time.monotonic(), 0.0))
    except subprocess.TimeoutExpired:
        return False
    return True


def _kill_group(child: Child) -> None:
    """SIGKILL the child and the pool processes it forked (its session is its own)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(child.process.pid, signal.SIGKILL)
    child.process.wait()


@contextlib.contextmanager
def sigterm_interrupts() -> Iterator[None]:
    """Treat SIGTERM like Ctrl-C, so that the children are stopped either way."""

    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
