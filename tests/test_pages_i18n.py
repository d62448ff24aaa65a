"""The pages in the reader's language, in headless Chromium.

Two walks over the rendered page (text nodes and the title, aria-label, placeholder and alt
attributes) find interface text that did not come from a catalogue:

- with the pseudo-locale (``?ui=qps-ploc``), every catalogue message arrives wrapped in ⟦ ⟧, so any
  unwrapped text is a string the catalogue does not provide;
- with a Chinese, Arabic or Russian phone, no Latin word may be left but QR and format names.

Captions, session titles and language names are content, not interface, and are left out by selector.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from assistant.config import Settings
from assistant.server.app import make_app
from tests.helpers.recognizers import go_live, silent_factory
from assistant.server.keys import SESSIONS
from assistant.server.runtime import SessionRuntime
from tests.browser import DESKTOP, PHONE, Chromium, DevTools, Page, chromium, connect, screenshot_dir, serve
from tests.conftest import CHAIR, STAFF, ManualClock, bearer
from tests.test_pages_delegate import PrefixTranslator

__all__ = ["chromium"]

pytestmark = pytest.mark.browser

TARGETS = ("zh", "ar", "ru", "fr")  # the session offers these besides the spoken English
TITLE = "Main hall"

# Content, not interface: left out of both walks (matched against a text's own element).
DATA = {
    "delegate": "#title, #captions .text, #captions .source, #partial, #partial .settled, #announcer p",
    "landing": ".card h2",
    "display": ".stream .line, .stream .settled, #idle-title",
    "staff": ".session h2, .session code, #created a, #created code, .card-title",
}

WALK = r"""
(function (data, mode, strip) {
  var allowed = /^(QR|SRT|WebVTT|JSON|Word|txt|zip)$/;
  function bad(text) {
    strip.forEach(function (s) { text = text.split(s).join(""); });
    text = text.replace(/\s+/g, " ").trim();
    if (!text) return false;
    if (mode === "pseudo") return !(text.charAt(0) === "\u27e6" && text.charAt(text.length - 1) === "\u27e7");
    return (text.match(/[A-Za-z]{2,}/g) || []).some(function (w) { return !allowed.test(w); });
  }
  function left(el) { return !el || el.closest('[translate="no"], script, style, option') || (data && el.matches(data)); }
  function name(el) { return el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") + (el.className ? "." + el.className : ""); }
  var out = [];
  var walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (var n = walker.nextNode(); n; n = walker.nextNode()) {
    if (!left(n.parentElement) && bad(n.nodeValue)) out.push(name(n.parentElement) + ": " + n.nodeValue.trim());
  }
  document.querySelectorAll("body *").forEach(function (el) {
    if (el.closest('[translate="no"], option')) return;
    ["title", "aria-label", "placeholder", "alt"].forEach(function (a) {
      var v = el.getAttribute(a);
      if (v && bad(v)) out.push(name(el) + "[" + a + "]: " + v);
    });
  });
  if (bad(document.title)) out.push("<title>: " + document.title);
  var picked = document.querySelector("select#lang");
  if (mode === "latin" && picked && picked.selectedOptions.length && bad(picked.selectedOptions[0].textContent)) {
    out.push("caption language shown as: " + picked.selectedOptions[0].textContent);
  }
  return out;
})
"""


# Language names come from Intl.DisplayNames, not a catalogue: left out of the pseudo-locale walk only.
LANGUAGE_NAMES = {"landing": ".langs span", "staff": "#room-targets label span, .card-langs li"}


async def unmarked(page: Page, kind: str, mode: str = "pseudo") -> list[str]:
    """Interface text on ``page`` that the walk in ``mode`` ("pseudo" or "latin") finds out of place."""
    data = ", ".join(filter(None, [DATA[kind], LANGUAGE_NAMES.get(kind, "") if mode == "pseudo" else ""]))
    found = await page.evaluate(f"{WALK}({json.dumps(data)}, {json.dumps(mode)}, {json.dumps([TITLE])})")
    return list(found)


@contextlib.asynccontextmanager
async def running(settings: Settings) -> AsyncIterator[tuple[str, web.Application]]:
    app = make_app(settings, clock=ManualClock().clock, recognizer_factory=silent_factory, translator=PrefixTranslator(TARGETS))
    async with serve(app) as url:
        yield url, app


def runtime(app: web.Application) -> SessionRuntime:
    room = app[SESSIONS].get("main")
    assert isinstance(room, SessionRuntime)  # make_app serves its rooms in-process
    return room


async def post(url: str, path: str, body: dict[str, Any], method: str = "POST") -> dict[str, Any]:
    async with aiohttp.ClientSession() as http:
        async with http.request(method, f"{url}{path}", json=body, headers=bearer(CHAIR)) as r:
            assert r.status in (200, 201), await r.text()
            return await r.json()  # type: ignore[no-any-return]


async def say(url: str, text: str) -> dict[str, Any]:
    return await post(url, "/api/sessions/main/captions", {"text": text})


async def phone(tools: DevTools, languages: str, size: tuple[int, int] = PHONE) -> Page:
    """A tab whose browser languages (navigator.languages and Accept-Language) are ``languages``."""
    page = await tools.new_page(size, mobile=size == PHONE)
    agent = await page.evaluate("navigator.userAgent")
    await page.call("Emulation.setUserAgentOverride", {"userAgent": agent, "acceptLanguage": languages})
    return page


async def test_every_interface_string_comes_from_a_catalogue(
        chromium: Chromium, settings: Settings, tmp_path: Path) -> None:
    async with running(settings) as (url, app), connect(chromium) as tools:
        await say(url, "The harbour was rebuilt.")
        await say(url, "Hamburg did it first.")  # comes back untranslated: the "original" tag
        fixed = await say(url, "The minutes were aproved.")
        await post(url, f"/api/sessions/main/captions/{fixed['id']}", {"text": "The minutes were approved."},
                   method="PATCH")  # the "corrected" tag
        page = await tools.new_page(PHONE, mobile=True)
        await page.goto(f"{url}/s/main?ui=qps-ploc&lang=fr")
        await page.wait_for("document.querySelectorAll('#captions .cap').length === 3")
        rt = runtime(app)
        go_live(rt, lag_ms=9400)  # past the threshold of a translated language
        await page.wait_for("!document.querySelector('#lag').hidden && !document.querySelector('#mt-banner').hidden")
        await page.click("#settings-btn")
        await page.click("#captions .cap[data-has-source]")
        await page.wait_for("document.querySelector('#captions .source')")
        assert await unmarked(page, "delegate") == []
        await page.screenshot(screenshot_dir(tmp_path) / "delegate-pseudo-360x640.png")

        landing = await tools.new_page(DESKTOP)
        await landing.goto(f"{url}/?ui=qps-ploc")
        await landing.wait_for("document.querySelector('#sessions .card .meta .muted')")  # "1 reader"
        assert await unmarked(landing, "landing") == []

        for action, card in (("pause", "paused"), ("end", "ended")):
            await post(url, "/api/sessions/main/control", {"action": action})
            await page.wait_for(f"document.querySelector('#session-state .state-card[data-card={card}]')")
            assert await unmarked(page, "delegate") == [], card

        other = await tools.new_page(PHONE, mobile=True)
        await other.goto(f"{url}/s/main?ui=qps-ploc&lang=xx")  # the notice for a language not offered
        await other.wait_for("!document.querySelector('#notice').hidden && document.querySelector('#lang').value")
        assert await unmarked(other, "delegate") == []

        screen = await tools.new_page(DESKTOP)
        await screen.goto(f"{url}/s/main/display?ui=qps-ploc")
        await screen.wait_for("document.querySelector('#idle-hints p')")
        assert await unmarked(screen, "display") == []

        staff = await tools.new_page(DESKTOP)
        await staff.goto(f"{url}/staff?ui=qps-ploc#token={STAFF}")
        await staff.wait_for("document.querySelectorAll('.session').length === 1")
        assert await unmarked(staff, "staff") == []
        # A new room (its answer shown once), and its room cards.
        await staff.wait_for("document.querySelector('#room-targets input')")
        await staff.click("#new-room summary")
        await staff.evaluate("document.querySelector('#room-id').value = 'room-b';"
                             "document.querySelector('input[name=privacy][value=private]').checked = true;"
                             "document.querySelector('#room-chair-token').checked = true;"
                             "document.querySelector('#room-form').requestSubmit()")
        await staff.wait_for("document.querySelectorAll('.session').length === 2 && "
                             "!document.querySelector('#created').hidden")
        await staff.evaluate("window.print = function () { window.printed = true; };"
                             "document.querySelector('#card-main').checked = true")  # ended: unticked at first
        await staff.click("#print-cards")
        await staff.wait_for("window.printed && document.querySelectorAll('#cards .card-page').length === 2")
        assert await unmarked(staff, "staff") == []
        for p in (page, other, landing, screen, staff):
            assert p.errors == []


@pytest.mark.parametrize("languages, ui, direction", [
    ("zh-CN,zh", "zh", "ltr"), ("ar-EG,ar", "ar", "rtl"), ("ru-RU,ru", "ru", "ltr")])
async def test_a_chinese_arabic_or_russian_phone_sees_no_english(
        chromium: Chromium, settings: Settings, tmp_path: Path, languages: str, ui: str, direction: str) -> None:
    shots = screenshot_dir(tmp_path)
    async with running(settings) as (url, app), connect(chromium) as tools:
        await say(url, "Good morning, everyone.")
        await say(url, "Hamburg did it first.")
        page = await phone(tools, languages)
        await page.goto(f"{url}/s/main")
        # Interface and captions both in the phone's language, chosen on the first visit.
        await page.wait_for(f"document.querySelector('#lang').value === '{ui}' && "
                            "document.querySelectorAll('#captions .cap').length === 2")
        assert await page.evaluate("[document.documentElement.lang, document.documentElement.dir]") == [ui, direction]
        assert (await page.evaluate("location.search")) == ""  # an automatic choice stays out of the address
        rt = runtime(app)
        go_live(rt, lag_ms=9400)  # past the threshold of a translated language
        await page.wait_for("!document.querySelector('#lag').hidden")
        await page.click("#settings-btn")
        assert await unmarked(page, "delegate", "latin") == []
        await page.screenshot(shots / f"delegate-{ui}-360x640.png")
        # The whole page is laid out right to left, not only the caption lines.
        title, menu = await page.evaluate("[document.querySelector('#title').getBoundingClientRect().left, "
                                          "document.querySelector('#settings-btn').getBoundingClientRect().left]")
        assert (title > menu) == (direction == "rtl")

        await post(url, "/api/sessions/main/control", {"action": "pause"})
        await page.wait_for("document.querySelector('#session-state .state-card[data-card=paused]')")
        assert await unmarked(page, "delegate", "latin") == []
        await page.screenshot(shots / f"delegate-{ui}-paused-360x640.png")

        landing = await phone(tools, languages)
        await landing.goto(f"{url}/")
        await landing.wait_for("document.querySelector('#sessions .card .meta .muted')")
        assert await unmarked(landing, "landing", "latin") == []
        await landing.screenshot(shots / f"landing-{ui}-360x640.png")
        assert page.errors == [] and landing.errors == []


async def test_first_visit_follows_the_phone_then_the_readers_choices(
        chromium: Chromium, settings: Settings, tmp_path: Path) -> None:
    async with running(settings) as (url, app), connect(chromium) as tools:
        await say(url, "Good morning, everyone.")
        # A delegate from Kazakhstan: no Kazakh captions here, so Russian ones, in a Kazakh interface.
        page = await phone(tools, "kk-KZ,ru,en")
        await page.goto(f"{url}/s/main")
        await page.wait_for("document.querySelector('#lang').value === 'ru' && "
                            "document.querySelectorAll('#captions .cap').length === 1")
        assert await page.evaluate("document.documentElement.lang") == "kk"
        assert await page.text("#jump") == "Эфирге оралу ↓"
        assert (await page.text("#mt-banner")).startswith("Машиналық аударма")
        assert await page.evaluate("localStorage.getItem('cc.lang')") is None  # not a choice: not remembered
        await page.screenshot(screenshot_dir(tmp_path) / "delegate-kk-ru-360x640.png")

        # The interface picker: German from now on, whatever the phone says.
        await page.click("#settings-btn")
        await page.evaluate("(function(){var s=document.querySelector('#ui-lang');s.value='de';"
                            "s.dispatchEvent(new Event('change'));})()")
        await page.wait_for("document.documentElement.lang === 'de'")
        assert await page.text("#jump") == "Zurück zu live ↓"
        assert await page.text("#mode-hint") == "Schnell zeigt Wörter, sobald sie gehört werden (grau), bevor sie feststehen."
        assert await page.evaluate("document.querySelector('#lang').selectedOptions[0].textContent") == \
            "Russisch (Русский)"
        # ?lang= picks the captions and is remembered like a choice in the picker.
        await page.goto(f"{url}/s/main?lang=fr")
        await page.wait_for("document.querySelector('#captions .cap .text') && "
                            "document.querySelector('#captions .cap .text').textContent.startsWith('[fr]')")
        await page.goto(f"{url}/s/main")
        await page.wait_for("document.querySelector('#lang').value === 'fr' && "
                            "document.querySelectorAll('#captions .cap').length === 1")
        assert await page.evaluate("[document.documentElement.lang, localStorage.getItem('cc.ui'), "
                                   "localStorage.getItem('cc.lang')]") == ["de", "de", "fr"]
        assert page.errors == []


async def test_accept_language_decides_where_the_browser_lists_no_languages(
        chromium: Chromium, settings: Settings) -> None:
    async with running(settings) as (url, app), connect(chromium) as tools:
        page = await phone(tools, "ru-RU,ru")
        await page.call("Page.addScriptToEvaluateOnNewDocument", {"source":
            "Object.defineProperty(Navigator.prototype, 'languages', {get: function () { return []; }});"
            "Object.defineProperty(Navigator.prototype, 'language', {get: function () { return ''; }});"})
        await page.goto(f"{url}/")
        await page.wait_for("!document.documentElement.classList.contains('i18n-pending')")
        assert await page.evaluate("navigator.languages.length") == 0
        assert (await page.evaluate("document.querySelector('meta[name=accept-language]').content")).startswith("ru")
        assert await page.evaluate("document.documentElement.lang") == "ru"
        assert await page.text("h1") == "Выберите сессию"
        assert page.errors == []


async def test_plurals_cover_every_category_of_each_locale(chromium: Chromium, settings: Settings) -> None:
    """Every plural in every catalogue has exactly the branches Intl.PluralRules uses for its locale."""
    async with running(settings) as (url, app), connect(chromium) as tools:
        page = await tools.new_page(DESKTOP)
        await page.goto(f"{url}/")
        await page.wait_for("!document.documentElement.classList.contains('i18n-pending')")
        problems = await page.evaluate("""(async function () {
          var out = [], any = new Proxy({}, { get: function () { return 3; } });
          for (const [name, locales] of Object.entries(I18N.catalogues)) {
            for (const loc of locales) {
              var file = "/static/i18n/" + (name ? name + "." : "") + loc + ".json";
              var table = await (await fetch(file)).json();
              var cats = JSON.stringify(new Intl.PluralRules(loc).resolvedOptions().pluralCategories.slice().sort());
              for (const [key, msg] of Object.entries(table)) {
                (function walk(parts) {
                  parts.forEach(function (p) {
                    if (!p || !p.plural) return;
                    var sel = JSON.stringify(Object.keys(p.plural).filter(s => s[0] !== "=").sort());
                    if (sel !== cats) out.push(file + " " + key + ": " + sel + ", the locale uses " + cats);
                    Object.values(p.plural).forEach(walk);
                  });
                })(I18N.parse(msg));
                if (/[{}#]/.test(I18N.format(loc, msg, any).replace(/#token=/g, ""))) out.push(file + " " + key + " left markup");
              }
            }
          }
          return out;
        })()""")
        assert problems == []
        # Russian readers: one, few, many.
        counts = await page.evaluate("""Promise.all(["ru", "ar"].map(loc => I18N.load(loc).then(t =>
          [1, 3, 5, 21].map(n => I18N.translator(loc, t)("landing.readers", {count: n})))))""")
        assert counts[0] == ["1 читатель", "3 читателя", "5 читателей", "21 читатель"]
        assert counts[1][0] == "قارئ واحد"


# The characters of ``text`` (and of the page as shown, its options included) that no installed font has:
# each is drawn in the page's own font stack and compared with the empty box a missing glyph gets
# (U+10FFFD, a private-use code point no font draws).
MISSING_GLYPHS = r"""
(function (text) {
  var canvas = document.createElement("canvas"), size = 48;
  canvas.width = canvas.height = size;
  var g = canvas.getContext("2d", { willReadFrequently: true });
  g.font = "28px " + getComputedStyle(document.body).fontFamily;
  function draw(ch) {
    g.clearRect(0, 0, size, size);
    g.fillText(ch, 6, 36);
    return Array.prototype.join.call(g.getImageData(0, 0, size, size).data);
  }
  var box = draw("\u{10FFFD}");
  var shown = document.body.innerText + document.title +
    Array.prototype.map.call(document.querySelectorAll("option"), function (o) { return o.textContent; }).join("");
  var missing = [];
  new Set(shown + text).forEach(function (ch) { if (!/\s/.test(ch) && draw(ch) === box) missing.push(ch); });
  return missing.join("");
})
"""


async def test_every_interface_language_is_drawn_in_real_letters(
        chromium: Chromium, settings: Settings, tmp_path: Path) -> None:
    """A phone in any of the interface's languages (Bengali, Thai, Urdu, Hindi...) sees letters, not boxes:
    the page as shown and every message of its catalogue. The fonts come with `make test`."""
    shots = screenshot_dir(tmp_path)
    async with running(settings) as (url, app), connect(chromium) as tools:
        await say(url, "Good morning, everyone.")
        page = await phone(tools, "en")
        await page.goto(f"{url}/s/main")
        await page.wait_for("!document.documentElement.classList.contains('i18n-pending')")
        locales = await page.evaluate("I18N.catalogues['']")
        assert {"bn", "hi", "th", "ur", "ar", "zh", "ja", "ko"} <= set(locales)
        # The check itself sees a missing glyph (a code point no font has).
        assert await page.evaluate(f"{MISSING_GLYPHS}('\\u{{F0000}}')") == "\U000f0000"
        missing = {}
        for ui in locales:
            await page.goto(f"{url}/s/main?ui={ui}")
            await page.wait_for(f"document.documentElement.lang === '{ui}' && "
                                "document.querySelectorAll('#captions .cap').length === 1")
            await page.click("#settings-btn")
            catalogue = await page.evaluate(f"fetch('/static/i18n/{ui}.json').then(r => r.json())")
            if found := await page.evaluate(f"{MISSING_GLYPHS}({json.dumps(''.join(map(str, catalogue.values())))})"):
                missing[ui] = found
            await page.screenshot(shots / f"delegate-{ui}-settings-360x640.png")
        assert missing == {}
        assert page.errors == []


async def test_staff_and_chair_pages_speak_chinese(
        chromium: Chromium, settings: Settings, tmp_path: Path) -> None:
    shots = screenshot_dir(tmp_path)
    async with running(settings) as (url, app), connect(chromium) as tools:
        await say(url, "Good morning.")
        staff = await phone(tools, "zh-CN,zh", DESKTOP)
        await staff.goto(f"{url}/staff")
        await staff.wait_for("document.documentElement.lang === 'zh' && "
                             "document.querySelector('label[for=token]').textContent !== 'Staff token'")
        assert await staff.text("label[for=token]") == "工作人员令牌"
        await staff.evaluate(f"document.querySelector('#token').value = {STAFF!r};"
                             "document.querySelector('#token-form').requestSubmit()")
        await staff.wait_for("document.querySelectorAll('.session').length === 1")
        assert await staff.text(".session .zip") == "全部下载（.zip）"
        assert await staff.text(".session tr[data-lang=en] th") == "英语（en）\n1 条字幕"
        assert await staff.text("#status") == "共 1 场会议。"
        await staff.wait_for("!document.querySelector('#new-room').hidden")
        assert await staff.text("#new-room summary") == "新建会议室"
        assert await staff.text("#print-cards") == "打印会议室卡片"
        await staff.screenshot(shots / "staff-zh-1280x800.png")

        chair = await phone(tools, "zh-CN,zh", DESKTOP)
        await chair.goto(f"{url}/chair/main#token={CHAIR}")
        await chair.wait_for("document.documentElement.lang === 'zh' && "
                             "!document.documentElement.classList.contains('i18n-pending')")
        assert await chair.text(".brand") == "主持人控制台"
        assert await chair.text("#btn-start") == "开始"
        assert await chair.text("#h-join") == "加入"
        await chair.screenshot(shots / "chair-zh-1280x800.png")
        assert staff.errors == [] and chair.errors == []
