"""The monitor's web application and its server.

``create_app`` wires the API, the dashboard, ``/metrics`` and ``/healthz`` around one
``Client``; ``serve`` runs it with uvicorn (``jobrelay monitor``).
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated

from fastapi import FastAPI, Request
from fastapi.params import Path as PathParam
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from app.client import Client
from app.errors import JobrelayError
from app.models import ID_PATTERN
from app.monitor import errors
from app.monitor.api import router
from app.monitor.feed import Feed
from app.monitor.metrics import StatsCollector
from app.monitor.security import Guard, is_loopback_name
from app.monitor.views import Views
from app.settings import Settings, get_settings

log = logging.getLogger(__name__)

STATIC = Path(__file__).parent / "static"
HEALTH_TIMEOUT_S = 5.0
PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


READ_TIMEOUT_S = 5.0


def create_app(client: Client, settings: Settings) -> FastAPI:
    """The monitor for ``client``; the token comes from ``settings.monitor_token``."""
    views = Views(client)
    registry = CollectorRegistry()  # no auto_describe: registering must not read the state
    registry.register(StatsCollector(client))

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.feed = Feed(views.snapshot)
        yield
        await app.state.feed.stop()

    # The interactive docs pages load their scripts from a CDN; /openapi.json stays.
    app = FastAPI(
        title="jobrelay monitor", version="1", lifespan=lifespan, docs_url=None, redoc_url=None
    )
    app.state.views = views
    app.state.registry = registry
    errors.install(app)
    app.include_router(router)
    add_pages(app)
    add_probes(app)
    token = settings.monitor_token.get_secret_value() if settings.monitor_token else None
    app.add_middleware(Guard, token=token)
    return app


def add_pages(app: FastAPI) -> None:
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    page = STATIC / "index.html"

    @app.get("/", include_in_schema=False)
    def dashboard() -> FileResponse:
        return FileResponse(page, headers=PAGE_HEADERS)

    @app.get("/jobs/{job_id}", include_in_schema=False)
    def job_page(job_id: Annotated[str, PathParam(pattern=ID_PATTERN)]) -> FileResponse:
        return FileResponse(page, headers=PAGE_HEADERS)


def add_probes(app: FastAPI) -> None:
    @app.get("/healthz", tags=["probes"])
    async def healthz(request: Request) -> JSONResponse:
        """200 when the reader answers within a few seconds, 503 otherwise."""
        views: Views = request.app.state.views
        started = time.perf_counter()
        try:
            await asyncio.wait_for(asyncio.to_thread(views.reader.stats), HEALTH_TIMEOUT_S)
        except (JobrelayError, TimeoutError) as exc:
            detail = exc.message if isinstance(exc, JobrelayError) else "the reader timed out"
            return JSONResponse({"status": "unavailable", "detail": detail}, status_code=503)
        took_ms = round((time.perf_counter() - started) * 1000, 1)
        return JSONResponse({"status": "ok", "read_ms": took_ms})

    @app.get("/metrics", tags=["probes"], response_class=Response)
    def metrics(request: Request) -> Response:
        """Prometheus text format, read from the state on each scrape."""
        registry: CollectorRegistry = request.app.state.registry
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)


class RedactToken(logging.Filter):
    """Hides ``token=`` query values in uvicorn's access log lines."""

    pattern = re.compile(r"(token=)[^&\s]*")

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                self.pattern.sub(r"\1***", arg) if isinstance(arg, str) else arg
                for arg in record.args
            )
        return True


def serve(host: str, port: int, client: Client | None = None) -> None:
    """Run the monitor until interrupted."""
    import uvicorn

    settings = client.settings if client is not None else get_settings()
    # A page waits at most this long for a local-mode scheduler's answer, not a whole
    # producer's timeout, so a stopped scheduler shows as such within seconds.
    app = create_app(client or Client(settings, answer_timeout_s=READ_TIMEOUT_S), settings)
    logging.getLogger("uvicorn.access").addFilter(RedactToken())
    if settings.monitor_token is None and not is_loopback_name(host):
        log.warning(
            "monitor: listening on %s without JOBRELAY_MONITOR_TOKEN: anyone who reaches it "
            "can read jobs and nodes (commands stay limited to this machine)",
            host,
        )
    log.info("monitor: http://%s:%d/ (%s mode)", host, port, settings.resolved_mode)
    uvicorn.run(app, host=host, port=port, log_level=settings.log_level.lower())
