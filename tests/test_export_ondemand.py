"""Transcripts in languages nobody read live: the plan, the merge, the cache, on a real SQLite file.

The translator here is a counting fake whose output is ``[ja] text``: plainly
not a translation, so every line shows where it came from.
"""

from __future__ import annotations

import dataclasses
import sqlite3
from collections.abc import Sequence
from pathlib import Path

import pytest

from assistant.captions import Caption, Session
from assistant.errors import NotFoundError
from assistant.export import export_chunks
from assistant.export.ondemand import (LanguagePlan, default_languages, export_languages, made_by, plan_language,
                                       planned_counts, reachable_languages, transcript_captions)
from assistant.export.progress import ExportProgress
from assistant.export.translating import LoopTranslator, TranslatedText, TranslationRequest
from assistant.store import CachedTranslation, Store
from assistant.store.migrations import MIGRATIONS
from assistant.translate import FakeTranslator, TranslationService

SESSION = Session("main", "Main hall", "en", created_at_ms=1_750_000_000_000, glossary=("CRISPR",))


class CountingTranslator:
    """A BlockingTranslator fake: ``[target] text`` for the pairs it has, and every batch it was asked."""

    def __init__(self, pairs: dict[str, tuple[str, ...]]) -> None:
        self.pairs = pairs
        self.version = "1"  # of every pair's package: another version translates again
        self.calls: list[list[TranslationRequest]] = []

    def targets(self, source: str) -> tuple[str, ...]:
        return self.pairs.get(source, ())

    def edition(self, source: str, target: str) -> str:
        return f"{source}-{target} {self.version}"

    def translate(self, requests: Sequence[TranslationRequest]) -> list[TranslatedText]:
        self.calls.append(list(requests))
        return [TranslatedText(f"[{r.target}] {r.text}", False) for r in requests]

    @property
    def texts(self) -> list[str]:
        return [r.text for call in self.calls for r in call]


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store.open(tmp_path / "captions.sqlite3")
    s.create_session(SESSION)
    return s


def spoken(store: Store, count: int, session: Session = SESSION, **kw: object) -> list[Caption]:
    caps = [Caption(session.id, session.source_lang, i, f"c{i}", i * 1000, i * 1000 + 900, f"Line {i}.",
                    **kw) for i in range(1, count + 1)]  # type: ignore[arg-type]
    for c in caps:
        store.insert_caption(c)
    return caps


def live(store: Store, source: Caption, lang: str, seq: int) -> Caption:
    """A translation the session core made and stored while someone read ``lang``."""
    cap = Caption(source.session, lang, seq, source.id, source.start_ms, source.end_ms, f"live {lang} {source.text}",
                  origin="translation", source_lang="en", source_text=source.text)
    store.insert_caption(cap)
    return cap


