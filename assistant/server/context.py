"""The application's shared state (one typed AppKey), access checks and the error boundary helpers.

The error boundary: handlers raise narrow :mod:`assistant.errors`; ``error_middleware``
turns them (and aiohttp's own HTTP errors) into ``{"error": {"code", "message"}}``,
and anything unexpected into a generic 500 with the traceback in the server log only.
WebSocket handlers close with the codes in ``CLOSE_CODES``.
"""

from __future__ import annotations

import json
import logging
import weakref
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable
from urllib.parse import urlsplit

from aiohttp import WSMsgType, web

from .. import protocol
from ..captions import Session
from ..config import Settings
from ..errors import AssistantError, AuthError, ForbiddenError, NotFoundError, ProtocolError
from ..hub import CaptionBus
from ..store import Store
from . import auth
from .runtime import Clock, RecognizerFactory, SessionRuntime
from .translation import Translating


@dataclass
class AppContext:
    """Everything request handlers share. Created by ``make_app``, closed by its cleanup."""

    settings: Settings
    store: Store
    bus: CaptionBus
    clock: Clock
    recognizer_factory: RecognizerFactory | None
    translator: Translating | None
    runtimes: dict[str, SessionRuntime] = field(default_factory=dict)
    connections: Counter[str] = field(default_factory=Counter)
    issued_tokens: list[auth.IssuedToken] = field(default_factory=list)
    # Open WebSockets, closed with GOING_AWAY on shutdown.
    sockets: "weakref.WeakSet[web.WebSocketResponse]" = field(default_factory=weakref.WeakSet)

    @staticmethod
    def of(request: web.Request) -> "AppContext":
        return request.app[CONTEXT]

    def open_session(self, session: Session) -> Session:
        """Create (or resume) a session in the store and start its runtime."""
        stored = self.store.create_session(session)
        if stored.ended_at_ms is not None:
            stored = self.store.update_session(stored.id, ended_at_ms=None)
        self.runtimes[stored.id] = SessionRuntime(
            stored, store=self.store, bus=self.bus, clock=self.clock,
            recognizer_factory=self.recognizer_factory, translator=self.translator)
        return stored

    def public_url(self, request: web.Request | None = None) -> str:
        """The base URL phones use: configured, else the address the request came to."""
        if self.settings.server.public_url:
            return self.settings.server.public_url.rstrip("/")
        if request is not None:
            return f"{request.scheme}://{request.host}"
        return ""

    def runtime_or_404(self, session_id: str) -> SessionRuntime:
        runtime = self.runtimes.get(session_id)
        if runtime is None:
            raise NotFoundError(f"no session {session_id!r}; the landing page lists the live sessions")
        return runtime

    def require(self, request: web.Request, role: auth.Role) -> None:
        auth.check(self.store, role, auth.presented_token(request))

    def require_any(self, request: web.Request, *roles: auth.Role) -> auth.Role:
        """Pass a request carrying any of ``roles``' tokens; return which."""
        token = auth.presented_token(request)
        role = auth.role_of(self.store, token)
        if role in roles:
            return role
        names = " or ".join(roles)
        if token is None:
            raise AuthError(f"this needs the {names} token: send 'Authorization: Bearer <token>'")
        if role is not None:
            raise ForbiddenError(f"that is the {role} token, and this needs the {names} token")
        raise AuthError(f"wrong token for this; it needs the {names} token "
                        f"(`assistant tokens rotate {roles[0]}` makes a new one)")

    def require_reader(self, request: web.Request, session: Session) -> None:
        """Pass anyone for a public session; the session key or a chair/staff token for a private one."""
        if session.public:
            return
        if auth.session_key_matches(self.store.session_key_hash(session.id), auth.presented_key(request)):
            return
        if auth.role_of(self.store, auth.presented_token(request)) is not None:
            return
        if auth.presented_key(request) is None:
            raise AuthError(f"session {session.id!r} is private: open the link with its key "
                            "(?key=...) that the organisers gave you")
        raise AuthError(f"wrong key for session {session.id!r}; ask the organisers for the current link")

    def set_access(self, session_id: str, *, public: bool | None, key: str | None) -> None:
        """Make a session public or private and set (``key``) or remove (``""``) its key; None keeps."""
        runtime = self.runtime_or_404(session_id)
        if key is not None:
            digest = auth.hash_session_key(key) if key else None
            self.store.set_session_key_hash(session_id, digest, self.clock.now_ms())
        if public is not None and public != runtime.session.public:
            runtime.session = self.store.update_session(session_id, public=public)

    def check_origin(self, request: web.Request) -> None:
        """Refuse a browser socket opened by a page from another site (cross-site WebSocket hijacking).

        Clients that send no Origin (capture stations, scripts) pass: they are no browser.
        """
        origin = request.headers.get("Origin")
        if origin is None:
            return
        allowed = {o.rstrip("/").lower() for o in self.settings.server.allowed_origins}
        if self.settings.server.public_url:
            parts = urlsplit(self.settings.server.public_url)
            allowed.add(f"{parts.scheme}://{parts.netloc}".lower())
        given = origin.strip().rstrip("/").lower()
        try:
            netloc = urlsplit(given).netloc
        except ValueError:
            netloc = ""
        if given in allowed or (netloc and netloc == (request.host or "").lower()):
            return
        raise ProtocolError(f"WebSocket from origin {origin[:100]!r} refused: open the page from this server, "
                            "or add the origin to server.allowed_origins", code="forbidden_origin")

    async def open_socket(self, request: web.Request) -> web.WebSocketResponse:
        """Upgrade to a WebSocket with our limits (heartbeat, frame size), tracked for shutdown.

        A token sent as the ``bearer.<token>`` subprotocol is echoed, as browsers require.
        """
        ws = web.WebSocketResponse(heartbeat=self.settings.limits.heartbeat_s,
                                   max_msg_size=self.settings.limits.max_message_bytes,
                                   protocols=auth.token_subprotocol(request), compress=False)
        await ws.prepare(request)
        self.sockets.add(ws)
        return ws

    def peer(self, request: web.Request) -> str:
        """The client's address; behind a trusted proxy, the last address its X-Forwarded-For names."""
        remote = request.remote or "?"
        if remote in self.settings.server.trusted_proxies:
            forwarded = request.headers.get("X-Forwarded-For", "").split(",")[-1].strip()
            if forwarded:
                return forwarded
        return remote

    def limit_connections(self, request: web.Request) -> None:
        peer = self.peer(request)
        if self.connections[peer] >= self.settings.limits.max_connections_per_ip:
            raise ProtocolError(f"too many connections from {peer}; close some tabs and retry",
                                code="too_many_connections")
        self.connections[peer] += 1

    def release_connection(self, request: web.Request) -> None:
        peer = self.peer(request)
        self.connections[peer] -= 1
        if self.connections[peer] <= 0:
            del self.connections[peer]


