"""The floor's questions in headless Chromium: the delegate's question form and the chair console's panel."""

from __future__ import annotations

import contextlib
import dataclasses
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from assistant.config import Settings
from assistant.server.app import make_app
from assistant.translate import FakeTranslator, TranslationService
from tests.browser import DESKTOP, PHONE, Chromium, DevTools, Page, chromium, connect, screenshot_dir, serve
from tests.conftest import CHAIR, ManualClock, bearer

__all__ = ["chromium"]

pytestmark = pytest.mark.browser

QUESTION_ZH = "气候变化会议什么时候开始？"


@contextlib.asynccontextmanager
async def running(settings: Settings, pairs: set[tuple[str, str]] | None = None,
                  translator: Any = None) -> AsyncIterator[tuple[str, web.Application]]:
    own = None
    if translator is None:
        own = translator = TranslationService(FakeTranslator(pairs or set()), workers=1)
    app = make_app(settings, translator=translator, clock=ManualClock().clock)
    try:
        async with serve(app) as url:
            yield url, app
    finally:
        if own is not None:
            await own.close()


async def api(url: str, method: str, path: str, body: dict[str, Any] | None = None,
              headers: dict[str, str] | None = None) -> Any:
    async with aiohttp.ClientSession() as http:
        async with http.request(method, f"{url}{path}", json=body, headers=headers or bearer(CHAIR)) as r:
            assert r.status in (200, 201), await r.text()
            return await r.json()


async def ask(url: str, text: str, lang: str, device: str) -> str:
    made = await api(url, "POST", "/api/sessions/main/questions", {"text": text, "lang": lang},
                     {"X-Device-Id": f"phone-{device}-0123456789"})
    return str(made["question"]["id"])


async def phone(tools: DevTools, url: str, lang: str, *, device: str | None = None, languages: str | None = None) -> Page:
    """A delegate's phone on the English session, reading ``lang``; ``device`` forces its id (tabs share storage)."""
    page = await tools.new_page(PHONE, mobile=True)
    if languages is not None:  # the phone's own languages (navigator.languages and Accept-Language)
        agent = await page.evaluate("navigator.userAgent")
        await page.call("Emulation.setUserAgentOverride", {"userAgent": agent, "acceptLanguage": languages})
    await page.goto(f"{url}/s/main?lang={lang}")
    if device is not None:
        await page.evaluate(f"localStorage.setItem('cc.device', {json.dumps(device)})")
        await page.goto(f"{url}/s/main?lang={lang}")
    await page.wait_for(f"window.questionsDebug && window.questionsDebug.state.lang === {json.dumps(lang)}")
    return page


async def type_question(page: Page, text: str, *, lang: str | None = None, name: str | None = None) -> None:
    await page.evaluate(f"(function(){{var t=document.querySelector('#q-text');t.value={json.dumps(text)};"
                        "t.dispatchEvent(new Event('input'));})()")
    if lang is not None:
        await page.evaluate(f"document.querySelector('#q-lang').value = {json.dumps(lang)}")
    if name is not None:
        await page.evaluate(f"document.querySelector('#q-name').value = {json.dumps(name)}")
    await page.click("#q-send")