def test_migration_adds_the_export_translations_table(store: Store) -> None:
    conn = sqlite3.connect(store.path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
    columns = [r[1] for r in conn.execute("PRAGMA table_info(export_translations)")]
    assert columns == ["session", "caption_id", "source_revision", "lang", "text", "fallback", "engine"]


def test_cache_is_keyed_by_revision_and_keeps_the_latest(store: Store) -> None:
    spoken(store, 2)
    store.save_cached_translations([CachedTranslation("main", "c1", 0, "ja", "[ja] one", False),
                                    CachedTranslation("main", "c2", 0, "ja", "[ja] two", True)])
    found = store.cached_translations("main", "ja", [("c1", 0), ("c2", 0), ("c1", 1)])
    assert {k: (t.text, t.fallback) for k, t in found.items()} == {("c1", 0): ("[ja] one", False),
                                                                   ("c2", 0): ("[ja] two", True)}
    made = {"en": ""}  # what made them (the default: made before translations were marked)
    assert store.count_to_translate("main", "ja", made) == 0 and store.count_to_translate("main", "fr", made) == 2
    assert store.count_to_translate("main", "ja", {"en": "en-ja 2"}) == 2  # another package: all again
    assert store.count_to_translate("main", "ja", {}) == 2  # none known: all
    store.save_cached_translations([CachedTranslation("main", "c1", 1, "ja", "[ja] one, fixed", False)])
    assert store.cached_translations("main", "ja", [("c1", 0)]) == {}  # the older revision's is gone
    assert store.cached_translations("main", "ja", [("c1", 1)])[("c1", 1)].text == "[ja] one, fixed"
    assert store.languages("main") == ["en"]  # nothing reached the live captions table


def test_plan_says_where_each_language_comes_from(store: Store) -> None:
    caps = spoken(store, 3)
    translator = CountingTranslator({"en": ("de", "fr", "ja")})
    for i, c in enumerate(caps, start=1):
        live(store, c, "de", i)  # German was read all along
    live(store, caps[2], "fr", 1)  # French only for the last line
    assert reachable_languages(store, SESSION, translator) == ("de", "fr", "ja")
    assert plan_language(store, SESSION, "en", translator) == LanguagePlan("en", "stored")
    assert plan_language(store, SESSION, "de", translator) == LanguagePlan("de", "stored")
    assert plan_language(store, SESSION, "fr", translator) == LanguagePlan("fr", "translated")
    assert plan_language(store, SESSION, "ja", translator) == LanguagePlan("ja", "translated")
    assert plan_language(store, SESSION, "fr", None) == LanguagePlan("fr", "stored")  # no translator: as stored
    with pytest.raises(NotFoundError, match="'ko'.*exported in: en, de, fr, ja"):
        plan_language(store, SESSION, "ko", translator)
    assert export_languages(store, SESSION, translator) == ["en", "de", "fr", "ja"]
    assert default_languages(store, SESSION, translator) == ["en", "de", "fr"]
    offers_ja = dataclasses.replace(SESSION, languages=("ja", "ko"))  # ko is offered but unreachable
    assert default_languages(store, offers_ja, translator) == ["en", "de", "fr", "ja"]
    assert planned_counts(store, SESSION, [LanguagePlan("de", "stored"), LanguagePlan("fr", "translated")],
                          translator) == (6, 2)


def test_whisper_english_is_exported_as_it_was_heard(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "c.sqlite3")
    zh = Session("zh", "Room", "zh", created_at_ms=1)
    store.create_session(zh)
    caps = spoken(store, 2, zh)
    store.insert_caption(Caption("zh", "en", 1, "w1", 0, 2000, "Heard in English.", origin="whisper-translate",
                                 source_lang="zh"))
    translator = CountingTranslator({"zh": ("en",)})  # a zh→en package installed after the session
    assert plan_language(store, zh, "en", translator) == LanguagePlan("en", "stored")
    assert [c.text for c in transcript_captions(store, zh, LanguagePlan("en", "stored"), translator)] == [
        "Heard in English."]
    assert translator.calls == [] and len(caps) == 2


def test_translated_transcript_merges_live_lines_and_translates_the_rest_once(store: Store) -> None:
    caps = spoken(store, 40)
    fr_live = live(store, caps[30], "fr", 1)
    translator = CountingTranslator({"en": ("fr",)})
    plan = LanguagePlan("fr", "translated")
    progress = ExportProgress("srt", ["fr"], translations_total=planned_counts(store, SESSION, [plan], translator)[1])
    got = list(progress.counted(transcript_captions(store, SESSION, plan, translator, progress), "fr"))
    assert [c.seq for c in got] == list(range(1, 41))  # numbered by the spoken stream
    assert got[30].text == fr_live.text and got[30].origin == "translation"  # what the French readers saw
    assert got[0].text == "[fr] Line 1." and got[0].source_text == "Line 1." and got[0].source_lang == "en"
    assert got[0].id == "c1" and (got[0].start_ms, got[0].end_ms) == (1000, 1900) and got[0].lang == "fr"
    assert len(translator.texts) == 39 and all(len(call) <= 16 for call in translator.calls)
    assert all(r.glossary == ("CRISPR",) and r.source == "en" for call in translator.calls for r in call)
    report = progress.report()
    assert (report.translations_done, report.translations_total, report.captions_done) == (39, 39, 40)
    assert store.latest_seqs("main") == {"en": 40, "fr": 1}  # the live numbering is untouched

    again = list(transcript_captions(store, SESSION, plan, translator))
    assert again == got and len(translator.texts) == 39  # nothing translated twice


def test_a_correction_is_translated_again_alone(store: Store) -> None:
    caps = spoken(store, 20)
    translator = CountingTranslator({"en": ("ja",)})
    plan = LanguagePlan("ja", "translated")
    list(transcript_captions(store, SESSION, plan, translator))
    assert len(translator.texts) == 20
    fixed = dataclasses.replace(caps[7], text="Line eight, corrected.", revision=1)
    store.revise(fixed, before=caps[7].text, author="chair", at_ms=5)
    translator.calls.clear()
    got = list(transcript_captions(store, SESSION, plan, translator))
    assert translator.texts == ["Line eight, corrected."]
    assert got[7].text == "[ja] Line eight, corrected." and got[7].revision == 1


def test_a_new_package_version_or_glossary_term_translates_again(store: Store) -> None:
    spoken(store, 3)
    translator = CountingTranslator({"en": ("ja",)})
    plan = LanguagePlan("ja", "translated")
    list(transcript_captions(store, SESSION, plan, translator))
    kept = store.cached_translations("main", "ja", [("c1", 0)])[("c1", 0)]
    assert kept.engine == made_by("en-ja 1", ("CRISPR",)) != made_by("en-ja 1", ())
    list(transcript_captions(store, SESSION, plan, translator))
    assert len(translator.texts) == 3  # the same package and glossary: kept
    assert planned_counts(store, SESSION, [plan], translator) == (3, 0)
    translator.version = "2"  # the en→ja package was updated
    assert planned_counts(store, SESSION, [plan], translator) == (3, 3)
    list(transcript_captions(store, SESSION, plan, translator))
    assert len(translator.texts) == 6
    more = dataclasses.replace(SESSION, glossary=("CRISPR", "Cas9"))  # the chair added a term
    list(transcript_captions(store, more, plan, translator))
    assert len(translator.texts) == 9 and translator.calls[-1][0].glossary == ("CRISPR", "Cas9")
    list(transcript_captions(store, more, plan, translator))
    assert len(translator.texts) == 9


def test_export_translations_of_an_older_store_are_made_again(store: Store) -> None:
    spoken(store, 2)
    store.save_cached_translations([CachedTranslation("main", "c1", 0, "ja", "[ja] made before", False)])  # engine ""
    translator = CountingTranslator({"en": ("ja",)})
    got = list(transcript_captions(store, SESSION, LanguagePlan("ja", "translated"), translator))
    assert [c.text for c in got] == ["[ja] Line 1.", "[ja] Line 2."] and len(translator.texts) == 2


def test_the_transcript_streams_batch_by_batch(store: Store) -> None:
    """The first caption is out before most of the session is translated: memory stays bounded."""
    spoken(store, 300)
    translator = CountingTranslator({"en": ("ja",)})
    captions = transcript_captions(store, SESSION, LanguagePlan("ja", "translated"), translator, read_batch=64)
    first = next(captions)
    assert first.text == "[ja] Line 1." and len(translator.texts) == 64
    chunks = export_chunks("txt", SESSION, captions, lang="ja")
    assert b"[ja] Line 300." in b"".join(chunks) and len(translator.texts) == 300


def test_auto_session_lines_said_in_the_target_language_are_kept_as_said(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "auto.sqlite3")
    auto = Session("multi", "Panel", "auto", created_at_ms=1)
    store.create_session(auto)
    store.insert_caption(Caption("multi", "auto", 1, "a1", 0, 900, "Bonjour à tous.", source_lang="fr"))
    store.insert_caption(Caption("multi", "auto", 2, "a2", 1000, 1900, "Hello all.", source_lang="en"))
    translator = CountingTranslator({"en": ("de", "fr"), "fr": ("de", "en")})
    assert store.spoken_languages("multi") == ["en", "fr"]
    assert reachable_languages(store, auto, translator) == ("de", "en", "fr")
    got = list(transcript_captions(store, auto, plan_language(store, auto, "fr", translator), translator))
    assert [(c.text, c.origin) for c in got] == [("Bonjour à tous.", "asr"), ("[fr] Hello all.", "translation")]
    assert [(r.source, r.target) for call in translator.calls for r in call] == [("en", "fr")]
    assert planned_counts(store, auto, [plan_language(store, auto, "de", translator)], translator) == (2, 2)


async def test_loop_translator_waits_from_a_worker_thread_while_the_loop_serves() -> None:
    """The server's path: a worker thread asks the service that runs on the loop (FakeTranslator: no translation)."""
    import asyncio

    service = TranslationService(FakeTranslator({("en", "ja")}), workers=1, max_batch=4)
    bridge = LoopTranslator(service, asyncio.get_running_loop())
    requests = [TranslationRequest(f"Line {i}.", "en", "ja") for i in range(10)]
    got = await asyncio.get_running_loop().run_in_executor(None, bridge.translate, requests)
    assert [t.text for t in got] == [f"[ja] Line {i}." for i in range(10)]
    assert bridge.targets("en") == ("ja",)
    with pytest.raises(RuntimeError, match="worker thread"):
        bridge.translate(requests)  # on the loop itself it would wait for itself
    await service.close()


def test_pieces_are_exported_as_lines_from_live_clauses_or_translated_as_whole_lines(store: Store) -> None:
    pieces = [("We will now", False), ("begin,", True), ("and then", True), ("stop.", True), ("Thanks.", False)]
    caps = [Caption("main", "en", i, f"p{i}", i * 1000, i * 1000 + 900, text, continues=cont)
            for i, (text, cont) in enumerate(pieces, 1)]
    for c in caps:
        store.insert_caption(c)
    # live, French got two clauses of the first line (under each clause's last piece, spanning it)
    store.insert_caption(Caption("main", "fr", 1, "p2", 1000, 2900, "Nous allons commencer,", origin="translation",
                                 source_lang="en", source_text="We will now begin,"))
    store.insert_caption(Caption("main", "fr", 2, "p4", 3000, 4900, "puis arrêter.", origin="translation",
                                 source_lang="en", source_text="and then stop.", continues=True))
    translator = CountingTranslator({"en": ("fr", "ja")})
    fr = list(transcript_captions(store, SESSION, plan_language(store, SESSION, "fr", translator), translator))
    assert [(c.seq, c.text) for c in fr] == [(1, "Nous allons commencer, puis arrêter."), (5, "[fr] Thanks.")]
    ja = list(transcript_captions(store, SESSION, plan_language(store, SESSION, "ja", translator), translator))
    assert [c.text for c in ja] == ["[ja] We will now begin, and then stop.", "[ja] Thanks."]
    assert translator.texts == ["Thanks.", "We will now begin, and then stop.", "Thanks."]
    store.revise(dataclasses.replace(caps[2], text="and later", revision=1), before="and then", author="chair",
                 at_ms=1)
    again = list(transcript_captions(store, SESSION, LanguagePlan("ja", "translated"), translator))
    assert again[0].text == "[ja] We will now begin, and later stop." and translator.texts[-1] == again[0].source_text
    txt = b"".join(export_chunks("txt", SESSION, iter(list(store.iter_captions("main", "en"))), lang="en")).decode()
    assert txt.endswith("[00:00:01] We will now begin, and later stop.\n[00:00:05] Thanks.\n")
