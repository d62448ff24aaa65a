"""``assistant export``: files written, a progress bar on stderr, clear errors, over an in-memory store."""

from __future__ import annotations

import argparse
import io
import json
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

import srt

from assistant.captions import Caption, Session
from assistant.errors import StoreError
from assistant.export import FORMATS, configure_export_parser, filename, run_export_command
from assistant.export.memorystore import MemoryStore, synthetic_captions

LONG = Session("day1", "Day One — Plenary", "en", created_at_ms=1_714_550_000_000)
SHORT = Session("side", "Side room", "ru", created_at_ms=1_714_560_000_000)
LONG_CAPTIONS = 2500  # above the progress threshold


def make_store() -> MemoryStore:
    store = MemoryStore([LONG, SHORT])
    store.add_captions(synthetic_captions(LONG, "en", LONG_CAPTIONS))
    store.add_captions(synthetic_captions(LONG, "fr", 30))
    store.add_captions(synthetic_captions(SHORT, "ru", 3))
    return store


def run(store: MemoryStore, *argv: str, stdout: TextIO | None = None) -> tuple[int, str, str]:
    parser = argparse.ArgumentParser(prog="assistant export")
    configure_export_parser(parser)
    out = stdout if stdout is not None else io.StringIO()
    err = io.StringIO()
    code = run_export_command(parser.parse_args(argv), store, stdout=out, stderr=err)
    return code, out.getvalue() if isinstance(out, io.StringIO) else "", err.getvalue()


def test_writes_one_file_and_reports_progress(tmp_path: Path) -> None:
    target = tmp_path / "out.srt"
    code, _, err = run(make_store(), "day1", "--format", "srt", "--lang", "en", "--out", str(target))
    assert code == 0
    parsed = list(srt.parse(target.read_text("utf-8")))
    assert len(parsed) == LONG_CAPTIONS and parsed[-1].content.endswith(f" {LONG_CAPTIONS}")
    # A tqdm bar on stderr, named after the file, ending full.
    assert f"{target.name}: 100%" in err and f"{LONG_CAPTIONS}/{LONG_CAPTIONS}" in err
    assert f"wrote {target} ({LONG_CAPTIONS} captions" in err
    assert list(tmp_path.iterdir()) == [target]  # no .part left behind


def test_every_language_into_a_directory(tmp_path: Path) -> None:
    code, _, err = run(make_store(), "day1", "--format", "json", "--out", str(tmp_path / "new") + "/")
    assert code == 0
    written = sorted(p.name for p in (tmp_path / "new").iterdir())
    assert written == sorted(filename(LONG, lang, "json") for lang in ("en", "fr"))
    fr = json.loads((tmp_path / "new" / filename(LONG, "fr", "json")).read_bytes())
    assert fr["caption_count"] == 30 and fr["machine_translated"] is True
    assert f"{filename(LONG, 'en', 'json')}: 100%" in err
    assert f"{filename(LONG, 'fr', 'json')}:" not in err  # a short export that translates nothing: no bar


def test_zip_of_everything(tmp_path: Path) -> None:
    code, _, err = run(make_store(), "day1", "--format", "zip", "--out", str(tmp_path), "--quiet")
    assert code == 0 and err == ""
    archive = zipfile.ZipFile(tmp_path / filename(LONG, None, "zip"))
    assert sorted(archive.namelist()) == sorted(filename(LONG, lang, fmt) for lang in ("en", "fr") for fmt in FORMATS)


def test_zip_progress_counts_all_entries(tmp_path: Path) -> None:
    code, _, err = run(make_store(), "day1", "--format", "zip", "--lang", "en", "--out", str(tmp_path / "x.zip"))
    assert code == 0
    total = LONG_CAPTIONS * len(FORMATS)
    assert "x.zip: 100%" in err and f"{total}/{total}" in err
    assert f"({total} captions" in err


def test_txt_to_stdout_without_timestamps() -> None:
    raw = io.BytesIO()
    stdout = io.TextIOWrapper(raw, encoding="utf-8")
    code, _, err = run(make_store(), "side", "--out", "-", "--no-timestamps", stdout=stdout)
    assert code == 0 and "wrote stdout (3 captions" in err
    text = raw.getvalue().decode("utf-8")
    assert text.startswith("Side room\n") and text.endswith("Добро пожаловать на открытие конференции 3\n")
    assert "[00:" not in text


def test_list_sessions() -> None:
    code, out, _ = run(make_store(), "--list")
    assert code == 0
    assert out.splitlines() == ["ID\tDATE\tLANGUAGES\tTITLE",
                                "day1\t2024-05-01 07:53 UTC\ten,fr\tDay One — Plenary",
                                "side\t2024-05-01 10:40 UTC\tru\tSide room"]


def test_list_with_no_sessions() -> None:
    code, out, err = run(MemoryStore(), "--list")
    assert code == 0 and out == "" and "no sessions" in err


def test_errors_say_what_to_do(tmp_path: Path) -> None:
    store = make_store()
    code, _, err = run(store)
    assert code == 2 and "--list" in err
    code, _, err = run(store, "nope")
    assert code == 1 and "'nope'" in err and "--list" in err
    code, _, err = run(store, "day1", "--lang", "de")
    assert code == 1 and "'de'" in err and "en, fr" in err  # no translator: the stored languages only
    code, _, err = run(store, "day1", "--out", str(tmp_path / "one.txt"))
    assert code == 2 and "--lang" in err and "directory" in err
    code, _, err = run(store, "day1", "--lang", "en", "--out", str(tmp_path / "missing" / "x.txt"))
    assert code == 1 and "writable" in err
    store.add_session(Session("empty", "Empty", "en", 0))
    code, _, err = run(store, "empty")
    assert code == 1 and "no captions yet" in err


class FailingStore(MemoryStore):
    """A store whose caption cursor dies half-way, as a corrupt database might."""

    def iter_captions(self, session_id: str, lang: str) -> Iterator[Caption]:
        for caption in super().iter_captions(session_id, lang):
            if caption.seq == 100:
                raise StoreError("caption table is corrupt; restore the database from a backup")
            yield caption


def test_failed_export_leaves_no_file(tmp_path: Path) -> None:
    store = FailingStore([LONG], synthetic_captions(LONG, "en", 500))
    target = tmp_path / "t.vtt"
    code, _, err = run(store, "day1", "--format", "vtt", "--out", str(target))
    assert code == 1 and "corrupt" in err
    assert list(tmp_path.iterdir()) == []
