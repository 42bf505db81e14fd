"""Choosing the backend for the configured mode."""

from __future__ import annotations

from app.backends.base import Backend, BackendOptions
from app.settings import Settings


def backend_options(settings: Settings) -> BackendOptions:
    return BackendOptions(
        retention_s=settings.retention_s,
        dispatch_timeout_s=settings.dispatch_timeout_s,
        key_prefix=settings.key_prefix,
    )


def open_backend(settings: Settings) -> Backend:
    """The local backend in local mode, Redis in cross-instance mode; never a fall-back."""
    if settings.local:
        from app.backends.local import LocalBackend

        return LocalBackend(backend_options(settings))
    from app.backends.redis import RedisBackend

    return RedisBackend.from_url(
        settings.redis, backend_options(settings), timeout_s=settings.redis_timeout_s
    )