async def test_a_delegate_asks_in_french_and_an_english_reader_up_votes_it(
        chromium: Chromium, settings: Settings, tmp_path: Path) -> None:
    shots = screenshot_dir(tmp_path)
    async with running(settings, {("fr", "en"), ("en", "fr")}) as (url, app), connect(chromium) as tools:
        asker = await phone(tools, url, "fr")
        await asker.click("#q-btn")
        await asker.wait_for("!document.querySelector('#questions').hidden")
        assert await asker.evaluate("document.querySelector('#q-btn').getAttribute('aria-expanded')") == "true"
        options = await asker.evaluate("[...document.querySelectorAll('#q-lang option')].map(o => o.value)")
        assert "fr" in options and "en" in options
        await type_question(asker, "Quand commence la pause ?", lang="fr", name="Amélie")
        await asker.wait_for("document.querySelector('#q-status').textContent.startsWith('Sent')")
        assert await asker.text("#q-mine .q-own .q-text") == "Quand commence la pause ?"
        assert await asker.text("#q-mine .q-own .q-tag") == "Waiting for the chair"
        assert await asker.evaluate("document.querySelector('#q-text').value") == ""

        listed = await api(url, "GET", "/api/sessions/main/questions")
        (q,) = listed["questions"]
        assert (q["state"], q["text"], q["source_text"], q["name"]) == (
            "pending", "[en] Quand commence la pause ?", "Quand commence la pause ?", "Amélie")

        await type_question(asker, "Et le déjeuner ?")  # at once: too soon, and the page says when to retry
        await asker.wait_for("document.querySelector('#q-status').classList.contains('error')")
        assert await asker.text("#q-status") == "You asked a moment ago. You can ask again in 30 s."

        await api(url, "PATCH", f"/api/sessions/main/questions/{q['id']}", {"action": "approve"})
        await asker.wait_for("document.querySelectorAll('#q-list .q-item').length === 1")
        assert await asker.text("#q-list .q-item .q-text") == "Quand commence la pause ?"
        await asker.wait_for("document.querySelector('#q-mine .q-own').dataset.state === 'approved'")

        reader = await phone(tools, url, "en", device="another-phone-in-the-room")
        await reader.click("#q-btn")
        await reader.wait_for("document.querySelectorAll('#q-list .q-item').length === 1")
        assert await reader.text("#q-list .q-item .q-text") == "[en] Quand commence la pause ?"
        assert await reader.evaluate("[...document.querySelectorAll('#q-list .q-meta span')].map(s => s.textContent)"
                                     ) == ["Amélie", "machine translated"]
        assert await reader.text("#q-list .q-orig summary") == "Original · Français"
        assert await reader.evaluate("document.querySelector('#q-badge').textContent") == "1"
        await reader.click("#q-list .q-vote")
        await reader.wait_for("document.querySelector('#q-list .q-vote').getAttribute('aria-pressed') === 'true'")
        await asker.wait_for("document.querySelector('#q-list .q-votes').textContent === '1'")
        await reader.wait_for("document.querySelector('#q-list .q-votes').textContent === '1'")
        assert await reader.evaluate("document.querySelector('#q-list .q-vote').disabled") is True

        await api(url, "PATCH", f"/api/sessions/main/questions/{q['id']}", {"action": "answering"})
        await reader.click("#q-close")
        await reader.wait_for("!document.querySelector('#q-now').hidden")
        assert await reader.text("#q-now strong") == "Now answering"
        assert await reader.text("#q-now .q-now-text") == "[en] Quand commence la pause ?"
        await reader.screenshot(shots / "questions-reader-360x640.png")
        await asker.screenshot(shots / "questions-asker-360x640.png")

        # A small phone (320 px): the question being answered keeps room to be read (under a long label),
        # reads from its start in a right-to-left interface, and the form holds its long "Send" in Russian.
        small = await tools.new_page((320, 568), mobile=True)
        await small.call("Emulation.setTouchEmulationEnabled", {"enabled": True, "maxTouchPoints": 5})
        for ui in ("ru", "ar"):
            await small.goto(f"{url}/s/main?lang=en&ui={ui}")
            await small.wait_for("!document.querySelector('#q-now').hidden")
            assert await small.evaluate("document.querySelector('.q-now-text').clientWidth") >= 128
            assert await small.evaluate("getComputedStyle(document.querySelector('.q-now-text')).direction") == "ltr"
            await small.click("#q-btn")
            await small.wait_for("!document.querySelector('#questions').hidden")
            assert await small.evaluate(OUTSIDE_THE_FORM) == [], ui
            # A finger-wide "Original · Français" on a touch screen, as every other control.
            await small.wait_for("document.querySelectorAll('#q-list .q-orig summary').length === 1")
            assert await small.evaluate("document.querySelector('#q-list .q-orig summary').getBoundingClientRect()"
                                        ".height") >= 44
            await small.screenshot(shots / f"questions-form-{ui}-320x568.png")
        assert asker.errors == [] and reader.errors == [] and small.errors == []


# What of the question form sticks out of it (or the page wider than the screen).
OUTSIDE_THE_FORM = """(function () {
  var f = document.querySelector('#q-form'), b = f.getBoundingClientRect(), s = getComputedStyle(f);
  var left = b.left + parseFloat(s.borderLeftWidth) + parseFloat(s.paddingLeft) - 1;
  var right = b.right - parseFloat(s.borderRightWidth) - parseFloat(s.paddingRight) + 1;
  return Array.from(f.querySelectorAll('*')).filter(function (e) {
    var r = e.getBoundingClientRect(); return r.width > 0 && (r.left < left || r.right > right);
  }).map(function (e) { return e.id || e.tagName.toLowerCase(); }).concat(
    document.documentElement.scrollWidth > document.documentElement.clientWidth ? ['the page'] : []);
})()"""


