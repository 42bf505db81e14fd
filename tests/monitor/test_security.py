"""Token and loopback rules."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.monitor.server import RedactToken, create_app
from app.settings import load_settings
from tests.monitor.conftest import LOOPBACK, LOOPBACK_URL
from tests.monitor.support import Cluster

TOKEN = "t0ken-for-tests"
REMOTE = ("10.1.2.3", 50000)
PATHS = (
    "/",
    "/api/jobs",
    "/api/nodes",
    "/api/schedulers",
    "/api/stats",
    "/metrics",
    "/healthz",
    "/api/events",
)
BODY = {"request_id": "r-1", "kind": "echo"}


@pytest.fixture
def guarded(tmp_path: Path) -> Iterator[TestClient]:
    settings = load_settings(mode="local", data_dir=tmp_path, monitor_token=TOKEN)
    app = create_app(Cluster(settings).client, settings)
    with TestClient(app, base_url="http://monitor.example:5555", client=REMOTE) as client:
        yield client


@pytest.mark.parametrize("path", PATHS)
def test_with_a_token_every_path_needs_it(guarded: TestClient, path: str) -> None:
    wrong = {"Authorization": "Bearer nope"}

    assert guarded.get(path).status_code == 401
    assert guarded.get(path, headers=wrong).status_code == 401
    assert guarded.get(path, params={"token": "nope"}).status_code == 401


def test_a_bearer_token_opens_reads_and_commands(guarded: TestClient) -> None:
    headers = {"Authorization": f"Bearer {TOKEN}"}

    assert guarded.get("/api/stats", headers=headers).status_code == 200
    assert guarded.post("/api/jobs", json=BODY, headers=headers).status_code == 201


def test_the_browser_keeps_a_query_token_in_a_cookie(guarded: TestClient) -> None:
    first = guarded.get("/", params={"token": TOKEN})

    assert first.status_code == 200
    cookie = first.headers["set-cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=Strict" in cookie
    assert TOKEN not in first.text
    assert guarded.get("/api/stats").status_code == 200


def test_refusals_explain_what_to_do(guarded: TestClient) -> None:
    answer = guarded.get("/api/stats")

    assert answer.headers["www-authenticate"] == "Bearer"
    assert "Authorization: Bearer" in answer.json()["error"]["message"]


def test_without_a_token_other_hosts_may_read_but_not_command(app: object) -> None:
    with TestClient(app, base_url=LOOPBACK_URL, client=REMOTE) as remote:  # type: ignore[arg-type]
        refused = remote.post("/api/jobs", json=BODY)
        read = remote.get("/api/stats")

    assert read.status_code == 200
    assert refused.status_code == 403
    assert "JOBRELAY_MONITOR_TOKEN" in refused.json()["error"]["message"]


def test_without_a_token_loopback_may_command(http: TestClient) -> None:
    assert http.post("/api/jobs", json=BODY).status_code == 201


def test_loopback_commands_need_a_loopback_host_name(app: object) -> None:
    rebound = "http://attacker.example:5555"
    with TestClient(app, base_url=rebound, client=LOOPBACK) as client:  # type: ignore[arg-type]
        assert client.post("/api/jobs", json=BODY).status_code == 403


def test_commands_from_another_origin_are_refused(http: TestClient) -> None:
    headers = {"Origin": "http://evil.example"}

    answer = http.post("/api/jobs", json=BODY, headers=headers)
    same = http.post("/api/jobs", json=BODY, headers={"Origin": LOOPBACK_URL})

    assert answer.status_code == 403
    assert same.status_code == 201


def test_access_log_lines_hide_the_token() -> None:
    record = logging.LogRecord(
        "uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s"', ("1.2.3.4", "GET", ""), None
    )
    record.args = ("1.2.3.4", "GET", f"/?a=1&token={TOKEN}")

    RedactToken().filter(record)

    assert TOKEN not in record.getMessage()
    assert "token=***" in record.getMessage()
