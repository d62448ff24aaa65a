"""The asyncio adapter: drives a :class:`~assistant.capture.core.CaptureStream` over websockets.

One task moves audio from the source into the stream's buffer, connected or
not; the connection loop opens a socket, feeds the server's frames to the
core and sends what it asks for, and reconnects with exponential backoff
after network failures. Auth failures, ``error`` frames and a takeover by
another capture (close code 4409) are fatal and never retried.
"""

from __future__ import annotations

import asyncio
import ssl as ssl_module
from collections.abc import AsyncIterator, Awaitable, Callable

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

from ..audio.capture_buffer import DEFAULT_FRAME_MS, DEFAULT_MAX_BUFFER_S, CaptureBuffer
from ..audio.formats import float_to_s16le
from ..audio.resample import Samples
from ..audio.sources import AudioSource
from ..errors import AssistantError, ConfigError
from ..tasks import cancel_and_wait
from .audio import until_stopped
from .core import Ack, CaptureStream, Ready, new_capture_buffer
from .endpoint import audio_url, new_stream_id, raise_if_refused
from .report import CaptureReport, LogReport

DEFAULT_BACKOFF_INITIAL_S = 0.5
DEFAULT_BACKOFF_MAX_S = 10.0
DEFAULT_READY_TIMEOUT_S = 10.0
# After "stop" the server acknowledges everything; past this we reconnect to find out why not.
DEFAULT_STOP_TIMEOUT_S = 30.0
# The server only sends small JSON control frames.
_MAX_CONTROL_FRAME_BYTES = 64 * 1024
# How long to let the reader pick up an error frame that raced a failed send.
_ERROR_GRACE_S = 1.0


async def stream_capture(
    url: str,
    session: str,
    token: str,
    source: AudioSource,
    *,
    stream_id: str | None = None,
    ssl: ssl_module.SSLContext | None = None,
    max_buffer_s: float = DEFAULT_MAX_BUFFER_S,
    frame_ms: int = DEFAULT_FRAME_MS,
    backoff_initial_s: float = DEFAULT_BACKOFF_INITIAL_S,
    backoff_max_s: float = DEFAULT_BACKOFF_MAX_S,
    ready_timeout_s: float = DEFAULT_READY_TIMEOUT_S,
    stop_timeout_s: float = DEFAULT_STOP_TIMEOUT_S,
    max_attempts: int | None = None,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    stop: asyncio.Event | None = None,
    buffer: CaptureBuffer | None = None,
    report: CaptureReport | None = None,
    room: str | None = None,
) -> None:
    """Stream ``source`` to ``url`` (the server's base URL) until the source ends and the server has it all.

    Returns after the server acknowledged every sample of a finite source (a
    file), or of the audio read before ``stop`` was set: setting ``stop`` ends
    reading at once (see :func:`until_stopped`) and is how a microphone
    capture ends without losing audio; without it, a microphone runs until
    cancelled. ``buffer`` (default: ``new_capture_buffer(max_buffer_s,
    frame_ms)``) holds the audio the server has not acknowledged yet; pass
    your own to watch it. ``report`` (default: log lines) hears of
    connections, losses and the end. Reconnects after network failures
    (waiting with ``sleep``), forever unless ``max_attempts`` consecutive
    attempts fail (ConnectionError). Raises AuthError (bad token),
    NotFoundError (unknown session), ProtocolError (an ``error`` frame, the
    stream ended by the chair or replaced by another capture, or a confused
    server), or the source's own AudioSourceError. With ``room`` the audio goes to that room of the
    programme (``session`` is then unused): to the talk on now, from talk to talk.
    """
    ws_url = audio_url(url, session, room=room)
    core = CaptureStream(stream_id or new_stream_id(),
                         buffer if buffer is not None else new_capture_buffer(max_buffer_s, frame_ms))
    link = _Link(ws_url, token, ssl if ws_url.startswith("wss:") else None, core,
                 report if report is not None else LogReport(), ready_timeout_s, stop_timeout_s)
    chunks = source if stop is None else until_stopped(source, stop)
    capture = asyncio.create_task(link.capture(chunks))
    failures = 0
    try:
        while True:
            try:
                if await link.run_connection(capture):
                    return
                reason = "the server closed the connection"
            except InvalidURI as exc:
                raise ConfigError(f"server URL {ws_url!r} is invalid ({exc}): check --server") from exc
            except (OSError, TimeoutError, ConnectionClosed, InvalidHandshake) as exc:
                raise_if_refused(exc, ws_url)
                reason = f"{type(exc).__name__}: {exc}"
            if capture.done() and not capture.cancelled() and capture.exception() is not None:
                capture.result()  # the source failed: reconnecting cannot help
            failures = 0 if link.connected_once_since_failure else failures + 1
            link.connected_once_since_failure = False
            if max_attempts is not None and failures >= max_attempts:
                raise ConnectionError(
                    f"gave up after {failures} failed attempts to reach {ws_url} ({reason}): "
                    "check that the server is running and reachable"
                )
            delay = min(backoff_max_s, backoff_initial_s * 2 ** max(0, failures - 1))
            link.report.connection_lost(reason, core.buffer.buffered / core.buffer.sample_rate, delay)
            await sleep(delay)
    finally:
        await cancel_and_wait(capture)


