"""The capture client against a real websockets test server on 127.0.0.1.

The test server plays the server side of docs/capture.md: it checks the
token, answers ``start`` with ``ready``, acknowledges every few frames, can
drop the TCP connection mid-stream (forgetting frames it had not yet
acknowledged, as data in flight is lost), and records what it kept.
The Ctrl-C tests run ``python -m assistant capture`` as a real subprocess
against it and send it real signals.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import signal
import sys
import wave
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from pathlib import Path

import numpy as np
import pytest
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.http11 import Request, Response

from assistant.audio.formats import PcmDecoder, float_to_s16le, parse_start_message
from assistant.capture import (
    audio_url,
    configure_capture_parser,
    new_capture_buffer,
    run_capture_command,
    stream_capture,
    until_stopped,
)
from assistant.errors import AuthError, ConfigError, NotFoundError, ProtocolError

TOKEN = "chair-secret"
REPO = Path(__file__).resolve().parents[1]
# Generous: the subprocess imports numpy and PyAV on a busy machine.
PROCESS_START_S = 60.0
PROCESS_EXIT_S = 30.0


@dataclass
class StreamState:
    decoder: PcmDecoder
    data: bytearray = field(default_factory=bytearray)
    ended: bool = False


@dataclass
class CaptureServer:
    """Knobs: ``drops[i] = (frames, forget)`` aborts connection i after ``frames`` frames, losing ``forget``;
    ``answer_stop=False`` leaves ``stop`` unanswered (and keeps what was not yet acknowledged uncommitted)."""

    drops: dict[int, tuple[int, int]] = field(default_factory=dict)
    ack_every: int = 4
    answer_stop: bool = True
    error_frame: dict[str, str] | None = None
    bytes_received: int = 0
    streams: dict[str, StreamState] = field(default_factory=dict)
    readies: list[int] = field(default_factory=list)
    attempts: int = 0
    connections: int = 0
    server: Server | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        port = self.server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    def check_request(self, connection: ServerConnection, request: Request) -> Response | None:
        self.attempts += 1
        if not request.path.startswith("/ws/audio/"):
            return connection.respond(HTTPStatus.NOT_FOUND, "no such endpoint\n")
        if request.path != "/ws/audio/talk-1":
            return connection.respond(HTTPStatus.NOT_FOUND, "unknown session\n")
        if request.headers.get("Authorization") != f"Bearer {TOKEN}":
            return connection.respond(HTTPStatus.UNAUTHORIZED, "bad token\n")
        return None

    async def handler(self, ws: ServerConnection) -> None:
        index = self.connections
        self.connections += 1
        fmt, stream_id = parse_start_message(json.loads(await ws.recv()))
        if self.error_frame is not None:
            await ws.send(json.dumps({"type": "error", **self.error_frame}))
            await ws.close(1008)
            return
        state = self.streams.setdefault(stream_id, StreamState(PcmDecoder(fmt)))
        received = state.decoder.resume()
        self.readies.append(received)
        await ws.send(json.dumps({"type": "ready", "received": received}))
        pending: list[bytes] = []  # received on this connection, not yet acknowledged

        def commit(frames: list[bytes]) -> None:
            for frame in frames:
                state.decoder.receive(frame)
                state.data += frame

        drop_after, forget = self.drops.get(index, (-1, 0))
        count = 0
        async for message in ws:
            if isinstance(message, str):
                assert json.loads(message) == {"type": "stop"}
                if not self.answer_stop:
                    await ws.wait_closed()
                    return
                commit(pending)
                state.ended = True
                await ws.send(json.dumps({"type": "ack", "received": state.decoder.samples_received}))
                await ws.close(1000)
                return
            assert len(message) <= 64 * 1024
            self.bytes_received += len(message)
            pending.append(message)
            count += 1
            if count == drop_after:
                commit(pending[: len(pending) - forget])
                ws.transport.abort()
                return
            if count % self.ack_every == 0:
                commit(pending)
                pending.clear()
                await ws.send(json.dumps({"type": "ack", "received": state.decoder.samples_received}))


@pytest.fixture
async def capture_server() -> AsyncIterator[CaptureServer]:
    state = CaptureServer()
    async with serve(state.handler, "127.0.0.1", 0, process_request=state.check_request) as server:
        state.server = server
        yield state


class ScriptedSource:
    """A finite source of distinct pseudo-random chunks, paced by a short real sleep."""

    def __init__(self, chunks: int = 30, pace_s: float = 0.004) -> None:
        rng = np.random.default_rng(7)
        self.chunks = [rng.uniform(-0.9, 0.9, 1600).astype(np.float32) for _ in range(chunks)]
        self.pace_s = pace_s

    @property
    def expected(self) -> bytes:
        return b"".join(float_to_s16le(c) for c in self.chunks)

    async def __aiter__(self) -> AsyncIterator[np.ndarray]:
        for chunk in self.chunks:
            await asyncio.sleep(self.pace_s)
            yield chunk


class EndlessSource:
    """Distinct chunks forever (chunk i is all i), or a stall after ``stall_after``; records its closing."""

    def __init__(self, pace_s: float = 0.002, stall_after: int | None = None, samples: int = 160) -> None:
        self.pace_s = pace_s
        self.stall_after = stall_after
        self.samples = samples
        self.handed_out: list[np.ndarray] = []
        self.closed = False

    async def __aiter__(self) -> AsyncIterator[np.ndarray]:
        try:
            while True:
                if len(self.handed_out) == self.stall_after:
                    await asyncio.Event().wait()
                await asyncio.sleep(self.pace_s)
                chunk = np.full(self.samples, (len(self.handed_out) + 1) / 1000, dtype=np.float32)
                self.handed_out.append(chunk)
                yield chunk
        finally:
            self.closed = True


def only_stream(server: CaptureServer) -> StreamState:
    assert len(server.streams) == 1
    return next(iter(server.streams.values()))


async def wait_until(condition: Callable[[], bool], timeout_s: float, what: str) -> None:
    async def poll() -> None:
        while not condition():
            await asyncio.sleep(0.02)

    try:
        await asyncio.wait_for(poll(), timeout_s)
    except TimeoutError:
        pytest.fail(f"waited {timeout_s:.0f} s for {what}")


async def test_until_stopped_yields_every_chunk_before_the_stop_then_closes_the_source() -> None:
    source = EndlessSource()
    stop = asyncio.Event()
    got: list[np.ndarray] = []
    async for chunk in until_stopped(source, stop):
        got.append(chunk)
        if len(got) == 5:
            stop.set()
    assert [float(c[0]) * 1000 for c in got] == pytest.approx([1, 2, 3, 4, 5])
    assert len(source.handed_out) == 5 and source.closed


async def test_until_stopped_ends_while_the_source_is_waiting_for_audio() -> None:
    source = EndlessSource(stall_after=3)
    stop = asyncio.Event()
    got: list[np.ndarray] = []

    async def consume() -> None:
        async for chunk in until_stopped(source, stop):
            got.append(chunk)

    consumer = asyncio.create_task(consume())
    await wait_until(lambda: len(got) == 3, 10, "three chunks")
    stop.set()
    await asyncio.wait_for(consumer, 5)
    assert len(got) == 3 and source.closed


async def test_until_stopped_ends_with_a_finite_source() -> None:
    source = ScriptedSource(chunks=4, pace_s=0)
    got = [chunk async for chunk in until_stopped(source, asyncio.Event())]
    assert b"".join(float_to_s16le(c) for c in got) == source.expected


async def test_stop_event_ends_the_stream_once_the_server_has_every_sample_read(
    capture_server: CaptureServer,
) -> None:
    source = EndlessSource(pace_s=0.01, samples=1600)
    stop = asyncio.Event()
    buffer = new_capture_buffer()
    streaming = asyncio.create_task(
        stream_capture(capture_server.url, "talk-1", TOKEN, source, stop=stop, buffer=buffer)
    )
    await wait_until(lambda: capture_server.bytes_received >= 8 * 3200, 20, "eight frames at the server")
    stop.set()
    await asyncio.wait_for(streaming, 20)
    stream = only_stream(capture_server)
    assert stream.ended and source.closed
    assert bytes(stream.data) == b"".join(float_to_s16le(c) for c in source.handed_out)
    assert stream.decoder.samples_received == buffer.end and buffer.buffered == 0


def test_audio_url_maps_schemes_and_quotes_the_session() -> None:
    assert audio_url("http://h:8080", "s1") == "ws://h:8080/ws/audio/s1"
    assert audio_url("https://h/base/", "a b") == "wss://h/base/ws/audio/a%20b"
    assert audio_url("ws://h:1", "x") == "ws://h:1/ws/audio/x"
    assert audio_url("wss://h", "x") == "wss://h/ws/audio/x"
    for bad in ("h:8080", "ftp://h", "http://"):
        with pytest.raises(ConfigError, match="http://host:8080"):
            audio_url(bad, "x")


async def test_every_sample_arrives_once_without_drops(capture_server: CaptureServer) -> None:
    source = ScriptedSource()
    await asyncio.wait_for(stream_capture(capture_server.url, "talk-1", TOKEN, source), 20)
    stream = only_stream(capture_server)
    assert bytes(stream.data) == source.expected
    assert stream.ended and capture_server.connections == 1 and capture_server.readies == [0]


async def test_dropped_connections_lose_and_duplicate_nothing(capture_server: CaptureServer) -> None:
    # Connection 0 dies after 7 frames, losing 2 unacknowledged; connection 1 after 5, losing 1.
    capture_server.drops = {0: (7, 2), 1: (5, 1)}
    source = ScriptedSource(chunks=40)
    await asyncio.wait_for(
        stream_capture(capture_server.url, "talk-1", TOKEN, source, backoff_initial_s=0.01), 20
    )
    stream = only_stream(capture_server)
    assert bytes(stream.data) == source.expected
    assert stream.decoder.samples_received == 40 * 1600
    assert capture_server.connections == 3
    # Sample 5 frames in (not yet acknowledged) survived the first drop: the client must skip it.
    assert capture_server.readies == [0, 5 * 1600, (5 * 1600) + 4 * 1600]
    assert stream.ended


async def test_bad_token_fails_at_once_without_retrying(capture_server: CaptureServer) -> None:
    with pytest.raises(AuthError, match="HTTP 401.*--token"):
        await asyncio.wait_for(stream_capture(capture_server.url, "talk-1", "wrong", ScriptedSource()), 10)
    assert capture_server.attempts == 1


async def test_unknown_session_fails_at_once(capture_server: CaptureServer) -> None:
    with pytest.raises(NotFoundError, match="--session"):
        await asyncio.wait_for(stream_capture(capture_server.url, "nope", TOKEN, ScriptedSource()), 10)
    assert capture_server.attempts == 1


async def test_error_frame_is_fatal_and_reported(capture_server: CaptureServer) -> None:
    capture_server.error_frame = {"code": "session_closed", "message": "the session has ended"}
    with pytest.raises(ProtocolError, match="the session has ended") as err:
        await asyncio.wait_for(stream_capture(capture_server.url, "talk-1", TOKEN, ScriptedSource()), 10)
    assert err.value.code == "session_closed"
    assert capture_server.attempts == 1


async def test_unreachable_server_backs_off_then_gives_up() -> None:
    async with serve(lambda ws: ws.close(), "127.0.0.1", 0) as probe:
        port = probe.sockets[0].getsockname()[1]
    delays: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        delays.append(seconds)

    with pytest.raises(ConnectionError, match="gave up after 4 failed attempts.*server is running"):
        await asyncio.wait_for(
            stream_capture(
                f"http://127.0.0.1:{port}", "talk-1", TOKEN, ScriptedSource(),
                max_attempts=4, backoff_initial_s=1.0, backoff_max_s=3.0, sleep=fake_sleep,
            ),
            10,
        )
    assert delays == [1.0, 2.0, 3.0]


def write_wav(path: Path, seconds: float) -> np.ndarray:
    rng = np.random.default_rng(3)
    ints = rng.integers(-32768, 32767, int(16000 * seconds)).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(ints.tobytes())
    return ints


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    configure_capture_parser(parser)
    return parser.parse_args(argv)


async def test_cli_streams_a_recording_with_the_token_from_the_environment(
    capture_server: CaptureServer, tmp_path: Path
) -> None:
    ints = write_wav(tmp_path / "rehearsal.wav", 0.45)
    args = parse(["--server", capture_server.url, "--session", "talk-1", "--source", str(tmp_path / "rehearsal.wav")])
    code = await asyncio.to_thread(run_capture_command, args, environ={"ASSISTANT_CHAIR_TOKEN": TOKEN})
    assert code == 0
    received = np.frombuffer(bytes(only_stream(capture_server).data), dtype="<i2")
    # s16 -> float -> s16 is exact.
    np.testing.assert_array_equal(received, ints)


async def test_cli_reports_a_bad_token_and_exits_non_zero(
    capture_server: CaptureServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_wav(tmp_path / "a.wav", 0.1)
    args = parse(["--server", capture_server.url, "--session", "talk-1", "--token", "bad", "--source", str(tmp_path / "a.wav")])
    assert await asyncio.to_thread(run_capture_command, args, environ={}) == 1
    assert "refused the chair token" in capsys.readouterr().err


def test_cli_without_a_token_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    args = parse(["--server", "http://127.0.0.1:9", "--session", "talk-1", "--source", "x.wav"])
    assert run_capture_command(args, environ={}) == 2
    assert "ASSISTANT_CHAIR_TOKEN" in capsys.readouterr().err


def test_cli_reports_a_missing_recording(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    args = parse(["--server", "http://127.0.0.1:9", "--session", "talk-1", "--token", "t", "--source", str(tmp_path / "none.wav")])
    assert run_capture_command(args, environ={}) == 1
    assert "does not exist" in capsys.readouterr().err


def test_tls_options_for_self_signed_servers(tmp_path: Path) -> None:
    import ssl

    from assistant.capture import make_ssl_context

    assert make_ssl_context().verify_mode == ssl.CERT_REQUIRED
    insecure = make_ssl_context(insecure=True)
    assert insecure.verify_mode == ssl.CERT_NONE and not insecure.check_hostname
    bogus = tmp_path / "ca.pem"
    bogus.write_text("not a certificate\n")
    with pytest.raises(ConfigError, match="--cafile.*PEM"):
        make_ssl_context(cafile=str(bogus))


class CaptureProcess:
    """``python -m assistant capture`` as a real subprocess, its stderr collected line by line."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.lines: list[str] = []
        self._changed = asyncio.Event()
        self._eof = False
        self._collector = asyncio.create_task(self._collect())

    @property
    def log(self) -> str:
        return "".join(self.lines)

    async def _collect(self) -> None:
        assert self.proc.stderr is not None
        async for raw in self.proc.stderr:
            self.lines.append(raw.decode(errors="replace"))
            self._changed.set()
        self._eof = True
        self._changed.set()

    async def line_with(self, text: str, timeout_s: float) -> str:
        """The first stderr line containing ``text``, waiting for it."""

        async def find() -> str:
            while True:
                for line in self.lines:
                    if text in line:
                        return line
                assert not self._eof, f"the capture ended without logging {text!r}:\n{self.log}"
                self._changed.clear()
                await self._changed.wait()

        try:
            return await asyncio.wait_for(find(), timeout_s)
        except TimeoutError:
            pytest.fail(f"no {text!r} within {timeout_s:.0f} s:\n{self.log}")

    async def until(self, condition: Callable[[], bool], timeout_s: float, what: str) -> None:
        """Wait for ``condition``, failing early (with the log) when the process exits first."""
        await wait_until(lambda: condition() or self.proc.returncode is not None, timeout_s, what)
        assert self.proc.returncode is None, f"the capture exited ({self.proc.returncode}) before {what}:\n{self.log}"

    async def exit_code(self, timeout_s: float) -> int:
        try:
            code = await asyncio.wait_for(self.proc.wait(), timeout_s)
        except TimeoutError:
            pytest.fail(f"the capture still runs {timeout_s:.0f} s later:\n{self.log}")
        await self._collector
        return code

    async def kill(self) -> None:
        if self.proc.returncode is None:
            self.proc.kill()
        await self.proc.wait()
        await self._collector


