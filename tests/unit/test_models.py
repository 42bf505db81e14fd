import json

import pytest

from app.errors import InvalidRequest
from app.models import JobRequest, Report, parse_model, parse_request


def test_a_valid_request_fills_defaults() -> None:
    request = parse_request({"request_id": "r-1", "kind": "echo"})
    assert request.payload == {}
    assert request.max_attempts == 3
    assert request.priority == 0


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"request_id": "has space", "kind": "echo"}, "request_id"),
        ({"request_id": "x" * 201, "kind": "echo"}, "request_id"),
        ({"request_id": "", "kind": "echo"}, "request_id"),
        ({"request_id": "r", "kind": 5}, "kind"),
        ({"request_id": "r"}, "kind"),
        ({"request_id": "r", "kind": "echo", "payload": [1]}, "payload"),
        ({"request_id": "r", "kind": "echo", "priority": "high"}, "priority"),
        ({"request_id": "r", "kind": "echo", "priority": 1.5}, "priority"),
        ({"request_id": "r", "kind": "echo", "timeout_s": -1}, "timeout_s"),
        ({"request_id": "r", "kind": "echo", "max_attempts": 0}, "max_attempts"),
        ({"request_id": "r", "kind": "echo", "requires": "gpu"}, "requires"),
        ({"request_id": "r", "kind": "echo", "selector": {"pool": 1}}, "selector"),
        ({"request_id": "r", "kind": "echo", "colour": "red"}, "colour"),
        ({"request_id": "r", "kind": "echo", "exclude_nodes": ["a b"]}, "exclude_nodes"),
    ],
)
def test_bad_requests_name_the_field(data: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidRequest, match=field):
        parse_request(data)


@pytest.mark.parametrize("data", [None, "text", 3, ["r"], b"bytes"])
def test_a_request_must_be_an_object(data: object) -> None:
    with pytest.raises(InvalidRequest, match="expected a JSON object"):
        parse_request(data)


def test_an_oversized_payload_is_refused_with_the_limit() -> None:
    data = {"request_id": "r", "kind": "echo", "payload": {"blob": "x" * 2000}}
    with pytest.raises(InvalidRequest, match="over the limit of 1000"):
        parse_request(data, max_payload_bytes=1000)
    assert parse_request(data, max_payload_bytes=5000).payload["blob"] == "x" * 2000


def test_the_fingerprint_covers_the_body_and_ignores_spelled_out_defaults() -> None:
    plain = parse_request({"request_id": "r", "kind": "echo", "payload": {"a": 1}})
    spelled = parse_request(
        {"request_id": "r", "kind": "echo", "payload": {"a": 1}, "requires": [], "priority": 0}
    )
    changed = parse_request({"request_id": "r", "kind": "echo", "payload": {"a": 2}})
    assert plain.fingerprint() == spelled.fingerprint()
    assert plain.fingerprint() != changed.fingerprint()


def test_a_job_gives_back_its_request() -> None:
    request = JobRequest(request_id="r", kind="echo", payload={"k": [1, 2]}, requires=["gpu"])
    from app.creation import new_job

    job = new_job(request, 10.0)
    assert job.request() == request
    assert json.loads(json.dumps(job.public()))["request_id"] == "r"


def test_reports_are_validated_too() -> None:
    with pytest.raises(InvalidRequest, match="event"):
        parse_model(Report, {"job_id": "j", "attempt": 1, "node_id": "n", "event": "won"}, "report")
    with pytest.raises(InvalidRequest, match="attempt"):
        parse_model(
            Report, {"job_id": "j", "attempt": 0, "node_id": "n", "event": "started"}, "report"
        )
