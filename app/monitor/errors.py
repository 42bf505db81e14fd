"""The one place where jobrelay errors and validation errors become HTTP answers.

Every error answer has the same body: ``{"error": {"type": ..., "message": ...}}``.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from app.errors import (
    ConfigurationError,
    IdempotencyConflict,
    InvalidRequest,
    JobrelayError,
    NotFound,
    TransitionRefused,
    Unavailable,
    WaitTimeout,
)

log = logging.getLogger(__name__)

STATUS_BY_ERROR: tuple[tuple[type[JobrelayError], int], ...] = (
    (InvalidRequest, 400),
    (NotFound, 404),
    (IdempotencyConflict, 409),
    (TransitionRefused, 409),
    (WaitTimeout, 504),
    (Unavailable, 503),
    (ConfigurationError, 500),
)
RETRY_AFTER_S = 2


def status_of(exc: JobrelayError) -> int:
    for cls, status in STATUS_BY_ERROR:
        if isinstance(exc, cls):
            return status
    return 500


def error_response(status: int, kind: str, message: str) -> JSONResponse:
    headers = {"Retry-After": str(RETRY_AFTER_S)} if status == 503 else None
    body = {"error": {"type": kind, "message": message}}
    return JSONResponse(body, status_code=status, headers=headers)


async def _jobrelay_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, JobrelayError)
    status = status_of(exc)
    level = logging.WARNING if status >= 500 else logging.INFO
    log.log(level, "%s %s: %s", request.method, request.url.path, exc.message)
    return error_response(status, type(exc).__name__, exc.message)


def describe(exc: RequestValidationError) -> str:
    """One sentence naming each field that failed, without echoing the input."""
    problems = []
    for error in exc.errors()[:5]:
        where = [str(part) for part in error.get("loc", ()) if part not in ("body", "query")]
        problems.append(f"{'.'.join(where) or 'body'}: {error.get('msg', 'invalid')}")
    more = len(exc.errors()) - len(problems)
    suffix = f" (and {more} more)" if more > 0 else ""
    return "invalid request: " + "; ".join(problems) + suffix


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return error_response(422, "InvalidRequest", describe(exc))


def install(app: FastAPI) -> None:
    app.add_exception_handler(JobrelayError, _jobrelay_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
