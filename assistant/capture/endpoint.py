"""Where a capture connects and how: the socket URL, the stream id, TLS, refused upgrades.

Pure helpers for :mod:`assistant.capture.client`; nothing here opens a socket.
"""

from __future__ import annotations

import secrets
import ssl as ssl_module
from urllib.parse import quote, urlsplit, urlunsplit

from websockets.exceptions import InvalidStatus

from ..errors import AuthError, ConfigError, NotFoundError

TOKEN_ENV = "ASSISTANT_CHAIR_TOKEN"
_SCHEMES = {"http": "ws", "https": "wss", "ws": "ws", "wss": "wss"}


def audio_url(server: str, session: str, *, room: str | None = None) -> str:
    """The capture endpoint for ``session`` on ``server`` (http/https/ws/wss base URL); with ``room``, the
    room's endpoint instead, whose audio goes to the programme's talk on now in that room.

    Raises ConfigError for a URL without a usable scheme and host, or an empty session.
    """
    parts = urlsplit(server.strip())
    scheme = _SCHEMES.get(parts.scheme.lower())
    if scheme is None or not parts.netloc:
        raise ConfigError(
            f"server URL {server!r} is not usable: give it like http://host:8080 or https://host"
        )
    if room:
        path = f"{parts.path.rstrip('/')}/ws/rooms/{quote(room, safe='')}/audio"
        return urlunsplit((scheme, parts.netloc, path, "", ""))
    if not session:
        raise ConfigError("session id is empty: pass --session with the session's id")
    path = f"{parts.path.rstrip('/')}/ws/audio/{quote(session, safe='')}"
    return urlunsplit((scheme, parts.netloc, path, "", ""))


def new_stream_id() -> str:
    """A fresh stream id; one per capture run, kept across reconnects."""
    return f"cap-{secrets.token_hex(8)}"


def make_ssl_context(*, insecure: bool = False, cafile: str | None = None) -> ssl_module.SSLContext:
    """A client TLS context: system CAs, plus ``cafile``; ``insecure`` skips verification."""
    try:
        context = ssl_module.create_default_context(cafile=cafile)
    except (OSError, ssl_module.SSLError) as exc:
        raise ConfigError(f"cannot load --cafile {cafile!r} ({exc}): give a PEM certificate file") from exc
    if insecure:
        context.check_hostname = False
        context.verify_mode = ssl_module.CERT_NONE
    return context


def raise_if_refused(exc: BaseException, ws_url: str) -> None:
    """Raise the fatal error a refused upgrade means (bad token, unknown session); return for the rest.

    Call with a failed connection attempt's exception: whatever returns is
    worth retrying (server down, restarting, a proxy's 502).
    """
    if not isinstance(exc, InvalidStatus):
        return
    status = exc.response.status_code
    if status in (401, 403):
        raise AuthError(
            f"the server refused the chair token (HTTP {status}): pass the session's chair token "
            f"with --token or {TOKEN_ENV}"
        ) from exc
    if status == 404:
        raise NotFoundError(f"{ws_url} does not exist (HTTP 404): check --session and --server") from exc
