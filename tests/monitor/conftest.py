"""Fixtures: a local cluster (real scheduler and backend) and the monitor over it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from app.monitor.server import create_app
from app.settings import Settings, load_settings
from tests.monitor.support import Cluster

LOOPBACK = ("127.0.0.1", 40000)
LOOPBACK_URL = "http://127.0.0.1:5555"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return load_settings(mode="local", data_dir=tmp_path, monitor_token=None)


@pytest.fixture
def cluster(settings: Settings) -> Cluster:
    return Cluster(settings)


@pytest.fixture
def app(cluster: Cluster, settings: Settings) -> FastAPI:
    return create_app(cluster.client, settings)


@pytest.fixture
def http(app: FastAPI) -> Iterator[TestClient]:
    """A client on this machine (loopback), so commands are allowed without a token."""
    with TestClient(app, base_url=LOOPBACK_URL, client=LOOPBACK) as client:
        yield client
