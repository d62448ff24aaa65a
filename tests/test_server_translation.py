"""Translated streams, corrections in every language, manual captions, exports over HTTP."""

from __future__ import annotations

import dataclasses
import io
import json
from typing import Any, AsyncIterator

import pytest
import srt
from aiohttp import web
from aiohttp.test_utils import TestClient

from assistant.config import Settings
from assistant.server.app import make_app
from assistant.translate import FakeTranslator, TranslationService
from tests.conftest import CHAIR, STAFF, ManualClock, bearer
from tests.test_capture_server import until
from tests.test_server_readers import frames_until, say


@pytest.fixture
async def client(aiohttp_client: Any, settings: Settings) -> AsyncIterator[TestClient[web.Request, web.Application]]:
    # A fake translator: its output is "[fr] text", plainly not a translation.
    fake = FakeTranslator({("en", "fr"), ("en", "de"), ("en", "es")})
    service = TranslationService(fake, workers=1, max_batch=8)
    app = make_app(settings, translator=service, clock=ManualClock().clock)
    client = await aiohttp_client(app)
    yield client
    await service.close()


async def test_french_reader_gets_translations_with_source_text(client: TestClient[web.Request, web.Application]) -> None:
    ws = await client.ws_connect("/ws/captions/main?lang=fr")
    hello = (await frames_until(ws, "hello"))[0]
    assert hello["lang"] == "fr" and set(hello["languages"]) == {"en", "de", "es", "fr"}
    src = await say(client, "The session starts now.")
    frames = await frames_until(ws, "caption")
    cap = frames[-1]
    assert cap["lang"] == "fr" and cap["text"] == "[fr] The session starts now."
    assert cap["source_text"] == "The session starts now." and cap["machine_translated"] is True
    assert cap["id"] == src["id"] and cap["start_ms"] == src["start_ms"] and cap["end_ms"] == src["end_ms"]
    assert cap["seq"] == 1
    await ws.close()


async def test_a_reader_choosing_a_language_has_its_model_loaded_before_the_first_caption(
        aiohttp_client: Any, settings: Settings) -> None:
    fake = FakeTranslator({("en", "fr"), ("en", "de")})
    service = TranslationService(fake, workers=1)
    client = await aiohttp_client(make_app(settings, translator=service, clock=ManualClock().clock))
    ws = await client.ws_connect("/ws/captions/main?lang=fr")
    await frames_until(ws, "hello")
    await until(lambda: fake.loads == [("en", "fr")], "the en→fr model to be loaded")
    assert fake.batches == []  # nothing said yet: loaded ahead, not by a translation
    await say(client, "The session starts now.")
    assert [f["text"] for f in await frames_until(ws, "caption") if f["type"] == "caption"] == [
        "[fr] The session starts now."]
    assert fake.loads == [("en", "fr")]  # German has no reader: not loaded
    await ws.close()
    await service.close()


async def test_language_opened_late_is_backfilled_and_resumes_its_own_stream(client: TestClient[web.Request, web.Application]) -> None:
    for i in range(3):
        await say(client, f"Point {i}.")
    ws = await client.ws_connect("/ws/captions/main?lang=de")
    frames = await frames_until(ws, "caption", 3)
    assert [f["text"] for f in frames if f["type"] == "caption"] == [f"[de] Point {i}." for i in range(3)]
    await ws.close()
    await say(client, "Point 3.")  # nobody reads German now: no lane, no cost
    ws = await client.ws_connect("/ws/captions/main?lang=de&since=3")
    frames = await frames_until(ws, "caption", 1)
    caps = [f for f in frames if f["type"] == "caption"]
    assert [(c["seq"], c["text"]) for c in caps] == [(4, "[de] Point 3.")]
    await ws.close()


