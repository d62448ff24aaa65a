"""Who may do what: role tokens for chair and staff (the chair's possibly for one session only),
session keys for private sessions, page origins; and the throttle on wrong keys and tokens.

Each check raises a narrow error (:class:`AuthError` 401, :class:`ForbiddenError`
403, :class:`ProtocolError` ``forbidden_origin`` or ``bad_header``,
:class:`LimitError` 429 while the address cools down after too many wrong keys
or tokens); the boundary maps it. Every chair endpoint (HTTP routes, the chair
and audio sockets, revisions) passes through :func:`require_chair` with the
session it acts on.
"""

from __future__ import annotations

import re
from typing import Sequence
from urllib.parse import urlsplit

from aiohttp import web

from ..captions import Session
from ..errors import AuthError, ForbiddenError, ProtocolError
from . import auth
from .keys import CLOCK, SETTINGS, STORE, TALKS, THROTTLE
from .limits import client_address

_HOST_RE = re.compile(r"^[A-Za-z0-9.\-]+(:[0-9]{1,5})?$|^\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?$")
MAX_HOST_CHARS = 253 + 6  # a DNS name and ":65535"; longer is no host (and would not fit a join QR code)


def grant(request: web.Request) -> auth.Grant | None:
    """What the request's token allows; None without a token or with a wrong one (which is counted).

    LimitError while the client's address cools down after too many wrong keys or tokens.
    """
    token = auth.presented_token(request)
    if token is None:
        return None
    _check_throttle(request)
    found = auth.grant_of(request.app[STORE], token)
    if found is None:
        _count_failure(request)
    return found


def require_staff(request: web.Request) -> None:
    """Pass only a request carrying the staff token."""
    found = grant(request)
    if found is None or found.role != "staff":
        raise _refusal(request, found, "the staff token")


def require_chair(request: web.Request, session_id: str) -> None:
    """Pass a request carrying the chair token, or a chair token scoped to ``session_id`` (or, for a talk
    of the programme, to its room: a room's chair chairs every talk in it)."""
    found = grant(request)
    if found is not None and any(found.covers("chair", scope) for scope in _scopes(request, session_id)):
        return
    raise _refusal(request, found, f"the chair token of session {session_id!r}")


def _scopes(request: web.Request, session_id: str) -> list[str]:
    """What a scoped token may name to hold a role in ``session_id``: the session, and its room if a talk."""
    talks = request.app.get(TALKS)
    room = talks.room_of_talk(session_id) if talks is not None else None
    return [session_id] if room is None else [session_id, room]


def require_chair_of(request: web.Request, session_ids: Sequence[str], needed: str) -> None:
    """Pass the chair token, or a chair token scoped to one of ``session_ids`` (a room and its talk on now)."""
    found = grant(request)
    if found is not None and any(found.covers("chair", sid) for sid in session_ids):
        return
    raise _refusal(request, found, needed)


def require_chair_or_staff(request: web.Request, session_id: str) -> auth.Grant:
    """Pass the staff token, the chair token, or a chair token scoped to ``session_id``; return which."""
    found = grant(request)
    if found is not None and (found.role == "staff"
                              or any(found.covers("chair", scope) for scope in _scopes(request, session_id))):
        return found
    raise _refusal(request, found, f"the chair token of session {session_id!r}, or the staff token")


def is_staff(request: web.Request) -> bool:
    """True with the staff token, False with none or a chair token; AuthError for a wrong one."""
    found = grant(request)
    if found is None and auth.presented_token(request) is not None:
        raise AuthError("wrong token; send the staff token to see every session, or none for the public ones")
    return found is not None and found.role == "staff"


def require_reader(request: web.Request, session: Session) -> None:
    """Pass anyone for a public session; the session key, the staff token or a chair token of
    this session for a private one. A wrong key or token counts towards the throttle."""
    if session.public:
        return
    key = auth.presented_key(request)
    if key is None and auth.presented_token(request) is None:
        raise AuthError(f"session {session.id!r} is private: open the link with its key "
                        "(?key=...) that the organisers gave you")
    _check_throttle(request)
    store = request.app[STORE]
    if key is not None and auth.session_key_matches(store.session_key_hash(session.id), key):
        return
    token = auth.presented_token(request)
    found = auth.grant_of(store, token)
    if found is not None and (found.role == "staff" or found.covers("chair", session.id)):
        return
    if key is not None or (token is not None and found is None):
        _count_failure(request)  # one guess per request, whether the key or the token was wrong
    if key is not None:
        raise AuthError(f"wrong key for session {session.id!r}; ask the organisers for the current link")
    if found is not None:
        raise ForbiddenError(f"{found.describe()} does not open private session {session.id!r}; "
                             "open the link with its key (?key=...)")
    raise AuthError(f"wrong token for private session {session.id!r}; open the link with its key (?key=...)")


def _refusal(request: web.Request, found: auth.Grant | None, needed: str) -> AuthError:
    if found is not None:
        return ForbiddenError(f"that is {found.describe()}, and this needs {needed}")
    if auth.presented_token(request) is None:
        return AuthError(f"this needs {needed}: send 'Authorization: Bearer <token>'")
    return AuthError(f"wrong token; this needs {needed} (`assistant tokens rotate chair|staff` makes new "
                     "role tokens, `assistant tokens issue chair --session ID` one for a single session)")


def _check_throttle(request: web.Request) -> None:
    request.app[THROTTLE].check(_address(request), request.app[CLOCK].now_ms())


def _count_failure(request: web.Request) -> None:
    request.app[THROTTLE].failed(_address(request), request.app[CLOCK].now_ms())


def _address(request: web.Request) -> str:
    return client_address(request, request.app[SETTINGS].server)


def check_origin(request: web.Request) -> None:
    """Refuse a browser socket opened by a page from another site (cross-site WebSocket hijacking).

    Clients that send no Origin (capture stations, scripts) pass: they are no browser.
    """
    origin = auth.header(request, "Origin") or None
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
    """The base URL phones use: configured, else the address the request came to.

    ProtocolError ``bad_header`` when that address (the Host header) is no host name.
    """
    configured = request.app[SETTINGS].server.public_url
    if configured:
        return configured.rstrip("/")
    if not valid_host(request.host):
        raise ProtocolError("the Host header must be a host name or address, like captions.example.org:8080",
                            code="bad_header")
    return f"{request.scheme}://{request.host}"


def valid_host(host: str | None) -> bool:
    """True when ``host`` (a Host header) is a plain host name or address, optionally with a port."""
    return host is not None and len(host) <= MAX_HOST_CHARS and bool(_HOST_RE.match(host))
