"""The chair console in headless Chromium: token handling, the microphone level, corrections reaching readers."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import re
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote

import aiohttp
import pytest
from aiohttp import web

from assistant.asr.types import LagReport
from assistant.config import Settings
from assistant.server.app import make_app
from assistant.server.ingest import IngestStream
from assistant.server.keys import SESSIONS
from assistant.server.runtime import SessionRuntime
from tests.browser import DESKTOP, PHONE, Chromium, DevTools, Page, chromium, connect, screenshot_dir, serve
from tests.conftest import CHAIR, ManualClock
from tests.test_pages_delegate import PrefixTranslator

__all__ = ["chromium"]

pytestmark = pytest.mark.browser


class CountingRecognizer:
    """Hears audio and says nothing; counts the samples so a test can see audio arrived, and when it ended."""

    def __init__(self) -> None:
        self.samples = 0
        self.done = asyncio.Event()
        self.on_event: Callable[[Any], None] | None = None  # a test speaks for the recogniser through it

    async def run(self, audio: AsyncIterator[Any], on_event: Callable[[Any], None]) -> None:
        self.on_event = on_event
        try:
            async for chunk in audio:
                self.samples += len(chunk)
        finally:
            self.done.set()


@contextlib.asynccontextmanager
async def running(settings: Settings, translator: PrefixTranslator | None = None,
                  ) -> AsyncIterator[tuple[str, web.Application, list[CountingRecognizer]]]:
    made: list[CountingRecognizer] = []

    def factory(language: str | None, glossary: tuple[str, ...],
                task: Literal["transcribe", "translate"] = "transcribe") -> CountingRecognizer:
        made.append(CountingRecognizer())
        return made[-1]

    app = make_app(settings, clock=ManualClock().clock, recognizer_factory=factory, translator=translator)
    async with serve(app) as url:
        yield url, app, made


def runtime(app: web.Application) -> SessionRuntime:
    room = app[SESSIONS].get("main")
    assert isinstance(room, SessionRuntime)  # make_app serves its rooms in-process
    return room


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
        await chair.wait_for("document.querySelector('#session-title').textContent === 'Main hall'")

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
        await reader.wait_for("document.querySelector('#conn').textContent === 'Paused'")
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


ROOM_KEY = "Geneva&42!"  # typed by the chair; "&" and "!" must survive the URL and the QR code
ROOM_KEY_QUERY = quote(ROOM_KEY, safe="!~*'()")  # as the page's encodeURIComponent writes it


async def status_of(url: str) -> int:
    """A fresh request, as a delegate's phone makes it: no cookie, no token."""
    async with aiohttp.ClientSession() as http, http.get(url) as resp:
        return resp.status


async def shoot(page: Page, path: Path, *selectors: str) -> Path:
    """A screenshot of the box around ``selectors`` (the whole element, even below the fold)."""
    box = await page.evaluate(
        "(function(sels){var r={x:1e9,y:1e9,r:0,b:0};sels.forEach(function(s){"
        "var b=document.querySelector(s).getBoundingClientRect(),x=b.left+scrollX,y=b.top+scrollY;"
        "r={x:Math.min(r.x,x),y:Math.min(r.y,y),r:Math.max(r.r,x+b.width),b:Math.max(r.b,y+b.height)};});"
        "return r;})(" + json.dumps(list(selectors)) + ")")
    pad = 8
    x, y = max(0, box["x"] - pad), max(0, box["y"] - pad)
    shot = await page.call("Page.captureScreenshot", {
        "format": "png", "captureBeyondViewport": True,
        "clip": {"x": x, "y": y, "width": box["r"] + pad - x, "height": box["b"] + pad - y, "scale": 1}})
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(base64.b64decode(shot["data"]))
    return path


async def fill(page: Page, selector: str, value: str) -> None:
    await page.evaluate(f"(function(){{var e=document.querySelector({json.dumps(selector)});"
                        f"e.value={json.dumps(value)};e.dispatchEvent(new Event('input',{{bubbles:true}}));}})()")


async def qr_loaded(page: Page, selector: str = "#qr") -> bool:
    return bool(await page.wait_for(f"(function(){{var i=document.querySelector({selector!r});"
                                    "return i.complete && i.naturalWidth > 0;})()"))


