"""The "Questions" section of a transcript: the floor's questions delegates saw, in the export's language.

Plain text, JSON and DOCX end with it (when the session had any); subtitles
(SRT, WebVTT) do not: a cue is something said at a time in the recording, and a
question was typed, not said. Each entry is a question that was approved
(``approved``, ``answering`` or ``answered``), in the order asked, in the
transcript's language where it was translated into it; elsewhere the original
stands in, marked like an untranslated caption.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from assistant.export.cues import one_line
from assistant.export.marks import FALLBACK_MARK
from assistant.session.questions import VISIBLE_STATES, StoredQuestion

SECTION_TITLE = "Questions"
STATE_WORDS = {"approved": "open", "answering": "being answered", "answered": "answered"}


@dataclass(frozen=True, slots=True)
class QuestionEntry:
    """One question as a transcript in ``lang`` lists it."""

    number: int
    lang: str  # the language of ``text``
    text: str
    state: str
    votes: int
    asked_at_ms: int
    name: str | None = None
    source_lang: str | None = None  # the language it was asked in, when ``text`` is not the original
    source_text: str | None = None
    fallback: bool = False  # no translation into the transcript's language: the original stands in


def entries_for(stored: Iterable[StoredQuestion], lang: str) -> list[QuestionEntry]:
    """The questions a transcript in ``lang`` lists, in the order asked."""
    out = []
    for s in sorted(stored, key=lambda s: s.question.number):
        q = s.question
        if q.state not in VISIBLE_STATES:
            continue
        texts = {t.lang: t for t in s.texts}
        found = texts.get(lang)
        if lang == q.lang or found is None or found.fallback:
            fallback = lang != q.lang
            out.append(QuestionEntry(q.number, q.lang, q.text, q.state, q.votes, q.asked_at_ms, q.name,
                                     q.lang if fallback else None, q.text if fallback else None, fallback))
        else:
            out.append(QuestionEntry(q.number, lang, found.text, q.state, q.votes, q.asked_at_ms, q.name,
                                     q.lang, q.text))
    return out


def question_line(entry: QuestionEntry) -> str:
    """``Q3 · 12 votes · answered · Ana: When do we start?`` (one line; "(original)" when untranslated)."""
    votes = "1 vote" if entry.votes == 1 else f"{entry.votes} votes"
    parts = [f"Q{entry.number}", votes, STATE_WORDS.get(entry.state, entry.state)]
    who = f"{one_line(entry.name)}: " if entry.name else ""
    mark = f"{FALLBACK_MARK} " if entry.fallback else ""
    return f"{' · '.join(parts)} · {who}{mark}{one_line(entry.text)}"


def question_record(entry: QuestionEntry) -> dict[str, Any]:
    """The JSON object written for one question."""
    return {
        "number": entry.number,
        "lang": entry.lang,
        "text": entry.text,
        "state": entry.state,
        "votes": entry.votes,
        "asked_at_ms": entry.asked_at_ms,
        "name": entry.name,
        "source_lang": entry.source_lang,
        "source_text": entry.source_text,
        "fallback": entry.fallback,
        "machine_translated": entry.source_text is not None and not entry.fallback,
    }
