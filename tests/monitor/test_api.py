"""The JSON API over a real scheduler and local backend."""

from __future__ import annotations

import time

from fastapi.testclient import TestClient

from app.models import JobState
from app.scheduler_workers import offline_after_s
from app.settings import Settings
from tests.monitor.support import Cluster


def test_submit_creates_a_job_once_per_request_id(http: TestClient, cluster: Cluster) -> None:
    cluster.node("gpu-1")
    body = {"request_id": "r-1", "kind": "echo", "payload": {"text": "hi"}}

    first = http.post("/api/jobs", json=body)
    again = http.post("/api/jobs", json=body)

    assert first.status_code == 201
    assert first.json()["created"] is True
    assert first.json()["job"]["node_id"] == "gpu-1"
    assert again.status_code == 200
    assert again.json() == {**first.json(), "created": False}
    assert http.get("/api/stats").json()["counters"]["repeats"] == 1


def test_submit_with_another_body_is_a_conflict(http: TestClient) -> None:
    http.post("/api/jobs", json={"request_id": "r-1", "kind": "echo"})

    answer = http.post("/api/jobs", json={"request_id": "r-1", "kind": "sleep"})

    assert answer.status_code == 409
    assert answer.json()["error"]["type"] == "IdempotencyConflict"
    assert "r-1" in answer.json()["error"]["message"]


def test_bad_input_names_the_field(http: TestClient) -> None:
    wrong_type = http.post("/api/jobs", json={"request_id": "r-1", "kind": "echo", "priority": "x"})
    bad_id = http.post("/api/jobs", json={"request_id": "no spaces", "kind": "echo"})
    missing = http.post("/api/jobs", json={"kind": "echo"})

    assert wrong_type.status_code == 422
    assert "priority" in wrong_type.json()["error"]["message"]
    assert "request_id" in bad_id.json()["error"]["message"]
    assert "request_id" in missing.json()["error"]["message"]
    assert http.get("/api/stats").json()["counters"].get("created", 0) == 0


def test_oversized_payload_is_refused_by_the_core(http: TestClient) -> None:
    payload = {"blob": "x" * (300 * 1024)}

    answer = http.post("/api/jobs", json={"request_id": "r-1", "kind": "echo", "payload": payload})

    assert answer.status_code == 400
    assert "JOBRELAY_MAX_PAYLOAD_BYTES" in answer.json()["error"]["message"]


def test_get_job_and_unknown_job(http: TestClient, cluster: Cluster) -> None:
    job = cluster.submit("r-1")

    found = http.get(f"/api/jobs/{job.job_id}")
    missing = http.get("/api/jobs/01NOSUCHJOB")

    assert found.json()["request_id"] == "r-1"
    assert missing.status_code == 404
    assert "01NOSUCHJOB" in missing.json()["error"]["message"]


def test_cancel_and_drain(http: TestClient, cluster: Cluster) -> None:
    cluster.node("gpu-1")
    job = cluster.submit("r-1")

    cancelled = http.post(f"/api/jobs/{job.job_id}/cancel")
    drained = http.post("/api/nodes/gpu-1/drain")
    resumed = http.post("/api/nodes/gpu-1/drain", params={"draining": "false"})
    unknown = http.post("/api/nodes/nope/drain")

    assert cancelled.json()["state"] == JobState.CANCELLED
    assert drained.json()["status"] == "draining"
    assert resumed.json()["status"] == "alive"
    assert unknown.status_code == 404
    assert http.post("/api/jobs/01NOSUCHJOB/cancel").status_code == 404


def test_list_filters(http: TestClient, cluster: Cluster) -> None:
    cluster.node("gpu-1", slots=1)
    running = cluster.report(cluster.submit("r-1"), "started")
    cluster.submit("r-2", kind="sleep")

    by_state = http.get("/api/jobs", params={"state": "running"}).json()["jobs"]
    by_node = http.get("/api/jobs", params={"node": "gpu-1"}).json()["jobs"]
    by_kind = http.get("/api/jobs", params={"kind": "sleep"}).json()["jobs"]
    by_search = http.get("/api/jobs", params={"search": "r-2"}).json()["jobs"]
    brief = http.get("/api/jobs", params={"brief": "true"}).json()["jobs"]

    assert [j["job_id"] for j in by_state] == [running.job_id]
    assert [j["job_id"] for j in by_node] == [running.job_id]
    assert [j["request_id"] for j in by_kind] == ["r-2"]
    assert [j["request_id"] for j in by_search] == ["r-2"]
    assert all(j["payload"] == {} for j in brief)
    assert http.get("/api/jobs", params={"state": "bogus"}).status_code == 422


def test_paging_through_ten_thousand_jobs(http: TestClient, cluster: Cluster) -> None:
    cluster.node("gpu-1", slots=4)
    cluster.create_many(10_000)
    seen: list[str] = []
    before: str | None = None

    while True:
        params = {"limit": 1000, "brief": "true", **({"before": before} if before else {})}
        page = http.get("/api/jobs", params=params).json()
        seen += [job["job_id"] for job in page["jobs"]]
        before = page["next"]
        if before is None:
            break

    assert len(seen) == 10_000
    assert seen == sorted(set(seen), reverse=True)
    pending = http.get("/api/jobs", params={"state": "pending", "limit": 1000}).json()
    assert len(pending["jobs"]) == 1000
    assert pending["next"] is not None
    assert http.get("/api/stats").json()["states"]["pending"] == 10_000 - 4


