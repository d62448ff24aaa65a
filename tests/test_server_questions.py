"""The floor's questions through the real server: HTTP, sockets, SQLite, restarts, exports."""

from __future__ import annotations

import asyncio
import dataclasses
import io
import json
from typing import Any, Callable

import docx
import pytest
from aiohttp import WSMsgType, web
from aiohttp.test_utils import TestClient

from assistant import protocol
from assistant.config import Settings
from assistant.server.app import make_app
from assistant.server.keys import QUESTIONS
from assistant.translate import FakeTranslator, TranslationService
from tests.conftest import CHAIR, STAFF, ManualClock, bearer

ASKER = {"X-Device-Id": "phone-of-the-asker-0001"}
VOTER = {"X-Device-Id": "phone-of-a-voter-00002"}
QUESTION_ZH = "我们什么时候开始？"


def device(n: int) -> dict[str, str]:
    return {"X-Device-Id": f"phone-number-{n:010d}"}


def service() -> TranslationService:
    # zh→en and en→fr only: French gets Chinese questions through the chair's English (a pivot).
    return TranslationService(FakeTranslator({("zh", "en"), ("en", "fr"), ("en", "de")}), workers=1)


Client = TestClient[web.Request, web.Application]


async def start(aiohttp_client: Any, settings: Settings, clock: ManualClock | None = None) -> Client:
    translator = service()
    app = make_app(settings, translator=translator, clock=(clock or ManualClock()).clock)

    async def close_translator(_: Any) -> None:
        await translator.close()

    app.on_cleanup.append(close_translator)
    return await aiohttp_client(app)  # type: ignore[no-any-return]


async def frame_where(ws: Any, test: Callable[[dict[str, Any]], bool], timeout: float = 5) -> dict[str, Any]:
    """The first frame from ``ws`` that passes ``test`` (others are skipped)."""
    async with asyncio.timeout(timeout):
        while True:
            msg = await ws.receive()
            assert msg.type == WSMsgType.TEXT, msg
            frame: dict[str, Any] = json.loads(msg.data)
            if test(frame):
                return frame


async def ask(client: Client, text: str = QUESTION_ZH, lang: str = "zh", headers: dict[str, str] = ASKER,
              **extra: Any) -> dict[str, Any]:
    resp = await client.post("/api/sessions/main/questions", json={"text": text, "lang": lang, **extra},
                             headers=headers)
    assert resp.status == 201, await resp.text()
    return (await resp.json())["question"]  # type: ignore[no-any-return]


async def decide(client: Client, qid: str, action: str, **extra: Any) -> dict[str, Any]:
    resp = await client.patch(f"/api/sessions/main/questions/{qid}", json={"action": action, **extra},
                              headers=bearer(CHAIR))
    assert resp.status == 200, await resp.text()
    return await resp.json()  # type: ignore[no-any-return]


async def test_a_chinese_question_reaches_the_chair_in_english_and_french_readers_through_the_pivot(
        aiohttp_client: Any, settings: Settings) -> None:
    client = await start(aiohttp_client, settings)
    console = await client.ws_connect("/ws/chair/main", protocols=(f"bearer.{CHAIR}",))
    french = await client.ws_connect("/ws/captions/main?lang=fr")
    await frame_where(french, lambda f: f["type"] == "status")
    asked = await ask(client, name="Li Wei")
    assert asked["state"] == "pending" and asked["text"] == QUESTION_ZH and asked["name"] == "Li Wei"
    seen = await frame_where(console, lambda f: f["type"] == "moderation" and not f.get("translating"))
    assert (seen["id"], seen["lang"], seen["text"], seen["source_lang"], seen["source_text"]) == (
        asked["id"], "en", f"[en] {QUESTION_ZH}", "zh", QUESTION_ZH)
    await decide(client, asked["id"], "approve")
    fr = await frame_where(french, lambda f: f["type"] == "question")
    assert fr["state"] == "approved" and fr["lang"] == "fr" and fr["text"] == f"[fr] [en] {QUESTION_ZH}"
    assert fr["source_text"] == QUESTION_ZH and fr["machine_translated"] is True and fr["name"] == "Li Wei"
    listed = await (await client.get("/api/sessions/main/questions", headers=bearer(CHAIR))).json()
    assert [(q["id"], q["state"], q["text"]) for q in listed["questions"]] == [
        (asked["id"], "approved", f"[en] {QUESTION_ZH}")]
    for ws in (console, french):
        await ws.close()