async def test_chair_makes_the_session_private_and_the_join_panel_carries_the_key(
        chromium: Chromium, settings: Settings, tmp_path: Path) -> None:
    shots = screenshot_dir(tmp_path)
    async with running(settings) as (url, app, _), connect(chromium) as tools:
        chair = await tools.new_page(DESKTOP)
        await chair.goto(f"{url}/chair/main#token={CHAIR}")
        await chair.wait_for("document.querySelector('#access-badge').dataset.access === 'public'")
        assert await chair.evaluate("document.querySelector('input[name=access][value=public]').checked")
        assert await chair.evaluate("document.querySelector('#key-fields').hidden")
        assert (await chair.text("#join-url")).endswith("/s/main")
        assert await status_of(f"{url}/s/main") == 200

        # Generate fills the field with a url-safe key but changes nothing until the chair confirms.
        await chair.click("input[name=access][value=private]")
        assert not await chair.evaluate("document.querySelector('#key-fields').hidden")
        assert await chair.text("#access-apply") == "Make private"
        await chair.click("#key-generate")
        generated = await chair.evaluate("document.querySelector('#key-input').value")
        assert re.fullmatch(r"[2-9A-HJ-NP-Z]{12}", generated), generated
        assert runtime(app).session.public
        # A key the server would refuse is caught in the page.
        await fill(chair, "#key-input", "too short")
        await chair.evaluate("document.querySelector('#access-form').requestSubmit()")
        assert "spaces" in await chair.text("#access-status")
        assert await chair.evaluate("document.querySelector('#key-input').getAttribute('aria-invalid')") == "true"
        assert runtime(app).session.public

        await fill(chair, "#key-input", ROOM_KEY)
        await chair.evaluate("document.querySelector('#access-form').requestSubmit()")
        await chair.wait_for("document.querySelector('#access-badge').dataset.access === 'private'")
        assert "Saved" in await chair.text("#access-status")
        assert not runtime(app).session.public
        assert await chair.evaluate("sessionStorage.getItem('cc.chair.key.main')") == ROOM_KEY

        # Delegates: refused without the key, let in with it.
        assert await status_of(f"{url}/s/main") == 401
        assert await status_of(f"{url}/s/main?key=wrong-key-123") == 401
        assert await status_of(f"{url}/s/main?key={ROOM_KEY_QUERY}") == 200

        # The join panel shows the link with the key, and its QR code (which carries the key) loads.
        await qr_loaded(chair)
        src = await chair.evaluate("document.querySelector('#qr').getAttribute('src')")
        assert src == f"/api/sessions/main/qr.svg?key={ROOM_KEY_QUERY}"
        assert await chair.evaluate("document.querySelector('#join-url').href") == \
            f"{url}/s/main?key={ROOM_KEY_QUERY}"
        assert not await chair.evaluate("document.querySelector('#join-private').hidden")
        assert await chair.evaluate("document.querySelector('#projector-qr').getAttribute('src')") == src
        await chair.click("#present")
        await qr_loaded(chair, "#projector-qr")
        assert (await chair.text("#projector-url")).endswith(f"/s/main?key={ROOM_KEY_QUERY}")
        await chair.screenshot(shots / "chair-projector-private-1280x800.png")
        await chair.click("#projector-close")
        await shoot(chair, shots / "chair-join-private-1280x800.png", ".join")
        await shoot(chair, shots / "chair-access-private-1280x800.png", ".access")

        # Another tab (say, the chair's second laptop) does not know the key: it says so and asks for it.
        other = await tools.new_page(PHONE, mobile=True)
        await other.goto(f"{url}/chair/main#token={CHAIR}")
        await other.wait_for("!document.querySelector('#join-locked').hidden")
        assert await other.evaluate("document.querySelector('#join-open').hidden")
        assert not await other.evaluate("document.querySelector('#qr').getAttribute('src')")  # no broken image
        assert await other.evaluate("document.querySelector('#present').hidden")
        await other.wait_for("document.querySelector('#access-badge').textContent === 'Private'")
        await shoot(other, shots / "chair-join-locked-360x640.png", ".join")
        await fill(other, "#join-key-input", "not-the-room-key")
        await other.evaluate("document.querySelector('#join-key-form').requestSubmit()")
        await other.wait_for("!document.querySelector('#join-key-error').hidden")
        assert "does not open" in await other.text("#join-key-error")
        await shoot(other, shots / "chair-join-locked-error-360x640.png", ".join")
        await fill(other, "#join-key-input", ROOM_KEY)
        await other.evaluate("document.querySelector('#join-key-form').requestSubmit()")
        await other.wait_for("!document.querySelector('#join-open').hidden")
        await qr_loaded(other)
        assert await other.evaluate("sessionStorage.getItem('cc.chair.key.main')") == ROOM_KEY
        assert (await other.text("#join-url")).endswith(f"/s/main?key={ROOM_KEY_QUERY}")
        await shoot(other, shots / "chair-join-private-360x640.png", ".join")
        await shoot(other, shots / "chair-access-private-360x640.png", ".access")
        await other.call("Emulation.setEmulatedMedia", {"features": [{"name": "prefers-color-scheme",
                                                                       "value": "dark"}]})
        await shoot(other, shots / "chair-settings-dark-360x640.png", ".join", ".access")

        # Back to public: the key is forgotten (here and in the other tab) and the plain link works.
        await chair.click("input[name=access][value=public]")
        assert await chair.text("#access-apply") == "Make public"
        await chair.evaluate("document.querySelector('#access-form').requestSubmit()")
        await chair.wait_for("document.querySelector('#access-badge').dataset.access === 'public'")
        assert runtime(app).session.public
        assert await status_of(f"{url}/s/main") == 200
        assert await status_of(f"{url}/api/sessions/main/qr.svg") == 200
        assert await chair.evaluate("sessionStorage.getItem('cc.chair.key.main')") is None
        assert (await chair.text("#join-url")).endswith("/s/main")
        assert await chair.evaluate("document.querySelector('#qr').getAttribute('src')") == "/api/sessions/main/qr.svg"
        await qr_loaded(chair)
        assert await chair.evaluate("document.querySelector('#join-private').hidden")
        await other.wait_for("document.querySelector('#access-badge').dataset.access === 'public'")
        assert await other.evaluate("sessionStorage.getItem('cc.chair.key.main')") is None
        assert (await other.text("#join-url")).endswith("/s/main")
        await shoot(chair, shots / "chair-settings-public-1280x800.png", ".join", ".access")
        await other.call("Emulation.setEmulatedMedia", {"features": []})
        await shoot(other, shots / "chair-settings-public-360x640.png", ".join", ".access")
        assert chair.errors == [] and other.errors == []