async def test_correction_reaches_every_language(client: TestClient[web.Request, web.Application]) -> None:
    en = await client.ws_connect("/ws/captions/main?lang=en")
    fr = await client.ws_connect("/ws/captions/main?lang=fr")
    await frames_until(en, "hello")
    await frames_until(fr, "hello")
    src = await say(client, "The Nobel price goes to chemistry.")
    await frames_until(en, "caption")
    await frames_until(fr, "caption")
    resp = await client.patch(f"/api/sessions/main/captions/{src['id']}",
                              json={"text": "The Nobel prize goes to chemistry."}, headers=bearer(CHAIR))
    assert resp.status == 200 and (await resp.json())["revision"] == 1
    fix_en = (await frames_until(en, "correction"))[-1]
    fix_fr = (await frames_until(fr, "correction"))[-1]
    assert fix_en["text"] == "The Nobel prize goes to chemistry." and fix_en["revision"] == 1
    assert fix_fr["text"] == "[fr] The Nobel prize goes to chemistry." and fix_fr["id"] == src["id"]
    resp = await client.get(f"/api/sessions/main/captions/{src['id']}/revisions", headers=bearer(STAFF))
    trail = (await resp.json())["revisions"]
    en_trail = [r for r in trail if r["lang"] == "en"]
    assert en_trail[0]["before"] == "The Nobel price goes to chemistry." and en_trail[0]["author"] == "chair"
    # a reconnecting reader gets the corrected text
    late = await client.ws_connect("/ws/captions/main?lang=fr")
    cap = [f for f in await frames_until(late, "caption") if f["type"] == "caption"][0]
    assert cap["text"] == "[fr] The Nobel prize goes to chemistry." and cap["revision"] == 1
    for ws in (en, fr, late):
        await ws.close()


async def test_export_over_http_matches_the_store(client: TestClient[web.Request, web.Application]) -> None:
    ws = await client.ws_connect("/ws/captions/main?lang=fr")
    await frames_until(ws, "hello")
    texts = ["First line.", "Second line.", "Third line."]
    for text in texts:
        await say(client, text)
    await frames_until(ws, "caption", 3)
    resp = await client.get("/api/sessions/main/export.srt?lang=fr")
    assert resp.status == 401
    resp = await client.get("/api/sessions/main/export.srt?lang=fr", headers=bearer(STAFF))
    assert resp.status == 200 and "attachment" in resp.headers["Content-Disposition"]
    cues = list(srt.parse(await resp.text()))
    assert [c.content for c in cues] == [f"[fr] {t}" for t in texts]
    resp = await client.get("/api/sessions/main/export.json", headers=bearer(STAFF))
    data = json.loads(await resp.text())
    assert [c["text"] for c in data["captions"]] == texts
    resp = await client.get("/api/sessions/main/export.zip", headers=bearer(STAFF))
    import zipfile
    names = zipfile.ZipFile(io.BytesIO(await resp.read())).namelist()
    assert any(n.endswith(".fr.docx") for n in names) and any(n.endswith(".en.vtt") for n in names)
    resp = await client.get("/api/sessions/main/export.pdf", headers=bearer(STAFF))
    assert resp.status == 400 and (await resp.json())["error"]["code"] == "bad_format"
    resp = await client.get("/api/sessions/main/transcript.txt?lang=fr")  # public download
    assert resp.status == 200 and "[fr] Third line." in await resp.text()
    await ws.close()


async def test_staff_session_list_and_create(client: TestClient[web.Request, web.Application]) -> None:
    resp = await client.post("/api/sessions", json={"id": "room-b", "title": "Room B", "language": "ru"})
    assert resp.status == 401
    resp = await client.post("/api/sessions", json={"id": "room-b", "title": "Room B", "language": "ru"},
                             headers=bearer(STAFF))
    assert resp.status == 201
    resp = await client.post("/api/sessions", json={"id": "Bad Id!"}, headers=bearer(STAFF))
    assert resp.status == 400
    public = (await (await client.get("/api/sessions")).json())["sessions"]
    assert {s["id"] for s in public} == {"main", "room-b"}
    staff = (await (await client.get("/api/sessions", headers=bearer(STAFF))).json())["sessions"]
    assert all("captions" in s for s in staff)


async def test_manual_caption_validation(client: TestClient[web.Request, web.Application]) -> None:
    for body in ({}, {"text": ""}, {"text": "x" * 5000}, {"text": "hi", "lang": "zz-!!"}):
        resp = await client.post("/api/sessions/main/captions", json=body, headers=bearer(CHAIR))
        assert resp.status == 400, body
        assert set((await resp.json())["error"]) == {"code", "message"}
    resp = await client.post("/api/sessions/main/captions", data=b"\xff\xfe", headers=bearer(CHAIR))
    assert resp.status == 400


