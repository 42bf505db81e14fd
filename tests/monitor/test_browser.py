"""The dashboard in headless Chromium, against the monitor served by uvicorn."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from app.client import Client
from app.monitor.server import READ_TIMEOUT_S, create_app
from tests.monitor.support import Cluster, serving
from tests.support.cluster import Cluster as Processes
from tests.support.cluster import wait_for

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"no Chromium at {CHROMIUM}"),
]

if CHROMIUM.exists():
    from playwright.sync_api import Browser, Page, expect, sync_playwright


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1440, "height": 1000})
    page = context.new_page()
    yield page
    context.close()


def populate(cluster: Cluster) -> None:
    """A small fleet with jobs in several states, for a realistic picture."""
    cluster.node("gpu-1", slots=4, capabilities=["asr:en", "gpu"], labels={"pool": "eu"})
    cluster.node("gpu-2", slots=2, capabilities=["nmt:en-zh", "tts:zh"], labels={"pool": "us"})
    cluster.scheduler_worker("s1@host-a", sweeping=True)
    for n in range(5):
        job = cluster.submit(f"warmup-{n}", requires=["asr:en"])
        cluster.report(job, "started")
        if n < 3:
            cluster.report(job, "succeeded", result={"text": "ok"})
    cluster.submit("waiting-1", requires=["asr:fr"])


def test_a_job_appears_and_changes_state_live(page: Page, app: FastAPI, cluster: Cluster) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    populate(cluster)

    with serving(app) as url:
        page.goto(f"{url}/")
        expect(page.locator("#conn")).to_have_attribute("data-state", "live")
        expect(page.locator("#nodes tbody tr")).to_have_count(2)

        body = {"request_id": "live-1", "kind": "echo", "payload": {"secret": "p4yl0ad"}}
        created = httpx.post(f"{url}/api/jobs", json=body).json()["job"]
        row = page.locator(f'#jobs tr[data-job="{created["job_id"]}"]')
        expect(row).to_have_attribute("data-state", "assigned", timeout=5000)

        job = cluster.report(cluster.client.get_job(created["job_id"]), "started")
        expect(row).to_have_attribute("data-state", "running", timeout=5000)
        cluster.report(job, "succeeded", result={"echo": "done"})
        expect(row).to_have_attribute("data-state", "succeeded", timeout=5000)
        expect(page.locator(".card.c-succeeded .card-value")).to_have_text("4")
        assert "p4yl0ad" not in page.content()
        page.screenshot(path=str(ARTIFACTS / "monitor-dashboard.png"), full_page=True)

        row.locator("a").click()
        expect(page).to_have_url(f"{url}/jobs/{created['job_id']}")
        expect(page.locator("#job h1")).to_have_text(created["job_id"])
        expect(page.locator("#job pre")).to_contain_text('"echo": "done"')
        page.screenshot(path=str(ARTIFACTS / "monitor-job.png"), full_page=True)


def test_a_waiting_job_shows_the_selector_explanation(
    page: Page, app: FastAPI, cluster: Cluster
) -> None:
    populate(cluster)
    waiting = cluster.client.reader.list_jobs
    from app.backends.base import JobQuery

    job = waiting(JobQuery(search="waiting-1")).jobs[0]

    with serving(app) as url:
        page.goto(f"{url}/jobs/{job.job_id}")
        expect(page.locator(".explain")).to_contain_text("asr:fr")
        expect(page.locator("#job .badge").first).to_have_text("pending")
        page.screenshot(path=str(ARTIFACTS / "monitor-job-waiting.png"), full_page=True)


def test_scheduler_workers_change_status_live(page: Page, app: FastAPI, cluster: Cluster) -> None:
    cluster.scheduler_worker("s1@host-a", sweeping=True)
    cluster.scheduler_worker("s2@host-b", hostname="host-b", pool="prefork", concurrency=2)

    with serving(app) as url:
        page.goto(f"{url}/")
        first = page.locator('#schedulers tr[data-scheduler="s1@host-a"]')
        second = page.locator('#schedulers tr[data-scheduler="s2@host-b"]')
        expect(first).to_have_attribute("data-status", "alive")
        expect(first).to_contain_text("sweeping")
        expect(second).to_contain_text("prefork \u00d7 2")
        expect(page.locator("#scheduler-count")).to_have_text("2")

        cluster.scheduler_worker("s1@host-a", stopped=True)
        cluster.scheduler_worker("s2@host-b", hostname="host-b", sweeping=True)
        expect(first).to_have_attribute("data-status", "stopped", timeout=5000)
        expect(first).not_to_contain_text("sweeping")
        expect(second).to_contain_text("sweeping", timeout=5000)


@pytest.fixture
def processes(tmp_path: Path) -> Iterator[Processes]:
    """Real local-mode processes; the monitor reads by asking their scheduler."""
    made = Processes(tmp_path)
    yield made
    made.stop()


@pytest.mark.e2e
def test_the_running_scheduler_shows_as_alive(page: Page, processes: Processes) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    scheduler = processes.start_scheduler("s1")
    wait_for(processes.client.reader.schedulers, 60, "the scheduler to describe itself")
    client = Client(processes.settings, processes.celery, answer_timeout_s=READ_TIMEOUT_S)

    with serving(create_app(client, processes.settings)) as url:
        page.goto(f"{url}/")
        rows = page.locator("#schedulers tbody tr")
        expect(rows).to_have_count(1, timeout=10_000)
        expect(rows).to_have_attribute("data-scheduler", re.compile(r"^s1@"))
        expect(rows).to_have_attribute("data-status", "alive")
        expect(rows).to_contain_text(str(scheduler.popen.pid))
        expect(rows).to_contain_text("local")
        expect(rows).to_contain_text("sweeping")
        page.screenshot(path=str(ARTIFACTS / "monitor-schedulers.png"), full_page=True)
