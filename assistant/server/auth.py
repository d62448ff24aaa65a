"""Role tokens and session keys: random, stored hashed, compared in constant time, never logged.

Roles: ``chair`` (send audio, correct, configure a session) and ``staff``
(export, manage sessions). The chair token is the organiser's, good in every
session; a *scoped* chair token (``assistant tokens issue chair --session a``,
or ``"chair_token": true`` when staff create a session) is good in one session
only. What a token allows is its :class:`Grant`. Delegates need nothing for a
public session and the session key for a private one (``?key=`` on the page,
reader socket and transcript download); the chair (of that session) and staff
tokens open private sessions too. A token reaches us as ``Authorization: Bearer
<token>``, or, from a browser WebSocket (which cannot set headers), as the
subprotocol ``bearer.<token>``. :func:`redact` and :class:`RedactingAccessLogger`
keep keys and tokens out of the logs, however they are spelt or encoded.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from typing import Literal, Mapping, Protocol
from urllib.parse import quote, unquote

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger

from .. import validate
from ..errors import AuthError, ProtocolError
from ..store import ScopedToken, Store

Role = Literal["chair", "staff"]
ROLES: tuple[Role, ...] = ("chair", "staff")
TOKEN_BYTES = 24
SUBPROTOCOL_PREFIX = "bearer."
SESSION_KEY_RE = validate.SESSION_KEY_RE
KEY_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"  # 32 symbols, 5 bits each; the chair page uses the same
SESSION_KEY_CHARS = 20  # 100 random bits
TOKEN_ID_BYTES = 4  # a scoped token's public id: 8 hex digits, for listing and revoking


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


@dataclass(frozen=True, slots=True)
class IssuedToken:
    """A token made or set at start; ``token`` is the plaintext only when it was just generated
    (shown once); a token from the config or the environment is never echoed back."""

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
            issued.append(IssuedToken(role, None, "config"))
        elif store.token_hash(role) is None:
            token = new_token()
            store.set_token_hash(role, hash_token(token), now_ms)
            issued.append(IssuedToken(role, token, "generated"))
        else:
            issued.append(IssuedToken(role, None, "stored"))
    return issued


def rotate(book: TokenBook, role: Role, now_ms: int) -> str:
    """Replace ``role``'s token with a new random one and return it (shown once)."""
    token = new_token()
    book.set_token_hash(role, hash_token(token), now_ms)
    return token


def header(request: web.BaseRequest, name: str) -> str:
    """A request header we read, ``""`` when absent; ProtocolError ``bad_header`` (400) when its bytes
    were no UTF-8 text (aiohttp hands those over as lone surrogates) or hold control characters."""
    value = request.headers.get(name, "")
    for position, char in enumerate(value):
        if "\udc80" <= char <= "\udcff":  # how the parser keeps a byte that is not UTF-8
            raise ProtocolError(f"the {name} header has a byte that is not UTF-8 (0x{ord(char) - 0xDC00:02X}) "
                                f"at character {position}; send it as UTF-8 text", code="bad_header")
    try:
        return validate.unicode(value, f"the {name} header")
    except ProtocolError as exc:
        raise ProtocolError(str(exc), code="bad_header") from None


def presented_token(request: web.Request) -> str | None:
    """The token a request carries, from the Authorization header or a WebSocket subprotocol."""
    authorization = header(request, "Authorization")
    if authorization.lower().startswith("bearer "):
        return authorization[7:].strip() or None
    proto = _token_protocol(request)
    if proto is None:
        return None
    return proto[len(SUBPROTOCOL_PREFIX):] or None


def token_subprotocol(request: web.Request) -> tuple[str, ...]:
    """The subprotocol to echo back when the token came that way (browsers require the echo)."""
    proto = _token_protocol(request)
    return (proto,) if proto else ()


def _token_protocol(request: web.Request) -> str | None:
    for proto in header(request, "Sec-WebSocket-Protocol").split(","):
        proto = proto.strip()
        if proto.startswith(SUBPROTOCOL_PREFIX):
            return proto
    return None


# -- what a token allows ---------------------------------------------------

@dataclass(frozen=True, slots=True)
class Grant:
    """What a valid token allows: ``role`` in every session (``session`` None) or in one."""

    role: Role
    session: str | None = None

    def covers(self, role: Role, session_id: str) -> bool:
        """True when this grant holds ``role`` in session ``session_id``."""
        return self.role == role and self.session in (None, session_id)

    def describe(self) -> str:
        return f"the {self.role} token" + (f" of session {self.session!r}" if self.session else "")


def grant_of(store: Store, token: str | None) -> Grant | None:
    """What ``token`` allows, or None: a role token (compared in constant time), else a live scoped token."""
    role = role_of(store, token)
    if role is not None:
        return Grant(role)
    if not token:
        return None
    scoped = store.scoped_token(hash_token(token))
    if scoped is None or scoped.role != "chair":  # only the chair's role is given per session
        return None
    return Grant("chair", scoped.session)