def test_nodes_and_stats(http: TestClient, cluster: Cluster) -> None:
    cluster.node("gpu-2", slots=3, capabilities=["asr:en"], labels={"pool": "eu"})
    cluster.node("gpu-1", slots=1)
    job = cluster.submit("r-1", requires=["asr:en"])
    cluster.report(job, "started")
    cluster.report(job, "succeeded", result={"ok": True})

    nodes = http.get("/api/nodes").json()
    stats = http.get("/api/stats").json()

    assert [n["node_id"] for n in nodes] == ["gpu-1", "gpu-2"]
    assert nodes[1]["labels"] == {"pool": "eu"}
    assert stats["states"]["succeeded"] == 1
    assert stats["counters"]["ended:succeeded"] == 1
    assert stats["backlog"] == 0
    assert set(stats["rates"]) >= {"created_per_s", "finished_per_s", "failed_per_s", "history"}


def test_schedulers_show_their_status_who_sweeps_and_heartbeat_age(
    http: TestClient, cluster: Cluster, settings: Settings
) -> None:
    silent_s = offline_after_s(settings)
    now = time.time()
    cluster.scheduler_worker("s1@host-a", sweeping=True)
    cluster.scheduler_worker("s2@host-b", hostname="host-b", last_seen=now - silent_s / 2)
    cluster.scheduler_worker("s3@host-c", sweeping=True, last_seen=now - silent_s - 2)
    cluster.scheduler_worker("s4@host-d", stopped=True)

    answer = http.get("/api/schedulers")
    workers = answer.json()

    assert answer.status_code == 200
    assert [(w["name"], w["status"], w["sweeping"]) for w in workers] == [
        ("s1@host-a", "alive", True),
        ("s2@host-b", "alive", False),
        ("s3@host-c", "offline", False),
        ("s4@host-d", "stopped", False),
    ]
    assert workers[0] | {"started_at": 0, "last_seen": 0, "heartbeat_age_s": 0} == {
        "name": "s1@host-a",
        "hostname": "host-a",
        "pid": 4321,
        "mode": "local",
        "pool": "threads",
        "concurrency": 4,
        "status": "alive",
        "sweeping": True,
        "started_at": 0,
        "last_seen": 0,
        "heartbeat_age_s": 0,
    }
    assert 0 <= workers[0]["heartbeat_age_s"] < silent_s
    assert silent_s < workers[2]["heartbeat_age_s"] < silent_s + 30


def test_schedulers_answer_503_when_the_reader_fails(http: TestClient, cluster: Cluster) -> None:
    from app.errors import SchedulerUnavailable

    def down() -> None:
        raise SchedulerUnavailable("no scheduler answered jobrelay.query within 5s")

    cluster.client.reader.schedulers = down  # type: ignore[method-assign, assignment]

    answer = http.get("/api/schedulers")

    assert answer.status_code == 503
    assert "no scheduler answered" in answer.json()["error"]["message"]


def test_explain_says_why_nothing_fits(http: TestClient, cluster: Cluster) -> None:
    cluster.node("gpu-1")

    answer = http.post(
        "/api/explain", json={"request_id": "r-1", "kind": "echo", "requires": ["tts:zh"]}
    )

    assert answer.status_code == 200
    assert answer.json()["node_id"] is None
    assert any("tts:zh" in reason for reason in answer.json()["rejected"])


def test_healthz(http: TestClient) -> None:
    assert http.get("/healthz").json()["status"] == "ok"


def test_healthz_is_503_when_the_reader_fails(http: TestClient, cluster: Cluster) -> None:
    from app.errors import BackendUnavailable

    def down() -> None:
        raise BackendUnavailable("Redis at 127.0.0.1:6379 did not answer")

    cluster.client.reader.stats = down  # type: ignore[method-assign, assignment]

    answer = http.get("/healthz")
    api = http.get("/api/stats")

    assert answer.status_code == 503
    assert "did not answer" in answer.json()["detail"]
    assert api.status_code == 503
    assert api.headers["retry-after"]


def test_openapi_lists_the_contract_paths(http: TestClient) -> None:
    paths = http.get("/openapi.json").json()["paths"]

    for path in (
        "/api/jobs",
        "/api/jobs/{job_id}",
        "/api/nodes",
        "/api/schedulers",
        "/api/stats",
        "/healthz",
    ):
        assert path in paths


def test_pages_are_served_without_payloads(http: TestClient, cluster: Cluster) -> None:
    job = cluster.submit("r-1")

    home = http.get("/")
    page = http.get(f"/jobs/{job.job_id}")
    script = http.get("/static/app.js")

    assert home.status_code == page.status_code == script.status_code == 200
    assert "text/html" in home.headers["content-type"]
    assert "default-src 'self'" in home.headers["content-security-policy"]
    assert "p4yl0ad" not in home.text + page.text