async def test_votes_count_once_per_device_and_the_room_screen_learns_the_question_being_answered(
        aiohttp_client: Any, settings: Settings) -> None:
    client = await start(aiohttp_client, settings)
    first = await ask(client, "When do we start?", "en")
    second = await ask(client, "Is there coffee?", "en", headers=VOTER)
    for q in (first, second):
        await decide(client, q["id"], "approve")
    for n in range(3):
        resp = await client.post(f"/api/sessions/main/questions/{second['id']}/vote", headers=device(n))
        assert (await resp.json())["counted"] is True
    again = await client.post(f"/api/sessions/main/questions/{second['id']}/vote", headers=device(0))
    assert await again.json() == {"id": second["id"], "votes": 3, "counted": False}
    screen = await client.ws_connect("/ws/captions/main")  # the room screen reads the spoken language
    snapshot = await frame_where(screen, lambda f: f["type"] == "questions")
    assert [(q["text"], q["votes"]) for q in snapshot["questions"]] == [("Is there coffee?", 3),
                                                                       ("When do we start?", 0)]
    console = await client.ws_connect("/ws/chair/main", protocols=(f"bearer.{CHAIR}",))
    await console.send_json({"type": "question", "id": second["id"], "action": "answering"})
    now = await frame_where(screen, lambda f: f["type"] == "question")
    assert (now["id"], now["state"], now["text"]) == (second["id"], "answering", "Is there coffee?")
    await console.send_json({"type": "question", "id": second["id"], "action": "fly"})
    error = await frame_where(console, lambda f: f["type"] == "error")
    assert error["code"] == "bad_action" and "approve, reject, merge, answering, answered" in error["message"]
    view = await (await client.get("/api/sessions/main/questions?lang=en", headers=device(1))).json()
    assert view["voted"] == [second["id"]] and view["mine"] == [] and view["limits"]["left"] == 5
    for ws in (screen, console):
        await ws.close()


async def test_refusals_say_what_to_do_and_when_to_try_again(aiohttp_client: Any, settings: Settings) -> None:
    clock = ManualClock()
    client = await start(aiohttp_client, settings, clock)
    url = "/api/sessions/main/questions"
    no_device = await client.post(url, json={"text": "Hi?", "lang": "en"})
    assert no_device.status == 400 and (await no_device.json())["error"]["code"] == "bad_device"
    bad_device = await client.post(url, json={"text": "Hi?", "lang": "en"}, headers={"X-Device-Id": "short"})
    assert bad_device.status == 400
    too_long = await client.post(url, json={"text": "why " * 200, "lang": "en"}, headers=ASKER)
    body = await too_long.json()
    assert too_long.status == 400 and body["error"]["code"] == "too_long" and "500" in body["error"]["message"]
    no_lang = await client.post(url, json={"text": "Hi?"}, headers=ASKER)
    assert no_lang.status == 400 and (await no_lang.json())["error"]["code"] == "unknown_language"
    for field, raw in (("text", '"Half \\ud83d a face?"'), ("name", '"Ann\\u0000"')):  # JSON escapes, sent as such
        body_text = '{"text": "Fine?", "lang": "en", "' + field + '": ' + raw + "}"
        broken = await client.post(url, data=body_text, headers={**ASKER, "Content-Type": "application/json"})
        message = (await broken.json())["error"]["message"]
        assert broken.status == 400 and ("surrogate" if field == "text" else "control character") in message
    assert (await client.get("/api/sessions/main/questions?lang=en", headers=ASKER)).status == 200
    await ask(client, "First?", "en")
    soon = await client.post(url, json={"text": "Second?", "lang": "en"}, headers=ASKER)
    body = await soon.json()
    assert soon.status == 429 and soon.headers["Retry-After"] == "30" and body["error"]["retry_after_s"] == 30
    assert "wait 30 s" in body["error"]["message"]
    for n in range(4):
        clock.ms += 30_000
        await ask(client, f"Again {n}?", "en")
    clock.ms += 30_000
    many = await client.post(url, json={"text": "Sixth?", "lang": "en"}, headers=ASKER)
    body = await many.json()
    assert many.status == 429 and body["error"]["code"] == "question_limit" and "Retry-After" not in many.headers
    pending = (await (await client.get(url, headers=ASKER)).json())["mine"][0]["id"]
    refused = await client.post(f"{url}/{pending}/vote", headers=VOTER)
    assert refused.status == 400 and (await refused.json())["error"]["code"] == "bad_state"
    missing = await client.post(f"{url}/nope/vote", headers=VOTER)
    assert missing.status == 404
    not_chair = await client.patch(f"{url}/{pending}", json={"action": "approve"}, headers=ASKER)
    assert not_chair.status == 401


