"""The pages (files in the package's ``web/`` folder), the join QR codes, the health check and the security headers.

A private session's delegate page, room screen and QR code need its key
(``?key=``) or a chair/staff token; the chair and staff pages are plain files
(their tokens stay in the ``#fragment``, which browsers never send) and every
API they call checks. Each page gets the request's ``Accept-Language`` in its
``<meta name="accept-language">``: the pages pick their interface language in
the browser (``static/i18n.js``), and CSP allows no inline script to hand it over.
Only the room screen may be framed, and only by ``server.frame_ancestors``.
"""

from __future__ import annotations

import atexit
import io
import re
import shutil
import tempfile
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Awaitable, Callable, Final

import segno
from aiohttp import web

from . import access, auth
from .keys import SESSIONS, SETTINGS, STORE



def _on_disk(folder: Traversable) -> Path:
    """``folder`` as a real directory: aiohttp serves files from disk only.

    Every pip, pipx or editable install (and a checkout) has the package on disk
    and this returns the folder itself. A package imported from a zip archive
    has not: its files are copied once into a temporary folder removed at exit.
    """
    if isinstance(folder, Path):
        return folder
    copy = Path(tempfile.mkdtemp(prefix="assistant-web-"))
    atexit.register(shutil.rmtree, copy, ignore_errors=True)
    _copy_tree(folder, copy)
    return copy


def _copy_tree(source: Traversable, target: Path) -> None:
    for item in source.iterdir():
        if item.is_dir():
            (target / item.name).mkdir()
            _copy_tree(item, target / item.name)
        else:
            (target / item.name).write_bytes(item.read_bytes())


WEB_DIR: Final = _on_disk(resources.files("assistant") / "web")
_LANG_TAG_RE = re.compile(r"^[A-Za-z]{1,8}(-[A-Za-z0-9]{1,8})*$")
QR_SCALE = 10  # pixels per module: big enough to project
READER_PAGES = frozenset({"delegate.html", "display.html"})  # a private session's key opens these
FRAMEABLE_ROUTE = "display"  # the route name of the one page other sites may frame (the room screen)
MAX_ACCEPT_LANGUAGES = 8
ACCEPT_LANGUAGE_META = b'<meta name="accept-language" content="">'


STATIC_DIR: Final = (WEB_DIR / "static").resolve()


async def static_file(request: web.Request) -> web.StreamResponse:
    """``/static/{path}``: a file of ``web/static``; anything else is our JSON 404 (aiohttp's own static
    route answers a missing file with an empty 404 that no middleware sees)."""
    path = (STATIC_DIR / request.match_info["path"]).resolve()
    if not path.is_relative_to(STATIC_DIR) or not path.is_file():
        raise web.HTTPNotFound()
    return web.FileResponse(path)


def page(name: str) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """A handler serving ``web/<name>``; a session's page 404s for unknown sessions, the delegate page
    also needs the reader's key for a private session."""
    path = WEB_DIR / name

    async def handler(request: web.Request) -> web.StreamResponse:
        if "session" in request.match_info:
            session = request.app[STORE].get_session(request.match_info["session"])
            if name in READER_PAGES:
                access.require_reader(request, session)
        html = path.read_bytes()  # a few kB; read per request so an edited page shows on reload
        langs = ",".join(accept_languages(request.headers.get("Accept-Language", "")))
        html = html.replace(ACCEPT_LANGUAGE_META, f'<meta name="accept-language" content="{langs}">'.encode(), 1)
        return web.Response(body=html, content_type="text/html", charset="utf-8",
                            headers={"Cache-Control": "no-cache", "Vary": "Accept-Language"})

    return handler


def accept_languages(header: str) -> list[str]:
    """The language tags of an ``Accept-Language`` header, most wanted first; anything malformed is dropped."""
    ranked: list[tuple[float, int, str]] = []
    for index, item in enumerate(header.split(",")):
        tag, _, params = item.strip().partition(";")
        tag = tag.strip()
        quality = 1.0
        name, _, value = params.strip().partition("=")
        if name.strip() == "q":
            try:
                quality = float(value)
            except ValueError:
                continue
        if _LANG_TAG_RE.match(tag) and 0 < quality <= 1:
            ranked.append((-quality, index, tag))
    return [tag for _, _, tag in sorted(ranked)][:MAX_ACCEPT_LANGUAGES]


def join_url(request: web.Request, session_id: str, key: str | None = None) -> str:
    """The delegates' address of a session, with ``?key=`` when a private session's key is given."""
    return f"{access.public_url(request)}/s/{session_id}{auth.join_query(key)}"


async def qr_svg(request: web.Request) -> web.Response:
    """The join QR; for a private session it needs, and then carries, the key it was asked with."""
    session = request.app[STORE].get_session(request.match_info["session"])
    access.require_reader(request, session)
    key = None if session.public else auth.presented_key(request)
    return qr_response(join_url(request, session.id, key))


def qr_response(url: str) -> web.Response:
    """``url`` as a QR code (SVG), the one the room cards and screens show."""
    buf = io.BytesIO()
    segno.make(url, error="m").save(buf, kind="svg", scale=QR_SCALE, border=2, xmldecl=False, svgns=True,
                                    title="Join the captions")
    return web.Response(body=buf.getvalue(), content_type="image/svg+xml", headers={"Cache-Control": "no-cache"})


async def health(request: web.Request) -> web.Response:
    """Liveness for monitors; private sessions are listed only with the staff token."""
    found = access.grant(request)
    staff = found is not None and found.role == "staff"
    return web.json_response({"ok": True, "sessions": {r.session.id: r.state for r in request.app[SESSIONS]
                                                       if staff or r.session.public}})


def content_security_policy(request: web.BaseRequest, frame_ancestors: tuple[str, ...] = ()) -> str:
    """Only our own files; sockets only to this host (``'self'`` covers ws: in few browsers).

    ``frame_ancestors``: the origins that may frame the response; none by default.
    """
    host = request.host if access.valid_host(request.host) else ""
    sockets = f"ws://{host} wss://{host}" if host else "ws: wss:"
    framers = " ".join(frame_ancestors) if frame_ancestors else "'none'"
    return ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
            f"connect-src 'self' {sockets}; media-src 'self' blob:; worker-src 'self'; "
            f"object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors {framers}")


def allowed_framers(request: web.BaseRequest) -> tuple[str, ...]:
    """The origins allowed to frame this response: ``server.frame_ancestors`` for the room screen, else none."""
    if not isinstance(request, web.Request) or request.match_info.route.name != FRAMEABLE_ROUTE:
        return ()
    return request.app[SETTINGS].server.frame_ancestors


async def security_headers(request: web.BaseRequest, response: web.StreamResponse) -> None:
    """``on_response_prepare``: every response, pages and API alike, gets these."""
    framers = allowed_framers(request)
    response.headers.setdefault("Content-Security-Policy", content_security_policy(request, framers))
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    if not framers:  # X-Frame-Options knows no list of origins; where some may frame, CSP alone says which
        response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    response.headers.setdefault("Permissions-Policy", "microphone=(self), camera=(), geolocation=()")