class TokenBook(Protocol):
    """Where the role tokens and the chair tokens of single sessions are kept: the SQLite store, or a
    cluster's Redis (:class:`assistant.cluster.tokens.RedisTokens`)."""

    def set_token_hash(self, role: str, digest: str, at_ms: int) -> None: ...

    def add_scoped_token(self, token_id: str, digest: str, role: str, session_id: str, at_ms: int) -> None: ...

    def scoped_tokens(self, session_id: str | None = None) -> list[ScopedToken]: ...

    def revoke_scoped_tokens(self, *, token_id: str | None = None, session_id: str | None = None,
                             at_ms: int) -> int: ...


def new_scoped(role: Role, session_id: str, now_ms: int) -> tuple[str, ScopedToken]:
    """A new token that holds ``role`` in session ``session_id`` only: (the token, its record). The id names
    it for ``assistant tokens revoke``; only the token's hash is ever stored."""
    validate.session_id(session_id, "the session")
    return new_token(), ScopedToken(secrets.token_hex(TOKEN_ID_BYTES), role, session_id, now_ms, None)


def issue_scoped(book: TokenBook, role: Role, session_id: str, now_ms: int) -> tuple[str, str]:
    """Make and keep a token that holds ``role`` in session ``session_id`` only; return (its id, the token),
    the token to be shown once."""
    token, record = new_scoped(role, session_id, now_ms)
    book.add_scoped_token(record.id, hash_token(token), role, session_id, now_ms)
    return record.id, token


# -- session keys ----------------------------------------------------------

def new_session_key() -> str:
    """A random key for a private session's link: digits and capitals with none that read alike (no 0/O,
    1/I), and no "-" or "_", which a printed room card may break a line at, or a reader take for hyphenation."""
    return "".join(secrets.choice(KEY_ALPHABET) for _ in range(SESSION_KEY_CHARS))


def valid_session_key(key: object) -> str:
    """Return ``key`` if it can be a session key; raise ProtocolError ``bad_key`` naming the rule otherwise."""
    return validate.session_key(key, '"key"', hint="; omit it to get a random one")


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
    """The role whose every-session token ``token`` is, or None (constant-time comparisons against
    every role). Scoped tokens are not looked at: :func:`grant_of` does."""
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

SECRET_NAMES = frozenset({"key", "token", "access_token"})
# A secret parameter anywhere inside a decoded piece of URL ("priv?key=abc", "x;token=...").
_SECRET_INSIDE = re.compile(r"(?i)(?:^|[^a-z0-9_])(?:key|token|access_token)\s*=")
_PATH_SEPARATORS = re.compile(r"([/#&;\s]+)")
_QUERY_SEPARATORS = re.compile(r"([#&;\s]+)")  # not "/": a key may hold one, sent unencoded
MAX_DECODINGS = 5  # percent-decoding rounds: "%25%36%42ey" is "%6Bey" is "key"
_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def redact(text: str) -> str:
    """``text`` (a URL, path or request line) with the values of key=, token= and access_token= hidden.

    Names are matched however they are spelt: any case, percent-encoded (once or more),
    after ``?``, ``&`` or ``;``, or as a segment of the path. A piece of the URL that only
    decodes to such a parameter (``priv%3Fkey%3Dabc``) is hidden whole.
    """
    path, mark, query = text.partition("?")
    redacted = _redact_pieces(path, _PATH_SEPARATORS)
    if mark:
        redacted += "?" + _redact_pieces(query, _QUERY_SEPARATORS)
    return redacted


def _redact_pieces(text: str, separators: re.Pattern[str]) -> str:
    pieces = separators.split(text)  # separators (captured) at the odd indexes
    for i in range(0, len(pieces), 2):
        pieces[i] = _redact_piece(pieces[i])
    return "".join(pieces)


def _redact_piece(piece: str) -> str:
    name, equals, value = piece.partition("=")
    if not equals:
        return "REDACTED" if _SECRET_INSIDE.search(_decoded(piece)) else piece
    plain_name = _decoded(name)
    if plain_name.strip().lower() in SECRET_NAMES or _SECRET_INSIDE.search(_decoded(value)):
        return f"{name}=REDACTED"
    if _SECRET_INSIDE.search(plain_name + "="):  # "priv%3Fkey=...": the name ends in a secret's
        return "REDACTED"
    return piece


def _decoded(text: str) -> str:
    for _ in range(MAX_DECODINGS):
        once = unquote(text)
        if once == text:
            break
        text = once
    return text


def printable(text: str) -> str:
    """``text`` safe for a log line: control characters and undecodable bytes written as escapes."""
    text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return _UNPRINTABLE.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


class RedactingAccessLogger(AbstractAccessLogger):
    """The access log line (aiohttp's default fields) with secrets in the path, query string and
    Referer hidden, and nothing unprintable written.

    Tokens normally travel in headers (never logged) and page links carry them
    only after ``#``, which browsers do not send; session keys do travel in
    query strings, hence this. Passed to aiohttp through ``handler_args``.
    """

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        self.logger.info(
            '%s "%s %s HTTP/%d.%d" %d %d "%s" "%s" %.6fs',
            request.remote or "-", printable(request.method), printable(redact(request.raw_path)),
            request.version.major, request.version.minor, response.status, response.body_length,
            printable(redact(request.headers.get("Referer", "-"))),
            printable(request.headers.get("User-Agent", "-")), time,
        )
