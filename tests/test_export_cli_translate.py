"""``assistant export`` into languages nobody read live, on a real SQLite file, with a tqdm bar.

The translation service runs the shipped FakeTranslator (output ``[ja] text``:
plainly not a translation) on a loop thread of its own, as the command does.
"""

from __future__ import annotations

import argparse
import io
import json
import zipfile
from pathlib import Path

import pytest

from assistant.captions import Caption, Session
from assistant.export import FORMATS, configure_export_parser, filename, run_export_command
from assistant.export.translating import ThreadedTranslator
from assistant.store import Store
from assistant.translate import FakeTranslator, TranslationService

SESSION = Session("day1", "Day One", "en", created_at_ms=1_714_550_000_000)


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store.open(tmp_path / "captions.sqlite3")
    s.create_session(SESSION)
    for i in range(1, 31):
        s.insert_caption(Caption("day1", "en", i, f"c{i}", i * 1000, i * 1000 + 900, f"Line {i}."))
    return s


def run(store: Store, fake: FakeTranslator, *argv: str) -> tuple[int, str]:
    parser = argparse.ArgumentParser(prog="assistant export")
    configure_export_parser(parser)
    err = io.StringIO()
    with ThreadedTranslator(lambda: TranslationService(fake, workers=1, max_batch=16)) as translator:
        code = run_export_command(parser.parse_args(argv), store, translator=translator, stdout=io.StringIO(),
                                  stderr=err)
    return code, err.getvalue()


def texts_sent(fake: FakeTranslator) -> list[str]:
    return [text for _, _, texts in fake.batches for text in texts]


def test_a_language_nobody_read_with_a_progress_bar_then_from_the_store(store: Store, tmp_path: Path) -> None:
    fake = FakeTranslator({("en", "ja"), ("en", "fr")})
    code, err = run(store, fake, "day1", "--format", "json", "--lang", "ja", "--out", str(tmp_path))
    assert code == 0, err
    data = json.loads((tmp_path / filename(SESSION, "ja", "json")).read_text("utf-8"))
    assert [c["text"] for c in data["captions"]] == [f"[ja] Line {i}." for i in range(1, 31)]
    assert "day-one.ja.json: 100%" in err and "30/30" in err and "translated 30/30" in err  # tqdm's bar
    assert "30 translated now" in err
    assert len(texts_sent(fake)) == 30

    store.revise(Caption("day1", "en", 7, "c7", 7000, 7900, "Line seven, fixed.", revision=1),
                 before="Line 7.", author="chair", at_ms=1)
    code, err = run(store, fake, "day1", "--format", "txt", "--lang", "ja", "--out", str(tmp_path))
    assert code == 0 and texts_sent(fake)[30:] == ["Line seven, fixed."]
    assert "[ja] Line seven, fixed." in (tmp_path / filename(SESSION, "ja", "txt")).read_text("utf-8")
    assert store.languages("day1") == ["en"]


def test_zip_of_chosen_languages_and_all(store: Store, tmp_path: Path) -> None:
    fake = FakeTranslator({("en", "ja"), ("en", "fr")})
    code, err = run(store, fake, "day1", "--format", "zip", "--lang", "en,fr", "--out", str(tmp_path / "a.zip"))
    assert code == 0, err
    names = zipfile.ZipFile(tmp_path / "a.zip").namelist()
    assert names == [filename(SESSION, lang, fmt) for lang in ("en", "fr") for fmt in FORMATS]
    assert len(texts_sent(fake)) == 30  # five formats of French, translated once
    code, err = run(store, fake, "day1", "--format", "zip", "--lang", "all", "--out", str(tmp_path / "b.zip"))
    assert code == 0 and {n.split(".")[1] for n in zipfile.ZipFile(tmp_path / "b.zip").namelist()} == {
        "en", "fr", "ja"}


def test_default_languages_and_unreachable_ones(store: Store, tmp_path: Path) -> None:
    fake = FakeTranslator({("en", "ja")})
    code, err = run(store, fake, "day1", "--format", "txt", "--out", str(tmp_path) + "/")
    assert code == 0 and [p.name for p in tmp_path.iterdir() if p.suffix == ".txt"] == ["day-one.en.txt"]
    store.update_session("day1", languages=("ja",))  # offered always: in the default set too
    code, err = run(store, fake, "day1", "--format", "txt", "--out", str(tmp_path) + "/")
    assert code == 0 and (tmp_path / "day-one.ja.txt").is_file()
    code, err = run(store, fake, "day1", "--lang", "ko")
    assert code == 1 and "'ko'" in err and "en, ja" in err and "assistant languages add" in err
