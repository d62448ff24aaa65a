"""The chair console in headless Chromium: token handling, the microphone level, corrections reaching readers."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import numpy as np
import pytest
from aiohttp import web

from assistant.config import Settings
from assistant.server.app import make_app
from assistant.server.context import CONTEXT
from assistant.server.runtime import SessionRuntime
from tests.browser import DESKTOP, PHONE, Chromium, Page, chromium, connect, screenshot_dir, serve
from tests.conftest import CHAIR, ManualClock

__all__ = ["chromium"]

pytestmark = pytest.mark.browser


class CountingRecognizer:
    """Hears audio and says nothing; counts the samples so a test can see audio arrived."""

    def __init__(self) -> None:
        self.samples = 0

    async def run(self, audio: AsyncIterator[np.ndarray], on_event: Callable[[object], None]) -> None:
        async for chunk in audio:
            self.samples += len(chunk)


@contextlib.asynccontextmanager
async def running(settings: Settings) -> AsyncIterator[tuple[str, web.Application, list[CountingRecognizer]]]:
    made: list[CountingRecognizer] = []

    def factory(lang: str | None, glossary: tuple[str, ...]) -> CountingRecognizer:
        made.append(CountingRecognizer())
        return made[-1]

    app = make_app(settings, clock=ManualClock().clock, recognizer_factory=factory)
    async with serve(app) as url:
        yield url, app, made


def runtime(app: web.Application) -> SessionRuntime:
    return app[CONTEXT].runtimes["main"]


async def press_key(page: Page, selector: str, key: str) -> None:
    await page.evaluate(f"document.querySelector({selector!r}).dispatchEvent("
                        f"new KeyboardEvent('keydown', {{key: {key!r}, bubbles: true}}))")


async def test_console_streams_the_microphone_and_corrections_reach_delegates(
        chromium: Chromium, settings: Settings, tmp_path: Path) -> None:
    shots = screenshot_dir(tmp_path)
    async with running(settings) as (url, app, recognizers), connect(chromium) as tools:
        chair = await tools.new_page(DESKTOP)
        await chair.goto(f"{url}/chair/main#token={CHAIR}")
        await chair.wait_for("document.querySelector('#conn').dataset.state === 'live'")
        # The token left the address bar and lives in this tab only.
        assert await chair.evaluate("location.hash") == ""
        assert await chair.evaluate("sessionStorage.getItem('cc.chair.main')") == CHAIR
        assert await chair.text("#session-title") == "Main hall"

        await chair.click("#btn-start")  # this browser's (fake) microphone
        await chair.wait_for("window.chairDebug.mic.ready === true")
        levels = set()
        for _ in range(30):
            levels.add(await chair.evaluate("document.querySelector('#meter').dataset.db"))
            await asyncio.sleep(0.05)
        levels.discard(None)
        assert len(levels) >= 3, levels  # the meter moves
        assert max(float(v) for v in levels) > -50
        await chair.wait_for("document.querySelector('#state').dataset.state === 'live'")
        for _ in range(100):
            if recognizers and recognizers[-1].samples >= 16000:
                break
            await asyncio.sleep(0.05)
        assert recognizers and recognizers[-1].samples >= 16000  # a second of 16 kHz audio reached recognition

        reader = await tools.new_page(PHONE, mobile=True)
        await reader.goto(f"{url}/s/main")
        await reader.wait_for("document.querySelector('#conn').dataset.state === 'live'")
        await chair.wait_for("document.querySelector('#readers [data-lang=en] strong') && "
                             "document.querySelector('#readers [data-lang=en] strong').textContent === '1'")

        # A typed caption goes out to readers.
        await chair.evaluate("document.querySelector('#manual-text').value = 'Welcome to Geneva'")
        await chair.evaluate("document.querySelector('#manual-form').requestSubmit()")
        await reader.wait_for("document.querySelector('#captions .cap .text') && "
                              "document.querySelector('#captions .cap .text').textContent === 'Welcome to Geneva'")
        await chair.wait_for("document.querySelectorAll('#transcript .tline').length === 1")
        assert await chair.evaluate("document.querySelector('#manual-text').value") == ""

        # One click on the line, type, Enter: the delegate's line changes in place and is marked.
        await chair.click("#transcript .tline")
        await chair.wait_for("!!document.querySelector('#transcript .tline input')")
        await chair.evaluate("document.querySelector('#transcript .tline input').value = 'Welcome to Geneva, everyone'")
        await press_key(chair, "#transcript .tline input", "Enter")
        await reader.wait_for("document.querySelector('#captions .cap .text').textContent === "
                              "'Welcome to Geneva, everyone'")
        assert "corrected" in await reader.text("#captions .cap")
        assert await reader.evaluate("document.querySelectorAll('#captions .cap').length") == 1
        await chair.wait_for("!!document.querySelector('#transcript .tline.corrected')")
        # Esc cancels an edit.
        await chair.click("#transcript .tline")
        await chair.evaluate("document.querySelector('#transcript .tline input').value = 'nonsense'")
        await press_key(chair, "#transcript .tline input", "Escape")
        assert await chair.text("#transcript .tline .text") == "Welcome to Geneva, everyone"

        await chair.click("#btn-pause")
        await chair.wait_for("document.querySelector('#state').dataset.state === 'paused'")
        await reader.wait_for("document.querySelector('#conn').textContent === 'Not live'")
        assert runtime(app).state == "paused"
        await chair.click("#btn-resume")
        await chair.wait_for("document.querySelector('#state').dataset.state === 'live'")

        # Title and glossary editors.
        await chair.evaluate("document.querySelector('#title-input').value = 'Opening plenary';"
                             "document.querySelector('#glossary-input').value = 'Geneva\\nUNHCR\\n';"
                             "document.querySelector('#edit-form').requestSubmit()")
        await chair.wait_for("document.querySelector('#session-title').textContent === 'Opening plenary'")
        assert runtime(app).session.glossary == ("Geneva", "UNHCR")
        assert await chair.evaluate("document.querySelector('#qr').naturalWidth") > 200  # the join QR loaded
        assert (await chair.text("#join-url")).endswith("/s/main")
        await chair.screenshot(shots / "chair-1280x800.png")
        await chair.resize(*PHONE, mobile=True)
        await chair.screenshot(shots / "chair-360x640.png")

        await chair.click("#mic-toggle")  # stop the microphone
        await chair.wait_for("document.querySelector('#mic-toggle').textContent === 'Start microphone'")
        await chair.click("#btn-end")
        assert await chair.text("#btn-end") == "Press again to end"
        assert runtime(app).state != "ended"
        await chair.click("#btn-end")
        await chair.wait_for("document.querySelector('#state').dataset.state === 'ended'")
        assert chair.errors == [] and reader.errors == []


async def test_console_with_a_wrong_token_asks_for_the_token(chromium: Chromium, settings: Settings) -> None:
    async with running(settings) as (url, app, _), connect(chromium) as tools:
        page = await tools.new_page(PHONE, mobile=True)
        await page.goto(f"{url}/chair/main#token=not-the-chair-token")
        await page.wait_for("!document.querySelector('#gate').hidden")
        assert "token" in await page.text("#gate-error")
        assert await page.evaluate("document.querySelector('#console').hidden")
        await page.evaluate(f"document.querySelector('#token-input').value = {CHAIR!r};"
                            "document.querySelector('#token-form').requestSubmit()")
        await page.wait_for("document.querySelector('#conn').dataset.state === 'live'")
        assert await page.evaluate("document.querySelector('#gate').hidden")
        # Capture-station mode shows the command, without the token on screen.
        await page.click("input[name=source][value=station]")
        command = await page.text("#station-cmd")
        assert command == f"assistant capture --server {url} --session main" and CHAIR not in command
