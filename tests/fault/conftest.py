"""Fixtures for fault tests: cross-instance clusters on a key prefix of their own."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support.cluster import Cluster
from tests.support.services import MAIN_REDIS, delete_prefix, new_prefix

MakeCluster = Callable[..., Cluster]


@pytest.fixture
def make_cluster(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[MakeCluster]:
    """Build a cross-instance cluster; stop it, print its logs on failure, drop its keys."""
    made: list[Cluster] = []

    def make(**env: str) -> Cluster:
        overrides = {
            "JOBRELAY_MODE": "cross_instance",
            "JOBRELAY_REDIS_URL": MAIN_REDIS,
            "JOBRELAY_KEY_PREFIX": new_prefix(),
            "JOBRELAY_VISIBILITY_TIMEOUT_S": "5",
            **env,
        }
        cluster = Cluster(tmp_path / f"cluster-{len(made)}", overrides)
        cluster.root.mkdir(parents=True, exist_ok=True)
        made.append(cluster)
        return cluster

    yield make
    failed = getattr(request.node, "rep_call", None) is not None and request.node.rep_call.failed
    for cluster in made:
        cluster.stop()
        if failed:
            print(cluster.dump_logs())
        delete_prefix(MAIN_REDIS, cluster.settings.key_prefix)
