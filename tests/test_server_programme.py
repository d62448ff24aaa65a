"""``GET/POST /api/programme`` on a real app and SQLite file: upload all or nothing, problems per line."""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Any

from assistant.config import Settings
from assistant.server.app import make_app
from assistant.translate import FakeTranslator, TranslationService
from tests.conftest import CHAIR, STAFF, ManualClock, bearer

DATA = Path(__file__).parent / "data" / "programme"
AT_0945_PARIS = int(datetime.datetime(2026, 6, 3, 7, 45, tzinfo=datetime.timezone.utc).timestamp() * 1000)


async def test_staff_upload_and_everyone_reads_the_programme(aiohttp_client: Any, settings: Settings) -> None:
    translator = TranslationService(FakeTranslator(pairs=[("en", "fr")]))
    client = await aiohttp_client(make_app(settings, translator=translator, clock=ManualClock(AT_0945_PARIS).clock))
    r = await client.get("/api/programme")
    assert r.status == 200 and (await r.json())["talks"] == []

    ics = (DATA / "day.ics").read_bytes()
    assert (await client.post("/api/programme?name=day.ics", data=ics)).status == 401
    assert (await client.post("/api/programme?name=day.ics", data=ics, headers=bearer(CHAIR))).status == 403
    r = await client.post("/api/programme?name=day.ics", data=ics, headers=bearer(STAFF))
    assert r.status == 201, await r.text()
    made = await r.json()
    assert (made["rooms"], made["talks"]) == (2, 5)
    # Imported, but said: languages no installed package reaches (here only en→fr is installed).
    assert [(w["line"], w["field"]) for w in made["warnings"]] == [(5, "languages"), (42, "languages")]
    assert "reaches zh from 'en'" in made["warnings"][0]["message"]

    body = await (await client.get("/api/programme")).json()
    rooms = {room["id"]: room for room in body["rooms"]}
    assert rooms["hall-a"]["now"] == "keynote" and rooms["hall-a"]["next"] == "panel"
    assert rooms["room-2"]["now"] == "zh-talk" and rooms["room-2"]["url"].endswith("/r/room-2")
    talk = body["talks"][1]
    assert talk["title"] == "Engines, analytical" and talk["start"] == "2026-06-03T09:30+02:00"
    assert talk["url"].endswith("/s/keynote") and talk["speakers"] == ["Charles Babbage", "Ada Lovelace"]
    assert body["imported"]["source"] == "day.ics"

    r = await client.post("/api/programme?name=day.json", data=(DATA / "day.json").read_bytes(), headers=bearer(STAFF))
    assert r.status == 409 and "replace" in (await r.json())["error"]["message"]

    r = await client.post("/api/programme?name=broken.csv&replace=1", data=(DATA / "broken.csv").read_bytes(),
                          headers=bearer(STAFF))
    assert r.status == 400
    error = (await r.json())["error"]
    assert error["code"] == "bad_programme"
    assert [(p["line"], p["field"]) for p in error["problems"]][:3] == [(3, "room"), (4, "title"), (5, "end")]
    assert error["problems_total"] == len(error["problems"]) == 9
    assert len((await (await client.get("/api/programme")).json())["talks"]) == 5  # nothing half-imported

    csv = b"room,title,start,end\nhall-z,Alone,2026-06-03 09:00,2026-06-03 10:00\n"
    r = await client.post("/api/programme?name=x.csv&replace=1&timezone=Europe/Paris", data=csv, headers=bearer(STAFF))
    assert r.status == 201
    body = await (await client.get("/api/programme")).json()
    assert [t["id"] for t in body["talks"]] == ["hall-z-0603-0900"] and body["rooms"][0]["now"] == "hall-z-0603-0900"

    # A talk may not take the id of a session that is no talk (the config's "main" here).
    clash = b"id,room,title,start,end\nmain,hall-z,Taken,2026-06-03T09:00Z,2026-06-03T10:00Z\n"
    r = await client.post("/api/programme?name=x.csv&replace=1", data=clash, headers=bearer(STAFF))
    assert r.status == 400
    assert [(p["line"], p["field"]) for p in (await r.json())["error"]["problems"]] == [(2, "id")]
    assert [t["id"] for t in (await (await client.get("/api/programme")).json())["talks"]] == ["hall-z-0603-0900"]
    for query, words in (("format=xml", "format must be one of"), ("timezone=Moon/Base", "unknown time zone"),
                         ("timezone=Europe", "unknown time zone"), ("timezone=" + "A" * 300, "unknown time zone")):
        r = await client.post(f"/api/programme?{query}", data=csv, headers=bearer(STAFF))  # a folder, a long name
        assert r.status == 400 and words in (await r.json())["error"]["message"]
    long_zone = ("room,title,start,end,timezone\nhall-z,Talk,2026-06-03T09:00,2026-06-03T10:00," + "A" * 300).encode()
    broken_start = (b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:1\r\nSUMMARY:Talk\r\nLOCATION:hall-z\r\n"
                    b"DTSTART:99999999T999999\r\nDTEND:20260603T100000Z\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")
    for name, data, field in (("x.csv", long_zone, "timezone"), ("x.ics", broken_start, "DTSTART")):
        r = await client.post(f"/api/programme?name={name}&replace=1", data=data, headers=bearer(STAFF))
        assert r.status == 400, await r.text()
        error = (await r.json())["error"]
        assert error["code"] == "bad_programme" and [p["field"] for p in error["problems"]] == [field]
    await translator.close()
