"""Who may use the monitor.

With a token (``JOBRELAY_MONITOR_TOKEN``) every request needs it: ``Authorization: Bearer``,
or ``?token=`` once in the browser, which then keeps it in an HttpOnly, SameSite=Strict
cookie. Without a token anyone who can reach the port may read, but commands (POST) are
only taken from loopback, addressed to a loopback host name (against DNS rebinding).
Commands from another web origin are always refused.
"""

from __future__ import annotations

import hmac
import ipaddress
from urllib.parse import quote, unquote, urlsplit

from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.monitor.errors import error_response

COOKIE = "jobrelay_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
UNAUTHENTICATED = (
    "this monitor needs its token: send 'Authorization: Bearer <token>', "
    "or open the dashboard once as /?token=<token>"
)
NEEDS_LOOPBACK = (
    "commands are only taken from this machine while no token is set; "
    "set JOBRELAY_MONITOR_TOKEN on the monitor to allow them from elsewhere"
)
CROSS_ORIGIN = "commands from another web origin are refused"


def same_token(presented: str, expected: str) -> bool:
    """Compare in constant time, so the answer time does not reveal the token."""
    return hmac.compare_digest(presented.encode(), expected.encode())


def presented_token(request: Request) -> str:
    header = request.headers.get("authorization", "")
    if header[:7].lower() == "bearer ":
        return header[7:].strip()
    return request.query_params.get("token") or unquote(request.cookies.get(COOKIE, ""))


def is_loopback_client(request: Request) -> bool:
    host = request.client.host if request.client else ""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def is_loopback_name(host: str) -> bool:
    """True for a loopback host name or address, e.g. ``localhost`` or ``127.0.0.1``."""
    try:
        return host in LOOPBACK_NAMES or ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def is_loopback_host(request: Request) -> bool:
    """True when the request was addressed to a loopback name (its Host header)."""
    return is_loopback_name(urlsplit(f"//{request.headers.get('host', '')}").hostname or "")


def cross_origin(request: Request) -> bool:
    origin = request.headers.get("origin")
    if origin is None:
        return False
    return urlsplit(origin).netloc != request.headers.get("host", "")


class Guard:
    """ASGI middleware applying the rules above to every HTTP request."""

    def __init__(self, app: ASGIApp, token: str | None) -> None:
        self.app = app
        self.token = token or None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        refusal = self.refusal(request)
        if refusal is not None:
            status, message = refusal
            headers = {"WWW-Authenticate": "Bearer"} if status == 401 else {}
            kind = "Unauthorized" if status == 401 else "Forbidden"
            response = error_response(status, kind, message)
            response.headers.update(headers)
            await response(scope, receive, send)
            return
        if self.token and request.query_params.get("token"):
            send = self._keeping_token(send)
        await self.app(scope, receive, send)

    def refusal(self, request: Request) -> tuple[int, str] | None:
        mutating = request.method not in SAFE_METHODS
        if self.token is not None and not same_token(presented_token(request), self.token):
            return 401, UNAUTHENTICATED
        if mutating and cross_origin(request):
            return 403, CROSS_ORIGIN
        local = is_loopback_client(request) and is_loopback_host(request)
        if mutating and self.token is None and not local:
            return 403, NEEDS_LOOPBACK
        return None

    def _keeping_token(self, send: Send) -> Send:
        cookie = f"{COOKIE}={quote(self.token or '')}; HttpOnly; SameSite=Strict; Path=/"

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message).append("set-cookie", cookie)
            await send(message)

        return sending
