"""The remote capture client: streams a microphone or a file to the server, losing nothing.

Protocol (docs/capture.md): connect to ``/ws/audio/{session}`` with the chair
token, send a ``start`` frame, receive ``ready`` with the samples the server
already holds, (re)send the rest from the :class:`CaptureBuffer`, then live
audio; ``ack`` frames free the buffer. Capture never pauses: while the
connection is down audio piles up in the bounded buffer and is resent after
reconnecting (exponential backoff). Auth failures and server ``error`` frames
are fatal and never retried.

Stopping loses nothing either: once the ``stop`` event given to
:func:`stream_capture` is set, :func:`until_stopped` ends the source at once
and the client sends ``stop`` and waits for the server to acknowledge every
sample read so far. ``assistant capture`` sets it on the first Ctrl-C (or
SIGTERM); a second one quits at once, exit status 130.

Call :func:`stream_capture` from asyncio code, or ``assistant capture`` via
:func:`configure_capture_parser` / :func:`run_capture_command`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import secrets
import signal
import ssl as ssl_module
import sys
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Mapping
from urllib.parse import quote, urlsplit, urlunsplit

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, ConnectionClosedOK, InvalidHandshake, InvalidStatus, InvalidURI

from .audio.capture_buffer import DEFAULT_FRAME_MS, DEFAULT_MAX_BUFFER_S, CaptureBuffer
from .audio.formats import AudioFormat, float_to_s16le
from .audio.resample import Samples
from .audio.sources import AudioSource, FileSource, MicrophoneSource
from .errors import AssistantError, AuthError, ConfigError, NotFoundError, ProtocolError

log = logging.getLogger(__name__)

TOKEN_ENV = "ASSISTANT_CHAIR_TOKEN"
CAPTURE_FORMAT = AudioFormat(sample_rate=16_000, channels=1, sample_format="s16le")
DEFAULT_BACKOFF_INITIAL_S = 0.5
DEFAULT_BACKOFF_MAX_S = 10.0
DEFAULT_READY_TIMEOUT_S = 10.0
# After "stop" the server acknowledges everything; past this we reconnect to find out why not.
DEFAULT_STOP_TIMEOUT_S = 30.0
# The server only sends small JSON control frames.
_MAX_CONTROL_FRAME_BYTES = 64 * 1024
# How long to let the reader pick up an error frame that raced a failed send.
_ERROR_GRACE_S = 1.0
_SCHEMES = {"http": "ws", "https": "wss", "ws": "ws", "wss": "wss"}
# Signals that stop a capture gracefully; the second one quits at once.
_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
# Exit status after quitting on a signal, as shells report it (130 for Ctrl-C).
_EXIT_SIGNAL_BASE = 128


def audio_url(server: str, session: str) -> str:
    """The capture endpoint for ``session`` on ``server`` (http/https/ws/wss base URL)."""
    parts = urlsplit(server.strip())
    scheme = _SCHEMES.get(parts.scheme.lower())
    if scheme is None or not parts.netloc:
        raise ConfigError(
            f"server URL {server!r} is not usable: give it like http://host:8080 or https://host"
        )
    if not session:
        raise ConfigError("session id is empty: pass --session with the session's id")
    path = f"{parts.path.rstrip('/')}/ws/audio/{quote(session, safe='')}"
    return urlunsplit((scheme, parts.netloc, path, "", ""))


def new_stream_id() -> str:
    """A fresh stream id; one per capture run, kept across reconnects."""
    return f"cap-{secrets.token_hex(8)}"


def new_capture_buffer(max_buffer_s: float = DEFAULT_MAX_BUFFER_S, frame_ms: int = DEFAULT_FRAME_MS) -> CaptureBuffer:
    """An empty replay buffer in the capture format, for :func:`stream_capture`'s ``buffer``."""
    return CaptureBuffer(
        CAPTURE_FORMAT.sample_rate, CAPTURE_FORMAT.frame_bytes, max_buffer_s=max_buffer_s, frame_ms=frame_ms
    )


async def until_stopped(source: AudioSource, stop: asyncio.Event) -> AsyncIterator[Samples]:
    """Yield ``source``'s chunks until ``stop`` is set or the source ends; then close the source.

    Ends promptly even while the source is waiting for its next chunk (a
    microphone between blocks, a file being paced): that read is cancelled, so
    audio the source had not handed out yet is never yielded. A chunk it did
    hand out is always yielded, even when ``stop`` was set in the same instant.
    """
    chunks = aiter(source)
    stopped = asyncio.ensure_future(stop.wait())
    read: asyncio.Task[Samples | None] | None = None
    try:
        while not stop.is_set():
            read = asyncio.create_task(_next_chunk(chunks))
            await asyncio.wait({read, stopped}, return_when=asyncio.FIRST_COMPLETED)
            if not read.done():
                return
            chunk = read.result()
            read = None
            if chunk is None:
                return
            yield chunk
    finally:
        stopped.cancel()
        if read is not None and not read.done():
            read.cancel()
            # The source must leave its await before it can be closed.
            await asyncio.gather(read, return_exceptions=True)
        if isinstance(chunks, AsyncGenerator):
            await chunks.aclose()


