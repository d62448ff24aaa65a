"""The caption-language picker in the delegate's top bar, in headless Chromium, in many interface languages.

Language names run long in some interfaces ("Французский (Français)", "Ukrainisch (Українська)"), a
regional variant's longest of all ("Бразильский португальский · Português (Brasil)"). On a phone (360 px,
and the 320 px ones still in use) the picker takes a row of its own above the buttons; on a desktop it
grows with its names, within bounds. Either way the closed picker must show the picked language's name
uncut, nothing may overlap it, and nothing may stick out of the screen.

A whole label too wide for the picker (a regional variant's, on a phone and in some interfaces on a
desktop too) is shown in the closed picker as the language's own name ("Português (Brasil)", "中文（简体）"),
with the whole label as the picker's title; a label that fits is never shortened, and the open list keeps
every other language's whole label. Each language is picked in turn on the 320 px phone. "Uncut" is
measured against a copy of the picker with no width set that holds only the name shown: a select's own
size is that of its widest option, arrow and padding included (a select's scrollWidth never exceeds its
width, so it cannot tell).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from assistant.config import Settings
from assistant.server.app import make_app
from assistant.server.keys import TALKS
from tests.browser import DESKTOP, Chromium, DevTools, Page, chromium, connect, screenshot_dir, serve
from tests.conftest import STAFF, ManualClock, bearer
from tests.helpers.recognizers import silent_factory
from tests.test_pages_delegate import PrefixTranslator
from tests.test_server_talks import DATA, at

__all__ = ["chromium"]

pytestmark = pytest.mark.browser

PHONE = (360, 740)
SMALL_PHONE = (320, 640)  # iPhone SE (1st generation), small Androids
UIS = ("ru", "de", "pt", "ar", "zh", "fr", "es", "uk")
# Besides the spoken English: what a conference typically offers, regional variants included.
TARGETS = ("de", "es", "fr", "it", "pt", "pt-BR", "ru", "uk", "ar", "tr", "zh", "zh-Hans", "ja", "ko")

# Problems with the bar's layout, as sentences; empty when all is well.
LAYOUT = r"""
(function (phone) {
  var out = [], vw = document.documentElement.clientWidth;
  var sel = document.querySelector("#lang"), box = sel.getBoundingClientRect();
  function visible(e) { var r = e.getBoundingClientRect(); return r.width > 0 && r.height > 0; }
  function name(e) { return e.tagName.toLowerCase() + (e.id ? "#" + e.id : ""); }
  function px(v) { return Math.round(v * 10) / 10; }
  function need(text) {  // how wide the picker must be to show `text` whole
    var probe = sel.cloneNode(false);
    probe.removeAttribute("id");
    probe.style.cssText = "position:absolute;visibility:hidden;width:auto;min-width:0;max-width:none;flex:none";
    probe.appendChild(new Option(text));
    sel.parentNode.appendChild(probe);
    var width = probe.getBoundingClientRect().width;
    probe.remove();
    return width;
  }

  var picked = sel.selectedOptions[0], shown = picked.label, whole = picked.text;
  if (box.width + 0.5 < need(shown)) {
    out.push("the picker is " + px(box.width) + " px wide, \"" + shown + "\" needs " + px(need(shown)));
  }
  if (shown !== whole) {
    if (shown !== I18N.nativeName(picked.value)) out.push("the picker shows \"" + shown + "\" for \"" + whole + "\"");
    if (need(whole) <= box.width + 0.5) out.push("the picker shows \"" + shown + "\" though \"" + whole + "\" fits");
    if (sel.title !== whole) out.push("the picker's title is \"" + sel.title + "\", not \"" + whole + "\"");
  }
  Array.from(sel.options).forEach(function (o) {
    if (o.text !== I18N.languageLabel(o.value)) out.push("the list names " + o.value + " \"" + o.text + "\"");
    if (o !== picked && o.label !== o.text) out.push("the list shows \"" + o.label + "\" for \"" + o.text + "\"");
  });
  if (box.height < 44) out.push("the picker is " + px(box.height) + " px high");

  var buttons = Array.from(document.querySelectorAll(".bar-controls button")).filter(visible);
  if (buttons.length < 3) out.push("only " + buttons.length + " buttons in the bar");
  buttons.forEach(function (b) {
    var r = b.getBoundingClientRect();
    if (r.height < 44) out.push(name(b) + " is " + px(r.height) + " px high");
    if (r.left < box.right - 0.5 && box.left < r.right - 0.5 && r.top < box.bottom - 0.5 && box.top < r.bottom - 0.5) {
      out.push(name(b) + " overlaps the picker");
    }
    if (phone && r.top < box.bottom) out.push(name(b) + " is not on a row below the picker");
  });
  if (phone) {
    var row = document.querySelector(".bar-controls").getBoundingClientRect();
    if (box.width < row.width - 1) out.push("the picker is " + px(box.width) + " px of a " + px(row.width) + " px row");
  } else {
    var rem = parseFloat(getComputedStyle(document.documentElement).fontSize);
    if (box.width < 15 * rem - 0.5 || box.width > 22 * rem + 0.5) out.push("the picker is " + px(box.width) + " px wide");
  }
  document.querySelectorAll(".bar-main, .bar-main *").forEach(function (e) {
    if (!visible(e) || e.closest(".visually-hidden")) return;
    var r = e.getBoundingClientRect();
    if (r.left < -0.5 || r.right > vw + 0.5) out.push(name(e) + " spans " + px(r.left) + " to " + px(r.right));
  });
  if (document.documentElement.scrollWidth > vw) {
    out.push("the page is " + document.documentElement.scrollWidth + " px wide in a " + vw + " px screen");
  }
  return out;
})
"""
# The problems with each language picked in turn, as a reader picks it (the page hears a change event).
EACH_PICKED = r"""
(function (layout, phone) {
  var sel = document.querySelector("#lang"), found = {};
  Array.from(sel.options).forEach(function (o) {
    sel.value = o.value;
    sel.dispatchEvent(new Event("change"));
    found[o.value] = layout(phone);
  });
  return found;
})
"""
# What the closed picker shows, and its title ("" unless that is shortened).
SHOWN = "(function (s) { return [s.selectedOptions[0].label, s.title]; })(document.querySelector('#lang'))"


@contextlib.asynccontextmanager
async def running(settings: Settings, clock: ManualClock) -> AsyncIterator[tuple[str, web.Application]]:
    app = make_app(settings, clock=clock.clock, recognizer_factory=silent_factory,
                   translator=PrefixTranslator(TARGETS))
    async with serve(app) as url:
        yield url, app


async def open_reader(tools: DevTools, url: str, ui: str, size: tuple[int, int]) -> Page:
    """``url`` in a tab of ``size`` with the interface in ``ui``, once its picker lists every language."""
    page = await tools.new_page(size, mobile=size in (PHONE, SMALL_PHONE))
    await page.goto(f"{url}{'&' if '?' in url else '?'}ui={ui}")
    await page.wait_for(f"document.documentElement.lang === {ui!r} && "
                        "!document.documentElement.classList.contains('i18n-pending') && "
                        f"document.querySelector('#lang').options.length === {len(TARGETS) + 1}")
    return page


async def pick(page: Page, select: str, value: str) -> None:
    """Choose ``value`` in the <select> ``select`` as a reader does (the page hears a change event)."""
    await page.evaluate(f"(function (s) {{ s.value = {value!r}; s.dispatchEvent(new Event('change')); }})"
                        f"(document.querySelector({select!r}))")


async def problems(page: Page, phone: bool) -> list[str]:
    found = await page.evaluate(f"{LAYOUT}({json.dumps(phone)})")
    return list(found)


async def check_all(tools: DevTools, url: str, shots: Path, kind: str) -> None:
    """Every interface language on both phones with Brazilian Portuguese picked, then two on a desktop:
    no problem with any; on the smaller phone, none with any other language picked either."""
    found: dict[str, list[str]] = {}
    for width, height in (PHONE, SMALL_PHONE):
        for ui in UIS:
            page = await open_reader(tools, f"{url}?lang=pt-BR", ui, (width, height))
            found[f"{ui} {width}"] = await problems(page, phone=True)
            await page.screenshot(shots / f"lang-picker-{kind}-{ui}-{width}x{height}.png")
            if (width, height) == SMALL_PHONE:
                each = await page.evaluate(f"{EACH_PICKED}({LAYOUT}, true)")
                assert sorted(each) == sorted(("en", *TARGETS))
                found.update((f"{ui} {width} {code}", v) for code, v in each.items())
            assert page.errors == []
    for ui in ("ru", "ar"):
        page = await open_reader(tools, f"{url}?lang=pt-BR", ui, DESKTOP)
        found[f"{ui} desktop"] = await problems(page, phone=False)
        await page.screenshot(shots / f"lang-picker-{kind}-{ui}-1280x800.png")
        assert page.errors == []
    found = {k: v for k, v in found.items() if v}
    assert found == {}, json.dumps(found, ensure_ascii=False, indent=1)


async def test_the_session_page_shows_whole_language_names_on_a_phone_and_a_desktop(
        chromium: Chromium, settings: Settings, tmp_path: Path) -> None:
    async with running(settings, ManualClock()) as (url, app), connect(chromium) as tools:
        # A long name picked, for the closed picker to show it.
        page = await open_reader(tools, f"{url}/s/main?lang=uk", "ru", PHONE)
        assert await page.evaluate("document.querySelector('#lang').selectedOptions[0].textContent") == \
            "Украинский (Українська)"
        assert await page.evaluate(SHOWN) == ["Украинский (Українська)", ""]
        labels = await page.evaluate("['pt-BR', 'zh-Hans'].map(I18N.languageLabel)")
        assert labels == ["Бразильский португальский · Português (Brasil)", "Китайский, упрощенное письмо · 中文（简体）"]

        # Brazilian Portuguese on a small phone: too long whole, so its own name, the whole label as the title.
        page = await open_reader(tools, f"{url}/s/main?lang=pt-BR", "ru", SMALL_PHONE)
        whole = "Бразильский португальский · Português (Brasil)"
        assert await page.evaluate(SHOWN) == ["Português (Brasil)", whole]
        assert await problems(page, phone=True) == []
        # Turned sideways there is room for the whole label; turned back, not.
        await page.resize(SMALL_PHONE[1], SMALL_PHONE[0], mobile=True)
        await page.wait_for("!document.querySelector('#lang').title")
        assert await page.evaluate(SHOWN) == [whole, ""]
        assert await problems(page, phone=True) == []
        await page.resize(*SMALL_PHONE, mobile=True)
        await page.wait_for("document.querySelector('#lang').title")
        assert await page.evaluate(SHOWN) == ["Português (Brasil)", whole]
        # The interface switched to German: the German label, again too long whole.
        await pick(page, "#ui-lang", "de")
        await page.wait_for("document.documentElement.lang === 'de'")
        assert await page.evaluate(SHOWN) == ["Português (Brasil)", "Portugiesisch (Brasilien) · Português (Brasil)"]
        assert await problems(page, phone=True) == []
        # Another language picked: the whole label where it fits, its own name where not.
        await pick(page, "#lang", "fr")
        assert await page.evaluate(SHOWN) == ["Französisch (Français)", ""]
        await pick(page, "#lang", "zh-Hans")
        assert await page.evaluate(SHOWN) == ["中文（简体）", "Chinesisch (vereinfacht) · 中文（简体）"]
        assert await problems(page, phone=True) == []
        assert page.errors == []

        await check_all(tools, f"{url}/s/main", screenshot_dir(tmp_path), "session")


async def test_the_room_page_shows_whole_language_names_on_a_phone_and_a_desktop(
        chromium: Chromium, settings: Settings, tmp_path: Path) -> None:
    programme = json.loads((DATA / "day.json").read_text())
    for talk in programme["talks"]:
        if talk.get("id") == "opening":
            talk["languages"] = list(TARGETS)
    clock = ManualClock(at("opening", 5))
    async with running(settings, clock) as (url, app), connect(chromium) as tools:
        async with aiohttp.ClientSession() as http:
            async with http.post(f"{url}/api/programme?name=day.json", json=programme, headers=bearer(STAFF)) as r:
                assert r.status == 201, await r.text()
        app[TALKS].tick()
        await check_all(tools, f"{url}/r/hall-a", screenshot_dir(tmp_path), "room")
