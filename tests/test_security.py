"""Roles that hold: every route against every role, session keys, origins, limits, errors, headers, logs."""

from __future__ import annotations

import dataclasses
import io
import json
import logging
import re
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from aiohttp import WSMsgType, WSServerHandshakeError, web
from aiohttp.test_utils import TestClient

from assistant.asr.runner import RecognizerRunner
from assistant.asr.scripted import ScriptedTranscriber
from assistant.asr.types import RecognizerSettings
from assistant.config import Settings, load
from assistant.errors import ConfigError
from assistant.server import auth
from assistant.captions import Session
from assistant.hub import MemoryBus
from assistant.server.app import make_app
from assistant.server.runtime import Recognizer
from assistant.server.keys import ISSUED_TOKENS, SESSIONS
from assistant.server.limits import MessageBudget
from assistant.server.serve import print_banner
from assistant.server.sessions import Sessions
from assistant.server.pages import WEB_DIR
from assistant.store import Store
from tests.conftest import CHAIR, STAFF, ManualClock, bearer

KEY = "delegates-of-room-b"
WRONG = "wrong-token-123456"
WHO = ("none", "wrong", "chair", "staff", "key")


def limited(settings: Settings, **limits: Any) -> Settings:
    return dataclasses.replace(settings, limits=dataclasses.replace(settings.limits, **limits))


@pytest.fixture
async def client(aiohttp_client: Any, settings: Settings) -> TestClient[web.Request, web.Application]:
    # The roles table tries a wrong token and key on every route: more than the throttle allows.
    client = await aiohttp_client(make_app(limited(settings, auth_failures=10_000), clock=ManualClock().clock))
    resp = await client.post("/api/sessions", json={"id": "priv", "title": "Board", "public": False, "key": KEY},
                             headers=bearer(STAFF))
    assert resp.status == 201, await resp.text()
    return client  # type: ignore[no-any-return]


def presenting(who: str) -> tuple[dict[str, str], str]:
    """Headers and query string for one role."""
    if who == "chair":
        return bearer(CHAIR), ""
    if who == "staff":
        return bearer(STAFF), ""
    if who == "wrong":
        return bearer(WRONG), "?key=not-the-key-at-all"
    if who == "key":
        return {}, f"?key={KEY}"
    return {}, ""