CONTEXT = web.AppKey("context", AppContext)

SocketServer = Callable[[AppContext, SessionRuntime, web.Request], Awaitable[web.StreamResponse]]


def chair_socket(serve: SocketServer) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """A handler for one of the chair's sockets (console, audio) with the checks they share:
    origin, known session, the chair token, and the per-address connection limit."""

    async def handler(request: web.Request) -> web.StreamResponse:
        ctx = AppContext.of(request)
        ctx.check_origin(request)
        runtime = ctx.runtime_or_404(request.match_info["session"])
        ctx.require(request, "chair")
        ctx.limit_connections(request)
        try:
            return await serve(ctx, runtime, request)
        finally:
            ctx.release_connection(request)

    return handler
log = logging.getLogger(__name__)

_STATUS = {ForbiddenError: 403, AuthError: 401, NotFoundError: 404}
_STATUS_BY_CODE = {"too_many_connections": 429, "rate_limited": 429, "forbidden_origin": 403}
_HTTP_ERRORS = {  # aiohttp's own refusals, as (code, message with the fix)
    404: ("not_found", "no such page or endpoint; docs/protocol.md lists the API"),
    405: ("method_not_allowed", "this path does not take that method; docs/protocol.md lists the API"),
    413: ("too_large", "the request body is too large; send at most 1 MiB of JSON"),
}


