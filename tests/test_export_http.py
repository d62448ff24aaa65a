"""Exports over HTTP in languages nobody read live: translated as they stream, kept, followed by job id.

The translator is the shipped FakeTranslator, whose output is ``[ja] text``:
plainly not a translation. One test uses the generated test-only cipher
packages (tests/helpers/argos_builder.py), whose output is gibberish, not a
translation either.
"""

from __future__ import annotations

import asyncio
import dataclasses
import io
import json
import threading
import zipfile
from collections.abc import AsyncIterator, Sequence
from typing import Any

import pytest
import srt
from aiohttp import web
from aiohttp.test_utils import TestClient

from assistant.captions import Caption
from assistant.config import Settings
from assistant.export import FORMATS
from assistant.server.app import make_app
from assistant.server.keys import STORE
from assistant.translate import FakeTranslator, TranslationService
from tests.conftest import CHAIR, STAFF, ManualClock, bearer
from tests.test_server_readers import say

PAIRS = {("en", "fr"), ("en", "de"), ("en", "ja")}


class GatedTranslator(FakeTranslator):
    """A FakeTranslator ("[ja] text", not a translation) that holds its ``hold_at``-th batch until ``gate`` opens."""

    def __init__(self, pairs: set[tuple[str, str]], hold_at: int) -> None:
        super().__init__(pairs)
        self.hold_at = hold_at
        self.gate = threading.Event()
        self.held = threading.Event()
        self._calls = 0

    def translate_batch(self, texts: Sequence[str], source: str, target: str) -> list[str]:
        self._calls += 1
        if self._calls == self.hold_at:
            self.held.set()
            self.gate.wait()
        return super().translate_batch(texts, source, target)


@pytest.fixture
async def fake() -> FakeTranslator:
    return FakeTranslator(PAIRS)


@pytest.fixture
async def client(aiohttp_client: Any, settings: Settings, fake: FakeTranslator) -> AsyncIterator[TestClient[web.Request, web.Application]]:
    service = TranslationService(fake, workers=1, max_batch=16)
    yield await aiohttp_client(make_app(settings, translator=service, clock=ManualClock().clock))
    await service.close()


def texts_sent(fake: FakeTranslator) -> list[str]:
    return [text for _, _, texts in fake.batches for text in texts]


async def get(client: TestClient[web.Request, web.Application], path: str) -> Any:
    resp = await client.get(path, headers=bearer(STAFF))
    return resp


async def test_a_language_nobody_read_is_translated_once_and_a_correction_alone_again(
        client: TestClient[web.Request, web.Application], fake: FakeTranslator) -> None:
    said = [await say(client, f"Line {i}.") for i in range(20)]
    assert fake.batches == []  # nobody reads Japanese: nothing was translated live
    resp = await get(client, "/api/sessions/main/export.srt?lang=ja")
    assert resp.status == 200 and filename_in(resp) == "main-hall.ja.srt"
    cues = list(srt.parse(await resp.text()))
    assert [c.content for c in cues] == [f"[ja] Line {i}." for i in range(20)]
    assert sorted(texts_sent(fake)) == sorted(f"Line {i}." for i in range(20))

    resp = await get(client, "/api/sessions/main/export.json?lang=ja")
    data = json.loads(await resp.text())
    assert data["machine_translated"] is True and data["translated_from"] == "en"
    assert [c["seq"] for c in data["captions"]] == list(range(1, 21)) and len(fake.batches) > 0
    assert data["captions"][3]["source_text"] == "Line 3." and data["captions"][3]["id"] == said[3]["id"]
    assert len(texts_sent(fake)) == 20  # the second export translated nothing

    resp = await client.patch(f"/api/sessions/main/captions/{said[5]['id']}", json={"text": "Line five, fixed."},
                              headers=bearer(CHAIR))
    assert resp.status == 200
    text = await (await get(client, "/api/sessions/main/export.txt?lang=ja")).text()
    assert texts_sent(fake)[20:] == ["Line five, fixed."]  # only the corrected caption, again
    assert "[ja] Line five, fixed." in text and "[ja] Line 5." not in text
    store = client.app[STORE]
    assert store.languages("main") == ["en"]  # no Japanese in the live captions table: its numbering is the core's
    sessions = (await (await get(client, "/api/sessions")).json())["sessions"]
    assert sessions[0]["stored_languages"] == ["en"] and sessions[0]["export_languages"] == ["en", "de", "fr", "ja"]


