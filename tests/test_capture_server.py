"""The real capture client against the real server's ingest, on 127.0.0.1.

The server runs with a recogniser that records every sample it is fed, so a
test can count what the session heard. The client's sources are handed
chunks by the test, and its reconnect back-off is a gate the test opens:
outages last exactly as long as a test wants, with no timing involved.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any, Literal

import aiohttp
import numpy as np
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from assistant.audio.formats import float_to_s16le
from assistant.capture import LogReport, configure_capture_parser, new_capture_buffer, run_capture_command, \
    stream_capture
from assistant.config import Settings
from assistant.errors import ProtocolError
from assistant.server.app import make_app
from assistant.server.keys import SESSIONS
from assistant.server.ingest import IngestStream
from assistant.server.runtime import SessionRuntime
from tests.conftest import CHAIR, ManualClock, bearer
from tests.test_capture import TOKEN, CaptureServer, capture_server, only_stream, write_wav

__all__ = ["capture_server"]

CHUNK = 1600  # 100 ms at 16 kHz, as sources hand them out
WAIT_S = 30.0  # generous: only ever spent when a test is about to fail


class RecordingRecognizer:
    """Says nothing; keeps every sample it is fed, and tells when its feed ended."""

    def __init__(self) -> None:
        self.chunks: list[np.ndarray] = []
        self.done = asyncio.Event()

    @property
    def samples(self) -> int:
        return sum(len(c) for c in self.chunks)

    def pcm(self) -> bytes:
        """What the session heard, as the s16le the client sent (exact for s16 input)."""
        return float_to_s16le(np.concatenate(self.chunks)) if self.chunks else b""

    async def run(self, audio: AsyncIterator[np.ndarray], on_event: Callable[[object], None]) -> None:
        try:
            async for chunk in audio:
                self.chunks.append(chunk)
        finally:
            self.done.set()


class Server:
    def __init__(self, app: web.Application, url: str, recognizers: list[RecordingRecognizer]) -> None:
        self.app = app
        self.url = url
        self.recognizers = recognizers

    @property
    def runtime(self) -> SessionRuntime:
        room = self.app[SESSIONS].get("main")
        assert isinstance(room, SessionRuntime)  # make_app serves its rooms in-process
        return room

    def stream(self, stream_id: str) -> IngestStream:
        stream = self.runtime.ingest_streams[stream_id]
        assert isinstance(stream, IngestStream)
        return stream

    def received(self, stream_id: str) -> int:
        """Samples of the stream the server holds (0 before it started)."""
        stream = self.runtime.ingest_streams.get(stream_id)
        return stream.received if isinstance(stream, IngestStream) else 0

    async def cut(self, stream_id: str) -> None:
        """Close the stream's connection from the server's side, as a failing network would."""
        socket = self.stream(stream_id).socket
        assert socket is not None, "the stream has no connection to cut"
        await socket.close(code=aiohttp.WSCloseCode.INTERNAL_ERROR)

    async def end_session(self) -> None:
        """The chair presses End (through the HTTP API, as a console would)."""
        async with aiohttp.ClientSession() as http, http.post(
                f"{self.url}/api/sessions/main/control", json={"action": "end"}, headers=bearer(CHAIR)) as resp:
            assert resp.status == 200, await resp.text()


@pytest.fixture
async def server(settings: Settings) -> AsyncIterator[Server]:
    made: list[RecordingRecognizer] = []

    def factory(language: str | None, glossary: tuple[str, ...],
                task: Literal["transcribe", "translate"] = "transcribe") -> RecordingRecognizer:
        made.append(RecordingRecognizer())
        return made[-1]

    app = make_app(settings, clock=ManualClock().clock, recognizer_factory=factory)
    test_server = TestServer(app, host="127.0.0.1")
    await test_server.start_server()
    try:
        yield Server(app, str(test_server.make_url("")).rstrip("/"), made)
    finally:
        await test_server.close()


class HandedSource:
    """Audio the test hands out chunk by chunk: distinct pseudo-random values, so loss or repeats show."""

    def __init__(self) -> None:
        self._queue: asyncio.Queue[np.ndarray | None] = asyncio.Queue()
        self._rng = np.random.default_rng(11)
        self.given: list[np.ndarray] = []

    def give(self, chunks: int) -> None:
        for _ in range(chunks):
            chunk = self._rng.uniform(-0.9, 0.9, CHUNK).astype(np.float32)
            self.given.append(chunk)
            self._queue.put_nowait(chunk)

    def end(self) -> None:
        self._queue.put_nowait(None)

    @property
    def pcm(self) -> bytes:
        return b"".join(float_to_s16le(c) for c in self.given)

    @property
    def samples(self) -> int:
        return len(self.given) * CHUNK

    async def __aiter__(self) -> AsyncIterator[np.ndarray]:
        while (chunk := await self._queue.get()) is not None:
            yield chunk


class Gate:
    """The client's back-off sleep: open, it returns at once; closed, it waits until the test opens it."""

    def __init__(self) -> None:
        self._open = asyncio.Event()
        self._open.set()
        self.waiting = asyncio.Event()
        self.delays: list[float] = []

    def close(self) -> None:
        self._open.clear()
        self.waiting.clear()

    def open(self) -> None:
        self._open.set()

    async def sleep(self, seconds: float) -> None:
        self.delays.append(seconds)
        self.waiting.set()
        await self._open.wait()


