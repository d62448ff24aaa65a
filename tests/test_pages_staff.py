"""The staff page and the landing page in headless Chromium: authenticated exports, errors, the session list."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from assistant.config import Settings
from assistant.server.app import make_app
from tests.browser import DESKTOP, PHONE, Chromium, chromium, connect, screenshot_dir, serve
from tests.conftest import CHAIR, STAFF, ManualClock, bearer

__all__ = ["chromium"]

pytestmark = pytest.mark.browser


@contextlib.asynccontextmanager
async def running(settings: Settings) -> AsyncIterator[str]:
    async with serve(make_app(settings, clock=ManualClock().clock)) as url:
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
