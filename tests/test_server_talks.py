"""The programme drives the rooms, on a real app, SQLite file and sockets, in virtual time.

A day replayed: a capture station streams to its room once; talks roll over by the clock and by the
chair's "Next talk"; each talk's words land in its own session (the transcripts split at the switch);
room readers are told of every change; a restart resumes the talk on.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any, AsyncIterator, Callable, Literal

import numpy as np
from aiohttp import WSMsgType

from assistant.asr.types import FinalCaption
from assistant.capture import stream_capture
from assistant.config import Settings
from assistant.hub import Topic
from assistant.hub.memory import MemoryBus
from assistant.programme import parse
from assistant.server import auth
from assistant.server.app import make_app
from assistant.server.keys import BUS, SESSIONS, STORE, TALKS
from assistant.server.talks import ROOM_TOPIC
from assistant.store import Store
from assistant.translate import FakeTranslator, TranslationService
from tests.conftest import CHAIR, STAFF, ManualClock, bearer

DATA = Path(__file__).parent / "data" / "programme"
PROGRAMME = parse((DATA / "day.json").read_bytes(), name="day.json")
MIN = 60_000
CHUNK = 1600  # 100 ms at 16 kHz


def at(talk: str, minutes: float = 0) -> int:
    found = PROGRAMME.talk(talk)
    assert found is not None
    return found.start_ms + int(minutes * MIN)


class MarkerRecognizer:
    """Says ``w{k}`` for every 100 ms chunk whose samples carry the marker k (k/128): which words went where."""

    async def run(self, audio: AsyncIterator[Any], on_event: Callable[[Any], None]) -> None:
        position = 0
        async for chunk in audio:
            k = int(round(float(chunk[0]) * 128))
            if k:
                on_event(FinalCaption(position, position + 100, f"w{k}", (), "en"))
            position += 100


class Recognizers:
    """The recogniser factory, remembering what each recogniser was given (language and hot words)."""

    def __init__(self) -> None:
        self.made: list[tuple[str | None, tuple[str, ...]]] = []

    def __call__(self, language: str | None, glossary: tuple[str, ...],
                 task: Literal["transcribe", "translate"] = "transcribe") -> MarkerRecognizer:
        self.made.append((language, glossary))
        return MarkerRecognizer()


def translator() -> TranslationService:
    return TranslationService(FakeTranslator(pairs=[("en", "fr"), ("en", "zh"), ("zh", "en")]))


def marker(k: int) -> bytes:
    return np.full(CHUNK, k * 256, dtype="<i2").tobytes()


def words(store: Store, session: str) -> list[str]:
    return [c.text for c in store.iter_captions(session, "en")] if store.has_session(session) else []


async def until(check: Callable[[], bool]) -> None:
    while not check():
        await asyncio.sleep(0.01)


async def next_room_frame(ws: Any) -> dict[str, Any]:
    msg = await ws.receive()
    assert msg.type == WSMsgType.TEXT, msg
    frame: dict[str, Any] = json.loads(msg.data)
    assert frame["type"] == "room"
    return frame


async def test_a_day_replayed_talks_roll_over_and_transcripts_split(aiohttp_client: Any, settings: Settings) -> None:
    clock = ManualClock(at("opening", -10))
    recognizers = Recognizers()
    service = translator()
    app = make_app(settings, recognizer_factory=recognizers, clock=clock.clock, translator=service)
    client = await aiohttp_client(app)
    r = await client.post("/api/programme?name=day.json", data=(DATA / "day.json").read_bytes(), headers=bearer(STAFF))
    assert r.status == 201
    store, talks = app[STORE], app[TALKS]

    reader = await client.ws_connect("/ws/rooms/hall-a")
    first = await next_room_frame(reader)
    assert first["now"] is None and first["next"]["id"] == "opening" and first["past"] == []
    assert first["name"] == "Hall A"

    station = await client.ws_connect("/ws/rooms/hall-a/audio", headers=bearer(CHAIR))
    await station.send_json({"type": "start", "sample_rate": 16000, "channels": 1, "format": "s16le",
                             "stream": "hall-a-station"})
    assert (await station.receive_json())["type"] == "ready"
    await station.send_bytes(marker(1))  # before the first talk: heard, captioned nowhere
    for _ in range(9):
        await station.send_bytes(marker(0))
    assert await station.receive_json() == {"type": "ack", "received": 16000}  # all of it heard

    clock.ms = at("opening")
    talks.tick()
    frame = await next_room_frame(reader)
    assert frame["now"]["id"] == "opening" and frame["now"]["path"] == "/s/opening"
    assert frame["next"]["id"] == "keynote"
    assert app[SESSIONS].get("opening").session.title == "Opening"
    for k in (2, 3):
        await station.send_bytes(marker(k))
    await until(lambda: words(store, "opening") == ["w2", "w3"])

    clock.ms = at("keynote")  # 09:30: the clock rolls over
    talks.tick()
    frame = await next_room_frame(reader)
    assert frame["now"]["id"] == "keynote" and [t["id"] for t in frame["past"]] == ["opening"]
    assert frame["past"][0]["ended_at"] == at("keynote")
    for k in (4, 5, 6):
        await station.send_bytes(marker(k))
    await until(lambda: words(store, "keynote") == ["w4", "w5", "w6"])
    assert words(store, "opening") == ["w2", "w3"]  # split at the change, nothing lost or doubled
    assert app[SESSIONS].get("opening").state == "ended"
    assert store.get_session("keynote").glossary == ("Difference Engine", "ACME")
    assert (("en", ("ACME",)) in recognizers.made and ("en", ("Difference Engine", "ACME")) in recognizers.made)

    # The keynote overruns: its chair holds it, the clock passes its end, the chair ends it late.
    r = await client.post("/api/rooms/hall-a/hold", json={"hold": True}, headers=bearer(CHAIR))
    assert r.status == 200 and (await r.json())["held"] is True
    assert (await next_room_frame(reader))["held"] is True
    clock.ms = at("keynote", 65)
    talks.tick()
    await station.send_bytes(marker(7))
    await until(lambda: words(store, "keynote")[-1:] == ["w7"])
    r = await client.post("/api/rooms/hall-a/next", headers=bearer(CHAIR))
    assert r.status == 200
    state = await r.json()
    assert state["now"]["id"] == "panel" and state["held"] is False  # started before its time: the clock ends it
    frame = await next_room_frame(reader)
    assert frame["now"]["id"] == "panel" and [t["id"] for t in frame["past"]] == ["opening", "keynote"]
    await station.send_bytes(marker(8))
    await until(lambda: words(store, "panel") == ["w8"])
    assert words(store, "keynote") == ["w4", "w5", "w6", "w7"]
    r = await client.post("/api/rooms/hall-a/hold", json={"hold": True}, headers=bearer(CHAIR))  # a long panel
    assert (await r.json())["held"] is True

    # A restart resumes the talk on (held), with the room's audio going to it.
    await station.close()
    await reader.close()  # and the room socket leaves the bus however its handler ends
    bus = app[BUS]
    assert isinstance(bus, MemoryBus)
    async with asyncio.timeout(5):
        await until(lambda: Topic("hall-a", ROOM_TOPIC) not in bus._subs)
    await client.close()
    clock.ms = at("panel", 70)
    app = make_app(settings, recognizer_factory=recognizers, clock=clock.clock, translator=service)
    client = await aiohttp_client(app)
    state = await (await client.get("/api/rooms/hall-a")).json()
    assert state["now"]["id"] == "panel" and state["held"] is True
    body = await (await client.get("/api/programme")).json()
    assert {room["id"]: room["now"] for room in body["rooms"]} == {"hall-a": "panel", "room-2": None}
    station = await client.ws_connect("/ws/rooms/hall-a/audio", headers=bearer(CHAIR))
    await station.send_json({"type": "start", "sample_rate": 16000, "channels": 1, "format": "s16le",
                             "stream": "hall-a-station-2"})
    assert (await station.receive_json())["type"] == "ready"
    await station.send_bytes(marker(9))
    await until(lambda: words(app[STORE], "panel") == ["w8", "w9"])
    r = await client.post("/api/rooms/hall-a/next", headers=bearer(CHAIR))
    assert (await r.json())["now"] is None  # the last talk of the day ended
    r = await client.post("/api/rooms/hall-a/next", headers=bearer(CHAIR))
    assert r.status == 404 and "none left" in (await r.json())["error"]["message"]
    await station.close()
    await service.close()


async def test_room_endpoints_refuse_clearly(aiohttp_client: Any, settings: Settings) -> None:
    service = translator()
    app = make_app(settings, recognizer_factory=Recognizers(), clock=ManualClock(at("opening", 5)).clock,
                   translator=service)
    client = await aiohttp_client(app)
    r = await client.get("/api/rooms/hall-a")
    assert r.status == 404 and "no room 'hall-a'" in (await r.json())["error"]["message"]
    await client.post("/api/programme?name=day.json", data=(DATA / "day.json").read_bytes(), headers=bearer(STAFF))
    assert (await (await client.get("/api/rooms/hall-a")).json())["now"]["id"] == "opening"  # imported mid-talk
    assert (await client.post("/api/rooms/hall-a/next")).status == 401
    assert (await client.post("/api/rooms/hall-a/next", headers=bearer(STAFF))).status == 403
    r = await client.post("/api/rooms/hall-a/hold", json={"hold": "yes"}, headers=bearer(CHAIR))
    assert r.status == 400 and '"hold" must be true' in (await r.json())["error"]["message"]
    # A chair token of the room, or of its talk on now, drives the room; another room's does not.
    token_of = {}
    for scope in ("hall-a", "opening", "room-2"):
        made = await client.post("/api/sessions", json={"id": f"x-{scope}"}, headers=bearer(STAFF))
        assert made.status == 201
        token_of[scope] = auth.issue_scoped(app[STORE], "chair", scope, 0)[1]
    assert (await client.post("/api/rooms/hall-a/hold", json={"hold": True},
                              headers=bearer(token_of["room-2"]))).status == 403
    assert (await client.post("/api/rooms/hall-a/hold", json={"hold": True},
                              headers=bearer(token_of["opening"]))).status == 200
    assert (await client.post("/api/rooms/hall-a/hold", json={"hold": False},
                              headers=bearer(token_of["hall-a"]))).status == 200
    # A room's chair chairs every talk in it (its console, captions, speaker), and no other room's.
    r = await client.post("/api/sessions/opening/captions", json={"text": "Hello."}, headers=bearer(token_of["hall-a"]))
    assert r.status == 201
    r = await client.post("/api/sessions/zh-talk/captions", json={"text": "Hello."}, headers=bearer(token_of["hall-a"]))
    assert r.status == 403
    chair_ws = await client.ws_connect("/ws/chair/opening", headers=bearer(token_of["hall-a"]))
    await chair_ws.close()
    r = await client.get("/ws/rooms/nowhere")
    assert r.status == 404
    await service.close()


class Markers:
    """A capture source the test feeds: 100 ms chunks carrying markers (see :class:`MarkerRecognizer`)."""

    def __init__(self) -> None:
        self._queue: asyncio.Queue[np.ndarray | None] = asyncio.Queue()

    def give(self, *ks: int) -> None:
        for k in ks:
            self._queue.put_nowait(np.full(CHUNK, k / 128, dtype=np.float32))

    def end(self) -> None:
        self._queue.put_nowait(None)

    async def __aiter__(self) -> AsyncIterator[np.ndarray]:
        while (chunk := await self._queue.get()) is not None:
            yield chunk


async def test_the_capture_client_streams_to_a_room_across_talks(aiohttp_client: Any, settings: Settings) -> None:
    clock = ManualClock(at("opening", 20))
    service = translator()
    app = make_app(settings, recognizer_factory=Recognizers(), clock=clock.clock, translator=service)
    client = await aiohttp_client(app)
    await client.post("/api/programme?name=day.json", data=(DATA / "day.json").read_bytes(), headers=bearer(STAFF))
    source = Markers()
    capture = asyncio.create_task(stream_capture(str(client.make_url("")).rstrip("/"), "", CHAIR, source,
                                                 room="hall-a"))
    source.give(2, 3)
    await until(lambda: words(app[STORE], "opening") == ["w2", "w3"])
    clock.ms = at("keynote")
    app[TALKS].tick()
    source.give(4)
    source.end()
    await capture  # returns once the server has every sample
    await until(lambda: words(app[STORE], "keynote") == ["w4"])
    assert words(app[STORE], "opening") == ["w2", "w3"]
    await service.close()


async def test_a_programme_imported_from_the_command_line_is_followed(aiohttp_client: Any, settings: Settings) -> None:
    clock = ManualClock(at("opening", 5))
    service = translator()
    app = make_app(settings, recognizer_factory=Recognizers(), clock=clock.clock, translator=service)
    client = await aiohttp_client(app)
    assert (await (await client.get("/api/programme")).json())["talks"] == []
    # What `assistant programme import` does: the store alone (another process, the same SQLite file).
    other = Store.open(settings.storage.database_path)
    try:
        other.programme.replace(PROGRAMME, source="day.json", at_ms=clock.ms, replace=False)
    finally:
        other.close()
    app[TALKS].tick()  # the server's own wake-up (at most RELOAD_S later)
    state = await (await client.get("/api/rooms/hall-a")).json()
    assert state["now"]["id"] == "opening" and state["next"]["id"] == "keynote"
    # A new import without the talk on: it ends at once.
    other = Store.open(settings.storage.database_path)
    try:
        other.programme.replace(parse((DATA / "day.csv").read_bytes().replace(b"opening,Opening", b"opening2,Opening"),
                                      name="day.csv"), source="day.csv", at_ms=clock.ms, replace=True)
    finally:
        other.close()
    app[TALKS].tick()
    state = await (await client.get("/api/rooms/hall-a")).json()
    assert state["now"]["id"] == "opening2" and app[SESSIONS].get("opening").state == "ended"
    await service.close()


async def test_a_newer_source_for_the_talk_takes_over_from_the_room_station(aiohttp_client: Any,
                                                                             settings: Settings) -> None:
    clock = ManualClock(at("opening", 1))
    service = translator()
    app = make_app(settings, recognizer_factory=Recognizers(), clock=clock.clock, translator=service)
    client = await aiohttp_client(app)
    await client.post("/api/programme?name=day.json", data=(DATA / "day.json").read_bytes(), headers=bearer(STAFF))
    start = {"type": "start", "sample_rate": 16000, "channels": 1, "format": "s16le"}
    station = await client.ws_connect("/ws/rooms/hall-a/audio", headers=bearer(CHAIR))
    await station.send_json({**start, "stream": "room-station"})
    assert (await station.receive_json())["type"] == "ready"
    await station.send_bytes(marker(1))
    await until(lambda: words(app[STORE], "opening") == ["w1"])
    # The chair's browser microphone on the talk itself: the newest source of the session wins ...
    browser = await client.ws_connect("/ws/audio/opening", headers=bearer(CHAIR))
    await browser.send_json({**start, "stream": "browser-1"})
    assert (await browser.receive_json())["type"] == "ready"
    for _ in range(9):
        await station.send_bytes(marker(9))  # ... the room's audio is no longer mixed in
    assert await station.receive_json() == {"type": "ack", "received": 16000}  # all of it heard
    await browser.send_bytes(marker(2))
    await until(lambda: "w2" in words(app[STORE], "opening"))
    assert words(app[STORE], "opening") == ["w1", "w2"]
    # The next talk hears the room's station again.
    clock.ms = at("keynote")
    app[TALKS].tick()
    await station.send_bytes(marker(3))
    await until(lambda: words(app[STORE], "keynote") == ["w3"])
    assert words(app[STORE], "opening") == ["w1", "w2"]
    await browser.close()
    await station.close()
    await service.close()