async def test_settings_languages_are_always_translated(aiohttp_client: Any, settings: Settings) -> None:
    sess = dataclasses.replace(settings.sessions[0], languages=("es",))
    fake = FakeTranslator({("en", "es")})
    service = TranslationService(fake, workers=1, max_batch=8)
    client = await aiohttp_client(make_app(dataclasses.replace(settings, sessions=(sess,)), translator=service,
                                           clock=ManualClock().clock))
    await say(client, "Nobody reads Spanish yet.")
    ws = await client.ws_connect("/ws/captions/main?lang=es")
    frames = await frames_until(ws, "caption")
    assert frames[-1]["text"] == "[es] Nobody reads Spanish yet."
    await ws.close()
    await service.close()


async def test_a_room_screen_ranks_its_language_first_for_text_in_progress(aiohttp_client: Any,
                                                                           settings: Settings) -> None:
    langs = ("ar", "de", "es", "fr", "ja")
    service = TranslationService(FakeTranslator({("en", lang) for lang in langs}), workers=1)
    client = await aiohttp_client(make_app(settings, translator=service, clock=ManualClock().clock))
    phones = {lang: [await client.ws_connect(f"/ws/captions/main?lang={lang}") for _ in range(2)]
              for lang in ("de", "es", "fr", "ja")}
    for socket in (ws for sockets in phones.values() for ws in sockets):
        await frames_until(socket, "status")
    # Four languages on two phones each get text in progress; Arabic on the hall's projector takes German's place.
    screen = await client.ws_connect("/ws/captions/main?lang=ar&screen=1")
    assert [f for f in await frames_until(screen, "status") if f["type"] == "status"][-1]["partials"] is True
    told = [f for f in await frames_until(phones["de"][0], "status") if f["type"] == "status"]
    assert told[-1]["partials"] is False
    await screen.close()  # the projector is switched off: German has them again
    told = [f for f in await frames_until(phones["de"][0], "status") if f["type"] == "status"]
    assert told[-1]["partials"] is True
    for socket in (ws for sockets in phones.values() for ws in sockets):
        await socket.close()
    await service.close()


@pytest.mark.model
async def test_real_zh_en_package_through_the_server(aiohttp_client: Any, settings: Settings) -> None:
    from pathlib import Path

    from assistant.server.engines import build_translator

    packages = Path("data/argos-packages")  # installed by `make` (the shipped zh→en example)
    assert any(packages.glob("*zh_en*")), "run `make languages` to install the shipped zh→en package"
    zh = dataclasses.replace(settings, translation=dataclasses.replace(settings.translation, packages_dir=packages),
                             sessions=(dataclasses.replace(settings.sessions[0], language="zh"),))
    service = build_translator(zh)
    assert service is not None
    client = await aiohttp_client(make_app(zh, translator=service, clock=ManualClock().clock))
    ws = await client.ws_connect("/ws/captions/main?lang=en")
    hello = (await frames_until(ws, "hello"))[0]
    assert hello["source_lang"] == "zh" and "en" in hello["languages"]
    engine = service.translator.inner.inner  # type: ignore[attr-defined]  # Pivot(Cached(engine))
    await until(lambda: engine.loaded_pairs() == (("zh", "en"),), "the reader's zh→en model, before any caption")
    resp = await client.post("/api/sessions/main/captions", json={"text": "我们今天讨论气候变化。"},
                             headers=bearer(CHAIR))
    assert resp.status == 201
    cap = [f for f in await frames_until(ws, "caption", timeout=60) if f["type"] == "caption"][0]
    assert cap["origin"] == "translation" and cap["source_text"] == "我们今天讨论气候变化。"
    assert "climate" in cap["text"].lower(), cap["text"]
    # Laughter as Whisper writes it is translated as laughter, not shown in Chinese (the model gets three copies).
    resp = await client.post("/api/sessions/main/captions", json={"text": "哈哈哈哈哈哈哈哈哈哈"}, headers=bearer(CHAIR))
    assert resp.status == 201
    laugh = [f for f in await frames_until(ws, "caption", timeout=60) if f["type"] == "caption"][0]
    assert laugh["source_text"] == "哈哈哈哈哈哈哈哈哈哈" and not laugh.get("fallback"), laugh
    assert laugh["text"].lower().startswith("ha ha ha"), laugh
    await ws.close()
    await service.close()


