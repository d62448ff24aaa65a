"""Each export format parsed back by an independent parser and checked against its captions."""

from __future__ import annotations

import html
import io
import json
from collections.abc import Iterator

import docx
import pytest
import srt
import webvtt

from assistant.captions import Caption, Session
from assistant.errors import ProtocolError
from assistant.export import FORMATS, ExportOptions, content_type, export_chunks, filename, zip_chunks
from assistant.export.chunks import CHUNK_BYTES
from assistant.export.cues import clock
from assistant.export.marks import FALLBACK_MARK, MACHINE_MARK
from assistant.export.memorystore import synthetic_captions

SESSION = Session("keynote-1", "Opening Keynote — Día 1", "en", created_at_ms=1_714_550_000_000,
                  started_at_ms=1_714_550_400_000, languages=("fr", "zh", "ar", "ru"))
TEXTS = {
    "en": ["Good morning & welcome", "Today: <b>results</b>", "Questions?"],
    "zh": ["早上好，欢迎", "今天的结果", "有问题吗？"],
    "ar": ["صباح الخير ومرحبا", "نتائج اليوم", "هل من أسئلة؟"],
    "ru": ["Доброе утро и добро пожаловать", "Сегодняшние результаты", "Вопросы?"],
}
SPANS = [(0, 1234), (1500, 4001), (9000, 12_345)]  # 5 s pause before the last one


def captions(lang: str) -> list[Caption]:
    translated = lang != "en"
    return [
        Caption("keynote-1", lang, i + 1, f"cap-{i + 1}", start, end, text, revision=i % 2,
                origin="translation" if translated else "asr",
                source_lang="en" if translated else None,
                source_text=TEXTS["en"][i] if translated else None)
        for i, (text, (start, end)) in enumerate(zip(TEXTS[lang], SPANS))
    ]


def export(fmt: str, caps: list[Caption], lang: str | None = None, **kw: bool) -> bytes:
    return b"".join(export_chunks(fmt, SESSION, caps, lang=lang, options=ExportOptions(**kw)))


def vtt_ms(stamp: str) -> int:
    hms, ms = stamp.split(".")
    h, m, s = (int(part) for part in hms.split(":"))
    return ((h * 60 + m) * 60 + s) * 1000 + int(ms)


