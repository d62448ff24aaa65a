"""The application's shared state (one typed AppKey) and the error boundary helpers."""

from __future__ import annotations

import json
import weakref
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

from .. import protocol
from ..captions import Session
from ..config import Settings
from ..errors import AssistantError, AuthError, NotFoundError, ProtocolError
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

    def limit_connections(self, request: web.Request) -> None:
        peer = request.remote or "?"
        if self.connections[peer] >= self.settings.limits.max_connections_per_ip:
            raise ProtocolError(f"too many connections from {peer}; close some tabs and retry",
                                code="too_many_connections")
        self.connections[peer] += 1

    def release_connection(self, request: web.Request) -> None:
        peer = request.remote or "?"
        self.connections[peer] -= 1
        if self.connections[peer] <= 0:
            del self.connections[peer]


CONTEXT = web.AppKey("context", AppContext)

_STATUS = {AuthError: 401, NotFoundError: 404}


def http_status(exc: AssistantError) -> int:
    for cls, status in _STATUS.items():
        if isinstance(exc, cls):
            return status
    if exc.code == "too_many_connections":
        return 429
    return 400


@web.middleware
async def error_middleware(request: web.Request, handler: Any) -> web.StreamResponse:
    """Turn our narrow errors into JSON ``{"error": {"code", "message"}}``; never a stack trace."""
    try:
        response: web.StreamResponse = await handler(request)
        return response
    except AssistantError as exc:
        return json_error(http_status(exc), exc.code, str(exc))


def json_error(status: int, code: str, message: str, **extra: Any) -> web.Response:
    body = {"error": {"code": code, "message": message, **extra}}
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return web.json_response(body, status=status, headers=headers,
                             dumps=lambda o: json.dumps(o, ensure_ascii=False))


CLOSE_CODES = {"unauthorized": 4401, "not_found": 4404, "unknown_language": 4406}


async def ws_close_with_error(ws: web.WebSocketResponse, exc: AssistantError, **extra: Any) -> None:
    """Send an error frame, then close with a code that says why (4400 for a bad message)."""
    await ws.send_frame(protocol.error(exc.code, str(exc), **extra).data, WSMsgType.TEXT)
    await ws.close(code=CLOSE_CODES.get(exc.code, 4400), message=exc.code.encode()[:120])
