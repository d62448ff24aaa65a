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

from assistant.asr.types import FinalCaption, LagReport, PartialCaption
from assistant.config import Settings
from assistant.server.app import make_app
from assistant.server.keys import SESSIONS
from assistant.server.runtime import SessionRuntime
from tests.helpers.recognizers import go_live, silent_factory
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

    async def prepare(self, source: str, target: str) -> None:
        """No model to load."""

    def available_targets(self, source_lang: str) -> tuple[str, ...]:
        return self.targets

    def edition(self, source: str, target: str) -> str:
        return f"{source}-{target} 1"


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
    room = app[SESSIONS].get("main")
    assert isinstance(room, SessionRuntime)  # make_app serves its rooms in-process
    return room


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


async def test_a_long_title_takes_one_line_on_a_phone_until_tapped_and_reads_from_its_start(
        chromium: Chromium, settings: Settings) -> None:
    title = "Opening keynote: Sustainable development goals and multilateral cooperation in the least developed regions"
    async with running(settings) as (url, app), connect(chromium) as tools:
        async with aiohttp.ClientSession() as http:
            async with http.patch(f"{url}/api/sessions/main", json={"title": title}, headers=bearer(CHAIR)) as r:
                assert r.status == 200
        lines = "(function(){var e=document.querySelector('#title');" \
                "return Math.round(e.clientHeight / parseFloat(getComputedStyle(e).lineHeight));})()"
        page = await tools.new_page(PHONE, mobile=True)
        await page.goto(f"{url}/s/main?ui=ar")  # an English title in a right-to-left interface
        await page.wait_for(f"document.querySelector('#title').textContent === {title!r}")
        assert await page.evaluate(lines) == 1
        assert await page.evaluate("getComputedStyle(document.querySelector('#title')).direction") == "ltr"
        await page.click("#title")  # a tap shows it whole
        await page.wait_for(f"{lines} > 2")
        await page.click("#title")
        await page.wait_for(f"{lines} === 1")
        desk = await tools.new_page(DESKTOP)
        await desk.goto(f"{url}/s/main")
        await desk.wait_for(f"document.querySelector('#title').title === {title!r}")  # whole, in its tooltip
        assert await desk.evaluate(lines) == 2
        assert page.errors == [] and desk.errors == []


async def test_every_control_is_a_finger_wide_on_a_touch_screen(chromium: Chromium, settings: Settings) -> None:
    async with running(settings) as (url, app), connect(chromium) as tools:
        await say(url, "Good morning.")
        page = await tools.new_page(PHONE, mobile=True)
        await page.call("Emulation.setTouchEmulationEnabled", {"enabled": True, "maxTouchPoints": 5})
        await page.goto(f"{url}/s/main")
        await page.wait_for("document.querySelectorAll('#captions .cap').length === 1")
        await page.click("#settings-btn")
        small = await page.evaluate(
            "Array.from(document.querySelectorAll('button, a.button, select')).filter(function (e) {"
            "  var r = e.getBoundingClientRect(); return r.width > 0 && !e.closest('[hidden]') && !e.matches('.orig')"
            "    && r.height < 44; }).map(function (e) { return e.id || e.className || e.textContent; })")
        assert small == []  # "tap for the original" is small on purpose: its whole line answers a tap


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
        fallback = await page.text("#captions .block:nth-child(2) .cap")
        assert "original" in fallback
        assert await page.evaluate("document.querySelector('#captions .cap .orig').getAttribute('aria-expanded')") \
            == "false"
        await page.click("#captions .cap[data-has-source]")  # a tap shows the spoken text
        assert await page.wait_for("!document.querySelector('#captions .cap .source').hidden && "
                                   "document.querySelector('#captions .cap .source').textContent") \
            == "Original (English)The harbour was rebuilt."
        assert await page.evaluate("document.querySelector('#captions .cap .orig').getAttribute('aria-expanded')") \
            == "true"
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