async def test_a_private_sessions_floor_needs_its_key(aiohttp_client: Any, settings: Settings) -> None:
    client = await start(aiohttp_client, settings)
    made = await client.post("/api/sessions", json={"id": "board", "public": False, "key": "board-key-123"},
                             headers=bearer(STAFF))
    assert made.status == 201
    url = "/api/sessions/board/questions"
    refused = await client.post(url, json={"text": "May I?", "lang": "en"}, headers=ASKER)
    assert refused.status == 401
    taken = await client.post(f"{url}?key=board-key-123", json={"text": "May I?", "lang": "en"}, headers=ASKER)
    assert taken.status == 201


async def test_questions_votes_and_translations_survive_a_restart(aiohttp_client: Any, settings: Settings) -> None:
    client = await start(aiohttp_client, settings)
    keep = await ask(client)
    dup = await ask(client, "When does it start?", "en", headers=VOTER)
    german = await client.ws_connect("/ws/captions/main?lang=de")
    await frame_where(german, lambda f: f["type"] == "status")
    await decide(client, keep["id"], "approve")
    await frame_where(german, lambda f: f["type"] == "question")
    await decide(client, dup["id"], "merge", into=keep["id"])
    await client.post(f"/api/sessions/main/questions/{keep['id']}/vote", headers=device(7))
    before = await (await client.get("/api/sessions/main/questions", headers=bearer(CHAIR))).json()
    await german.close()
    await client.close()

    client = await start(aiohttp_client, settings)
    after = await (await client.get("/api/sessions/main/questions", headers=bearer(CHAIR))).json()
    assert after == before
    assert [(q["state"], q["votes"]) for q in after["questions"]] == [("approved", 2), ("merged", 0)]
    again = await client.post(f"/api/sessions/main/questions/{keep['id']}/vote", headers=device(7))
    assert (await again.json())["counted"] is False
    german = await client.ws_connect("/ws/captions/main?lang=de")
    snapshot = await frame_where(german, lambda f: f["type"] == "questions")
    assert [q["text"] for q in snapshot["questions"]] == [f"[de] [en] {QUESTION_ZH}"]  # stored, not asked again
    soon = await client.post("/api/sessions/main/questions", json={"text": "More?", "lang": "en"}, headers=ASKER)
    assert soon.status == 429  # the device's pace is kept across the restart
    await german.close()


async def test_exports_end_with_the_questions_in_each_language(aiohttp_client: Any, settings: Settings) -> None:
    client = await start(aiohttp_client, settings)
    french = await client.ws_connect("/ws/captions/main?lang=fr")
    await frame_where(french, lambda f: f["type"] == "status")
    await client.post("/api/sessions/main/captions", json={"text": "Welcome."}, headers=bearer(CHAIR))
    await frame_where(french, lambda f: f["type"] == "caption")
    shown = await ask(client, name="Li Wei")
    hidden = await ask(client, "Rejected?", "en", headers=VOTER)
    await decide(client, shown["id"], "answered")
    await decide(client, hidden["id"], "reject")
    await frame_where(french, lambda f: f["type"] == "question")

    async def export(fmt: str, lang: str) -> bytes:
        resp = await client.get(f"/api/sessions/main/export.{fmt}?lang={lang}", headers=bearer(STAFF))
        assert resp.status == 200, await resp.text()
        return await resp.read()

    text = (await export("txt", "fr")).decode()
    assert text.endswith(f"\nQuestions\n\nQ1 · 0 votes · answered · Li Wei: [fr] [en] {QUESTION_ZH}\n"), text
    assert "Rejected?" not in text
    english = (await export("txt", "en")).decode()
    assert english.endswith(f"Q1 · 0 votes · answered · Li Wei: [en] {QUESTION_ZH}\n")
    record = json.loads(await export("json", "fr"))["questions"]
    assert record == [{"number": 1, "lang": "fr", "text": f"[fr] [en] {QUESTION_ZH}", "state": "answered",
                       "votes": 0, "asked_at_ms": record[0]["asked_at_ms"], "name": "Li Wei", "source_lang": "zh",
                       "source_text": QUESTION_ZH, "fallback": False, "machine_translated": True}]
    document = docx.Document(io.BytesIO(await export("docx", "en")))
    paragraphs = [(p.style.name if p.style is not None else None, p.text) for p in document.paragraphs]
    assert paragraphs[-2:] == [("Heading 1", "Questions"),
                               ("Normal", f"Q1 · 0 votes · answered · Li Wei: [en] {QUESTION_ZH}")]
    subtitles = (await export("srt", "fr")).decode()
    assert "Questions" not in subtitles and "Li Wei" not in subtitles
    await french.close()


