"""The chair's endpoints: manual captions, corrections, session control, and the console socket.

REST (``Authorization: Bearer <chair token>``: the organiser's, or one scoped to the session):
    POST  /api/sessions/{session}/captions            {"text", "lang"?}   a typed caption
    PATCH /api/sessions/{session}/captions/{id}       {"text", "lang"?}   a correction
    GET   /api/sessions/{session}/captions/{id}/revisions                 the audit trail
    POST  /api/sessions/{session}/control             {"action": pause|resume|end}
    PATCH /api/sessions/{session}                     {"title"?, "glossary"?, "public"?, "key"?}
    GET   /api/sessions/{session}/captions/{id}/revisions   (chair or staff)
WebSocket ``/ws/chair/{session}`` (token as subprotocol ``bearer.<token>``): the
spoken-language stream plus console frames; accepts the same actions as frames,
at most ``limits.messages_per_s`` of them (then error frames, then close 4429), and the
chair's decisions on the floor's questions (``{"type": "question", "id", "action"}``, see
``assistant.server.floor``).
"""

from __future__ import annotations

import asyncio
from dataclasses import asdict
from typing import Any

from aiohttp import WSMsgType, web

from .. import protocol
from ..errors import NotFoundError, ProtocolError
from ..hub import Topic
from . import access, rooms
from .boundary import json_body, ws_close_with_error, ws_send_error
from .keys import BUS, CLOCK, LOG, QUESTIONS, SESSIONS, SETTINGS
from .limits import MessageBudget, admit
from ..session.effects import CHAIR_TOPIC
from ..tasks import cancel_and_wait
from .readers import stream_captions
from .rooms import Room, RoomRegistry
from .sockets import chair_socket, open_socket

def _runtime(request: web.Request) -> Room:
    runtime = request.app[SESSIONS].get(request.match_info["session"])
    access.require_chair(request, runtime.session.id)
    return runtime


async def post_caption(request: web.Request) -> web.Response:
    runtime = _runtime(request)
    body = await json_body(request)
    msg = protocol.parse_client_object({**body, "type": "caption_text"})
    assert isinstance(msg, protocol.CaptionText)
    cap = await rooms.act(runtime, msg)
    assert cap is not None
    return web.json_response(protocol.caption_dict(cap), status=201)


async def patch_caption(request: web.Request) -> web.Response:
    runtime = _runtime(request)
    body = await json_body(request)
    msg = protocol.parse_client_object({**body, "type": "correct", "id": request.match_info["caption"]})
    assert isinstance(msg, protocol.CorrectCaption)
    fixed = await rooms.correct(runtime, msg.id, msg.text, lang=msg.lang, author="chair")
    return web.json_response(protocol.caption_dict(fixed))


async def get_revisions(request: web.Request) -> web.Response:
    log = request.app[LOG]
    session = await log.get_session(request.match_info["session"])
    access.require_chair_or_staff(request, session.id)
    revisions = await log.revisions(session.id, request.match_info["caption"])
    return web.json_response({"revisions": [asdict(r) for r in revisions]})


async def post_control(request: web.Request) -> web.Response:
    runtime = _runtime(request)
    body = await json_body(request)
    action = body.get("action")
    msg = protocol.parse_client_object({"type": action}) if action in ("pause", "resume", "end") else None
    if not isinstance(msg, protocol.Control):
        raise ProtocolError('"action" must be one of pause, resume, end')
    await rooms.act(runtime, msg)
    return web.json_response(runtime.snapshot())


async def patch_session(request: web.Request) -> web.Response:
    runtime = _runtime(request)
    body = await json_body(request)
    msg = protocol.parse_client_object({**body, "type": "update"})
    assert isinstance(msg, protocol.UpdateSession)
    await configure(request.app[SESSIONS], runtime, msg)
    return web.json_response(runtime.snapshot())


async def configure(sessions: RoomRegistry, runtime: Room, msg: protocol.UpdateSession) -> None:
    """Apply a chair's settings change: title, glossary, and who may read (public, key).

    A public session has no key, and a private one always has one (else nobody could be given a link).
    """
    public = runtime.session.public if msg.public is None else msg.public
    if public and msg.key:
        raise ProtocolError('a public session has no key: send "key": "" with "public": true, or make it '
                            'private ("public": false) with the key', code="bad_key")
    if not public and (msg.key == "" or (msg.key is None and runtime.session.public)):
        raise ProtocolError('a private session needs a key for its link: send "key" (8-128 printable ASCII '
                            'characters, no spaces) with "public": false', code="bad_key")
    if msg.key is not None:
        await sessions.set_access(runtime.session.id, public=None, key=msg.key)
    # Every open console learns the change and that it took effect (a new key included).
    await rooms.act(runtime, msg)


async def _serve_chair(runtime: Room, request: web.Request) -> web.WebSocketResponse:
    app = request.app
    ws = await open_socket(request)
    budget = MessageBudget.of(app[SETTINGS].limits)
    lang = runtime.source_lang
    bus, queue = app[BUS], app[SETTINGS].limits.client_queue
    captions = bus.subscribe(Topic(runtime.session.id, lang), queue)
    console = bus.subscribe(Topic(runtime.session.id, CHAIR_TOPIC), queue)
    tasks = [asyncio.create_task(stream_captions(runtime, ws, captions, lang, 0, app[LOG],
                                                 floor=app.get(QUESTIONS) is not None)),
             asyncio.create_task(_forward(ws, console))]
    url = f"{access.public_url(request)}/s/{runtime.session.id}"
    await ws.send_frame(protocol.info("info", {**runtime.snapshot(), "url": url}).data, WSMsgType.TEXT)
    try:
        async for msg in ws:
            if msg.type == WSMsgType.TEXT:
                if not await admit(ws, budget, app[CLOCK].now_ms()):
                    continue
                try:
                    parsed = protocol.parse_client_message(msg.data)
                    if isinstance(parsed, protocol.ModerateQuestion):
                        desks = app.get(QUESTIONS)
                        if desks is None:
                            raise ProtocolError("questions from the floor are moderated on the single-process "
                                                "server only", code="unsupported")
                        desks.get(runtime.session.id).moderate(parsed)
                    else:
                        await _handle(app[SESSIONS], runtime, parsed)
                except (ProtocolError, NotFoundError) as exc:
                    await ws_send_error(ws, exc)
            elif msg.type == WSMsgType.BINARY:
                await ws_close_with_error(ws, ProtocolError("send audio to /ws/audio/{session}, not here"))
                break
    finally:
        bus.unsubscribe(captions)  # before any await (see readers.py: a cancelled clean-up stops at one)
        bus.unsubscribe(console)
        await cancel_and_wait(*tasks)
    return ws


async def _forward(ws: web.WebSocketResponse, sub: Any) -> None:
    while (frame := await sub.get()) is not None or sub.overflowed:
        if frame is None:
            sub.resynced()  # console frames are snapshots: dropping some under load is harmless
            continue
        await ws.send_frame(frame.data, WSMsgType.TEXT)


async def _handle(sessions: RoomRegistry, runtime: Room,
                  msg: protocol.CaptionText | protocol.CorrectCaption | protocol.Control | protocol.UpdateSession
                  | protocol.Ping) -> None:
    if isinstance(msg, protocol.CorrectCaption):
        await rooms.correct(runtime, msg.id, msg.text, lang=msg.lang, author="chair")
    elif isinstance(msg, protocol.UpdateSession):
        await configure(sessions, runtime, msg)
    elif not isinstance(msg, protocol.Ping):
        await rooms.act(runtime, msg)


chair_ws = chair_socket(_serve_chair)
