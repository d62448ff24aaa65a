"""Role tokens and session keys: random, stored hashed, compared in constant time, never logged.

Roles: ``chair`` (send audio, correct, configure a session) and ``staff``
(export, manage sessions). Delegates need nothing for a public session and the
session key for a private one (``?key=`` on the page, reader socket and
transcript download); the chair and staff tokens open private sessions too.
A token reaches us as ``Authorization: Bearer <token>``, or, from a browser
WebSocket (which cannot set headers), as the subprotocol ``bearer.<token>``.
:class:`RedactingAccessLogger` keeps ``key=`` and ``token=`` values out of the
access log.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from typing import Literal, Mapping
from urllib.parse import quote

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger

from .. import protocol
from ..errors import AuthError, ForbiddenError, ProtocolError
from ..store import Store

Role = Literal["chair", "staff"]
ROLES: tuple[Role, ...] = ("chair", "staff")
TOKEN_BYTES = 24
SUBPROTOCOL_PREFIX = "bearer."
SESSION_KEY_RE = protocol.SESSION_KEY_RE
SESSION_KEY_BYTES = 12
SECRET_PARAMS = re.compile(r"(?i)((?:^|[?&;])(?:key|token|access_token)=)[^&;#\s\"]*")


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


@dataclass(frozen=True, slots=True)
class IssuedToken:
    """A token made or set at start; ``token`` is the plaintext only when it must be shown once."""

    role: Role
    token: str | None
    source: Literal["config", "generated", "stored"]


def ensure_tokens(store: Store, configured: Mapping[Role, str], now_ms: int) -> list[IssuedToken]:
    """Make sure every role has a token hash; return what to tell the operator.

    A configured token (config file or environment) replaces the stored hash.
    A role with none gets a fresh random token, shown once.
    """
    issued = []
    for role in ROLES:
        given = configured.get(role, "")
        if given:
            if len(given) < 12:
                raise AuthError(f"the {role} token must be at least 12 characters; set a longer "
                                f"ASSISTANT_{role.upper()}_TOKEN or leave it empty to generate one")
            store.set_token_hash(role, hash_token(given), now_ms)
            issued.append(IssuedToken(role, given, "config"))
        elif store.token_hash(role) is None:
            token = new_token()
            store.set_token_hash(role, hash_token(token), now_ms)
            issued.append(IssuedToken(role, token, "generated"))
        else:
            issued.append(IssuedToken(role, None, "stored"))
    return issued


def rotate(store: Store, role: Role, now_ms: int) -> str:
    """Replace ``role``'s token with a new random one and return it (shown once)."""
    token = new_token()
    store.set_token_hash(role, hash_token(token), now_ms)
    return token


def presented_token(request: web.Request) -> str | None:
    """The token a request carries, from the Authorization header or a WebSocket subprotocol."""
    header = request.headers.get("Authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip() or None
    for proto in request.headers.get("Sec-WebSocket-Protocol", "").split(","):
        proto = proto.strip()
        if proto.startswith(SUBPROTOCOL_PREFIX):
            return proto[len(SUBPROTOCOL_PREFIX):] or None
    return None


def token_subprotocol(request: web.Request) -> tuple[str, ...]:
    """The subprotocol to echo back when the token came that way (browsers require the echo)."""
    for proto in request.headers.get("Sec-WebSocket-Protocol", "").split(","):
        proto = proto.strip()
        if proto.startswith(SUBPROTOCOL_PREFIX):
            return (proto,)
    return ()


def check(store: Store, role: Role, token: str | None) -> None:
    """Raise AuthError unless ``token`` is the current ``role`` token (ForbiddenError: another role's)."""
    if not token:
        raise AuthError(f"this needs the {role} token: send 'Authorization: Bearer <token>'")
    found = role_of(store, token)
    if found is None:
        raise AuthError(f"wrong {role} token; `assistant tokens rotate {role}` makes a new one")
    if found != role:
        raise ForbiddenError(f"that is the {found} token, and this needs the {role} token")


# -- session keys ----------------------------------------------------------

def new_session_key() -> str:
    return secrets.token_urlsafe(SESSION_KEY_BYTES)


def valid_session_key(key: object) -> str:
    """Return ``key`` if it can be a session key; raise ProtocolError naming the rule otherwise."""
    if not isinstance(key, str) or not SESSION_KEY_RE.match(key):
        raise ProtocolError('"key" must be 8-128 printable ASCII characters without spaces; '
                            "omit it to get a random one", code="bad_key")
    return key


def hash_session_key(key: str) -> str:
    """A salted SHA-256 (``salt$hex``): keys may be chosen by people, so no two hash alike."""
    salt = secrets.token_hex(8)
    return f"{salt}${hashlib.sha256((salt + key).encode()).hexdigest()}"


def session_key_matches(digest: str | None, key: str | None) -> bool:
    if not digest or not key or "$" not in digest:
        return False
    salt, expected = digest.split("$", 1)
    return hmac.compare_digest(hashlib.sha256((salt + key).encode()).hexdigest(), expected)


def presented_key(request: web.Request) -> str | None:
    return request.query.get("key") or None


def join_query(key: str | None) -> str:
    return f"?key={quote(key, safe='')}" if key else ""


def role_of(store: Store, token: str | None) -> Role | None:
    """The role ``token`` belongs to, or None (constant-time comparisons against every role)."""
    if not token:
        return None
    digest = hash_token(token)
    found: Role | None = None
    for role in ROLES:
        expected = store.token_hash(role)
        if expected is not None and hmac.compare_digest(digest, expected):
            found = role
    return found


# -- logs ------------------------------------------------------------------

def redact(text: str) -> str:
    """``text`` (a URL or request line) with the values of key=, token= and access_token= hidden."""
    return SECRET_PARAMS.sub(r"\1REDACTED", text)


class RedactingAccessLogger(AbstractAccessLogger):
    """The access log line (aiohttp's default fields) with secrets in the query string and Referer hidden.

    Tokens normally travel in headers (never logged) and page links carry them
    only after ``#``, which browsers do not send; session keys do travel in
    query strings, hence this. Passed to aiohttp through ``handler_args``.
    """

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        self.logger.info(
            '%s "%s %s HTTP/%d.%d" %d %d "%s" "%s" %.6fs',
            request.remote or "-", request.method, redact(request.raw_path), request.version.major,
            request.version.minor, response.status, response.body_length,
            redact(request.headers.get("Referer", "-")), request.headers.get("User-Agent", "-"), time,
        )