def filename_in(resp: Any) -> str:
    return str(resp.headers["Content-Disposition"]).split('filename="')[1].rstrip('"')


async def test_a_language_read_for_a_while_keeps_what_its_readers_saw(client: TestClient[web.Request, web.Application], fake: FakeTranslator) -> None:
    said = [await say(client, f"Line {i}.") for i in range(4)]
    store = client.app[STORE]
    # French was read for line 2 only (as the session core would have stored it).
    store.insert_caption(Caption("main", "fr", 1, said[2]["id"], said[2]["start_ms"], said[2]["end_ms"],
                                 "Ligne deux, lue en direct.", origin="translation", source_lang="en",
                                 source_text="Line 2."))
    cues = list(srt.parse(await (await get(client, "/api/sessions/main/export.srt?lang=fr")).text()))
    assert [c.content for c in cues] == ["[fr] Line 0.", "[fr] Line 1.", "Ligne deux, lue en direct.", "[fr] Line 3."]
    assert "Line 2." not in texts_sent(fake)


async def test_unreachable_languages_and_bad_choices_get_clear_errors(client: TestClient[web.Request, web.Application]) -> None:
    await say(client, "Hello.")
    resp = await get(client, "/api/sessions/main/export.txt?lang=ko")
    body = await resp.json()
    assert resp.status == 404 and body["error"]["code"] == "not_found"
    assert "'ko'" in body["error"]["message"] and "en, de, fr, ja" in body["error"]["message"]
    resp = await get(client, "/api/sessions/main/export.zip?langs=fr,ko")
    assert resp.status == 404 and "en, de, fr, ja" in (await resp.json())["error"]["message"]
    resp = await get(client, "/api/sessions/main/export.zip?langs=fr,../x")
    assert resp.status == 400 and (await resp.json())["error"]["code"] == "unknown_language"
    resp = await get(client, "/api/sessions/main/export.txt?lang=ja&job=short")
    assert resp.status == 400 and (await resp.json())["error"]["code"] == "bad_job"
    resp = await get(client, "/api/exports/never-started-1")
    assert resp.status == 404 and (await resp.json())["error"]["code"] == "not_found"


async def test_zip_takes_its_languages(client: TestClient[web.Request, web.Application], fake: FakeTranslator) -> None:
    for i in range(3):
        await say(client, f"Line {i}.")

    async def names(query: str) -> list[str]:
        resp = await get(client, f"/api/sessions/main/export.zip{query}")
        assert resp.status == 200, await resp.text()
        archive = zipfile.ZipFile(io.BytesIO(await resp.read()))
        assert archive.testzip() is None
        return archive.namelist()

    assert await names("") == [f"main-hall.en.{fmt}" for fmt in FORMATS]  # default: the stored languages
    chosen = await names("?langs=ja,en")
    assert chosen == [f"main-hall.{lang}.{fmt}" for lang in ("ja", "en") for fmt in FORMATS]
    assert len(texts_sent(fake)) == 3  # five formats of Japanese, translated once
    everything = await names("?langs=all")
    assert {n.split(".")[1] for n in everything} == {"en", "de", "fr", "ja"}