# -- the roles table ---------------------------------------------------------
# (method, route) -> expected status for WHO = (none, wrong token, chair, staff, session key):
# 401 without a valid token, 403 with another role's,
# per session where the path names one ("main" is public, "priv" is private with KEY).
# 101: the WebSocket upgrade succeeded. HEAD routes expect what GET gets, 400 for a socket.
OPEN = (200,) * 5
PUBLIC_OR_KEY = {"main": OPEN, "priv": (401, 401, 200, 200, 200)}
CHAIR_ONLY = (401, 401, 200, 403, 401)
STAFF_ONLY = (401, 401, 403, 200, 401)
TABLE: dict[tuple[str, str], Any] = {
    ("GET", "/"): OPEN,
    ("GET", "/s/{session}"): PUBLIC_OR_KEY,
    ("GET", "/s/{session}/display"): PUBLIC_OR_KEY,  # the room screen, like the delegate page
    ("GET", "/chair/{session}"): {"main": OPEN, "priv": OPEN},  # a plain file; the token stays in the #fragment
    ("GET", "/staff"): OPEN,
    ("GET", "/static/{path}"): OPEN,
    ("GET", "/healthz"): OPEN,
    ("GET", "/metrics"): OPEN,  # counts and timings only: no session content, no secrets
    ("GET", "/api/sessions"): (200, 401, 200, 200, 200),
    ("POST", "/api/sessions"): (401, 401, 403, 201, 401),
    ("GET", "/api/languages"): STAFF_ONLY,
    ("PATCH", "/api/sessions/{session}"): {"main": CHAIR_ONLY, "priv": CHAIR_ONLY},
    ("GET", "/api/sessions/{session}/qr.svg"): PUBLIC_OR_KEY,
    ("POST", "/api/sessions/{session}/captions"): {"main": (401, 401, 201, 403, 401),
                                                   "priv": (401, 401, 201, 403, 401)},
    ("PATCH", "/api/sessions/{session}/captions/{caption}"): {"main": CHAIR_ONLY, "priv": CHAIR_ONLY},
    ("GET", "/api/sessions/{session}/captions/{caption}/revisions"): {"main": (401, 401, 200, 200, 401),
                                                                      "priv": (401, 401, 200, 200, 401)},
    ("POST", "/api/sessions/{session}/control"): {"main": CHAIR_ONLY, "priv": CHAIR_ONLY},
    ("GET", "/api/sessions/{session}/export.{fmt}"): {"main": STAFF_ONLY, "priv": STAFF_ONLY},
    ("GET", "/api/sessions/{session}/transcript.{fmt}"): PUBLIC_OR_KEY,
    ("GET", "/api/exports/{job}"): (401, 401, 403, 404, 401),  # staff only; then 404: no such export job
    ("GET", "/ws/captions/{session}"): {"main": (101,) * 5, "priv": (401, 401, 101, 101, 101)},
    ("GET", "/ws/audio/{session}"): {"main": (401, 401, 101, 403, 401), "priv": (401, 401, 101, 403, 401)},
    ("GET", "/ws/chair/{session}"): {"main": (401, 401, 101, 403, 401), "priv": (401, 401, 101, 403, 401)},
    ("GET", "/api/sessions/{session}/questions"): PUBLIC_OR_KEY,
    ("POST", "/api/sessions/{session}/questions"): {"main": (201,) * 5, "priv": (401, 401, 201, 201, 201)},
    ("POST", "/api/sessions/{session}/questions/{question}/vote"): PUBLIC_OR_KEY,
    ("PATCH", "/api/sessions/{session}/questions/{question}"): {"main": CHAIR_ONLY, "priv": CHAIR_ONLY},
    ("GET", "/api/sessions/{session}/speaker"): PUBLIC_OR_KEY,
    ("POST", "/api/sessions/{session}/speaker"): {"main": CHAIR_ONLY, "priv": CHAIR_ONLY},
    ("GET", "/api/programme"): OPEN,
    ("POST", "/api/programme"): (401, 401, 403, 409, 401),  # staff only; then 409: a programme is stored already
    ("GET", "/api/rooms/{room}"): OPEN,
    ("GET", "/api/rooms/{room}/qr.svg"): OPEN,
    ("GET", "/r/{room}"): OPEN,
    ("GET", "/r/{room}/display"): OPEN,
    ("POST", "/api/rooms/{room}/hold"): CHAIR_ONLY,
    ("POST", "/api/rooms/{room}/next"): CHAIR_ONLY,
    ("GET", "/ws/rooms/{room}"): (101,) * 5,
    ("GET", "/ws/rooms/{room}/audio"): (401, 401, 101, 403, 401),
}
# The fixture's programme: one room with a talk on now (ManualClock's default time).
PROGRAMME = b"room,title,start,end\nhall,Keynote,2025-06-15T14:00Z,2025-06-15T17:00Z\n"
BODIES = {
    ("POST", "/api/sessions"): {"id": "room-c", "title": "Room C"},
    ("PATCH", "/api/sessions/{session}"): {"title": "Renamed"},
    ("POST", "/api/sessions/{session}/captions"): {"text": "Typed by the chair."},
    ("PATCH", "/api/sessions/{session}/captions/{caption}"): {"text": "Corrected."},
    ("POST", "/api/sessions/{session}/control"): {"action": "resume"},
    ("POST", "/api/sessions/{session}/questions"): {"text": "Is it on?", "lang": "en"},
    ("PATCH", "/api/sessions/{session}/questions/{question}"): {"action": "approve"},
    ("POST", "/api/programme"): {"talks": [{"room": "hall", "title": "Later", "start": "2025-06-15T18:00Z",
                                            "end": "2025-06-15T19:00Z"}]},
    ("POST", "/api/rooms/{room}/hold"): {"hold": True},
    ("POST", "/api/sessions/{session}/speaker"): {"speaker": "Ada Lovelace"},
}


def route_table(app: web.Application) -> list[tuple[str, str]]:
    return sorted({(r.method, r.resource.canonical) for r in app.router.routes() if r.resource is not None})


async def status_of(client: TestClient[web.Request, web.Application], method: str, route: str, session: str | None,
                    caption: str, who: str, question: str = "") -> int:
    headers, query = presenting(who)
    headers = {**headers, "X-Device-Id": f"device-of-{who}-for-the-table"}  # delegates' question routes
    path = route.replace("{session}", session or "").replace("{caption}", caption).replace("{fmt}", "txt")
    path = path.replace("{question}", question).replace("{job}", "no-such-job").replace("{room}", "hall")
    path = path.replace("{path}", "common.js")
    if route.startswith("/ws/") and method == "GET":
        try:
            ws = await client.ws_connect(path + query, headers=headers)
        except WSServerHandshakeError as exc:
            return exc.status
        await ws.close()
        return 101
    resp = await client.request(method, path + query, headers=headers, json=BODIES.get((method, route)))
    body = await resp.read()
    if resp.status >= 400 and method != "HEAD":
        assert json.loads(body)["error"]["code"], body
    return resp.status


