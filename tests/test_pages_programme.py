"""The programme in headless Chromium: the staff page's import (problems per line, nothing half-imported)
and the timetable per room with the talk on now."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from assistant.config import Settings
from assistant.server.app import make_app
from assistant.server.keys import STORE
from assistant.translate import FakeTranslator, TranslationService
from tests.browser import DESKTOP, Chromium, Page, chromium, connect, screenshot_dir, serve
from tests.conftest import STAFF, ManualClock
from tests.test_server_programme import AT_0945_PARIS, DATA

__all__ = ["chromium"]

pytestmark = pytest.mark.browser


async def choose_file(page: Page, name: str, data: bytes) -> None:
    """Put a file in the programme form's file input, as a person picking it would."""
    await page.evaluate(f"(() => {{ const dt = new DataTransfer();"
                        f" dt.items.add(new File([{json.dumps(data.decode())}], {json.dumps(name)}));"
                        f" document.querySelector('#programme-file').files = dt.files; }})()")


async def test_staff_import_a_programme_and_see_the_timetable(chromium: Chromium, settings: Settings,
                                                              tmp_path: Path) -> None:
    shots = screenshot_dir(tmp_path)
    service = TranslationService(FakeTranslator(pairs=[("en", "fr")]))  # zh and en→… not installed: warnings
    app = make_app(settings, clock=ManualClock(AT_0945_PARIS).clock, translator=service)
    async with serve(app) as url, connect(chromium) as tools:
        page = await tools.new_page(DESKTOP)
        await page.goto(f"{url}/staff#token={STAFF}")
        await page.wait_for("document.querySelector('#timetable').textContent.includes('No programme yet')")

        await choose_file(page, "broken.csv", (DATA / "broken.csv").read_bytes())
        await page.evaluate("document.querySelector('#programme-form').requestSubmit()")
        await page.wait_for("!document.querySelector('#programme-problems').hidden")
        problems = await page.evaluate("Array.from(document.querySelectorAll('#programme-problems li'),"
                                       " li => li.textContent)")
        assert problems[0].startswith("Line 3, room: a room id is")
        assert any(p.startswith("Line 10, start: overlaps 'Opening'") for p in problems)
        assert "Nothing was imported: 9 problems" in await page.text("#programme-status")
        assert app[STORE].programme.load().talks == ()

        await choose_file(page, "day.ics", (DATA / "day.ics").read_bytes())
        await page.evaluate("document.querySelector('#programme-form').requestSubmit()")
        await page.wait_for("document.querySelectorAll('.room-timetable').length === 2")
        assert await page.text("#programme-status") == "Imported 5 talks in 2 rooms, with 2 warnings:"
        warnings = await page.evaluate("Array.from(document.querySelectorAll('#programme-problems li'),"
                                       " li => li.textContent)")
        assert warnings[0].startswith("Line 5, languages: no installed translation package reaches")
        rows = await page.evaluate("Array.from(document.querySelectorAll('.room-timetable[data-room=hall-a] tbody"
                                   " tr[data-talk]'), r => [r.dataset.talk, r.dataset.state, r.cells[0].textContent])")
        assert rows == [["opening", "over", "09:00–09:30"], ["keynote", "now", "09:30–10:30"],
                        ["panel", "later", "11:00–12:00"]]
        assert await page.evaluate("document.querySelector('.room-timetable[data-room=hall-a] h3 a').getAttribute('href')") \
            == "/r/hall-a"
        await page.screenshot(shots / "staff-programme-1280x800.png")

        # Chinese interface: the timetable is drawn again in it.
        await page.evaluate("(() => { const s = document.querySelector('#ui-lang'); s.value = 'zh';"
                            " s.dispatchEvent(new Event('change')); })()")
        await page.wait_for("document.querySelector('#programme-status').textContent.startsWith('已导入')")
        assert "2 条提醒" in await page.text("#programme-status")
        assert await page.evaluate("document.querySelector('.room-timetable thead th').textContent") == "时间"
        assert page.errors == []
    await service.close()
