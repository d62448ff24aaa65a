"""Sessions made through the API survive a restart over the same SQLite file, as they were."""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

from assistant.config import Settings
from assistant.server.app import make_app
from tests.conftest import CHAIR, STAFF, ManualClock, bearer

KEY = "key-of-the-board-room"


async def test_api_sessions_come_back_after_a_restart_privacy_and_key_included(aiohttp_client: Any,
                                                                               settings: Settings) -> None:
    first = await aiohttp_client(make_app(settings, clock=ManualClock().clock))
    made = {}
    for body in ({"id": "board", "title": "Board", "public": False, "key": KEY, "language": "fr"},
                 {"id": "hall-b", "title": "Hall B", "chair_token": True},
                 {"id": "done", "title": "Over"}):
        resp = await first.post("/api/sessions", json=body, headers=bearer(STAFF))
        assert resp.status == 201
        made[body["id"]] = await resp.json()
    await first.patch("/api/sessions/board", json={"glossary": ["CRISPR"]}, headers=bearer(CHAIR))
    await first.post("/api/sessions/board/captions", json={"text": "Avant la pause."}, headers=bearer(CHAIR))
    await first.post("/api/sessions/done/control", json={"action": "end"}, headers=bearer(CHAIR))
    await first.close()

    again = await aiohttp_client(make_app(settings, clock=ManualClock(1_760_000_000_000).clock))
    listed = {s["id"]: s for s in (await (await again.get("/api/sessions", headers=bearer(STAFF))).json())["sessions"]}
    board = listed["board"]
    assert (board["title"], board["source_lang"], board["public"], board["glossary"]) == ("Board", "fr", False,
                                                                                          ["CRISPR"])
    assert board["state"] != "ended" and listed["hall-b"]["state"] != "ended" and listed["done"]["state"] == "ended"
    assert (await again.get("/s/board")).status == 401 and (await again.get(f"/s/board?key={KEY}")).status == 200
    ws = await again.ws_connect(f"/ws/captions/board?key={KEY}")
    assert (await ws.receive_json())["type"] == "hello"
    assert (await ws.receive_json())["text"] == "Avant la pause."
    await ws.close()
    token = made["hall-b"]["chair_token"]
    assert (await again.post("/api/sessions/hall-b/captions", json={"text": "Still mine."},
                             headers=bearer(token))).status == 201
    assert "done" not in [s["id"] for s in (await (await again.get("/api/sessions")).json())["sessions"]]


async def test_a_second_post_of_an_id_changes_nothing_and_says_so(aiohttp_client: Any, settings: Settings) -> None:
    client = await aiohttp_client(make_app(settings, clock=ManualClock().clock))
    await client.post("/api/sessions", json={"id": "board", "title": "Board", "public": False, "key": KEY},
                      headers=bearer(STAFF))
    await client.post("/api/sessions", json={"id": "ended"}, headers=bearer(STAFF))
    await client.post("/api/sessions/ended/control", json={"action": "end"}, headers=bearer(CHAIR))
    await client.close()
    client = await aiohttp_client(make_app(settings, clock=ManualClock().clock))
    for body in ({"id": "board"}, {"id": "board", "public": True, "title": "Open to all"},
                 {"id": "ended", "public": True}, {"id": "main", "title": "Mine now"}):
        resp = await client.post("/api/sessions", json=body, headers=bearer(STAFF))
        error = (await resp.json())["error"]
        assert resp.status == 409 and error["code"] == "exists" and "PATCH" in error["message"], error
    assert (await client.get("/s/board")).status == 401  # still private, its key unchanged
    assert (await client.get(f"/s/board?key={KEY}")).status == 200
    listed = {s["id"]: s for s in (await (await client.get("/api/sessions", headers=bearer(STAFF))).json())["sessions"]}
    assert listed["board"]["title"] == "Board" and listed["main"]["title"] == "Main hall"
    assert listed["ended"]["state"] == "ended"


async def test_a_session_that_ended_before_a_restart_is_still_read_and_corrected(aiohttp_client: Any,
                                                                                 settings: Settings) -> None:
    """A delegate's page of a past talk, and the chair's corrections after the event, outlive a restart."""
    first = await aiohttp_client(make_app(settings, clock=ManualClock().clock))
    await first.post("/api/sessions", json={"id": "done", "title": "Over"}, headers=bearer(STAFF))
    made = await (await first.post("/api/sessions/done/captions", json={"text": "The last line."},
                                   headers=bearer(CHAIR))).json()
    await first.post("/api/sessions/done/control", json={"action": "end"}, headers=bearer(CHAIR))
    await first.close()

    again = await aiohttp_client(make_app(settings, clock=ManualClock(1_760_000_000_000).clock))
    ws = await again.ws_connect("/ws/captions/done")
    frames = [await ws.receive_json() for _ in range(3)]
    assert [f["type"] for f in frames] == ["hello", "caption", "status"], frames
    assert frames[1]["text"] == "The last line." and frames[2]["state"] == "ended" and not frames[2]["live"]
    fixed = await again.patch(f"/api/sessions/done/captions/{made['id']}", json={"text": "The very last line."},
                              headers=bearer(CHAIR))
    assert fixed.status == 200, await fixed.text()
    correction = await ws.receive_json()
    assert (correction["type"], correction["id"], correction["text"]) == ("correction", made["id"],
                                                                          "The very last line.")
    await ws.close()
    body = await (await again.get("/api/sessions/done/transcript.txt")).text()
    assert "The very last line." in body and "The last line." not in body
    listed = {s["id"]: s for s in (await (await again.get("/api/sessions", headers=bearer(STAFF))).json())["sessions"]}
    assert listed["done"]["state"] == "ended"
    public = (await (await again.get("/api/sessions")).json())["sessions"]
    assert "done" not in [s["id"] for s in public]  # read, and still not in the public list
    assert (await again.get("/ws/captions/never")).status == 404


async def test_a_configured_session_restarted_with_another_language_takes_it_and_keeps_its_chairs_changes(
        aiohttp_client: Any, settings: Settings, caplog: Any) -> None:
    """The organiser fixes the spoken language in the configuration and restarts: the session takes it (and
    the new translation targets), while the title and glossary its chair set in the console stay."""
    caplog.set_level(logging.INFO, logger="assistant.server.sessions")
    first = await aiohttp_client(make_app(settings, clock=ManualClock().clock))
    await first.patch("/api/sessions/main", json={"title": "Plenary", "glossary": ["CRISPR"]}, headers=bearer(CHAIR))
    await first.close()

    main = dataclasses.replace(settings.sessions[0], language="zh", languages=("fr",))
    again = await aiohttp_client(make_app(dataclasses.replace(settings, sessions=(main,)),
                                          clock=ManualClock(1_760_000_000_000).clock))
    listed = {s["id"]: s for s in (await (await again.get("/api/sessions", headers=bearer(STAFF))).json())["sessions"]}
    assert (listed["main"]["source_lang"], listed["main"]["title"], listed["main"]["glossary"]) == ("zh", "Plenary",
                                                                                                  ["CRISPR"])
    ws = await again.ws_connect("/ws/captions/main?lang=zh")
    hello = await ws.receive_json()
    assert (hello["type"], hello["source_lang"]) == ("hello", "zh"), hello
    await ws.close()
    said = caplog.text
    assert "source_lang 'en' -> 'zh'" in said and "languages () -> ('fr',)" in said, said
    assert "keeps its title 'Plenary'" in said, said