DOT = "getComputedStyle(document.querySelector('#conn'), '::before').backgroundColor"
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
        paused_dot = await page.evaluate(DOT)
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
        # "Ended" has a colour of its own: not paused amber, not the red of an error.
        assert await page.text("#conn") == "Ended"
        assert await page.evaluate("document.querySelector('#conn').dataset.state") == "ended"
        ended_dot, bad = await page.evaluate(f"[{DOT}, getComputedStyle(document.documentElement)"
                                             ".getPropertyValue('--bad').trim()]")
        assert ended_dot != paused_dot and ended_dot != await page.evaluate(
            f"(function(){{var e=document.createElement('i');e.style.color='{bad}';document.body.appendChild(e);"
            f"var c=getComputedStyle(e).color;e.remove();return c;}})()")
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


# -- reading: the lag of one's own language, translated partials, fragments, paragraphs, the keyboard -------------

class GatedTranslator(PrefixTranslator):
    """``PrefixTranslator`` whose texts listed in ``gates`` wait for their event first."""

    def __init__(self, targets: tuple[str, ...]) -> None:
        super().__init__(targets)
        self.gates: dict[str, asyncio.Event] = {}

    async def translate(self, text: str, source: str, target: str, glossary: tuple[str, ...] = ()) -> Translated:
        gate = self.gates.get(text)
        if gate is not None:
            await gate.wait()
        return await super().translate(text, source, target, glossary)


@contextlib.asynccontextmanager
async def running_with(settings: Settings, clock: ManualClock,
                       translator: PrefixTranslator) -> AsyncIterator[tuple[str, web.Application]]:
    app = make_app(settings, clock=clock.clock, translator=translator, recognizer_factory=silent_factory)
    async with serve(app) as url:
        yield url, app


def final(start_ms: int, end_ms: int, text: str) -> FinalCaption:
    return FinalCaption(start_ms, end_ms, text, (), "en")


BLOCKS = "JSON.stringify(Array.from(document.querySelectorAll('#captions .block')).map(b => " \
         "Array.from(b.querySelectorAll('.cap .text')).map(e => e.textContent)))"


async def blocks(page: Page) -> list[list[str]]:
    import json
    return json.loads(await page.evaluate(BLOCKS))  # type: ignore[no-any-return]


async def test_the_lag_banner_tells_each_reader_about_their_own_language(
        chromium: Chromium, settings: Settings, tmp_path: Path) -> None:
    shots = screenshot_dir(tmp_path)
    clock, translator = ManualClock(), GatedTranslator(("fr",))
    async with running_with(settings, clock, translator) as (url, app), connect(chromium) as tools:
        spoken = await tools.new_page(PHONE, mobile=True)
        await spoken.goto(f"{url}/s/main")
        french = await tools.new_page(PHONE, mobile=True)
        await french.goto(f"{url}/s/main?lang=fr")
        for page in (spoken, french):
            await page.wait_for("window.captionsDebug && window.captionsDebug.state.conn === 'open'")
        rt = runtime(app)
        go_live(rt, lag_ms=6000)  # six seconds is late for the spoken language, not yet for a translation
        assert await spoken.wait_for("!document.querySelector('#lag').hidden && "
                                     "document.querySelector('#lag').textContent") == "Captions are 6 s behind"
        await french.wait_for("window.captionsDebug.state.live && window.captionsDebug.state.lagMs === 6000")
        assert await french.evaluate("document.querySelector('#lag').hidden")

        # A translation that takes three seconds: French readers are nine seconds behind, and told why.
        gate = translator.gates["Slow to translate."] = asyncio.Event()
        await say(url, "Slow to translate.")
        clock.ms += 3000
        gate.set()
        assert await french.wait_for("!document.querySelector('#lag').hidden && "
                                     "document.querySelector('#lag').textContent") \
            == "Captions are 9 s behind, 3 s of it for translation"
        assert await french.evaluate("window.captionsDebug.state.translationMs") == 3000
        assert await spoken.text("#lag") == "Captions are 6 s behind"  # the spoken language is not slowed
        await french.screenshot(shots / "delegate-lag-fr-360x640.png")
        rt.recognized(LagReport(4500))  # 7.5 s in French: under its threshold; 4.5 s in English: over
        await french.wait_for("document.querySelector('#lag').hidden")
        assert await spoken.wait_for("document.querySelector('#lag').textContent === 'Captions are 5 s behind'")
        assert spoken.errors == [] and french.errors == []


