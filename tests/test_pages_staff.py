"""The staff page and the landing page in headless Chromium: authenticated exports, errors, the session list,
a new room made from the page, and room cards printed to PDF (one page per room, checked with poppler)."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import shutil
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from assistant.config import Settings
from assistant.server.app import make_app
from assistant.server.keys import SESSIONS
from assistant.server.runtime import SessionRuntime
from tests.browser import DESKTOP, PHONE, Chromium, Page, chromium, connect, screenshot_dir, serve
from tests.conftest import CHAIR, STAFF, ManualClock, bearer
from tests.helpers.recognizers import go_live, silent_factory
from tests.test_pages_delegate import PrefixTranslator
from tests.test_pages_display import until

__all__ = ["chromium"]

pytestmark = pytest.mark.browser


@contextlib.asynccontextmanager
async def running(settings: Settings, app: web.Application | None = None) -> AsyncIterator[str]:
    async with serve(app or make_app(settings, clock=ManualClock().clock)) as url:
        async with aiohttp.ClientSession() as http:
            for text in ("Good morning.", "Let us begin."):
                async with http.post(f"{url}/api/sessions/main/captions", json={"text": text},
                                     headers=bearer(CHAIR)) as r:
                    assert r.status == 201, await r.text()
        yield url


async def wait_for_file(folder: Path, name: str, timeout: float = 10) -> Path:
    path = folder / name
    for _ in range(int(timeout / 0.05)):
        if path.exists() and path.stat().st_size > 0:
            return path
        await asyncio.sleep(0.05)
    raise AssertionError(f"{name} was not downloaded; the folder holds {sorted(p.name for p in folder.iterdir())}")


async def test_staff_downloads_exports_with_the_token(chromium: Chromium, settings: Settings, tmp_path: Path) -> None:
    async with running(settings) as url, connect(chromium) as tools:
        await tools.allow_downloads(chromium.downloads)
        page = await tools.new_page(DESKTOP)
        await page.goto(f"{url}/staff")
        await page.evaluate("document.querySelector('#token').value = 'wrong-token-1234';"
                            "document.querySelector('#token-form').requestSubmit()")
        error = await page.wait_for("!document.querySelector('#error').hidden && "
                                    "document.querySelector('#error').textContent")
        assert error.startswith("Wrong staff token")
        assert await page.evaluate("document.querySelectorAll('.session').length") == 0

        await page.evaluate(f"document.querySelector('#token').value = {STAFF!r};"
                            "document.querySelector('#token-form').requestSubmit()")
        await page.wait_for("document.querySelectorAll('.session').length === 1")
        assert await page.evaluate("document.querySelector('#error').hidden")
        assert "2 captions" in await page.text(".session tr[data-lang=en]")
        await page.screenshot(screenshot_dir(tmp_path) / "staff-1280x800.png")

        await page.click(".session tr[data-lang=en] button[data-fmt=srt]")
        srt = await wait_for_file(chromium.downloads, "main-hall.en.srt")  # name from Content-Disposition
        assert "Good morning." in srt.read_text() and "-->" in srt.read_text()
        await page.click(".session button[data-fmt=zip]")
        archive = await wait_for_file(chromium.downloads, "main-hall.zip")
        assert archive.read_bytes()[:2] == b"PK"
        assert (await page.text("#status")).startswith("Downloaded main-hall.zip")
        assert page.errors == []

        # The token arrives in the fragment too, and never stays in the address bar.
        other = await tools.new_page(PHONE, mobile=True)
        await other.goto(f"{url}/staff#token={STAFF}")
        await other.wait_for("document.querySelectorAll('.session').length === 1")
        assert await other.evaluate("location.hash") == ""
        await other.screenshot(screenshot_dir(tmp_path) / "staff-360x640.png")


async def test_staff_see_each_live_room_s_readers_lag_and_audio(chromium: Chromium, settings: Settings,
                                                                 tmp_path: Path) -> None:
    app = make_app(settings, clock=ManualClock().clock, recognizer_factory=silent_factory)
    async with serve(app) as url, connect(chromium) as tools, aiohttp.ClientSession() as http:
        room = app[SESSIONS].get("main")
        assert isinstance(room, SessionRuntime)
        readers = [await http.ws_connect(f"{url}/ws/captions/main?lang=en") for _ in range(3)]
        go_live(room, lag_ms=1500)
        page = await tools.new_page(DESKTOP)
        await page.goto(f"{url}/staff#token={STAFF}")
        live = ".session[data-id=main] .live"
        text = await page.wait_for(f"!document.querySelector('{live}').hidden && "
                                   f"document.querySelector('{live}').textContent")
        assert text.startswith("3 readers (en 3)") and "captions 1.5 s behind the speech" in text, text
        assert "audio −" in text or "audio -" in text, text
        assert not await page.evaluate(f"document.querySelector('{live}').classList.contains('slow')")

        go_live(room, lag_ms=12_000)  # recognition falls behind: the line says so, in red, at the next refresh
        await readers.pop().close()
        # The server learns of the closed reader a moment after the client closed it.
        await until(lambda: room.snapshot()["readers"] == {"en": 2}, "the room to count 2 readers")
        await page.evaluate("window.staffDebug.refreshLive()")
        text = await page.wait_for(f"document.querySelector('{live}.slow') && "
                                   f"document.querySelector('{live}').textContent")
        assert text.startswith("2 readers (en 2)"), text
        assert "captions 12 s behind the speech: recognition is not keeping up on this machine" in text, text
        await page.screenshot(screenshot_dir(tmp_path) / "staff-live-1280x800.png")

        chinese = await tools.new_page(PHONE, mobile=True)
        await chinese.goto(f"{url}/staff?ui=zh#token={STAFF}")
        text = await chinese.wait_for(f"!document.querySelector('{live}').hidden && "
                                      f"document.querySelector('{live}').textContent")
        assert "2 位读者" in text and "字幕比讲话晚 12 秒" in text, text
        await chinese.screenshot(screenshot_dir(tmp_path) / "staff-live-zh-360x640.png")

        async with http.post(f"{url}/api/sessions/main/control", json={"action": "end"},
                             headers=bearer(CHAIR)) as r:
            assert r.status == 200, await r.text()
        await chinese.evaluate("window.staffDebug.refreshLive()")  # (the tab in front: a hidden one waits)
        await chinese.wait_for(f"document.querySelector('{live}').hidden")  # an ended room has no "now"
        assert await chinese.text(".session[data-id=main] .pill") == "已结束"
        assert page.errors == [] and chinese.errors == []
        for ws in readers:
            await ws.close()


async def test_landing_lists_live_sessions_with_qr(chromium: Chromium, settings: Settings, tmp_path: Path) -> None:
    async with running(settings) as url, connect(chromium) as tools:
        page = await tools.new_page(PHONE, mobile=True)
        await page.goto(f"{url}/")
        await page.wait_for("document.querySelectorAll('#sessions .card').length === 1")
        assert "Main hall" in await page.text("#sessions .card h2")
        assert await page.evaluate("document.querySelector('#sessions .card a.open').getAttribute('href')") == "/s/main"
        await page.wait_for("document.querySelector('#sessions .card img.qr').naturalWidth > 100")
        assert await page.evaluate("document.querySelector('#empty').hidden")
        await page.screenshot(screenshot_dir(tmp_path) / "landing-360x640.png")
        await page.click("#sessions .card a.open")
        await page.wait_for("location.pathname === '/s/main' && document.querySelectorAll('#captions .cap').length === 2")
        assert page.errors == []


async def sign_in(page: Page, url: str) -> None:
    await page.goto(f"{url}/staff#token={STAFF}")
    await page.wait_for("document.querySelectorAll('.session').length >= 1 && "
                        "!document.querySelector('#new-room').hidden")
    await page.click("#new-room summary")
    await page.wait_for("document.querySelector('#new-room-form').open")


def fill(selector: str, value: str) -> str:
    return f"document.querySelector({selector!r}).value = {value!r};"


async def test_staff_create_a_room_with_its_languages_glossary_and_privacy(
        chromium: Chromium, settings: Settings, tmp_path: Path) -> None:
    shots = screenshot_dir(tmp_path)
    app = make_app(settings, clock=ManualClock().clock, translator=PrefixTranslator(("ar", "fr", "zh")))
    async with running(settings, app) as url, connect(chromium) as tools:
        page = await tools.new_page(DESKTOP)
        await sign_in(page, url)
        # The spoken language: "auto" first, then every language the recogniser knows; targets follow it.
        assert await page.evaluate("document.querySelector('#room-spoken').options[0].value") == "auto"
        assert await page.evaluate("document.querySelector('#room-spoken').value") == "en"
        assert await page.evaluate("Array.from(document.querySelectorAll('#room-targets input')).map(i => i.value)") \
            == ["ar", "zh", "fr"]  # sorted by name: Arabic, Chinese, French
        await page.evaluate(fill("#room-id", "room-b") + fill("#room-title", "Room B · Energy") +
                            fill("#room-glossary", "CRISPR\n\n  Chongqing  \n") +
                            "document.querySelector('#room-targets input[value=fr]').checked = true;"
                            "document.querySelector('#room-targets input[value=zh]').checked = true;"
                            "document.querySelector('input[name=privacy][value=private]').checked = true;"
                            "document.querySelector('#room-chair-token').checked = true;")
        await page.screenshot(shots / "staff-new-room-1280x800.png")
        await page.evaluate("document.querySelector('#room-form').requestSubmit()")
        await page.wait_for("!document.querySelector('#created').hidden && "
                            "document.querySelectorAll('.session').length === 2")
        assert await page.text("#created h3") == "Room “Room B · Energy” is ready."
        key = await page.evaluate("document.querySelector('#created code.secret').textContent")
        link = await page.evaluate("document.querySelector('#created a').href")
        assert link == f"{url}/s/room-b?key={key}"
        # A room's own chair token is shown once where the server makes one; else the page says it did not.
        assert await page.evaluate("!!document.querySelector('#created a[href^=\"/chair/room-b#token=\"]') || "
                                   "!!document.querySelector('#created .notice')")
        session = app[SESSIONS].get("room-b").session
        assert (session.title, session.source_lang, session.public) == ("Room B · Energy", "en", False)
        assert set(session.languages) == {"fr", "zh"} and session.glossary == ("CRISPR", "Chongqing")
        assert await page.evaluate("document.querySelector('#room-id').value") == ""  # ready for the next room
        assert await page.evaluate("document.querySelector('#room-spoken').value") == "en"
        await page.evaluate("document.querySelector('#created').scrollIntoView()")
        await page.screenshot(shots / "staff-room-created-1280x800.png")

        # A bad request is explained, and nothing is made.
        await page.evaluate(fill("#room-id", "main") + "document.querySelector('#room-form').requestSubmit()")
        error = await page.wait_for("!document.querySelector('#error').hidden && "
                                    "document.querySelector('#error').textContent")
        assert "exists already" in error
        # An id the address cannot hold never leaves the page (the form checks it).
        await page.evaluate(fill("#room-id", "Room C") + "document.querySelector('#room-form').requestSubmit()")
        assert await page.evaluate("document.querySelector('#room-id').validity.patternMismatch")
        assert "room c" not in app[SESSIONS] and "Room C" not in app[SESSIONS]

        phone = await tools.new_page(PHONE, mobile=True)
        await sign_in(phone, url)
        await phone.screenshot(shots / "staff-new-room-360x640.png")
        assert page.errors == [] and phone.errors == []


def need(tool: str) -> str:
    found = shutil.which(tool)
    assert found, f"{tool} is missing: install poppler-utils (`make system-packages`)"
    return found


async def print_pdf(page: Page, path: Path, width_in: float, height_in: float) -> int:
    """Print the page as Chromium would to paper of this size; returns its number of pages."""
    pdf = await page.call("Page.printToPDF", {"paperWidth": width_in, "paperHeight": height_in,
                                              "printBackground": True})
    path.write_bytes(base64.b64decode(pdf["data"]))
    info = subprocess.run([need("pdfinfo"), str(path)], capture_output=True, text=True, check=True).stdout
    return int(next(line.split()[-1] for line in info.splitlines() if line.startswith("Pages:")))


def page_texts(path: Path, pages: int) -> list[str]:
    # -raw: in the order drawn, and a "-" that ends a line kept (by default pdftotext takes it for a word's
    # hyphenation and drops it: a key ending in "-" would lose it)
    return [subprocess.run([need("pdftotext"), "-raw", "-f", str(n), "-l", str(n), str(path), "-"],
                           capture_output=True, text=True, check=True).stdout for n in range(1, pages + 1)]


async def test_room_cards_print_one_page_per_room_with_qr_address_and_languages(
        chromium: Chromium, settings: Settings, tmp_path: Path) -> None:
    shots = screenshot_dir(tmp_path)
    app = make_app(settings, clock=ManualClock().clock, translator=PrefixTranslator(("ar", "fr", "zh")))
    async with running(settings, app) as url, connect(chromium) as tools:
        async with aiohttp.ClientSession() as http:  # a private room made elsewhere: the page needs its key
            async with http.post(f"{url}/api/sessions", headers=bearer(STAFF), json={
                    "id": "annex", "title": "Annex", "public": False, "key": "annex-key-2468"}) as r:
                assert r.status == 201, await r.text()
        page = await tools.new_page(DESKTOP)
        await sign_in(page, url)
        await page.evaluate(fill("#room-id", "room-b") + fill("#room-title", "Salle B — 能源") +
                            "document.querySelector('input[name=privacy][value=private]').checked = true;"
                            "document.querySelector('#room-form').requestSubmit()")
        await page.wait_for("document.querySelectorAll('.session').length === 3")
        key = await page.evaluate("document.querySelector('#created code.secret').textContent")
        await page.evaluate("window.print = function () { window.printed = (window.printed || 0) + 1; }")

        await page.click("#print-cards")  # the annex's key is not known in this tab
        assert await page.wait_for("!document.querySelector('#error').hidden && "
                                   "document.querySelector('#error').textContent") \
            == "“Annex” is private: type its key to print its card."
        await page.evaluate(fill("#card-key-annex", "wrong-key-0000"))
        await page.click("#print-cards")
        await page.wait_for("document.querySelector('#error').textContent === "
                            "'The key typed for “Annex” is not its key.'")
        await page.evaluate(fill("#card-key-annex", "annex-key-2468"))
        await page.click("#print-cards")
        await page.wait_for("window.printed === 1")
        assert await page.evaluate("document.querySelector('#error').hidden")
        assert await page.text("#status") == "3 room cards ready to print."

        a4 = await print_pdf(page, tmp_path / "cards-a4.pdf", 8.27, 11.69)
        letter = await print_pdf(page, tmp_path / "cards-letter.pdf", 8.5, 11)
        assert a4 == letter == 3
        texts = page_texts(tmp_path / "cards-letter.pdf", 3)
        flat = [" ".join(text.split()) for text in texts]
        for title, address in (("Main hall", f"{url}/s/main"), ("Annex", f"{url}/s/annex?key=annex-key-2468"),
                               ("Salle B — 能源", f"{url}/s/room-b?key={key}")):
            mine = [text for text in flat if text.startswith(title)]
            assert len(mine) == 1 and address in mine[0] and "Scan to read the captions live" in mine[0], flat
        assert not any("Staff token" in text or "Download everything" in text for text in flat)  # cards only
        main_card = next(text for text in flat if text.startswith("Main hall"))
        assert all(name in main_card for name in ("English", "العربية", "Français", "中文")), main_card
        out = shots / "cards"
        out.mkdir(parents=True, exist_ok=True)
        for name in ("cards-a4", "cards-letter"):
            subprocess.run([need("pdftoppm"), "-r", "50", "-png", str(tmp_path / f"{name}.pdf"), str(out / name)],
                           check=True)
        assert len(list(out.glob("cards-a4*.png"))) == 3
        assert page.errors == []
