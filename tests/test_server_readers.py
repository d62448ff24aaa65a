"""Readers' socket: hello, replay with since, live captions, exact resume, slow readers, bad input."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from aiohttp import WSMsgType
from aiohttp import web
from aiohttp.test_utils import TestClient

from assistant import protocol
from assistant.config import Settings
from assistant.hub.memory import MemoryBus
from assistant.server.app import make_app
from assistant.server.keys import BUS, SESSIONS
from assistant.server.runtime import SessionRuntime
from tests.helpers.recognizers import silent_factory
from tests.conftest import CHAIR, ManualClock, bearer


@pytest.fixture
async def client(aiohttp_client: Any, settings: Settings) -> TestClient[web.Request, web.Application]:
    app = make_app(settings, clock=ManualClock().clock)
    return await aiohttp_client(app)  # type: ignore[no-any-return]


async def say(client: TestClient[web.Request, web.Application], text: str) -> dict[str, Any]:
    resp = await client.post("/api/sessions/main/captions", json={"text": text}, headers=bearer(CHAIR))
    assert resp.status == 201, await resp.text()
    return await resp.json()  # type: ignore[no-any-return]


async def frames_until(ws: Any, kind: str, count: int = 1, timeout: float = 5) -> list[dict[str, Any]]:
    got: list[dict[str, Any]] = []
    async with asyncio.timeout(timeout):
        while len([f for f in got if f["type"] == kind]) < count:
            msg = await ws.receive()
            assert msg.type == WSMsgType.TEXT, msg
            got.append(json.loads(msg.data))
    return got


async def test_hello_then_live_caption(client: TestClient[web.Request, web.Application]) -> None:
    ws = await client.ws_connect("/ws/captions/main")
    hello = json.loads((await ws.receive()).data)
    assert hello["type"] == "hello" and hello["protocol"] == 1 and hello["session"] == "main"
    assert hello["source_lang"] == "en" and hello["languages"] == ["en"] and hello["seq"] == 0
    await say(client, "Good morning, everyone.")
    frames = await frames_until(ws, "caption")
    cap = frames[-1]
    assert cap["text"] == "Good morning, everyone." and cap["seq"] == 1 and cap["final"] is True
    assert cap["lang"] == "en" and cap["end_ms"] >= cap["start_ms"] >= 0 and cap["revision"] == 0
    await ws.close()


async def test_reconnect_with_since_gets_exactly_the_missed_captions(client: TestClient[web.Request, web.Application]) -> None:
    for i in range(3):
        await say(client, f"Sentence number {i}.")
    ws = await client.ws_connect("/ws/captions/main?since=0")
    frames = await frames_until(ws, "caption", 3)
    seqs = [f["seq"] for f in frames if f["type"] == "caption"]
    assert seqs == [1, 2, 3]
    await ws.close()
    for i in range(3, 6):  # said while the reader was away
        await say(client, f"Sentence number {i}.")
    ws = await client.ws_connect("/ws/captions/main?since=3")
    frames = await frames_until(ws, "caption", 3)
    await say(client, "Sentence number 6.")
    frames += await frames_until(ws, "caption", 1)
    caps = [f for f in frames if f["type"] == "caption"]
    assert [c["seq"] for c in caps] == [4, 5, 6, 7]
    assert [c["text"] for c in caps] == [f"Sentence number {i}." for i in range(3, 7)]
    # nothing else arrives before a sentinel line: no duplicates
    await say(client, "Sentinel.")
    sentinel = [f for f in await frames_until(ws, "caption", 1) if f["type"] == "caption"]
    assert [(c["seq"], c["text"]) for c in sentinel] == [(8, "Sentinel.")]
    await ws.close()


async def test_slow_reader_does_not_delay_fast_one_and_resyncs(aiohttp_client: Any, settings: Settings) -> None:
    import dataclasses
    small = dataclasses.replace(settings, limits=dataclasses.replace(settings.limits, client_queue=8))
    client = await aiohttp_client(make_app(small, clock=ManualClock().clock))
    bus, runtime = client.server.app[BUS], client.server.app[SESSIONS].get("main")
    slow = await client.ws_connect("/ws/captions/main")  # never reads until the end
    fast = await client.ws_connect("/ws/captions/main")
    await frames_until(fast, "hello")
    inboxes = [sub for subs in bus._subs.values() for sub in subs]  # the test looks inside the bus it owns
    for i in range(40):
        await say(client, f"Line {i}.")
    frames = await frames_until(fast, "caption", 40)
    assert [f["seq"] for f in frames if f["type"] == "caption"] == list(range(1, 41))
    # A burst of 40 lines at once, faster than any writer drains: the inboxes really overflow.
    for i in range(40, 80):
        runtime.act(protocol.CaptionText(f"Line {i}.", None))
    assert all(sub.overflows == 1 for sub in inboxes)
    frames = await frames_until(fast, "caption", 40)
    assert [f["seq"] for f in frames if f["type"] == "caption"] == list(range(41, 81))
    # The slow reader is resynchronised from the store: every line, in order, once.
    frames = await frames_until(slow, "caption", 80, timeout=10)
    assert [f["seq"] for f in frames if f["type"] == "caption"] == list(range(1, 81))
    await slow.close()
    await fast.close()


async def test_the_chair_console_gets_each_correction_once(client: TestClient[web.Request, web.Application]) -> None:
    chair = await client.ws_connect("/ws/chair/main", headers=bearer(CHAIR))
    await chair.send_json({"type": "caption_text", "text": "Welcome to the hall."})
    typed = (await frames_until(chair, "caption"))[-1]
    await chair.send_json({"type": "correct", "id": typed["id"], "text": "Welcome to the great hall."})
    # Two sentinels sent after the correction, one through each of the console's feeds: a typed line (the
    # captions) and a new title (the console's own frames); whatever the correction caused comes before both.
    await chair.send_json({"type": "caption_text", "text": "Sentinel."})
    await chair.send_json({"type": "update", "title": "Sentinel title"})
    frames: list[dict[str, Any]] = []
    async with asyncio.timeout(5):
        while not (any(f.get("text") == "Sentinel." for f in frames)
                   and any(f.get("title") == "Sentinel title" for f in frames)):
            frames.append(json.loads((await chair.receive()).data))
    fixes = [(f["seq"], f["text"]) for f in frames if f["type"] == "correction"]
    assert fixes == [(typed["seq"], "Welcome to the great hall.")], frames
    await chair.close()


async def test_unknown_language_is_refused_with_the_list(client: TestClient[web.Request, web.Application]) -> None:
    ws = await client.ws_connect("/ws/captions/main?lang=xx")
    msg = json.loads((await ws.receive()).data)
    assert msg["type"] == "error" and msg["code"] == "unknown_language" and msg["languages"] == ["en"]
    closing = await ws.receive()
    assert closing.type == WSMsgType.CLOSE and closing.data == 4406


async def test_bad_since_and_unknown_session(client: TestClient[web.Request, web.Application]) -> None:
    for since in ("-4", "%2B4", "1_0", "%204", "%D9%A1%D9%A2"):  # -4, +4, 1_0, " 4", Arabic-Indic 12: not seqs
        ws = await client.ws_connect(f"/ws/captions/main?since={since}")
        msg = json.loads((await ws.receive()).data)
        assert msg["code"] == "bad_since", since
        await ws.close()
    for screen in ("2", "yes", ""):  # a room screen says screen=1; anything but 0 or 1 is refused
        ws = await client.ws_connect(f"/ws/captions/main?screen={screen}")
        msg = json.loads((await ws.receive()).data)
        assert msg["code"] == "bad_screen" and (await ws.receive()).data == 4400, screen
        await ws.close()
    resp = await client.get("/ws/captions/nope")
    assert resp.status == 404 and (await resp.json())["error"]["code"] == "not_found"


async def test_readers_who_leave_are_no_longer_counted_however_their_connection_ends(
        client: TestClient[web.Request, web.Application]) -> None:
    runtime = client.app[SESSIONS].get("main")
    assert isinstance(runtime, SessionRuntime)
    readers = runtime.core.readers

    async def counted(n: int, what: str) -> None:
        try:
            async with asyncio.timeout(5):
                while readers["en"] != n:
                    await asyncio.sleep(0.01)
        except TimeoutError:
            pytest.fail(f"waited 5 s for {what}: {readers['en']} readers counted")

    polite = await client.ws_connect("/ws/captions/main")
    await frames_until(polite, "status")
    # A phone that leaves the Wi-Fi: the upgrade, then the connection cut without a close frame.
    net_in, net_out = await asyncio.open_connection(client.server.host, client.server.port)
    net_out.write(f"GET /ws/captions/main HTTP/1.1\r\nHost: {client.server.host}:{client.server.port}\r\n"
                  "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                  "Sec-WebSocket-Version: 13\r\n\r\n".encode())
    assert (await net_in.readuntil(b"\r\n\r\n")).startswith(b"HTTP/1.1 101")
    await counted(2, "two readers")
    net_out.transport.abort()
    await counted(1, "the reader whose connection was cut, gone")
    await polite.close()
    await counted(0, "the reader who closed, gone")  # (the test server cancels its handler as it cleans up)
    # The chair console's socket leaves the bus too (its two subscriptions, the captions and the console's).
    bus = client.app[BUS]
    assert isinstance(bus, MemoryBus)
    chair = await client.ws_connect("/ws/chair/main", headers=bearer(CHAIR))
    await frames_until(chair, "status")
    assert bus._subs
    await chair.close()
    async with asyncio.timeout(5):
        while bus._subs:
            await asyncio.sleep(0.01)


async def test_malformed_reader_message_gets_error_and_keeps_stream(client: TestClient[web.Request, web.Application]) -> None:
    ws = await client.ws_connect("/ws/captions/main")
    await frames_until(ws, "hello")
    await ws.send_str("{not json")
    frames = await frames_until(ws, "error")
    assert "JSON" in frames[-1]["message"]
    for chair_action in ('{"type":"caption_text","text":"x"}', '{"type":"end"}', '{"type":"pause"}'):
        await ws.send_str(chair_action)  # well formed, but not a reader's to send: told so, and nothing happens
        frames = await frames_until(ws, "error")
        assert "readers send only" in frames[-1]["message"] and frames[-1]["code"] == "bad_message"
    await ws.send_str('{"type":"ping"}')
    await say(client, "Still here.")
    frames = await frames_until(ws, "caption")
    assert frames[-1]["text"] == "Still here."
    await ws.close()


async def test_chair_endpoints_refuse_without_token(client: TestClient[web.Request, web.Application]) -> None:
    resp = await client.post("/api/sessions/main/captions", json={"text": "hi"})
    assert resp.status == 401 and (await resp.json())["error"]["code"] == "unauthorized"
    resp = await client.post("/api/sessions/main/captions", json={"text": "hi"}, headers=bearer("wrong-token-123"))
    assert resp.status == 401
    resp = await client.get("/ws/audio/main")
    assert resp.status == 401


async def test_sessions_side_by_side_are_isolated(aiohttp_client: Any, settings: Settings) -> None:
    import dataclasses
    rooms = tuple(dataclasses.replace(settings.sessions[0], id=sid, title=sid, language=lang)
                  for sid, lang in (("hall-a", "en"), ("hall-b", "ru")))
    client = await aiohttp_client(make_app(dataclasses.replace(settings, sessions=rooms),
                                           clock=ManualClock().clock))
    a = await client.ws_connect("/ws/captions/hall-a")
    b = await client.ws_connect("/ws/captions/hall-b")
    assert (await frames_until(b, "hello"))[0]["source_lang"] == "ru"
    await frames_until(a, "hello")
    for sid, text in (("hall-a", "Opening remarks."), ("hall-b", "Вступительное слово."), ("hall-a", "Next.")):
        resp = await client.post(f"/api/sessions/{sid}/captions", json={"text": text}, headers=bearer(CHAIR))
        assert resp.status == 201
    got_a = [f["text"] for f in await frames_until(a, "caption", 2) if f["type"] == "caption"]
    got_b = [f for f in await frames_until(b, "caption", 1) if f["type"] == "caption"]
    assert got_a == ["Opening remarks.", "Next."]
    assert [(f["text"], f["lang"], f["seq"]) for f in got_b] == [("Вступительное слово.", "ru", 1)]
    await a.close()
    await b.close()


async def test_connection_limit_counts_phones_behind_a_trusted_proxy(aiohttp_client: Any, settings: Settings) -> None:
    import dataclasses
    from aiohttp import WSServerHandshakeError
    proxied = dataclasses.replace(settings, server=dataclasses.replace(settings.server, trusted_proxies=("127.0.0.1",)),
                                  limits=dataclasses.replace(settings.limits, max_connections_per_ip=2))
    client = await aiohttp_client(make_app(proxied, clock=ManualClock().clock))
    phones = [await client.ws_connect("/ws/captions/main", headers={"X-Forwarded-For": f"10.0.0.{i}"})
              for i in range(5)]  # five phones through one proxy: all welcome
    same = [await client.ws_connect("/ws/captions/main", headers={"X-Forwarded-For": "10.0.1.1"}) for _ in range(2)]
    with pytest.raises(WSServerHandshakeError) as info:
        await client.ws_connect("/ws/captions/main", headers={"X-Forwarded-For": "10.0.1.1"})
    assert info.value.status == 429
    for ws in phones + same:
        await ws.close()


async def next_status(ws: Any) -> dict[str, Any]:
    return (await frames_until(ws, "status"))[-1]


async def test_reader_sees_the_session_state_through_pause_resume_and_end(
        aiohttp_client: Any, settings: Settings) -> None:
    client = await aiohttp_client(make_app(settings, clock=ManualClock().clock, recognizer_factory=silent_factory))
    reader = await client.ws_connect("/ws/captions/main")
    assert await next_status(reader) == {"type": "status", "live": False, "lag_ms": None, "state": "idle",
                                         "started_at": None}

    audio = await client.ws_connect("/ws/audio/main", headers=bearer(CHAIR))
    await audio.send_json({"type": "start", "sample_rate": 16000, "channels": 1, "format": "s16le",
                           "stream": "desk-1"})
    assert (await audio.receive_json())["type"] == "ready"
    await audio.send_bytes(b"\0" * 3200)  # 100 ms of silence: the session goes live
    # The session goes live, and a reader who came before the audio learns when it started.
    live = await next_status(reader)
    started = client.server.app[SESSIONS].get("main").session.started_at_ms
    assert started is not None
    assert live == {"type": "status", "live": True, "lag_ms": None, "state": "live", "started_at": started}

    chair = await client.ws_connect("/ws/chair/main", headers=bearer(CHAIR))
    seen = []
    for action in ("pause", "resume", "pause", "end"):  # pause -> end too: live stays false, state changes
        await chair.send_json({"type": action})
        status = await next_status(reader)
        assert status["live"] is (status["state"] == "live")
        seen.append(status["state"])
    assert seen == ["paused", "live", "paused", "ended"]
    # One frame per change: a repeated action changes nothing and sends nothing (a typed line is the sentinel).
    await chair.send_json({"type": "end"})
    await chair.send_json({"type": "caption_text", "text": "Sentinel."})
    frames = await frames_until(reader, "caption")
    assert "status" not in [f["type"] for f in frames] and frames[-1]["text"] == "Sentinel."
    # Pause or resume after the end is refused, saying why, on the console and over HTTP; nothing changes.
    await chair.send_json({"type": "resume"})
    error = (await frames_until(chair, "error"))[-1]
    assert error["code"] == "ended" and "cannot resume" in error["message"]
    refused = await client.post("/api/sessions/main/control", json={"action": "pause"}, headers=bearer(CHAIR))
    assert refused.status == 400 and (await refused.json())["error"]["code"] == "ended"
    assert client.server.app[SESSIONS].get("main").state == "ended"

    late = await client.ws_connect("/ws/captions/main")  # a reader who joins after the end is told at once
    assert (await next_status(late))["state"] == "ended"
    for ws in (late, chair, audio, reader):
        await ws.close()


async def test_a_new_capture_stream_does_not_end_a_pause(aiohttp_client: Any, settings: Settings) -> None:
    client = await aiohttp_client(make_app(settings, clock=ManualClock().clock, recognizer_factory=silent_factory))
    reader = await client.ws_connect("/ws/captions/main")
    assert (await next_status(reader))["state"] == "idle"
    start = {"type": "start", "sample_rate": 16000, "channels": 1, "format": "s16le"}
    first = await client.ws_connect("/ws/audio/main", headers=bearer(CHAIR))
    await first.send_json({**start, "stream": "desk-1"})
    assert (await first.receive_json())["type"] == "ready"
    await first.send_bytes(b"\0" * 3200)
    assert (await next_status(reader))["state"] == "live"
    chair = await client.ws_connect("/ws/chair/main", headers=bearer(CHAIR))
    await chair.send_json({"type": "pause"})
    assert (await next_status(reader))["state"] == "paused"
    await first.close()
    second = await client.ws_connect("/ws/audio/main", headers=bearer(CHAIR))  # the station restarted
    await second.send_json({**start, "stream": "desk-2"})
    assert (await second.receive_json())["type"] == "ready"
    await second.send_bytes(b"\0" * 3200)
    # The new recording is announced (readers re-learn started_at), and the session is still paused.
    assert (await next_status(reader))["state"] == "paused"
    assert client.server.app[SESSIONS].get("main").state == "paused"
    await chair.send_json({"type": "resume"})
    assert (await next_status(reader))["state"] == "live"
    for ws in (second, chair, reader):
        await ws.close()


async def test_reader_that_overflowed_still_learns_the_state(aiohttp_client: Any, settings: Settings) -> None:
    import dataclasses
    small = dataclasses.replace(settings, limits=dataclasses.replace(settings.limits, client_queue=8))
    client = await aiohttp_client(make_app(small, clock=ManualClock().clock))
    reader = await client.ws_connect("/ws/captions/main")
    assert (await next_status(reader))["state"] == "idle"
    runtime = client.server.app[SESSIONS].get("main")
    # All at once, without yielding: the "ended" status is lost when the inbox overflows.
    for i in range(20):
        runtime.act(protocol.CaptionText(f"Closing line {i}.", None))
    runtime.act(protocol.Control("end"))
    frames = await frames_until(reader, "status")
    assert [f["seq"] for f in frames if f["type"] == "caption"] == list(range(1, 21))
    assert frames[-1] == {"type": "status", "live": False, "lag_ms": None, "state": "ended",
                          "started_at": runtime.session.started_at_ms}
    await reader.close()
