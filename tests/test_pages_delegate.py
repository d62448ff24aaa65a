"""The delegate page in headless Chromium against the real app: captions, partials, resume, languages."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import numpy as np
import pytest
from aiohttp import web

from assistant.asr.types import LagReport, PartialCaption
from assistant.config import Settings
from assistant.server.app import make_app
from assistant.server.keys import SESSIONS
from assistant.server.runtime import SessionRuntime
from tests.helpers.recognizers import silent_factory
from tests.browser import DESKTOP, PHONE, Chromium, Page, chromium, connect, screenshot_dir, serve
from tests.conftest import CHAIR, ManualClock, bearer

__all__ = ["chromium"]  # the module-scoped browser fixture

pytestmark = pytest.mark.browser


@dataclasses.dataclass(frozen=True)
class Translated:
    text: str
    fallback: bool = False


class PrefixTranslator:
    """Translates instantly to ``[fr] text``; "Hamburg" lines come back untranslated (fallback)."""

    def __init__(self, targets: tuple[str, ...]) -> None:
        self.targets = targets

    async def translate(self, text: str, source: str, target: str, glossary: tuple[str, ...] = ()) -> Translated:
        if "Hamburg" in text:
            return Translated(text, fallback=True)
        return Translated(f"[{target}] {text}")

    def available_targets(self, source_lang: str) -> tuple[str, ...]:
        return self.targets


class DroppingProxy:
    """A TCP relay in front of the app whose ``drop()`` cuts every open connection, like a network drop."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.requests: list[str] = []
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._server: asyncio.Server | None = None

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        return int(self._server.sockets[0].getsockname()[1])

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        self._writers.update((writer, up_writer))
        first = asyncio.current_task()
        assert first is not None
        self._tasks.add(first)
        try:
            await asyncio.gather(self._pipe(reader, up_writer, record=True), self._pipe(up_reader, writer))
        finally:
            for w in (writer, up_writer):
                self._writers.discard(w)
                w.close()
            self._tasks.discard(first)

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, record: bool = False) -> None:
        with contextlib.suppress(ConnectionError, OSError):
            while data := await reader.read(65536):
                if record and data[:4] == b"GET ":
                    self.requests.append(data.split(b"\r\n", 1)[0].decode("latin-1"))
                writer.write(data)
                await writer.drain()
        with contextlib.suppress(ConnectionError, OSError, RuntimeError):
            writer.close()

    def drop(self) -> None:
        for w in list(self._writers):
            w.transport.abort()

    async def close(self) -> None:
        self.drop()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        await asyncio.gather(*self._tasks, return_exceptions=True)


@contextlib.asynccontextmanager
async def running(settings: Settings) -> AsyncIterator[tuple[str, web.Application]]:
    app = make_app(settings, clock=ManualClock().clock, translator=PrefixTranslator(("ar", "fr")),
                   recognizer_factory=silent_factory)
    async with serve(app) as url:
        yield url, app


def runtime(app: web.Application) -> SessionRuntime:
    return app[SESSIONS].get("main")


async def say(url: str, text: str) -> dict[str, Any]:
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{url}/api/sessions/main/captions", json={"text": text}, headers=bearer(CHAIR)) as r:
            assert r.status == 201, await r.text()
            return await r.json()  # type: ignore[no-any-return]


TEXTS = "JSON.stringify(Array.from(document.querySelectorAll('#captions .cap .text')).map(e => e.textContent))"


async def shown(page: Page) -> list[str]:
    import json
    return json.loads(await page.evaluate(TEXTS))  # type: ignore[no-any-return]


