"""``GET /ws/audio/{session}``: audio from a capture station or the chair's browser.

Needs the chair token. The first text frame is ``start`` (format and stream
id); the server answers ``ready`` with how many samples of that stream it
already has, then ``ack`` about once per second of audio. A capture client that
reconnects with the same stream id resends from there, so no audio is lost or
doubled. A newer connection replaces an older one for the same session.
Binary audio frames are not rate limited (a reconnecting client resends its
backlog at full speed); text frames are, like on the other sockets.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from aiohttp import WSMsgType, web

from .. import protocol
from ..audio.formats import AudioFormat, PcmDecoder, parse_start_message
from ..errors import AssistantError, AudioFormatError, ProtocolError
from .boundary import ws_close_with_error
from .keys import CLOCK, SETTINGS
from .limits import MessageBudget, admit
from .runtime import AudioFeed, SessionRuntime
from .sockets import chair_socket, open_socket

log = logging.getLogger(__name__)

ACK_EVERY_S = 1.0  # of received audio
REPLACED_CLOSE_CODE = 4409


@dataclass
class IngestStream:
    """A capture stream the session has heard: its decoder survives reconnects."""

    id: str
    format: AudioFormat
    decoder: PcmDecoder
    feed: AudioFeed
    socket: web.WebSocketResponse | None = None


async def _serve_capture(runtime: SessionRuntime, request: web.Request) -> web.WebSocketResponse:
    ws = await open_socket(request)
    try:
        stream = await _start(request.app, runtime, ws)
    except AssistantError as exc:
        await ws_close_with_error(ws, exc)
        return ws
    if stream is None:
        return ws
    try:
        await _receive(request.app, runtime, ws, stream)
    finally:
        if stream.socket is ws:
            stream.socket = None
    return ws


async def _start(app: web.Application, runtime: SessionRuntime, ws: web.WebSocketResponse) -> IngestStream | None:
    msg = await ws.receive()
    if msg.type != WSMsgType.TEXT:
        if msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED):
            return None
        raise ProtocolError('the first frame must be the JSON "start" message, e.g. {"type":"start",'
                            '"sample_rate":16000,"channels":1,"format":"s16le","stream":"<id>"}', code="bad_start")
    try:
        obj = protocol.load_json(msg.data, "the start frame")
    except ProtocolError as exc:
        raise ProtocolError(str(exc), code="bad_start") from None
    fmt, stream_id = parse_start_message(obj)
    stream = _streams(runtime).get(stream_id)
    if stream is not None and stream.format == fmt and runtime.feed is stream.feed:
        received = stream.decoder.resume()
    else:
        stream = IngestStream(stream_id, fmt, PcmDecoder(fmt, max_frame_bytes=app[SETTINGS].limits.max_message_bytes),
                              runtime.open_audio())
        _streams(runtime).clear()
        _streams(runtime)[stream_id] = stream
        received = 0
    if stream.socket is not None and not stream.socket.closed:
        await stream.socket.close(code=REPLACED_CLOSE_CODE, message=b"replaced by a newer capture connection")
    stream.socket = ws
    await ws.send_json({"type": "ready", "received": received})
    return stream


async def _receive(app: web.Application, runtime: SessionRuntime, ws: web.WebSocketResponse,
                   stream: IngestStream) -> None:
    budget = MessageBudget.of(app[SETTINGS].limits)
    decoder = stream.decoder
    ack_every = int(stream.format.sample_rate * ACK_EVERY_S)
    next_ack = decoder.samples_received + ack_every
    async for msg in ws:
        if msg.type == WSMsgType.BINARY:
            try:
                chunk = decoder.receive(msg.data)
            except AudioFormatError as exc:
                await ws.send_json({"type": "error", "code": exc.code, "message": str(exc)})
                continue
            if runtime.feed is not stream.feed:
                await ws_close_with_error(ws, ProtocolError("this capture stream was ended; start a new one",
                                                            code="stream_ended"))
                return
            if len(chunk):
                runtime.push_audio(chunk)
            if decoder.samples_received >= next_ack:
                next_ack = decoder.samples_received + ack_every
                await ws.send_json({"type": "ack", "received": decoder.samples_received})
        elif msg.type == WSMsgType.TEXT:
            if not await admit(ws, budget, app[CLOCK].now_ms()):
                continue
            kind = _message_type(msg.data)
            if kind == "stop":
                tail = decoder.flush()
                if len(tail):
                    runtime.push_audio(tail)
                await ws.send_json({"type": "ack", "received": decoder.samples_received})
                runtime.close_audio()
                _streams(runtime).pop(stream.id, None)
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


def _streams(runtime: SessionRuntime) -> dict[str, IngestStream]:
    return runtime.ingest_streams  # type: ignore[return-value]


audio_ws = chair_socket(_serve_capture)
