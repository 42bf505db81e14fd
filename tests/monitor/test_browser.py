"""The dashboard in headless Chromium, against the monitor served by uvicorn."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from tests.monitor.support import Cluster, serving

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
