"""The export formats by name: content types, file names, and one entry point per output.

Call :func:`export_chunks` for one language in one format, or
:func:`zip_chunks` for every language in every format. Both check their
arguments when called and return a synchronous generator of ``bytes``, so a
server can step through it in a worker thread and write each chunk to an
aiohttp ``StreamResponse``; each step is a few ms of work and memory stays
bounded however long the session.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass

from assistant.captions import Caption, Session, SpeakerTurn
from assistant.errors import ProtocolError
from assistant.export.docxstream import docx_chunks
from assistant.export.jsonexport import json_chunks
from assistant.export.plaintext import PARAGRAPH_PAUSE_MS, txt_chunks
from assistant.export.cues import whole_lines
from assistant.export.questions import QuestionEntry
from assistant.export.subtitles import srt_chunks, vtt_chunks
from assistant.export.zipwriter import ZipEntry, stream_zip, zip_date_time

FORMATS = ("srt", "vtt", "txt", "json", "docx")
ZIP = "zip"
MAX_SLUG_CHARS = 60  # file names stay readable and far below any file-system limit

_CONTENT_TYPES = {
    "srt": "application/x-subrip; charset=utf-8",
    "vtt": "text/vtt; charset=utf-8",
    "txt": "text/plain; charset=utf-8",
    "json": "application/json",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ZIP: "application/zip",
}
# Text formats are worth compressing in a zip; docx is a zip already.
_ALREADY_COMPRESSED = frozenset({"docx"})
_NOT_SLUG = re.compile(r"[^A-Za-z0-9]+")


@dataclass(frozen=True, slots=True)
class ExportOptions:
    """Choices that change the plain-text and DOCX output (subtitles ignore them)."""

    timestamps: bool = True  # "[HH:MM:SS] " before each plain-text line
    paragraph_pause_ms: int = PARAGRAPH_PAUSE_MS  # pause that starts a new paragraph


def _check_format(fmt: str, allowed: Sequence[str]) -> None:
    if fmt not in allowed:
        raise ProtocolError(
            f"unknown export format {fmt!r}; use one of: {', '.join(allowed)}", code="bad_format"
        )


def content_type(fmt: str) -> str:
    """The HTTP Content-Type for ``fmt`` (one of FORMATS or "zip")."""
    _check_format(fmt, (*FORMATS, ZIP))
    return _CONTENT_TYPES[fmt]


def _slug(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return _NOT_SLUG.sub("-", ascii_text).strip("-").lower()[:MAX_SLUG_CHARS].strip("-")


def filename(session: Session, lang: str | None, fmt: str) -> str:
    """A safe ASCII file name such as ``opening-keynote.fr.srt`` (``opening-keynote.zip`` for zip).

    Falls back to the session id, then to "session", when the title has no
    ASCII letters or digits (a Chinese title, say).
    """
    _check_format(fmt, (*FORMATS, ZIP))
    stem = _slug(session.title) or _slug(session.id) or "session"
    lang_part = _slug(lang) if lang is not None else ""
    return f"{stem}.{lang_part}.{fmt}" if lang_part else f"{stem}.{fmt}"


def export_chunks(
    fmt: str,
    session: Session,
    captions: Iterable[Caption],
    *,
    lang: str | None = None,
    options: ExportOptions = ExportOptions(),
    questions: Sequence[QuestionEntry] = (),
    speakers: Sequence[SpeakerTurn] = (),
) -> Iterator[bytes]:
    """Return a generator of the transcript of ``captions`` in ``fmt``.

    ``captions`` are final captions of one language in seq order, latest
    revision, corrections applied; they are read lazily, once. ``lang`` names
    that language for headers when ``captions`` may be empty. ``questions`` (the
    floor's, in that language) end txt, json and docx; subtitles leave them out.
    ``speakers`` (who spoke from which audio time on) become speaker turns in every format.
    Raises ProtocolError(code="bad_format") for an unknown format.
    """
    _check_format(fmt, FORMATS)
    if fmt == "json":  # machine-readable: every caption as stored, pieces marked ``continues``
        return json_chunks(session, captions, lang, questions=questions, speakers=speakers)
    captions = whole_lines(captions)  # for people: pieces joined into the lines readers saw
    if fmt == "srt":
        return srt_chunks(session, captions, speakers=speakers)
    if fmt == "vtt":
        return vtt_chunks(session, captions, lang, speakers=speakers)
    if fmt == "txt":
        return txt_chunks(
            session,
            captions,
            lang,
            timestamps=options.timestamps,
            paragraph_pause_ms=options.paragraph_pause_ms,
            questions=questions,
            speakers=speakers,
        )
    return docx_chunks(session, captions, lang, paragraph_pause_ms=options.paragraph_pause_ms,
                       questions=questions, speakers=speakers)


def zip_chunks(
    session: Session,
    captions_for: Callable[[str], Iterable[Caption]],
    languages: Sequence[str],
    *,
    formats: Sequence[str] = FORMATS,
    options: ExportOptions = ExportOptions(),
    questions_for: Callable[[str], Sequence[QuestionEntry]] | None = None,
    speakers: Sequence[SpeakerTurn] = (),
) -> Iterator[bytes]:
    """Return a generator of a zip holding every language in every format.

    Entries are named by :func:`filename`; ``captions_for(lang)`` is called
    once per entry, just before that entry is written, so it may open a fresh
    database cursor each time; so is ``questions_for(lang)``, when given.
    Raises ProtocolError(code="bad_format") for an unknown format.
    """
    for fmt in formats:
        _check_format(fmt, FORMATS)
    date_time = zip_date_time(
        session.started_at_ms if session.started_at_ms is not None else session.created_at_ms
    )

    def entries() -> Iterator[ZipEntry]:
        for lang in languages:
            for fmt in formats:
                # stream_zip finishes each entry before asking for the next, so
                # captions_for(lang) runs just before its entry is written.
                questions = questions_for(lang) if questions_for is not None else ()
                chunks = export_chunks(fmt, session, captions_for(lang), lang=lang, options=options,
                                       questions=questions, speakers=speakers)
                compress = fmt not in _ALREADY_COMPRESSED
                yield ZipEntry(filename(session, lang, fmt), chunks, date_time, compress)

    return stream_zip(entries())

