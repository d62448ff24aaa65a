"""What the staff page's "New room" form uses: the languages on offer, and a session made with its languages."""

from __future__ import annotations

from typing import Any

from assistant.config import Settings
from assistant.server.app import make_app
from assistant.server.keys import SESSIONS
from assistant.translate import FakeTranslator, TranslationService
from tests.conftest import CHAIR, STAFF, ManualClock, bearer


def service() -> TranslationService:
    return TranslationService(FakeTranslator(pairs=[("en", "fr"), ("en", "zh"), ("de", "en")]))


async def test_staff_learn_which_languages_a_room_may_be_spoken_in_and_produce(
        aiohttp_client: Any, settings: Settings) -> None:
    translator = service()
    client = await aiohttp_client(make_app(settings, translator=translator, clock=ManualClock().clock))
    r = await client.get("/api/languages")
    assert r.status == 401
    r = await client.get("/api/languages", headers=bearer(CHAIR))
    assert r.status == 403
    r = await client.get("/api/languages", headers=bearer(STAFF))
    assert r.status == 200
    body = await r.json()
    assert body["spoken"][0] == "auto" and {"en", "de", "zh", "yue"} <= set(body["spoken"])
    assert body["targets"] == {"auto": ["fr", "zh"], "en": ["fr", "zh"], "de": ["en"]}
    await translator.close()


async def test_a_room_is_created_with_its_languages_and_glossary(aiohttp_client: Any, settings: Settings) -> None:
    translator = service()
    app = make_app(settings, translator=translator, clock=ManualClock().clock)
    client = await aiohttp_client(app)
    r = await client.post("/api/sessions", headers=bearer(STAFF), json={
        "id": "room-b", "title": "Room B", "language": "en", "public": False,
        "languages": ["zh", "en", "zh"], "glossary": ["CRISPR", " Chongqing "]})
    assert r.status == 201, await r.text()
    made = await r.json()
    assert made["glossary"] == ["CRISPR", "Chongqing"] and made["key"] and "?key=" in made["url"]
    session = app[SESSIONS].get("room-b").session
    assert session.languages == ("zh",) and session.glossary == ("CRISPR", "Chongqing")

    for body, words in (({"languages": ["xx"]}, "no installed translation package reaches xx"),
                        ({"languages": "fr"}, '"languages" must be a list'),
                        ({"languages": ["fr"], "language": "de"}, "may hold en"),
                        ({"glossary": "CRISPR"}, '"glossary" must be a list'),
                        ({"language": "xx"}, "GET /api/languages lists them"),  # no speech model knows it
                        ({"language": "pt-BR"}, "not region: use 'pt'")):
        r = await client.post("/api/sessions", headers=bearer(STAFF), json={"id": "room-c", **body})
        assert r.status == 400
        error = (await r.json())["error"]
        assert words in error["message"], error
    assert "room-c" not in app[SESSIONS]
    await translator.close()