def http_status(exc: AssistantError) -> int:
    for cls, status in _STATUS.items():
        if isinstance(exc, cls):
            return status
    return _STATUS_BY_CODE.get(exc.code, 400)


@web.middleware
async def error_middleware(request: web.Request, handler: Any) -> web.StreamResponse:
    """Turn our narrow errors into JSON ``{"error": {"code", "message"}}``; never a stack trace.

    aiohttp's HTTP errors (404, 405, 413, ...) become the same JSON shape; anything
    else is a bug: its traceback goes to the server log and the client gets a
    generic 500, so nothing about the server's insides leaks.
    """
    try:
        response: web.StreamResponse = await handler(request)
        return response
    except AssistantError as exc:
        return json_error(http_status(exc), exc.code, str(exc))
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        code, message = _HTTP_ERRORS.get(exc.status, ("http_error", exc.reason))
        response = json_error(exc.status, code, message)
        if "Allow" in exc.headers:
            response.headers["Allow"] = exc.headers["Allow"]
        return response
    except Exception:  # the last resort: a bug must not take the socket down with a stack trace
        log.exception("unexpected error in %s %s", request.method, auth.redact(request.path))
        return json_error(500, "internal", "the server hit an unexpected error; it was logged. "
                                           "Retry, and tell the organisers if it keeps happening")


def json_error(status: int, code: str, message: str, **extra: Any) -> web.Response:
    body = {"error": {"code": code, "message": message, **extra}}
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return web.json_response(body, status=status, headers=headers,
                             dumps=lambda o: json.dumps(o, ensure_ascii=False))


CLOSE_CODES = {"unauthorized": 4401, "forbidden": 4403, "not_found": 4404, "unknown_language": 4406,
               "rate_limited": 4429}


@dataclass
class MessageBudget:
    """A token bucket over one socket's client frames: ``rate_per_s`` on average, ``burst`` at once.

    Frames over budget are strikes; more than ``strikes_allowed`` of them before
    the bucket refills completely means the client will not slow down.
    Time is passed in (``now_ms``), so tests drive it with a manual clock.
    """

    rate_per_s: float
    burst: int
    strikes_allowed: int
    tokens: float = -1.0
    last_ms: int | None = None
    strikes: int = 0

    @classmethod
    def of(cls, ctx: AppContext) -> "MessageBudget":
        limits = ctx.settings.limits
        return cls(limits.messages_per_s, limits.message_burst, limits.rate_strikes)

    def take(self, now_ms: int) -> bool:
        """Spend one frame; False (and a strike) when the client is over budget."""
        if self.last_ms is None:
            self.tokens = float(self.burst)
        else:
            elapsed_s = max(now_ms - self.last_ms, 0) / 1000
            self.tokens = min(float(self.burst), self.tokens + elapsed_s * self.rate_per_s)
        self.last_ms = now_ms
        if self.tokens >= self.burst:
            self.strikes = 0
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        self.strikes += 1
        return False

    @property
    def exhausted(self) -> bool:
        return self.strikes > self.strikes_allowed


async def admit(ws: web.WebSocketResponse, budget: MessageBudget, now_ms: int) -> bool:
    """Call per client frame: True to handle it; False when dropped (error frame sent, or the socket closed)."""
    if budget.take(now_ms):
        return True
    exc = ProtocolError(f"too many messages: at most {budget.rate_per_s:g} a second "
                        f"(bursts of {budget.burst}); slow down", code="rate_limited")
    if budget.exhausted:
        await ws_close_with_error(ws, exc)
    else:
        await ws.send_frame(protocol.error(exc.code, str(exc)).data, WSMsgType.TEXT)
    return False


async def ws_close_with_error(ws: web.WebSocketResponse, exc: AssistantError, **extra: Any) -> None:
    """Send an error frame, then close with a code that says why (4400 for a bad message)."""
    await ws.send_frame(protocol.error(exc.code, str(exc), **extra).data, WSMsgType.TEXT)
    await ws.close(code=CLOSE_CODES.get(exc.code, 4400), message=exc.code.encode()[:120])
