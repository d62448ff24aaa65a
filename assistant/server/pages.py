"""The pages (files under ``web/``), the join QR codes, the health check and the security headers.

A private session's delegate page and QR code need its key (``?key=``) or a
chair/staff token; the chair and staff pages are plain files (their tokens stay
in the ``#fragment``, which browsers never send) and every API they call checks.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Awaitable, Callable

import segno
from aiohttp import web

from . import access, auth
from .keys import SESSIONS, STORE

WEB_DIR = Path(__file__).resolve().parent.parent / "web"
QR_SCALE = 10  # pixels per module: big enough to project


def page(name: str) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    path = WEB_DIR / name

    async def handler(request: web.Request) -> web.StreamResponse:
        if "session" in request.match_info:
            session = request.app[STORE].get_session(request.match_info["session"])
            if name == "delegate.html":
                access.require_reader(request, session)
        return web.FileResponse(path, headers={"Cache-Control": "no-cache"})

    return handler


def join_url(request: web.Request, session_id: str, key: str | None = None) -> str:
    return f"{access.public_url(request)}/s/{session_id}{auth.join_query(key)}"


async def qr_svg(request: web.Request) -> web.Response:
    """The join QR; for a private session it needs, and then carries, the key it was asked with."""
    session = request.app[STORE].get_session(request.match_info["session"])
    access.require_reader(request, session)
    key = None if session.public else auth.presented_key(request)
    buf = io.BytesIO()
    segno.make(join_url(request, session.id, key), error="m").save(buf, kind="svg", scale=QR_SCALE, border=2,
                                                                   xmldecl=False, svgns=True, title="Join the captions")
    return web.Response(body=buf.getvalue(), content_type="image/svg+xml", headers={"Cache-Control": "no-cache"})


async def health(request: web.Request) -> web.Response:
    """Liveness for monitors; private sessions are listed only with the staff token."""
    found = access.grant(request)
    staff = found is not None and found.role == "staff"
    return web.json_response({"ok": True, "sessions": {r.session.id: r.state for r in request.app[SESSIONS]
                                                       if staff or r.session.public}})


def content_security_policy(request: web.BaseRequest) -> str:
    """Only our own files; sockets only to this host (``'self'`` covers ws: in few browsers)."""
    host = request.host if access.valid_host(request.host) else ""
    sockets = f"ws://{host} wss://{host}" if host else "ws: wss:"
    return ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
            f"connect-src 'self' {sockets}; media-src 'self' blob:; worker-src 'self'; "
            "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")


async def security_headers(request: web.BaseRequest, response: web.StreamResponse) -> None:
    """``on_response_prepare``: every response, pages and API alike, gets these."""
    response.headers.setdefault("Content-Security-Policy", content_security_policy(request))
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    response.headers.setdefault("Permissions-Policy", "microphone=(self), camera=(), geolocation=()")