@pytest.mark.parametrize("lang", sorted(TEXTS))
def test_srt_round_trip(lang: str) -> None:
    caps = captions(lang)
    parsed = list(srt.parse(export("srt", caps).decode("utf-8")))
    assert [s.index for s in parsed] == [1, 2, 3]
    assert [s.content for s in parsed] == [c.text for c in caps]
    assert [(s.start // srt.timedelta(milliseconds=1), s.end // srt.timedelta(milliseconds=1))
            for s in parsed] == SPANS


@pytest.mark.parametrize("lang", sorted(TEXTS))
def test_vtt_round_trip(lang: str) -> None:
    caps = captions(lang)
    data = export("vtt", caps, lang)
    assert data.startswith(b"WEBVTT\n\n")
    parsed = webvtt.from_buffer(io.BytesIO(data)).captions
    assert [c.identifier for c in parsed] == [c.id for c in caps]
    assert [html.unescape(c.text) for c in parsed] == [c.text for c in caps]
    assert [(vtt_ms(c.start), vtt_ms(c.end)) for c in parsed] == SPANS


def test_vtt_escapes_markup_and_strips_arrows() -> None:
    caps = [Caption("keynote-1", "en", 1, "a-->b", 0, 1000, "x < y && z --> w\n\nnext")]
    data = export("vtt", caps).decode()
    cue = data.split("\n\n")[2]  # header, NOTE, cue
    assert cue.splitlines() == ["a->b", "00:00:00.000 --> 00:00:01.000", "x &lt; y &amp;&amp; z -&gt; w", "next"]


def test_srt_text_with_arrows_and_blank_lines_parses_back() -> None:
    caps = [Caption("keynote-1", "en", i, str(i), i * 1000, i * 1000 + 900, "a\n\n-->\n\nb --> c")
            for i in range(1, 4)]
    parsed = list(srt.parse(export("srt", caps).decode()))
    assert [s.content for s in parsed] == ["a\n->\nb -> c"] * 3


def test_empty_and_blank_captions_are_left_out_of_subtitles() -> None:
    caps = [Caption("keynote-1", "en", 1, "1", 0, 500, " \n "), *captions("en")[1:]]
    assert [s.content for s in srt.parse(export("srt", caps).decode())] == TEXTS["en"][1:]
    assert len(webvtt.from_buffer(io.BytesIO(export("vtt", caps))).captions) == 2


def test_txt_lines_timestamps_and_paragraphs() -> None:
    lines = export("txt", captions("en"), "en").decode().splitlines()
    assert lines[0] == SESSION.title
    assert "Language: en" in lines and "Date: 2024-05-01 08:00 UTC" in lines
    body = lines[lines.index("") + 1:]
    assert body == [f"[{clock(SPANS[0][0])}] {TEXTS['en'][0]}", f"[{clock(SPANS[1][0])}] {TEXTS['en'][1]}",
                    "", f"[{clock(SPANS[2][0])}] {TEXTS['en'][2]}"]
    assert not any("machine translation" in line.lower() for line in lines)


def test_txt_without_timestamps() -> None:
    text = export("txt", captions("ru"), "ru", timestamps=False).decode()
    assert text.endswith(f"{TEXTS['ru'][0]}\n{TEXTS['ru'][1]}\n\n{TEXTS['ru'][2]}\n")


def test_txt_marks_translation_in_header_and_fallback_lines() -> None:
    caps = captions("zh")
    caps[1] = Caption("keynote-1", "zh", 2, "cap-2", 1500, 4001, "Today: results", origin="translation",
                      source_lang="en", source_text="Today: results", fallback=True)
    text = export("txt", caps, "zh").decode()
    assert "Machine translation from 'en'" in text
    assert f"] {FALLBACK_MARK} Today: results\n" in text
    assert f"] {TEXTS['zh'][0]}\n" in text  # no per-line marker once the header says it


def test_txt_marks_machine_lines_in_a_mixed_stream() -> None:
    caps = captions("en")
    caps[2] = Caption("keynote-1", "en", 3, "cap-3", 9000, 12_345, "Translated", origin="whisper-translate")
    text = export("txt", caps, "en").decode()
    assert f"] {MACHINE_MARK} Translated\n" in text
    assert "Machine translation from" not in text


@pytest.mark.parametrize("lang", sorted(TEXTS))
def test_json_round_trip(lang: str) -> None:
    caps = captions(lang)
    data = export("json", caps, lang)
    doc = json.loads(data)
    assert doc["session"]["id"] == SESSION.id and doc["session"]["title"] == SESSION.title
    assert doc["lang"] == lang and doc["caption_count"] == 3
    assert doc["machine_translated"] is (lang != "en")
    fields = ("id", "seq", "lang", "start_ms", "end_ms", "text", "revision", "origin",
              "source_lang", "source_text", "fallback")
    assert [{k: r[k] for k in fields} for r in doc["captions"]] == [
        {k: getattr(c, k) for k in fields} for c in caps]
    assert [r["machine_translated"] for r in doc["captions"]] == [lang != "en"] * 3
    assert TEXTS[lang][0].encode("utf-8") in data  # UTF-8, not \u escapes


def test_json_keeps_stored_times_and_empty_text() -> None:
    caps = [Caption("keynote-1", "en", 1, "a", 700, 700, ""), Caption("keynote-1", "en", 2, "b", 650, 900, "x")]
    doc = json.loads(export("json", caps))
    assert [(r["start_ms"], r["end_ms"], r["text"]) for r in doc["captions"]] == [(700, 700, ""), (650, 900, "x")]


@pytest.mark.parametrize("lang", sorted(TEXTS))
def test_docx_round_trip(lang: str) -> None:
    caps = captions(lang)
    document = docx.Document(io.BytesIO(export("docx", caps, lang)))
    paragraphs = [p.text for p in document.paragraphs]
    assert document.paragraphs[0].style is not None and document.paragraphs[0].style.name == "Title"
    assert paragraphs[0] == SESSION.title
    assert "Session: keynote-1" in paragraphs and f"Language: {lang}" in paragraphs
    assert paragraphs[-3:] == [f"[{clock(c.start_ms)}] {c.text}" for c in caps]
    assert any("Machine translation" in p for p in paragraphs) is (lang != "en")
    assert document.core_properties.title == SESSION.title


def test_docx_marks_fallback_lines() -> None:
    caps = captions("ar")
    caps[0] = Caption("keynote-1", "ar", 1, "cap-1", 0, 1234, "Good morning", origin="translation",
                      source_lang="en", fallback=True)
    document = docx.Document(io.BytesIO(export("docx", caps, "ar")))
    assert document.paragraphs[-3].text == f"[00:00:00] {FALLBACK_MARK} Good morning"


@pytest.mark.parametrize("fmt", FORMATS)
def test_empty_transcript_is_still_valid(fmt: str) -> None:
    data = export(fmt, [], "en")
    if fmt == "srt":
        assert list(srt.parse(data.decode())) == []
    elif fmt == "vtt":
        assert webvtt.from_buffer(io.BytesIO(data)).captions == []
    elif fmt == "json":
        assert json.loads(data)["captions"] == []
    elif fmt == "docx":
        assert docx.Document(io.BytesIO(data)).paragraphs[0].text == SESSION.title
    else:
        assert data.decode().startswith(SESSION.title)


@pytest.mark.parametrize("fmt", ["srt", "vtt", "txt", "json"])
def test_chunks_are_bounded_and_pulled_lazily(fmt: str) -> None:
    pulled = 0

    def source() -> Iterator[Caption]:
        nonlocal pulled
        for caption in synthetic_captions(SESSION, "en", 3000):
            pulled += 1
            yield caption

    chunks = export_chunks(fmt, SESSION, source())
    first = next(chunks)
    assert pulled < 3000
    sizes = [len(first), *(len(c) for c in chunks)]
    assert pulled == 3000 and len(sizes) > 1
    assert max(sizes) < CHUNK_BYTES + 1024


def test_filenames_are_safe_ascii() -> None:
    assert filename(SESSION, "fr", "srt") == "opening-keynote-dia-1.fr.srt"
    assert filename(SESSION, None, "zip") == "opening-keynote-dia-1.zip"
    chinese = Session("会议/../x", "开幕式", "zh", 0)
    assert filename(chinese, "zh-Hant", "vtt") == "x.zh-hant.vtt"
    assert filename(Session("会议", "开幕式", "zh", 0), "zh", "txt") == "session.zh.txt"
    long_title = Session("s", "A" * 500, "en", 0)
    assert len(filename(long_title, "en", "docx")) < 80


def test_content_types() -> None:
    assert content_type("vtt").startswith("text/vtt")
    assert content_type("srt") == "application/x-subrip; charset=utf-8"
    assert content_type("zip") == "application/zip"
    assert content_type("docx").endswith("wordprocessingml.document")


def test_unknown_format_is_a_clear_error_raised_at_call_time() -> None:
    for call in (lambda: export_chunks("pdf", SESSION, []), lambda: content_type("pdf"),
                 lambda: filename(SESSION, "en", "pdf"),
                 lambda: zip_chunks(SESSION, lambda lang: [], ["en"], formats=["srt", "pdf"])):
        with pytest.raises(ProtocolError) as info:
            call()
        assert info.value.code == "bad_format"
        assert "'pdf'" in str(info.value) and "srt, vtt, txt, json, docx" in str(info.value)


class Untouchable:
    """Captions that must not be read before the first chunk is asked for."""

    def __iter__(self) -> Iterator[Caption]:
        raise AssertionError("captions were read before the first next()")


@pytest.mark.parametrize("fmt", FORMATS)
def test_nothing_is_read_until_the_first_chunk(fmt: str) -> None:
    chunks = export_chunks(fmt, SESSION, Untouchable())
    with pytest.raises(AssertionError, match="before the first next"):
        next(chunks)


def test_docx_starts_with_content_types_part() -> None:
    data = export("docx", captions("en"))
    assert data[30:49] == b"[Content_Types].xml"  # the first local header's file name