async def test_a_translated_partial_is_grey_and_shows_its_original_on_a_tap(
        chromium: Chromium, settings: Settings, tmp_path: Path) -> None:
    async with running(settings) as (url, app), connect(chromium) as tools:
        await say(url, "The harbour was rebuilt.")
        page = await tools.new_page(PHONE, mobile=True)
        await page.goto(f"{url}/s/main?lang=fr")
        await page.wait_for("document.querySelectorAll('#captions .cap').length === 1 && "
                            "window.captionsDebug.state.conn === 'open'")
        rt = runtime(app)
        go_live(rt)
        rt.recognized(PartialCaption(9000, 9900, "ask not what your country", stable_text="ask not what"))
        await page.wait_for("document.querySelector('#partial').textContent.startsWith('[fr] ask not what')")
        # Nothing of a translated partial is settled: all of it may still change, so all of it is grey.
        assert await page.evaluate("document.querySelector('#partial .settled')") is None
        grey, ink = await page.evaluate(
            "[getComputedStyle(document.querySelector('#partial')).color, "
            "getComputedStyle(document.querySelector('#captions .cap .text')).color]")
        assert grey != ink
        button = "document.querySelector('#partial button.orig')"
        assert await page.evaluate(f"{button}.getAttribute('aria-expanded')") == "false"
        assert await page.evaluate("document.querySelector('#partial .source').hidden")
        await page.click("#partial")
        await page.wait_for("!document.querySelector('#partial .source').hidden")
        assert await page.text("#partial .source") == "Original (English)\nask not what"
        assert await page.evaluate(f"{button}.getAttribute('aria-expanded')") == "true"
        assert await page.text("#mt-banner") == "Machine translated from English"  # the tip is known now
        await page.screenshot(screenshot_dir(tmp_path) / "delegate-fr-partial-360x640.png")
        # The final translation arrives and the partial is cleared.
        rt.recognized(final(9000, 11000, "ask not what your country can do for you."))
        await page.wait_for("document.querySelectorAll('#captions .cap').length === 2 && "
                            "document.querySelector('#partial').textContent === ''")
        assert page.errors == []


BANNER = "document.querySelector('#mt-banner')"
TIP_RU = "Машинный перевод, оригинал: английский · нажмите на строку, чтобы увидеть его"
FROM_RU = "Машинный перевод, оригинал: английский"