NETWORK = {"latency": 0, "downloadThroughput": -1, "uploadThroughput": -1}
SECOND = 16000  # samples of the console's audio


class BlackHoleProxy:
    """A TCP relay in front of the server; ``swallow()`` makes every open connection a black hole.

    That is a Wi-Fi drop as a browser sees it: nothing closes, nothing gets through. Connections
    made afterwards work again.
    """

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.open: list[tuple[asyncio.StreamWriter, asyncio.StreamWriter, asyncio.Event]] = []
        self.server: asyncio.Server | None = None

    async def __aenter__(self) -> str:
        self.server = await asyncio.start_server(self._relay, "127.0.0.1", 0)
        return f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}"

    async def __aexit__(self, *exc: object) -> None:
        assert self.server is not None
        self.server.close()
        for client, upstream, _ in self.open:
            client.close()
            upstream.close()
        await self.server.wait_closed()

    def swallow(self) -> None:
        for _, _, hole in self.open:
            hole.set()

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        hole = asyncio.Event()
        self.open.append((writer, up_writer, hole))

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(ConnectionError):
                while data := await src.read(65536):
                    if not hole.is_set():
                        dst.write(data)
                        await dst.drain()
            if not hole.is_set():
                dst.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))


async def wait_until_heard(chair: Page, samples: str) -> None:
    await chair.wait_for(f"window.chairDebug.mic.buffer.acked >= {samples}", timeout=30)


