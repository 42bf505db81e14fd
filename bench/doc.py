"""docs/benchmarks.md: the command, the date, the machine, the tables and their notes."""

from __future__ import annotations

import datetime
import os
import platform
import sys
from collections.abc import Sequence
from pathlib import Path

import redis

from bench.render import markdown
from bench.results import Outcome

INTRO = (
    "Every ratio compares two things measured in the same run, interleaved where the "
    "benchmark allows, because the machine is shared and noisy; absolute numbers move "
    "from run to run, ratios much less. Rows marked MISSED name a goal not reached; the "
    "notes under each table say what bounds it."
)


def machine(redis_url: str) -> list[str]:
    client = redis.Redis.from_url(redis_url, socket_timeout=5)
    try:
        version = str(client.info("server")["redis_version"])
    finally:
        client.close()
    return [
        f"- cores: {os.cpu_count()} ({platform.processor() or platform.machine()})",
        f"- Python {platform.python_version()} ({sys.implementation.name}), {platform.system()}",
        f"- Redis {version} at {redis_url.rsplit('@', 1)[-1]}",
    ]


def write(path: Path, command: str, redis_url: str, outcomes: Sequence[Outcome]) -> None:
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    missed = [f"{o.name}: {row.measure}" for o in outcomes for row in o.missed]
    lines = ["# Benchmarks", "", INTRO, "", f"Command: `{command}`  ", f"Date: {now}", ""]
    lines += ["Machine:", "", *machine(redis_url), ""]
    lines += [
        "Missed goals: " + ("; ".join(missed) if missed else "none") + ".",
        "",
        "## Tables",
        "",
    ]
    lines += [markdown(outcome) for outcome in outcomes]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines))
