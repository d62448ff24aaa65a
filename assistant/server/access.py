"""Who may do what: role tokens for chair and staff, session keys for private sessions, page origins.

Each check raises a narrow error (:class:`AuthError` 401, :class:`ForbiddenError`
403, :class:`ProtocolError` ``forbidden_origin``); the boundary maps it.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from aiohttp import web

from ..captions import Session
from ..errors import AuthError, ForbiddenError, ProtocolError
from . import auth
from .keys import SETTINGS, STORE


def require(request: web.Request, role: auth.Role) -> None:
    """Pass only a request carrying ``role``'s token."""
    auth.check(request.app[STORE], role, auth.presented_token(request))


def require_any(request: web.Request, *roles: auth.Role) -> auth.Role:
    """Pass a request carrying any of ``roles``' tokens; return which."""
    token = auth.presented_token(request)
    role = auth.role_of(request.app[STORE], token)
    if role in roles:
        return role
    names = " or ".join(roles)
    if token is None:
        raise AuthError(f"this needs the {names} token: send 'Authorization: Bearer <token>'")
    if role is not None:
        raise ForbiddenError(f"that is the {role} token, and this needs the {names} token")
    raise AuthError(f"wrong token for this; it needs the {names} token "
                    f"(`assistant tokens rotate {roles[0]}` makes a new one)")


def is_staff(request: web.Request) -> bool:
    """True with the staff token, False with none or the chair token; AuthError for a wrong one."""
    token = auth.presented_token(request)
    role = auth.role_of(request.app[STORE], token)
    if token is not None and role is None:
        raise AuthError("wrong token; send the staff token to see every session, or none for the public ones")
    return role == "staff"


def require_reader(request: web.Request, session: Session) -> None:
    """Pass anyone for a public session; the session key or a chair/staff token for a private one."""
    if session.public:
        return
    store = request.app[STORE]
    if auth.session_key_matches(store.session_key_hash(session.id), auth.presented_key(request)):
        return
    if auth.role_of(store, auth.presented_token(request)) is not None:
        return
    if auth.presented_key(request) is None:
        raise AuthError(f"session {session.id!r} is private: open the link with its key "
                        "(?key=...) that the organisers gave you")
    raise AuthError(f"wrong key for session {session.id!r}; ask the organisers for the current link")


def check_origin(request: web.Request) -> None:
    """Refuse a browser socket opened by a page from another site (cross-site WebSocket hijacking).

    Clients that send no Origin (capture stations, scripts) pass: they are no browser.
    """
    origin = request.headers.get("Origin")
    if origin is None:
        return
    server = request.app[SETTINGS].server
    allowed = {o.rstrip("/").lower() for o in server.allowed_origins}
    if server.public_url:
        parts = urlsplit(server.public_url)
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


def public_url(request: web.Request) -> str:
    """The base URL phones use: configured, else the address the request came to."""
    configured = request.app[SETTINGS].server.public_url
    if configured:
        return configured.rstrip("/")
    return f"{request.scheme}://{request.host}"
