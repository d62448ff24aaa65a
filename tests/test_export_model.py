"""A Chinese session exported in English after the event, with the real Argos zh→en package (OPUS-MT based)."""

from __future__ import annotations

import argparse
import io
import json
from pathlib import Path

import pytest

from assistant.captions import Caption, Session
from assistant.export import configure_export_parser, filename, run_export_command
from assistant.export.ondemand import LanguagePlan, planned_counts
from assistant.export.translating import ThreadedTranslator
from assistant.store import Store
from assistant.translate import (CachedTranslator, CTranslate2ArgosTranslator, EngineSettings, PackageRegistry,
                                 PivotTranslator, TranslationService)
from tests.helpers.argos_builder import zh_en_package_dir

pytestmark = pytest.mark.model

SESSION = Session("zh-room", "分会场", "zh", created_at_ms=1_750_000_000_000)
SPOKEN = [("今天我们讨论人工智能的未来。", {"future", "artificial", "intelligence"}),
          ("欢迎大家来到这次会议。", {"welcome", "meeting"}),
          ("我们的下一位演讲者来自北京大学。", {"speaker", "beijing", "university"})]


def test_chinese_session_exported_in_english_by_the_real_model(
        tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    store = Store.open(tmp_path / "captions.sqlite3")
    store.create_session(SESSION)
    for i, (text, _) in enumerate(SPOKEN, start=1):
        store.insert_caption(Caption(SESSION.id, "zh", i, f"c{i}", i * 3000, i * 3000 + 2500, text))
    registry = PackageRegistry(zh_en_package_dir(tmp_path_factory))

    def service() -> TranslationService:
        engine = CTranslate2ArgosTranslator(registry, EngineSettings(intra_threads=2))
        return TranslationService(PivotTranslator(CachedTranslator(engine)), workers=1)

    parser = argparse.ArgumentParser()
    configure_export_parser(parser)
    err = io.StringIO()
    with ThreadedTranslator(service) as translator:
        args = parser.parse_args([SESSION.id, "--format", "json", "--lang", "en", "--out", str(tmp_path)])
        code = run_export_command(args, store, translator=translator, stdout=io.StringIO(), stderr=err)
        assert planned_counts(store, SESSION, [LanguagePlan("en", "translated")], translator)[1] == 0  # all kept
    assert code == 0, err.getvalue()
    data = json.loads((tmp_path / filename(SESSION, "en", "json")).read_text("utf-8"))
    assert data["machine_translated"] is True and data["translated_from"] == "zh"
    for caption, (chinese, content_words) in zip(data["captions"], SPOKEN, strict=True):
        words = {w.strip(".,!?").lower() for w in caption["text"].split()}
        assert content_words <= words, caption["text"]
        assert caption["source_text"] == chinese and caption["origin"] == "translation"
    assert store.languages(SESSION.id) == ["zh"]
