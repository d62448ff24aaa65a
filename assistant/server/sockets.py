"""WebSocket plumbing shared by the reader, chair and audio endpoints.

:func:`open_socket` upgrades with our limits and tracks the socket for shutdown;
:func:`guarded_socket` wraps a handler with the per-address connection limit;
:func:`chair_socket` adds the chair's checks (origin, known session, chair token).
"""

from __future__ import annotations

import weakref
from typing import Any, Awaitable, Callable

from aiohttp import WSCloseCode, web

from ..errors import ProtocolError
from . import access, auth
from .keys import CONNECTIONS, SESSIONS, SETTINGS, SOCKETS

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
# The room handed over is the registry's: a SessionRuntime in one process (the audio socket
# needs that), a RemoteRoom on a web node (whose audio socket is assistant.cluster.ingest).
SessionSocket = Callable[[Any, web.Request], Awaitable[web.StreamResponse]]


async def open_socket(request: web.Request) -> web.WebSocketResponse:
    """Upgrade to a WebSocket with our limits (heartbeat, frame size), tracked for shutdown.

    A token sent as the ``bearer.<token>`` subprotocol is echoed, as browsers require.
    """
    limits = request.app[SETTINGS].limits
    # aiohttp refuses a message of max_msg_size bytes itself: one more lets a frame of exactly the limit in.
    ws = web.WebSocketResponse(heartbeat=limits.heartbeat_s, max_msg_size=limits.max_message_bytes + 1,
                               protocols=auth.token_subprotocol(request), compress=False)
    if not ws.can_prepare(request).ok:  # a plain GET, or a broken upgrade: say what this endpoint is
        raise ProtocolError("this is a WebSocket endpoint: connect with ws:// or wss:// (Upgrade: websocket, "
                            "Sec-WebSocket-Version: 13, a Sec-WebSocket-Key)", code="not_websocket")
    await ws.prepare(request)
    request.app[SOCKETS].add(ws)
    return ws


def limited(serve: SessionSocket) -> Handler:
    """A session socket handler that counts against the per-address connection limit."""

    async def handler(request: web.Request) -> web.StreamResponse:
        runtime = request.app[SESSIONS].get(request.match_info["session"])
        peer = request.app[CONNECTIONS].acquire(request)
        try:
            return await serve(runtime, request)
        finally:
            request.app[CONNECTIONS].release(peer)

    return handler


def chair_socket(serve: SessionSocket) -> Handler:
    """A handler for one of the chair's sockets (console, audio) with the checks they share:
    origin, known session, a chair token good in that session, and the per-address connection limit."""
    inner = limited(serve)

    async def handler(request: web.Request) -> web.StreamResponse:
        access.check_origin(request)
        runtime = request.app[SESSIONS].get(request.match_info["session"])
        access.require_chair(request, runtime.session.id)
        return await inner(request)

    return handler


async def going_away(app: web.Application) -> None:
    """``on_shutdown``: close every open socket with 1001, so clients reconnect elsewhere or later."""
    sockets: weakref.WeakSet[web.WebSocketResponse] = app[SOCKETS]
    for ws in list(sockets):
        await ws.close(code=WSCloseCode.GOING_AWAY, message=b"server shutting down")