class Report(LogReport):
    """The log lines, plus what each ``ready`` said."""

    def __init__(self) -> None:
        self.readies: list[tuple[int, bool]] = []
        self.connected_event = asyncio.Event()

    def connected(self, stream_id: str, received: int, sending: int, gaps: bool) -> None:
        super().connected(stream_id, received, sending, gaps)
        self.readies.append((received, gaps))
        self.connected_event.set()


async def until(condition: Callable[[], bool], what: str) -> None:
    async def poll() -> None:
        while not condition():
            await asyncio.sleep(0.01)

    try:
        await asyncio.wait_for(poll(), WAIT_S)
    except TimeoutError:
        pytest.fail(f"waited {WAIT_S:.0f} s for {what}")


@contextlib.asynccontextmanager
async def capturing(server: Server, source: HandedSource, stream_id: str, **kwargs: Any) -> AsyncIterator[
        asyncio.Task[None]]:
    task = asyncio.create_task(stream_capture(server.url, "main", CHAIR, source, stream_id=stream_id, **kwargs))
    try:
        yield task
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


@contextlib.asynccontextmanager
async def station(server: Server, stream_id: str) -> AsyncIterator[aiohttp.ClientWebSocketResponse]:
    """Another capture station, by hand: connected, started, ``ready`` read."""
    async with aiohttp.ClientSession() as http, http.ws_connect(f"{server.url}/ws/audio/main",
                                                                headers=bearer(CHAIR)) as ws:
        await ws.send_json({"type": "start", "sample_rate": 16000, "channels": 1, "format": "s16le",
                            "stream": stream_id})
        ready = await ws.receive_json()
        assert ready["type"] == "ready" and ready["features"] == ["gap"], ready
        yield ws


async def test_reconnect_with_the_same_stream_resumes_from_ready_with_nothing_lost_or_doubled(
        server: Server) -> None:
    source, gate, report = HandedSource(), Gate(), Report()
    async with capturing(server, source, "cap-resume", sleep=gate.sleep, report=report) as task:
        source.give(20)
        await until(lambda: server.received("cap-resume") >= 10 * CHUNK, "a second of audio at the server")
        gate.close()
        await server.cut("cap-resume")
        await gate.waiting.wait()  # the client lost the connection and waits to reconnect
        source.give(20)  # recorded while disconnected
        gate.open()
        source.give(10)
        source.end()
        await asyncio.wait_for(task, WAIT_S)
    recognizer = server.recognizers[-1]
    await asyncio.wait_for(recognizer.done.wait(), WAIT_S)
    assert len(server.recognizers) == 1  # one stream, one feed: the reconnect resumed it
    assert [received for received, _ in report.readies][0] == 0
    resumed_at = report.readies[1][0]
    assert 10 * CHUNK <= resumed_at <= 20 * CHUNK  # what the server held when it was cut, not what it acknowledged
    assert recognizer.pcm() == source.pcm  # every sample once, in order
    assert server.stream("cap-resume").stopped