@pytest.mark.parametrize("body, code", [
    ({"action": "merge"}, "bad_message"), ({"action": "approve", "into": "x"}, "bad_message"),
    ({"action": "shout"}, "bad_action"), ({"action": "merge", "into": "nope"}, "not_found")])
async def test_bad_chair_decisions_are_clear_errors(aiohttp_client: Any, settings: Settings,
                                                    body: dict[str, Any], code: str) -> None:
    client = await start(aiohttp_client, settings)
    q = await ask(client, "Fine?", "en")
    resp = await client.patch(f"/api/sessions/main/questions/{q['id']}", json=body, headers=bearer(CHAIR))
    assert resp.status in (400, 404) and (await resp.json())["error"]["code"] == code


async def test_an_ended_session_takes_no_more_questions(aiohttp_client: Any, settings: Settings) -> None:
    client = await start(aiohttp_client, settings)
    await client.post("/api/sessions/main/control", json={"action": "end"}, headers=bearer(CHAIR))
    resp = await client.post("/api/sessions/main/questions", json={"text": "Late?", "lang": "en"}, headers=ASKER)
    assert resp.status == 400 and (await resp.json())["error"]["code"] == "ended"


@pytest.mark.model
async def test_a_chinese_question_to_an_english_session_through_the_real_zh_en_package(
        aiohttp_client: Any, settings: Settings) -> None:
    from pathlib import Path

    from assistant.server.engines import build_translator

    packages = Path("data/argos-packages")  # installed by `make` (the shipped zh→en example)
    assert any(packages.glob("*zh_en*")), "run `make languages` to install the shipped zh→en package"
    real = dataclasses.replace(settings, translation=dataclasses.replace(settings.translation, packages_dir=packages))
    translator = build_translator(real)
    assert translator is not None
    client = await aiohttp_client(make_app(real, translator=translator, clock=ManualClock().clock))
    console = await client.ws_connect("/ws/chair/main", protocols=(f"bearer.{CHAIR}",))
    english = await client.ws_connect("/ws/captions/main?lang=en")
    await frame_where(english, lambda f: f["type"] == "status")
    asked = await ask(client, "气候变化会议什么时候开始？", "zh")
    seen = await frame_where(console, lambda f: f["type"] == "moderation" and not f.get("translating"), timeout=60)
    assert "climate" in seen["text"].lower() and seen["source_text"] == "气候变化会议什么时候开始？", seen
    await decide(client, asked["id"], "approve")
    shown = await frame_where(english, lambda f: f["type"] == "question")
    assert (shown["lang"], shown["text"], shown["machine_translated"]) == ("en", seen["text"], True)
    for ws in (console, english):
        await ws.close()
    await translator.close()


async def test_a_reader_caught_up_after_overflow_gets_the_questions_as_they_are_now(
        aiohttp_client: Any, settings: Settings) -> None:
    small = dataclasses.replace(settings, limits=dataclasses.replace(settings.limits, client_queue=8))
    client = await start(aiohttp_client, small)
    shown = await ask(client, "Shown, then rejected?", "en")
    await decide(client, shown["id"], "approve")
    reader = await client.ws_connect("/ws/captions/main")
    first = await frame_where(reader, lambda f: f["type"] == "questions")
    assert [q["id"] for q in first["questions"]] == [shown["id"]]
    desk = client.app[QUESTIONS].get("main")
    runtime = desk.runtime
    # All at once, without yielding: the removal is in the inbox that overflows.
    desk.moderate(protocol.ModerateQuestion(shown["id"], "reject"))
    for i in range(20):
        runtime.act(protocol.CaptionText(f"Line {i}.", None))
    caught_up = await frame_where(reader, lambda f: f["type"] in ("questions", "question"))
    assert caught_up == {"type": "questions", "lang": "en", "questions": []}
    await reader.close()