class _Link:
    """The socket side: successive connections for one :class:`CaptureStream`."""

    def __init__(
        self, ws_url: str, token: str, ssl: ssl_module.SSLContext | None, core: CaptureStream,
        report: CaptureReport, ready_timeout_s: float, stop_timeout_s: float,
    ) -> None:
        self.ws_url = ws_url
        self.token = token
        self.ssl = ssl
        self.core = core
        self.report = report
        self.ready_timeout_s = ready_timeout_s
        self.stop_timeout_s = stop_timeout_s
        self.wake = asyncio.Event()
        self.connected_once_since_failure = False

    async def capture(self, source: AudioSource | AsyncIterator[Samples]) -> None:
        """Move audio from the source into the buffer, connected or not."""
        buffer = self.core.buffer
        async for chunk in source:
            dropped = self.core.receive_audio(float_to_s16le(chunk))
            if dropped:
                self.report.overflow(dropped / buffer.sample_rate, buffer.dropped / buffer.sample_rate)
            self.wake.set()
        self.core.end_of_audio()
        self.wake.set()

    async def run_connection(self, capture: asyncio.Task[None]) -> bool:
        """One connection's life; True when the audio ended and the server has all of it.

        Raises ConnectionClosed (or OSError, TimeoutError) when the
        connection fails, and the core's errors when the server says stop.
        """
        headers = {"Authorization": f"Bearer {self.token}"}
        try:
            async with connect(
                self.ws_url, additional_headers=headers, ssl=self.ssl, compression=None,
                open_timeout=self.ready_timeout_s, max_size=_MAX_CONTROL_FRAME_BYTES,
            ) as ws:
                self.core.connection_made()
                return await self._converse(ws, capture)
        except ConnectionClosed as exc:
            self.core.connection_lost(exc.rcvd.code if exc.rcvd is not None else None)
            raise
        finally:
            self.core.connection_lost()

    async def _converse(self, ws: ClientConnection, capture: asyncio.Task[None]) -> bool:
        await self._send(ws)
        async with asyncio.timeout(self.ready_timeout_s):  # (wait_for could lose a Ctrl-C's cancellation)
            ready = await self._until_ready(ws)
        if ready is None:
            self.report.finished(self.core.stream_id, self.core.buffer.end)
            return True
        self.report.connected(self.core.stream_id, ready.received, ready.sending, "gap" in ready.features)
        self.connected_once_since_failure = True
        reader = asyncio.create_task(self._read(ws))
        try:
            return await self._stream(ws, capture, reader)
        except ConnectionClosed:
            # An error frame may have arrived just before the close: prefer its message.
            await asyncio.wait({reader}, timeout=_ERROR_GRACE_S)
            if reader.done() and not reader.cancelled() and isinstance(reader.exception(), AssistantError):
                reader.result()
            raise
        finally:
            await cancel_and_wait(reader)

    async def _stream(self, ws: ClientConnection, capture: asyncio.Task[None], reader: asyncio.Task[None]) -> bool:
        loop = asyncio.get_running_loop()
        stop_deadline: float | None = None
        while True:
            self.wake.clear()
            await self._send(ws)
            if capture.done() and not capture.cancelled() and capture.exception() is not None:
                capture.result()
            if self.core.finished:
                self.report.finished(self.core.stream_id, self.core.buffer.end)
                return True
            if self.core.stop_sent and stop_deadline is None:
                stop_deadline = loop.time() + self.stop_timeout_s
            waiter = asyncio.ensure_future(self.wake.wait())
            timeout = None if stop_deadline is None else max(0.0, stop_deadline - loop.time())
            await asyncio.wait({waiter, reader}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
            waiter.cancel()
            if reader.done():
                exc = reader.exception()
                if self.core.finished:
                    self.report.finished(self.core.stream_id, self.core.buffer.end)
                    return True
                if exc is not None:
                    raise exc
                return False
            if stop_deadline is not None and loop.time() >= stop_deadline:
                raise TimeoutError(f"the server did not acknowledge all audio within {self.stop_timeout_s:.0f} s "
                                   "of 'stop'")

    async def _send(self, ws: ClientConnection) -> None:
        for frame in self.core.data_to_send():
            await ws.send(frame)

    async def _until_ready(self, ws: ClientConnection) -> Ready | None:
        """The ``ready`` frame; None when the server instead confirmed that the stream is complete."""
        while True:
            event = self._receive(await ws.recv())
            if isinstance(event, Ready):
                return event
            if self.core.finished:
                return None

    async def _read(self, ws: ClientConnection) -> None:
        while True:
            self._receive(await ws.recv())
            self.wake.set()

    def _receive(self, raw: str | bytes) -> Ready | Ack | None:
        if isinstance(raw, bytes):
            self.core.receive_binary(raw)
            return None
        return self.core.receive_text(raw)