async def test_a_long_outage_keeps_the_servers_audio_time_exact(server: Server) -> None:
    """A drop longer than the client's buffer: what it had to drop reaches the server as a gap of silence."""
    source, gate, report = HandedSource(), Gate(), Report()
    buffer = new_capture_buffer(max_buffer_s=0.5)
    async with capturing(server, source, "cap-outage", sleep=gate.sleep, report=report, buffer=buffer) as task:
        await report.connected_event.wait()
        source.give(3)
        await until(lambda: server.received("cap-outage") == 3 * CHUNK, "audio at the server")
        gate.close()
        await server.cut("cap-outage")
        await gate.waiting.wait()
        source.give(30)  # three seconds of outage; the buffer keeps the last half second
        await until(lambda: buffer.end == 33 * CHUNK, "the outage's audio in the client's buffer")
        assert buffer.dropped > 0 and buffer.buffered == 8000
        gate.open()
        await until(lambda: len(report.readies) == 2 and buffer.unsent == 0, "the resend after reconnecting")
        source.give(5)  # (given all at once, they would push out audio not sent yet: a gap of its own)
        source.end()
        await asyncio.wait_for(task, WAIT_S)
    recognizer = server.recognizers[-1]
    await asyncio.wait_for(recognizer.done.wait(), WAIT_S)
    assert recognizer.samples == source.samples == 38 * CHUNK  # audio time on the server = audio time recorded
    resumed_at, gaps = report.readies[1]
    assert gaps and server.stream("cap-outage").gap_samples == buffer.gap_samples > 0
    expected = bytearray(source.pcm)
    expected[2 * resumed_at: 2 * (resumed_at + buffer.gap_samples)] = bytes(2 * buffer.gap_samples)
    assert recognizer.pcm() == bytes(expected)  # silence exactly where audio was lost, the rest untouched


async def test_a_newer_connection_closes_the_older_one_with_4409(server: Server) -> None:
    async with station(server, "desk-1") as first:
        await first.send_bytes(b"\x01\x00" * CHUNK)
        async with station(server, "desk-1") as second:  # the same stream from a new connection: it resumes
            error = await first.receive_json()
            assert error["type"] == "error" and error["code"] == "replaced"
            closing = await first.receive()
            assert closing.type == aiohttp.WSMsgType.CLOSE and closing.data == 4409
            await second.send_str(json.dumps({"type": "stop"}))
            assert await second.receive_json() == {"type": "ack", "received": CHUNK}


async def test_another_capture_takes_over_and_the_older_client_stops_with_an_error(server: Server) -> None:
    source = HandedSource()
    report = Report()
    async with capturing(server, source, "cap-old", report=report) as task:
        source.give(3)
        await report.connected_event.wait()
        async with station(server, "cap-new") as newer:
            with pytest.raises(ProtocolError, match="another capture connection (for this session )?took over") as err:
                await asyncio.wait_for(task, WAIT_S)
            assert err.value.code == "replaced"
            await newer.send_bytes(b"\0\0" * CHUNK)  # the newer one carries on
            await newer.send_str(json.dumps({"type": "stop"}))
            assert await newer.receive_json() == {"type": "ack", "received": CHUNK}