async def _next_chunk(chunks: AsyncIterator[Samples]) -> Samples | None:
    return await anext(chunks, None)


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
) -> None:
    """Stream ``source`` to ``url`` (the server's base URL) until the source ends and the server has it all.

    Returns after the server acknowledged every sample of a finite source (a
    file), or of the audio read before ``stop`` was set: setting ``stop`` ends
    reading at once (see :func:`until_stopped`) and is how a microphone
    capture ends without losing audio; without it, a microphone runs until
    cancelled. ``buffer`` (default: ``new_capture_buffer(max_buffer_s,
    frame_ms)``) holds the audio the server has not acknowledged yet; pass
    your own to watch it. Reconnects after network failures, forever unless
    ``max_attempts`` consecutive attempts fail (ConnectionError). Raises
    AuthError (bad token), NotFoundError (unknown session), ProtocolError (an
    ``error`` frame or a confused server), or the source's own AudioSourceError.
    """
    ws_url = audio_url(url, session)
    client = _CaptureClient(
        ws_url, token, stream_id or new_stream_id(), ssl if ws_url.startswith("wss:") else None,
        buffer if buffer is not None else new_capture_buffer(max_buffer_s, frame_ms),
        ready_timeout_s, stop_timeout_s,
    )
    chunks = source if stop is None else until_stopped(source, stop)
    capture = asyncio.create_task(client.capture(chunks))
    failures = 0
    try:
        while True:
            try:
                if await client.run_connection(capture):
                    return
                reason = "the server closed the connection"
            except InvalidURI as exc:
                raise ConfigError(f"server URL {ws_url!r} is invalid ({exc}): check --server") from exc
            except (OSError, TimeoutError, ConnectionClosed, InvalidHandshake) as exc:
                _raise_if_fatal(exc, ws_url)
                reason = f"{type(exc).__name__}: {exc}"
            if capture.done() and not capture.cancelled() and capture.exception() is not None:
                capture.result()  # the source failed: reconnecting cannot help
            failures = 0 if client.connected_once_since_failure else failures + 1
            client.connected_once_since_failure = False
            if max_attempts is not None and failures >= max_attempts:
                raise ConnectionError(
                    f"gave up after {failures} failed attempts to reach {ws_url} ({reason}): "
                    "check that the server is running and reachable"
                )
            delay = min(backoff_max_s, backoff_initial_s * 2 ** max(0, failures - 1))
            log.warning(
                "capture connection lost (%s); %.1f s of audio buffered; retrying in %.1f s",
                reason, client.buffer.buffered / CAPTURE_FORMAT.sample_rate, delay,
            )
            await sleep(delay)
    finally:
        capture.cancel()
        await asyncio.gather(capture, return_exceptions=True)


def _raise_if_fatal(exc: BaseException, ws_url: str) -> None:
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


