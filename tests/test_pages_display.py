"""The room screen (``/s/{session}/display``) in headless Chromium: big bottom-aligned lines, stacked
languages, the idle invitation, OBS transparency, framing for configured sites only, the chair's link.

Screenshots are read back pixel by pixel (``tests/helpers/png.py``) where the test says where text is
painted or that the background is see-through.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import dataclasses
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from assistant.config import Settings, load
from assistant.errors import ConfigError
from assistant.asr.types import ClauseEnd, FinalCaption, PartialCaption
from assistant.server.app import make_app
from tests.helpers.recognizers import go_live, silent_factory
from assistant.server.keys import SESSIONS
from assistant.server.runtime import SessionRuntime
from tests.browser import Chromium, Page, chromium, connect, screenshot_dir, serve
from tests.conftest import CHAIR, ManualClock, bearer
from tests.helpers import png
from tests.test_pages_delegate import PrefixTranslator

__all__ = ["chromium"]

pytestmark = pytest.mark.browser

SCREEN = (1280, 720)
SHOT_SCALE = 0.5  # screenshots are read in Python: a quarter of the pixels is plenty to see where text is


@contextlib.asynccontextmanager
async def running(settings: Settings) -> AsyncIterator[tuple[str, web.Application]]:
    app = make_app(settings, clock=ManualClock().clock, recognizer_factory=silent_factory, translator=PrefixTranslator(("fr", "zh", "ar")))
    async with serve(app) as url:
        yield url, app


def runtime(app: web.Application) -> SessionRuntime:
    room = app[SESSIONS].get("main")
    assert isinstance(room, SessionRuntime)  # make_app serves its rooms in-process
    return room


async def say(url: str, text: str) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{url}/api/sessions/main/captions", json={"text": text}, headers=bearer(CHAIR)) as r:
            assert r.status == 201, await r.text()


async def shot(page: Page, path: Path) -> png.Image:
    """A screenshot of the whole viewport at SHOT_SCALE, saved and decoded."""
    width, height = await page.evaluate("[innerWidth, innerHeight]")
    reply = await page.call("Page.captureScreenshot", {"format": "png", "clip": {
        "x": 0, "y": 0, "width": width, "height": height, "scale": SHOT_SCALE}})
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(base64.b64decode(reply["data"]))
    return png.read(path)


def box(rect: dict[str, float]) -> tuple[int, int, int, int]:
    """A DOM rect as a pixel box of a SHOT_SCALE screenshot."""
    return (int(rect["left"] * SHOT_SCALE), int(rect["top"] * SHOT_SCALE),
            int(rect["right"] * SHOT_SCALE), int(rect["bottom"] * SHOT_SCALE))


RECT = "(function(s){var r=document.querySelector(s).getBoundingClientRect();" \
       "return {left:r.left,top:r.top,right:r.right,bottom:r.bottom,height:r.height,width:r.width};})"
VISIBLE_LINES = "(function(s){var b=document.querySelector(s),top=b.getBoundingClientRect().top;" \
                "return Array.from(b.querySelectorAll('.line')).filter(l=>l.getBoundingClientRect().bottom>top+1)" \
                ".map(l=>l.textContent);})"


async def test_room_screen_idles_with_title_and_qr_then_shows_big_bottom_lines(
        chromium: Chromium, settings: Settings, tmp_path: Path) -> None:
    shots = screenshot_dir(tmp_path)
    async with running(settings) as (url, app), connect(chromium) as tools:
        page = await tools.new_page(SCREEN)
        await page.goto(f"{url}/s/main/display?lang=fr&lines=2")
        # Between talks: the room's title, its join QR and the invitation, in the screen's language.
        await page.wait_for("!document.querySelector('#idle').hidden && "
                            "document.querySelector('#idle-title').textContent === 'Main hall'")
        await page.wait_for("document.querySelector('#idle-qr').naturalWidth > 100")
        assert await page.evaluate("document.documentElement.lang") == "fr"
        assert await page.text("#idle-state") == "Bientôt"
        assert await page.wait_for("document.querySelector('#idle-hints').textContent") == \
            "Scannez pour lire les sous-titres en direct sur votre téléphone, dans votre langue"
        assert "/api/sessions/main/qr.svg" in await page.evaluate("document.querySelector('#idle-qr').src")
        # A screen, not an app: nothing to press, no cursor.
        assert await page.evaluate("document.querySelectorAll('button, select, input, a, textarea').length") == 0
        assert await page.evaluate("getComputedStyle(document.body).cursor") == "none"
        idle = await shot(page, shots / "display-idle-1280x720.png")
        qr = box(await page.evaluate(f"{RECT}('#idle-qr')"))
        assert idle.count(qr, png.Bright()) > (qr[2] - qr[0]) * (qr[3] - qr[1]) // 3  # the QR's white card

        rt = runtime(app)
        go_live(rt)
        for i in range(6):
            await say(url, f"Sentence {i} about the harbour, its cranes and the ships that come in at night.")
        await page.wait_for("document.querySelector('#idle').hidden && "
                            "document.querySelectorAll('.stream .line').length === 6")
        stream = await page.evaluate(f"{RECT}('.stream')")
        size = await page.evaluate("parseFloat(getComputedStyle(document.querySelector('.stream')).fontSize)")
        line_height = await page.evaluate("parseFloat(getComputedStyle(document.querySelector('.stream')).lineHeight)")
        assert size >= 48, size  # large: ~40 characters across a 1280-pixel screen
        assert abs(stream["height"] - 2 * line_height) < 2  # exactly two lines of text are shown
        assert SCREEN[1] - stream["bottom"] < SCREEN[1] * 0.06  # at the bottom of the screen
        visible = await page.evaluate(f"{VISIBLE_LINES}('.stream')")
        assert visible[-1] == "[fr] Sentence 5 about the harbour, its cranes and the ships that come in at night."
        live = await shot(page, shots / "display-fr-1280x720.png")
        top_half = (0, 0, live.width, int(stream["top"] * SHOT_SCALE) - 2)
        assert live.count(top_half, png.Bright()) == 0  # older lines are gone, not drawn above
        assert live.count(box(stream), png.Bright()) > 500  # the two lines, in white

        await control(url, "pause")  # a break: the screen invites the room again
        await page.wait_for("!document.querySelector('#idle').hidden")
        assert await page.text("#idle-state") == "En pause"
        assert page.errors == []


async def test_two_languages_stack_and_lines_follow_the_query(
        chromium: Chromium, settings: Settings, tmp_path: Path) -> None:
    async with running(settings) as (url, app), connect(chromium) as tools:
        go_live(runtime(app))
        await say(url, "The budget for next year.")
        await say(url, "Questions from the floor.")
        page = await tools.new_page(SCREEN)
        await page.goto(f"{url}/s/main/display?lang=zh,en&lines=3")
        await page.wait_for("document.querySelectorAll('.stream').length === 2 && "
                            "document.querySelectorAll('.stream .line').length === 4")
        langs = await page.evaluate("Array.from(document.querySelectorAll('.stream')).map(s => s.lang)")
        assert langs == ["zh", "en"]
        assert dict(runtime(app).core.screens) == {"zh": 1, "en": 1}  # a room screen says so: first for partials
        zh, en = await page.evaluate(f"[{RECT}('.stream:nth-child(1)'), {RECT}('.stream:nth-child(2)')]")
        assert zh["bottom"] <= en["top"] + 1  # Chinese above English
        line_height = await page.evaluate("parseFloat(getComputedStyle(document.querySelector('.stream')).lineHeight)")
        assert abs(en["height"] - 3 * line_height) < 2 and abs(zh["height"] - 3 * line_height) < 2
        assert en["bottom"] <= SCREEN[1] and zh["top"] >= 0  # both fit on the screen
        assert await page.evaluate(f"{VISIBLE_LINES}('.stream:nth-child(2)')") == \
            ["The budget for next year.", "Questions from the floor."]
        # The spoken language's unfinished words show too, grey after the settled ones.
        runtime(app).recognized(PartialCaption(9000, 9900, "and a last", stable_text="and a"))
        await page.wait_for("document.querySelector('.stream:nth-child(2) .partial') !== null")
        assert await page.text(".stream:nth-child(2) .partial .settled") == "and a"
        assert await page.evaluate("document.documentElement.lang") == "zh"
        await shot(page, screenshot_dir(tmp_path) / "display-zh-en-1280x720.png")

        # A language the session does not offer leaves the screen; the others stay.
        other = await tools.new_page(SCREEN)
        await other.goto(f"{url}/s/main/display?lang=xx,fr&lines=1")
        await other.wait_for("document.querySelectorAll('.stream').length === 1 && "
                             "document.querySelector('.stream').lang === 'fr' && "
                             "document.querySelectorAll('.stream .line').length === 2")
        assert await other.evaluate(f"{VISIBLE_LINES}('.stream')") == ["[fr] Questions from the floor."]
        assert page.errors == [] and other.errors == []


async def test_pieces_of_a_line_read_as_one_line_on_the_delegate_page_and_the_room_screen(
        chromium: Chromium, settings: Settings) -> None:
    async with running(settings) as (url, app), connect(chromium) as tools:
        room = runtime(app)
        go_live(room)
        screen = await tools.new_page(SCREEN)
        await screen.goto(f"{url}/s/main/display?lang=en,fr&lines=3")
        phone = await tools.new_page((390, 844))
        await phone.goto(f"{url}/s/main?lang=en")
        await phone.wait_for("document.querySelector('#conn').dataset.state === 'live'")
        await screen.wait_for("document.querySelectorAll('.stream').length === 2")
        # the recogniser settles "We will now" first, then the rest of the line: two captions, one line
        room.recognized(FinalCaption(0, 900, "We will now", (), "en", line_start=True, clause_end=False))
        await phone.wait_for("document.querySelectorAll('.cap').length === 1")
        room.recognized(FinalCaption(900, 2000, "begin the session.", (), "en", line_start=False, clause_end=True))
        room.recognized(FinalCaption(2500, 3000, "Welcome", (), "en", line_start=True, clause_end=False))
        room.recognized(ClauseEnd(3000))
        await phone.wait_for("document.querySelectorAll('.cap').length === 3")
        blocks = await phone.evaluate("Array.from(document.querySelectorAll('#captions .block'))"
                                      ".map(b => b.textContent.replace(/\\s+/g, ' ').trim())")
        assert blocks == ["We will now begin the session.", "Welcome"]
        await screen.wait_for("document.querySelectorAll('.stream:nth-child(2) .line').length === 2")
        assert await screen.evaluate(f"{VISIBLE_LINES}('.stream:nth-child(1)')") == \
            ["We will now begin the session.", "Welcome"]
        # French got the clause as one translation, on one line too
        assert await screen.evaluate(f"{VISIBLE_LINES}('.stream:nth-child(2)')") == \
            ["[fr] We will now begin the session.", "[fr] Welcome"]
        assert phone.errors == [] and screen.errors == []


async def test_obs_background_is_transparent(chromium: Chromium, settings: Settings, tmp_path: Path) -> None:
    async with running(settings) as (url, app), connect(chromium) as tools:
        go_live(runtime(app))
        await say(url, "Welcome to the studio.")
        page = await tools.new_page(SCREEN)
        await page.call("Emulation.setDefaultBackgroundColorOverride", {"color": {"r": 0, "g": 0, "b": 0, "a": 0}})
        await page.goto(f"{url}/s/main/display?bg=transparent")
        await page.wait_for("document.querySelectorAll('.stream .line').length === 1")
        assert await page.evaluate("getComputedStyle(document.body).backgroundColor") == "rgba(0, 0, 0, 0)"
        image = await shot(page, screenshot_dir(tmp_path) / "display-transparent-1280x720.png")
        assert image.channels == 4
        corner = (0, 0, image.width // 4, image.height // 4)
        assert image.count(corner, png.Transparent()) == (corner[2] - corner[0]) * (corner[3] - corner[1])
        text = box(await page.evaluate(f"{RECT}('.stream .line')"))
        assert image.count(text, png.Bright()) > 200  # the words themselves are painted, opaque
        assert page.errors == []


async def test_private_room_screen_needs_the_key(chromium: Chromium, settings: Settings) -> None:
    async with running(settings) as (url, app):
        async with aiohttp.ClientSession() as http:
            r = await http.patch(f"{url}/api/sessions/main", json={"public": False, "key": "hall-key-1234"},
                                 headers=bearer(CHAIR))
            assert r.status == 200, await r.text()
            async with http.get(f"{url}/s/main/display") as r:
                assert r.status == 401
            async with http.get(f"{url}/s/main/display?key=hall-key-1234") as r:
                assert r.status == 200 and r.headers["X-Frame-Options"] == "DENY"
        async with connect(chromium) as tools:
            page = await tools.new_page(SCREEN)
            await page.goto(f"{url}/s/main/display?key=hall-key-1234")
            await page.wait_for("document.querySelector('#idle-qr').naturalWidth > 100")
            assert "key=hall-key-1234" in await page.evaluate("document.querySelector('#idle-qr').src")
            assert page.errors == []


async def test_framing_is_allowed_only_for_configured_origins(chromium: Chromium, settings: Settings) -> None:
    # The organisers' event page: another origin (localhost is not 127.0.0.1) that frames the room screen.
    framed_src: list[str] = []

    async def event_page(request: web.Request) -> web.Response:
        return web.Response(text=f'<!doctype html><title>Event</title><iframe width="640" height="360" '
                                 f'src="{framed_src[0]}"></iframe>', content_type="text/html")

    event = web.Application()
    event.router.add_get("/", event_page)
    async with serve(event) as event_url:
        origin = event_url.replace("127.0.0.1", "localhost")
        framed = dataclasses.replace(settings, server=dataclasses.replace(settings.server, frame_ancestors=(origin,)))
        async with running(framed) as (url, app):
            async with aiohttp.ClientSession() as http:
                async with http.get(f"{url}/s/main/display?lang=fr") as r:
                    assert r.status == 200
                    assert "X-Frame-Options" not in r.headers
                    assert f"frame-ancestors {origin}" in r.headers["Content-Security-Policy"]
                async with http.get(f"{url}/s/main") as r:  # every other page still refuses any frame
                    assert r.headers["X-Frame-Options"] == "DENY"
                    assert "frame-ancestors 'none'" in r.headers["Content-Security-Policy"]

            framed_src.append(f"{url}/s/main/display?lang=fr")
            async with connect(chromium) as tools:
                page = await tools.new_page(SCREEN)
                await page.goto(f"{origin}/")
                # The framed screen runs: its reader socket for French is open on the server.
                await until(lambda: runtime(app).core.readers.get("fr") == 1, "the framed screen to read French")
                assert page.errors == []

    async with running(settings) as (url, app), aiohttp.ClientSession() as http:
        async with http.get(f"{url}/s/main/display") as r:  # not configured: no site may frame it
            assert r.headers["X-Frame-Options"] == "DENY"
            assert "frame-ancestors 'none'" in r.headers["Content-Security-Policy"]


async def test_chair_full_screen_offers_the_room_screen(chromium: Chromium, settings: Settings) -> None:
    async with running(settings) as (url, app), connect(chromium) as tools:
        page = await tools.new_page(SCREEN)
        await page.goto(f"{url}/chair/main#token={CHAIR}")
        await page.wait_for("!document.querySelector('#present').hidden")
        await page.click("#present")
        link = await page.wait_for("document.querySelector('#projector-display').getAttribute('href')")
        assert link == "/s/main/display"
        assert await page.evaluate("document.querySelector('#projector-display').target") == "_blank"
        other = await tools.new_page(SCREEN)
        await other.goto(url + link)
        await other.wait_for("document.querySelector('#idle-title').textContent === 'Main hall'")
        assert page.errors == [] and other.errors == []


async def until(condition: Callable[[], bool], what: str, timeout: float = 10) -> None:
    """Wait for ``condition`` (checked every 50 ms); fail naming ``what`` after ``timeout`` seconds."""
    for _ in range(int(timeout / 0.05)):
        if condition():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


async def control(url: str, action: str) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{url}/api/sessions/main/control", json={"action": action},
                             headers=bearer(CHAIR)) as r:
            assert r.status == 200, await r.text()


def test_frame_ancestors_must_be_origins(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[server]\nframe_ancestors = ["events.example.org/page"]\n')
    with pytest.raises(ConfigError, match="server.frame_ancestors"):
        load(bad, {})
    good = tmp_path / "good.toml"
    good.write_text('[server]\nframe_ancestors = ["https://events.example.org", "http://10.0.0.5:8080"]\n')
    assert load(good, {}).server.frame_ancestors == ("https://events.example.org", "http://10.0.0.5:8080")