async def test_a_stream_ended_by_the_chair_stops_the_client_with_stream_ended(server: Server) -> None:
    source = HandedSource()
    report = Report()
    async with capturing(server, source, "cap-ended", report=report) as task:
        source.give(5)
        await until(lambda: server.received("cap-ended") == 5 * CHUNK, "half a second at the server")
        await server.end_session()
        assert server.runtime.feed is None
        source.give(1)  # the next frame meets the ended stream
        with pytest.raises(ProtocolError, match="the chair ended the session's audio") as err:
            await asyncio.wait_for(task, WAIT_S)
    assert err.value.code == "stream_ended"
    assert server.runtime.state == "ended"


async def test_a_client_that_comes_back_after_another_stream_took_over_gets_stream_ended(server: Server) -> None:
    source, gate = HandedSource(), Gate()
    async with capturing(server, source, "cap-away", sleep=gate.sleep) as task:
        source.give(5)
        await until(lambda: server.received("cap-away") == 5 * CHUNK, "half a second at the server")
        gate.close()
        await server.cut("cap-away")
        await gate.waiting.wait()
        async with station(server, "cap-other") as newer:  # another station took over meanwhile
            gate.open()
            with pytest.raises(ProtocolError, match="another capture took over") as err:
                await asyncio.wait_for(task, WAIT_S)
            assert err.value.code == "stream_ended"
            await newer.send_str(json.dumps({"type": "stop"}))  # refusing the old stream left the new one alone
            assert await newer.receive_json() == {"type": "ack", "received": 0}


async def test_cli_reports_an_ended_stream_and_exits_1(server: Server, tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    write_wav(tmp_path / "talk.wav", 30.0)
    parser = configure_parser()
    args = parser.parse_args(["--server", server.url, "--session", "main", "--source", str(tmp_path / "talk.wav")])
    running = asyncio.create_task(asyncio.to_thread(run_capture_command, args, environ={"ASSISTANT_CHAIR_TOKEN": CHAIR}))
    await until(lambda: bool(server.runtime.ingest_streams) and server.runtime.feed is not None
                and server.runtime.feed.samples > 0, "audio from the capture command")
    await server.end_session()
    assert await asyncio.wait_for(running, WAIT_S) == 1
    err = capsys.readouterr().err
    assert "error: the server ended capture stream cap-" in err
    assert "run the capture again to start a new stream" in err


def configure_parser() -> Any:
    import argparse

    parser = argparse.ArgumentParser()
    configure_capture_parser(parser)
    return parser


async def test_an_older_server_without_gap_frames_gets_silence_of_the_same_length(
        capture_server: CaptureServer) -> None:
    """The fake server of test_capture.py lists no features in ``ready``: the client sends silence instead."""
    capture_server.drops = {0: (5, 0)}  # the first connection dies after five frames, all of them kept
    source, gate = HandedSource(), Gate()
    buffer = new_capture_buffer(max_buffer_s=0.5)
    task = asyncio.create_task(stream_capture(capture_server.url, "talk-1", TOKEN, source, sleep=gate.sleep,
                                              buffer=buffer))
    try:
        gate.close()
        source.give(5)
        await gate.waiting.wait()
        source.give(30)
        await until(lambda: buffer.end == 35 * CHUNK, "the outage's audio in the client's buffer")
        gate.open()
        await until(lambda: len(capture_server.readies) == 2 and buffer.unsent == 0, "the resend after reconnecting")
        source.give(5)
        source.end()
        await asyncio.wait_for(task, WAIT_S)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    stream = only_stream(capture_server)
    assert capture_server.readies == [0, 5 * CHUNK]
    assert stream.decoder.samples_received == source.samples == 40 * CHUNK
    expected = bytearray(source.pcm)
    expected[2 * 5 * CHUNK: 2 * (5 * CHUNK + buffer.gap_samples)] = bytes(2 * buffer.gap_samples)
    assert buffer.gap_samples == 30 * CHUNK - 8000
    assert bytes(stream.data) == bytes(expected)