async def stop_and_count(chair: Page, recognizers: list[CountingRecognizer]) -> tuple[int, int]:
    """Stop the microphone; (samples the console captured, samples the server heard) once the stream ended."""
    await chair.click("#mic-toggle")  # the rest goes out, then "stop"
    captured = int(await chair.evaluate("window.chairDebug.mic.buffer.end"))
    await asyncio.wait_for(recognizers[-1].done.wait(), 30)
    return captured, recognizers[-1].samples


async def test_audio_cut_longer_than_the_buffer_keeps_the_servers_audio_time_exact(
        chromium: Chromium, settings: Settings) -> None:
    """The server drops the audio socket and the network stays down longer than the console's buffer lasts."""
    async with running(settings) as (url, app, recognizers), connect(chromium) as tools:
        chair = await tools.new_page(DESKTOP)
        await chair.goto(f"{url}/chair/main#token={CHAIR}")
        await chair.wait_for("document.querySelector('#conn').dataset.state === 'live'")
        await chair.evaluate("window.chairDebug.audio.config.maxBufferS = 1")  # a one-second buffer
        await chair.click("#btn-start")
        await chair.wait_for("window.chairDebug.mic.ready === true")
        await wait_until_heard(chair, str(SECOND))

        await chair.call("Network.enable")
        await chair.call("Network.emulateNetworkConditions", {"offline": True, **NETWORK})  # no new connections
        sockets = [s.socket for s in runtime(app).ingest_streams.values() if isinstance(s, IngestStream) and s.socket]
        assert len(sockets) == 1
        await sockets[0].close(code=aiohttp.WSCloseCode.INTERNAL_ERROR)  # the server side drops it
        await chair.wait_for("window.chairDebug.mic.ready === false")
        await chair.wait_for(f"window.chairDebug.mic.buffer.dropped >= {3 * SECOND}", timeout=60)
        held = await chair.evaluate("window.chairDebug.mic.buffer.held()")
        assert held <= SECOND + 1600, held  # memory stays bounded: the buffer, plus the newest chunk

        await chair.call("Network.emulateNetworkConditions", {"offline": False, **NETWORK})
        await chair.wait_for("window.chairDebug.mic.ready === true", timeout=60)
        assert await chair.evaluate("window.chairDebug.mic.buffer.gapSamples") >= 2 * SECOND
        await wait_until_heard(chair, str(await chair.evaluate("window.chairDebug.mic.buffer.end")))
        captured, heard = await stop_and_count(chair, recognizers)
        assert len(recognizers) == 1  # one stream throughout: the console resumed it
        assert heard == captured  # not a sample of audio time lost, however long the cut
        assert chair.errors == []


async def test_a_silent_network_drop_is_noticed_and_the_servers_audio_time_stays_exact(
        chromium: Chromium, settings: Settings) -> None:
    """Wi-Fi gone without a word: the console sees no acks, gives up the dead socket and reconnects."""
    async with running(settings) as (url, app, recognizers), connect(chromium) as tools:
        port = int(url.rsplit(":", 1)[1])
        proxy = BlackHoleProxy(port)
        async with proxy as proxied:
            chair = await tools.new_page(DESKTOP)
            await chair.goto(f"{proxied}/chair/main#token={CHAIR}")
            await chair.wait_for("document.querySelector('#conn').dataset.state === 'live'")
            # A one-second buffer; a connection is dead after three seconds of audio with no word from it.
            await chair.evaluate("window.chairDebug.audio.config.maxBufferS = 1; "
                                 "window.chairDebug.audio.config.stallS = 3")
            await chair.click("#btn-start")
            await chair.wait_for("window.chairDebug.mic.ready === true")
            await wait_until_heard(chair, str(SECOND))
            proxy.swallow()
            # It notices, drops the dead socket and comes back on a new one (the network is fine again).
            await chair.wait_for("window.chairDebug.mic.stalls === 1 && window.chairDebug.mic.ready", timeout=60)
            assert await chair.evaluate("window.chairDebug.mic.buffer.gapSamples") > 0
            await wait_until_heard(chair, str(await chair.evaluate("window.chairDebug.mic.buffer.end")))
            captured, heard = await stop_and_count(chair, recognizers)
            assert heard == captured
            assert chair.errors == []