async def test_every_route_gives_each_role_what_the_table_says(client: TestClient[web.Request, web.Application]) -> None:
    routes = route_table(client.app)
    assert {(m, r) for m, r in routes if m != "HEAD"} == set(TABLE), "a route is missing from the roles table"
    resp = await client.post("/api/programme?name=day.csv", data=PROGRAMME, headers=bearer(STAFF))
    assert resp.status == 201, await resp.text()
    caption = {s: (await (await client.post(f"/api/sessions/{s}/captions", json={"text": "Hello."},
                                            headers=bearer(CHAIR))).json())["id"] for s in ("main", "priv")}
    question = {}
    for s in ("main", "priv"):
        asked = await client.post(f"/api/sessions/{s}/questions?key={KEY}", json={"text": "Open?", "lang": "en"},
                                  headers={"X-Device-Id": "device-that-asks-first"})
        question[s] = (await asked.json())["question"]["id"]
        await client.patch(f"/api/sessions/{s}/questions/{question[s]}", json={"action": "approve"},
                           headers=bearer(CHAIR))
    got: dict[tuple[str, str, str | None], tuple[int, ...]] = {}
    want: dict[tuple[str, str, str | None], tuple[int, ...]] = {}
    for method, route in routes:
        expected = TABLE[("GET" if method == "HEAD" else method, route)]
        for session in (("main", "priv") if "{session}" in route else (None,)):
            row = expected[session] if session else expected
            if method == "HEAD":
                row = tuple(400 if s == 101 else s for s in row)
            got[(method, route, session)] = tuple(
                [await status_of(client, method, route, session, caption.get(session or "main", ""), who,
                                 question.get(session or "main", "")) for who in WHO])
            want[(method, route, session)] = row
    assert got == want


async def test_unknown_session_is_404_before_any_role_check(client: TestClient[web.Request, web.Application]) -> None:
    for path in ("/s/nope", "/api/sessions/nope/qr.svg", "/api/sessions/nope/transcript.txt",
                 "/api/sessions/nope/captions/x/revisions"):
        resp = await client.get(path, headers=bearer(STAFF))
        assert resp.status == 404 and (await resp.json())["error"]["code"] == "not_found", path


# -- tokens and keys: stored hashed, compared as hashes, never logged --------

async def test_tokens_and_session_keys_are_stored_only_hashed(client: TestClient[web.Request, web.Application], settings: Settings) -> None:
    raw = settings.storage.database_path.read_bytes()
    for wal in settings.storage.database_path.parent.glob("*-wal"):
        raw += wal.read_bytes()
    for secret in (CHAIR, STAFF, KEY):
        assert secret.encode() not in raw
    db = sqlite3.connect(settings.storage.database_path)
    hashes = dict(db.execute("SELECT role, hash FROM tokens").fetchall())
    (key_hash,) = db.execute("SELECT hash FROM session_keys WHERE session='priv'").fetchone()
    db.close()
    assert hashes == {"chair": auth.hash_token(CHAIR), "staff": auth.hash_token(STAFF)}
    assert auth.session_key_matches(key_hash, KEY) and not auth.session_key_matches(key_hash, KEY + "x")
    assert auth.hash_session_key(KEY) != auth.hash_session_key(KEY)  # salted


def test_role_of_tells_the_roles_apart(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "t.sqlite3")
    auth.ensure_tokens(store, {"chair": CHAIR, "staff": STAFF}, 0)
    assert [auth.role_of(store, t) for t in (CHAIR, STAFF, WRONG, None, "")] == ["chair", "staff", None, None, None]
    new = auth.rotate(store, "chair", 1)
    assert auth.role_of(store, new) == "chair" and auth.role_of(store, CHAIR) is None
    store.close()