async def test_the_machine_translation_tip_gives_its_lines_back_once_the_reader_knows_it(
        chromium: Chromium, settings: Settings, tmp_path: Path) -> None:
    shots = screenshot_dir(tmp_path)
    async with running(settings) as (url, app), connect(chromium) as tools:
        for i in range(20):  # the first French reader's back-log: translated at once, it counts once
            await say(url, f"Line {i} of the talk, said before anyone read it in French.")
        page = await tools.new_page((320, 568), mobile=True)
        await page.goto(f"{url}/s/main?lang=fr&ui=ru")
        await page.wait_for("document.querySelectorAll('#captions .cap').length === 20 && "
                            "window.captionsDebug.state.conn === 'open'")
        go_live(runtime(app))
        assert await page.text("#mt-banner") == TIP_RU  # three lines on a small phone
        tall = await page.evaluate(f"[{BANNER}.getBoundingClientRect().height, "
                                   "document.querySelector('.bar').getBoundingClientRect().height]")
        await page.screenshot(shots / "delegate-tip-ru-320x568.png")

        for i in range(10):  # ten lines at once count once too
            await say(url, f"A burst {i}.")
        await page.wait_for("document.querySelectorAll('#captions .cap').length === 30")
        assert await page.text("#mt-banner") == TIP_RU
        for said in range(1, 11):  # lines a reader has time to read: the eighth one takes the tip away
            await asyncio.sleep(1.1)
            await say(url, f"A line the reader reads, number {said}.")
            await page.wait_for(f"document.querySelectorAll('#captions .cap').length === {30 + said}")
            if await page.text("#mt-banner") == FROM_RU:
                break
        assert said in (6, 7), said  # the eighth counted line: the burst's first and the back-log's may count
        short = await page.evaluate(f"[{BANNER}.getBoundingClientRect().height, "
                                    "document.querySelector('.bar').getBoundingClientRect().height]")
        assert short[0] < tall[0] and tall[1] - short[1] == tall[0] - short[0] >= 18, (tall, short)  # a line back
        await page.screenshot(shots / "delegate-tip-taken-ru-320x568.png")
        await page.goto(f"{url}/s/main?lang=fr&ui=ru")  # remembered on this device
        await page.wait_for(f"{BANNER}.textContent")
        assert await page.text("#mt-banner") == FROM_RU

        # A reader who taps a line for its original knows the tip: it goes at once.
        await page.evaluate("localStorage.removeItem('cc.tap-tip')")
        await page.goto(f"{url}/s/main?lang=fr&ui=ru")
        await page.wait_for(f"{BANNER}.textContent && document.querySelectorAll('#captions .cap').length === {30 + said}")
        assert await page.text("#mt-banner") == TIP_RU
        await page.click("#captions .cap[data-has-source]")
        await page.wait_for("!document.querySelector('#captions .cap .source').hidden")
        assert await page.text("#mt-banner") == FROM_RU
        assert page.errors == []


FAST_DE = "Schnell zeigt Wörter, sobald sie gehört werden (grau), bevor sie feststehen."
OFF_DE = ("Auf Deutsch erscheinen gerade nur fertige Zeilen: Text im Entstehen wird zuerst für die Sprachen mit den "
          "meisten Lesern übersetzt.")


async def test_a_reader_whose_language_gets_no_text_in_progress_is_told_why_in_the_settings(
        chromium: Chromium, settings: Settings, tmp_path: Path) -> None:
    app = make_app(settings, clock=ManualClock().clock, translator=PrefixTranslator(("de", "es", "fr", "ja", "ru")),
                   recognizer_factory=silent_factory)
    hint = "document.querySelector('#mode-hint').textContent"
    why = "(function(){var p=document.querySelector('#partials-hint');return p.hidden ? '' : p.textContent;})()"
    async with serve(app) as url, connect(chromium) as tools, aiohttp.ClientSession() as http:
        page = await tools.new_page(PHONE, mobile=True)
        await page.goto(f"{url}/s/main?lang=de&ui=de")
        await page.wait_for("window.captionsDebug && window.captionsDebug.state.conn === 'open'")
        await page.click("#settings-btn")
        assert (await page.evaluate(hint), await page.evaluate(why)) == (FAST_DE, "")
        # Three languages with two readers each, and Russian with three, which takes German's text in progress.
        others = {lang: [await http.ws_connect(f"{url}/ws/captions/main?lang={lang}") for _ in range(n)]
                  for lang, n in (("es", 2), ("fr", 2), ("ja", 2), ("ru", 3))}
        assert await page.wait_for(why) == OFF_DE
        assert await page.evaluate(hint) == FAST_DE
        await page.screenshot(screenshot_dir(tmp_path) / "delegate-partials-off-de-360x640.png")
        await page.click("[data-mode-choice=stable]")  # nothing in progress to miss in Stable
        assert await page.evaluate(hint) == "Ruhig zeigt nur fertige Zeilen: Beim Lesen ändert sich nichts."
        assert await page.evaluate(why) == ""
        await page.click("[data-mode-choice=fast]")
        assert await page.evaluate(why) == OFF_DE
        for ws in others["ru"]:  # the Russian readers leave: German is among the four again
            await ws.close()
        await page.wait_for("document.querySelector('#partials-hint').hidden")
        assert (await page.evaluate(hint), await page.evaluate(why)) == (FAST_DE, "")
        for sockets in others.values():
            for ws in sockets:
                await ws.close()
        assert page.errors == []