async def test_progress_is_readable_while_the_export_translates(aiohttp_client: Any, settings: Settings) -> None:
    gated = GatedTranslator(PAIRS, hold_at=2)  # the first batch of 16 goes through, the second waits
    service = TranslationService(gated, workers=1, max_batch=16)
    client = await aiohttp_client(make_app(settings, translator=service, clock=ManualClock().clock))
    try:
        for i in range(40):
            await say(client, f"Line {i}.")
        download = asyncio.create_task(get(client, "/api/sessions/main/export.txt?lang=ja&job=job-0123456789"))
        await asyncio.get_running_loop().run_in_executor(None, gated.held.wait)
        progress = await (await get(client, "/api/exports/job-0123456789")).json()
        assert progress == {"job": "job-0123456789", "state": "running", "format": "txt", "langs": ["ja"],
                            "lang": "ja", "captions_done": 0, "captions_total": 40, "translations_done": 16,
                            "translations_total": 40, "message": None}
        again = await get(client, "/api/sessions/main/export.txt?lang=ja&job=job-0123456789")
        assert again.status == 409 and (await again.json())["error"]["code"] == "exists"
        gated.gate.set()
        resp = await download
        assert resp.status == 200 and "[ja] Line 39." in await resp.text()
        progress = await (await get(client, "/api/exports/job-0123456789")).json()
        assert progress["state"] == "done" and progress["captions_done"] == 40
        assert progress["translations_done"] == 40
        resp = await client.get("/api/exports/job-0123456789", headers=bearer(CHAIR))
        assert resp.status == 403  # staff only
    finally:
        gated.gate.set()
        await service.close()


async def test_delegates_download_a_translated_transcript(client: TestClient[web.Request, web.Application], fake: FakeTranslator) -> None:
    for i in range(3):
        await say(client, f"Line {i}.")
    resp = await client.get("/api/sessions/main/transcript.txt?lang=de&job=ignored-for-delegates")
    assert resp.status == 200 and "[de] Line 2." in await resp.text()
    resp = await get(client, "/api/exports/ignored-for-delegates")
    assert resp.status == 404  # only staff exports are followed


async def test_test_only_cipher_packages_translate_an_export(aiohttp_client: Any, settings: Settings,
                                                             tmp_path: Any, tmp_path_factory: Any) -> None:
    """The real engine with generated test-only cipher packages (their output is gibberish, not a translation)."""
    from assistant.server.engines import build_translator
    from assistant.translate import PackageRegistry
    from tests.helpers.argos_builder import cipher_reference, tiny_package_files

    packages = tmp_path / "argos-packages"
    tiny = tiny_package_files(tmp_path_factory)[("en", "fr")]
    pair = PackageRegistry(packages).install_file(tiny.path)
    cfg = dataclasses.replace(settings, translation=dataclasses.replace(settings.translation, packages_dir=packages))
    service = build_translator(cfg)
    client = await aiohttp_client(make_app(cfg, translator=service, clock=ManualClock().clock))
    try:
        lines = ["Welcome to the conference, everyone.", "Please turn your phone to silent mode."]
        for line in lines:
            await say(client, line)
        resp = await get(client, "/api/sessions/main/export.vtt?lang=fr")
        assert resp.status == 200
        body = await resp.text()
        for line in lines:
            assert cipher_reference(pair.path, line, tiny.shift) in body
        resp = await get(client, "/api/sessions/main/export.txt?lang=de")  # no en→de package here
        assert resp.status == 404 and "en, fr" in (await resp.json())["error"]["message"]
    finally:
        await service.close()


async def test_one_delegate_download_translates_at_a_time(aiohttp_client: Any, settings: Settings) -> None:
    gated = GatedTranslator(PAIRS, hold_at=1)  # the first batch (the delegate's Japanese) waits
    service = TranslationService(gated, workers=2, max_batch=16)
    client = await aiohttp_client(make_app(settings, translator=service, clock=ManualClock().clock))
    try:
        for i in range(3):
            await say(client, f"Line {i}.")
        first = asyncio.create_task(client.get("/api/sessions/main/transcript.txt?lang=ja"))
        await asyncio.get_running_loop().run_in_executor(None, gated.held.wait)
        resp = await client.get("/api/sessions/main/transcript.txt?lang=de")
        assert resp.status == 503 and (await resp.json())["error"]["code"] == "busy"
        resp = await client.get("/api/sessions/main/transcript.txt?lang=en")  # nothing to translate: served
        assert resp.status == 200 and "Line 2." in await resp.text()
        resp = await get(client, "/api/sessions/main/export.txt?lang=fr")  # staff are not held back
        assert resp.status == 200 and "[fr] Line 2." in await resp.text()
        gated.gate.set()
        assert "[ja] Line 2." in await (await first).text()
        resp = await client.get("/api/sessions/main/transcript.txt?lang=de")
        assert resp.status == 200 and "[de] Line 2." in await resp.text()
    finally:
        gated.gate.set()
        await service.close()