async def test_the_chair_reviews_in_english_with_the_original_beside_and_decides(
        chromium: Chromium, settings: Settings, tmp_path: Path) -> None:
    async with running(settings, {("zh", "en"), ("en", "fr")}) as (url, app), connect(chromium) as tools:
        chair = await tools.new_page(DESKTOP)
        await chair.goto(f"{url}/chair/main#token={CHAIR}")
        await chair.wait_for("document.querySelector('#conn').dataset.state === 'live'")
        await chair.wait_for("!!document.querySelector('#questions-panel')")
        assert "No questions yet" in await chair.text("#questions-panel")
        first = await ask(url, "我们什么时候开始？", "zh", "a")
        second = await ask(url, "When do we start?", "en", "b")
        third = await ask(url, "Is there coffee?", "en", "c")
        pending = "#questions-groups [data-group=pending] .cq-item"
        await chair.wait_for(f"document.querySelectorAll('{pending}').length === 3 && "
                             f"!document.querySelector('{pending} .cq-tag')")
        assert await chair.text("#questions-count") == "3 to review"
        item = f"#questions-groups .cq-item[data-id='{first}']"
        assert await chair.text(f"{item} .cq-text") == "[en] 我们什么时候开始？"
        assert await chair.text(f"{item} .cq-orig") == "Original (中文)\n我们什么时候开始？"

        await chair.click(f"{item} button[data-action=approve]")
        await chair.click(f"#questions-groups .cq-item[data-id='{third}'] button[data-action=approve]")
        approved = "#questions-groups [data-group=approved] .cq-item"
        await chair.wait_for(f"document.querySelectorAll('{approved}').length === 2")
        for n in range(2):  # delegates up-vote the coffee question: it goes first
            await api(url, "POST", f"/api/sessions/main/questions/{third}/vote",
                      headers={"X-Device-Id": f"voter-{n}-0123456789"})
        # The first vote's frame already puts it first: wait for the second's count as well.
        await chair.wait_for(f"document.querySelector('{approved}').dataset.id === '{third}' && "
                             f"document.querySelector('{approved} .cq-votes').textContent === '▲ 2 votes'")

        # The English duplicate is merged into the Chinese question; its asker's interest counts there.
        await chair.click(f"#questions-groups .cq-item[data-id='{second}'] button[data-action=merge]")
        await chair.wait_for("!!document.querySelector('.cq-merge-into')")
        await chair.evaluate(f"document.querySelector('.cq-merge-into').value = '{first}'")
        await chair.click("button[data-action=merge-confirm]")
        await chair.wait_for(f"document.querySelector(\"#questions-groups .cq-item[data-id='{second}']\")"
                             ".dataset.state === 'merged'")
        # The kept question's new count is the next frame after the merge's.
        await chair.wait_for(f"document.querySelector(\"{item} .cq-votes\").textContent === '▲ 1 vote'")

        await chair.click(f"{item} button[data-action=answering]")
        await chair.wait_for(f"document.querySelector('#questions-groups [data-group=answering] .cq-item')"
                             f".dataset.id === '{first}'")
        await chair.click(f"#questions-groups .cq-item[data-id='{third}'] button[data-action=reject]")
        await chair.wait_for(f"document.querySelector(\"#questions-groups .cq-item[data-id='{third}']\")"
                             ".dataset.state === 'rejected'")
        states = {q["id"]: q["state"] for q in (await api(url, "GET", "/api/sessions/main/questions"))["questions"]}
        assert states == {first: "answering", second: "merged", third: "rejected"}
        await chair.screenshot(screenshot_dir(tmp_path) / "questions-console-1280x800.png")
        assert chair.errors == []


@pytest.mark.model
async def test_a_chinese_phone_asks_the_english_room_through_the_real_zh_en_package(
        chromium: Chromium, settings: Settings) -> None:
    from assistant.server.engines import build_translator

    packages = Path("data/argos-packages")  # installed by `make` (the shipped zh→en example)
    assert any(packages.glob("*zh_en*")), "run `make languages` to install the shipped zh→en package"
    real = dataclasses.replace(settings, translation=dataclasses.replace(settings.translation, packages_dir=packages))
    service = build_translator(real)
    assert service is not None
    try:
        async with running(real, translator=service) as (url, app), connect(chromium) as tools:
            asker = await phone(tools, url, "en", languages="zh-CN,zh")
            await asker.click("#q-btn")
            assert await asker.evaluate("document.querySelector('#q-lang').value") == "zh"  # the phone's language
            await type_question(asker, QUESTION_ZH)
            # The phone's interface is Chinese too: the zh catalogue's "questions.sent".
            await asker.wait_for("document.querySelector('#q-status').textContent.startsWith('已发送')")

            chair = await tools.new_page(DESKTOP)
            await chair.goto(f"{url}/chair/main#token={CHAIR}")
            item = "#questions-groups [data-group=pending] .cq-item"
            await chair.wait_for(f"document.querySelector('{item}') && !document.querySelector('{item} .cq-tag')",
                                 timeout=60)
            english = await chair.text(f"{item} .cq-text")
            assert "climate" in english.lower(), english
            assert QUESTION_ZH in await chair.text(f"{item} .cq-orig")
            await chair.click(f"{item} button[data-action=approve]")

            reader = await phone(tools, url, "en", device="an-english-reader-phone")
            await reader.click("#q-btn")
            await reader.wait_for("document.querySelectorAll('#q-list .q-item').length === 1")
            assert await reader.text("#q-list .q-item .q-text") == english
            assert "machine translated" in await reader.text("#q-list .q-item .q-meta")
            assert asker.errors == [] and chair.errors == [] and reader.errors == []
    finally:
        await service.close()