@contextlib.asynccontextmanager
async def capture_process(server_url: str, recording: Path) -> AsyncIterator[CaptureProcess]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "assistant", "capture", "--server", server_url, "--session", "talk-1",
        "--source", str(recording),
        cwd=REPO, env={**os.environ, "ASSISTANT_CHAIR_TOKEN": TOKEN},
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )
    process = CaptureProcess(proc)
    try:
        yield process
    finally:
        await process.kill()


@pytest.mark.parametrize("first", [signal.SIGINT, signal.SIGTERM], ids=["sigint", "sigterm"])
async def test_first_ctrl_c_delivers_every_sample_read_then_exits_0(
    capture_server: CaptureServer, tmp_path: Path, first: signal.Signals
) -> None:
    ints = write_wav(tmp_path / "talk.wav", 20.0)
    async with capture_process(capture_server.url, tmp_path / "talk.wav") as capture:
        # A second of audio acknowledged: the signal handlers are in place by now.
        await capture.until(lambda: sum(len(s.data) for s in capture_server.streams.values()) >= 32_000,
                            PROCESS_START_S, "a second of audio at the server")
        sent_before_signal = capture_server.bytes_received // 2
        capture.proc.send_signal(first)
        code = await capture.exit_code(PROCESS_EXIT_S)
    assert code == 0, capture.log
    assert capture.log.count("stopping: sending the last") == 1, capture.log
    finished = re.search(r"finished: the server has all (\d+) samples", capture.log)
    assert finished is not None, capture.log
    total = int(finished.group(1))
    stream = only_stream(capture_server)
    assert stream.ended, "the client never sent 'stop'"
    assert stream.decoder.samples_received == total
    np.testing.assert_array_equal(np.frombuffer(bytes(stream.data), dtype="<i2"), ints[:total])
    # It stopped reading at the signal, long before the end of the recording.
    assert sent_before_signal <= total < len(ints) // 2


async def test_second_ctrl_c_quits_at_once_with_status_130(capture_server: CaptureServer, tmp_path: Path) -> None:
    # The server never acknowledges, so the first Ctrl-C alone could not finish.
    capture_server.ack_every = 10**9
    capture_server.answer_stop = False
    write_wav(tmp_path / "talk.wav", 20.0)
    async with capture_process(capture_server.url, tmp_path / "talk.wav") as capture:
        await capture.until(lambda: capture_server.bytes_received > 0, PROCESS_START_S, "audio at the server")
        capture.proc.send_signal(signal.SIGINT)
        await capture.line_with("Ctrl-C again to quit now", PROCESS_EXIT_S)
        capture.proc.send_signal(signal.SIGINT)
        code = await capture.exit_code(PROCESS_EXIT_S)
    assert code == 130, capture.log
    lost = re.search(r"quit: (\d+\.\d) s of audio were not delivered to the server", capture.log)
    assert lost is not None, capture.log
    assert float(lost.group(1)) > 0
    assert not only_stream(capture_server).ended