class _CaptureClient:
    """State shared by the capture task and successive connections."""

    def __init__(
        self, ws_url: str, token: str, stream_id: str, ssl: ssl_module.SSLContext | None,
        buffer: CaptureBuffer, ready_timeout_s: float, stop_timeout_s: float,
    ) -> None:
        self.ws_url = ws_url
        self.token = token
        self.stream_id = stream_id
        self.ssl = ssl
        self.buffer = buffer
        self.ready_timeout_s = ready_timeout_s
        self.stop_timeout_s = stop_timeout_s
        self.wake = asyncio.Event()
        self.connected_once_since_failure = False

    async def capture(self, source: AudioSource) -> None:
        """Move audio from the source into the buffer, connected or not."""
        async for chunk in source:
            dropped = self.buffer.append(float_to_s16le(chunk))
            if dropped:
                log.error(
                    "CAPTURE BUFFER FULL: dropped %.1f s of unsent audio (%.1f s in total); "
                    "the server will get silence in its place. Restore the network!",
                    dropped / CAPTURE_FORMAT.sample_rate, self.buffer.dropped / CAPTURE_FORMAT.sample_rate,
                )
            self.wake.set()
        self.wake.set()

    async def run_connection(self, capture: asyncio.Task[None]) -> bool:
        """One connection's life; True when the source ended and the server acknowledged it all."""
        headers = {"Authorization": f"Bearer {self.token}"}
        async with connect(
            self.ws_url, additional_headers=headers, ssl=self.ssl, compression=None,
            open_timeout=self.ready_timeout_s, max_size=_MAX_CONTROL_FRAME_BYTES,
        ) as ws:
            await ws.send(json.dumps(CAPTURE_FORMAT.start_message(self.stream_id)))
            ready = await asyncio.wait_for(_read_control(ws), self.ready_timeout_s)
            if ready[0] != "ready":
                raise ProtocolError(f"expected a 'ready' frame after 'start', got {ready[0]!r}: upgrade the server")
            resend = self.buffer.pending_from(ready[1])
            log.info(
                "capture stream %s connected; server has %d samples, sending %d buffered frames",
                self.stream_id, ready[1], len(resend),
            )
            self.connected_once_since_failure = True
            reader = asyncio.create_task(self._read_acks(ws))
            try:
                for frame in resend:
                    await ws.send(frame)
                return await self._send_live(ws, capture, reader)
            except ConnectionClosed:
                # An error frame may have arrived just before the close: prefer its message.
                await asyncio.wait({reader}, timeout=_ERROR_GRACE_S)
                if reader.done() and isinstance(reader.exception(), AssistantError):
                    reader.result()
                raise
            finally:
                reader.cancel()
                await asyncio.gather(reader, return_exceptions=True)

    async def _send_live(self, ws: ClientConnection, capture: asyncio.Task[None], reader: asyncio.Task[None]) -> bool:
        stop_deadline: float | None = None
        loop = asyncio.get_running_loop()
        while True:
            self.wake.clear()
            for frame in self.buffer.frames_to_send():
                await ws.send(frame)
            if capture.done() and capture.exception() is not None:
                capture.result()
            if capture.done() and stop_deadline is None:
                await ws.send(json.dumps({"type": "stop"}))
                stop_deadline = loop.time() + self.stop_timeout_s
            if stop_deadline is not None and self.buffer.buffered == 0:
                log.info("capture stream %s finished: the server has all %d samples", self.stream_id, self.buffer.end)
                return True
            waiter = asyncio.ensure_future(self.wake.wait())
            timeout = None if stop_deadline is None else max(0.0, stop_deadline - loop.time())
            await asyncio.wait({waiter, reader}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
            waiter.cancel()
            if reader.done():
                exc = reader.exception()
                if isinstance(exc, ConnectionClosedOK) and stop_deadline is not None and exc.rcvd is not None \
                        and exc.rcvd.code == 1000 and self.buffer.buffered == 0:
                    return True
                if exc is not None:
                    raise exc
                return False
            if stop_deadline is not None and loop.time() >= stop_deadline:
                raise TimeoutError(f"the server did not acknowledge all audio within {self.stop_timeout_s:.0f} s of 'stop'")

    async def _read_acks(self, ws: ClientConnection) -> None:
        while True:
            kind, received = await _read_control(ws)
            if kind == "ack":
                self.buffer.ack(received)
                self.wake.set()


async def _read_control(ws: ClientConnection) -> tuple[str, int]:
    """The next ``ready`` or ``ack`` frame as (type, received); raises on ``error`` frames."""
    while True:
        raw = await ws.recv()
        if isinstance(raw, bytes):
            raise ProtocolError("the server sent a binary frame on the capture socket: upgrade the server")
        try:
            msg = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise ProtocolError(f"the server sent a frame that is not JSON ({raw[:80]!r}): upgrade the server") from exc
        if not isinstance(msg, dict):
            raise ProtocolError(f"the server sent {raw[:80]!r}, not a JSON object: upgrade the server")
        kind = msg.get("type")
        if kind == "error":
            _raise_error_frame(msg)
        if kind in ("ready", "ack"):
            received = msg.get("received")
            if isinstance(received, bool) or not isinstance(received, int):
                raise ProtocolError(f"{kind} frame has received={received!r}, not a sample count: upgrade the server")
            return kind, received
        log.debug("ignoring capture control frame of type %r", kind)


def _raise_error_frame(msg: Mapping[str, object]) -> None:
    code = str(msg.get("code", "error"))
    message = str(msg.get("message", "no message"))
    text = f"the server stopped the capture: {message} ({code})"
    if code in (AuthError.code, "forbidden"):
        raise AuthError(text + f"; pass the session's chair token with --token or {TOKEN_ENV}")
    if code == NotFoundError.code:
        raise NotFoundError(text + "; check --session")
    raise ProtocolError(text, code)


def configure_capture_parser(p: argparse.ArgumentParser) -> None:
    """Set up ``assistant capture`` (stream a microphone or a recording to a server)."""
    p.description = "Stream audio from this machine to a caption server, resending anything lost in a network drop."
    p.add_argument("--server", required=True, help="server base URL, e.g. http://host:8080 or https://host")
    p.add_argument("--session", required=True, help="session id to caption")
    p.add_argument("--token", help=f"chair token of the session (default: ${TOKEN_ENV})")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--device", help="input device index or name substring (see 'assistant devices')")
    src.add_argument("--source", metavar="FILE", help="stream a recording at real speed instead of a microphone")
    p.add_argument("--insecure", action="store_true", help="wss: accept any server certificate (self-signed)")
    p.add_argument("--cafile", help="wss: trust this CA/certificate file (PEM) for the server")
    p.add_argument("--max-buffer-s", type=float, default=DEFAULT_MAX_BUFFER_S,
                   help="seconds of audio kept while disconnected (default %(default).0f)")


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


def run_capture_command(args: argparse.Namespace, *, environ: Mapping[str, str] | None = None) -> int:
    """Run ``assistant capture``: 0 when done, 1 on an error, 2 on a usage problem, 130 when quit.

    The first Ctrl-C (or SIGTERM) stops reading the source and exits 0 once
    the server has every sample read; a second one quits at once (130, or 143
    for SIGTERM), losing the audio the server has not acknowledged. Where
    signal handlers cannot be installed (Windows, a thread other than the
    main one) Ctrl-C quits at once.
    """
    env = os.environ if environ is None else environ
    token = args.token or env.get(TOKEN_ENV, "")
    if not token:
        print(f"error: no chair token: pass --token or set {TOKEN_ENV}", file=sys.stderr)
        return 2
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    try:
        context = make_ssl_context(insecure=args.insecure, cafile=args.cafile)
        source: AudioSource = FileSource(args.source) if args.source else MicrophoneSource(_device_arg(args.device))
        return asyncio.run(_capture_until_signalled(
            args.server, args.session, token, source, ssl=context, buffer=new_capture_buffer(args.max_buffer_s),
        ))
    except KeyboardInterrupt:
        # No handler could be installed, or a third Ctrl-C cut a hanging shutdown short: audio is lost.
        return _EXIT_SIGNAL_BASE + signal.SIGINT
    except (AssistantError, ConnectionError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


async def _capture_until_signalled(
    server: str, session: str, token: str, source: AudioSource, *,
    ssl: ssl_module.SSLContext, buffer: CaptureBuffer,
) -> int:
    """:func:`stream_capture` with SIGINT/SIGTERM handlers: 0 when done, 128 + signal when quit."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    quit_now = asyncio.Event()
    quit_signal = signal.SIGINT

    def on_signal(sig: signal.Signals) -> None:
        nonlocal quit_signal
        if stop.is_set():
            quit_signal = sig
            quit_now.set()
            return
        stop.set()
        log.warning(
            "stopping: sending the last %.1f s of buffered audio to the server (Ctrl-C again to quit now)",
            _seconds(buffer.buffered),
        )

    installed: list[signal.Signals] = []
    for sig in _STOP_SIGNALS:
        try:
            loop.add_signal_handler(sig, on_signal, sig)
        except (NotImplementedError, RuntimeError) as exc:
            # Windows has no loop signal handlers; other threads cannot have any.
            log.debug("no graceful stop on %s (%s): Ctrl-C quits at once", sig.name, exc)
            continue
        installed.append(sig)
    capture = asyncio.create_task(
        stream_capture(server, session, token, source, ssl=ssl, stop=stop, buffer=buffer)
    )
    quitting = asyncio.ensure_future(quit_now.wait())
    quit_early = False
    try:
        await asyncio.wait({capture, quitting}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        # Removed first, so that one more Ctrl-C interrupts a close handshake that hangs.
        for sig in installed:
            loop.remove_signal_handler(sig)
        quitting.cancel()
        if not capture.done():
            quit_early = True
            capture.cancel()
            await asyncio.gather(capture, return_exceptions=True)
    if quit_early:
        print(
            f"quit: {_seconds(buffer.buffered):.1f} s of audio were not delivered to the server "
            "(unsent or unacknowledged)",
            file=sys.stderr,
        )
        return _EXIT_SIGNAL_BASE + quit_signal
    capture.result()
    return 0


def _seconds(samples: int) -> float:
    return samples / CAPTURE_FORMAT.sample_rate


def _device_arg(device: str | None) -> str | int | None:
    if device is None:
        return None
    return int(device) if device.strip().isdigit() else device
