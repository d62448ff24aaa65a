"""The error boundary: narrow errors in, JSON errors, close codes and log lines out.

Handlers raise narrow :mod:`assistant.errors`; ``error_middleware`` turns them
(and aiohttp's own HTTP errors) into ``{"error": {"code", "message"}}``, and
anything unexpected into a generic 500 with the traceback in the server log
only. WebSocket handlers send an error frame and close with the codes in
``CLOSE_CODES``. Request bodies are parsed here too (:func:`json_body`).
A client that goes away mid-response (a download, a socket frame) is no error:
one debug line, no traceback.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from aiohttp import WSMsgType, web
from aiohttp.http_exceptions import HttpProcessingError

from .. import protocol
from ..errors import AssistantError, AuthError, ForbiddenError, LimitError, NotFoundError, ProtocolError
from . import auth

log = logging.getLogger(__name__)


class MalformedRequests(logging.Filter):
    """aiohttp's HTTP parser refuses a malformed request (a control character in a header, say) with a
    plain 400 before any handler or middleware runs, and logs it at ERROR with a traceback: a client's
    mistake, not the server's. On ``aiohttp.server`` this makes it one INFO line."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, HttpProcessingError) and exc.code == 400:
            record.msg, record.args = "refused a malformed request: %s", (exc.message,)
            record.exc_info, record.exc_text = None, None
            record.levelno, record.levelname = logging.INFO, "INFO"
        return True


MALFORMED_REQUESTS = MalformedRequests()

_STATUS = {ForbiddenError: 403, AuthError: 401, NotFoundError: 404}
_STATUS_BY_CODE = {"too_many_connections": 429, "rate_limited": 429, "forbidden_origin": 403, "busy": 503,
                   "exists": 409, "question_limit": 429}
_HTTP_ERRORS = {  # aiohttp's own refusals, as (code, message with the fix)
    404: ("not_found", "no such page or endpoint; docs/protocol.md lists the API"),
    405: ("method_not_allowed", "this path does not take that method; docs/protocol.md lists the API"),
    413: ("too_large", "the request body is too large; send at most 1 MiB of JSON"),
}
CLOSE_CODES = {"unauthorized": 4401, "forbidden": 4403, "not_found": 4404, "unknown_language": 4406,
               "replaced": 4409, "rate_limited": 4429}


def http_status(exc: AssistantError) -> int:
    for cls, status in _STATUS.items():
        if isinstance(exc, cls):
            return status
    return _STATUS_BY_CODE.get(exc.code, 400)


@web.middleware
async def error_middleware(request: web.Request, handler: Any) -> web.StreamResponse:
    """Turn our narrow errors into JSON ``{"error": {"code", "message"}}``; never a stack trace.

    aiohttp's HTTP errors (404, 405, 413, ...) become the same JSON shape; anything
    else is a bug: its traceback goes to the server log and the client gets a
    generic 500, so nothing about the server's insides leaks.
    """
    try:
        response: web.StreamResponse = await handler(request)
        return response
    except AssistantError as exc:
        response = json_error(http_status(exc), exc.code, str(exc))
        if isinstance(exc, LimitError):
            response.headers["Retry-After"] = str(exc.retry_after_s)
        return response
    except ConnectionError:  # reset, broken pipe, aiohttp's ClientConnectionResetError: the client left
        log.debug("client left during %s %s", request.method, auth.printable(auth.redact(request.path)))
        return _client_gone()
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        code, message = _HTTP_ERRORS.get(exc.status, ("http_error", exc.reason))
        response = json_error(exc.status, code, message)
        if "Allow" in exc.headers:
            response.headers["Allow"] = exc.headers["Allow"]
        return response
    except Exception:  # the last resort: a bug must not take the socket down with a stack trace
        log.exception("unexpected error in %s %s", request.method, auth.printable(auth.redact(request.path)))
        return json_error(500, "internal", "the server hit an unexpected error; it was logged. "
                                           "Retry, and tell the organisers if it keeps happening")


def _client_gone() -> web.Response:
    """What a handler whose client left answers: aiohttp's write of it fails quietly (the transport
    is closed), and the access log shows 499, nginx's "client closed request"."""
    return web.Response(status=499, reason="Client Closed Request")


def json_error(status: int, code: str, message: str, **extra: Any) -> web.Response:
    body = {"error": {"code": code, "message": message, **extra}}
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return web.json_response(body, status=status, headers=headers,
                             dumps=lambda o: json.dumps(o, ensure_ascii=False))


async def json_body(request: web.Request) -> dict[str, Any]:
    """The request's JSON object body; ProtocolError for anything else (not JSON, too deep, a list)."""
    body = protocol.load_json(await request.read(), "the request body",
                              fix="send a JSON object (docs/protocol.md gives each endpoint's fields)")
    if not isinstance(body, dict):
        raise ProtocolError("the request body must be a JSON object")
    return body


async def ws_send_error(ws: web.WebSocketResponse, exc: AssistantError, **extra: Any) -> None:
    """Tell a socket's client what was wrong with its last frame; the socket stays open."""
    await ws.send_frame(protocol.error(exc.code, str(exc), **extra).data, WSMsgType.TEXT)


async def ws_close_with_error(ws: web.WebSocketResponse, exc: AssistantError, **extra: Any) -> None:
    """Send an error frame, then close with a code that says why (4400 for a bad message)."""
    await ws_send_error(ws, exc, **extra)
    await ws.close(code=CLOSE_CODES.get(exc.code, 4400), message=exc.code.encode()[:120])
