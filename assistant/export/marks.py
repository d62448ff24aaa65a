"""What a transcript says about machine translation, in its header and on its lines.

A transcript in a language other than the spoken one gets one header note
("Machine translation from en ...") instead of a marker on every line. Lines
that still need a marker:

* ``fallback=True``: the translation looked broken, so the *original* text
  stands in; marked :data:`FALLBACK_MARK`.
* machine-translated lines in a transcript whose header did not say so
  (a mixed stream); marked :data:`MACHINE_MARK`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from assistant.captions import Caption, Session

MACHINE_ORIGINS = frozenset({"translation", "whisper-translate"})
FALLBACK_MARK = "(original)"
MACHINE_MARK = "(machine translation)"
_AUTO_LANG = "auto"


@dataclass(frozen=True, slots=True)
class TranscriptInfo:
    """Facts every format's header shows, decided before the first line is written."""

    title: str
    session_id: str
    date: str | None  # "YYYY-MM-DD HH:MM UTC" of audio start (or creation), None if unknown
    lang: str | None
    translated_from: str | None  # source language when this transcript is a machine translation

    @property
    def note(self) -> str | None:
        """The header note for a machine-translated transcript, else None."""
        if self.translated_from is None:
            return None
        return (
            f"Machine translation from '{self.translated_from}'; it may contain errors. "
            f"Lines marked {FALLBACK_MARK} were not translated."
        )


def is_machine_translated(caption: Caption) -> bool:
    """True when the caption's text came out of a translation engine."""
    return caption.origin in MACHINE_ORIGINS and not caption.fallback


def transcript_info(session: Session, lang: str | None, first: Caption | None) -> TranscriptInfo:
    """Describe the transcript of ``session`` in ``lang``, whose first caption is ``first``."""
    lang = lang if lang is not None else (first.lang if first is not None else None)
    translated_from: str | None = None
    if first is not None and first.origin in MACHINE_ORIGINS:
        translated_from = first.source_lang or session.source_lang
    elif lang is not None and session.source_lang not in (_AUTO_LANG, lang):
        translated_from = session.source_lang
    when = session.started_at_ms if session.started_at_ms is not None else session.created_at_ms
    return TranscriptInfo(session.title, session.id, format_date(when), lang, translated_from)


def line_mark(caption: Caption, info: TranscriptInfo) -> str | None:
    """The marker to put before this caption's text, or None."""
    if caption.fallback:
        return FALLBACK_MARK
    if info.translated_from is None and is_machine_translated(caption):
        return MACHINE_MARK
    return None


def format_date(unix_ms: int | None) -> str | None:
    """Format a unix time in ms as ``YYYY-MM-DD HH:MM UTC``."""
    if unix_ms is None:
        return None
    moment = dt.datetime.fromtimestamp(unix_ms / 1000, tz=dt.timezone.utc)
    return moment.strftime("%Y-%m-%d %H:%M UTC")
