"""The session core behind the real server: translation failures, corrections in flight, resyncs, dry run."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

import numpy as np

from assistant import protocol
from assistant.config import Settings
from assistant.server.app import make_app
from assistant.server.engines import dry_run_engines
from assistant.server.keys import SESSIONS
from assistant.translate import TranslationResult
from tests.conftest import CHAIR, ManualClock, bearer
from tests.test_server_readers import frames_until, say


class GatedTranslator:
    """en→fr as "[fr] text"; a text containing "boom" raises a plain RuntimeError; gates hold texts back."""

    def __init__(self) -> None:
        self.gates: dict[str, asyncio.Event] = {}

    async def translate(self, text: str, source: str, target: str,
                        glossary: tuple[str, ...] = ()) -> TranslationResult:
        gate = self.gates.get(text)
        if gate is not None:
            await gate.wait()
        if "boom" in text:
            raise RuntimeError("the model crashed")
        return TranslationResult(f"[{target}] {text}", False, 0)

    async def prepare(self, source: str, target: str) -> None:
        """No model to load."""

    def available_targets(self, source_lang: str) -> tuple[str, ...]:
        return ("fr",)

    def edition(self, source: str, target: str) -> str:
        return f"{source}-{target} 1"


async def test_any_translation_error_shows_the_original_marked_and_the_next_caption_is_translated(
        aiohttp_client: Any, settings: Settings) -> None:
    client = await aiohttp_client(make_app(settings, translator=GatedTranslator(), clock=ManualClock().clock))
    ws = await client.ws_connect("/ws/captions/main?lang=fr")
    await say(client, "This goes boom.")
    await say(client, "This is fine.")
    caps = [f for f in await frames_until(ws, "caption", 2) if f["type"] == "caption"]
    assert [(c["text"], c.get("fallback", False)) for c in caps] == [("This goes boom.", True),
                                                                     ("[fr] This is fine.", False)]
    await ws.close()


async def test_a_correction_made_while_its_translation_is_in_flight_reaches_the_translated_reader(
        aiohttp_client: Any, settings: Settings) -> None:
    translator = GatedTranslator()
    gate = translator.gates["Nobel price."] = asyncio.Event()
    client = await aiohttp_client(make_app(settings, translator=translator, clock=ManualClock().clock))
    ws = await client.ws_connect("/ws/captions/main?lang=fr")
    cap = await say(client, "Nobel price.")
    fix = await client.patch(f"/api/sessions/main/captions/{cap['id']}", json={"text": "Nobel prize."},
                             headers=bearer(CHAIR))
    assert fix.status == 200
    gate.set()  # the old text's translation now finishes, after the correction
    await say(client, "Sentinel.")
    frames = await frames_until(ws, "caption", 2)
    texts = [f["text"] for f in frames if f["type"] in ("caption", "correction")]
    assert texts == ["[fr] Nobel prize.", "[fr] Sentinel."]
    store = client.server.app[SESSIONS].get("main").store
    assert store.get_caption("main", cap["id"], "fr").text == "[fr] Nobel prize."
    await ws.close()


async def test_a_reader_resynchronised_after_overflow_gets_the_corrections_it_missed(
        aiohttp_client: Any, settings: Settings) -> None:
    small = dataclasses.replace(settings, limits=dataclasses.replace(settings.limits, client_queue=8))
    client = await aiohttp_client(make_app(small, clock=ManualClock().clock))
    reader = await client.ws_connect("/ws/captions/main")
    first = await say(client, "Nobel price.")
    await frames_until(reader, "caption")
    runtime = client.server.app[SESSIONS].get("main")
    # All at once, without yielding: the correction is in the inbox that overflows.
    runtime.correct(first["id"], "Nobel prize.", lang=None, author="chair")
    for i in range(20):
        runtime.act(protocol.CaptionText(f"Line {i}.", None))
    frames = await frames_until(reader, "correction")
    assert len([f for f in frames if f["type"] == "caption"]) == 20
    fixes = [f for f in frames if f["type"] == "correction"]
    assert [(f["seq"], f["text"], f["revision"]) for f in fixes] == [(1, "Nobel prize.", 1)]
    await reader.close()


async def test_a_since_beyond_the_stream_end_is_told_and_starts_from_the_start(
        aiohttp_client: Any, settings: Settings) -> None:
    client = await aiohttp_client(make_app(settings, clock=ManualClock().clock))
    for text in ("One.", "Two."):
        await say(client, text)
    ws = await client.ws_connect("/ws/captions/main?since=50")  # this client saw a store that was reset
    frames = await frames_until(ws, "caption", 2)
    assert frames[0]["type"] == "hello" and frames[0]["reset"] is True and frames[0]["seq"] == 2
    assert [f["text"] for f in frames if f["type"] == "caption"] == ["One.", "Two."]
    normal = await client.ws_connect("/ws/captions/main?since=1")
    hello = (await frames_until(normal, "hello"))[0]
    assert "reset" not in hello
    await ws.close()
    await normal.close()


async def test_dry_run_lines_follow_the_audio_and_stop_while_paused(aiohttp_client: Any, settings: Settings) -> None:
    remote = dataclasses.replace(settings, sessions=(dataclasses.replace(settings.sessions[0], source="remote"),))
    transcriber, translator = dry_run_engines()
    client = await aiohttp_client(make_app(remote, transcriber=transcriber, translator=translator))
    reader = await client.ws_connect("/ws/captions/main")
    chair = await client.ws_connect("/ws/chair/main", headers=bearer(CHAIR))
    audio = await client.ws_connect("/ws/audio/main", headers=bearer(CHAIR))
    await audio.send_json({"type": "start", "sample_rate": 16000, "channels": 1, "format": "s16le", "stream": "dry"})
    assert (await audio.receive_json())["type"] == "ready"
    tone = (np.sin(np.arange(16000) * 2 * np.pi * 220 / 16000) * 8000).astype("<i2").tobytes()  # 1 s, loud

    async def send(seconds: int) -> None:
        for _ in range(seconds):  # at 4x real speed: the recogniser keeps up, as with a live room
            await audio.send_bytes(tone)
            await asyncio.sleep(0.25)

    await send(9)
    await frames_until(reader, "caption", 2)  # scripted lines while audio is heard
    await chair.send_json({"type": "pause"})
    assert (await frames_until(reader, "status"))[-1]["state"] == "paused"
    paused_from = client.server.app[SESSIONS].get("main").core.audio_position_ms
    await send(9)
    await chair.send_json({"type": "resume"})
    await frames_until(reader, "status")
    resumed_at = client.server.app[SESSIONS].get("main").core.audio_position_ms
    await send(9)
    await audio.send_json({"type": "stop"})
    store = client.server.app[SESSIONS].get("main").store
    async with asyncio.timeout(30):
        while client.server.app[SESSIONS].get("main").state != "idle":
            await asyncio.sleep(0.05)
    lines = list(store.iter_captions("main", "en"))
    assert any(c.start_ms >= resumed_at for c in lines), "lines come back after resume"
    assert not [c for c in lines if paused_from + 500 <= c.start_ms < resumed_at], "no line was said while paused"
    await translator.close()
    for ws in (reader, chair, audio):
        await ws.close()


class CrashingRecognizer:
    async def run(self, audio: Any, on_event: Any) -> None:
        async for _ in audio:
            raise RuntimeError("the model fell over")


async def test_a_crashing_recogniser_is_logged_and_the_chair_is_told(
        aiohttp_client: Any, settings: Settings, caplog: Any) -> None:
    client = await aiohttp_client(make_app(settings, clock=ManualClock().clock,
                                           recognizer_factory=lambda *a, **k: CrashingRecognizer()))
    chair = await client.ws_connect("/ws/chair/main", headers=bearer(CHAIR))
    runtime = client.server.app[SESSIONS].get("main")
    runtime.open_audio()
    runtime.push_audio(np.zeros(1600, dtype=np.float32))
    async with asyncio.timeout(10):
        while True:
            frame = await chair.receive_json()
            if frame["type"] == "error":
                break
    assert frame["code"] == "recognition_failed" and "RuntimeError" in frame["message"]
    assert "the model fell over" in caplog.text
    await chair.close()


async def test_the_chair_is_told_where_the_audio_comes_from(aiohttp_client: Any, settings: Settings) -> None:
    from tests.helpers.recognizers import silent_factory

    client = await aiohttp_client(make_app(settings, clock=ManualClock().clock, recognizer_factory=silent_factory))
    chair = await client.ws_connect("/ws/chair/main", headers=bearer(CHAIR))
    first = await chair.receive_json()
    assert first["audio_source"] is None and first["speech"] is True
    runtime = client.server.app[SESSIONS].get("main")
    runtime.open_audio("file", "talk.wav")
    runtime.close_audio()
    seen: list[dict[str, Any] | None] = []
    async with asyncio.timeout(10):
        while len(seen) < 2:
            frame = await chair.receive_json()
            if "audio_source" in frame:
                seen.append(frame["audio_source"])
    assert seen == [{"kind": "file", "name": "talk.wav"}, None]
    await chair.close()