async def test_delegate_shows_captions_partials_and_resumes_exactly_once(
        chromium: Chromium, settings: Settings, tmp_path: Path) -> None:
    shots = screenshot_dir(tmp_path)
    async with running(settings) as (url, app), connect(chromium) as tools:
        await say(url, "Good morning, everyone.")
        proxy = DroppingProxy(int(url.rsplit(":", 1)[1]))
        port = await proxy.start()
        try:
            page = await tools.new_page(PHONE, mobile=True)
            await page.goto(f"http://127.0.0.1:{port}/s/main")
            await page.wait_for("document.querySelectorAll('#captions .cap').length === 1")
            assert await page.text("#title") == "Main hall"
            await say(url, "Welcome to the plenary.")
            await page.wait_for("document.querySelectorAll('#captions .cap').length === 2")

            rt = runtime(app)
            rt.open_audio()
            rt.push_audio(np.zeros(1600, dtype=np.float32))  # the first audio: the session is live
            await page.wait_for("document.querySelector('#conn').dataset.state === 'live'")
            rt.recognized(PartialCaption(9000, 9900, "and now a word from"))
            await page.wait_for("document.querySelector('#partial').textContent === 'and now a word from'")
            assert await page.evaluate("getComputedStyle(document.querySelector('#partial')).display") != "none"
            rt.recognized(LagReport(6400))
            assert "6 s behind" in await page.wait_for(
                "!document.querySelector('#lag').hidden && document.querySelector('#lag').textContent")
            await page.screenshot(shots / "delegate-live-360x640.png")

            proxy.drop()  # the connection dies; these two are said while the reader is away
            await page.wait_for("document.querySelector('#conn').dataset.state === 'reconnecting'")
            # screen readers hear "Reconnecting" once, not the visible countdown
            assert await page.text("#conn-sr") == "Reconnecting"
            assert await page.evaluate("document.querySelector('#conn').getAttribute('aria-hidden')") == "true"
            await say(url, "Missed line one.")
            await say(url, "Missed line two.")
            await page.wait_for("document.querySelectorAll('#captions .cap').length === 4", timeout=20)
            await say(url, "Back live.")
            await page.wait_for("document.querySelectorAll('#captions .cap').length === 5")
            await say(url, "Sentinel.")  # a duplicate would arrive before it
            await page.wait_for("document.querySelectorAll('#captions .cap').length >= 6")
            assert await shown(page) == ["Good morning, everyone.", "Welcome to the plenary.", "Missed line one.",
                                         "Missed line two.", "Back live.", "Sentinel."]
            resumed = [r for r in proxy.requests if r.startswith("GET /ws/captions/main")]
            assert len(resumed) == 2 and "since=0" in resumed[0] and "since=2" in resumed[1], resumed
            assert page.errors == []
        finally:
            await proxy.close()


async def test_delegate_switches_language_rtl_source_text_and_preferences(
        chromium: Chromium, settings: Settings, tmp_path: Path) -> None:
    shots = screenshot_dir(tmp_path)
    async with running(settings) as (url, app), connect(chromium) as tools:
        await say(url, "The harbour was rebuilt.")
        await say(url, "Hamburg did it first.")
        page = await tools.new_page(DESKTOP)
        await page.goto(f"{url}/s/main?lang=xx")  # not offered: falls back to the spoken language, says so
        await page.wait_for("document.querySelector('#lang').value === 'en' && "
                            "document.querySelectorAll('#captions .cap').length === 2")
        assert await page.text("#notice") == "This session has no captions in xx; showing English."
        options = await page.evaluate("Array.from(document.querySelector('#lang').options).map(o => o.textContent)")
        assert options == ["English", "Arabic (العربية)", "French (Français)"]  # named in the interface language too

        await page.evaluate("(function(){var s=document.querySelector('#lang');s.value='fr';"
                            "s.dispatchEvent(new Event('change'));})()")
        await page.wait_for("document.querySelectorAll('#captions .cap').length === 2", timeout=10)
        assert await shown(page) == ["[fr] The harbour was rebuilt.", "Hamburg did it first."]
        assert "?lang=fr" in await page.evaluate("location.search")
        assert not await page.evaluate("document.querySelector('#mt-banner').hidden")
        fallback = await page.text("#captions .cap:nth-child(2)")
        assert "original" in fallback
        await page.click("#captions .cap[data-has-source]")  # a tap shows the spoken text
        assert await page.wait_for("document.querySelector('#captions .cap .source') && "
                                   "document.querySelector('#captions .cap .source').textContent") \
            == "Original (English)The harbour was rebuilt."
        await say(url, "And a live one.")
        await page.wait_for("document.querySelectorAll('#captions .cap').length === 3")
        assert (await shown(page))[-1] == "[fr] And a live one."
        await page.screenshot(shots / "delegate-fr-1280x800.png")

        await page.evaluate("(function(){var s=document.querySelector('#lang');s.value='ar';"
                            "s.dispatchEvent(new Event('change'));})()")
        await page.wait_for("document.querySelectorAll('#captions .cap').length === 3", timeout=10)
        assert await page.evaluate("document.querySelector('#captions').getAttribute('dir')") == "rtl"
        assert (await shown(page))[0] == "[ar] The harbour was rebuilt."

        # A+ twice, dark theme, stable mode: remembered after a reload.
        await page.click("#larger")
        await page.click("#larger")
        await page.click("#settings-btn")
        await page.click("[data-theme-choice=dark]")
        await page.click("[data-mode-choice=stable]")
        await page.goto(f"{url}/s/main")
        await page.wait_for("document.querySelectorAll('#captions .cap').length === 3")
        assert await page.evaluate("document.documentElement.dataset.theme") == "dark"
        assert await page.evaluate("getComputedStyle(document.querySelector('#captions')).fontSize") == "32px"
        assert await page.evaluate("document.body.classList.contains('stable')")
        assert await page.evaluate("document.querySelector('#lang').value") == "ar"  # the reader's choice stays
        await page.screenshot(shots / "delegate-ar-dark-1280x800.png")
        assert page.errors == []