async def test_a_fragment_is_shown_after_the_line_whose_sentence_it_ends(
        chromium: Chromium, settings: Settings, tmp_path: Path) -> None:
    async with running(settings) as (url, app), connect(chromium) as tools:
        page = await tools.new_page(PHONE, mobile=True)
        await page.goto(f"{url}/s/main")
        await page.wait_for("window.captionsDebug && window.captionsDebug.state.conn === 'open'")
        rt = runtime(app)
        go_live(rt)
        rt.recognized(final(0, 2500, "Good morning and welcome to the plenary."))
        rt.recognized(final(2600, 5200, "The report will be read as it was"))
        rt.recognized(final(5200, 5700, "spoken."))
        rt.recognized(final(6000, 6400, "Thank you."))  # short, but a sentence of its own
        await page.wait_for("document.querySelectorAll('#captions .cap').length === 4")
        assert await blocks(page) == [["Good morning and welcome to the plenary."],
                                      ["The report will be read as it was", "spoken."], ["Thank you."]]
        assert await page.text("#captions .block:nth-child(2)") == "The report will be read as it was spoken."
        await page.screenshot(screenshot_dir(tmp_path) / "delegate-fragment-360x640.png")

        # Display only: the joined caption is still found by its id when corrected.
        joined = await page.evaluate("window.captionsDebug.log.lines[2].id")
        async with aiohttp.ClientSession() as http:
            async with http.patch(f"{url}/api/sessions/main/captions/{joined}", headers=bearer(CHAIR),
                                  json={"text": "spoken. We will now take questions from the floor."}) as r:
                assert r.status == 200, await r.text()
        await page.wait_for("document.querySelector('#captions .cap.corrected')")
        assert await blocks(page) == [["Good morning and welcome to the plenary."],
                                      ["The report will be read as it was"],
                                      ["spoken. We will now take questions from the floor."], ["Thank you."]]
        assert page.errors == []


async def test_read_as_paragraphs_flows_captions_and_is_remembered(
        chromium: Chromium, settings: Settings, tmp_path: Path) -> None:
    shots = screenshot_dir(tmp_path)
    async with running(settings) as (url, app), connect(chromium) as tools:
        page = await tools.new_page(PHONE, mobile=True)
        await page.goto(f"{url}/s/main")
        await page.wait_for("window.captionsDebug && window.captionsDebug.state.conn === 'open'")
        rt = runtime(app)
        go_live(rt)
        said = [(0, 2000, "We open the session."), (2100, 4000, "The agenda is adopted."),
                (4100, 6000, "Item one is the budget,"), (6000, 8000, "which the committee approved."),
                (8100, 9000, "Any comments?"), (9100, 10000, "None."),  # the fourth sentence closes the paragraph
                (10100, 12000, "Item two is the report."),
                (16000, 18000, "After a pause, the floor is given to Norway.")]  # four seconds of silence
        for start, end, text in said:
            rt.recognized(final(start, end, text))
        await page.wait_for(f"document.querySelectorAll('#captions .cap').length === {len(said)}")
        assert len(await blocks(page)) == len(said)  # as lines: no fragment among them

        await page.click("#settings-btn")
        await page.click("#paragraphs")
        await page.wait_for("document.body.classList.contains('paragraphs')")
        assert await blocks(page) == [
            ["We open the session.", "The agenda is adopted.", "Item one is the budget,",
             "which the committee approved.", "Any comments?"],
            ["None.", "Item two is the report."],
            ["After a pause, the floor is given to Norway."]]
        await page.click("#settings-btn")
        await page.screenshot(shots / "delegate-paragraphs-360x640.png")

        rt.recognized(final(18100, 19000, "Thank you, Chair."))  # a live caption goes on in the last paragraph
        await page.wait_for(f"document.querySelectorAll('#captions .cap').length === {len(said) + 1}")
        assert (await blocks(page))[-1] == ["After a pause, the floor is given to Norway.", "Thank you, Chair."]

        await page.goto(f"{url}/s/main")  # remembered
        await page.wait_for(f"document.querySelectorAll('#captions .cap').length === {len(said) + 1}")
        assert await page.evaluate("document.querySelector('#paragraphs').checked")
        assert len(await blocks(page)) == 3
        await page.evaluate("document.documentElement.setAttribute('data-theme', 'dark')")
        await page.screenshot(shots / "delegate-paragraphs-dark-360x640.png")
        assert page.errors == []


