"""``GET /ws/audio/{session}`` on a web node: a capture station's audio into the room's Redis stream.

The same protocol as one process (:mod:`assistant.server.ingest`, docs/capture.md):
``start`` → ``ready`` with the samples of that stream the server has, binary
frames, ``ack`` about once a second, ``stop``. What "the server has" is in
Redis (the room's ``capture`` hash), so a station whose web node died
reconnects through nginx to another and resends from there: no audio lost or
doubled, whichever node it reaches. An ``ack`` is sent only once Redis has
the audio it counts.

One stream at a time, as on one server: the hash names the room's current
stream, and a newer connection (any stream) replaces the older one: at once
on this node, at its next frame on another, where the append script refuses
its writes (``replaced``, 4409). A stream that ended (its ``stop``, the
chair's End, a newer stream) stays in the hash marked ``ended``, so that it is
refused on every node (``stream_ended``, 4400).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any

from aiohttp import WSCloseCode, WSMsgType, web
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from .. import protocol
from ..audio.formats import AudioFormat, PcmDecoder, float_to_s16le
from ..errors import AssistantError, AudioFormatError, ProtocolError
from ..server.boundary import ws_close_with_error
from ..server.ingest import ACK_EVERY_S, read_start, stream_ended
from ..server.keys import CLOCK, SETTINGS
from ..server.limits import MessageBudget, admit
from ..server.sockets import chair_socket, open_socket
from . import scripts
from .appkeys import REDIS
from .audio import AUDIO_MAXLEN, entry_fields
from .keys import RoomKeys, text
from .remote import RemoteRoom

log = logging.getLogger(__name__)

_sockets: dict[str, web.WebSocketResponse] = {}  # room → this node's capture connection
_closing: set[asyncio.Task[None]] = set()  # replaced connections being told and closed
REPLACED = "another capture connection for this session took over; this one is closed"
CLIENT_STOPPED = "its client sent stop"
CHAIR_ENDED = "the chair ended the session's audio"
TAKEN_OVER = "another capture stream took over"


class _Stream:
    """One capture stream as this connection writes it."""

    def __init__(self, room: str, stream_id: str, fmt: AudioFormat, received: int, out: int, started_ms: int,
                 max_frame_bytes: int) -> None:
        self.keys = RoomKeys(room)
        self.id = stream_id
        self.format = fmt
        self.decoder = PcmDecoder(fmt, max_frame_bytes=max_frame_bytes)
        self.decoder.samples_received = received
        self.out = out  # 16 kHz samples written to the room's audio stream
        self.started_ms = started_ms  # when the stream first started (an End after it ends it)

    def state(self, **extra: Any) -> str:
        return json.dumps({"format": [self.format.sample_rate, self.format.channels, self.format.sample_format],
                           "received": self.decoder.samples_received, "out": self.out,
                           "started_ms": self.started_ms, **extra})


async def _write(request: web.Request, s: _Stream, pcm: bytes, event: str = "") -> None:
    """Append to the audio stream and record how far the stream got, as one step, checked against the
    offset this connection believes in (an older connection elsewhere cannot write over a newer one)."""
    if not pcm and not event:
        return
    client = request.app[REDIS]
    n = len(pcm) // 2
    fields = entry_fields(s.id, s.out, request.app[CLOCK].now_ms(), event, pcm)
    args: list[Any] = []
    for k, v in fields.items():
        args += [k, v]
    s.out += n
    state = s.state(ended=CLIENT_STOPPED) if event == "stop" else s.state()
    done = await client.eval(scripts.CAPTURE_APPEND, 3, s.keys.capture, s.keys.audio, s.keys.parked, s.id,
                             s.out - n, state, AUDIO_MAXLEN, *args)
    if done == scripts.CAPTURE_ENDED:
        raise stream_ended(s.id, "it was ended meanwhile")
    if done == scripts.CAPTURE_REPLACED:  # a newer connection, of this stream or another, took over
        raise ProtocolError(REPLACED, code="replaced")


async def _serve_capture(room: RemoteRoom, request: web.Request) -> web.WebSocketResponse:
    ws = await open_socket(request)
    try:
        await _serve_stream(room, request, ws)
    except (RedisConnectionError, RedisTimeoutError) as exc:
        # Not an error frame (a client stops on one): the station reconnects and resends from what Redis has.
        log.warning("capture for room %s: Redis unreachable (%s); closed with 1013", room.session.id, exc)
        await ws.close(code=WSCloseCode.TRY_AGAIN_LATER, message=b"Redis unreachable; reconnect")
    return ws


async def _serve_stream(room: RemoteRoom, request: web.Request, ws: web.WebSocketResponse) -> None:
    try:
        stream = await _start(request, room, ws)
    except AssistantError as exc:
        await ws_close_with_error(ws, exc)
        return
    if stream is None:
        return
    sid = room.session.id
    older = _sockets.get(sid)
    if older is not None and not older.closed:
        # Not awaited: an older connection whose peer vanished would hold this one's ready for its close timeout.
        closing = asyncio.create_task(_tell_replaced(older))
        _closing.add(closing)
        closing.add_done_callback(_closing.discard)
    _sockets[sid] = ws
    try:
        await ws.send_json({"type": "ready", "received": stream.decoder.samples_received})
        await _receive(request, room, ws, stream)
    except AssistantError as exc:
        await ws_close_with_error(ws, exc, **({"received": stream.decoder.samples_received}
                                             if exc.code == "stream_ended" else {}))
    finally:
        if _sockets.get(sid) is ws:
            del _sockets[sid]


async def _tell_replaced(ws: web.WebSocketResponse) -> None:
    with contextlib.suppress(ConnectionError):  # its client has gone already
        await ws_close_with_error(ws, ProtocolError(REPLACED, code="replaced"))


async def _start(request: web.Request, room: RemoteRoom, ws: web.WebSocketResponse) -> _Stream | None:
    """Read ``start``: resume a known stream, or begin one and make it the room's current stream."""
    start = await read_start(ws)
    if start is None:
        return None
    fmt, stream_id = start
    client = request.app[REDIS]
    keys = RoomKeys(room.session.id)
    limit = request.app[SETTINGS].limits.max_message_bytes
    raw, current = await client.hmget(keys.capture, [stream_id, scripts.CURRENT_STREAM])
    known = json.loads(raw) if raw else None
    if known is not None and not known.get("ended") and current is not None and text(current) != stream_id:
        known["ended"] = TAKEN_OVER
    if known is not None and known.get("ended"):
        await ws_close_with_error(ws, stream_ended(stream_id, known["ended"]), received=known["received"])
        return None
    if known is not None and known["format"] == [fmt.sample_rate, fmt.channels, fmt.sample_format]:
        stream = _Stream(room.session.id, stream_id, fmt, known["received"], known["out"],
                         known.get("started_ms", 0), limit)
        await client.hset(keys.capture, scripts.CURRENT_STREAM, stream_id)
        return stream
    stream = _Stream(room.session.id, stream_id, fmt, 0, 0, request.app[CLOCK].now_ms(), limit)
    await client.hset(keys.capture, mapping={stream_id: stream.state(), scripts.CURRENT_STREAM: stream_id})
    await _write(request, stream, b"", "start")
    return stream


