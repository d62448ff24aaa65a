"""The streamed zip: every language in every format, written to a non-seekable sink."""

from __future__ import annotations

import io
import json
import os
import zipfile
from collections.abc import Iterator

import docx
import srt
import webvtt

from assistant.captions import Caption, Session
from assistant.export import FORMATS, export_chunks, filename, zip_chunks
from assistant.export.chunks import CHUNK_BYTES
from assistant.export.memorystore import MemoryStore, synthetic_captions
from assistant.export.zipwriter import ZipEntry, stream_zip, zip_date_time

SESSION = Session("room-a", "Room A — 午后", "en", created_at_ms=1_700_000_000_000)
LANGS = ["en", "zh", "ar", "ru"]
DATA_DESCRIPTOR_FLAG = 0x08


def make_store(count: int = 40) -> MemoryStore:
    store = MemoryStore([SESSION])
    for lang in LANGS:
        store.add_captions(synthetic_captions(SESSION, lang, count))
    return store


def test_zip_holds_every_language_in_every_format_and_each_parses_back() -> None:
    store = make_store()
    data = b"".join(zip_chunks(SESSION, lambda lang: store.iter_captions(SESSION.id, lang), LANGS))
    archive = zipfile.ZipFile(io.BytesIO(data))
    assert archive.testzip() is None
    assert archive.namelist() == [filename(SESSION, lang, fmt) for lang in LANGS for fmt in FORMATS]
    for lang in LANGS:
        caps = list(store.iter_captions(SESSION.id, lang))
        texts = [c.text for c in caps]

        def read(fmt: str, lang: str = lang) -> bytes:
            return archive.read(filename(SESSION, lang, fmt))

        assert [s.content for s in srt.parse(read("srt").decode())] == texts
        assert [c.text for c in webvtt.from_buffer(io.BytesIO(read("vtt"))).captions] == texts
        assert [r["text"] for r in json.loads(read("json"))["captions"]] == texts
        assert read("txt").decode().rstrip("\n").endswith(texts[-1])
        paragraphs = [p.text for p in docx.Document(io.BytesIO(read("docx"))).paragraphs]
        assert [p.split("] ", 1)[1] for p in paragraphs[-len(caps):]] == texts
        # The same bytes as a single-format export of that language.
        assert read("srt") == b"".join(export_chunks("srt", SESSION, caps, lang=lang))


def test_zip_is_streamed_with_data_descriptors_and_fixed_dates() -> None:
    data = b"".join(zip_chunks(SESSION, lambda lang: synthetic_captions(SESSION, lang, 5), ["en"]))
    infos = zipfile.ZipFile(io.BytesIO(data)).infolist()
    assert all(info.flag_bits & DATA_DESCRIPTOR_FLAG for info in infos)
    assert {info.date_time for info in infos} == {zip_date_time(SESSION.created_at_ms)}
    kinds = {info.filename.rsplit(".", 1)[1]: info.compress_type for info in infos}
    assert kinds["docx"] == zipfile.ZIP_STORED and kinds["srt"] == zipfile.ZIP_DEFLATED


def test_zip_asks_for_each_language_only_when_it_writes_it() -> None:
    pulled: dict[str, int] = {}
    snapshots: list[dict[str, int]] = []

    def captions_for(lang: str) -> Iterator[Caption]:
        snapshots.append(dict(pulled))  # what earlier entries had read when this one began
        pulled[lang] = 0
        for caption in synthetic_captions(SESSION, lang, 500):
            pulled[lang] += 1
            yield caption

    chunks = zip_chunks(SESSION, captions_for, LANGS, formats=["txt"])
    assert snapshots == []  # nothing is read until the first chunk is asked for
    list(chunks)
    assert snapshots == [{lang: 500 for lang in LANGS[:i]} for i in range(len(LANGS))]


def test_subset_of_formats() -> None:
    data = b"".join(zip_chunks(SESSION, lambda lang: [], ["en", "fr"], formats=["vtt", "json"]))
    assert zipfile.ZipFile(io.BytesIO(data)).namelist() == [
        "room-a.en.vtt", "room-a.en.json", "room-a.fr.vtt", "room-a.fr.json"]


def test_stream_zip_round_trips_binary_entries_in_bounded_chunks() -> None:
    payload = os.urandom(3 * CHUNK_BYTES + 17)  # incompressible, so output really streams

    def pieces() -> Iterator[bytes]:
        for offset in range(0, len(payload), 1000):
            yield payload[offset:offset + 1000]

    chunks = list(stream_zip([ZipEntry("a.bin", pieces()), ZipEntry("empty", []),
                              ZipEntry("b.txt", [b"hello"], compress=False)]))
    assert len(chunks) >= 3 and max(len(c) for c in chunks) < 2 * CHUNK_BYTES
    archive = zipfile.ZipFile(io.BytesIO(b"".join(chunks)))
    assert archive.read("a.bin") == payload
    assert archive.read("empty") == b"" and archive.read("b.txt") == b"hello"


def test_zip_date_before_1980_or_unknown_is_the_zip_epoch() -> None:
    assert zip_date_time(None) == (1980, 1, 1, 0, 0, 0)
    assert zip_date_time(0) == (1980, 1, 1, 0, 0, 0)
    assert zip_date_time(1_714_550_400_000) == (2024, 5, 1, 8, 0, 0)
