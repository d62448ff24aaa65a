"""Measure export speed and memory for a long session.

    .venv/bin/python benchmarks/export.py [--captions 10000]

For each format (and a zip of all of them) prints wall time, output size and
the tracemalloc peak (Python allocations) while streaming the export into
nothing; then the same session through python-docx's in-memory Document, for
comparison with the streamed DOCX writer (RSS growth, as lxml allocates
outside tracemalloc's view).
"""

from __future__ import annotations

import argparse
import io
import time
import tracemalloc
from collections.abc import Iterator

import docx
import psutil

from assistant.captions import Caption, Session
from assistant.export import FORMATS, export_chunks, zip_chunks
from assistant.export.cues import clock
from assistant.export.memorystore import synthetic_captions

SESSION = Session("bench", "Benchmark session", "en", created_at_ms=1_714_550_000_000)
MB = 1_000_000


def _measure(label: str, chunks: Iterator[bytes]) -> None:
    tracemalloc.start()
    started = time.perf_counter()
    size = sum(len(chunk) for chunk in chunks)
    elapsed = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(f"{label:<14} {elapsed:6.2f} s  {size / MB:7.2f} MB out  peak {peak / MB:6.2f} MB (tracemalloc)")


def _python_docx_in_memory(captions: Iterator[Caption]) -> None:
    process = psutil.Process()
    before = process.memory_info().rss
    started = time.perf_counter()
    document = docx.Document()
    document.add_heading(SESSION.title, 0)
    for caption in captions:
        paragraph = document.add_paragraph()
        paragraph.add_run(f"[{clock(caption.start_ms)}] ").bold = True
        paragraph.add_run(caption.text)
    buffer = io.BytesIO()
    document.save(buffer)
    elapsed = time.perf_counter() - started
    grown = (process.memory_info().rss - before) / MB
    print(f"{'python-docx':<14} {elapsed:6.2f} s  {len(buffer.getvalue()) / MB:7.2f} MB out  "
          f"RSS +{grown:6.2f} MB (whole document in memory; for comparison)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--captions", type=int, default=10_000)
    count = parser.parse_args().captions
    print(f"{count} captions per language")
    for fmt in FORMATS:
        _measure(fmt, export_chunks(fmt, SESSION, synthetic_captions(SESSION, "fr", count), lang="fr"))
    _measure("zip en+fr", zip_chunks(SESSION, lambda lang: synthetic_captions(SESSION, lang, count),
                                     ["en", "fr"]))
    _python_docx_in_memory(synthetic_captions(SESSION, "en", count))


if __name__ == "__main__":
    main()
