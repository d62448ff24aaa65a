"""``GET /ws/audio/{session}``: audio from a capture station or the chair's browser.

Needs the chair token. The first text frame is ``start`` (format and stream
id); the server answers ``ready`` with how many samples of that stream it
already has and the protocol features it speaks, then ``ack`` about once per
second of audio. A client that reconnects with the same stream id resends from
there, so no audio is lost or doubled. A ``gap`` frame stands for audio the
client had to drop during a long outage: the session hears silence of the same
length, so its audio time stays exact.

One connection feeds a session at a time: a newer one (for any stream) closes
the older one with a ``replaced`` error frame and close code 4409. A stream
that has ended (its client sent ``stop``, the chair pressed End, or another
stream replaced it) is refused with ``stream_ended``, which says how many
samples the server kept of it.
Binary audio frames are not rate limited (a reconnecting client resends its
backlog at full speed); text frames are, like on the other sockets.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
from aiohttp import WSMsgType, web

from .. import protocol, validate
from ..audio.formats import AudioFormat, PcmDecoder, parse_start_message
from ..errors import AssistantError, AudioFormatError, ProtocolError
from ..pcm import SAMPLE_RATE, AudioArray
from .boundary import CLOSE_CODES, ws_close_with_error
from .keys import CLOCK, SETTINGS
from .limits import MessageBudget, admit
from .sockets import chair_socket, open_socket
from .runtime import AudioKind

log = logging.getLogger(__name__)

ACK_EVERY_S = 1.0  # of received audio
REPLACED_CLOSE_CODE = CLOSE_CODES["replaced"]
FEATURES = ("gap",)
"""Protocol additions this server understands, listed in ``ready`` (docs/capture.md)."""
MAX_GAP_S = 3600  # per gap frame; a client sends several for a longer outage
GAP_CHUNK_SAMPLES = 10 * SAMPLE_RATE  # silence is pushed in pieces of 10 s at 16 kHz
REMEMBERED_ENDED_STREAMS = 16  # ended stream ids kept, so that their reconnects are refused

# Shared by every gap: a long gap costs views of one array, not memory. Read-only, so nobody can spoil it.
_SILENCE: AudioArray = np.zeros(GAP_CHUNK_SAMPLES, dtype=np.float32)
_SILENCE.setflags(write=False)


class AudioTarget(Protocol):
    """Where a capture stream's audio goes: a session (:class:`SessionRuntime`), or a room that carries it
    into the talk on now (:class:`~assistant.server.roomaudio.RoomAudio`)."""

    ingest_streams: dict[str, object]

    @property
    def feed(self) -> object | None: ...

    def open_audio(self, kind: AudioKind = "capture", name: str | None = None) -> object: ...

    def push_audio(self, chunk: AudioArray, at_ms: int | None = None) -> None: ...

    def close_audio(self) -> None: ...


@dataclass
class IngestStream:
    """A capture stream the session has heard: its decoder and position survive reconnects.

    Positions (``received``) count samples per channel at the client's rate:
    decoded audio plus the gaps the client announced.
    """

    id: str
    format: AudioFormat
    decoder: PcmDecoder
    feed: object  # the target's feed this stream opened
    socket: web.WebSocketResponse | None = None
    gap_samples: int = 0
    stopped: bool = False
    closing: set[asyncio.Task[None]] = field(default_factory=set)
    """Closings of connections newer ones replaced (held here: the loop keeps only weak references)."""

    @property
    def received(self) -> int:
        """Samples of this stream the session holds: the ``received`` of ``ready`` and ``ack``."""
        return self.decoder.samples_received + self.gap_samples

    def ended(self, current: object | None) -> bool:
        """True once the client stopped, or the session's audio moved on (chair's end, another stream)."""
        return self.stopped or current is not self.feed

    def resume(self) -> int:
        """The same stream reconnected: drop a partial sample, return ``received`` for ``ready``."""
        self.decoder.resume()
        return self.received

    def gap(self, samples: int) -> Iterator[AudioArray]:
        """Count ``samples`` (at the client's rate) as received; yield their silence in 16 kHz pieces.

        Counted in total since the stream began, so rounding at other rates never adds up.
        """
        rate = self.format.sample_rate
        before = self.gap_samples * SAMPLE_RATE // rate
        self.gap_samples += samples
        silence = self.gap_samples * SAMPLE_RATE // rate - before
        for start in range(0, silence, GAP_CHUNK_SAMPLES):
            yield _SILENCE[: min(GAP_CHUNK_SAMPLES, silence - start)]


def parse_gap(obj: dict[str, object], fmt: AudioFormat) -> int:
    """The sample count of a ``gap`` frame; ProtocolError unless it is 1 .. MAX_GAP_S of audio."""
    samples = obj.get("samples")
    longest = MAX_GAP_S * fmt.sample_rate
    if isinstance(samples, bool) or not isinstance(samples, int) or not 1 <= samples <= longest:
        raise ProtocolError(f'a "gap" frame needs "samples": a whole number from 1 to {longest} '
                            f"({MAX_GAP_S} s at {fmt.sample_rate} Hz); send several for a longer gap")
    return samples


async def serve_capture(runtime: AudioTarget, request: web.Request) -> web.WebSocketResponse:
    """Serve one capture connection into ``runtime`` (a session, or a room's talk on now)."""
    ws = await open_socket(request)
    stream: IngestStream | None = None
    try:
        stream = await _start(request.app, runtime, ws)
        if stream is not None:
            await _receive(request.app, runtime, ws, stream)
    except AssistantError as exc:
        await _close_with_error(ws, exc)
    except ConnectionError:
        log.debug("a capture client left while the server was answering it")
    finally:
        if stream is not None and stream.socket is ws:
            stream.socket = None
    return ws


async def read_start(ws: web.WebSocketResponse) -> tuple[AudioFormat, str] | None:
    """The capture client's first frame, ``start``: its audio format and stream id; None when it left first."""
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
    return parse_start_message(obj)


async def _start(app: web.Application, runtime: AudioTarget, ws: web.WebSocketResponse) -> IngestStream | None:
    """Read ``start`` and answer ``ready``; None when the client left or its stream had ended."""
    start = await read_start(ws)
    if start is None:
        return None
    fmt, stream_id = start
    streams = _streams(runtime)
    stream = streams.get(stream_id)
    if stream is not None:
        if stream.ended(runtime.feed):
            await _refuse_ended(ws, stream)
            return None
        if stream.format != fmt:
            raise ProtocolError(f"stream {stream_id!r} started as {stream.format.sample_rate} Hz "
                                f"{stream.format.channels} ch {stream.format.sample_format}; a stream keeps its "
                                "format: start a new stream id for another one", code="bad_start")
    else:
        stream = IngestStream(stream_id, fmt, PcmDecoder(fmt, max_frame_bytes=app[SETTINGS].limits.max_message_bytes),
                              runtime.open_audio(*_source_of(stream_id)))
        streams[stream_id] = stream
        _forget_old_streams(runtime)
    _take_over(runtime, ws)
    stream.socket = ws
    await ws.send_json({"type": "ready", "received": stream.resume(), "features": list(FEATURES)})
    return stream


async def _receive(app: web.Application, runtime: AudioTarget, ws: web.WebSocketResponse,
                   stream: IngestStream) -> None:
    budget = MessageBudget.of(app[SETTINGS].limits)
    ack_every = int(stream.format.sample_rate * ACK_EVERY_S)
    next_ack = stream.received + ack_every
    async for msg in ws:
        if stream.socket is not ws:
            return  # a newer connection took over; it is closing this one
        if stream.ended(runtime.feed):
            await _refuse_ended(ws, stream)
            return
        if msg.type == WSMsgType.BINARY:
            try:
                chunk = stream.decoder.receive(msg.data)
            except AudioFormatError as exc:
                await _send_error(ws, exc)
                continue
            if len(chunk):
                runtime.push_audio(chunk)
        elif msg.type == WSMsgType.TEXT:
            if not await admit(ws, budget, app[CLOCK].now_ms()):
                continue
            obj = _load(msg.data)
            kind = obj.get("type") if obj is not None else None
            if kind == "stop":
                await _stop(runtime, ws, stream)
                return
            if kind == "gap" and obj is not None:
                # All at once, without awaiting: audio from a newer connection must not slip in between.
                for silence in stream.gap(parse_gap(obj, stream.format)):
                    runtime.push_audio(silence)
            elif kind != "ping":
                await _send_error(ws, ProtocolError(
                    'expected binary audio frames, {"type":"gap","samples":N} after lost audio, '
                    'or {"type":"stop"} at the end'))
                continue
        else:
            continue
        if stream.received >= next_ack:
            next_ack = stream.received + ack_every
            await ws.send_json({"type": "ack", "received": stream.received})


async def _stop(runtime: AudioTarget, ws: web.WebSocketResponse, stream: IngestStream) -> None:
    tail = stream.decoder.flush()
    if len(tail):
        runtime.push_audio(tail)
    await ws.send_json({"type": "ack", "received": stream.received})
    runtime.close_audio()
    stream.stopped = True
    await ws.close()


def _take_over(runtime: AudioTarget, ws: web.WebSocketResponse) -> None:
    """Make ``ws`` the session's only capture connection: every older one is told, then closed with 4409.

    Not awaited: an older connection whose peer vanished would hold the new
    one's ``ready`` for the whole close timeout.
    """
    for stream in _streams(runtime).values():
        old = stream.socket
        if old is None or old is ws:
            continue
        stream.socket = None  # its handler stops at its next frame
        if not old.closed:
            task = asyncio.create_task(_close_replaced(old))
            stream.closing.add(task)
            task.add_done_callback(stream.closing.discard)


async def _close_replaced(ws: web.WebSocketResponse) -> None:
    with contextlib.suppress(ConnectionError):
        await ws.send_frame(protocol.error("replaced", "another capture connection for this session took over; "
                                                       "this one is closed").data, WSMsgType.TEXT)
        await ws.close(code=REPLACED_CLOSE_CODE, message=b"replaced by a newer capture connection")


async def _refuse_ended(ws: web.WebSocketResponse, stream: IngestStream) -> None:
    why = "its client sent stop" if stream.stopped else \
        "the chair ended the session's audio, or another capture stream took over"
    await _close_with_error(ws, stream_ended(stream.id, why), received=stream.received)


def stream_ended(stream_id: str, why: str) -> ProtocolError:
    """The refusal of a connection, or a frame, for a capture stream that has ended (close 4400)."""
    return ProtocolError(f"capture stream {validate.shown(stream_id)} has ended ({why}); start a new stream to "
                         "send more audio", code="stream_ended")


async def _close_with_error(ws: web.WebSocketResponse, exc: AssistantError, **extra: Any) -> None:
    """Tell the client why, then close; a client that has already gone is no error of ours."""
    with contextlib.suppress(ConnectionError):
        await ws_close_with_error(ws, exc, **extra)


async def _send_error(ws: web.WebSocketResponse, exc: AssistantError) -> None:
    """An error frame about one frame; the stream goes on."""
    await ws.send_frame(protocol.error(exc.code, str(exc)).data, WSMsgType.TEXT)


def _load(data: str) -> dict[str, object] | None:
    try:
        obj = protocol.load_json(data, "frame")
    except ProtocolError:
        return None
    return obj if isinstance(obj, dict) else None


def _forget_old_streams(runtime: AudioTarget) -> None:
    streams = _streams(runtime)
    ended = [key for key, s in streams.items() if s.ended(runtime.feed)]
    for key in ended[: max(0, len(ended) - REMEMBERED_ENDED_STREAMS)]:
        del streams[key]


def _streams(runtime: AudioTarget) -> dict[str, IngestStream]:
    return runtime.ingest_streams  # type: ignore[return-value]


audio_ws = chair_socket(serve_capture)


def _source_of(stream_id: str) -> tuple[AudioKind, str]:
    """What the chair console shows as the audio's source: its browser (stream ids ``browser-…``), else a
    capture station, named by its stream id."""
    return ("browser", "") if stream_id.startswith("browser-") else ("capture", stream_id)

