"""Plain-text transcript exporter: a short header, then one caption per line.

A blank line starts a new paragraph wherever the speaker paused for at least
``paragraph_pause_ms``. Lines optionally start with ``[HH:MM:SS]``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

from assistant.captions import Caption, Session, SpeakerTurn
from assistant.export.chunks import batched, peek
from assistant.export.cues import clock, one_line
from assistant.export.marks import TranscriptInfo, line_mark, transcript_info
from assistant.export.questions import SECTION_TITLE, QuestionEntry, question_line
from assistant.export.speakers import Speakers

PARAGRAPH_PAUSE_MS = 4000  # a silence at least this long between captions starts a paragraph


def txt_chunks(
    session: Session,
    captions: Iterable[Caption],
    lang: str | None = None,
    *,
    timestamps: bool = True,
    paragraph_pause_ms: int = PARAGRAPH_PAUSE_MS,
    questions: Sequence[QuestionEntry] = (),
    speakers: Sequence[SpeakerTurn] = (),
) -> Iterator[bytes]:
    """Yield a UTF-8 plain-text transcript of ``captions``, then a "Questions" section if there are any.
    Each speaker's turn starts a paragraph with a "Name:" line."""
    return batched(_pieces(session, captions, lang, timestamps, paragraph_pause_ms, questions, Speakers(speakers)))


def header_lines(info: TranscriptInfo) -> list[str]:
    """The metadata lines under the title (shared with the DOCX exporter)."""
    details = [f"Session: {one_line(info.session_id)}"]
    if info.date is not None:
        details.append(f"Date: {info.date}")
    if info.lang is not None:
        details.append(f"Language: {one_line(info.lang)}")
    if info.note is not None:
        details.append(info.note)
    return details


def _pieces(
    session: Session,
    captions: Iterable[Caption],
    lang: str | None,
    timestamps: bool,
    paragraph_pause_ms: int,
    questions: Sequence[QuestionEntry] = (),
    speakers: Speakers | None = None,
) -> Iterator[str]:
    speakers = speakers if speakers is not None else Speakers()
    first, captions = peek(captions)
    info = transcript_info(session, lang, first)
    yield (one_line(info.title) or one_line(info.session_id)) + "\n"
    yield "".join(line + "\n" for line in header_lines(info)) + "\n"
    previous_end_ms: int | None = None
    for caption in captions:
        text = one_line(caption.text)
        if not text:
            continue
        name, turn = speakers.of(caption)
        if turn and name:
            yield ("\n" if previous_end_ms is not None else "") + f"{one_line(name)}:\n"
        elif previous_end_ms is not None and caption.start_ms - previous_end_ms >= paragraph_pause_ms:
            yield "\n"
        previous_end_ms = caption.end_ms
        mark = line_mark(caption, info)
        stamp = f"[{clock(caption.start_ms)}] " if timestamps else ""
        yield f"{stamp}{mark + ' ' if mark else ''}{text}\n"
    if questions:
        yield f"\n{SECTION_TITLE}\n\n" + "".join(question_line(q) + "\n" for q in questions)