@pytest.mark.model
async def test_real_zh_en_partials_then_the_final_then_a_correction(aiohttp_client: Any, settings: Settings) -> None:
    """Translated text in progress with the real zh→en package: partial frames, the final, a correction."""
    from pathlib import Path

    from assistant.asr.types import FinalCaption, PartialCaption
    from assistant.server.engines import build_translator
    from assistant.server.keys import SESSIONS
    from tests.helpers.recognizers import silent_factory

    packages = Path("data/argos-packages")
    zh = dataclasses.replace(settings, translation=dataclasses.replace(settings.translation, packages_dir=packages),
                             sessions=(dataclasses.replace(settings.sessions[0], language="zh"),))
    service = build_translator(zh)
    clock = ManualClock()
    client = await aiohttp_client(make_app(zh, translator=service, clock=clock.clock,
                                           recognizer_factory=silent_factory))
    ws = await client.ws_connect("/ws/captions/main?lang=en")
    await frames_until(ws, "status")
    runtime = client.server.app[SESSIONS].get("main")
    runtime.recognized(PartialCaption(0, 1500, "我们今天讨论气候", stable_text="我们今天讨论"))
    first = [f for f in await frames_until(ws, "partial", timeout=60) if f["type"] == "partial"][-1]
    assert first["lang"] == "en" and first["text"] and "stable_text" not in first
    clock.ms += 2000  # later, more agreed words
    runtime.recognized(PartialCaption(0, 2500, "我们今天讨论气候变化的", stable_text="我们今天讨论气候变化"))
    second = [f for f in await frames_until(ws, "partial", timeout=60) if f["type"] == "partial"][-1]
    assert "climate" in second["text"].lower(), second["text"]
    runtime.recognized(FinalCaption(0, 3000, "我们今天讨论气候变化。", (), "zh"))
    frames = await frames_until(ws, "caption", timeout=60)
    cap = [f for f in frames if f["type"] == "caption"][0]
    assert "climate" in cap["text"].lower() and cap["source_text"] == "我们今天讨论气候变化。"
    cleared = [f for f in await frames_until(ws, "partial", timeout=60) if f["type"] == "partial"][-1]
    assert cleared["text"] == ""
    fix = await client.patch(f"/api/sessions/main/captions/{cap['id']}", json={"text": "我们今天讨论经济。"},
                             headers=bearer(CHAIR))
    assert fix.status == 200
    correction = [f for f in await frames_until(ws, "correction", timeout=60) if f["type"] == "correction"][0]
    assert correction["id"] == cap["id"] and correction["source_text"] == "我们今天讨论经济。"
    assert "econom" in correction["text"].lower(), correction["text"]
    await ws.close()
    await service.close()


async def test_a_package_installed_while_running_is_served_without_a_restart(
        aiohttp_client: Any, settings: Settings, tmp_path: Any, tmp_path_factory: Any) -> None:
    from assistant.server.engines import build_translator
    from assistant.server.runtime import AVAILABLE_REFRESH_MS
    from assistant.translate import PackageRegistry
    from tests.helpers.argos_builder import cipher_reference, tiny_package_files

    packages = tmp_path / "argos-packages"  # nothing installed when the server starts
    empty = dataclasses.replace(settings, translation=dataclasses.replace(settings.translation, packages_dir=packages))
    service = build_translator(empty)
    clock = ManualClock()
    client = await aiohttp_client(make_app(empty, translator=service, clock=clock.clock))
    refused = await client.ws_connect("/ws/captions/main?lang=fr")
    error = [f for f in await frames_until(refused, "error") if f["type"] == "error"][0]
    assert error["code"] == "unknown_language" and error["languages"] == ["en"]

    tiny = tiny_package_files(tmp_path_factory)[("en", "fr")]
    pair = PackageRegistry(packages).install_file(tiny.path)  # what `assistant languages add` does
    clock.ms += AVAILABLE_REFRESH_MS  # the server looks at the folder again every few seconds
    ws = await client.ws_connect("/ws/captions/main?lang=fr")
    hello = (await frames_until(ws, "hello"))[0]
    assert hello["lang"] == "fr" and "fr" in hello["languages"]
    await say(client, "hello world")
    cap = [f for f in await frames_until(ws, "caption", timeout=30) if f["type"] == "caption"][0]
    assert cap["origin"] == "translation" and cap["source_text"] == "hello world"
    assert cap["text"] == cipher_reference(pair.path, "hello world", tiny.shift)
    await ws.close()
    await service.close()


