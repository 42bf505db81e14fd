"""A producer process: sends create_job tasks for a list of request ids, records answers.

    python -m tests.support.producer PLAN.json

PLAN holds ``ids`` and ``out``; settings come from the environment like any jobrelay
process. Each answer is written as a JSON line ``{"request_id", "job_id", "created"}``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from app.celery_app import make_celery
from app.settings import load_settings


def main(plan_path: str) -> int:
    plan = json.loads(Path(plan_path).read_text())
    celery = make_celery(load_settings())
    sent = [
        (rid, celery.send_task("jobrelay.create_job", args=[request(rid)], queue="jobrelay"))
        for rid in plan["ids"]
    ]
    with Path(plan["out"]).open("w") as out:
        for rid, result in sent:
            answer = result.get(timeout=plan.get("timeout_s", 300), interval=0.01)
            line = {
                "request_id": rid,
                "job_id": answer["job"]["job_id"],
                "created": answer["created"],
            }
            out.write(json.dumps(line) + "\n")
    return 0


def request(rid: str) -> dict[str, object]:
    return {"request_id": rid, "kind": "echo", "payload": {"id": rid}}


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
