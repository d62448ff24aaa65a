"""The staff page in headless Chromium: a language nobody read live, translated on download, with progress.

The translator is the shipped FakeTranslator (output ``[ja] text``: plainly not
a translation), held after its first batch so the test can look at the page
while the export is half-way, without waiting on the clock.
"""

from __future__ import annotations

import asyncio
import io
import zipfile
from pathlib import Path

import aiohttp
import pytest

from assistant.config import Settings
from assistant.server.app import make_app
from assistant.translate import TranslationService
from tests.browser import DESKTOP, Chromium, chromium, connect, screenshot_dir, serve
from tests.conftest import CHAIR, STAFF, ManualClock, bearer
from tests.test_export_http import PAIRS, GatedTranslator
from tests.test_pages_staff import wait_for_file

__all__ = ["chromium"]

pytestmark = pytest.mark.browser

LINES = 40  # three translation batches of 16


async def test_staff_downloads_a_language_nobody_read_and_sees_its_progress(
        chromium: Chromium, settings: Settings, tmp_path: Path) -> None:
    gated = GatedTranslator(PAIRS, hold_at=2)
    service = TranslationService(gated, workers=1, max_batch=16)
    try:
        async with serve(make_app(settings, translator=service, clock=ManualClock().clock)) as url:
            async with aiohttp.ClientSession() as http:
                for i in range(LINES):
                    async with http.post(f"{url}/api/sessions/main/captions", json={"text": f"Line {i}."},
                                         headers=bearer(CHAIR)) as r:
                        assert r.status == 201, await r.text()
            async with connect(chromium) as tools:
                await tools.allow_downloads(chromium.downloads)
                page = await tools.new_page(DESKTOP)
                await page.goto(f"{url}/staff#token={STAFF}")
                await page.wait_for("document.querySelectorAll('.session tr[data-lang]').length === 4")
                assert "translated when downloaded" in await page.text(".session tr[data-lang=ja]")
                assert "translated when downloaded" not in await page.text(".session tr[data-lang=en]")
                assert await page.evaluate("document.querySelector('#export-progress').hidden")

                await page.click(".session tr[data-lang=ja] button[data-fmt=txt]")
                await asyncio.get_running_loop().run_in_executor(None, gated.held.wait)  # one batch done
                status = await page.wait_for(
                    "!document.querySelector('#export-progress').hidden && "
                    "document.querySelector('#status').textContent.indexOf('16 of 40') >= 0 && "
                    "document.querySelector('#status').textContent")
                assert status == "Translating into Japanese: 16 of 40 captions…"
                assert await page.evaluate("document.querySelector('#export-progress').value") == 16
                assert await page.evaluate("document.querySelector('#export-progress').max") == 40
                await page.screenshot(screenshot_dir(tmp_path) / "staff-export-progress-1280x800.png")

                gated.gate.set()
                txt = await wait_for_file(chromium.downloads, "main-hall.ja.txt")
                assert f"[ja] Line {LINES - 1}." in txt.read_text("utf-8")
                await page.wait_for("document.querySelector('#status').textContent.indexOf('Downloaded') === 0")
                assert await page.evaluate("document.querySelector('#export-progress').hidden")

                # The zip takes the ticked languages: English (stored) is ticked already, add Japanese.
                assert await page.evaluate("document.querySelector('tr[data-lang=en] input.zip-lang').checked")
                await page.click(".session tr[data-lang=ja] input.zip-lang")
                await page.click(".session button[data-fmt=zip]")
                archive = await wait_for_file(chromium.downloads, "main-hall.zip")
                await page.wait_for("document.querySelector('#status').textContent.indexOf('Downloaded') === 0")
                names = zipfile.ZipFile(io.BytesIO(archive.read_bytes())).namelist()
                assert {n.split(".")[1] for n in names} == {"en", "ja"}
                assert page.errors == []
    finally:
        gated.gate.set()
        await service.close()
