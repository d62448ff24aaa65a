"""Chair tokens for one room, and the throttle on wrong keys and tokens (driven by a manual clock)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest
from aiohttp import WSServerHandshakeError, web
from aiohttp.test_utils import TestClient

from assistant import cli
from assistant.config import Settings
from assistant.server import auth
from assistant.server.app import make_app
from assistant.server.limits import AuthThrottle
from assistant.store import Store
from tests.conftest import CHAIR, STAFF, ManualClock, bearer

Client = TestClient[web.Request, web.Application]

KEY = "key-of-the-board-room"


def with_rooms(settings: Settings) -> Settings:
    """Two config rooms, "a" and "b"."""
    main = settings.sessions[0]
    return dataclasses.replace(settings, sessions=(dataclasses.replace(main, id="a", title="Room A"),
                                                   dataclasses.replace(main, id="b", title="Room B")))


def issue(settings: Settings, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
          *args: str) -> tuple[int, str]:
    """Run ``assistant tokens ...`` on the settings' database; return its exit code and stdout."""
    monkeypatch.setenv("ASSISTANT_DATA_DIR", str(settings.storage.data_dir))
    code = cli.main(["tokens", *args])
    return code, capsys.readouterr().out


# -- a chair token for one room -----------------------------------------------

ROOM_ROUTES = [  # (method, path, body, success status): everything a chair does in a room over HTTP
    ("POST", "/api/sessions/{s}/captions", {"text": "Typed."}, 201),
    ("PATCH", "/api/sessions/{s}/captions/{id}", {"text": "Fixed."}, 200),
    ("GET", "/api/sessions/{s}/captions/{id}/revisions", None, 200),
    ("PATCH", "/api/sessions/{s}", {"title": "Renamed"}, 200),
    ("POST", "/api/sessions/{s}/control", {"action": "pause"}, 200),
]


async def try_room(client: Client, token: str, room: str, caption: str) -> list[int]:
    """The statuses ``token`` gets on every chair route of ``room``, then the console and audio sockets."""
    got = []
    for method, path, body, _ in ROOM_ROUTES:
        resp = await client.request(method, path.format(s=room, id=caption), json=body, headers=bearer(token))
        if resp.status >= 400:
            assert (await resp.json())["error"]["code"] in ("forbidden", "unauthorized")
        got.append(resp.status)
    for socket in ("chair", "audio"):
        try:
            ws = await client.ws_connect(f"/ws/{socket}/{room}", protocols=(f"bearer.{token}",))
        except WSServerHandshakeError as exc:
            got.append(exc.status)
        else:
            await ws.close()
            got.append(101)
    return got


