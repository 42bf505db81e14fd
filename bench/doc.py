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


OUTRO = """## Reading the misses

- **Creation and repeats against one bare round trip.** Both are one round trip, as
  designed, but not a bare one: before it, Python validates the request, builds the job
  (ULID, fingerprint) and selects candidates; inside it, the claim script checks the
  binding, writes the job hash, its index entries and the slot reservation; after it, the
  answer is decoded. A repeat cannot skip selection without first asking Redis whether
  the request is bound, which would add a round trip to every first creation.
- **create_job against a no-op Celery task.** On top of Celery's own cost per task, every
  creation publishes the job's hand-off to its node's queue and returns the whole job as
  its result; the no-op publishes nothing and returns a few bytes.
- **create_jobs against 5,000 jobs/s.** The claims and the hand-offs of a batch each take
  one pipelined round trip; what is left is per-job Python work in one worker process
  (validation, selection, building each hand-off message), so more scheduler processes
  raise the total on machines with more cores.
- **used_memory against MEMORY USAGE.** The server-wide delta also counts the expiry
  entry of the two keys each retained job has (its hash and its binding) and allocator
  rounding, which MEMORY USAGE of the keys leaves out.
"""


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
    lines += [OUTRO]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines))