async def test_access_log_and_server_log_never_show_tokens_or_keys(aiohttp_server: Any, aiohttp_client: Any,
                                                                   settings: Settings,
                                                                   caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    server = await aiohttp_server(make_app(settings, clock=ManualClock().clock))
    client = await aiohttp_client(server)
    resp = await client.post("/api/sessions", json={"id": "priv", "public": False, "key": KEY}, headers=bearer(STAFF))
    assert resp.status == 201
    for path in (f"/s/priv?key={KEY}", f"/api/sessions/priv/transcript.txt?lang=en&key={KEY}",
                 f"/s/priv?token={CHAIR}", "/api/sessions"):
        await (await client.get(path, headers={**bearer(WRONG), "Referer": f"http://x/s/priv?key={KEY}"})).read()
    await (await client.get("/api/sessions", headers=bearer(STAFF))).read()
    ws = await client.ws_connect(f"/ws/captions/priv?key={KEY}")
    await ws.close()
    ws = await client.ws_connect("/ws/chair/main", protocols=(f"bearer.{CHAIR}",))
    await ws.close()
    access = [r.getMessage() for r in caplog.records if r.name == "aiohttp.access"]
    assert any("/s/priv?key=REDACTED" in line for line in access), access
    assert any("transcript.txt?lang=en&key=REDACTED" in line for line in access), access
    for secret in (KEY, CHAIR, STAFF, WRONG):
        assert secret not in caplog.text


def test_redact_hides_every_secret_parameter() -> None:
    assert auth.redact("GET /s/a?lang=fr&key=abc&x=1") == "GET /s/a?lang=fr&key=REDACTED&x=1"
    assert auth.redact("/x?TOKEN=a%20b;access_token=zz") == "/x?TOKEN=REDACTED;access_token=REDACTED"
    assert auth.redact("/monkey=1?keyboard=2") == "/monkey=1?keyboard=2"


@pytest.mark.parametrize("url", [
    "/s/priv?%6Bey=SECRET", "/s/priv?%6b%65%79=SECRET", "/s/priv?KEY=SECRET", "/s/priv?Key=SECRET&lang=fr",
    "http://venue/s/priv?lang=fr&token=SECRET", "/s/priv?%74oken=SECRET", "/s/priv?%2574oken=SECRET",
    "/s/priv?%25%36%42ey=SECRET", "/s/priv?lang=fr;key=SECRET", "/s/priv;key=SECRET", "/s/key=SECRET/x",
    "/s/priv%3Fkey%3DSECRET", "/s/priv%253Fkey%253DSECRET", "/s/priv?key%3DSECRET", "/s/priv%3Fkey=SECRET",
    "/s/priv?next=%2Fs%2Fpriv%3Fkey%3DSECRET&lang=fr", "/chair/main#token=SECRET", "/s/priv?access_token=SECRET",
    "/s/priv?key=SEC/RET&lang=fr", "/s/priv?key%20=SECRET",
])
def test_redact_hides_secrets_however_they_are_encoded(url: str) -> None:
    redacted = auth.redact(url)
    assert "SECRET" not in redacted and "RET" not in redacted.split("REDACTED")[-1], redacted
    assert "REDACTED" in redacted


async def test_the_access_log_hides_encoded_secret_names(aiohttp_server: Any, aiohttp_client: Any,
                                                         settings: Settings, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    client = await aiohttp_client(await aiohttp_server(make_app(settings, clock=ManualClock().clock)))
    await client.post("/api/sessions", json={"id": "priv", "public": False, "key": KEY}, headers=bearer(STAFF))
    for query in (f"%6Bey={KEY}", f"KEY={KEY}", f"%74oken={CHAIR}", f"%25%36%42ey={KEY}", f"lang=en;key={KEY}"):
        await (await client.get(f"/s/priv?{query}", headers={"Referer": f"http://x/s/priv?lang=fr&token={CHAIR}"})).read()
    await (await client.get(f"/s/priv%3Fkey%3D{KEY}")).read()
    access = [r.getMessage() for r in caplog.records if r.name == "aiohttp.access"]
    assert len(access) >= 7 and all(KEY not in line and CHAIR not in line for line in access), access
    assert auth.printable("ua \x1b[2J\udcff\x00") == "ua \\x1b[2J\\udcff\\x00"  # no terminal tricks in the log


def print_banner_of(settings: Settings, store: Store) -> str:
    app = make_app(settings, store=store, clock=ManualClock().clock)
    app[ISSUED_TOKENS] = auth.ensure_tokens(store, {"chair": settings.auth.chair_token,
                                                    "staff": settings.auth.staff_token}, 0)
    sessions = app[SESSIONS] = Sessions(store, MemoryBus(), ManualClock().clock, recognizer_factory=None,
                                        translator=None)
    sessions.open(Session(id="main", title="Main hall", source_lang="en", created_at_ms=0))
    out = io.StringIO()
    print_banner(app, False, False, out)
    return out.getvalue()


def test_the_banner_shows_a_token_only_when_it_was_just_generated(settings: Settings) -> None:
    store = Store.open(settings.storage.database_path)
    configured = print_banner_of(settings, store)  # tokens from the environment (conftest)
    assert CHAIR not in configured and STAFF not in configured and "main#token=" not in configured
    assert "/chair/main\n" in configured and "ASSISTANT_CHAIR_TOKEN" in configured
    assert "--token <chair token>" in configured
    fresh = dataclasses.replace(settings, auth=dataclasses.replace(settings.auth, chair_token="", staff_token=""))
    other = Store.open(settings.storage.database_path.with_name("other.sqlite3"))
    generated = print_banner_of(fresh, other)
    chair = re.search(r"New chair token \(shown once, stored hashed\): (\S+)", generated)
    assert chair is not None and f"/chair/main#token={chair.group(1)}" in generated
    again = print_banner_of(fresh, other)  # the next start: stored, not shown
    assert chair.group(1) not in again and "rotate chair" in again
    store.close()
    other.close()


# -- private sessions ------------------------------------------------------

async def test_private_session_needs_its_key_everywhere_a_delegate_goes(client: TestClient[web.Request, web.Application]) -> None:
    await client.post("/api/sessions/priv/captions", json={"text": "Board only."}, headers=bearer(CHAIR))
    with pytest.raises(WSServerHandshakeError) as refused:
        await client.ws_connect("/ws/captions/priv")
    assert refused.value.status == 401
    ws = await client.ws_connect(f"/ws/captions/priv?key={KEY}")
    frames = [json.loads((await ws.receive()).data) for _ in range(2)]
    assert frames[0]["type"] == "hello" and frames[1]["text"] == "Board only."
    await ws.close()
    listed = (await (await client.get("/api/sessions")).json())["sessions"]
    assert [s["id"] for s in listed] == ["main"]
    assert "priv" not in (await (await client.get("/healthz")).json())["sessions"]
    assert "priv" in (await (await client.get("/healthz", headers=bearer(STAFF))).json())["sessions"]
    qr = await client.get(f"/api/sessions/priv/qr.svg?key={KEY}")
    assert qr.status == 200 and b"<svg" in await qr.read()


async def test_chair_changes_the_key_and_opens_the_session(client: TestClient[web.Request, web.Application]) -> None:
    resp = await client.patch("/api/sessions/priv", json={"key": "a-new-key-42"}, headers=bearer(CHAIR))
    assert resp.status == 200 and "key" not in await resp.json()
    assert (await client.get(f"/s/priv?key={KEY}")).status == 401
    assert (await client.get("/s/priv?key=a-new-key-42")).status == 200
    ws = await client.ws_connect("/ws/chair/priv", headers=bearer(CHAIR))
    await ws.send_json({"type": "update", "public": True})
    await ws.send_json({"type": "update", "key": "short"})
    while (error := json.loads((await ws.receive()).data))["type"] != "error":
        pass
    assert "8-128" in error["message"]
    await ws.close()
    assert (await client.get("/s/priv")).status == 200
    assert "priv" in [s["id"] for s in (await (await client.get("/api/sessions")).json())["sessions"]]


async def test_staff_creating_a_private_session_without_key_gets_one_once(client: TestClient[web.Request, web.Application]) -> None:
    resp = await client.post("/api/sessions", json={"id": "closed", "public": False}, headers=bearer(STAFF))
    body = await resp.json()
    assert resp.status == 201 and body["public"] is False and re.fullmatch(r"[2-9A-HJ-NP-Z]{20}", body["key"])
    assert body["url"].endswith(f"/s/closed?key={body['key']}")
    assert (await client.get(f"/s/closed?key={body['key']}")).status == 200
    assert (await client.get("/s/closed")).status == 401
    listed = (await (await client.get("/api/sessions", headers=bearer(STAFF))).json())["sessions"]
    assert "key" not in next(s for s in listed if s["id"] == "closed")


@pytest.mark.parametrize("body", [
    {"id": "x1", "public": "false"}, {"id": "x2", "public": True, "key": KEY}, {"id": "x3", "key": "short"},
    {"id": "x4", "key": 12345678901}, {"id": "x5", "key": "has spaces in it"}, {"id": "X6"},
    {"id": "x7", "title": "t" * 201}, {"id": "x8", "language": "english"},
])
async def test_create_session_validates_every_field(client: TestClient[web.Request, web.Application], body: dict[str, Any]) -> None:
    resp = await client.post("/api/sessions", json=body, headers=bearer(STAFF))
    error = (await resp.json())["error"]
    assert resp.status == 400 and error["code"] in ("bad_message", "bad_key", "unknown_language"), error
    assert (await client.get(f"/s/{body['id']}")).status == 404


# -- WebSocket origins, sizes, rates, connections --------------------------

@pytest.mark.parametrize("path,headers", [("/ws/captions/main", {}), ("/ws/chair/main", bearer(CHAIR)),
                                          ("/ws/audio/main", bearer(CHAIR))])
async def test_browser_socket_from_another_origin_is_refused(aiohttp_client: Any, settings: Settings, path: str,
                                                             headers: dict[str, str]) -> None:
    allowed = dataclasses.replace(settings, server=dataclasses.replace(
        settings.server, allowed_origins=("https://intranet.example.org",)))
    client = await aiohttp_client(make_app(allowed, clock=ManualClock().clock))
    for origin in ("http://evil.example", "null", "http://127.0.0.1.evil.example", "https://intranet.example.org.x"):
        with pytest.raises(WSServerHandshakeError) as refused:
            await client.ws_connect(path, headers={**headers, "Origin": origin})
        assert refused.value.status == 403, origin
    resp = await client.get(path, headers={**headers, "Origin": "http://evil.example"})
    assert resp.status == 403 and (await resp.json())["error"]["code"] == "forbidden_origin"
    own = f"http://{client.host}:{client.port}"
    for origin_ok in (own, "https://intranet.example.org", None):
        ws = await client.ws_connect(path, headers={**headers, **({"Origin": origin_ok} if origin_ok else {})})
        await ws.close()


def test_allowed_origins_are_checked_when_loading(tmp_path: Path) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text('[server]\nallowed_origins = ["intranet.example.org"]\n')
    with pytest.raises(ConfigError, match="server.allowed_origins"):
        load(cfg, {})
    cfg.write_text("[limits]\nmessages_per_s = 0\n")
    with pytest.raises(ConfigError, match="limits.messages_per_s"):
        load(cfg, {})


@pytest.mark.parametrize("path", ["/ws/captions/main", "/ws/chair/main"])
async def test_oversized_frame_closes_with_1009(client: TestClient[web.Request, web.Application], settings: Settings, path: str) -> None:
    ws = await client.ws_connect(path, headers=bearer(CHAIR))
    await ws.receive()
    await ws.send_str("x" * (settings.limits.max_message_bytes + 1))
    while (msg := await ws.receive()).type == WSMsgType.TEXT:
        pass
    assert msg.type == WSMsgType.CLOSE and msg.data == 1009
    assert (await client.get("/healthz")).status == 200


async def test_oversized_audio_frame_closes_with_1009(client: TestClient[web.Request, web.Application], settings: Settings) -> None:
    ws = await client.ws_connect("/ws/audio/main", headers=bearer(CHAIR))
    await ws.send_bytes(b"\0" * (settings.limits.max_message_bytes + 2))
    msg = await ws.receive()
    assert msg.type == WSMsgType.CLOSE and msg.data == 1009


async def test_a_frame_of_exactly_the_limit_is_taken(aiohttp_client: Any, settings: Settings) -> None:
    limit = settings.limits.max_message_bytes
    executor = ThreadPoolExecutor(max_workers=1)

    def factory(language: str | None, glossary: tuple[str, ...], task: str = "transcribe") -> Recognizer:
        return RecognizerRunner(ScriptedTranscriber([]), None, RecognizerSettings(use_vad=False), executor=executor,
                                language=language)

    client = await aiohttp_client(make_app(settings, recognizer_factory=factory, clock=ManualClock().clock))
    ws = await client.ws_connect("/ws/audio/main", headers=bearer(CHAIR))
    await ws.send_json({"type": "start", "sample_rate": 16000, "channels": 1, "format": "s16le", "stream": "edge-1"})
    assert (await ws.receive_json())["type"] == "ready"
    await ws.send_bytes(b"\0" * limit)
    assert await ws.receive_json() == {"type": "ack", "received": limit // 2}
    chair = await client.ws_connect("/ws/chair/main", headers=bearer(CHAIR))
    await chair.receive()
    frame = '{"type":"ping","pad":"' + "x" * (limit - 24) + '"}'
    assert len(frame) == limit
    await chair.send_str(frame)
    await chair.send_str('{"type":"caption_text","text":"After the big frame."}')
    while (msg := await chair.receive()).type == WSMsgType.TEXT and "After the big frame" not in msg.data:
        pass
    assert msg.type == WSMsgType.TEXT  # still open: the frame at the limit was read
    await ws.close()
    await chair.close()
    executor.shutdown()


async def test_chair_socket_flood_gets_errors_then_4429(aiohttp_client: Any, settings: Settings) -> None:
    slow = limited(settings, messages_per_s=0.001, message_burst=3, rate_strikes=2)
    client = await aiohttp_client(make_app(slow, clock=ManualClock().clock))  # the clock stands still
    ws = await client.ws_connect("/ws/chair/main", headers=bearer(CHAIR))
    for i in range(10):
        await ws.send_json({"type": "caption_text", "text": f"Line {i}."})
    got: list[dict[str, Any]] = []
    while (msg := await ws.receive()).type == WSMsgType.TEXT:
        got.append(json.loads(msg.data))
    assert msg.type == WSMsgType.CLOSE and msg.data == 4429
    errors = [f for f in got if f["type"] == "error"]
    assert [e["code"] for e in errors] == ["rate_limited"] * 3 and "slow down" in errors[0]["message"]
    transcript = await (await client.get("/api/sessions/main/transcript.txt")).text()
    assert re.findall(r"Line \d\.", transcript) == ["Line 0.", "Line 1.", "Line 2."]


def test_message_budget_refills_with_time_and_forgives_after_a_quiet_spell() -> None:
    budget = MessageBudget(rate_per_s=2, burst=2, strikes_allowed=1)
    assert [budget.take(0) for _ in range(3)] == [True, True, False]
    assert not budget.exhausted
    assert budget.take(500) and not budget.take(500) and budget.exhausted
    assert budget.take(5_000) and budget.strikes == 0


async def test_connections_per_address_are_limited_on_every_socket(aiohttp_client: Any, settings: Settings) -> None:
    client = await aiohttp_client(make_app(limited(settings, max_connections_per_ip=2), clock=ManualClock().clock))
    first = await client.ws_connect("/ws/captions/main")
    second = await client.ws_connect("/ws/chair/main", headers=bearer(CHAIR))
    for path in ("/ws/captions/main", "/ws/chair/main", "/ws/audio/main"):
        with pytest.raises(WSServerHandshakeError) as refused:
            await client.ws_connect(path, headers=bearer(CHAIR))
        assert refused.value.status == 429, path
    await second.close()
    await first.close()
    for path in ("/ws/audio/main", "/ws/chair/main"):  # the slots were given back
        ws = await client.ws_connect(path, headers=bearer(CHAIR))
        await ws.close()


# -- strict parameters and JSON errors -------------------------------------

@pytest.mark.parametrize("method,path,kwargs,status,code", [
    ("GET", "/ws/captions/main?since=99999999999999999999999", {}, 400, "bad_since"),
    ("GET", "/ws/captions/main", {}, 400, "not_websocket"),
    ("GET", "/ws/chair/main", {}, 400, "not_websocket"),
    ("GET", "/ws/audio/main", {}, 400, "not_websocket"),
    ("GET", "/ws/chair/main", {"headers": {"Upgrade": "websocket", "Connection": "Upgrade",
                                           "Sec-WebSocket-Version": "7", "Sec-WebSocket-Key": "x"}}, 400, "not_websocket"),
    ("GET", "/api/sessions/main/transcript.txt?lang=../../etc", {}, 400, "unknown_language"),
    ("GET", "/api/sessions/main/transcript.txt?lang=fr", {}, 404, "not_found"),
    ("GET", "/api/sessions/main/transcript.exe", {}, 400, "bad_format"),
    ("POST", "/api/sessions/main/captions", {"data": b"{not json"}, 400, "bad_message"),
    ("POST", "/api/sessions/main/captions", {"data": b"[" * 100_000}, 400, "bad_message"),
    ("POST", "/api/sessions/main/captions", {"data": '{"text": "hi"}'.encode("utf-16")}, 400, "bad_message"),
    ("POST", "/api/sessions/main/captions", {"data": b'{"text": "\xed\xa0\xbd"}'}, 400, "bad_message"),
    ("POST", "/api/sessions/main/captions", {"json": ["text"]}, 400, "bad_message"),
    ("POST", "/api/sessions/main/captions", {"json": {"text": "x" * 2001}}, 400, "bad_message"),
    ("POST", "/api/sessions/main/captions", {"json": {"text": 5}}, 400, "bad_message"),
    ("POST", "/api/sessions/main/captions", {"json": {"text": "hi", "lang": "e n"}}, 400, "unknown_language"),
    ("POST", "/api/sessions/main/captions", {"data": io.BytesIO(b"x" * (2 * 1024 * 1024))}, 413, "too_large"),
    ("POST", "/api/sessions/main/control", {"json": {"action": "explode"}}, 400, "bad_message"),
    ("POST", "/api/sessions/main/control", {"json": {"action": ["end"]}}, 400, "bad_message"),
    ("PATCH", "/api/sessions/main", {"json": {"glossary": "CRISPR"}}, 400, "bad_message"),
    ("PATCH", "/api/sessions/main", {"json": {"public": 0}}, 400, "bad_message"),
    ("PATCH", "/api/sessions/main/captions/nope", {"json": {"text": "fix"}}, 404, "not_found"),
    ("GET", "/no/such/page", {}, 404, "not_found"),
    ("DELETE", "/api/sessions", {}, 405, "method_not_allowed"),
])
async def test_bad_requests_get_json_errors_with_a_fix(client: TestClient[web.Request, web.Application], method: str, path: str,
                                                       kwargs: dict[str, Any], status: int, code: str) -> None:
    resp = await client.request(method, path, headers={**bearer(CHAIR), **kwargs.pop("headers", {})}, **kwargs)
    body = await resp.json()
    assert resp.status == status and body["error"]["code"] == code, body
    assert len(body["error"]["message"]) > 10 and "Traceback" not in body["error"]["message"]


async def test_a_json_body_is_read_as_utf_8_and_a_leading_bom_is_ignored(
        client: TestClient[web.Request, web.Application]) -> None:
    resp = await client.post("/api/sessions/main/captions", data='{"text": "Grüße"}'.encode("utf-16-le"),
                             headers=bearer(CHAIR))
    body = await resp.json()
    assert resp.status == 400 and "not UTF-8" in body["error"]["message"], body
    resp = await client.post("/api/sessions/main/captions", data=b"\xef\xbb\xbf" + '{"text": "Grüße"}'.encode(),
                             headers=bearer(CHAIR))
    assert resp.status == 201, await resp.text()
    assert (await resp.json())["text"] == "Grüße"


class ExplodingStore(Store):
    """A fake store whose session list is broken, to reach the last-resort error handler."""

    def list_sessions(self) -> list[Any]:
        raise RuntimeError("disk on fire at /secret/path")


async def test_an_unexpected_error_is_a_generic_500_and_a_logged_traceback(
        aiohttp_client: Any, settings: Settings, caplog: pytest.LogCaptureFixture) -> None:
    real = Store.open(settings.storage.database_path)
    store = ExplodingStore(real._db, real.path)
    client = await aiohttp_client(make_app(settings, store=store, clock=ManualClock().clock))
    resp = await client.get("/api/sessions")
    body = await resp.json()
    assert resp.status == 500 and body["error"]["code"] == "internal"
    assert "disk on fire" not in json.dumps(body) and "secret" not in json.dumps(body)
    assert "disk on fire" in caplog.text and "Traceback" in caplog.text
    assert (await client.get("/healthz")).status == 200
    await client.close()
    real.close()


# -- security headers and the pages under the CSP ---------------------------

@pytest.mark.parametrize("path", ["/", "/s/main", "/chair/main", "/staff", "/static/common.js", "/api/sessions",
                                  "/no/such/page"])
async def test_every_response_carries_the_security_headers(client: TestClient[web.Request, web.Application], path: str) -> None:
    resp = await client.get(path)
    csp = resp.headers["Content-Security-Policy"]
    for directive in ("default-src 'self'", "script-src 'self'", "style-src 'self'", "frame-ancestors 'none'",
                      "object-src 'none'", f"ws://{client.host}:{client.port}"):
        assert directive in csp, csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert resp.headers["Referrer-Policy"] == "no-referrer"
    assert resp.headers["X-Frame-Options"] == "DENY"


class InlineFinder(HTMLParser):
    """Collects what a strict CSP would block: inline scripts, style blocks/attributes, event handlers."""

    def __init__(self) -> None:
        super().__init__()
        self.blocked: list[str] = []
        self.local: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        named = dict(attrs)
        if tag == "script" and not named.get("src"):
            self.blocked.append("inline <script>")
        if tag == "style":
            self.blocked.append("<style> block")
        self.blocked += [f"{tag} {k}=" for k in named if k == "style" or k.startswith("on")]
        for attr in ("src", "href"):
            value = named.get(attr)
            if value and not value.startswith("#"):
                self.local.append(value)


@pytest.mark.parametrize("page", sorted(p.name for p in WEB_DIR.glob("*.html")))
def test_pages_work_under_the_csp(page: str) -> None:
    finder = InlineFinder()
    finder.feed((WEB_DIR / page).read_text())
    assert finder.blocked == []
    assert finder.local and all(re.match(r"^/(?!/)", url) for url in finder.local), finder.local


async def test_a_missing_static_file_is_a_json_404_and_nothing_outside_is_served(
        client: TestClient[web.Request, web.Application]) -> None:
    assert (await client.get("/static/common.js")).status == 200
    for path in ("/static/nope.js", "/static/i18n", "/static/..%2F..%2Fserver%2Fapp.py", "/static/%2E%2E/index.html"):
        resp = await client.get(path)
        assert resp.status == 404 and (await resp.json())["error"]["code"] == "not_found", path