TAB = {"type": "keyDown", "key": "Tab", "code": "Tab", "windowsVirtualKeyCode": 9}
FOCUSED = "(function(){var e=document.activeElement;if(!e||e===document.body)return 'body';" \
          "return (e.closest('#captions')?'captions:':'')+e.tagName.toLowerCase()+(e.id?'#'+e.id:'')+" \
          "(e.className?'.'+e.className:'');})()"


async def press(page: Page, key: str, code: int) -> None:
    await page.call("Input.dispatchKeyEvent", {"type": "keyDown", "key": key, "code": key,
                                               "windowsVirtualKeyCode": code})
    await page.call("Input.dispatchKeyEvent", {"type": "keyUp", "key": key, "code": key,
                                               "windowsVirtualKeyCode": code})


async def test_the_captions_are_one_tab_stop_and_the_original_is_a_button(
        chromium: Chromium, settings: Settings, tmp_path: Path) -> None:
    async with running(settings) as (url, app), connect(chromium) as tools:
        for i in range(6):
            await say(url, f"Sentence number {i} of the morning.")
        page = await tools.new_page(DESKTOP)
        await page.goto(f"{url}/s/main?lang=fr")
        await page.wait_for("document.querySelectorAll('#captions .cap').length === 6")
        assert await page.evaluate("document.querySelectorAll('#captions [tabindex=\"0\"]').length") == 1
        stops = []
        for _ in range(30):
            await press(page, "Tab", 9)
            stops.append(await page.evaluate(FOCUSED))
            if len(stops) > 1 and stops[-1] == stops[0]:
                break
        in_captions = [s for s in stops if s.startswith("captions:")]
        assert in_captions == ["captions:button.orig"], stops  # one stop among six translated lines
        assert "main#scroller.scroller" in stops  # the region itself, to scroll with the keys
        while await page.evaluate(FOCUSED) != "captions:button.orig":
            await press(page, "Tab", 9)
        newest = "window.captionsDebug.log.lines[5].id"
        assert await page.evaluate(f"document.activeElement.closest('.cap').dataset.id === {newest}")
        await press(page, "ArrowUp", 38)
        await press(page, "ArrowUp", 38)
        assert await page.evaluate("document.activeElement.closest('.cap').dataset.id === "
                                   "window.captionsDebug.log.lines[3].id")
        await page.call("Input.dispatchKeyEvent", {"type": "keyDown", "key": "Enter", "code": "Enter",
                                                   "windowsVirtualKeyCode": 13, "text": "\r"})
        await page.call("Input.dispatchKeyEvent", {"type": "keyUp", "key": "Enter", "code": "Enter",
                                                   "windowsVirtualKeyCode": 13})
        await page.wait_for("document.activeElement.getAttribute('aria-expanded') === 'true'")
        box = "document.getElementById(document.activeElement.getAttribute('aria-controls'))"
        assert await page.evaluate(f"!{box}.hidden && {box}.textContent") == \
            "Original (English)Sentence number 3 of the morning."
        assert await page.evaluate("document.activeElement.tagName") == "BUTTON"
        assert await page.evaluate("document.activeElement.getAttribute('aria-label')") == "Show the original"
        await page.screenshot(screenshot_dir(tmp_path) / "delegate-keyboard-1280x800.png")
        assert page.errors == []
