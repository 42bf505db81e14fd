"""Reports about old attempts, or from nodes that no longer own a job, change nothing.

Property-based, on both backends: a job handed to a, then b, then c (attempt 3) receives
any sequence of reports that are not from (c, attempt 3); each is STALE and neither the
job nor any node's slot counts move. The current attempt's report still applies after.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.backends.base import Backend, TransitionOutcome
from app.models import JobState, Report
from tests.contract.conftest import MakeBackend, make_backend, redis_client  # noqa: F401
from tests.contract.helpers import NOW, add_node, make_job

pytestmark = pytest.mark.fault

NODES = ("a", "b", "c")

stale_reports = st.lists(
    st.tuples(
        st.integers(min_value=1, max_value=5),
        st.sampled_from([*NODES, "ghost"]),
        st.sampled_from(["accepted", "started", "succeeded", "failed"]),
        st.booleans(),
    ).filter(lambda r: (r[0], r[1]) != (3, "c")),
    min_size=1,
    max_size=12,
)


@pytest.fixture
def backend(make_backend: MakeBackend) -> Backend:  # noqa: F811
    return make_backend()


def third_attempt(backend: Backend) -> str:
    for node_id in NODES:
        add_node(backend, node_id, slots=2)
    job = make_job(max_attempts=5)
    claim = backend.claim(job, ["a"], NOW)
    job_id = claim.job.job_id
    for attempt, node_id in ((1, "b"), (2, "c")):
        assert backend.requeue(job_id, attempt, "test", NOW).applied
        assert backend.assign(job_id, [node_id], NOW).applied
    current = backend.get_job(job_id)
    assert current is not None and (current.node_id, current.attempt) == ("c", 3)
    return job_id


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(reports=stale_reports)
def test_reports_about_old_attempts_or_from_other_nodes_change_nothing(
    backend: Backend, reports: list[tuple[int, str, str, bool]]
) -> None:
    job_id = third_attempt(backend)
    before, nodes_before = backend.get_job(job_id), backend.nodes()
    for attempt, node_id, event, retryable in reports:
        report = Report(
            job_id=job_id,
            attempt=attempt,
            node_id=node_id,
            event=event,  # type: ignore[arg-type]
            result={"from": node_id},
            retryable=retryable,
        )
        transition = backend.report(report, NOW + 1)
        assert transition.outcome is TransitionOutcome.STALE, (report, transition)
    assert backend.get_job(job_id) == before
    assert backend.nodes() == nodes_before

    current = Report(job_id=job_id, attempt=3, node_id="c", event="succeeded", result=1)
    assert backend.report(current, NOW + 2).applied
    final = backend.get_job(job_id)
    assert final is not None and (final.state, final.result) == (JobState.SUCCEEDED, 1)
