"""The floor's questions over HTTP: delegates ask and up-vote, the chair decides.

    POST  /api/sessions/{s}/questions              {"text", "lang", "name"?}   a delegate asks
    GET   /api/sessions/{s}/questions?lang=L        a delegate's view (visible questions in L, theirs, their
                                                   votes); with the chair or staff token, every question
    POST  /api/sessions/{s}/questions/{id}/vote     a delegate's up-vote (once per device; again changes nothing)
    PATCH /api/sessions/{s}/questions/{id}          (chair) {"action": approve|reject|answering|answered|merge,
                                                   "into"?}

Delegates send their device's random id in ``X-Device-Id`` and, for a private
session, its key (``?key=``) like every reader. A device id is no authentication:
it only lets the limits count per phone and a phone vote once; the per-address
limits bound what one phone can do by making up ids. A refusal for asking too
much or too often is a 429 with ``Retry-After`` where waiting helps.
"""

from __future__ import annotations

from aiohttp import web

from .. import protocol, validate
from ..errors import LimitError, ProtocolError
from . import access, auth
from .boundary import http_status, json_body, json_error
from .keys import QUESTIONS, SETTINGS, STORE
from .limits import client_address
from .questions import QuestionDesk, as_asked

DEVICE_HEADER = "X-Device-Id"


def add_routes(app: web.Application) -> None:
    """Register the endpoints above."""
    app.router.add_get("/api/sessions/{session}/questions", list_questions)
    app.router.add_post("/api/sessions/{session}/questions", ask)
    app.router.add_post("/api/sessions/{session}/questions/{question}/vote", vote)
    app.router.add_patch("/api/sessions/{session}/questions/{question}", moderate)


ON_CLUSTER = ("questions from the floor are taken by the single-process server only, not by a cluster's "
              "web node (docs/scaling.md)")


def _desk(request: web.Request) -> QuestionDesk:
    desks = request.app.get(QUESTIONS)
    if desks is None:  # a cluster's web node: the desks live in one process's database
        raise ProtocolError(ON_CLUSTER, code="unsupported")
    return desks.get(request.match_info["session"])


def _reader_desk(request: web.Request) -> QuestionDesk:
    desk = _desk(request)
    access.require_reader(request, desk.runtime.session)
    return desk


def _device(request: web.Request) -> str:
    device = request.headers.get(DEVICE_HEADER)
    if device is None:
        raise ProtocolError(f"send this device's random id in the {DEVICE_HEADER} header; "
                            "the delegate page does this by itself", code="bad_device")
    return device


def _address(request: web.Request) -> str:
    return client_address(request, request.app[SETTINGS].server)


def _lang(value: object, what: str) -> str:
    return validate.language(value, what)


def _refused(exc: LimitError) -> web.Response:
    """429 with when to try again, in ``Retry-After`` and in the body (for the delegate page)."""
    response = json_error(http_status(exc), exc.code, str(exc), retry_after_s=exc.retry_after_s)
    response.headers["Retry-After"] = str(exc.retry_after_s)
    return response


async def ask(request: web.Request) -> web.Response:
    desk = _reader_desk(request)
    device = _device(request)
    body = await json_body(request)
    text = body.get("text")
    if not isinstance(text, str):
        raise ProtocolError('"text" must be the question, as a string', code="empty")
    if len(text) > protocol.MAX_TEXT_CHARS * 4:  # far past any limit: refuse before cleaning it up
        raise ProtocolError(f"the question is far too long; at most {desk.board.limits.max_chars} characters fit",
                            code="too_long")
    lang = _lang(body.get("lang"), '"lang" (the language the question is written in)')
    name = body.get("name")
    if name is not None and not isinstance(name, str):
        raise ProtocolError('"name" must be a string, or left out')
    try:
        q = desk.submit(device, _address(request), text, lang, name)
    except LimitError as exc:
        return _refused(exc)
    return web.json_response({"question": as_asked(q)}, status=201)


async def list_questions(request: web.Request) -> web.Response:
    desk = _desk(request)
    # The chair's view for the staff token or a chair token of this session; a wrong or other token is
    # left to require_reader, which counts it (once) towards the throttle.
    found = auth.grant_of(request.app[STORE], auth.presented_token(request))
    if found is not None and (found.role == "staff" or found.covers("chair", desk.runtime.session.id)):
        return web.json_response(desk.chair_view())
    access.require_reader(request, desk.runtime.session)
    lang = _lang(request.query.get("lang") or desk.runtime.source_lang, "lang")
    device = request.headers.get(DEVICE_HEADER)
    return web.json_response(desk.delegate_view(lang, device))


async def vote(request: web.Request) -> web.Response:
    desk = _reader_desk(request)
    device = _device(request)
    try:
        q, counted = desk.vote(request.match_info["question"], device, _address(request))
    except LimitError as exc:
        return _refused(exc)
    return web.json_response({"id": q.id, "votes": q.votes, "counted": counted})


async def moderate(request: web.Request) -> web.Response:
    desk = _desk(request)
    access.require_chair(request, desk.runtime.session.id)
    body = await json_body(request)
    msg = protocol.parse_moderation({**body, "id": request.match_info["question"]})
    return web.json_response(desk.chair_dict(desk.moderate(msg)))
