"""The SQLite store on real temporary files: migrations, seq numbering, corrections, audit, streaming reads."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

import dataclasses

from assistant.captions import Caption, Session
from assistant.errors import NotFoundError, StoreError
from assistant.store import Store
from assistant.store.migrations import MIGRATIONS


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store.open(tmp_path / "sub" / "captions.sqlite3")
    s.create_session(Session(id="main", title="Main", source_lang="en", created_at_ms=1))
    return s


def test_created_on_first_use_in_wal_mode_at_the_latest_schema(store: Store) -> None:
    conn = sqlite3.connect(store.path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)


def cap(lang: str, seq: int, cid: str, text: str, start_ms: int = 0, **kw: object) -> Caption:
    return Caption("main", lang, seq, cid, start_ms, start_ms + 900, text, **kw)  # type: ignore[arg-type]


def test_seq_counts_per_language_and_survives_reopen(store: Store) -> None:
    store.insert_caption(cap("en", 1, "c1", "One."))
    store.insert_caption(cap("en", 2, "c2", "Two.", 900))
    store.insert_caption(cap("fr", 1, "c1", "Un.", origin="translation", source_lang="en", source_text="One."))
    store.close()
    again = Store.open(store.path)
    assert [c.text for c in again.iter_captions("main", "en")] == ["One.", "Two."]
    assert again.latest_seqs("main") == {"en": 2, "fr": 1} and again.languages("main") == ["en", "fr"]
    assert [c.id for c in again.untranslated("main", "en", "fr", 10)] == ["c2"]
    with pytest.raises(StoreError, match="stored already"):  # one version of a caption per language
        again.insert_caption(cap("fr", 2, "c1", "Un.", origin="translation"))
    with pytest.raises(StoreError, match="stored already"):  # one caption per seq
        again.insert_caption(cap("fr", 1, "c9", "Neuf.", origin="translation"))


def test_pieces_keep_their_line_and_a_clause_translation_covers_its_pieces(store: Store) -> None:
    store.insert_caption(cap("en", 1, "c1", "We will now", 0))
    store.insert_caption(cap("en", 2, "c2", "begin.", 900, continues=True))
    store.insert_caption(cap("en", 3, "c3", "Welcome.", 1800))
    # the clause c1+c2 was translated as one, under the id of its last piece, spanning both
    store.insert_caption(Caption("main", "fr", 1, "c2", 0, 1800, "Nous commençons.", origin="translation",
                                 source_lang="en", source_text="We will now begin."))
    assert [c.continues for c in store.iter_captions("main", "en")] == [False, True, False]
    assert [c.id for c in store.untranslated("main", "en", "fr", 10)] == ["c3"]


def test_corrections_bump_revision_and_keep_an_audit_trail(store: Store) -> None:
    first = cap("en", 1, "c1", "Nobel price.")
    store.insert_caption(first)
    one = dataclasses.replace(first, text="Nobel prize.", revision=1)
    store.revise(one, before=first.text, author="chair", at_ms=42)
    store.revise(dataclasses.replace(one, text="The Nobel prize.", revision=2), before=one.text, author="chair",
                 at_ms=43)
    fixed = store.get_caption("main", "c1", "en")
    assert fixed.revision == 2 and fixed.text == "The Nobel prize."
    trail = store.revisions("main", "c1")
    assert [(r.revision, r.before, r.after, r.author, r.at_ms) for r in trail] == [
        (1, "Nobel price.", "Nobel prize.", "chair", 42), (2, "Nobel prize.", "The Nobel prize.", "chair", 43)]
    assert store.corrected_before("main", "en", 1, 10)[0].revision == 2
    with pytest.raises(NotFoundError):
        store.revise(cap("en", 9, "nope", "x", revision=1), before="", author="chair", at_ms=1)


def test_long_session_reads_in_batches(store: Store) -> None:
    for i in range(1234):
        store.insert_caption(Caption("main", "en", i + 1, f"c{i}", i * 10, i * 10 + 9, f"L{i}"))
    seqs = [c.seq for c in store.iter_captions("main", "en")]
    assert seqs == list(range(1, 1235)) and store.count_captions("main", "en") == 1234
    assert store.audio_end_ms("main") == 12339


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "new.sqlite3"
    Store.open(path).close()
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version={len(MIGRATIONS) + 1}")
    conn.close()
    with pytest.raises(StoreError, match="newer version"):
        Store.open(path)


def test_unwritable_location_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(StoreError, match="cannot open the caption database"):
        Store.open(blocker / "captions.sqlite3")


def test_an_older_database_is_migrated_and_keeps_its_sessions(tmp_path: Path) -> None:
    """A file made by the previous schema (2) gains created_via (its sessions count as the config's)."""
    path = tmp_path / "old.sqlite3"
    conn = sqlite3.connect(path)
    for number, script in enumerate(MIGRATIONS[:2], start=1):
        conn.executescript(f"BEGIN; {script}; PRAGMA user_version={number}; COMMIT;")
    conn.execute("INSERT INTO sessions (id, title, source_lang, created_at_ms, public) VALUES ('old', 'Old', 'en', 1, 0)")
    conn.commit()
    conn.close()
    store = Store.open(path)
    assert store.get_session("old").public is False and store.sessions_to_reopen() == []
    store.close()


def test_sessions_made_through_the_api_and_not_ended_are_the_ones_to_reopen(store: Store) -> None:
    for sid, via in (("room-a", "api"), ("room-b", "api"), ("room-c", "config")):
        store.create_session(Session(id=sid, title=sid, source_lang="en", created_at_ms=2, public=sid != "room-b"),
                             via=via)  # type: ignore[arg-type]
    store.update_session("room-a", ended_at_ms=5)
    store.create_session(Session(id="room-b", title="changed", source_lang="fr", created_at_ms=9), via="config")
    assert [(s.id, s.title, s.public) for s in store.sessions_to_reopen()] == [("room-b", "room-b", False)]
    assert store.has_session("room-c") and not store.has_session("room-z")
