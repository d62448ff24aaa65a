"""Transcript downloads under load, over real sockets on 127.0.0.1: descriptors, the bound, HEAD,
and clients that leave mid-way (downloads and capture streams).

The server runs as ``assistant serve`` runs it (``web.AppRunner``, handlers not cancelled when
their client leaves), not as aiohttp's test server does (which cancels them).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import socket
import sqlite3
import struct
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, AsyncIterator

import aiohttp
import psutil
import pytest
from aiohttp import web

from assistant.asr.runner import RecognizerRunner
from assistant.asr.scripted import ScriptedTranscriber
from assistant.asr.types import RecognizerSettings
from assistant.config import Settings
from assistant.server.app import make_app
from assistant.server.runtime import Recognizer
from tests.conftest import CHAIR, ManualClock
from tests.test_server_crash import CHAIR as SERVED_CHAIR, free_port, start_server

TRANSCRIPT = "/api/sessions/main/transcript.srt"
LINE = "A long enough line of a long talk, so that the transcript weighs what a whole day does. " * 2


def with_limits(settings: Settings, **limits: Any) -> Settings:
    return dataclasses.replace(settings, limits=dataclasses.replace(settings.limits, **limits))


def fill(database: Path, captions: int) -> None:
    """Store ``captions`` lines in session "main" at once (a day of talk takes seconds this way)."""
    db = sqlite3.connect(database)
    with db:
        db.executemany("INSERT INTO captions (session, lang, seq, id, start_ms, end_ms, text, origin)"
                       " VALUES ('main', 'en', ?, ?, ?, ?, ?, 'asr')",
                       ((i, f"c{i}", i * 3000, i * 3000 + 2500, LINE) for i in range(1, captions + 1)))
    db.close()


def database_descriptors(database: Path) -> int:
    """Descriptors this process holds on the caption database and its -wal and -shm files."""
    return sum(1 for f in psutil.Process().open_files() if f.path.startswith(str(database)))


async def open_raw(port: int, path: str, *, receive_buffer: int | None = None,
                   method: str = "GET") -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A bare HTTP/1.1 request; ``receive_buffer`` makes a client that reads slowly hold the server back."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if receive_buffer is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", port))
    reader, writer = await asyncio.open_connection(sock=sock)
    writer.write(f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode())
    await writer.drain()
    return reader, writer


def reset(writer: asyncio.StreamWriter) -> None:
    """Leave the way a phone that loses Wi-Fi does: a TCP reset, nothing more."""
    writer.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


@dataclasses.dataclass
class Running:
    port: int


@contextlib.asynccontextmanager
async def running(app: web.Application) -> AsyncIterator[Running]:
    """``app`` served on a free port of 127.0.0.1 the way ``web.run_app`` serves it."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    runner = web.AppRunner(app)
    await runner.setup()
    try:
        await web.SockSite(runner, sock).start()
        yield Running(sock.getsockname()[1])
    finally:
        await runner.cleanup()


@pytest.fixture
async def server(settings: Settings) -> AsyncIterator[Running]:
    async with running(make_app(settings, clock=ManualClock().clock)) as server:
        yield server


async def test_concurrent_downloads_leave_no_database_descriptor_behind(server: Running, settings: Settings) -> None:
    fill(settings.storage.database_path, 40)
    database = settings.storage.database_path
    before = database_descriptors(database)
    url = f"http://127.0.0.1:{server.port}{TRANSCRIPT}"

    async def download(http: aiohttp.ClientSession) -> int:
        async with http.get(url) as resp:
            body = await resp.read()
            assert resp.status != 200 or body.count(b"-->") == 40
            return resp.status

    async def leave_early() -> None:
        _, writer = await open_raw(server.port, TRANSCRIPT)
        reset(writer)

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:
        results = await asyncio.gather(*[download(http) for _ in range(120)], *[leave_early() for _ in range(40)])
    assert [s for s in results if s is not None] == [200] * 120  # the bound queues them; none is refused
    async with asyncio.timeout(20):  # the handlers of the clients that left finish on their own
        while (now := database_descriptors(database)) != before:
            await asyncio.sleep(0.05)
    assert now == before


async def test_seventy_downloads_fit_in_a_server_of_160_descriptors(tmp_path: Path) -> None:
    """Where each download opened its own database connection, 31 of these 70 failed."""
    port = free_port()
    server = await start_server(tmp_path / "data", port)
    try:
        served = psutil.Process(server.pid)
        served.rlimit(psutil.RLIMIT_NOFILE, (160, served.rlimit(psutil.RLIMIT_NOFILE)[1]))
        base = f"http://127.0.0.1:{port}/api/sessions/main"
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:
            for i in range(40):
                async with http.post(f"{base}/captions", json={"text": f"Line {i}. " + LINE},
                                     headers={"Authorization": f"Bearer {SERVED_CHAIR}"}) as resp:
                    assert resp.status == 201

            async def download() -> tuple[int, int]:
                async with http.get(f"{base}/transcript.srt") as resp:
                    return resp.status, (await resp.read()).count(b"-->")

            results = await asyncio.gather(*[download() for _ in range(70)])
        assert results == [(200, 40)] * 70
    finally:
        server.terminate()
        server.wait(timeout=20)


