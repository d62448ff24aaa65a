"""A room's permanent address, QR code and sockets: readers follow the talk on now, the station feeds it.

    GET /r/{room}                (none) the room's page: the delegate page of the talk on now, following it
    GET /r/{room}/display        (none) the room screen (as /s/{session}/display), following the room
    GET /api/rooms/{room}/qr.svg (none) the QR code of /r/{room}, printed once for the whole event

    GET /ws/rooms/{room}         (none) ``room`` frames: the talk on now, the next, the past ones; one at
                                 once, then one at every change (the room page switches its captions)
    GET /ws/rooms/{room}/audio   (chair token, or one of the room's) the capture station's audio, carried
                                 into the talk on now (the protocol of /ws/audio/{session}, docs/capture.md)
"""

from __future__ import annotations

import asyncio

from aiohttp import WSMsgType, web

from .. import protocol
from ..errors import ProtocolError
from ..hub import Subscription, Topic
from ..tasks import cancel_and_wait
from . import access, ingest, pages
from .boundary import ws_send_error
from .keys import BUS, CLOCK, CONNECTIONS, SETTINGS, TALKS
from .limits import MessageBudget, admit
from .programme import require_one_server
from .sockets import open_socket
from .talks import ROOM_TOPIC, TalkRooms


def talk_rooms(request: web.Request) -> TalkRooms:
    """The programme's rooms; ``unsupported`` on a cluster's web node."""
    require_one_server(request)
    return request.app[TALKS]


async def room_ws(request: web.Request) -> web.StreamResponse:
    access.check_origin(request)
    rooms = talk_rooms(request)
    room = request.match_info["room"]
    first = rooms.frame(room)  # NotFoundError (404) before the upgrade for a room not in the programme
    if request.headers.get("Upgrade", "").lower() != "websocket":
        raise ProtocolError("this is a WebSocket endpoint: connect with ws:// or wss://", code="not_websocket")
    peer = request.app[CONNECTIONS].acquire(request)
    try:
        ws = await open_socket(request)
        bus = request.app[BUS]
        sub = bus.subscribe(Topic(room, ROOM_TOPIC), request.app[SETTINGS].limits.client_queue)
        writer = asyncio.create_task(_write(ws, sub, first, rooms, room))
        budget = MessageBudget.of(request.app[SETTINGS].limits)
        try:
            async for msg in ws:
                if msg.type in (WSMsgType.TEXT, WSMsgType.BINARY) and \
                        not await admit(ws, budget, request.app[CLOCK].now_ms()):
                    continue
                if msg.type == WSMsgType.TEXT:
                    try:
                        protocol.parse_client_message(msg.data)
                    except ProtocolError as exc:
                        await ws_send_error(ws, exc)
        finally:
            bus.unsubscribe(sub)  # before any await (see readers.py: a cancelled clean-up stops at one)
            await cancel_and_wait(writer)
        return ws
    finally:
        request.app[CONNECTIONS].release(peer)


async def _write(ws: web.WebSocketResponse, sub: Subscription, first: protocol.Frame, rooms: TalkRooms,
                 room: str) -> None:
    await ws.send_frame(first.data, WSMsgType.TEXT)
    while not ws.closed:
        frame = await sub.get()
        if frame is None:
            if sub.closed:
                return
            sub.resynced()  # fell behind: the room's state now says everything the lost frames said
            frame = rooms.frame(room)
        await ws.send_frame(frame.data, WSMsgType.TEXT)


async def room_audio_ws(request: web.Request) -> web.StreamResponse:
    access.check_origin(request)
    rooms = talk_rooms(request)
    room = request.match_info["room"]
    target = rooms.audio(room)
    on = rooms.current(room)
    access.require_chair_of(request, [room] + ([on.id] if on is not None else []),
                            f"the chair token, or a chair token of room {room!r}")
    peer = request.app[CONNECTIONS].acquire(request)
    try:
        return await ingest.serve_capture(target, request)
    finally:
        request.app[CONNECTIONS].release(peer)


async def room_page(request: web.Request) -> web.StreamResponse:
    """The delegate page, in room mode: it follows the room's socket from talk to talk."""
    talk_rooms(request).audio(request.match_info["room"])  # NotFoundError (404) for a room not in the programme
    return await pages.page("delegate.html")(request)


async def room_screen(request: web.Request) -> web.StreamResponse:
    """The room screen, in room mode: projector and stage monitor follow the room from talk to talk."""
    talk_rooms(request).audio(request.match_info["room"])
    return await pages.page("display.html")(request)


async def room_qr(request: web.Request) -> web.Response:
    room = request.match_info["room"]
    talk_rooms(request).audio(room)
    return pages.qr_response(f"{access.public_url(request)}/r/{room}")


def add_routes(app: web.Application) -> None:
    app.router.add_get("/r/{room}", room_page)
    app.router.add_get("/r/{room}/display", room_screen)
    app.router.add_get("/api/rooms/{room}/qr.svg", room_qr)
    app.router.add_get("/ws/rooms/{room}", room_ws)
    app.router.add_get("/ws/rooms/{room}/audio", room_audio_ws)