async def _end(request: web.Request, stream: _Stream, why: str) -> ProtocolError:
    """Mark ``stream`` ended (a reconnect is refused on every node) and say so."""
    await request.app[REDIS].hset(stream.keys.capture, stream.id, stream.state(ended=why))
    return stream_ended(stream.id, why)


async def _receive(request: web.Request, room: RemoteRoom, ws: web.WebSocketResponse, stream: _Stream) -> None:
    budget = MessageBudget.of(request.app[SETTINGS].limits)
    decoder = stream.decoder
    ack_every = int(stream.format.sample_rate * ACK_EVERY_S)
    next_ack = decoder.samples_received + ack_every
    async for msg in ws:
        if msg.type == WSMsgType.BINARY:
            ended_at = room.session.ended_at_ms
            if ended_at is not None and stream.started_ms <= ended_at:  # the chair pressed End since it started
                raise await _end(request, stream, CHAIR_ENDED)
            try:
                chunk = decoder.receive(msg.data)
            except AudioFormatError as exc:
                await ws.send_json({"type": "error", "code": exc.code, "message": str(exc)})
                continue
            await _write(request, stream, float_to_s16le(chunk))
            if decoder.samples_received >= next_ack:
                next_ack = decoder.samples_received + ack_every
                await ws.send_json({"type": "ack", "received": decoder.samples_received})
        elif msg.type == WSMsgType.TEXT:
            if not await admit(ws, budget, request.app[CLOCK].now_ms()):
                continue
            kind = _message_type(msg.data)
            if kind == "stop":
                await _write(request, stream, float_to_s16le(decoder.flush()))
                await _write(request, stream, b"", "stop")  # marks it ended, for every node
                await ws.send_json({"type": "ack", "received": decoder.samples_received})
                await ws.close()
                return
            if kind != "ping":
                await ws.send_json({"type": "error", "code": "bad_message",
                                    "message": 'expected binary audio frames, or {"type":"stop"} at the end'})


def _message_type(data: str) -> object:
    try:
        obj = protocol.load_json(data, "frame")
    except ProtocolError:
        return None
    return obj.get("type") if isinstance(obj, dict) else None

audio_ws = chair_socket(_serve_capture)