async def test_the_resend_buffer_counts_what_it_drops_as_a_gap(chromium: Chromium, settings: Settings) -> None:
    """The console's buffer by itself (chair-audio-buffer.js): bounded, and every dropped sample accounted for."""
    async with running(settings) as (url, app, _), connect(chromium) as tools:
        page = await tools.new_page(DESKTOP)
        await page.goto(f"{url}/chair/main")  # the token gate; every part of the console is loaded all the same
        result = await page.evaluate("""(function () {
          var b = new window.Chair.ResendBuffer(3000);
          function chunk(n) { return new Int16Array(1000).fill(n); }
          b.append(chunk(0)); b.append(chunk(1));
          b.ack(1500);
          for (var i = 2; i < 10; i++) b.append(chunk(i));  // the connection is down meanwhile
          var plan = b.pendingFrom(1500);
          return {gap: plan.gap, frames: plan.frames.map(function (f) { return [f[0], f.length]; }),
                  held: b.held(), dropped: b.dropped, end: b.end, nonsense: b.pendingFrom(20000)};
        })()""")
        # Samples 1500..6999 are gone (500 of chunk 1, chunks 2-6): the server hears them as a gap.
        assert result == {"gap": 5500, "frames": [[7, 1000], [8, 1000], [9, 1000]], "held": 3000,
                          "dropped": 5500, "end": 10000, "nonsense": None}
        assert page.errors == []


# -- what the console shows about the audio and the readers -----------------------------------------------------

SOURCE = "document.querySelector('#audio-source').textContent"
FR_LAG = "document.querySelector('#readers [data-lang=fr] .reader-lag')"


async def a_recording_with_a_french_reader(
        tools: DevTools, url: str, app: web.Application, recognizers: list[CountingRecognizer], chair: Page) -> Page:
    """The session plays talk.wav, recognition trails it by 2.3 s, and a French reader reads along."""
    runtime(app).open_audio("file", "talk.wav")
    reader = await tools.new_page(PHONE, mobile=True)
    await reader.goto(f"{url}/s/main?lang=fr")
    await reader.wait_for("window.captionsDebug && window.captionsDebug.state.conn === 'open'")
    await chair.wait_for("!!document.querySelector('#readers [data-lang=fr] strong')")
    assert recognizers and recognizers[-1].on_event is not None
    recognizers[-1].on_event(LagReport(lag_ms=2300))
    await chair.wait_for(f"!!{FR_LAG}")
    return reader


async def test_console_shows_where_the_audio_comes_from_and_each_languages_delay(
        chromium: Chromium, settings: Settings, tmp_path: Path) -> None:
    shots = screenshot_dir(tmp_path)
    async with running(settings, PrefixTranslator(("fr",))) as (url, app, recognizers), connect(chromium) as tools:
        chair = await tools.new_page(DESKTOP)
        await chair.goto(f"{url}/chair/main#token={CHAIR}")
        await chair.wait_for("document.querySelector('#conn').dataset.state === 'live'")
        await chair.wait_for(f"{SOURCE} === 'No audio coming in'")
        start = "document.querySelector('#btn-start')"
        assert await chair.evaluate(f"{start}.classList.contains('primary')")
        assert await chair.evaluate("document.querySelector('#mic-replace').hidden")

        reader = await a_recording_with_a_french_reader(tools, url, app, recognizers, chair)
        await chair.wait_for(f"{SOURCE} === 'Recording: talk.wav'")
        # Another source feeds the session: starting this browser's microphone is no longer the obvious step.
        assert not await chair.evaluate(f"{start}.classList.contains('primary')")
        assert "replaces the audio now coming in (Recording: talk.wav)" in await chair.evaluate(f"{start}.title")
        assert not await chair.evaluate("document.querySelector('#mic-replace').hidden")
        assert await chair.evaluate(f"{FR_LAG}.textContent") == "2.3 s"
        assert await chair.text("#readers [data-lang=fr] bdi") == "French (Français)"
        assert await chair.evaluate("document.querySelector('#readers [data-lang=fr] .partials')") is None  # live
        # A refused request: in English the server's own sentence, which says what it refused.
        await chair.evaluate("Chair.socket.send({type: 'correct', id: 'c-987654', text: 'Fixed'})")
        await chair.wait_for("document.querySelector('#notice').textContent === \"no caption 'c-987654' in session 'main'\"")

        # The server slows (or stops) a language's text in progress: the list says so.
        await chair.evaluate("Chair.state.translation = {fr: {partials: 'slowed', interval_ms: 1400}}; Chair.renderState()")
        marker = "document.querySelector('#readers [data-lang=fr] .partials')"
        assert await chair.evaluate(f"{marker}.dataset.partials") == "slowed"
        assert "every 1.4 s" in await chair.evaluate(f"{marker}.title")
        await chair.screenshot(shots / "chair-readers-and-source-1280x800.png")
        await chair.evaluate("Chair.state.translation = {fr: {partials: 'off', interval_ms: 0}}; Chair.renderState()")
        assert await chair.evaluate(f"{marker}.dataset.partials") == "off"

        # The recording ends; then this browser's microphone takes over.
        runtime(app).close_audio()
        await chair.wait_for(f"{SOURCE} === 'No audio coming in'")
        assert await chair.evaluate(f"{start}.classList.contains('primary')")
        await chair.click("#btn-start")
        await chair.wait_for(f"{SOURCE} === \"This browser's microphone\"")
        assert await chair.evaluate("document.querySelector('#mic-replace').hidden")
        assert chair.errors == [] and reader.errors == []


