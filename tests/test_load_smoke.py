"""A full hall in miniature: hundreds of `websockets` readers on a real server on 127.0.0.1.

Every reader must get every caption of its language once, in order, across late joins and a
reconnect storm (a Wi-Fi blip drops many phones at once; each comes back with since=<last seq>).
Speed is measured by benchmarks/load.py, never asserted here.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
from typing import Any

import aiohttp
import pytest
import websockets
from websockets.exceptions import ConnectionClosed

from assistant.config import Settings
from assistant.server.app import make_app
from assistant.translate import FakeTranslator, TranslationService
from tests.conftest import CHAIR, ManualClock, bearer

LANGS = ("en", "fr", "de")
READERS = 300
STORM = 200
CONNECTS_IN_FLIGHT = 50  # stay under the listen backlog so no SYN waits for a retransmit
CATCH_UP_S = 20


class Reader:
    """One delegate's phone: records every caption it is sent, in arrival order."""

    def __init__(self, lang: str) -> None:
        self.lang = lang
        self.seqs: list[int] = []
        self.texts: list[str] = []
        self.hellos: list[dict[str, Any]] = []
        self.ws: Any = None
        self.task: asyncio.Task[None] | None = None

    @property
    def last(self) -> int:
        return self.seqs[-1] if self.seqs else 0

    async def connect(self, url: str, gate: asyncio.Semaphore) -> None:
        async with gate:
            self.ws = await websockets.connect(f"{url}?lang={self.lang}&since={self.last}", compression=None,
                                               open_timeout=CATCH_UP_S)
        self.task = asyncio.create_task(self._read(self.ws))

    async def _read(self, ws: Any) -> None:
        try:
            async for raw in ws:
                msg = json.loads(raw)
                if msg["type"] == "caption":
                    self.seqs.append(msg["seq"])
                    self.texts.append(msg["text"])
                elif msg["type"] == "hello":
                    self.hellos.append(msg)
        except ConnectionClosed:
            pass

    async def vanish(self) -> None:
        """Drop without a closing handshake, as a phone losing Wi-Fi does."""
        self.ws.transport.abort()
        assert self.task is not None
        await self.task

    async def close(self) -> None:
        await self.ws.close()
        assert self.task is not None
        await self.task


class Hall:
    def __init__(self, http: aiohttp.ClientSession, base: str) -> None:
        self.http = http
        self.base = base
        self.url = base.replace("http://", "ws://") + "/ws/captions/main"
        self.said: list[str] = []
        self.gate = asyncio.Semaphore(CONNECTS_IN_FLIGHT)

    async def say(self, count: int) -> None:
        for _ in range(count):
            text = f"Caption number {len(self.said) + 1} of the smoke test."
            async with self.http.post(f"{self.base}/api/sessions/main/captions", json={"text": text},
                                      headers=bearer(CHAIR)) as resp:
                assert resp.status == 201, await resp.text()
            self.said.append(text)

    def expected(self, lang: str) -> list[str]:
        return [t if lang == "en" else f"[{lang}] {t}" for t in self.said]

    async def everyone_has_everything(self, readers: list[Reader]) -> None:
        """Wait until every reader holds the latest caption of its language (translations included)."""
        async with asyncio.timeout(CATCH_UP_S):
            while any(r.last < len(self.said) for r in readers):
                await asyncio.sleep(0.05)

    def check_exactly_once(self, readers: list[Reader]) -> None:
        wrong = [(r.lang, r.seqs) for r in readers if r.seqs != list(range(1, len(self.said) + 1))]
        assert not wrong, f"{len(wrong)} readers lost, repeated or reordered captions; first: {wrong[0]}"
        assert all(r.texts == self.expected(r.lang) for r in readers)


@pytest.fixture
async def hall(aiohttp_server: Any, settings: Settings) -> Any:
    # Every test client comes from 127.0.0.1; in a hall each phone has its own address.
    roomy = dataclasses.replace(settings, limits=dataclasses.replace(settings.limits,
                                                                     max_connections_per_ip=READERS + STORM))
    service = TranslationService(FakeTranslator({("en", lang) for lang in LANGS[1:]}), workers=1)
    server = await aiohttp_server(make_app(roomy, translator=service, clock=ManualClock().clock))
    async with aiohttp.ClientSession() as http:
        yield Hall(http, f"http://127.0.0.1:{server.port}")
    await service.close()


@pytest.mark.timeout(90)
async def test_hundreds_of_readers_get_every_caption_once_in_order_across_a_reconnect_storm(hall: Hall) -> None:
    readers = [Reader(LANGS[i % len(LANGS)]) for i in range(READERS)]
    await hall.say(5)  # said before anyone arrived: replayed from the store
    # Captions keep coming while the hall fills up: joins race live publishing.
    await asyncio.gather(hall.say(10), *(r.connect(hall.url, hall.gate) for r in readers))
    await hall.say(10)
    await hall.everyone_has_everything(readers)
    hall.check_exactly_once(readers)
    assert all(r.hellos[0]["lang"] == r.lang and len(r.hellos) == 1 for r in readers)

    # A Wi-Fi blip: a mix of languages vanishes at once, captions go on, everyone comes back with since.
    dropped = readers[:STORM]
    await asyncio.gather(*(r.vanish() for r in dropped))
    await hall.say(5)
    await asyncio.gather(hall.say(5), *(r.connect(hall.url, hall.gate) for r in dropped))
    await hall.say(5)
    await hall.everyone_has_everything(readers)
    # One more caption: anything sent twice would arrive before it, on the same ordered socket.
    await hall.say(1)
    await hall.everyone_has_everything(readers)
    hall.check_exactly_once(readers)
    assert all(len(r.hellos) == 2 for r in dropped) and all(len(r.hellos) == 1 for r in readers[STORM:])
    await asyncio.gather(*(r.close() for r in readers))
