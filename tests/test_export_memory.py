"""A 10,000-caption export streams in bounded memory (tracemalloc peak)."""

from __future__ import annotations

import tracemalloc
from collections.abc import Iterable, Iterator

import pytest

from assistant.captions import Caption, Session
from assistant.export import FORMATS, export_chunks, zip_chunks
from assistant.export.memorystore import synthetic_captions

SESSION = Session("long", "A long day — 长会议", "en", created_at_ms=1_714_550_000_000)
LONG_SESSION_CAPTIONS = 10_000
# Python allocations while streaming. Measured (10,000 captions): 0.2-0.7 MB per
# format, ~0.7 MB for the zip of two languages. Holding the captions or the
# output in memory passes 5 MB (see the control test), so the bound has teeth.
MAX_PEAK_BYTES = 5_000_000
STREAMING_FORMATS = ["srt", "vtt", "txt", "json"]


def peak_while_streaming(chunks: Iterable[bytes]) -> tuple[int, int]:
    """(peak traced bytes, total output bytes) while the chunks are consumed and dropped."""
    tracemalloc.start()
    try:
        size = sum(len(chunk) for chunk in chunks)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak, size


def long_session(lang: str) -> Iterator[Caption]:
    return synthetic_captions(SESSION, lang, LONG_SESSION_CAPTIONS)


@pytest.mark.parametrize("fmt", FORMATS)
def test_long_export_has_bounded_peak(fmt: str) -> None:
    peak, size = peak_while_streaming(export_chunks(fmt, SESSION, long_session("zh"), lang="zh"))
    assert size > 0
    assert peak < MAX_PEAK_BYTES, f"{fmt}: peak {peak / 1e6:.1f} MB for {LONG_SESSION_CAPTIONS} captions"


def test_long_zip_of_streaming_formats_has_bounded_peak() -> None:
    chunks = zip_chunks(SESSION, long_session, ["en", "zh"], formats=STREAMING_FORMATS)
    peak, size = peak_while_streaming(chunks)
    assert size > 0
    assert peak < MAX_PEAK_BYTES, f"zip: peak {peak / 1e6:.1f} MB"


def test_control_holding_a_long_session_would_break_the_bound() -> None:
    def held_in_memory() -> Iterator[bytes]:
        captions = list(long_session("zh"))
        yield from export_chunks("txt", SESSION, captions)

    peak, _ = peak_while_streaming(held_in_memory())
    assert peak > MAX_PEAK_BYTES
