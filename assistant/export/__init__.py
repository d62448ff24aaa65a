"""Transcript exports: SRT, WebVTT, plain text, JSON, DOCX, and a zip of them all.

Every exporter is a synchronous generator of ``bytes`` chunks fed lazily by
final captions (seq order, latest revision), so memory stays bounded for any
session length and a server can step through it in a worker thread::

    chunks = export_chunks("vtt", session, store.iter_captions(session.id, "fr"), lang="fr")
    for chunk in chunks: await response.write(chunk)   # next() in an executor

A language nobody read live comes from the spoken captions, translated as
the export streams and kept in the store (``ondemand``)::

    plan = plan_language(store, session, "ja", translator)      # NotFoundError names the reachable ones
    captions = transcript_captions(store, session, plan, translator, progress)

Modules: ``formats`` (names, content types, file names, entry points),
``subtitles`` (srt, vtt), ``plaintext``, ``jsonexport``, ``docxstream``,
``zipwriter`` (streaming zip), ``cues`` (timing, text cleaning), ``marks``
(machine-translation notes), ``ondemand`` (which languages, from where,
translated and cached), ``translating`` (a blocking front of the asyncio
translation service), ``progress`` (how far an export has come), ``cli``
(``assistant export``).
"""

from assistant.export.cli import configure_export_parser, run_export_command
from assistant.export.cues import MIN_CUE_MS
from assistant.export.formats import (
    FORMATS,
    ZIP,
    ExportOptions,
    content_type,
    export_chunks,
    filename,
    zip_chunks,
)
from assistant.export.storelike import StoreLike

__all__ = [
    "FORMATS",
    "MIN_CUE_MS",
    "ZIP",
    "ExportOptions",
    "StoreLike",
    "configure_export_parser",
    "content_type",
    "export_chunks",
    "filename",
    "run_export_command",
    "zip_chunks",
]
