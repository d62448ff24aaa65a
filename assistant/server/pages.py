"""The pages (files under ``web/``) and the join QR codes."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Awaitable, Callable

import segno
from aiohttp import web

from .context import AppContext

WEB_DIR = Path(__file__).resolve().parent.parent.parent / "web"
QR_SCALE = 10  # pixels per module: big enough to project


def page(name: str) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    path = WEB_DIR / name

    async def handler(request: web.Request) -> web.StreamResponse:
        if "session" in request.match_info:
            AppContext.of(request).store.get_session(request.match_info["session"])
        return web.FileResponse(path, headers={"Cache-Control": "no-cache"})

    return handler


def join_url(ctx: AppContext, request: web.Request, session_id: str) -> str:
    return f"{ctx.public_url(request)}/s/{session_id}"


async def qr_svg(request: web.Request) -> web.Response:
    ctx = AppContext.of(request)
    session = ctx.store.get_session(request.match_info["session"])
    buf = io.BytesIO()
    segno.make(join_url(ctx, request, session.id), error="m").save(buf, kind="svg", scale=QR_SCALE, border=2,
                                                                   xmldecl=False, svgns=True, title="Join the captions")
    return web.Response(body=buf.getvalue(), content_type="image/svg+xml", headers={"Cache-Control": "no-cache"})


async def health(request: web.Request) -> web.Response:
    ctx = AppContext.of(request)
    return web.json_response({"ok": True, "sessions": {k: r.state for k, r in ctx.runtimes.items()}})