async def test_test_only_packages_give_two_languages_text_in_progress_then_finals(
        aiohttp_client: Any, settings: Settings, tmp_path: Any, tmp_path_factory: Any) -> None:
    """The mechanics with the generated test-only cipher packages (their output is no translation)."""
    from assistant.asr.types import FinalCaption, PartialCaption
    from assistant.server.engines import build_translator
    from assistant.server.keys import SESSIONS
    from assistant.translate import PackageRegistry
    from tests.helpers.argos_builder import cipher_reference, tiny_package_files
    from tests.helpers.recognizers import silent_factory

    packages = tmp_path / "argos-packages"
    registry = PackageRegistry(packages)
    tiny = tiny_package_files(tmp_path_factory)
    pairs = {t: registry.install_file(tiny[("en", t)].path) for t in ("fr", "de")}
    cfg = dataclasses.replace(settings, translation=dataclasses.replace(settings.translation, packages_dir=packages))
    service = build_translator(cfg)
    client = await aiohttp_client(make_app(cfg, translator=service, clock=ManualClock().clock,
                                           recognizer_factory=silent_factory))
    readers = {t: await client.ws_connect(f"/ws/captions/main?lang={t}") for t in pairs}
    for ws in readers.values():
        await frames_until(ws, "status")
    runtime = client.server.app[SESSIONS].get("main")
    runtime.recognized(PartialCaption(0, 1200, "hello world again", stable_text="hello world"))
    for t, ws in readers.items():
        partial = [f for f in await frames_until(ws, "partial", timeout=30) if f["type"] == "partial"][-1]
        assert partial["source_text"] == "hello world"
        assert partial["text"] == cipher_reference(pairs[t].path, "hello world", tiny[("en", t)].shift)
    runtime.recognized(FinalCaption(0, 1500, "hello world again", (), "en"))
    for t, ws in readers.items():
        frames = await frames_until(ws, "caption", timeout=30)
        assert [f["type"] for f in frames if f["type"] in ("partial", "caption")][-1] == "caption"
        cleared = [f for f in await frames_until(ws, "partial", timeout=30) if f["type"] == "partial"][-1]
        assert cleared["text"] == ""
        await ws.close()
    await service.close()


async def test_real_zh_en_pieces_text_in_progress_one_clause_final_and_a_piece_corrected(
        aiohttp_client: Any, settings: Settings) -> None:
    """Finals as pieces with the real zh→en package: the first piece is translated in progress, the clause
    is translated once, whole; a correction of its first piece reaches the English reader."""
    from pathlib import Path

    from assistant.asr.types import FinalCaption
    from assistant.server.engines import build_translator
    from assistant.server.keys import SESSIONS
    from tests.helpers.recognizers import silent_factory

    zh = dataclasses.replace(settings, translation=dataclasses.replace(settings.translation,
                                                                       packages_dir=Path("data/argos-packages")),
                             sessions=(dataclasses.replace(settings.sessions[0], language="zh"),))
    service = build_translator(zh)
    client = await aiohttp_client(make_app(zh, translator=service, clock=ManualClock().clock,
                                           recognizer_factory=silent_factory))
    ws = await client.ws_connect("/ws/captions/main?lang=en")
    spoken = await client.ws_connect("/ws/captions/main?lang=zh")
    await frames_until(ws, "status")
    runtime = client.server.app[SESSIONS].get("main")
    runtime.recognized(FinalCaption(0, 1500, "我们今天讨论", (), "zh", line_start=True, clause_end=False))
    progress = [f for f in await frames_until(ws, "partial", timeout=60) if f["type"] == "partial"][-1]
    assert progress["source_text"] == "我们今天讨论" and progress["text"]
    runtime.recognized(FinalCaption(1500, 3000, "气候变化。", (), "zh", line_start=False, clause_end=True))
    pieces = [f for f in await frames_until(spoken, "caption", count=2) if f["type"] == "caption"]
    assert [(p["text"], p.get("continues", False)) for p in pieces] == [("我们今天讨论", False), ("气候变化。", True)]
    cap = [f for f in await frames_until(ws, "caption", timeout=60) if f["type"] == "caption"][0]
    assert cap["source_text"] == "我们今天讨论气候变化。" and "climate" in cap["text"].lower()
    assert cap["id"] == pieces[1]["id"] and cap["start_ms"] == 0 and "continues" not in cap
    fix = await client.patch(f"/api/sessions/main/captions/{pieces[0]['id']}", json={"text": "我们今天讨论经济"},
                             headers=bearer(CHAIR))
    assert fix.status == 200
    correction = [f for f in await frames_until(ws, "correction", timeout=60) if f["type"] == "correction"][0]
    assert correction["id"] == cap["id"] and correction["source_text"] == "我们今天讨论经济气候变化。"
    await ws.close()
    await spoken.close()
    await service.close()