async def test_delegate_scrolling_pauses_and_jump_to_live(
        chromium: Chromium, settings: Settings, tmp_path: Path) -> None:
    async with running(settings) as (url, app), connect(chromium) as tools:
        for i in range(25):
            await say(url, f"Sentence number {i} of a long morning session.")
        page = await tools.new_page(PHONE, mobile=True)
        await page.goto(f"{url}/s/main")
        await page.wait_for("document.querySelectorAll('#captions .cap').length === 25")
        at_bottom = "(function(){var s=document.querySelector('#scroller');" \
                    "return s.scrollHeight - s.scrollTop - s.clientHeight < 48;})()"
        await page.wait_for(at_bottom)
        assert await page.evaluate("document.querySelector('#jump').hidden")
        await page.evaluate("document.querySelector('#scroller').scrollTop = 0")
        await page.wait_for("!document.querySelector('#jump').hidden")
        await say(url, "Said while reading back.")
        await page.wait_for("document.querySelectorAll('#captions .cap').length === 26")
        assert await page.evaluate("document.querySelector('#scroller').scrollTop") == 0  # not yanked down
        await page.screenshot(screenshot_dir(tmp_path) / "delegate-scrolled-360x640.png")
        await page.click("#jump")
        await page.wait_for(at_bottom)
        assert await page.evaluate("document.querySelector('#jump').hidden")
        assert page.errors == []


async def test_private_session_page_reads_with_the_key_from_its_link(chromium: Chromium, settings: Settings) -> None:
    async with running(settings) as (url, app):
        async with aiohttp.ClientSession() as http:
            r = await http.patch(f"{url}/api/sessions/main", json={"public": False, "key": "hall-key-1234"},
                                 headers=bearer(CHAIR))
            assert r.status == 200, await r.text()
            r = await http.get(f"{url}/api/sessions/main/transcript.txt")
            assert r.status == 401
        await say(url, "Only for invited delegates.")
        async with connect(chromium) as tools:
            page = await tools.new_page(PHONE, mobile=True)
            await page.goto(f"{url}/s/main?key=hall-key-1234")
            await page.wait_for("document.querySelectorAll('#captions .cap').length === 1")
            assert await shown(page) == ["Only for invited delegates."]
            href = await page.evaluate("document.querySelector('#downloads [data-fmt=\"txt\"]').href")
            assert "key=hall-key-1234" in href
            async with aiohttp.ClientSession() as http:
                async with http.get(href) as r:
                    assert r.status == 200 and "Only for invited delegates." in await r.text()
            assert page.errors == []


async def test_agreed_words_of_the_partial_show_settled(chromium: Chromium, settings: Settings) -> None:
    async with running(settings) as (url, app):
        async with connect(chromium) as tools:
            page = await tools.new_page(PHONE, mobile=True)
            await page.goto(f"{url}/s/main")
            await page.wait_for("document.querySelector('#conn').dataset.state !== 'connecting'")
            runtime(app).recognized(PartialCaption(0, 1500, "ask not what your country", stable_text="ask not what"))
            await page.wait_for("document.querySelector('#partial .settled') !== null")
            assert await page.text("#partial .settled") == "ask not what"
            assert await page.text("#partial") == "ask not what your country"
            settled = await page.evaluate("getComputedStyle(document.querySelector('#partial .settled')).color")
            tail = await page.evaluate("getComputedStyle(document.querySelector('#partial')).color")
            assert settled != tail  # agreed words look final, the tail stays grey
            assert page.errors == []


