"""Hostile input from every side: the server answers with errors or close codes, keeps running, loses nothing.

Each test starts one in-process server (aiohttp test client) on an event loop it
drives itself, so hypothesis can run many examples against the same server and
then check that the captions stored before the fuzzing are all still there.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import math
import struct
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, TypeVar

from aiohttp import WSMsgType, WSServerHandshakeError, web
from aiohttp.test_utils import TestClient, TestServer
from hypothesis import HealthCheck, given, settings as hsettings, strategies as st

from assistant.asr.runner import RecognizerRunner
from assistant.asr.scripted import ScriptedTranscriber
from assistant.asr.types import RecognizerSettings
from assistant.config import Settings
from assistant.server.app import make_app
from assistant.server.runtime import Recognizer
from tests.conftest import CHAIR, STAFF, ManualClock, bearer

T = TypeVar("T")
FRAME_LIMIT = 4096  # small, so that "enormous" inputs are cheap to make
BEFORE = [f"Caption number {i} before the storm." for i in range(6)]
FUZZ = hsettings(max_examples=120, deadline=None, database=None,
                 suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
SENTINEL = '{"type":"%s"}'  # an unknown type: always answered by an error frame naming it, in order
ALLOWED_CLOSE = {1000, 1009, 4400, 4404, 4409}

scalars = (st.none() | st.booleans() | st.integers() | st.integers(min_value=2**53) | st.floats()
           | st.text(max_size=30) | st.text(min_size=2000, max_size=2100))
json_values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(st.text(max_size=10), inner, max_size=4), max_leaves=12)
FIELDS = ("type", "text", "lang", "id", "title", "glossary", "public", "key", "action", "since", "stream")
messages = st.dictionaries(st.sampled_from(FIELDS), json_values, max_size=5).flatmap(
    lambda d: st.sampled_from(["ping", "caption_text", "correct", "pause", "resume", "start", "update",
                               "hello", "", "CAPTION_TEXT"]).map(lambda t: {**d, "type": d.get("type", t)}))
text_frames = (messages.map(lambda m: json.dumps(m)) | json_values.map(json.dumps)
               | st.text(max_size=200) | st.just("[" * 3000) | st.just('"' + "ж" * (FRAME_LIMIT // 2) + '"'))
frames = st.one_of(text_frames.map(lambda t: (WSMsgType.TEXT, t)),
                   st.binary(max_size=300).map(lambda b: (WSMsgType.BINARY, b)),
                   st.integers(FRAME_LIMIT + 1, FRAME_LIMIT * 3).map(lambda n: (WSMsgType.TEXT, "x" * n)))


def fuzz_settings(settings: Settings) -> Settings:
    limits = dataclasses.replace(settings.limits, max_message_bytes=FRAME_LIMIT, message_burst=1_000_000,
                                 max_connections_per_ip=1000)
    return dataclasses.replace(settings, limits=limits)


def run_against_server(settings: Settings, body: Callable[[asyncio.Runner, TestClient[web.Request, web.Application]], None],
                       recognizer_factory: Any = None) -> None:
    """Start one server, store BEFORE, call ``body``, then check the server is alive and lost nothing."""
    with asyncio.Runner() as runner:
        app = make_app(fuzz_settings(settings), clock=ManualClock().clock, recognizer_factory=recognizer_factory)
        client = runner.run(start_client(app))
        try:
            for text in BEFORE:
                runner.run(client.post("/api/sessions/main/captions", json={"text": text}, headers=bearer(CHAIR)))
            body(runner, client)
            runner.run(check_nothing_lost(client))
        finally:
            runner.run(client.close())


async def start_client(app: web.Application) -> TestClient[web.Request, web.Application]:
    client = TestClient(TestServer(app, host="127.0.0.1"))
    await client.start_server()
    return client


async def check_nothing_lost(client: TestClient[web.Request, web.Application]) -> None:
    health = await client.get("/healthz")
    assert health.status == 200
    ws = await client.ws_connect("/ws/captions/main?since=0", headers=bearer(STAFF))
    hello = json.loads((await ws.receive()).data)
    caps: list[dict[str, Any]] = []
    async with asyncio.timeout(10):
        while len(caps) < hello["seq"]:
            frame = json.loads((await ws.receive()).data)
            if frame["type"] == "caption":
                caps.append(frame)
    await ws.close()
    assert [c["seq"] for c in caps] == list(range(1, hello["seq"] + 1))
    assert [c["text"] for c in caps[:len(BEFORE)]] == BEFORE
    resp = await client.post("/api/sessions/main/captions", json={"text": "After the storm."}, headers=bearer(CHAIR))
    assert resp.status == 201, await resp.text()


def check_error(frame: dict[str, Any]) -> None:
    assert isinstance(frame["code"], str) and frame["code"]
    assert isinstance(frame["message"], str) and "Traceback" not in frame["message"]
    assert len(frame["message"]) < 1000  # a fix, not an echo of the input


async def send(ws: Any, kind: WSMsgType, data: str | bytes) -> None:
    if kind == WSMsgType.TEXT:
        await ws.send_str(data)
    else:
        await ws.send_bytes(data)


async def until_sentinel(ws: Any, mark: str) -> int | None:
    """Read up to the error frame answering ``mark``; return None, or the close code if the socket closed."""
    async with asyncio.timeout(10):
        while True:
            msg = await ws.receive()
            if msg.type != WSMsgType.TEXT:
                assert msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSED, WSMsgType.CLOSING), msg
                code = msg.data if msg.type == WSMsgType.CLOSE else ws.close_code
                assert code in ALLOWED_CLOSE, (code, msg.extra)
                return int(code)
            frame = json.loads(msg.data)
            if frame["type"] == "error":
                check_error(frame)
                if repr(mark) in frame["message"]:
                    return None


def socket_fuzz(settings: Settings, path: str, headers: dict[str, str]) -> None:
    def body(runner: asyncio.Runner, client: TestClient[web.Request, web.Application]) -> None:
        state: dict[str, Any] = {"ws": None, "n": 0}

        async def one(kind: WSMsgType, data: str | bytes) -> None:
            if state["ws"] is None or state["ws"].closed:
                state["ws"] = await client.ws_connect(path, headers=headers)
            ws = state["ws"]
            state["n"] += 1
            mark = f"sentinel-{state['n']}"
            await send(ws, kind, data)
            if not ws.closed:
                await ws.send_str(SENTINEL % mark)
            code = await until_sentinel(ws, mark)
            big = len(data.encode() if isinstance(data, str) else data) > FRAME_LIMIT
            if big:
                assert code == 1009
            elif kind == WSMsgType.BINARY and path.startswith("/ws/chair"):
                assert code == 4400  # audio goes to /ws/audio
            else:
                assert code is None  # a bad message costs an error frame, not the stream

        @FUZZ
        @given(frames)
        def example(frame: tuple[WSMsgType, str | bytes]) -> None:
            runner.run(one(*frame))

        example()
        if state["ws"] is not None:
            runner.run(state["ws"].close())
        # whatever the chair did, the session is public and live again for the checks
        runner.run(client.patch("/api/sessions/main", json={"public": True, "key": ""}, headers=bearer(CHAIR)))

    run_against_server(settings, body)


def test_fuzz_chair_socket(settings: Settings) -> None:
    socket_fuzz(settings, "/ws/chair/main", bearer(CHAIR))


def test_fuzz_reader_socket(settings: Settings) -> None:
    socket_fuzz(settings, "/ws/captions/main", {})


queries = st.fixed_dictionaries({}, optional={
    "lang": st.text(max_size=12) | st.sampled_from(["en", "fr", "EN", "e", "en-GB", "zzz-zzzzzzzzz"]),
    "since": st.text(max_size=12) | st.integers(-5, 2**70).map(str) | st.just("٣"),
    "key": st.text(max_size=20),
})


def test_fuzz_reader_query_parameters(settings: Settings) -> None:
    def body(runner: asyncio.Runner, client: TestClient[web.Request, web.Application]) -> None:
        async def one(params: dict[str, str]) -> None:
            try:
                ws = await client.ws_connect("/ws/captions/main", params=params)
            except WSServerHandshakeError as exc:
                assert exc.status == 400, exc
                return
            first = json.loads((await ws.receive()).data)
            if first["type"] == "error":
                check_error(first)
                closing = await ws.receive()
                assert closing.type == WSMsgType.CLOSE and closing.data in (4400, 4406)
            else:
                assert first["type"] == "hello"
                await ws.close()

        @FUZZ
        @given(queries)
        def example(params: dict[str, str]) -> None:
            runner.run(one(params))

        example()

    run_against_server(settings, body)


ENDPOINTS = [("POST", "/api/sessions/main/captions", CHAIR), ("PATCH", "/api/sessions/main/captions/{id}", CHAIR),
             ("POST", "/api/sessions/main/control", CHAIR), ("PATCH", "/api/sessions/main", CHAIR),
             ("POST", "/api/sessions", STAFF)]
bodies = (messages.map(lambda m: json.dumps(m).encode()) | json_values.map(lambda v: json.dumps(v).encode())
          | st.binary(max_size=200) | st.just(b"[" * 50_000) | st.just(b"{\"a\":" * 20_000) | st.text(max_size=50).map(str.encode)
          | st.fixed_dictionaries({"id": st.from_regex(r"[a-z][a-z0-9_-]{0,8}", fullmatch=True) | st.text(max_size=70)},
                                  optional={"public": json_values, "key": json_values, "title": json_values,
                                            "language": json_values}).map(lambda d: json.dumps(d).encode()))


def test_fuzz_http_json_bodies(settings: Settings) -> None:
    def body(runner: asyncio.Runner, client: TestClient[web.Request, web.Application]) -> None:
        async def one(endpoint: int, data: bytes) -> None:
            method, path, token = ENDPOINTS[endpoint]
            first = (await (await client.get("/api/sessions/main/transcript.txt")).text()).strip()
            resp = await client.request(method, path.replace("{id}", "x" if not first else "nope"), data=data,
                                        headers={**bearer(token), "Content-Type": "application/json"})
            payload = await resp.json()
            # 409: a POST /api/sessions of an id an earlier example created
            assert resp.status in (200, 201, 400, 404, 409), (resp.status, payload)
            if resp.status >= 400:
                check_error(payload["error"])

        @FUZZ
        @given(st.integers(0, len(ENDPOINTS) - 1), bodies)
        def example(endpoint: int, data: bytes) -> None:
            runner.run(one(endpoint, data))

        example()
        runner.run(client.patch("/api/sessions/main", json={"public": True, "key": ""}, headers=bearer(CHAIR)))

    run_against_server(settings, body)


good_starts = st.fixed_dictionaries({
    "type": st.just("start"), "sample_rate": st.sampled_from([16000, 48000, 8000, 44100, 11025]),
    "channels": st.sampled_from([1, 2]), "format": st.sampled_from(["s16le", "f32le"]),
    # Fresh ids as well as two reused ones: a stream that has ended (stopped or replaced) is refused for good.
    "stream": st.sampled_from(["cap-1", "cap-2"]) | st.uuids().map(lambda u: f"cap-{u.hex}")}).map(json.dumps)
bad_starts = st.one_of(
    st.fixed_dictionaries({"type": st.sampled_from(["start", "stop", None]),
                           "sample_rate": json_values | st.sampled_from([0, -16000, 7999, 48001, 16000.0, 10**9,
                                                                         math.nan, math.inf, True]),
                           "channels": json_values | st.sampled_from([0, 3, 1.5, -1]),
                           "format": json_values | st.sampled_from(["s16be", "f64le", "S16LE"]),
                           "stream": json_values | st.sampled_from(["", "a b", "x" * 200, "ok"])}),
    json_values,
).map(json.dumps) | st.text(max_size=50) | st.just("[" * 3000) | st.binary(max_size=20)
audio_actions = st.lists(st.one_of(
    st.binary(max_size=999).map(lambda b: ("bytes", b)),  # odd and truncated byte counts
    st.lists(st.floats(width=32), min_size=1, max_size=64).map(lambda f: ("bytes", struct.pack(f"<{len(f)}f", *f))),
    st.integers(FRAME_LIMIT + 1, FRAME_LIMIT * 4).map(lambda n: ("bytes", b"\x01" * n)),
    text_frames.map(lambda t: ("text", t)),
    st.just(("text", '{"type":"stop"}')),
), min_size=1, max_size=8)


def test_fuzz_audio_endpoint(settings: Settings) -> None:
    executor = ThreadPoolExecutor(max_workers=1)

    def factory(language: str | None, glossary: tuple[str, ...]) -> Recognizer:
        return RecognizerRunner(ScriptedTranscriber([]), None, RecognizerSettings(use_vad=False), executor=executor,
                                language=language)

    def body(runner: asyncio.Runner, client: TestClient[web.Request, web.Application]) -> None:
        async def one(start: str | bytes, actions: list[tuple[str, Any]]) -> None:
            ws = await client.ws_connect("/ws/audio/main", headers=bearer(CHAIR))
            await send(ws, WSMsgType.TEXT if isinstance(start, str) else WSMsgType.BINARY, start)
            first = await ws.receive()
            if first.type != WSMsgType.TEXT:
                assert first.type == WSMsgType.CLOSE and first.data in ALLOWED_CLOSE, first
                return
            frame = json.loads(first.data)
            if frame["type"] == "error":
                check_error(frame)
                closing = await ws.receive()
                assert closing.type == WSMsgType.CLOSE and closing.data == 4400
                return
            assert isinstance(start, str) and json.loads(start)["type"] == "start"
            assert frame["type"] == "ready" and frame["received"] >= 0
            for kind, data in actions:
                if ws.closed:
                    break
                await send(ws, WSMsgType.TEXT if kind == "text" else WSMsgType.BINARY, data)
                answered = 1 if kind == "text" and len(data.encode()) <= FRAME_LIMIT and audio_type(data) not in (
                    "stop", "ping") else 0
                if not ws.closed:
                    await ws.send_str(SENTINEL_AUDIO)
                await until_audio_sentinel(ws, answered + 1)
            await ws.close()

        @FUZZ
        @given(good_starts, audio_actions)
        def stream(start: str, actions: list[tuple[str, Any]]) -> None:
            runner.run(one(start, actions))

        @FUZZ
        @given(bad_starts, audio_actions)
        def refused_start(start: str | bytes, actions: list[tuple[str, Any]]) -> None:
            runner.run(one(start, actions))

        stream()
        refused_start()

    try:
        run_against_server(settings, body, recognizer_factory=factory)
    finally:
        executor.shutdown()


SENTINEL_AUDIO = '{"type":"sentinel"}'  # a text frame mid-stream: answered "expected binary audio frames"


def audio_type(data: str) -> object:
    try:
        obj = json.loads(data)
    except (ValueError, RecursionError):
        return None
    return obj.get("type") if isinstance(obj, dict) else None


async def until_audio_sentinel(ws: Any, answers: int) -> None:
    """Read until ``answers`` text frames were refused (the last one is the sentinel), or the socket closed."""
    async with asyncio.timeout(10):
        while answers:
            msg = await ws.receive()
            if msg.type != WSMsgType.TEXT:
                code = msg.data if msg.type == WSMsgType.CLOSE else ws.close_code
                assert code in ALLOWED_CLOSE, (code, msg)
                return
            frame = json.loads(msg.data)
            assert frame["type"] in ("ack", "error"), frame
            if frame["type"] == "error":
                check_error(frame)
                if frame["message"].startswith("expected binary audio frames"):
                    answers -= 1