async def test_a_full_house_gets_503_with_retry_after_and_head_runs_no_export(settings: Settings) -> None:
    one = with_limits(settings, max_concurrent_exports=1, export_wait_s=0)
    async with running(make_app(one, clock=ManualClock().clock)) as server:
        await full_house(server, one)


async def full_house(server: Running, one: Settings) -> None:
    fill(one.storage.database_path, 40_000)  # ~8 MB of SRT: more than the socket buffers hold
    reader, slow = await open_raw(server.port, TRANSCRIPT, receive_buffer=4096)
    head = await reader.readuntil(b"\r\n\r\n")  # prepared: the only place is taken, and stays taken
    assert head.startswith(b"HTTP/1.1 200")
    async with aiohttp.ClientSession() as http:
        async with http.get(f"http://127.0.0.1:{server.port}{TRANSCRIPT}") as busy:
            assert busy.status == 503 and int(busy.headers["Retry-After"]) >= 1
            error = (await busy.json())["error"]
            assert error["code"] == "busy" and "retry" in error["message"]
        async with http.head(f"http://127.0.0.1:{server.port}{TRANSCRIPT}") as peek:
            assert peek.status == 200 and await peek.read() == b""
            assert peek.headers["Content-Disposition"].startswith("attachment;")
            assert peek.headers["Content-Type"].startswith("application/x-subrip")
        reset(slow)
        async with asyncio.timeout(20):  # the place is given back once the server sees the reset
            while True:
                async with http.get(f"http://127.0.0.1:{server.port}/api/sessions/main/transcript.txt") as again:
                    if again.status == 200:
                        break
                await asyncio.sleep(0.05)


async def test_a_client_leaving_mid_download_is_no_error(server: Running, settings: Settings,
                                                         caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    fill(settings.storage.database_path, 40_000)
    for _ in range(3):
        reader, writer = await open_raw(server.port, TRANSCRIPT, receive_buffer=4096)
        await reader.readexactly(4096)
        reset(writer)
    await logged(caplog, TRANSCRIPT, 3)
    async with aiohttp.ClientSession() as http:
        async with http.get(f"http://127.0.0.1:{server.port}/healthz") as resp:
            assert resp.status == 200
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []
    assert "Traceback" not in caplog.text


async def logged(caplog: pytest.LogCaptureFixture, path: str, count: int) -> None:
    """Wait for ``count`` access-log lines of ``path``: the sentinel that those requests are over."""
    async with asyncio.timeout(20):
        while sum(f" {path} " in r.getMessage() for r in caplog.records if r.name == "aiohttp.access") < count:
            await asyncio.sleep(0.05)


def frame(opcode: int, payload: bytes) -> bytes:
    """A masked client WebSocket frame."""
    mask = b"\x01\x02\x03\x04"
    size = len(payload)
    length = bytes([0x80 | size]) if size < 126 else bytes([0x80 | 126]) + struct.pack("!H", size)
    return bytes([0x80 | opcode]) + length + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


async def test_a_capture_station_leaving_mid_stream_is_no_error(settings: Settings,
                                                                caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    executor = ThreadPoolExecutor(max_workers=1)

    def factory(language: str | None, glossary: tuple[str, ...], task: str = "transcribe") -> Recognizer:
        return RecognizerRunner(ScriptedTranscriber([]), None, RecognizerSettings(use_vad=False), executor=executor,
                                language=language)

    app = make_app(settings, clock=ManualClock().clock, recognizer_factory=factory)
    start = {"type": "start", "sample_rate": 16000, "channels": 1, "format": "s16le"}
    try:
        async with running(app) as server:
            await leave_three_times(server, start)
            await logged(caplog, "/ws/audio/main", 3)
    finally:
        executor.shutdown()
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []
    assert "Traceback" not in caplog.text


async def leave_three_times(server: Running, start: dict[str, Any]) -> None:
    """A capture station streams, then its network goes, three times over."""
    for attempt in range(3):
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(f"GET /ws/audio/main HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                     f"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                     f"Sec-WebSocket-Version: 13\r\nAuthorization: Bearer {CHAIR}\r\n\r\n".encode())
        await reader.readuntil(b"\r\n\r\n")
        writer.write(frame(0x1, json.dumps({**start, "stream": f"station-{attempt}"}).encode()))
        assert b'"ready"' in await reader.readuntil(b"}")
        writer.write(frame(0x2, b"\0" * 3200) * 400)  # 40 s of silence: acks are due while it arrives
        await writer.drain()
        reset(writer)
