"""The current speaker on a real app: from the programme at a talk's start, switched by the chair with audio
time, told to readers (a ``speaker`` frame after hello and at each change), written as turns in exports."""

from __future__ import annotations

import json
from typing import Any

from assistant.config import Settings
from assistant.server.app import make_app
from assistant.server.keys import SESSIONS, STORE, TALKS
from tests.conftest import CHAIR, STAFF, ManualClock, bearer
from tests.test_server_talks import DATA, Recognizers, at, marker, translator, until, words


async def frames_until(ws: Any, kind: str) -> dict[str, Any]:
    while True:
        frame: dict[str, Any] = json.loads((await ws.receive()).data)
        if frame["type"] == kind:
            return frame


async def test_the_panel_speakers_switch_and_the_transcript_shows_the_turns(aiohttp_client: Any,
                                                                           settings: Settings) -> None:
    clock = ManualClock(at("panel", -5))
    service = translator()
    app = make_app(settings, recognizer_factory=Recognizers(), clock=clock.clock, translator=service)
    client = await aiohttp_client(app)
    await client.post("/api/programme?name=day.json", data=(DATA / "day.json").read_bytes(), headers=bearer(STAFF))
    station = await client.ws_connect("/ws/rooms/hall-a/audio", headers=bearer(CHAIR))
    await station.send_json({"type": "start", "sample_rate": 16000, "channels": 1, "format": "s16le",
                             "stream": "hall-a-station"})
    assert (await station.receive_json())["type"] == "ready"
    clock.ms = at("panel")
    app[TALKS].tick()  # the panel starts with its first speaker
    reader = await client.ws_connect("/ws/captions/panel")
    assert (await frames_until(reader, "hello"))["session"] == "panel"
    assert await frames_until(reader, "speaker") == {"type": "speaker", "speaker": "Grace Hopper", "audio_ms": 0}

    await station.send_bytes(marker(1))
    await until(lambda: words(app[STORE], "panel") == ["w1"])
    assert (await client.post("/api/sessions/panel/speaker", json={"speaker": "Alan Turing"})).status == 401
    r = await client.post("/api/sessions/panel/speaker", json={"speaker": "Alan Turing"}, headers=bearer(CHAIR))
    assert r.status == 200 and await r.json() == {"speaker": "Alan Turing", "audio_ms": 100}
    assert await frames_until(reader, "speaker") == {"type": "speaker", "speaker": "Alan Turing", "audio_ms": 100}
    await station.send_bytes(marker(2))
    await until(lambda: words(app[STORE], "panel") == ["w1", "w2"])
    r = await client.post("/api/sessions/panel/speaker", json={"speaker": "bad\u0007"}, headers=bearer(CHAIR))
    assert r.status == 400 and "control character" in (await r.json())["error"]["message"]
    assert (await (await client.get("/api/sessions/panel/speaker")).json())["speaker"] == "Alan Turing"

    srt = await (await client.get("/api/sessions/panel/transcript.srt")).text()
    assert "Grace Hopper: w1" in srt and "Alan Turing: w2" in srt
    vtt = await (await client.get("/api/sessions/panel/export.vtt", headers=bearer(STAFF))).text()
    assert "<v Grace Hopper>w1" in vtt and "<v Alan Turing>w2" in vtt
    txt = await (await client.get("/api/sessions/panel/transcript.txt")).text()
    assert "Grace Hopper:\n[00:00:00] w1\n\nAlan Turing:\n[00:00:00] w2" in txt
    doc = await (await client.get("/api/sessions/panel/export.json", headers=bearer(STAFF))).json()
    assert [c["speaker"] for c in doc["captions"]] == ["Grace Hopper", "Alan Turing"]
    assert app[SESSIONS].get("panel").session.title == "Panel: the future"
    await reader.close()
    await station.close()
    await service.close()
