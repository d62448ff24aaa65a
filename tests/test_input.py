"""Odd input at every boundary: text that cannot be stored or sent, control characters, raw bytes in
headers, absurd numbers. Each is a 400 with a JSON error (or an error frame), never a 500, and
nothing unstorable reaches the database.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import sqlite3
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from hypothesis import HealthCheck, given, settings as hsettings, strategies as st

from assistant import validate
from assistant.config import Settings, load
from assistant.errors import ConfigError, ProtocolError
from assistant.server.app import make_app
from tests.conftest import CHAIR, STAFF, ManualClock, bearer

Client = TestClient[web.Request, web.Application]

SURROGATE = b'"\\ud83d"'  # JSON for half an emoji: json.loads gives a lone surrogate


@pytest.fixture
async def client(aiohttp_client: Any, settings: Settings) -> Client:
    return await aiohttp_client(make_app(settings, clock=ManualClock().clock))  # type: ignore[no-any-return]


def body(template: str, value: bytes) -> bytes:
    return template.encode().replace(b"@", value)


# -- text that cannot be stored or sent -----------------------------------

@pytest.mark.parametrize("method,path,template,token", [
    ("PATCH", "/api/sessions/main", '{"glossary": ["CRISPR", @]}', CHAIR),
    ("PATCH", "/api/sessions/main", '{"title": @}', CHAIR),
    ("POST", "/api/sessions/main/captions", '{"text": @}', CHAIR),
    ("PATCH", "/api/sessions/main/captions/{id}", '{"text": @}', CHAIR),
    ("PATCH", "/api/sessions/main/captions/{id}", '{"text": "fine", "lang": @}', CHAIR),
    ("POST", "/api/sessions", '{"id": "room-b", "title": @}', STAFF),
    ("POST", "/api/sessions", '{"id": @}', STAFF),
])
@pytest.mark.parametrize("value", [SURROGATE, b'"ok \\ud83d\\ud83d then"', b'"\\ude00 low half"',
                                   b'"nul \\u0000 inside"', b'"bell \\u0007"', b'"esc \\u001b[31m red"',
                                   b'"c1 \\u0085\\u009b"'])
async def test_unstorable_or_control_text_is_refused_and_never_stored(client: Client, settings: Settings,
                                                                      method: str, path: str, template: str,
                                                                      token: str, value: bytes) -> None:
    made = await client.post("/api/sessions/main/captions", json={"text": "First line."}, headers=bearer(CHAIR))
    path = path.replace("{id}", (await made.json())["id"])
    before = rows(settings.storage.database_path)
    resp = await client.request(method, path, data=body(template, value),
                                headers={**bearer(token), "Content-Type": "application/json"})
    error = (await resp.json())["error"]
    assert resp.status == 400 and error["code"] in ("bad_message", "unknown_language"), error
    assert any(why in error["message"] for why in ("surrogate", "control character", "language code", "session id"))
    for who in ({}, bearer(STAFF), bearer(CHAIR)):  # the session list still works for everyone
        listed = await client.get("/api/sessions", headers=who)
        assert listed.status == 200, await listed.text()
    transcript = await client.get("/api/sessions/main/transcript.txt")
    assert transcript.status == 200 and (await transcript.text()).count("First line.") == 1
    assert rows(settings.storage.database_path) == before  # nothing of it was stored


def rows(database: Path) -> list[tuple[Any, ...]]:
    """Every session, caption and revision row (what a refused request must leave as it was)."""
    db = sqlite3.connect(database)
    try:
        return [row for table in ("sessions", "captions", "revisions")
                for row in db.execute(f"SELECT * FROM {table} ORDER BY rowid").fetchall()]
    finally:
        db.close()


async def test_a_chair_frame_with_a_lone_surrogate_gets_an_error_frame(client: Client) -> None:
    ws = await client.ws_connect("/ws/chair/main", headers=bearer(CHAIR))
    await ws.send_str('{"type":"update","glossary":["\\ud83d"]}')
    await ws.send_str('{"type":"caption_text","text":"tab\\there, new\\nline"}')
    frames: list[dict[str, Any]] = []
    async with asyncio.timeout(10):
        while not any(f["type"] == "caption" for f in frames):
            frames.append(json.loads((await ws.receive()).data))
    errors = [f for f in frames if f["type"] == "error"]
    assert len(errors) == 1 and "surrogate" in errors[0]["message"]
    assert [f["text"] for f in frames if f["type"] == "caption"] == ["tab here, new line"]
    await ws.close()
    assert (await client.get("/api/sessions")).status == 200


async def test_whitespace_is_folded_and_a_whole_emoji_is_welcome(client: Client) -> None:
    resp = await client.patch("/api/sessions/main", headers=bearer(CHAIR),
                              data='{"title":"Main\\t hall \\ud83d\\ude00","glossary":[" Chong\\nqing ","CRISPR"]}')
    body = await resp.json()
    assert resp.status == 200 and body["title"] == "Main hall 😀" and body["glossary"] == ["Chong qing", "CRISPR"]
    listed = (await (await client.get("/api/sessions")).json())["sessions"]
    assert listed[0]["title"] == "Main hall 😀"


async def test_a_database_holding_an_unsendable_term_still_lists_its_sessions(aiohttp_client: Any,
                                                                              settings: Settings) -> None:
    """Older versions stored such terms (the JSON of the glossary is ASCII): the list must not fail on them."""
    first = await aiohttp_client(make_app(settings, clock=ManualClock().clock))
    await first.close()
    db = sqlite3.connect(settings.storage.database_path)
    with db:
        db.execute("""UPDATE sessions SET glossary='["\\ud83d", "CRISPR"]' WHERE id='main'""")
    db.close()
    again = await aiohttp_client(make_app(settings, clock=ManualClock().clock))
    for who in ({}, bearer(STAFF)):
        resp = await again.get("/api/sessions", headers=who)
        assert resp.status == 200 and (await resp.json())["sessions"][0]["glossary"] == ["CRISPR"]


@pytest.mark.parametrize("toml,needle", [
    ('[[sessions]]\nid = "a"\ntitle = "Hall\\u0000A"\n', "sessions[0].title"),
    ('[[sessions]]\nid = "a"\nglossary = ["ok", "\\u001b[2J"]\n', "sessions[0].glossary"),
    ('[[sessions]]\nid = "a"\nglossary = [" "]\n', "sessions[0].glossary"),
    ('[[sessions]]\nid = "A"\n', "sessions[0].id"),
    ('[[sessions]]\nid = "a"\nlanguage = "english"\n', "sessions[0].language"),
    ('[[sessions]]\nid = "a"\nlanguages = ["fr", "x"]\n', "sessions[0].languages"),
])
def test_config_values_follow_the_same_rules(tmp_path: Path, toml: str, needle: str) -> None:
    path = tmp_path / "c.toml"
    path.write_text(toml)
    with pytest.raises(ConfigError, match=needle.replace("[", r"\[").replace("]", r"\]")):
        load(path, {})


def test_a_token_from_an_environment_that_is_not_utf8_is_a_config_error() -> None:
    # os.environ decodes bytes that are not UTF-8 as lone surrogates (surrogateescape)
    with pytest.raises(ConfigError, match="auth.chair_token has a lone UTF-16 surrogate"):
        load(None, {"ASSISTANT_CHAIR_TOKEN": b"chair-token-\xff\xfe".decode("utf-8", "surrogateescape")})


def test_the_shared_validators() -> None:
    assert validate.session_id("room-1", '"id"') == "room-1"
    assert validate.language("pt-BR", "lang") == "pt-BR" and validate.language("auto", "x", allow_auto=True)
    assert validate.text("  a\t\nb\u2028c ", "t", max_chars=20) == "a b c"
    for bad in ("Room", "-a", "a" * 64, "a b", "\ud83d", 5, None):
        with pytest.raises(ProtocolError, match=r"^\"id\" must be a session id"):
            validate.session_id(bad, '"id"')
    with pytest.raises(ConfigError, match="--language must be a language code"):
        validate.language("auto", "--language", error=ConfigError)
    with pytest.raises(ProtocolError) as refused:
        validate.language("english", '"lang"')
    assert refused.value.code == "unknown_language"
    assert [validate.spoken_language(x, "l") for x in ("auto", "yue", "zh")] == ["auto", "yue", "zh"]
    for invisible in ("", "   ", "\u200b", "\ufeff \u200b", "\u202e\u2060"):  # nothing a reader could see
        with pytest.raises(ProtocolError, match="must have something to read"):
            validate.text(invisible, '"text"', max_chars=10)
    assert validate.text("\u200bhi", '"text"', max_chars=10) == "\u200bhi"
    with pytest.raises(ConfigError, match=r"sessions\[0\].language must be a language speech can be recognised in"):
        validate.spoken_language("xx", "sessions[0].language", error=ConfigError)
    with pytest.raises(ProtocolError, match=r"\(U\+D83D\) at character 2"):
        validate.text("ab\ud83d", '"t"', max_chars=10)
    with pytest.raises(ProtocolError, match="control character \\(U\\+0000\\)"):
        validate.text("a\0", '"t"', max_chars=10)
    with pytest.raises(ProtocolError, match="something to read"):
        validate.text(" \n ", '"t"', max_chars=10)


# -- raw bytes in headers, absurd query values -------------------------------

async def raw(port: int, request: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send ``request`` as it is; return the status, the headers and the body of the answer."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(request)
        await writer.drain()
        async with asyncio.timeout(10):
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:] if line)}
            size = int(headers.get("content-length", "0"))
            data = await reader.readexactly(size) if size else b""
    finally:
        writer.close()
    return int(lines[0].split()[1]), headers, data


def request(path: str, *headers: bytes, method: bytes = b"GET") -> bytes:
    return b"%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\n%sConnection: close\r\n\r\n" % (
        method, path.encode(), b"".join(h + b"\r\n" for h in headers))


UPGRADE = (b"Upgrade: websocket", b"Connection: Upgrade", b"Sec-WebSocket-Version: 13",
           b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==")


@pytest.mark.parametrize("path,headers,code", [
    ("/api/sessions", (b"Authorization: Bearer \xff\xfe\xfd-not-utf8",), "bad_header"),
    ("/api/sessions", (b"Authorization: \xff\xfe",), "bad_header"),
    ("/healthz", (b"Authorization: Bearer \xc3\x28\xa0\xa1",), "bad_header"),
    ("/api/sessions/main/export.txt", (b"Authorization: Bearer staff-\xed\xa0\xbd",), "bad_header"),
    ("/api/sessions", (b"Host: \xff\xfe",), "bad_header"),
    ("/api/sessions/main/qr.svg", (b"Host: " + b"9" * 8000,), "bad_header"),  # no host; would not fit a QR code
    ("/ws/captions/main?since=" + "9" * 5000, UPGRADE, "bad_since"),
    ("/ws/captions/main?since=" + "0" * 5000 + "1" + "0" * 20, UPGRADE, "bad_since"),
    ("/ws/chair/main", (*UPGRADE, b"Sec-WebSocket-Protocol: bearer.\xff\xfe"), "bad_header"),
    ("/ws/captions/main", (*UPGRADE, b"Sec-WebSocket-Protocol: bearer.x\x80"), "bad_header"),
    ("/ws/captions/main", (*UPGRADE, b"Origin: http://\xff"), "bad_header"),
])
async def test_raw_bytes_and_absurd_numbers_are_400_with_a_json_error(aiohttp_server: Any, settings: Settings,
                                                                       path: str, headers: tuple[bytes, ...],
                                                                       code: str) -> None:
    server = await aiohttp_server(make_app(settings, clock=ManualClock().clock))
    host = [h for h in headers if h.startswith(b"Host:")]
    data = request(path, *[h for h in headers if not h.startswith(b"Host:")])
    if host:
        data = data.replace(b"Host: 127.0.0.1", host[0])
    status, _, answer = await raw(server.port, data)
    error = json.loads(answer)["error"]
    assert status == 400 and error["code"] == code, error
    assert len(error["message"]) > 10 and "Traceback" not in error["message"]


@pytest.mark.parametrize("header", [b"Authorization: Bearer a\x01b", b"Origin: http://a\x01", b"X-Any: \x00"])
async def test_a_control_character_the_http_parser_refuses_is_a_400_and_one_log_line(
        aiohttp_server: Any, settings: Settings, caplog: pytest.LogCaptureFixture, header: bytes) -> None:
    caplog.set_level(logging.INFO)
    server = await aiohttp_server(make_app(settings, clock=ManualClock().clock))
    status, _, _ = await raw(server.port, request("/ws/captions/main", *UPGRADE, header))
    assert status == 400  # aiohttp's parser answers before the server sees the request
    logged = [r for r in caplog.records if r.name == "aiohttp.server"]
    assert logged and all(r.levelno == logging.INFO and r.exc_info is None for r in logged)
    assert "refused a malformed request" in logged[0].getMessage()


async def test_x_forwarded_for_garbage_from_a_trusted_proxy_counts_as_the_proxy(aiohttp_server: Any,
                                                                                settings: Settings) -> None:
    proxied = dataclasses.replace(settings, server=dataclasses.replace(settings.server, trusted_proxies=("127.0.0.1",)),
                                  limits=dataclasses.replace(settings.limits, max_connections_per_ip=1))
    server = await aiohttp_server(make_app(proxied, clock=ManualClock().clock))
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)  # holds the only place
    held = request("/ws/captions/main", *UPGRADE, b"X-Forwarded-For: \xff\xfe")
    writer.write(held.replace(b"Connection: close\r\n", b""))
    assert (await reader.readuntil(b"\r\n\r\n")).startswith(b"HTTP/1.1 101")
    status, _, answer = await raw(server.port, request("/ws/captions/main", *UPGRADE, b"X-Forwarded-For: 1.2.\xff"))
    assert status == 429 and "127.0.0.1" in json.loads(answer)["error"]["message"]
    writer.close()


# Every header and query parameter the server reads, with values no client should send.
READ_HEADERS = (b"Authorization", b"Sec-WebSocket-Protocol", b"Origin", b"X-Forwarded-For", b"Host", b"Upgrade",
                b"Referer", b"User-Agent", b"Accept-Language")
PATHS = ("/", "/s/main", "/s/main/display", "/chair/main", "/staff", "/healthz", "/api/sessions",
         "/api/sessions/main/qr.svg", "/api/sessions/main/transcript.txt", "/api/sessions/main/export.zip",
         "/ws/captions/main", "/ws/chair/main", "/ws/audio/main", "/api/sessions/main/captions/x/revisions")
header_values = st.binary(max_size=40).map(lambda b: b.replace(b"\r", b"").replace(b"\n", b"")) | st.sampled_from(
    [b"Bearer \xff", b"bearer." + b"\xfe" * 3, b"\xed\xa0\xbd", b"Bearer " + CHAIR.encode() + b"\x80", b"9" * 5000])
query_values = st.text(max_size=12) | st.sampled_from(["9" * 5000, "%ff%fe", "%ed%a0%bd", "\x00", "-1", "1e9",
                                                       "٣", "0" * 4400 + "7"])
FUZZ = hsettings(max_examples=150, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])


def test_fuzz_every_header_and_query_parameter_read(settings: Settings, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.ERROR)
    with asyncio.Runner() as runner:
        server = TestServer(make_app(settings, clock=ManualClock().clock), host="127.0.0.1")
        runner.run(server.start_server())
        try:
            @FUZZ
            @given(st.sampled_from(PATHS), st.dictionaries(st.sampled_from(READ_HEADERS), header_values, max_size=3),
                   st.dictionaries(st.sampled_from(["key", "lang", "since", "token"]), query_values, max_size=3),
                   st.booleans())
            def example(path: str, headers: dict[bytes, bytes], query: dict[str, str], upgrade: bool) -> None:
                target = path + ("?" + "&".join(f"{k}={quote(v, safe='%')}" for k, v in query.items()) if query else "")
                lines = [k + b": " + v for k, v in headers.items() if k != b"Host"]
                data = request(target, *lines, *(UPGRADE if upgrade and b"Upgrade" not in headers else ()))
                if b"Host" in headers:
                    data = data.replace(b"Host: 127.0.0.1", b"Host: " + headers[b"Host"])
                assert server.port is not None
                status, answer_headers, answer = runner.run(raw(server.port, data))
                assert status != 500 and status < 600, (status, answer)
                if status >= 400 and answer_headers.get("content-type", "").startswith("application/json"):
                    assert json.loads(answer)["error"]["code"]

            example()
        finally:
            runner.run(server.close())
    assert [r.getMessage() for r in caplog.records if r.name.startswith("assistant")] == []

