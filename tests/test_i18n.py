"""The interface catalogues (``web/static/i18n``) without a browser: complete, well formed, all used, no strays.

Each catalogue is one JSON object per locale; its English file is the reference. A locale lacking a key
or carrying one English lacks fails, as does a message whose placeholders differ from the English one,
a key the pages never use, or a key the pages use that the catalogue lacks. Plural categories per
locale are checked against the browser's ``Intl.PluralRules`` in ``test_pages_i18n.py``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

import pytest

from assistant.server.pages import WEB_DIR, accept_languages

I18N_DIR = WEB_DIR / "static" / "i18n"
I18N_JS = WEB_DIR / "static" / "i18n.js"
UN_AND_MORE = {"ar", "en", "es", "fr", "ru", "zh", "pt", "de", "ja", "ko", "hi", "bn", "ur", "fa", "tr", "id", "ms",
               "vi", "th", "kk", "uz", "sw", "it", "uk"}
PLURAL_SELECTORS = {"zero", "one", "two", "few", "many", "other"}
ATTRS = ("title", "aria-label", "placeholder", "alt")


@dataclass(frozen=True)
class Catalogue:
    """One catalogue: its name ("" for the public pages), the files that use it, and its locales."""

    name: str
    pages: tuple[str, ...]
    scripts: tuple[str, ...]

    def path(self, locale: str) -> Path:
        return I18N_DIR / (f"{self.name}.{locale}.json" if self.name else f"{locale}.json")

    def messages(self, locale: str) -> dict[str, str]:
        data = json.loads(self.path(locale).read_text(encoding="utf-8"))
        assert isinstance(data, dict), f"{self.path(locale).name} must hold one JSON object"
        return data


CATALOGUES = (
    Catalogue("", ("index.html", "delegate.html", "display.html"),
              ("landing.js", "delegate.js", "display.js", "questions.js", "room.js")),
    Catalogue("staff", ("staff.html",), ("staff.js", "staff-programme.js")),
    Catalogue("chair", ("chair.html",), ("chair.js", "chair-state.js", "chair-captions.js", "chair-socket.js",
                                          "chair-settings.js", "chair-join.js", "chair-audio.js", "chair-questions.js",
                                          "chair-talk.js")),
)


def declared_locales() -> dict[str, list[str]]:
    """The CATALOGUES table of i18n.js: catalogue name -> locales the pages may ask for."""
    source = I18N_JS.read_text(encoding="utf-8")
    block = re.search(r"var CATALOGUES = \{(.*?)\};", source, re.S)
    assert block, "i18n.js has no CATALOGUES table"
    found: dict[str, list[str]] = {}
    for name, body in re.findall(r'(""|\w+)\s*:\s*\[([^\]]*)\]', block.group(1)):
        found[name.strip('"')] = re.findall(r'"([a-z]{2,3})"', body)
    return found


def test_every_declared_locale_has_a_file_and_every_file_is_declared() -> None:
    declared = declared_locales()
    assert set(declared) == {c.name for c in CATALOGUES}
    assert UN_AND_MORE <= set(declared[""]), f"public pages lack {sorted(UN_AND_MORE - set(declared['']))}"
    for cat in CATALOGUES:
        assert "en" in declared[cat.name] and "zh" in declared[cat.name]
        on_disk = {p.name for p in I18N_DIR.glob("*.json")
                   if (p.stem.split(".")[0] == cat.name if cat.name else "." not in p.stem)}
        assert on_disk == {cat.path(loc).name for loc in declared[cat.name]}, cat.name or "public"


@pytest.mark.parametrize("cat", CATALOGUES, ids=lambda c: c.name or "public")
def test_each_locale_has_exactly_the_english_keys(cat: Catalogue) -> None:
    english = cat.messages("en")
    problems = []
    for locale in declared_locales()[cat.name]:
        have = cat.messages(locale)
        missing = sorted(set(english) - set(have))
        stray = sorted(set(have) - set(english))
        if missing or stray:
            problems.append(f"{cat.path(locale).name}: missing {missing}, stray {stray}")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("cat", CATALOGUES, ids=lambda c: c.name or "public")
def test_messages_parse_and_keep_the_english_placeholders(cat: Catalogue) -> None:
    english = {k: placeholders(v) for k, v in cat.messages("en").items()}
    problems = []
    for locale in declared_locales()[cat.name]:
        for key, message in cat.messages(locale).items():
            where = f"{cat.path(locale).name} {key}"
            if not isinstance(message, str) or not message.strip() or message != message.strip():
                problems.append(f"{where}: empty, not a string, or padded with spaces: {message!r}")
                continue
            try:
                found = placeholders(message)
            except ValueError as exc:
                problems.append(f"{where}: {exc}")
                continue
            if key in english and found != english[key]:
                problems.append(f"{where}: placeholders {sorted(found)}, English has {sorted(english[key])}")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("cat", CATALOGUES, ids=lambda c: c.name or "public")
def test_every_key_is_used_and_every_used_key_exists(cat: Catalogue) -> None:
    keys = set(cat.messages("en"))
    used: set[str] = set()
    for page in cat.pages:
        used |= set(MarkedText.of(WEB_DIR / page).keys)
    for script in cat.scripts:
        used |= set(re.findall(r'"([a-z]+(?:\.[a-z_]+)+)"', (WEB_DIR / "static" / script).read_text(encoding="utf-8")))
    used = {k for k in used if k.split(".")[0] in {key.split(".")[0] for key in keys}}
    assert not used - keys, f"used but not in the catalogue: {sorted(used - keys)}"
    assert not keys - used, f"in the catalogue but never used: {sorted(keys - used)}"


@pytest.mark.parametrize("cat", CATALOGUES, ids=lambda c: c.name or "public")
def test_the_english_in_the_html_is_the_english_catalogue(cat: Catalogue) -> None:
    """The pages carry their English text too (before the catalogue loads, and for readers of the source)."""
    english = cat.messages("en")
    problems = []
    for page in cat.pages:
        for key, text in MarkedText.of(WEB_DIR / page).texts:
            if text is not None and key in english and text != english[key]:
                problems.append(f"{page} {key}: {text!r} != {english[key]!r}")
    assert not problems, "\n".join(problems)


def test_accept_language_is_ranked_and_cleaned() -> None:
    assert accept_languages("zh-CN,zh;q=0.9,en-US;q=0.8,en;q=0.7") == ["zh-CN", "zh", "en-US", "en"]
    assert accept_languages("en;q=0.5, kk-KZ, ru;q=0.8") == ["kk-KZ", "ru", "en"]
    assert accept_languages('ru;q=0, fr;q=x, "><script>, *, de') == ["de"]
    assert accept_languages("") == []
    assert len(accept_languages(",".join(f"l{'a' * (i % 5)}" for i in range(40)))) == 8


# -- helpers ---------------------------------------------------------------------------------------------------

def placeholders(message: str) -> frozenset[str]:
    """The argument names of an ICU-lite message (see i18n.js); raises ValueError if it is malformed."""
    names: set[str] = set()
    _parse(message, 0, names, in_plural=False, top=True)
    return frozenset(names)


def _parse(text: str, pos: int, names: set[str], *, in_plural: bool, top: bool = False) -> int:
    while pos < len(text):
        ch = text[pos]
        if ch == "}":
            if top:
                raise ValueError(f"unbalanced '}}' at {pos}")
            return pos
        if ch == "{":
            pos = _argument(text, pos, names)
            continue
        pos += 1
    if not top:
        raise ValueError("unclosed '{'")
    return pos


def _argument(text: str, pos: int, names: set[str]) -> int:
    close = text.find("}", pos)
    comma = text.find(",", pos)
    if close < 0:
        raise ValueError("unclosed '{'")
    if comma < 0 or comma > close:
        name = text[pos + 1:close].strip()
        if not re.fullmatch(r"[a-z_]+", name):
            raise ValueError(f"bad argument name {name!r}")
        names.add(name)
        return close + 1
    name = text[pos + 1:comma].strip()
    rest = text.find(",", comma + 1)
    if rest < 0 or text[comma + 1:rest].strip() != "plural" or not re.fullmatch(r"[a-z_]+", name):
        raise ValueError(f"only {{name}} and {{name, plural, ...}} are understood, at {pos}")
    names.add(name)
    pos = rest + 1
    selectors = []
    while True:
        while pos < len(text) and text[pos].isspace():
            pos += 1
        if pos >= len(text):
            raise ValueError("unclosed plural")
        if text[pos] == "}":
            break
        open_ = text.find("{", pos)
        if open_ < 0:
            raise ValueError("plural branch without '{'")
        selector = text[pos:open_].strip()
        if selector not in PLURAL_SELECTORS and not re.fullmatch(r"=\d+", selector):
            raise ValueError(f"unknown plural selector {selector!r}")
        selectors.append(selector)
        pos = _parse(text, open_ + 1, names, in_plural=True) + 1
    if "other" not in selectors:
        raise ValueError("a plural needs an 'other' branch")
    return pos + 1


class MarkedText(HTMLParser):
    """The data-i18n markers of a page: ``keys`` in order, ``texts`` as (key, English text or None)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.keys: list[str] = []
        self.texts: list[tuple[str, str | None]] = []
        self._open: list[tuple[str, str, list[str]]] = []  # (tag, key, text parts) of marked elements

    @classmethod
    def of(cls, path: Path) -> "MarkedText":
        parser = cls()
        parser.feed(path.read_text(encoding="utf-8"))
        parser.close()
        return parser

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        for attr in ATTRS:
            key = a.get(f"data-i18n-{attr}")
            if key:
                self.keys.append(key)
                self.texts.append((key, a.get(attr)))
        key = a.get("data-i18n")
        if key:
            self.keys.append(key)
            self._open.append((tag, key, []))
        elif self._open and tag not in {"br", "img", "input", "meta", "link"}:
            self._open.append((tag, "", []))

    def handle_endtag(self, tag: str) -> None:
        while self._open:
            open_tag, key, parts = self._open.pop()
            if key:
                self.texts.append((key, " ".join("".join(parts).split())))
            if self._open:
                self._open[-1][2].extend(parts)
            if open_tag == tag:
                break

    def handle_data(self, data: str) -> None:
        if self._open:
            self._open[-1][2].append(data)
