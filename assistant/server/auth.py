"""Role tokens: random, stored hashed, compared in constant time, never logged.

Roles: ``chair`` (send audio, correct, configure a session) and ``staff``
(export, manage sessions). Delegates need no token for public sessions.
A token reaches us as ``Authorization: Bearer <token>``, or, from a browser
WebSocket (which cannot set headers), as the subprotocol ``bearer.<token>``.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Literal, Mapping

from aiohttp import web

from ..errors import AuthError
from ..store import Store

Role = Literal["chair", "staff"]
ROLES: tuple[Role, ...] = ("chair", "staff")
TOKEN_BYTES = 24
SUBPROTOCOL_PREFIX = "bearer."


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
    """Raise AuthError unless ``token`` is the current ``role`` token."""
    if not token:
        raise AuthError(f"this needs the {role} token: send 'Authorization: Bearer <token>'")
    expected = store.token_hash(role)
    if expected is None or not hmac.compare_digest(hash_token(token), expected):
        raise AuthError(f"wrong {role} token; `assistant tokens rotate {role}` makes a new one")