async def test_a_room_token_from_the_cli_works_in_its_room_only_until_revoked(
        aiohttp_client: Any, settings: Settings, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    rooms = with_rooms(settings)
    client = await aiohttp_client(make_app(rooms, clock=ManualClock().clock))
    code, out = issue(rooms, capsys, monkeypatch, "issue", "chair", "--session", "a")
    token = out.split()[-1]
    assert code == 0 and "shown once" in out and len(token) >= 24
    captions = {room: (await (await client.post(f"/api/sessions/{room}/captions", json={"text": "Hello."},
                                                headers=bearer(CHAIR))).json())["id"] for room in "ab"}
    allowed = [status for *_, status in ROOM_ROUTES] + [101, 101]
    assert await try_room(client, token, "a", captions["a"]) == allowed
    assert await try_room(client, token, "b", captions["b"]) == [403] * 7
    await client.post("/api/sessions/a/control", json={"action": "resume"}, headers=bearer(CHAIR))
    assert await try_room(client, CHAIR, "b", captions["b"]) == allowed  # the organiser's token stays global
    refused = await client.post("/api/sessions/b/control", json={"action": "end"}, headers=bearer(token))
    assert "session 'a'" in (await refused.json())["error"]["message"]
    assert (await client.post("/api/sessions", json={"id": "c"}, headers=bearer(token))).status == 403

    code, out = issue(rooms, capsys, monkeypatch, "list")
    assert code == 0 and "\ta\t" in out and "live" in out and token not in out
    token_id = out.split()[0]
    code, out = issue(rooms, capsys, monkeypatch, "revoke", token_id)
    assert code == 0 and "Revoked" in out
    assert await try_room(client, token, "a", captions["a"]) == [401] * 7  # on the running server
    assert issue(rooms, capsys, monkeypatch, "revoke", token_id)[0] == 1  # nothing left to revoke


async def test_staff_create_a_session_with_its_own_chair_token(aiohttp_client: Any, settings: Settings) -> None:
    client = await aiohttp_client(make_app(settings, clock=ManualClock().clock))
    resp = await client.post("/api/sessions", json={"id": "board", "public": False, "key": KEY, "chair_token": True},
                             headers=bearer(STAFF))
    made = await resp.json()
    token = made["chair_token"]
    assert resp.status == 201 and len(token) >= 24 and made["chair_token_id"]
    assert (await client.post("/api/sessions/board/control", json={"action": "pause"},
                              headers=bearer(token))).status == 200
    assert (await client.post("/api/sessions/main/control", json={"action": "pause"},
                              headers=bearer(token))).status == 403
    assert (await client.get("/s/board", headers=bearer(token))).status == 200  # its private room opens
    listed = await (await client.get("/api/sessions", headers=bearer(STAFF))).json()
    assert token not in json.dumps(listed)
    plain = await client.post("/api/sessions", json={"id": "open"}, headers=bearer(STAFF))
    assert "chair_token" not in await plain.json()
    bad = await client.post("/api/sessions", json={"id": "x", "chair_token": "yes"}, headers=bearer(STAFF))
    assert bad.status == 400


async def test_a_room_token_opens_its_private_room_only(aiohttp_client: Any, settings: Settings) -> None:
    client = await aiohttp_client(make_app(with_rooms(settings), clock=ManualClock().clock))
    for room in "ab":
        await client.patch(f"/api/sessions/{room}", json={"public": False, "key": KEY + room}, headers=bearer(CHAIR))
    store = Store.open(settings.storage.database_path)
    _, token = auth.issue_scoped(store, "chair", "a", 0)
    store.close()
    assert (await client.get("/api/sessions/a/transcript.txt", headers=bearer(token))).status == 200
    other = await client.get("/api/sessions/b/transcript.txt", headers=bearer(token))
    assert other.status == 403 and "session 'a'" in (await other.json())["error"]["message"]
    with pytest.raises(WSServerHandshakeError) as refused:
        await client.ws_connect("/ws/captions/b", headers=bearer(token))
    assert refused.value.status == 403
    assert (await client.get("/api/sessions/b/export.txt", headers=bearer(token))).status == 403


async def test_a_private_session_always_has_a_key_and_a_public_one_none(aiohttp_client: Any, settings: Settings) -> None:
    client = await aiohttp_client(make_app(with_rooms(settings), clock=ManualClock().clock))

    async def patch(body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        r = await client.patch("/api/sessions/a", json=body, headers=bearer(CHAIR))
        return r.status, await r.json()

    for body in ({"public": False}, {"public": False, "key": ""}, {"public": True, "key": KEY}):
        status, answer = await patch(body)  # private with no link to give, or public with a key: refused
        assert status == 400 and answer["error"]["code"] == "bad_key", (body, answer)
    assert (await client.get("/api/sessions/a/transcript.txt")).status == 200  # still public
    assert (await patch({"public": False, "key": KEY}))[0] == 200
    status, answer = await patch({"key": ""})  # the key of a private session cannot just be dropped
    assert status == 400 and answer["error"]["code"] == "bad_key"
    assert (await client.get(f"/api/sessions/a/transcript.txt?key={KEY}")).status == 200
    assert (await patch({"public": True, "key": ""}))[0] == 200
    assert (await client.get("/api/sessions/a/transcript.txt")).status == 200


def test_grants_tell_roles_rooms_and_revocation_apart(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "t.sqlite3")
    auth.ensure_tokens(store, {"chair": CHAIR, "staff": STAFF}, 0)
    a_id, a = auth.issue_scoped(store, "chair", "a", 1)
    _, b = auth.issue_scoped(store, "chair", "b", 2)
    assert auth.grant_of(store, CHAIR) == auth.Grant("chair") and auth.grant_of(store, STAFF) == auth.Grant("staff")
    assert auth.grant_of(store, a) == auth.Grant("chair", "a") and auth.grant_of(store, "nope") is None
    assert auth.Grant("chair", "a").covers("chair", "a") and not auth.Grant("chair", "a").covers("chair", "b")
    assert auth.Grant("chair").covers("chair", "b") and not auth.Grant("staff").covers("chair", "b")
    assert auth.role_of(store, a) is None  # not the organiser's
    assert store.revoke_scoped_tokens(token_id=a_id, at_ms=3) == 1
    assert auth.grant_of(store, a) is None and auth.grant_of(store, b) == auth.Grant("chair", "b")
    assert store.revoke_scoped_tokens(session_id="b", at_ms=4) == 1 and auth.grant_of(store, b) is None
    assert [t.revoked_at_ms for t in store.scoped_tokens()] == [3, 4]
    raw = (tmp_path / "t.sqlite3").read_bytes() + b"".join(p.read_bytes() for p in tmp_path.glob("*-wal"))
    assert a.encode() not in raw and b.encode() not in raw  # stored hashed
    store.close()


# -- the throttle on wrong keys and tokens ----------------------------------

def test_the_throttle_counts_per_address_within_a_window_then_cools_down() -> None:
    throttle = AuthThrottle(failures=3, window_ms=60_000, cooldown_ms=30_000)
    throttle.failed("10.0.0.1", 0)
    throttle.failed("10.0.0.1", 61_000)  # the first one has left the window
    throttle.failed("10.0.0.1", 62_000)
    assert throttle.retry_after_ms("10.0.0.1", 62_000) == 0
    throttle.failed("10.0.0.1", 63_000)
    assert throttle.retry_after_ms("10.0.0.1", 63_000) == 30_000
    assert throttle.retry_after_ms("10.0.0.2", 63_000) == 0  # others are not affected
    assert throttle.retry_after_ms("10.0.0.1", 93_000) == 0  # cooled down, and counting from zero
    throttle.failed("10.0.0.1", 93_000)
    assert throttle.retry_after_ms("10.0.0.1", 93_000) == 0


def test_the_throttle_remembers_a_bounded_number_of_addresses() -> None:
    throttle = AuthThrottle(failures=2, max_addresses=100)
    for i in range(10_000):
        throttle.failed(f"10.0.{i // 256}.{i % 256}", i)
    assert throttle.remembered == 100


@pytest.fixture
async def guarded(aiohttp_client: Any, settings: Settings) -> tuple[Client, ManualClock]:
    clock = ManualClock()
    proxied = dataclasses.replace(settings, server=dataclasses.replace(settings.server, trusted_proxies=("127.0.0.1",)),
                                  limits=dataclasses.replace(settings.limits, auth_failures=5))
    client = await aiohttp_client(make_app(proxied, clock=clock.clock))
    await client.post("/api/sessions", json={"id": "priv", "public": False, "key": KEY}, headers=bearer(STAFF))
    return client, clock


def phone(address: str) -> dict[str, str]:
    return {"X-Forwarded-For": address}


async def test_key_guessing_gets_429_for_a_while_and_nobody_else_notices(
        guarded: tuple[Client, ManualClock]) -> None:
    client, clock = guarded
    guesser, delegate = phone("198.51.100.7"), phone("198.51.100.8")
    statuses = [(await client.get(f"/s/priv?key=guess-{i:04d}", headers=guesser)).status for i in range(1000)]
    assert statuses[:5] == [401] * 5 and set(statuses[5:]) == {429}  # 5 guesses were checked, not 1000
    refused = await client.get(f"/s/priv?key={KEY}", headers=guesser)  # even the right key waits
    error = (await refused.json())["error"]
    assert refused.status == 429 and error["code"] == "rate_limited" and int(refused.headers["Retry-After"]) == 60
    assert (await client.get(f"/s/priv?key={KEY}", headers=delegate)).status == 200
    assert (await client.get("/s/main", headers=guesser)).status == 200  # no key, nothing to throttle
    with pytest.raises(WSServerHandshakeError) as socket_refused:
        await client.ws_connect(f"/ws/captions/priv?key={KEY}", headers=guesser)
    assert socket_refused.value.status == 429
    clock.ms += 59_000
    assert (await client.get(f"/s/priv?key={KEY}", headers=guesser)).status == 429
    clock.ms += 1_000
    assert (await client.get(f"/s/priv?key={KEY}", headers=guesser)).status == 200


@pytest.mark.parametrize("method,path", [("GET", "/api/sessions"), ("POST", "/api/sessions/main/control"),
                                         ("GET", "/api/sessions/main/export.txt"), ("GET", "/healthz"),
                                         ("GET", "/ws/chair/main"), ("GET", "/ws/audio/main")])
async def test_token_guessing_is_throttled_on_every_route(guarded: tuple[Client, ManualClock], method: str,
                                                          path: str) -> None:
    client, _ = guarded
    guesser = phone("203.0.113.9")
    for i in range(5):
        resp = await client.request(method, path, json={"action": "pause"},
                                    headers={**guesser, **bearer(f"guessed-token-{i:04d}")})
        assert resp.status in (200, 400, 401), resp.status  # /healthz answers, and counts the wrong token
    resp = await client.request(method, path, json={"action": "pause"}, headers={**guesser, **bearer(CHAIR)})
    assert resp.status == 429 and "Retry-After" in resp.headers
    ok = await client.request(method, path, json={"action": "pause"},
                              headers={**phone("203.0.113.10"), **bearer(STAFF if "export" in path else CHAIR)})
    assert ok.status in (200, 400)  # 400: a socket path asked without an upgrade
