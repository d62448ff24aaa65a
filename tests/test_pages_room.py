"""The room page (/r/{room}) in headless Chromium: "Next: …" between talks, the talk on now's captions, a
switch to the next talk without the reader doing anything, and the day's past talks with transcripts."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.config import Settings
from assistant.server.app import make_app
from assistant.server.keys import TALKS
from tests.browser import DESKTOP, PHONE, Chromium, chromium, connect, screenshot_dir, serve
from tests.conftest import CHAIR, STAFF, ManualClock, bearer
from tests.test_server_talks import DATA, at

__all__ = ["chromium"]

pytestmark = pytest.mark.browser


async def test_the_room_page_follows_the_room_from_talk_to_talk(chromium: Chromium, settings: Settings,
                                                                 tmp_path: Path) -> None:
    import aiohttp

    shots = screenshot_dir(tmp_path)
    clock = ManualClock(at("opening", -10))
    app = make_app(settings, clock=clock.clock)
    async with serve(app) as url, connect(chromium) as tools, aiohttp.ClientSession() as http:
        async with http.post(f"{url}/api/programme?name=day.json", data=(DATA / "day.json").read_bytes(),
                             headers=bearer(STAFF)) as r:
            assert r.status == 201

        async def say(talk: str, text: str) -> None:
            async with http.post(f"{url}/api/sessions/{talk}/captions", json={"text": text},
                                 headers=bearer(CHAIR)) as r:
                assert r.status == 201, await r.text()

        async with http.get(f"{url}/api/rooms/hall-a/qr.svg") as r:
            assert r.status == 200 and r.content_type == "image/svg+xml"
        page = await tools.new_page(PHONE, mobile=True)
        await page.call("Emulation.setTouchEmulationEnabled", {"enabled": True, "maxTouchPoints": 5})
        await page.goto(f"{url}/r/hall-a")
        # Before the first talk: the room's name and what comes next.
        await page.wait_for("!document.querySelector('#room-next').hidden")
        assert await page.text("#room-next") == "Between talks\nNext: Opening, at 09:00"
        assert await page.text("#title") == "Hall A"
        await page.screenshot(shots / "room-before-360x640.png")

        clock.ms = at("opening")
        app[TALKS].tick()
        await page.wait_for("document.querySelector('#title').textContent === 'Opening'")
        await say("opening", "Welcome to the conference.")
        await page.wait_for("window.captionsDebug.texts().join('|') === 'Welcome to the conference.'")
        assert await page.evaluate("document.querySelector('#room-next').hidden")
        # The landing page lists the rooms (their permanent addresses), not the talks as sessions.
        landing = await tools.new_page(PHONE, mobile=True)
        await landing.goto(f"{url}/")
        await landing.wait_for("document.querySelectorAll('#rooms li').length === 2")
        assert await landing.evaluate("Array.from(document.querySelectorAll('#rooms li'), li => [li.dataset.room,"
                                      " li.querySelector('.meta').textContent, li.querySelector('a').getAttribute('href')])") \
            == [["hall-a", "Now: Opening", "/r/hall-a"], ["room-2", "Now: 机器翻译", "/r/room-2"]]
        assert await landing.evaluate("Array.from(document.querySelectorAll('#sessions li'), li => li.dataset.id)") \
            == ["main"]
        await landing.screenshot(shots / "landing-rooms-360x640.png")

        clock.ms = at("keynote")  # the clock rolls over: the page follows, nobody touches it
        app[TALKS].tick()
        await page.wait_for("document.querySelector('#title').textContent === 'Engines, analytical'")
        await say("keynote", "The analytical engine weaves algebraic patterns.")
        await page.wait_for("window.captionsDebug.texts().join('|') === "
                            "'The analytical engine weaves algebraic patterns.'")
        assert await page.evaluate("window.roomDebug.opened()") == 1  # the room socket stayed connected
        assert await page.evaluate("Array.from(document.querySelectorAll('#room-past-list li'),"
                                   " li => [li.dataset.talk, li.querySelector('a').getAttribute('href'),"
                                   " li.querySelector('a.button').getAttribute('href')])") == \
            [["opening", "/s/opening", "/api/sessions/opening/transcript.txt"]]
        await page.screenshot(shots / "room-talk-360x640.png")

        # The chair ends the last talks: the room says there is nothing more today.
        for _ in range(2):
            async with http.post(f"{url}/api/rooms/hall-a/next", headers=bearer(CHAIR)) as r:
                assert r.status == 200
        await page.wait_for("!document.querySelector('#room-next').hidden && "
                            "document.querySelector('#room-next').textContent.includes('No more talks')")
        assert await page.text("#room-next") == "Between talks\nNo more talks in this room today."
        assert await page.evaluate("document.querySelectorAll('#room-past-list li').length") == 3
        # The past talks' summary is a finger wide on a touch screen, as every control.
        assert await page.evaluate("document.querySelector('#room-past summary').getBoundingClientRect().height") >= 44

        # In the reader's language: a Russian phone reads the room's words in Russian.
        await page.evaluate("(() => { const s = document.querySelector('#ui-lang'); s.value = 'ru';"
                            " s.dispatchEvent(new Event('change')); })()")
        await page.wait_for("document.querySelector('#room-next strong').textContent === 'Между докладами'")
        assert page.errors == []

        async with http.get(f"{url}/r/nowhere") as r:
            assert r.status == 404


async def test_the_chair_switches_speakers_and_talks_and_every_screen_follows(
        chromium: Chromium, settings: Settings, tmp_path: Path) -> None:
    import aiohttp

    shots = screenshot_dir(tmp_path)
    clock = ManualClock(at("keynote", 5))
    app = make_app(settings, clock=clock.clock)
    async with serve(app) as url, connect(chromium) as tools, aiohttp.ClientSession() as http:
        async with http.post(f"{url}/api/programme?name=day.json", data=(DATA / "day.json").read_bytes(),
                             headers=bearer(STAFF)) as r:
            assert r.status == 201
        chair = await tools.new_page(DESKTOP)
        await chair.goto(f"{url}/chair/keynote#token={CHAIR}")
        await chair.wait_for("!document.querySelector('#talk-panel').hidden && "
                             "document.querySelectorAll('#speaker-buttons button').length === 2")
        pressed = ("Array.from(document.querySelectorAll('#speaker-buttons button'),"
                   " b => [b.textContent, b.getAttribute('aria-pressed')])")
        assert await chair.evaluate(pressed) == [["Charles Babbage", "true"], ["Ada Lovelace", "false"]]
        # the talk comes with the room socket's first frame, after the speakers (fetched)
        await chair.wait_for("document.querySelector('#talk-now').textContent !== '—'")
        assert await chair.text("#talk-now") == "Engines, analytical · 09:30–10:30"
        assert await chair.text("#talk-next") == "Panel: the future · 11:00–12:00"
        assert await chair.evaluate("document.querySelector('#station-cmd').textContent") == \
            f"assistant capture --server {url} --room hall-a"  # the room's station, for the whole day

        phone = await tools.new_page(PHONE, mobile=True)
        await phone.goto(f"{url}/r/hall-a")
        await phone.wait_for("document.querySelector('#speaker').textContent === 'Speaking: Charles Babbage'")
        screen = await tools.new_page(DESKTOP)
        await screen.goto(f"{url}/r/hall-a/display")  # the room's projector: follows the room too
        await screen.wait_for("document.querySelector('#speaker').textContent === 'Speaking: Charles Babbage'")

        await chair.evaluate("document.querySelectorAll('#speaker-buttons button')[1].click()")
        await chair.wait_for("document.querySelectorAll('#speaker-buttons button')[1]"
                             ".getAttribute('aria-pressed') === 'true'")
        await phone.wait_for("document.querySelector('#speaker').textContent === 'Speaking: Ada Lovelace'")
        await screen.wait_for("document.querySelector('#speaker').textContent === 'Speaking: Ada Lovelace'")
        await chair.screenshot(shots / "chair-programme-1280x800.png")
        await screen.screenshot(shots / "room-screen-speaker-1280x800.png")

        # "Next talk": the console opens the next talk's; the room page follows, with its first speaker.
        await chair.click("#btn-next-talk")
        await chair.wait_for("location.pathname === '/chair/panel' && "
                             "document.querySelectorAll('#speaker-buttons button').length === 3")
        assert await chair.evaluate(pressed) == [["Grace Hopper", "true"], ["Alan Turing", "false"],
                                                 ["Ada Lovelace", "false"]]
        await phone.wait_for("document.querySelector('#title').textContent === 'Panel: the future' && "
                             "document.querySelector('#speaker').textContent === 'Speaking: Grace Hopper'")
        await phone.screenshot(shots / "room-speaker-360x640.png")
        await screen.wait_for("document.querySelector('#idle-title').textContent === 'Panel: the future' && "
                              "document.querySelector('#speaker').textContent === 'Speaking: Grace Hopper'")
        async with http.post(f"{url}/api/sessions/panel/captions", json={"text": "Welcome to the panel."},
                             headers=bearer(CHAIR)) as r:
            assert r.status == 201
        await screen.wait_for("document.querySelector('#streams').textContent === 'Welcome to the panel.'")
        # After the last talk the screen invites the room to scan its permanent address.
        async with http.post(f"{url}/api/rooms/hall-a/next", headers=bearer(CHAIR)) as r:
            assert r.status == 200
        await screen.wait_for("document.querySelector('#idle-title').textContent === 'Hall A' && "
                              "document.querySelector('#idle-state').textContent === 'No more talks in this room today.'")
        assert await screen.evaluate("document.querySelector('#idle-qr').getAttribute('src')") == \
            "/api/rooms/hall-a/qr.svg"
        await screen.screenshot(shots / "room-screen-between-1280x800.png")
        assert chair.errors == [] and phone.errors == [] and screen.errors == []