CARD = "(function(){var c=document.querySelector('#session-state .state-card');return c?c.dataset.card:'';})()"


async def control(url: str, action: str) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{url}/api/sessions/main/control", json={"action": action},
                             headers=bearer(CHAIR)) as r:
            assert r.status == 200, await r.text()


async def test_delegate_shows_waiting_paused_and_ended_calmly(
        chromium: Chromium, settings: Settings, tmp_path: Path) -> None:
    shots = screenshot_dir(tmp_path)
    async with running(settings) as (url, app), connect(chromium) as tools:
        page = await tools.new_page(PHONE, mobile=True)
        await page.goto(f"{url}/s/main")
        await page.wait_for(f"{CARD} === 'waiting'")  # idle, nothing said yet
        assert "Waiting for the session to start" in await page.text("#session-state")
        await page.screenshot(shots / "delegate-waiting-360x640.png")
        await say(url, "Good morning, everyone.")
        await page.wait_for(f"{CARD} === ''")  # something was said: no longer "waiting to start"

        rt = runtime(app)
        rt.open_audio()
        rt.push_audio(np.zeros(1600, dtype=np.float32))  # the first audio: the session is live
        rt.recognized(LagReport(6400))
        await page.wait_for("!document.querySelector('#lag').hidden")
        await say(url, "We begin with the budget.")
        await control(url, "pause")
        await page.wait_for(f"{CARD} === 'paused'")
        assert "Session paused" in await page.text("#session-state")
        assert await page.evaluate("document.querySelector('#lag').hidden")  # no lag while not live
        assert await page.text("#conn") == "Paused"
        # The card sits in a polite live region and is read out once: a reconnect (same state again)
        # leaves the very same node in place, so nothing flickers and nothing is repeated.
        assert await page.evaluate("document.querySelector('#session-state').getAttribute('aria-live')") == "polite"
        await page.evaluate("window.shownCard = document.querySelector('#session-state .state-card'); "
                            "window.captionsDebug.socket.restart()")
        await page.wait_for("window.captionsDebug.state.conn === 'open' && window.captionsDebug.state.live === false")
        assert await page.evaluate("document.querySelector('#session-state .state-card') === window.shownCard")
        await page.screenshot(shots / "delegate-paused-360x640.png")
        await page.evaluate("document.documentElement.setAttribute('data-theme', 'dark')")
        await page.screenshot(shots / "delegate-paused-dark-360x640.png")
        await page.evaluate("document.documentElement.removeAttribute('data-theme')")

        await control(url, "resume")
        await page.wait_for(f"{CARD} === '' && !document.querySelector('#lag').hidden")
        assert await page.evaluate("document.querySelector('#session-state').textContent") == ""
        await control(url, "pause")
        await page.wait_for(f"{CARD} === 'paused'")
        await control(url, "end")  # pause -> end: the reader is told
        await page.wait_for(f"{CARD} === 'ended'")
        assert "This session has ended" in await page.text("#session-state")
        link = "document.querySelector('#session-state a.button.primary')"
        assert await page.evaluate(f"{link}.textContent") == "Download the transcript"
        href = await page.evaluate(f"{link}.href")
        assert "/api/sessions/main/transcript.txt?lang=en" in href
        async with aiohttp.ClientSession() as http:
            async with http.get(href) as r:
                assert r.status == 200 and "We begin with the budget." in await r.text()
        assert await page.evaluate("document.querySelector('#lag').hidden")
        await page.screenshot(shots / "delegate-ended-360x640.png")
        await page.evaluate("document.documentElement.setAttribute('data-theme', 'dark')")
        await page.screenshot(shots / "delegate-ended-dark-360x640.png")

        wide = await tools.new_page(DESKTOP)
        await wide.goto(f"{url}/s/main?lang=fr")  # a translation reader joining late is told at once
        await wide.wait_for(f"{CARD} === 'ended'")
        assert "lang=fr" in await wide.evaluate(f"{link}.href")
        await wide.screenshot(shots / "delegate-ended-1280x800.png")
        assert page.errors == [] and wide.errors == []