async def test_console_in_chinese_shows_no_english(chromium: Chromium, settings: Settings, tmp_path: Path) -> None:
    shots = screenshot_dir(tmp_path)
    async with running(settings, PrefixTranslator(("fr",))) as (url, app, recognizers), connect(chromium) as tools:
        chair = await tools.new_page(DESKTOP)
        await chair.goto(f"{url}/chair/main?ui=zh#token={CHAIR}")
        await chair.wait_for("document.documentElement.lang === 'zh' && "
                             "document.querySelector('#conn').dataset.state === 'live'")
        reader = await a_recording_with_a_french_reader(tools, url, app, recognizers, chair)
        await chair.wait_for(f"{SOURCE} === '录音：talk.wav'")
        assert await chair.evaluate(f"{FR_LAG}.textContent") == "2.3 秒"
        await chair.evaluate("Chair.state.translation = {fr: {partials: 'slowed', interval_ms: 1400}}; Chair.renderState()")
        await chair.evaluate("document.querySelector('#manual-text').value = 'Welcome'")
        await chair.evaluate("document.querySelector('#manual-form').requestSubmit()")
        await chair.wait_for("document.querySelectorAll('#transcript .tline .tag').length === 1")
        # The server refuses a correction (of a caption it does not have): its error is shown in Chinese too.
        await chair.evaluate("Chair.socket.send({type: 'correct', id: 'c-987654', text: '改正'})")
        await chair.wait_for("document.querySelector('#notice').textContent === '未找到：可能已被删除，或服务器已重启。'")
        await chair.click("#btn-end")  # armed: the button asks again
        await chair.click("input[name=access][value=private]")
        await chair.screenshot(shots / "chair-zh-live-1280x800.png")
        assert await chair.text("#mic-device option[value='']") == "默认麦克风"
        # What people typed, languages' own names, addresses, the file's name, and the keys' names (Enter, Esc)
        # may be Latin; nothing else.
        assert await chair.text("#readers [data-lang=fr] bdi") == "法语 (Français)"
        assert (await chair.text("#detected")).startswith("英语")
        for data in ("#session-title", "#transcript .text", "#readers bdi", "#detected", "#join-url", "#ui-lang", "#mic-device",
                     "#title-input", "#station-cmd"):
            await chair.evaluate(f"document.querySelectorAll({data!r}).forEach(function (e) {{ e.textContent = ''; }})")
        shown = await chair.evaluate("document.body.innerText + ' ' + document.title + ' ' + "
                                     "Array.prototype.map.call(document.querySelectorAll('[title]'), "
                                     "function (e) { return e.title; }).join(' ')")
        english = sorted(set(re.findall(r"[A-Za-z]{2,}", shown.replace("talk.wav", "").replace("Main hall", ""))) - {"dB", "Enter", "Esc"})
        assert english == [], (english, shown)
        assert chair.errors == [] and reader.errors == []
