"""Handlers for end-to-end tests, loaded by node agents as ``tests.support.handlers:NAME``."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any


def timed_sleep(payload: dict[str, Any]) -> dict[str, float]:
    """Sleep, and append this process's start and end times to a log in ``payload["dir"]``."""
    started = time.time()
    time.sleep(float(payload.get("seconds", 0.05)))
    ended = time.time()
    line = json.dumps({"pid": os.getpid(), "start": started, "end": ended}) + "\n"
    with Path(payload["dir"], f"{os.getpid()}.log").open("a") as log:
        log.write(line)
    return {"pid": os.getpid(), "start": started, "end": ended}


def boom(payload: dict[str, Any]) -> None:
    raise ValueError(f"boom {payload.get('n', '')}".strip())


def whoami(payload: dict[str, Any]) -> dict[str, int]:
    time.sleep(float(payload.get("seconds", 0)))
    return {"pid": os.getpid()}
