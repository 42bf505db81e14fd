"""Bad requests, generated: each is accepted as valid or refused naming a field; a refusal
stores nothing. Runs ``parse_request`` and the scheduler's creation on a local backend."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from app.backends.local import LocalBackend
from app.errors import IdempotencyConflict, InvalidRequest
from app.handoff import NoHandoff
from app.models import JobRequest, parse_request
from app.scheduler import Scheduler
from app.settings import load_settings

ID = re.compile(r"[A-Za-z0-9._:-]{1,200}")
FIELDS = sorted(JobRequest.model_fields)
FIXTURE_OK = [HealthCheck.function_scoped_fixture]
VALID = {"request_id": "req-1", "kind": "echo", "payload": {"x": 1}}

junk = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=30)
    | st.binary(max_size=10),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
ids = st.one_of(
    st.from_regex(ID, fullmatch=True),
    st.text(max_size=250),
    st.text(alphabet="ab:-._\n\x00 é/", min_size=0, max_size=210),
    st.just("x" * 201),
    st.just("x" * 200),
    st.just("ok\n"),
)


def nested(depth: int) -> dict[str, Any]:
    value: dict[str, Any] = {}
    for _ in range(depth):
        value = {"a": value}
    return value


@st.composite
def requests(draw: st.DrawFn) -> object:
    """A request mutated in one to three ways, or something that is not a request at all."""
    if draw(st.integers(0, 9)) == 0:
        return draw(junk)
    body: dict[Any, Any] = dict(VALID, request_id=draw(ids), kind=draw(ids))
    for _ in range(draw(st.integers(1, 3))):
        how = draw(st.sampled_from(["drop", "retype", "unknown", "huge", "deep", "list", "id"]))
        field = draw(st.sampled_from(FIELDS))
        if how == "drop":
            body.pop(field, None)
        elif how == "retype":
            body[field] = draw(junk)
        elif how == "unknown":
            body[draw(st.text(min_size=1, max_size=20).filter(lambda k: k not in FIELDS))] = 1
        elif how == "huge":
            body[field] = "x" * draw(st.sampled_from([201, 10_000, 300_000]))
        elif how == "deep":
            body["payload"] = nested(draw(st.sampled_from([10, 300])))
        elif how == "list":
            body[field] = [draw(ids) for _ in range(draw(st.sampled_from([1, 65])))]
        else:
            body[draw(st.sampled_from(["preferred_node", "exclude_nodes", "requires"]))] = draw(ids)
    return body


def refusal(call: Callable[[], object]) -> InvalidRequest | None:
    """The InvalidRequest that ``call`` raised, or None if it went through."""
    try:
        call()
    except InvalidRequest as exc:
        return exc
    return None


def names_a_field(message: str, data: object) -> bool:
    if not isinstance(data, dict):
        return "expected a JSON object" in message
    named = [*FIELDS, *(str(key) for key in data)]
    return any(name and name in message for name in named)


@settings(max_examples=400, deadline=None)
@given(data=requests())
@example(data=dict(VALID, payload={"blob": "x" * 300_000}))
@example(data=dict(VALID, request_id="ok\n"))
@example(data=[VALID])
def test_parse_request_accepts_a_valid_request_or_names_the_field(data: object) -> None:
    refused = refusal(lambda: parse_request(data))
    if refused is not None:
        assert refused.message.startswith("invalid request"), refused.message
        assert names_a_field(refused.message, data), refused.message
        assert len(refused.message) < 2_000, "an error message must not echo a huge input"
        return
    request = parse_request(data)
    assert ID.fullmatch(request.request_id) and ID.fullmatch(request.kind)
    assert len(json.dumps(request.payload)) <= 256 * 1024
    for node in [*request.exclude_nodes, *request.requires, request.preferred_node or "ok"]:
        assert ID.fullmatch(node)


@pytest.mark.parametrize("depth", [900, 5_000, 50_000])
def test_deeply_nested_payloads_are_refused_or_accepted_never_crash(depth: int) -> None:
    data = dict(VALID, payload=nested(depth))
    refused = refusal(lambda: parse_request(data))
    assert refused is None or "payload" in refused.message


@settings(max_examples=150, deadline=None)
@given(request_id=ids, kind=ids)
def test_ids_are_valid_exactly_when_they_match_the_documented_pattern(
    request_id: str, kind: str
) -> None:
    valid = bool(ID.fullmatch(request_id) and ID.fullmatch(kind))
    refused = refusal(lambda: parse_request({"request_id": request_id, "kind": kind}))
    assert (refused is None) == valid
    if refused is not None:
        assert "request_id" in refused.message or "kind" in refused.message


@pytest.fixture(scope="module")
def scheduler(tmp_path_factory: pytest.TempPathFactory) -> Scheduler:
    settings = load_settings(mode="local", data_dir=Path(tmp_path_factory.mktemp("bad-input")))
    return Scheduler(settings, LocalBackend(), NoHandoff())


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=requests())
def test_the_scheduler_stores_nothing_for_a_refused_request(
    scheduler: Scheduler, data: object
) -> None:
    backend = scheduler.backend
    before = backend.stats()
    answer: dict[str, Any] = {}
    outcome: Exception | None = None
    try:
        answer = scheduler.create(data)
    except (InvalidRequest, IdempotencyConflict) as exc:
        outcome = exc
    after = backend.stats()
    if isinstance(outcome, InvalidRequest):
        assert names_a_field(outcome.message, data), outcome.message
        assert after == before
        return
    if isinstance(outcome, IdempotencyConflict):
        assert after.counters["conflicts"] == before.counters.get("conflicts", 0) + 1
        assert after.states == before.states
        return
    if answer["created"]:
        assert after.counters["created"] == before.counters.get("created", 0) + 1
    else:
        assert after.counters["repeats"] == before.counters.get("repeats", 0) + 1
        assert after.states == before.states


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(payload=st.dictionaries(st.text(max_size=5), st.integers(), min_size=1, max_size=3))
def test_a_request_id_reused_with_another_body_is_a_conflict_that_changes_nothing(
    scheduler: Scheduler, payload: dict[str, int]
) -> None:
    first = scheduler.create({"request_id": "bound-once", "kind": "echo", "payload": {}})
    before = scheduler.backend.stats()
    with pytest.raises(IdempotencyConflict, match="bound-once"):
        scheduler.create({"request_id": "bound-once", "kind": "echo", "payload": payload})
    after = scheduler.backend.stats()
    assert after.states == before.states
    assert after.counters["created"] == before.counters["created"]
    job = scheduler.backend.get_job(first["job"]["job_id"])
    assert job is not None and job.payload == {}
